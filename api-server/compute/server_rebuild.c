/* POST /servers/{id}/action {"rebuild": {...}}: Nova's rebuild. The body is checked
 * at the edge (Nova's schema per microversion), then in one transaction the instance
 * takes the new image, name, metadata, access addresses, description (2.19), key
 * (2.54) and user data (2.57), shows task_state "rebuilding" and the rebuild task is
 * queued; the compute agent remakes the root disk and config drive and boots (a
 * stopped server stays stopped). The answer is the server as Nova shows it after a
 * rebuild: the short view below 2.75 with key_name (2.54) and user_data (2.57), the
 * full one from 2.75, and adminPass. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compute/server.h"
#include "compute/server_group.h"
#include "image/image.h"
#include "jparse.h"
#include "msg.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

struct rebuild_req {
	char *image_ref, *name, *admin_pass, *ipv4, *ipv6, *description, *key_name, *user_data;
	char *disk_config;
	int preserve_ephemeral;
	struct jstrmap metadata;
	json_t *personality, *certs;
	char ip4[SERVER_IP_MAX], ip6[SERVER_IP_MAX];
	char *metadata_text; /* owned; NULL: keep the server's */
	int has_key, has_user_data;
};

static const struct jfield f_rebuild[] = {
    {"imageRef", J_STR, JF(struct rebuild_req, image_ref), 0, 1024, 1, 0},
    {"name", J_STR, JF(struct rebuild_req, name), 0, 255, 0, 0},
    {"adminPass", J_STR, JF(struct rebuild_req, admin_pass), 0, 255, 0, 1},
    {"accessIPv4", J_STR, JF(struct rebuild_req, ipv4), 0, 64, 0, 1},
    {"accessIPv6", J_STR, JF(struct rebuild_req, ipv6), 0, 64, 0, 1},
    {"description", J_STR, JF(struct rebuild_req, description), 0, 255, 0, 1},
    {"key_name", J_STR, JF(struct rebuild_req, key_name), 0, 255, 0, 1},
    {"user_data", J_STR, JF(struct rebuild_req, user_data), 0, SERVER_MAX_USERDATA, 0, 1},
    {"OS-DCF:diskConfig", J_STR, JF(struct rebuild_req, disk_config), 0, 16, 0, 0},
    {"preserve_ephemeral", J_BOOL, JF(struct rebuild_req, preserve_ephemeral), 0, 0, 0, 0},
    {"metadata", J_STRMAP, JF(struct rebuild_req, metadata), 0, 0, 0, 0},
    {"personality", J_ARRAY, JF(struct rebuild_req, personality), 0, 0, 0, 1},
    {"trusted_image_certificates", J_ARRAY, JF(struct rebuild_req, certs), 0, 50, 0, 1},
};

static const struct server_since rebuild_since[] = {
    {"description", 19, 0},
    {"key_name", 54, 0},
    {"user_data", 57, 0},
    {"personality", 0, 57},
    {"trusted_image_certificates", 63, 0},
};

static void rebuild_req_release(struct rebuild_req *q)
{
	if (q->admin_pass)
		sodium_memzero(q->admin_pass, strlen(q->admin_pass));
	jparse_release(f_rebuild, JCOUNT(f_rebuild), q);
	free(q->metadata_text);
	q->metadata_text = NULL;
}

/* Nova's schema for the rebuild body at 2.mv. 0, or the HTTP status (400, or 403 for
 * too many metadata items) with the message in err. */
static int rebuild_parse(const json_t *arg, int mv, struct rebuild_req *q, char *err, size_t errlen)
{
	char why[256];
	if (!json_is_object(arg)) {
		snprintf(err, errlen, "Invalid input for field/attribute rebuild.");
		return 400;
	}
	if (jparse_known(arg, f_rebuild, JCOUNT(f_rebuild), NULL, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute rebuild. %s", why);
		return 400;
	}
	if (server_since_check(arg, rebuild_since, JCOUNT(rebuild_since), mv, "rebuild", err,
	                       errlen) < 0)
		return 400;
	if (jparse(arg, f_rebuild, JCOUNT(f_rebuild), q, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute rebuild. %s", why);
		return 400;
	}
	q->has_key = json_object_get(arg, "key_name") != NULL;
	q->has_user_data = json_object_get(arg, "user_data") != NULL;
	if (!uuid_is_valid(server_ref_id(q->image_ref))) {
		snprintf(err, errlen, "Invalid imageRef provided.");
		return 400;
	}
	if (q->name && !server_name_valid(q->name)) {
		snprintf(err, errlen, "Invalid input for field/attribute name.");
		return 400;
	}
	if (q->description && !server_description_valid(q->description)) {
		snprintf(err, errlen, "Invalid input for field/attribute description.");
		return 400;
	}
	if (q->disk_config && strcmp(q->disk_config, "AUTO") && strcmp(q->disk_config, "MANUAL")) {
		snprintf(err, errlen, "Invalid input for field/attribute OS-DCF:diskConfig.");
		return 400;
	}
	if (q->key_name && !*q->key_name) {
		snprintf(err, errlen, "Invalid input for field/attribute key_name.");
		return 400;
	}
	if (q->user_data && !server_base64_valid(q->user_data)) {
		snprintf(err, errlen, "User data needs to be valid base 64.");
		return 400;
	}
	if (q->certs && json_array_size(q->certs)) {
		snprintf(err, errlen, "Image certificate validation is not enabled.");
		return 400;
	}
	if (q->personality && json_array_size(q->personality)) {
		snprintf(err, errlen, "Personality file injection is not supported.");
		return 400;
	}
	if (server_access_ips(q->ipv4, q->ipv6, q->ip4, q->ip6, err, errlen) < 0)
		return 400;
	if (json_object_get(arg, "metadata")) {
		json_t *m = jstrmap_to_json(&q->metadata);
		int rc = server_metadata_check(m, err, errlen);
		if (rc == 0)
			q->metadata_text = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		if (rc < 0)
			return rc == -EDQUOT ? 403 : 400;
	}
	return 0;
}

/* The new image as the caller may boot it on the server's flavor: 0, or -EINVAL after
 * Nova's 400 (or 500 on a database error). */
static int rebuild_image(struct req *r, struct resp *w, const char *iid, const struct server_row *s)
{
	char err[512];
	struct image img = {0};
	int rc = -EINVAL;
	int irc = image_for_boot(r, iid, &img, err, sizeof err);
	if (irc == -EIO) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (irc < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	const char *format = img.disk_format ? img.disk_format : "";
	if (strcmp(format, "qcow2") && strcmp(format, "raw")) {
		resp_error(r, w, 400,
		           "Image %s has disk_format '%s'; servers boot from qcow2 or raw.", iid,
		           format);
		goto out;
	}
	const struct image_needs needs = {
	    .size = img.size < 0 ? 0 : img.size,
	    .virtual_size = img.virtual_size,
	    .min_disk_gb = img.min_disk,
	    .min_ram_mb = img.min_ram,
	};
	if (server_flavor_fits(s->disk_gb, s->ram_mb, &needs, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	rc = 0;
out:
	image_release(&img);
	return rc;
}

void server_rebuild_shape(json_t *v, int mv, const char *key_name, const char *user_data,
                          const char *pass)
{
	if (mv >= 54 && mv < 75)
		json_object_set_new(v, "key_name", key_name ? json_string(key_name) : json_null());
	if (mv >= 57) {
		json_object_del(v, "OS-EXT-SRV-ATTR:user_data");
		json_object_set_new(v, "user_data",
		                    user_data ? json_string(user_data) : json_null());
	}
	json_object_set_new(v, "adminPass", json_string(pass));
}

/* The rebuild's answer: the server as it is now, shaped as Nova shapes it. */
static void rebuild_answer(struct req *r, struct resp *w, const char *id, const char *pass)
{
	char err[256];
	struct server_row s;
	struct server_view_ctx ctx;
	struct server_extras x;
	PGresult *res = server_find(r, w, id, 0);
	if (!res)
		return;
	server_view_ctx_of(r, &ctx);
	ctx.update = 1;
	ctx.single = 1;
	int mv = ctx.mv_minor;
	if (server_extras_load(r->ctx->db, res, &ctx, &x, err, sizeof(err)) < 0) {
		PQclear(res);
		resp_db_error(r, w, err);
		return;
	}
	server_row_from(res, 0, &s);
	server_extras_apply(&x, &s);
	char *groups = mv >= 71 ? server_group_ids(r->ctx->db, s.id) : NULL;
	s.server_groups = groups;
	json_t *v = server_view_full(&s, &ctx);
	free(groups);
	/* user_data is the instance's (read apart from the row, as admins see it) */
	PGresult *u = mv >= 57 ? DBQ(r->ctx->db, err, sizeof err,
	                             "SELECT user_data FROM instances WHERE id = $1", s.id)
	                       : NULL;
	server_rebuild_shape(v, mv, s.key_name, u && PQntuples(u) == 1 ? db_val(u, 0, 0) : NULL,
	                     pass);
	PQclear(u);
	resp_json(w, 202, json_pack("{s:o}", "server", v));
	server_extras_release(&x);
	PQclear(res);
}

/* Nova before 2.93: a volume-backed server boots its volume again, so only the image
 * the volume was made from is accepted (its image_id stays ""). 0 to go on, < 0 after
 * answering 400 (or the database error). */
static int rebuild_volume_backed(struct req *r, struct resp *w, const char *id, const char *iid)
{
	char err[512];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT coalesce(v.image_id, '') FROM instances i LEFT JOIN volumes v ON"
	        " v.id = i.boot_volume_id WHERE i.id = $1 AND i.boot_volume_id IS NOT"
	        " NULL",
	        id);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int bad = PQntuples(res) > 0 && strcasecmp(db_val(res, 0, 0), iid);
	PQclear(res);
	if (bad) {
		resp_error(r, w, 400,
		           "Unable to rebuild with a different image for a volume-backed server.");
		return -EINVAL;
	}
	return 0;
}

void server_rebuild(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct rebuild_req q = {0};
	char err[512], msg[512], pass[32], iid[UUID_STR_LEN];
	PGresult *res = NULL, *k = NULL;
	int began = 0;
	int status = rebuild_parse(arg, r->ctx->mv_minor, &q, err, sizeof(err));
	if (status) {
		resp_error(r, w, status, "%s", err);
		goto out;
	}
	uuid_lower(server_ref_id(q.image_ref), iid);
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	res = server_find(r, w, r->params[0], 1);
	if (!res)
		goto out;
	struct server_row s;
	server_row_from(res, 0, &s);
	int open_task = db_val(res, 0, SERVER_COL_OPEN_TASK)[0] == 't';
	if (rebuild_volume_backed(r, w, s.id, iid) != 0)
		goto out;
	if (rebuild_image(r, w, iid, &s) < 0)
		goto out;
	if (server_lock_check(r, w, s.id, s.locked_by) < 0)
		goto out;
	/* Nova's check_instance_state: active, stopped or error, no task running */
	static const struct server_action act = {
	    "rebuild",   NULL, "rebuild", TASK_REBUILD, VMS_ACTIVE | VMS_STOPPED | VMS_ERROR,
	    "rebuilding"};
	int rc =
	    server_action_check(&act, s.id, s.vm_state, s.task_state, open_task, msg, sizeof(msg));
	if (rc == 0 && !s.host) {
		snprintf(msg, sizeof(msg),
		         "Cannot 'rebuild' instance %s while it is in vm_state %s", s.id,
		         s.vm_state);
		rc = -EBUSY;
	}
	if (rc < 0) {
		resp_error(r, w, 409, "%s", msg);
		goto out;
	}
	/* 2.54: a new key pair (the caller's), or null to have none */
	const char *public_key = NULL;
	if (q.has_key && q.key_name) {
		k = DBQ(r->ctx->db, err, sizeof err,
		        "SELECT public_key FROM keypairs WHERE user_id = $1 AND name = $2",
		        r->ctx->auth.user_id, q.key_name);
		k = wire_one_row(r, w, k, err, 400, "Invalid key_name provided.");
		if (!k)
			goto out;
		public_key = db_val(k, 0, 0);
	}
	int rows = DBX(
	    r->ctx->db, err, sizeof err,
	    "UPDATE instances SET image_id = CASE WHEN boot_volume_id IS NULL THEN $2 ELSE ''"
	    " END, name = coalesce($3, name),"
	    " metadata = coalesce($4::jsonb, metadata),"
	    " access_ipv4 = CASE WHEN $5::text IS NULL THEN access_ipv4 ELSE $5 END,"
	    " access_ipv6 = CASE WHEN $6::text IS NULL THEN access_ipv6 ELSE $6 END,"
	    " description = CASE WHEN $7::boolean THEN $8 ELSE description END,"
	    " key_name = CASE WHEN $9::boolean THEN $10 ELSE key_name END,"
	    " public_key = CASE WHEN $9::boolean THEN $11 ELSE public_key END,"
	    " user_data = CASE WHEN $12::boolean THEN $13 ELSE user_data END,"
	    " status = 'REBUILD', updated_at = now() WHERE id = $1",
	    s.id, iid, q.name, q.metadata_text, q.ipv4 ? q.ip4 : NULL, q.ipv6 ? q.ip6 : NULL,
	    json_object_get(arg, "description") ? "true" : "false", q.description,
	    q.has_key ? "true" : "false", q.key_name, public_key,
	    q.has_user_data ? "true" : "false", q.user_data && *q.user_data ? q.user_data : NULL);
	if (rows != 1 || server_task_queue(r, s.id, act.task_state, TASK_REBUILD, "rebuild",
	                                   "compute_rebuild_instance", err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (db_commit(r->ctx->db) < 0) {
		began = 0;
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	began = 0;
	api_wake_scheduler(r->ctx->api);
	if (q.admin_pass)
		snprintf(pass, sizeof(pass), "%.31s", q.admin_pass);
	else
		token_random(pass, sizeof(pass), 9); /* 12 characters, like Nova's */
	rebuild_answer(r, w, r->params[0], pass);
	sodium_memzero(pass, sizeof(pass));
out:
	if (began)
		db_rollback(r->ctx->db);
	PQclear(k);
	PQclear(res);
	rebuild_req_release(&q);
}

/* os-volume_upload_image: the image row, the volume's status and the upload task commit
 * together (storage-agent/pool_upload.c makes the bytes). */
#include "volume/volume_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "jparse.h"
#include "msg.h"
#include "outbox.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

struct upload_arg {
	char *image_name, *disk_format, *container_format, *visibility;
	int protected_, force;
};

static const struct jfield f_upload[] = {
    {"image_name", J_STR, JF(struct upload_arg, image_name), 0, 255, 1, 0},
    {"disk_format", J_STR, JF(struct upload_arg, disk_format), 0, 16, 0, 0},
    {"container_format", J_STR, JF(struct upload_arg, container_format), 0, 16, 0, 0},
    {"visibility", J_STR, JF(struct upload_arg, visibility), 0, 16, 0, 0},
    {"protected", J_BOOL, JF(struct upload_arg, protected_), 0, 1, 0, 0},
    {"force", J_BOOL, JF(struct upload_arg, force), 0, 1, 0, 0},
};

/* 1 when s is one of the NULL-terminated words. */
static int one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return 1;
	return 0;
}

void volume_upload_image(struct req *r, struct resp *w, const json_t *arg)
{
	static const char *const formats[] = {"raw", "qcow2", NULL};
	static const char *const containers[] = {"bare", NULL};
	static const char *const visibilities[] = {"private", "shared", "public", "community",
	                                           NULL};
	struct upload_arg a = {0};
	char err[512], image_id[UUID_STR_LEN], payload[128];
	PGresult *res = NULL;
	int began = 0;
	if (!json_is_object(arg) ||
	    jparse(arg, f_upload, JCOUNT(f_upload), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input received: %s",
		           json_is_object(arg) ? err : "body must be an object");
		goto out;
	}
	const char *fmt = a.disk_format ? a.disk_format : "raw";
	const char *cont = a.container_format ? a.container_format : "bare";
	const char *vis = a.visibility ? a.visibility : "private";
	if (!one_of(fmt, formats) || !one_of(cont, containers) || !one_of(vis, visibilities) ||
	    !a.image_name[0]) {
		resp_error(r, w, 400,
		           "Invalid input received: image_name must be set; disk_format raw or"
		           " qcow2; container_format bare; visibility private, shared, public or"
		           " community.");
		goto out;
	}
	if (!strcmp(vis, "public") && !policy_is_admin(&r->ctx->auth)) {
		resp_error(
		    r, w, 403,
		    "Policy doesn't allow volume_extension:volume_actions:upload_public to be"
		    " performed.");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	int admin = policy_is_admin(&r->ctx->auth);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT v.id, v.status, v.size_gb, v.project_id, coalesce(v.description, ''),"
	          " v.attached_server IS NOT NULL, to_char(now() AT TIME ZONE 'UTC',"
	          " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM volumes v WHERE v.id = $1 AND"
	          " ($2 OR v.project_id = $3) FOR UPDATE OF v",
	          r->params[1], admin ? "true" : "false", r->ctx->auth.project_id);
	if (!(res =
	          wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", r->params[1])))
		goto out;
	const char *vid = db_val(res, 0, 0), *status = db_val(res, 0, 1);
	const char *owner = db_val(res, 0, 3);
	if (strcmp(status, "available") || db_val(res, 0, 5)[0] == 't') {
		resp_error(r, w, 400,
		           "Invalid volume: Volume %s status must be available, but current status"
		           " is: %s.",
		           vid, status);
		goto out;
	}
	int rc = image_count_check(r, owner, err, sizeof(err));
	if (rc == -EDQUOT) {
		resp_error(r, w, 413, "%s", err);
		goto out;
	}
	uuid_generate_str(image_id);
	snprintf(payload, sizeof(payload), "{\"image_id\":\"%s\",\"disk_format\":\"%s\"}", image_id,
	         fmt);
	struct outbox_task t = {MSG_RES_VOLUME, vid, TASK_UPLOAD, NULL, payload, req_trace_id(r)};
	if (rc < 0 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO images (id, name, owner, status, visibility, disk_format,"
	        " container_format, protected, properties) VALUES ($1, $2, $3, 'queued', $4, $5,"
	        " $6, $7::boolean, '{}')",
	        image_id, a.image_name, owner, vis, fmt, cont,
	        a.protected_ ? "true" : "false") != 1 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'uploading', updated_at = now() WHERE id = $1",
	        vid) != 1 ||
	    outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (resp_commit_wake(
	        r, w, 202,
	        json_pack("{s:{s:s,s:s,s:s,s:s,s:i,s:n,s:s,s:s,s:s,s:s,s:s,s:b}}",
	                  "os-volume_upload_image", "id", vid, "updated_at", db_val(res, 0, 6),
	                  "status", "uploading", "display_description", db_val(res, 0, 4), "size",
	                  (int)db_long(res, 0, 2, 0), "volume_type", "image_id", image_id,
	                  "container_format", cont, "disk_format", fmt, "image_name", a.image_name,
	                  "visibility", vis, "protected", a.protected_)) == 0)
		began = 0;
out:
	PQclear(res);
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_upload, JCOUNT(f_upload), &a);
}

/* ---- image metadata ---- */

#define IMAGE_META_MAX 64

json_t *volume_image_meta_view(const char *image_id, const char *image_meta)
{
	if (image_meta) {
		json_t *m = json_loads(image_meta, 0, NULL);
		if (json_is_object(m))
			return m;
		json_decref(m);
		return json_object();
	}
	return image_id ? json_pack("{s:s}", "image_id", image_id) : NULL;
}

/* The caller's volume of the path, locked, inside the open transaction: its
 * image_meta as an object (owned) via out; 0, or answered and < 0. */
static int image_meta_lock(struct req *r, struct resp *w, int writing, json_t **out)
{
	char err[512];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT status, image_id, image_meta::text FROM volumes WHERE id = $1"
	                    " AND ($2 OR project_id = $3) FOR UPDATE",
	                    r->params[1], admin ? "true" : "false", r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", r->params[1]);
	if (!res)
		return -ENOENT;
	const char *st = db_val(res, 0, 0);
	if (writing && (!strcmp(st, "uploading") || !strcmp(st, "maintenance"))) {
		resp_error(r, w, 400,
		           "Invalid volume: The volume metadata cannot be updated when the volume"
		           " is in %s status.",
		           st);
		PQclear(res);
		return -EINVAL;
	}
	json_t *m = volume_image_meta_view(db_val(res, 0, 1), db_val(res, 0, 2));
	PQclear(res);
	*out = m ? m : json_object();
	return 0;
}

/* Stores m as the volume's image metadata, commits and answers status with body
 * (NULL: empty). Consumes body. */
static void image_meta_store(struct req *r, struct resp *w, const json_t *m, int status,
                             json_t *body)
{
	char err[512];
	char *text = json_dumps(m, JSON_COMPACT);
	if (!text || DBX(r->ctx->db, err, sizeof err,
	                 "UPDATE volumes SET image_meta = $2::jsonb, updated_at = now() WHERE"
	                 " id = $1",
	                 r->params[1], text) != 1) {
		free(text);
		json_decref(body);
		db_rollback(r->ctx->db);
		resp_db_error(r, w, text ? err : "out of memory");
		return;
	}
	free(text);
	if (db_commit(r->ctx->db) < 0) {
		json_decref(body);
		resp_db_error(r, w, "commit failed");
		return;
	}
	if (body)
		resp_json(w, status, body);
	else
		resp_empty(w, status);
}

void volume_image_meta_set(struct req *r, struct resp *w, const json_t *arg)
{
	struct jstrmap in = {0};
	char err[512];
	json_t *m = NULL;
	const json_t *meta = json_object_get(arg, "metadata");
	if (!json_is_object(meta) ||
	    jparse_map(meta, J_STRMAP, IMAGE_META_MAX, "metadata", &in, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input received: %s",
		           json_is_object(meta) ? err : "metadata must be an object");
		return;
	}
	for (size_t i = 0; i < in.n; i++)
		if (!in.keys[i][0] || strlen(in.keys[i]) > 255 || strlen(in.vals[i]) > 255) {
			resp_error(
			    r, w, 400,
			    "Invalid input received: metadata keys must be 1 to 255 characters"
			    " and values at most 255.");
			goto out;
		}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	if (image_meta_lock(r, w, 1, &m) < 0) {
		db_rollback(r->ctx->db);
		goto out;
	}
	json_t *add = jstrmap_to_json(&in);
	json_object_update(m, add);
	json_decref(add);
	if (json_object_size(m) > IMAGE_META_MAX) {
		db_rollback(r->ctx->db);
		resp_error(r, w, 400, "Invalid input received: at most %d image metadata items.",
		           IMAGE_META_MAX);
		goto out;
	}
	image_meta_store(r, w, m, 200, json_pack("{s:O}", "metadata", m));
out:
	json_decref(m);
	jstrmap_release(&in);
}

void volume_image_meta_unset(struct req *r, struct resp *w, const json_t *arg)
{
	json_t *m = NULL;
	const char *key = json_string_value(json_object_get(arg, "key"));
	if (!key || !key[0] || strlen(key) > 255) {
		resp_error(r, w, 400, "Invalid input received: key must be 1 to 255 characters.");
		return;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	if (image_meta_lock(r, w, 1, &m) < 0) {
		db_rollback(r->ctx->db);
		return;
	}
	if (json_object_del(m, key) < 0) {
		db_rollback(r->ctx->db);
		resp_error(r, w, 404,
		           "Glance metadata for volume %s with key %s could not be found.",
		           r->params[1], key);
	} else
		image_meta_store(r, w, m, 200, NULL);
	json_decref(m);
}

void volume_image_meta_show(struct req *r, struct resp *w, const json_t *arg)
{
	json_t *m = NULL;
	(void)arg;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int rc = image_meta_lock(r, w, 0, &m);
	db_rollback(r->ctx->db);
	if (rc == 0)
		resp_json(w, 200, json_pack("{s:o}", "metadata", m));
}

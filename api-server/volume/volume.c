/* Block Storage v3 volumes (/volume/v3/{project_id}/volumes): create (empty, from an
 * image, a snapshot or another volume), list and detail with filters and paging, show,
 * update, delete, metadata, and the actions os-extend, os-set_bootable and
 * os-reset_status. A write and its task commit together (outbox); the storage agent's
 * result moves the volume on (scheduler/volume_tasks.c). */
#include "volume/volume.h"
#include "volume/volume_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume_version.h"
#include "wire.h"
#include "xalloc.h"

#define VOLUME_SIZE_MAX 16384 /* GiB */
#define NAME_MAX_LEN 255
#define DESC_MAX_LEN 255
#define META_MAX 128
#define LIST_MAX 1000

/* ---- shared ---- */

int volume_project_check(struct req *r, struct resp *w)
{
	if (!strcmp(r->params[0], r->ctx->auth.project_id) || policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 400, "Malformed request url");
	return -EINVAL;
}

const char *volume_action_verb(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return NULL;
	if (!json_is_object(r->json) || json_object_size(r->json) != 1) {
		resp_error(r, w, 400, "Malformed request body");
		return NULL;
	}
	return json_object_iter_key(json_object_iter(r->json));
}

int volume_action_run(struct req *r, struct resp *w, const char *verb,
                      const struct volume_action *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(verb, t[i].name)) {
			t[i].fn(r, w, json_object_get(r->json, verb));
			return 1;
		}
	return 0;
}

int volume_type_resolve(struct req *r, struct resp *w, const char *ref, char out[37])
{
	char err[512];
	PGresult *res =
	    ref ? DBQ(r->ctx->db, err, sizeof err,
	              "SELECT id FROM volume_types t WHERE (id = $1 OR name = $1) AND (is_public OR"
	              " $2 OR EXISTS (SELECT 1 FROM volume_type_access a WHERE a.type_id = t.id AND"
	              " a.project_id = $3)) ORDER BY id = $1 DESC LIMIT 1",
	              ref, policy_is_admin(&r->ctx->auth) ? "true" : "false",
	              r->ctx->auth.project_id)
	        : DBQ(r->ctx->db, err, sizeof err,
	              "SELECT id FROM volume_types WHERE name = '__DEFAULT__'");
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(res);
	if (n == 1)
		snprintf(out, 37, "%s", db_val(res, 0, 0));
	PQclear(res);
	if (n != 1) {
		resp_error(r, w, 404, "Volume type %s could not be found.", ref ? ref : "default");
		return -ENOENT;
	}
	return 0;
}

/* ---- view ---- */

#define VOL_COLS                                                                                   \
	"v.id, v.name, v.description, v.status, v.size_gb, v.az, " VOLUME_TS(                      \
	    "v.created_at") ", " VOLUME_TS("v.updated_at") ", t.name, v.snapshot_id, "             \
	                                                   "v.source_volid,"                       \
	                                                   " v.metadata::text, v.bootable, "       \
	                                                   "v.user_id, v.project_id,"              \
	                                                   " v.host, v.image_id, "                 \
	                                                   "v.attached_server, v.attachment_id,"   \
	                                                   " v.attach_device, v.type_id,"          \
	                                                   " v.attached_server IS NOT NULL AND"    \
	                                                   " v.attach_compute, v.image_meta::text"
#define VOL_FROM " FROM volumes v JOIN volume_types t ON t.id = v.type_id"
enum {
	C_ID,
	C_NAME,
	C_DESC,
	C_STATUS,
	C_SIZE,
	C_AZ,
	C_CREATED,
	C_UPDATED,
	C_TYPE,
	C_SNAP,
	C_SRCVOL,
	C_META,
	C_BOOT,
	C_USER,
	C_PROJECT,
	C_HOST,
	C_IMAGE,
	C_SERVER,
	C_ATTACHMENT,
	C_DEVICE,
	C_TYPE_ID,
	C_COMPUTE, /* the attachment is Compute's: the disk is (being) plugged */
	C_IMAGE_META,
};

static json_t *volume_links(const struct req *r, const char *project, const char *id)
{
	const char *base = r->ctx->api->public_url;
	char *self = xasprintf("%s/volume/v3/%s/volumes/%s", base, project, id);
	char *book = xasprintf("%s/volume/%s/volumes/%s", base, project, id);
	json_t *l = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self, "rel",
	                      "bookmark", "href", book);
	free(self);
	free(book);
	return l;
}

/* detail: 0 the list's {id, name, links}, 1 show and detail, 2 the create answer. */
static json_t *volume_view(const struct req *r, const PGresult *res, int i, int detail)
{
	const char *id = db_val(res, i, C_ID), *project = db_val(res, i, C_PROJECT);
	json_t *v = json_pack("{s:s,s:o,s:o}", "id", id, "name",
	                      wire_string_or_null(db_val(res, i, C_NAME)), "links",
	                      volume_links(r, project, id));
	if (!detail)
		return v;
	json_t *meta = json_loads(db_val(res, i, C_META), 0, NULL);
	json_t *att = json_array();
	if (db_val(res, i, C_SERVER))
		json_array_append_new(
		    att, json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:o}", "id", id, "attachment_id",
		                   db_val(res, i, C_ATTACHMENT), "volume_id", id, "server_id",
		                   db_val(res, i, C_SERVER), "host_name", json_null(), "device",
		                   db_val(res, i, C_DEVICE) ? db_val(res, i, C_DEVICE) : "",
		                   "attached_at", wire_string_or_null(db_val(res, i, C_UPDATED))));
	json_t *more = json_pack(
	    "{s:o,s:s,s:i,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:s,s:b,s:b,s:o,s:s,s:s,s:s,s:o}",
	    "description", wire_string_or_null(db_val(res, i, C_DESC)), "status",
	    db_val(res, i, C_STATUS), "size", (int)db_long(res, i, C_SIZE, 0), "availability_zone",
	    db_val(res, i, C_AZ), "created_at", db_val(res, i, C_CREATED), "updated_at",
	    wire_string_or_null(db_val(res, i, C_UPDATED)), "volume_type", db_val(res, i, C_TYPE),
	    "snapshot_id", wire_string_or_null(db_val(res, i, C_SNAP)), "source_volid",
	    wire_string_or_null(db_val(res, i, C_SRCVOL)), "metadata", meta ? meta : json_object(),
	    "bootable", db_val(res, i, C_BOOT)[0] == 't' ? "true" : "false", "encrypted", 0,
	    "multiattach", 0, "attachments", att, "user_id", db_val(res, i, C_USER),
	    "os-vol-tenant-attr:tenant_id", project, "replication_status", "disabled",
	    "consistencygroup_id", json_null());
	json_object_update(v, more);
	json_decref(more);
	json_object_set_new(v, "migration_status", json_null()); /* never migrated */
	if (detail == 2) { /* Cinder's create answer: no extension attributes */
		json_object_del(v, "os-vol-tenant-attr:tenant_id");
		return v;
	}
	json_t *im = volume_image_meta_view(db_val(res, i, C_IMAGE), db_val(res, i, C_IMAGE_META));
	if (im)
		json_object_set_new(v, "volume_image_metadata", im);
	if (policy_is_admin(&r->ctx->auth)) {
		const char *host = db_val(res, i, C_HOST);
		char *h = host ? xasprintf("%s@nubo#nubo", host) : NULL; /* as get_pools */
		json_object_set_new(v, "os-vol-host-attr:host", wire_string_or_null(h));
		json_object_set_new(v, "os-vol-mig-status-attr:migstat", json_null());
		json_object_set_new(v, "os-vol-mig-status-attr:name_id", json_null());
		free(h);
	}
	return v;
}

/* The volume id of the path (params[1]) visible to the caller, locked when for_update.
 * NULL after answering 404 (or the database error). */
static PGresult *volume_find(struct req *r, struct resp *w, int for_update)
{
	char err[512];
	const char *id = r->params[1];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        for_update
	            ? "SELECT " VOL_COLS VOL_FROM " WHERE v.id = $1 AND ($2 OR v.project_id = $3)"
	              " FOR UPDATE OF v"
	            : "SELECT " VOL_COLS VOL_FROM " WHERE v.id = $1 AND ($2 OR v.project_id = $3)",
	        id, admin ? "true" : "false", r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", id);
}

static int snapshots_of(struct req *r, const char *volume_id, long *n)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT count(*) FROM volume_snapshots WHERE volume_id = $1", volume_id);
	if (!res)
		return -EIO;
	*n = db_long(res, 0, 0, 0);
	PQclear(res);
	return 0;
}

/* Queues action on volume id inside the open transaction, with payload (JSON text,
 * NULL for none). */
static int volume_task_with(struct req *r, enum msg_res_kind kind, const char *id,
                            const char *action, const char *payload, char *err, size_t errlen)
{
	struct outbox_task t = {kind, id, action, NULL, payload, req_trace_id(r)};
	return outbox_insert(r->ctx->db, &t, NULL, err, errlen);
}

/* Queues action on volume id inside the open transaction. */
static int volume_task(struct req *r, enum msg_res_kind kind, const char *id, const char *action,
                       const char *host, char *err, size_t errlen)
{
	struct outbox_task t = {kind, id, action, host, NULL, req_trace_id(r)};
	return outbox_insert(r->ctx->db, &t, NULL, err, errlen);
}

/* ---- list ---- */

char *volume_next_link(struct req *r, const char *base, const char *const *keep, size_t n,
                       long limit, const char *marker, const char *key, const char *dir)
{
	char lims[24];
	char *q = NULL;
	for (size_t i = 0; i < n; i++)
		if (req_query(r, keep[i]))
			q = wire_query_append(q, keep[i], req_query(r, keep[i]));
	snprintf(lims, sizeof(lims), "%ld", limit);
	q = wire_query_append(q, "limit", lims);
	q = wire_query_append(q, "marker", marker);
	if (key[0])
		q = wire_query_append(q, "sort_key", key);
	if (dir[0])
		q = wire_query_append(q, "sort_dir", dir);
	char *link = xasprintf("%s?%s", base, q + 1);
	free(q);
	return link;
}

/* The filters a volume list's next link keeps (the marker replaces offset). */
static const char *const vol_list_keep[] = {"all_tenants", "project_id", "name",
                                            "status",      "bootable",   "metadata"};

/* The keys a volume list sorts by (Cinder's names; display_name is name). Never NULL
 * (a NULL sorts first, as in Cinder's MySQL), so a page's keyset compares. */
static const struct {
	const char *key, *order;
} vol_sort_keys[] = {
    {"id", "v.id COLLATE \"C\""},
    {"created_at", "v.created_at"},
    {"updated_at", "coalesce(v.updated_at, '-infinity')"},
    {"name", "coalesce(v.name, '') COLLATE \"C\""},
    {"display_name", "coalesce(v.name, '') COLLATE \"C\""},
    {"status", "v.status"},
    {"size", "v.size_gb"},
    {"bootable", "v.bootable"},
};

/* The ORDER BY column of key (NULL: created_at); NULL when key is not one. */
static const char *volume_sort_order(const char *key)
{
	for (size_t i = 0; i < sizeof(vol_sort_keys) / sizeof(vol_sort_keys[0]); i++)
		if (!strcmp(key ? key : "created_at", vol_sort_keys[i].key))
			return vol_sort_keys[i].order;
	return NULL;
}

static void volumes_list_common(struct req *r, struct resp *w, int detail)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int admin = policy_is_admin(&r->ctx->auth);
	int all = wire_bool(req_query(r, "all_tenants"));
	long limit = wire_nonneg(req_query(r, "limit"));
	/* Cinder's offset (and Nova's, whose os-volumes proxy forwards its query here):
	 * that many volumes skipped after the marker */
	long offset = wire_nonneg(req_query(r, "offset"));
	if (offset == -EINVAL) {
		resp_error(r, w, 400,
		           "Invalid input received: offset must be a non-negative integer.");
		return;
	}
	if (all == -EINVAL) {
		resp_error(r, w, 400, "Invalid input received: all_tenants must be a boolean.");
		return;
	}
	if (limit == -EINVAL) {
		resp_error(r, w, 400,
		           "Invalid input received: limit must be a non-negative integer.");
		return;
	}
	if (limit < 0 || limit > LIST_MAX)
		limit = LIST_MAX;
	char key[32] = "", dir[8] = "";
	const char *sort = req_query(r, "sort");
	if (sort) { /* key[:dir], the first key only */
		size_t n = strcspn(sort, ":,");
		snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) ? n : sizeof(key) - 1),
		         sort);
		if (sort[n] == ':')
			snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(sort + n + 1, ","),
			         sort + n + 1);
	}
	if (req_query(r, "sort_key"))
		snprintf(key, sizeof(key), "%s", req_query(r, "sort_key"));
	if (req_query(r, "sort_dir"))
		snprintf(dir, sizeof(dir), "%s", req_query(r, "sort_dir"));
	const char *order = volume_sort_order(key[0] ? key : NULL);
	if (!order) {
		resp_error(r, w, 400, "Invalid input received: Invalid sort key %.32s", key);
		return;
	}
	if (dir[0] && strcmp(dir, "asc") && strcmp(dir, "desc")) {
		resp_error(r, w, 400,
		           "Invalid input received: Unknown sort direction, must be "
		           "'desc' or 'asc'");
		return;
	}
	const char *d = !strcmp(dir, "asc") ? "ASC" : "DESC";
	int explicit_limit = req_query(r, "limit") != NULL;
	const char *marker = req_query(r, "marker");
	char lim[24], off[24];
	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset > 0 ? offset : 0);
	const char *scope = admin && all == 1 ? NULL : r->ctx->auth.project_id;
	if (admin && all == 1 && req_query(r, "project_id"))
		scope = req_query(r, "project_id");
	const char *bootable = req_query(r, "bootable");
	int boot = bootable ? wire_bool(bootable) : -1;
	/* one page in SQL: the rows after the marker's (sort key, id), offset, limit */
	char *sql = xasprintf(
	    "SELECT " VOL_COLS VOL_FROM " WHERE ($1::text IS NULL OR v.project_id = $1)"
	    " AND ($2::text IS NULL OR v.name = $2) AND ($3::text IS NULL OR v.status = $3)"
	    " AND ($5::text IS NULL OR v.bootable = $5::boolean)"
	    " AND ($6::text IS NULL OR v.metadata @> $6::jsonb)"
	    " AND ($7::text IS NULL OR (%s, v.id COLLATE \"C\") %s (SELECT %s, v.id COLLATE \"C\""
	    " FROM volumes v WHERE v.id = $7))"
	    " ORDER BY %s %s, v.id COLLATE \"C\" %s LIMIT $4::int OFFSET $8::bigint",
	    order, d[0] == 'A' ? ">" : "<", order, order, d, d);
	const char *meta = req_query(r, "metadata");
	json_t *mj = meta ? json_loads(meta, 0, NULL) : NULL;
	char *mtext = NULL;
	if (meta && !json_is_object(mj)) {
		/* Cinder's CLI sends metadata as a Python dict repr; take "{'k': 'v'}" too */
		char *fixed = xstrdup(meta);
		for (char *p = fixed; *p; p++)
			if (*p == '\'')
				*p = '"';
		json_decref(mj);
		mj = json_loads(fixed, 0, NULL);
		free(fixed);
	}
	if (meta && !json_is_object(mj)) {
		resp_error(r, w, 400, "Invalid input received: metadata filter must be an object.");
		json_decref(mj);
		free(sql);
		return;
	}
	if (mj)
		mtext = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	if (marker) {
		PGresult *m = DBQ(r->ctx->db, err, sizeof err,
		                  "SELECT 1 FROM volumes WHERE id = $1 AND ($2::text IS NULL OR"
		                  " project_id = $2)",
		                  marker, admin ? NULL : r->ctx->auth.project_id);
		int found = m && PQntuples(m) == 1;
		PQclear(m);
		if (!found) {
			resp_error(r, w, 400, "Invalid input received: marker [%s] not found",
			           marker);
			free(sql);
			free(mtext);
			return;
		}
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, scope, req_query(r, "name"),
	                    req_query(r, "status"), lim,
	                    boot < 0 ? NULL : (boot ? "true" : "false"), mtext, marker, off);
	free(sql);
	free(mtext);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	int n = PQntuples(res), last = -1;
	for (int i = 0; i < n && (long)json_array_size(list) < limit; i++) {
		json_array_append_new(list, volume_view(r, res, i, detail));
		last = i;
	}
	long shown = (long)json_array_size(list);
	json_t *body = json_pack("{s:o}", "volumes", list);
	/* Cinder links the next page whenever a page is full (also one cut at its most) */
	if ((explicit_limit || limit == LIST_MAX) && shown == limit && shown > 0) {
		char *base = xasprintf("%s/volume/v3/%s/volumes%s", r->ctx->api->public_url,
		                       r->params[0], detail ? "/detail" : "");
		char *next = volume_next_link(r, base, vol_list_keep,
		                              sizeof(vol_list_keep) / sizeof(vol_list_keep[0]),
		                              limit, db_val(res, last, C_ID), key, dir);
		free(base);
		json_object_set_new(body, "volumes_links",
		                    json_pack("[{s:s,s:s}]", "rel", "next", "href", next));
		free(next);
	}
	PQclear(res);
	resp_json(w, 200, body);
}

static void volumes_list(struct req *r, struct resp *w)
{
	volumes_list_common(r, w, 0);
}

static void volumes_detail(struct req *r, struct resp *w)
{
	volumes_list_common(r, w, 1);
}

static void volume_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = volume_find(r, w, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "volume", volume_view(r, res, 0, 1)));
	PQclear(res);
}

/* ---- create ---- */

struct vol_create {
	long size;
	char *name, *description, *volume_type, *az, *snapshot_id, *source_volid, *image_ref;
	struct jstrmap metadata;
	int multiattach;
};

static const struct jfield f_create[] = {
    {"size", J_INT, JF(struct vol_create, size), 1, VOLUME_SIZE_MAX, 0, 1},
    {"name", J_STR, JF(struct vol_create, name), 0, NAME_MAX_LEN, 0, 1},
    {"display_name", J_STR, JF(struct vol_create, name), 0, NAME_MAX_LEN, 0, 1},
    {"description", J_STR, JF(struct vol_create, description), 0, DESC_MAX_LEN, 0, 1},
    {"volume_type", J_STR, JF(struct vol_create, volume_type), 0, 255, 0, 1},
    {"availability_zone", J_STR, JF(struct vol_create, az), 0, 255, 0, 1},
    {"snapshot_id", J_STR, JF(struct vol_create, snapshot_id), 0, 36, 0, 1},
    {"source_volid", J_STR, JF(struct vol_create, source_volid), 0, 36, 0, 1},
    {"imageRef", J_STR, JF(struct vol_create, image_ref), 0, 255, 0, 1},
    {"metadata", J_STRMAP, JF(struct vol_create, metadata), 0, META_MAX, 0, 1},
    {"multiattach", J_BOOL, JF(struct vol_create, multiattach), 0, 1, 0, 1},
};

/* The size and, for copies, the checked source, whose zone the copy is in (into zone,
 * unchanged for other volumes: a copy is made on its source's storage host; Cinder's
 * cloned_volume_same_az); answers and returns < 0 on refusal. */
static int create_source(struct req *r, struct resp *w, struct vol_create *c, int *bootable,
                         char zone[VOLUME_AZ_MAX], char src_type[37])
{
	char err[512], msg[512];
	const char *pid = r->ctx->auth.project_id;
	int admin = policy_is_admin(&r->ctx->auth);
	int nsrc = !!c->snapshot_id + !!c->source_volid + !!c->image_ref;
	if (nsrc > 1) {
		resp_error(r, w, 400,
		           "Invalid input received: Only one of snapshot_id, "
		           "source_volid and imageRef may be given.");
		return -EINVAL;
	}
	long src_size = 0;
	if (c->snapshot_id || c->source_volid) {
		const char *sid = c->snapshot_id ? c->snapshot_id : c->source_volid;
		PGresult *res =
		    c->snapshot_id
		        ? DBQ(r->ctx->db, err, sizeof err,
		              "SELECT s.status, s.size_gb, v.bootable, 0, v.az, v.type_id"
		              " FROM volume_snapshots s JOIN volumes v ON"
		              " v.id = s.volume_id WHERE s.id = $1 AND"
		              " ($2 OR s.project_id = $3) FOR SHARE OF s",
		              sid, admin ? "true" : "false", pid)
		        : DBQ(r->ctx->db, err, sizeof err,
		              "SELECT status, size_gb, bootable, " VOLUME_PLUGGED_BUSY
		              ", az, type_id FROM volumes WHERE id = $1 AND"
		              " ($2 OR project_id = $3) FOR SHARE",
		              sid, admin ? "true" : "false", pid);
		res = wire_one_row(r, w, res, err, 404, "%s %s could not be found.",
		                   c->snapshot_id ? "Snapshot" : "Volume", sid);
		if (!res)
			return -ENOENT;
		const char *st = db_val(res, 0, 0), *src_az = db_val(res, 0, 4);
		if (zone[0] && strcmp(zone, src_az)) {
			resp_error(
			    r, w, 400,
			    "Invalid input received: Volume must be in the same availability "
			    "zone as the %s",
			    c->snapshot_id ? "snapshot" : "source volume");
			PQclear(res);
			return -EINVAL;
		}
		snprintf(zone, VOLUME_AZ_MAX, "%s", src_az);
		src_size = db_long(res, 0, 1, 0);
		snprintf(src_type, 37, "%s", db_val(res, 0, 5));
		*bootable = db_val(res, 0, 2)[0] == 't';
		int bad = c->snapshot_id
		              ? strcmp(st, "available")
		              : volume_state_allows(st, 0, 0, 0, VOP_CLONE, msg, sizeof(msg));
		/* a volume a server has plugged is copied on the server's compute host with
		 * the guest paused (scheduler/volume_tasks.c), as its snapshots are: not while
		 * the server has no host or a task under way (its guest may be moving) */
		if (!bad && !c->snapshot_id && db_val(res, 0, 3)[0]) {
			resp_error(r, w, 400,
			           "Invalid volume: Volume %s is attached to a server that is busy "
			           "(%s); try again when its task is over.",
			           sid, db_val(res, 0, 3));
			PQclear(res);
			return -EINVAL;
		}
		PQclear(res);
		if (bad) {
			if (c->snapshot_id)
				resp_error(
				    r, w, 400,
				    "Invalid snapshot: Originating snapshot status must be one of "
				    "'available' values");
			else
				resp_error(r, w, 400, "%s", msg);
			return -EINVAL;
		}
	}
	if (c->image_ref) {
		PGresult *res =
		    DBQ(r->ctx->db, err, sizeof err,
		        "SELECT status, disk_format, coalesce(size, 0), min_disk FROM images"
		        " WHERE id = $1 AND (visibility IN ('public', 'community') OR"
		        " owner = $2 OR $3)",
		        c->image_ref, pid, admin ? "true" : "false");
		res =
		    wire_one_row(r, w, res, err, 404, "Image %s could not be found.", c->image_ref);
		if (!res)
			return -ENOENT;
		const char *st = db_val(res, 0, 0), *fmt = db_val(res, 0, 1);
		long bytes = db_long(res, 0, 2, 0), min_disk = db_long(res, 0, 3, 0);
		int ok = st && !strcmp(st, "active") && fmt &&
		         (!strcmp(fmt, "qcow2") || !strcmp(fmt, "raw"));
		PQclear(res);
		if (!ok) {
			resp_error(r, w, 400,
			           "Invalid image identifier or unable to access requested image.");
			return -EINVAL;
		}
		src_size = (bytes + (1L << 30) - 1) >> 30;
		if (min_disk > src_size)
			src_size = min_disk;
		*bootable = 1;
	}
	if (!c->size && src_size && !c->image_ref)
		c->size = src_size;
	if (c->size <= 0) {
		resp_error(r, w, 400, "Invalid input received: size must be a positive integer.");
		return -EINVAL;
	}
	if (c->size < src_size) {
		if (c->image_ref)
			resp_error(
			    r, w, 400,
			    "Invalid input received: Size of specified image %ldGB is larger "
			    "than volume size %ldGB.",
			    src_size, c->size);
		else
			resp_error(
			    r, w, 400,
			    "Invalid input received: Volume size '%ld'GB cannot be smaller than "
			    "the %s size %ldGB. They must be >= original %s size.",
			    c->size, c->snapshot_id ? "snapshot" : "original volume", src_size,
			    c->snapshot_id ? "snapshot" : "volume");
		return -EINVAL;
	}
	return 0;
}

/* The scheduler hints a volume create takes (OS-SCH-HNT:scheduler_hints), as the create
 * task's payload: Cinder's InstanceLocalityFilter hint {"local_to_instance": "<server
 * id>"} puts the volume on the server's machine or nowhere (the scheduler decides, as
 * Cinder's does; scheduler/volume_tasks.c); Nubo's own {"nubo_boot_server": "<server
 * id>"}, which Compute sends for the root volume it makes before the server's row
 * exists, places it beside where that server will go (a preference). Other hints are
 * ignored, as by a Cinder without their filter. Returns the payload (owned, NULL when
 * there is none), or NULL with *bad set after answering 400. */
static char *create_hints(struct req *r, struct resp *w, const char *zone, int *bad)
{
	static const char *const keys[][2] = {{"local_to_instance", "local_to_instance"},
	                                      {"nubo_boot_server", "boot_server"}};
	char err[512], server[UUID_STR_LEN];
	*bad = 0;
	const json_t *h = json_object_get(r->json, "OS-SCH-HNT:scheduler_hints");
	if ((!h || json_is_null(h)) && !zone[0])
		return NULL;
	if (h && !json_is_null(h) && !json_is_object(h)) {
		resp_error(r, w, 400,
		           "Invalid input received: OS-SCH-HNT:scheduler_hints must be an object.");
		*bad = 1;
		return NULL;
	}
	json_t *out = json_object();
	if (zone[0]) /* the zone asked for, which the scheduler's zone filter keeps to */
		json_object_set_new(out, "availability_zone", json_string(zone));
	for (size_t k = 0; h && k < sizeof(keys) / sizeof(keys[0]); k++) {
		const json_t *v = json_object_get(h, keys[k][0]);
		if (!v || json_is_null(v))
			continue;
		if (!json_is_string(v) || !uuid_is_valid(json_string_value(v))) {
			resp_error(r, w, 400, "Invalid input received: %s must be a UUID.",
			           keys[k][0]);
			goto bad;
		}
		uuid_lower(json_string_value(v), server);
		json_object_set_new(out, keys[k][1], json_string(server));
	}
	const char *near = json_string_value(json_object_get(out, "local_to_instance"));
	if (near) { /* a server of the caller's (Compute's API shows the host only to admins) */
		int admin = policy_is_admin(&r->ctx->auth);
		PGresult *res = DBQ(r->ctx->db, err, sizeof err,
		                    "SELECT 1 FROM instances WHERE id = $1 AND NOT deleted AND"
		                    " ($2 OR project_id = $3)",
		                    near, admin ? "true" : "false", r->ctx->auth.project_id);
		res = wire_one_row(r, w, res, err, 400,
		                   "Invalid input received: local_to_instance: server %s could not "
		                   "be found.",
		                   near);
		if (!res)
			goto bad;
		PQclear(res);
	}
	char *text = json_object_size(out) ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	return text;
bad:
	json_decref(out);
	*bad = 1;
	return NULL;
}

static void volume_create(struct req *r, struct resp *w)
{
	struct vol_create c;
	char err[512], id[UUID_STR_LEN], type_id[37], zone[VOLUME_AZ_MAX], src_type[37] = "";
	char *hints = NULL;
	int began = 0, bootable = 0, bad = 0;
	memset(&c, 0, sizeof(c));
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "volume", f_create, JCOUNT(f_create), &c) < 0)
		return;
	if (c.name && !wire_name_ok(c.name, NAME_MAX_LEN) && *c.name) {
		resp_error(r, w, 400, "Invalid input received: name is invalid.");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	if (c.az && *c.az && volume_zone_check(r, w, c.az) < 0)
		goto out;
	snprintf(zone, sizeof(zone), "%s", c.az ? c.az : "");
	hints = create_hints(r, w, c.snapshot_id || c.source_volid ? "" : zone, &bad);
	if (bad || create_source(r, w, &c, &bootable, zone, src_type) < 0)
		goto out;
	/* a copy with no type named keeps its source's, as Cinder's does; a named type wins
	 * (Cinder's _retype_is_possible: one backend, and no volume is encrypted). A
	 * snapshot's type is its volume's: Cinder records one on each snapshot but its
	 * retype sets it on the volume's snapshots too and refuses a migration while there
	 * are any, so the two never differ and Nubo keeps no copy (review s11 L4). */
	if (!c.volume_type && src_type[0])
		snprintf(type_id, sizeof(type_id), "%s", src_type);
	else if (volume_type_resolve(r, w, c.volume_type, type_id) < 0)
		goto out;
	if (volume_type_encryption_refuse(r, w, type_id) < 0)
		goto out;
	struct vquota_set want = {{1, c.size, 0}};
	if (vquota_reserve(r, w, NULL, type_id, &want, NULL) < 0)
		goto out;
	uuid_generate_str(id);
	json_t *mj = jstrmap_to_json(&c.metadata);
	char *meta = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	char size[24];
	snprintf(size, sizeof(size), "%ld", c.size);
	int rows = DBX(r->ctx->db, err, sizeof err,
	               "INSERT INTO volumes (id, project_id, user_id, name, description, size_gb,"
	               " type_id, bootable, metadata, source_volid, snapshot_id, image_id, az)"
	               " VALUES ($1, $2, $3, $4, $5, $6::int, $7, $8::boolean, $9::jsonb, $10, $11,"
	               " $12, coalesce(nullif($13, ''), 'nova'))",
	               id, r->ctx->auth.project_id, r->ctx->auth.user_id, c.name, c.description,
	               size, type_id, bootable ? "true" : "false", meta, c.source_volid,
	               c.snapshot_id, c.image_ref, zone);
	free(meta);
	if (rows != 1 ||
	    volume_task_with(r, MSG_RES_VOLUME, id, TASK_CREATE, hints, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	r->params[1] = id;
	PGresult *res = volume_find(r, w, 0);
	if (!res)
		goto out;
	int rc =
	    resp_commit_wake(r, w, 202, json_pack("{s:o}", "volume", volume_view(r, res, 0, 2)));
	PQclear(res);
	if (rc < 0)
		goto out;
	began = 0;
	log_info("volume %s (%ld GB) created in project %s", id, c.size, r->ctx->auth.project_id);
out:
	if (began)
		db_rollback(r->ctx->db);
	free(hints);
	jparse_release(f_create, JCOUNT(f_create), &c);
}

/* ---- update and delete ---- */

struct vol_update {
	char *name, *description;
	struct jstrmap metadata;
	int has_meta;
};

static const struct jfield f_update[] = {
    {"name", J_STR, JF(struct vol_update, name), 0, NAME_MAX_LEN, 0, 1},
    {"display_name", J_STR, JF(struct vol_update, name), 0, NAME_MAX_LEN, 0, 1},
    {"description", J_STR, JF(struct vol_update, description), 0, DESC_MAX_LEN, 0, 1},
    {"display_description", J_STR, JF(struct vol_update, description), 0, DESC_MAX_LEN, 0, 1},
    {"metadata", J_STRMAP, JF(struct vol_update, metadata), 0, META_MAX, 0, 1},
};

static void volume_update(struct req *r, struct resp *w)
{
	struct vol_update u;
	char err[512];
	memset(&u, 0, sizeof(u));
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "volume", f_update, JCOUNT(f_update), &u) < 0)
		return;
	json_t *inner = json_object_get(r->json, "volume");
	u.has_meta = json_object_get(inner, "metadata") != NULL;
	json_t *mj = jstrmap_to_json(&u.metadata);
	char *meta = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	int admin = policy_is_admin(&r->ctx->auth);
	int has_name = json_object_get(inner, "name") || json_object_get(inner, "display_name");
	int has_desc =
	    json_object_get(inner, "description") || json_object_get(inner, "display_description");
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volumes SET name = CASE WHEN $4 THEN $5 ELSE name END,"
	            " description = CASE WHEN $6 THEN $7 ELSE description END,"
	            " metadata = CASE WHEN $8 THEN $9::jsonb ELSE metadata END, updated_at = now()"
	            " WHERE id = $1 AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id,
	            has_name ? "true" : "false", u.name, has_desc ? "true" : "false", u.description,
	            u.has_meta ? "true" : "false", meta);
	free(meta);
	jparse_release(f_update, JCOUNT(f_update), &u);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Volume %s could not be found.", r->params[1]);
		return;
	}
	PGresult *res = volume_find(r, w, 0);
	if (!res)
		return;
	/* Cinder's update answer, like its create answer, has no extension attributes */
	resp_json(w, 200, json_pack("{s:o}", "volume", volume_view(r, res, 0, 2)));
	PQclear(res);
}

/* Cascade: every snapshot of the volume of params[1] to deleting, each with its delete
 * task, inside the open transaction; all must be available or error. 0, or answered
 * and < 0. */
static int volume_cascade_snapshots(struct req *r, struct resp *w)
{
	char err[512];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT id, status FROM volume_snapshots WHERE volume_id = $1 ORDER BY"
	                    " id FOR UPDATE",
	                    r->params[1]);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int rc = 0;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		const char *sid = db_val(res, i, 0), *st = db_val(res, i, 1);
		if (!strcmp(st, "deleting"))
			continue;
		if (!snapshot_state_deletable(st)) {
			resp_error(r, w, 400,
			           "Invalid volume: Snapshot %s of the volume is %s: it must be "
			           "available or error to delete in cascade.",
			           sid, st);
			rc = -EINVAL;
		} else if (DBX(r->ctx->db, err, sizeof err,
		               "UPDATE volume_snapshots SET status = 'deleting', updated_at = now()"
		               " WHERE id = $1",
		               sid) != 1 ||
		           volume_task(r, MSG_RES_SNAPSHOT, sid, TASK_DELETE, NULL, err,
		                       sizeof(err)) < 0) {
			resp_db_error(r, w, err);
			rc = -EIO;
		}
	}
	PQclear(res);
	return rc;
}

static void volume_delete(struct req *r, struct resp *w)
{
	char err[512], msg[512];
	long snaps = 0;
	if (volume_project_check(r, w) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res)
		goto fail;
	const char *st = db_val(res, 0, C_STATUS);
	int attached = db_val(res, 0, C_SERVER) != NULL;
	if (snapshots_of(r, r->params[1], &snaps) < 0) {
		resp_db_error(r, w, "snapshot count failed");
		goto fail;
	}
	if (!strcmp(st, "deleting")) { /* already on its way out */
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_empty(w, 202);
		return;
	}
	int cascade = wire_bool(req_query(r, "cascade"));
	if (cascade == -EINVAL) {
		resp_error(r, w, 400, "Invalid value '%s' for cascade.", req_query(r, "cascade"));
		goto fail;
	}
	if (volume_state_allows(st, attached, cascade == 1 ? 0 : (int)snaps, 0, VOP_DELETE, msg,
	                        sizeof(msg)) < 0) {
		resp_error(r, w, 400, "%s", msg);
		goto fail;
	}
	if (cascade == 1 && snaps > 0 && volume_cascade_snapshots(r, w) < 0)
		goto fail;
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'deleting', updated_at = now() WHERE id = $1",
	        r->params[1]) != 1 ||
	    volume_task(r, MSG_RES_VOLUME, r->params[1], TASK_DELETE, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto fail;
	}
	PQclear(res);
	resp_commit_wake(r, w, 202, NULL);
	return;
fail:
	PQclear(res);
	db_rollback(r->ctx->db);
}

/* ---- metadata ---- */

static void meta_answer(struct req *r, struct resp *w, const char *key)
{
	PGresult *res = volume_find(r, w, 0);
	if (!res)
		return;
	json_t *m = json_loads(db_val(res, 0, C_META), 0, NULL);
	PQclear(res);
	if (!m)
		m = json_object();
	if (key) {
		json_t *v = json_object_get(m, key);
		if (!v)
			resp_error(r, w, 404, "Volume %s has no metadata with key %s.",
			           r->params[1], key);
		else
			resp_json(w, 200, json_pack("{s:{s:O}}", "meta", key, v));
		json_decref(m);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "metadata", m));
}

static void volume_meta_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		meta_answer(r, w, NULL);
}

/* POST merges, PUT replaces: {"metadata": {...}}. */
static void meta_write(struct req *r, struct resp *w, int replace)
{
	char err[512];
	struct jstrmap m = {0};
	if (volume_project_check(r, w) < 0)
		return;
	json_t *obj = json_object_get(r->json, "metadata");
	if (!json_is_object(obj) ||
	    jparse_map(obj, J_STRMAP, META_MAX, "metadata", &m, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Malformed request body: %s",
		           json_is_object(obj) ? err : "metadata must be an object");
		return;
	}
	json_t *mj = jstrmap_to_json(&m);
	char *text = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	jstrmap_release(&m);
	int admin = policy_is_admin(&r->ctx->auth);
	int n =
	    DBX(r->ctx->db, err, sizeof err,
	        replace ? "UPDATE volumes SET metadata = $4::jsonb, updated_at = now()"
	                  " WHERE id = $1 AND ($2 OR project_id = $3)"
	                : "UPDATE volumes SET metadata = metadata || $4::jsonb, updated_at = now()"
	                  " WHERE id = $1 AND ($2 OR project_id = $3)",
	        r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, text);
	free(text);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Volume %s could not be found.", r->params[1]);
		return;
	}
	meta_answer(r, w, NULL);
}

static void volume_meta_merge(struct req *r, struct resp *w)
{
	meta_write(r, w, 0);
}

static void volume_meta_replace(struct req *r, struct resp *w)
{
	meta_write(r, w, 1);
}

static void volume_meta_key_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		meta_answer(r, w, r->params[2]);
}

static void volume_meta_key_put(struct req *r, struct resp *w)
{
	char err[512];
	struct jstrmap m = {0};
	if (volume_project_check(r, w) < 0)
		return;
	json_t *obj = json_object_get(r->json, "meta");
	if (!json_is_object(obj) || json_object_size(obj) != 1 ||
	    jparse_map(obj, J_STRMAP, 1, "meta", &m, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Malformed request body");
		return;
	}
	if (strcmp(m.keys[0], r->params[2])) {
		jstrmap_release(&m);
		resp_error(r, w, 400, "Request body and URI mismatch");
		return;
	}
	json_t *mj = jstrmap_to_json(&m);
	char *text = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	jstrmap_release(&m);
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volumes SET metadata = metadata || $4::jsonb, updated_at = now()"
	            " WHERE id = $1 AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, text);
	free(text);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Volume %s could not be found.", r->params[1]);
		return;
	}
	meta_answer(r, w, r->params[2]);
}

static void volume_meta_key_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volumes SET metadata = metadata - $4, updated_at = now()"
	            " WHERE id = $1 AND ($2 OR project_id = $3) AND metadata ? $4",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, r->params[2]);
	wire_answer_rows(r, w, n, err, 200, "Volume %s has no metadata with key %s.", r->params[1],
	                 r->params[2]);
}

/* ---- actions ---- */

struct vol_action {
	long new_size;
	char *status;
	int bootable;
};

static void action_extend(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512], msg[512];
	struct vol_action a = {0};
	static const struct jfield f[] = {
	    {"new_size", J_INT, JF(struct vol_action, new_size), 1, VOLUME_SIZE_MAX, 1, 0},
	};
	if (!json_is_object(arg) || jparse(arg, f, JCOUNT(f), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute new_size.");
		return;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res)
		goto fail;
	long size = db_long(res, 0, C_SIZE, 0);
	const char *st = db_val(res, 0, C_STATUS);
	if (volume_state_allows(st, db_val(res, 0, C_SERVER) != NULL, 0, 0, VOP_EXTEND, msg,
	                        sizeof(msg)) < 0) {
		resp_error(r, w, 400, "%s", msg);
		goto fail;
	}
	if (a.new_size <= size) {
		resp_error(
		    r, w, 400,
		    "Invalid input received: New size for extend must be greater than current "
		    "size. (current: %ld, extended: %ld).",
		    size, a.new_size);
		goto fail;
	}
	struct vquota_set want = {{0, a.new_size - size, 0}};
	if (vquota_reserve(r, w, db_val(res, 0, C_PROJECT), db_val(res, 0, C_TYPE_ID), &want,
	                   NULL) < 0)
		goto fail;
	char ns[24];
	snprintf(ns, sizeof(ns), "%ld", a.new_size);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'extending', new_size_gb = $2::int, updated_at = now()"
	        " WHERE id = $1",
	        r->params[1], ns) != 1 ||
	    volume_task(r, MSG_RES_VOLUME, r->params[1], TASK_EXTEND, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto fail;
	}
	PQclear(res);
	resp_commit_wake(r, w, 202, NULL);
	return;
fail:
	PQclear(res);
	db_rollback(r->ctx->db);
}

static void action_reset_status(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct vol_action a = {0};
	static const struct jfield f[] = {
	    {"status", J_STR, JF(struct vol_action, status), 0, 32, 1, 0},
	};
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow volume_extension:volume_admin_actions:"
		           "reset_status to be performed.");
		return;
	}
	if (!json_is_object(arg) || jparse(arg, f, JCOUNT(f), &a, err, sizeof(err)) < 0 ||
	    !volume_state_valid(a.status)) {
		resp_error(r, w, 400, "Invalid input received: Must specify a valid status");
		jparse_release(f, JCOUNT(f), &a);
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volumes SET status = $2, updated_at = now() WHERE id = $1",
	            r->params[1], a.status);
	jparse_release(f, JCOUNT(f), &a);
	wire_answer_rows(r, w, n, err, 202, "Volume %s could not be found.", r->params[1]);
}

static void action_set_bootable(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct vol_action a = {0};
	static const struct jfield f[] = {
	    {"bootable", J_BOOL, JF(struct vol_action, bootable), 0, 1, 1, 0},
	};
	if (!json_is_object(arg) || jparse(arg, f, JCOUNT(f), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid value for 'bootable'.");
		return;
	}
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volumes SET bootable = $4::boolean, updated_at = now()"
	            " WHERE id = $1 AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id,
	            a.bootable ? "true" : "false");
	wire_answer_rows(r, w, n, err, 200, "Volume %s could not be found.", r->params[1]);
}

/* Cinder's attach bookkeeping actions, which only move the status (the hypervisor side
 * is Compute's): from one of from (NULL-terminated) to to; when the volume is in none of
 * them, 202 without a change when idle, else 400 with msg (%s: the status). */
static const struct status_move {
	const char *action;
	const char *const *from;
	const char *to;
	int idle;    /* a volume in another status is left as it is, 202 */
	int compute; /* applies to an attachment Compute made */
	const char *msg;
} status_moves[] = {
    {"os-reserve", (const char *const[]){"available", NULL}, "attaching", 0, 1,
     "Invalid volume: Volume status must be available or downloading to reserve, but the "
     "current status is %s."},
    {"os-unreserve", (const char *const[]){"attaching", NULL}, "available", 1, 0, NULL},
    {"os-begin_detaching", (const char *const[]){"in-use", NULL}, "detaching", 0, 1,
     "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
     "attach_status must be 'attached' to detach, but the current status is %s."},
    {"os-roll_detaching", (const char *const[]){"detaching", NULL}, "in-use", 1, 1, NULL},
};

static void status_move(struct req *r, struct resp *w, const struct status_move *m)
{
	char err[512], from[128] = "{";
	for (const char *const *f = m->from; *f; f++)
		snprintf(from + strlen(from), sizeof(from) - strlen(from), "%s%s",
		         f == m->from ? "" : ",", *f);
	snprintf(from + strlen(from), sizeof(from) - strlen(from), "}");
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return;
	}
	const char *st = db_val(res, 0, C_STATUS);
	int n = !m->compute && db_val(res, 0, C_COMPUTE)[0] == 't'
	            ? 0 /* Compute's attach in flight: only its task settles the status */
	            : DBX(r->ctx->db, err, sizeof err,
	                  "UPDATE volumes SET status = $2, updated_at = now() WHERE id = $1 AND"
	                  " status = ANY($3::text[])",
	                  r->params[1], m->to, from);
	if (n < 0 || (n == 0 && !m->idle)) {
		if (n < 0)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, 400, m->msg, st);
		PQclear(res);
		db_rollback(r->ctx->db);
		return;
	}
	PQclear(res);
	if (db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, "commit failed");
	else
		resp_empty(w, 202);
}

struct vol_attach {
	char *instance_uuid, *host_name, *mountpoint, *mode;
};

/* 0 when id is a live instance of the caller's project (of any, for admins), else
 * answers 400 (or the database error) and returns < 0. */
static int instance_of_caller(struct req *r, struct resp *w, const char *id)
{
	char err[512];
	int n = 0;
	if (uuid_is_valid(id)) {
		PGresult *res = DBQ(
		    r->ctx->db, err, sizeof err,
		    "SELECT 1 FROM instances WHERE id = $1 AND NOT deleted AND ($2 OR"
		    " project_id = $3)",
		    id, policy_is_admin(&r->ctx->auth) ? "true" : "false", r->ctx->auth.project_id);
		if (!res) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		n = PQntuples(res);
		PQclear(res);
	}
	if (n == 1)
		return 0;
	resp_error(r, w, 400, "Invalid input received: instance %.64s could not be found.", id);
	return -ENOENT;
}

/* os-attach: records the volume as attached to an instance (or a host) at mountpoint,
 * as Cinder does when a consumer has attached it; from available or attaching. Only
 * bookkeeping: nothing plugs the disk (attach_compute false), and the instance must be
 * one of the caller's project (any, for admins); a volume Compute is attaching is
 * refused. */
static void action_attach(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512], msg[512], att[UUID_STR_LEN];
	struct vol_attach a = {0};
	static const struct jfield f[] = {
	    {"instance_uuid", J_STR, JF(struct vol_attach, instance_uuid), 0, 36, 0, 1},
	    {"host_name", J_STR, JF(struct vol_attach, host_name), 0, 255, 0, 1},
	    {"mountpoint", J_STR, JF(struct vol_attach, mountpoint), 0, 255, 1, 0},
	    {"mode", J_STR, JF(struct vol_attach, mode), 0, 2, 0, 1},
	};
	PGresult *res = NULL;
	if (!json_is_object(arg) || jparse(arg, f, JCOUNT(f), &a, err, sizeof(err)) < 0 ||
	    (!a.instance_uuid == !a.host_name) ||
	    (a.mode && strcmp(a.mode, "rw") && strcmp(a.mode, "ro"))) {
		resp_error(r, w, 400, "Invalid request to attach volume to an invalid target");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	res = volume_find(r, w, 1);
	if (!res)
		goto fail;
	const char *st = db_val(res, 0, C_STATUS);
	if (db_val(res, 0, C_COMPUTE)[0] == 't') {
		resp_error(r, w, 400, "Invalid volume: volume %s is being attached by Compute",
		           r->params[1]);
		goto fail;
	}
	if (a.instance_uuid && instance_of_caller(r, w, a.instance_uuid) < 0)
		goto fail;
	if (strcmp(st, "attaching") && volume_state_allows(st, db_val(res, 0, C_SERVER) != NULL, 0,
	                                                   0, VOP_ATTACH, msg, sizeof(msg)) < 0) {
		resp_error(r, w, 400, "%s", msg);
		goto fail;
	}
	uuid_generate_str(att);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'in-use', attached_server = $2, attachment_id = $3,"
	        " attach_device = $4, attach_compute = false, updated_at = now() WHERE id = $1",
	        r->params[1], a.instance_uuid ? a.instance_uuid : a.host_name, att,
	        a.mountpoint) != 1) {
		resp_db_error(r, w, err);
		goto fail;
	}
	if (db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, "commit failed");
	else
		resp_empty(w, 202);
	goto out;
fail:
	db_rollback(r->ctx->db);
out:
	PQclear(res);
	jparse_release(f, JCOUNT(f), &a);
}

/* os-detach: records the end of the attachment; from in-use or detaching (force: any
 * status, os-force_detach). A volume with no attachment: 202, as Cinder's API. An
 * attachment Compute made is refused (400): its disk stays plugged until Compute's
 * detach unplugs it. */
static void detach_common(struct req *r, struct resp *w, const json_t *arg, int force)
{
	char err[512];
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return;
	}
	const char *st = db_val(res, 0, C_STATUS);
	const char *want = json_string_value(json_object_get(arg, "attachment_id"));
	const char *have = db_val(res, 0, C_ATTACHMENT);
	int n = 0;
	if (!strcmp(st, "maintenance"))
		resp_error(r, w, 400, "Invalid volume: Volume status must not be maintenance.");
	else if (!db_val(res, 0, C_SERVER) && !want) /* Cinder's API: nothing to do, 202 */
		n = 1;
	else if (db_val(res, 0, C_COMPUTE)[0] == 't') /* plugged: Nova's detach unplugs it */
		resp_error(r, w, 400,
		           "Invalid volume: volume %s is attached to server %s through Compute; "
		           "detach it there (DELETE /servers/%s/os-volume_attachments/%s).",
		           r->params[1], db_val(res, 0, C_SERVER), db_val(res, 0, C_SERVER),
		           r->params[1]);
	else if (!force && strcmp(st, "in-use") && strcmp(st, "detaching"))
		resp_error(r, w, 400,
		           "Invalid volume: Unable to detach volume. Volume status must be "
		           "'in-use' and attach_status must be 'attached' to detach.");
	else if (want && (!have || strcmp(want, have)))
		resp_error(r, w, 404,
		           "Volume attachment could not be found with filter: "
		           "attachment_id = %.64s.",
		           want);
	else if ((n = DBX(r->ctx->db, err, sizeof err,
	                  "UPDATE volumes SET status = 'available', attached_server = NULL,"
	                  " attachment_id = NULL, attach_device = NULL, updated_at = now()"
	                  " WHERE id = $1",
	                  r->params[1])) != 1)
		resp_db_error(r, w, err);
	PQclear(res);
	if (n != 1) {
		db_rollback(r->ctx->db);
		return;
	}
	if (db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, "commit failed");
	else
		resp_empty(w, 202);
}

static void action_detach(struct req *r, struct resp *w, const json_t *arg)
{
	detach_common(r, w, arg, 0);
}

static int admin_only(struct req *r, struct resp *w, const char *what)
{
	if (policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 403,
	           "Policy doesn't allow volume_extension:volume_admin_actions:%s to be "
	           "performed.",
	           what);
	return -EACCES;
}

static void action_force_detach(struct req *r, struct resp *w, const json_t *arg)
{
	if (admin_only(r, w, "force_detach") == 0)
		detach_common(r, w, arg, 1);
}

/* os-force_delete (admins): deletes the volume whatever its status, attachment
 * bookkeeping dropped; refused while it has snapshots. */
static void action_force_delete(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	long snaps = 0;
	if (admin_only(r, w, "force_delete") < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return;
	}
	PQclear(res);
	if (snapshots_of(r, r->params[1], &snaps) < 0 || snaps > 0) {
		if (snaps > 0)
			resp_error(r, w, 400,
			           "Invalid volume: Volume still has %ld dependent snapshots.",
			           snaps);
		else
			resp_db_error(r, w, "snapshot count failed");
		db_rollback(r->ctx->db);
		return;
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'deleting', attached_server = NULL, attachment_id ="
	        " NULL, attach_device = NULL, updated_at = now() WHERE id = $1",
	        r->params[1]) != 1 ||
	    volume_task(r, MSG_RES_VOLUME, r->params[1], TASK_DELETE, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		db_rollback(r->ctx->db);
		return;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return;
	}
	api_wake_scheduler(r->ctx->api);
	resp_empty(w, 202);
}

/* os-retype without migration: one backend holds every type, so the volume only changes
 * type (available or in-use). */
static void action_retype(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512], type_id[37];
	const char *want = json_string_value(json_object_get(arg, "new_type"));
	if (!want || strlen(want) > 255) {
		resp_error(r, w, 400, "Invalid input received: New volume type must be specified.");
		return;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = volume_find(r, w, 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return;
	}
	const char *st = db_val(res, 0, C_STATUS);
	int ok = !strcmp(st, "available") || !strcmp(st, "in-use");
	if (!ok) {
		resp_error(r, w, 400,
		           "Invalid volume: Volume status must be available or in-use, but current "
		           "status is: %s.",
		           st);
		goto fail;
	}
	if (volume_type_resolve(r, w, want, type_id) < 0 ||
	    volume_type_encryption_refuse(r, w, type_id) < 0)
		goto fail;
	if (!strcmp(type_id, db_val(res, 0, C_TYPE_ID))) {
		resp_error(
		    r, w, 400,
		    "Invalid volume: Retype needs volume to be in available or in-use state, "
		    "not be part of an active migration or a consistency group, requested "
		    "type has to be different that the one from the volume, and for in-use "
		    "volumes front-end qos specs cannot change.");
		goto fail;
	}
	/* the volume and its snapshots move to the new type's quotas (Cinder's
	 * get_volume_type_reservation); the global ones do not change */
	PGresult *snaps = DBQ(r->ctx->db, err, sizeof err,
	                      "SELECT count(*), coalesce(sum(size_gb), 0) FROM volume_snapshots"
	                      " WHERE volume_id = $1",
	                      r->params[1]);
	if (!snaps) {
		resp_db_error(r, w, err);
		goto fail;
	}
	struct vquota_set none = {{0, 0, 0}},
	                  typed = {{1, db_long(res, 0, C_SIZE, 0) + db_long(snaps, 0, 1, 0),
	                            db_long(snaps, 0, 0, 0)}};
	PQclear(snaps);
	if (vquota_reserve(r, w, db_val(res, 0, C_PROJECT), type_id, &none, &typed) < 0)
		goto fail;
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET type_id = $2, updated_at = now() WHERE id = $1", r->params[1],
	        type_id) != 1) {
		resp_db_error(r, w, err);
		goto fail;
	}
	PQclear(res);
	if (db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, "commit failed");
	else
		resp_empty(w, 202);
	return;
fail:
	PQclear(res);
	db_rollback(r->ctx->db);
}

/* os-update_readonly_flag: Cinder keeps it as the "readonly" metadata, "True"/"False". */
static void action_readonly(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct vol_action a = {0};
	static const struct jfield f[] = {
	    {"readonly", J_BOOL, JF(struct vol_action, bootable), 0, 1, 1, 0},
	};
	if (!json_is_object(arg) || jparse(arg, f, JCOUNT(f), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid value for 'readonly'.");
		return;
	}
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(
	    r->ctx->db, err, sizeof err,
	    "UPDATE volumes SET metadata = metadata || jsonb_build_object('readonly', $4::text),"
	    " updated_at = now() WHERE id = $1 AND ($2 OR project_id = $3)",
	    r->params[1], admin ? "true" : "false", r->ctx->auth.project_id,
	    a.bootable ? "True" : "False");
	wire_answer_rows(r, w, n, err, 202, "Volume %s could not be found.", r->params[1]);
}

static const struct volume_action actions[] = {
    {"os-extend", action_extend},
    {"os-reset_status", action_reset_status},
    {"os-set_bootable", action_set_bootable},
    {"os-attach", action_attach},
    {"os-detach", action_detach},
    {"os-update_readonly_flag", action_readonly},
    {"os-force_detach", action_force_detach},
    {"os-force_delete", action_force_delete},
    {"os-retype", action_retype},
    {"os-volume_upload_image", volume_upload_image},
    {"os-set_image_metadata", volume_image_meta_set},
    {"os-unset_image_metadata", volume_image_meta_unset},
    {"os-show_image_metadata", volume_image_meta_show},
};

static void volume_action(struct req *r, struct resp *w)
{
	const char *verb = volume_action_verb(r, w);
	if (!verb || volume_action_run(r, w, verb, actions, sizeof(actions) / sizeof(actions[0])))
		return;
	for (size_t i = 0; i < sizeof(status_moves) / sizeof(status_moves[0]); i++)
		if (!strcmp(verb, status_moves[i].action)) {
			status_move(r, w, &status_moves[i]);
			return;
		}
	resp_error(r, w, 400, "There is no such action: %.64s", verb);
}

/* ---- version documents ---- */

static json_t *volume_version(const struct api *api)
{
	char *href = xasprintf("%s/volume/v3/", api->public_url);
	json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:s,s:[{s:s,s:s}],s:[{s:s,s:s}]}", "id", "v3.0",
	                      "status", "CURRENT", "version", VOLUME_VERSION_MAX_STR, "min_version",
	                      "3.0", "updated", "2016-02-08T12:20:21Z", "links", "rel", "self",
	                      "href", href, "media-types", "base", "application/json", "type",
	                      "application/vnd.openstack.volume+json;version=3");
	free(href);
	return v;
}

static void volume_root(struct req *r, struct resp *w)
{
	resp_json(w, 300, json_pack("{s:[o]}", "versions", volume_version(r->ctx->api)));
}

static void volume_v3(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:[o]}", "versions", volume_version(r->ctx->api)));
}

static const struct httpd_route volume_version_rows[] = {
    {"GET", "/volume", volume_root, POL_PUBLIC, 0},
    {"GET", "/volume/v3", volume_v3, POL_PUBLIC, 0},
};
HTTPD_TABLE(volume_versions_routes, volume_version_rows, &volume_hooks);

#define V "/volume/v3/{}"
static const struct httpd_route volume_rows[] = {
    {"GET", V "/volumes", volumes_list, POL_VOLUME_READ, 0},
    {"GET", V "/volumes/detail", volumes_detail, POL_VOLUME_READ, 0},
    {"POST", V "/volumes", volume_create, POL_VOLUME_WRITE, 0},
    {"GET", V "/volumes/{}", volume_show, POL_VOLUME_READ, 0},
    {"PUT", V "/volumes/{}", volume_update, POL_VOLUME_WRITE, 0},
    {"DELETE", V "/volumes/{}", volume_delete, POL_VOLUME_WRITE, 0},
    {"POST", V "/volumes/{}/action", volume_action, POL_VOLUME_WRITE, 0},
    {"GET", V "/volumes/{}/metadata", volume_meta_show, POL_VOLUME_READ, 0},
    {"POST", V "/volumes/{}/metadata", volume_meta_merge, POL_VOLUME_WRITE, 0},
    {"PUT", V "/volumes/{}/metadata", volume_meta_replace, POL_VOLUME_WRITE, 0},
    {"GET", V "/volumes/{}/metadata/{}", volume_meta_key_show, POL_VOLUME_READ, 0},
    {"PUT", V "/volumes/{}/metadata/{}", volume_meta_key_put, POL_VOLUME_WRITE, 0},
    {"DELETE", V "/volumes/{}/metadata/{}", volume_meta_key_delete, POL_VOLUME_WRITE, 0},
};
HTTPD_TABLE(volume_routes, volume_rows, &volume_hooks);

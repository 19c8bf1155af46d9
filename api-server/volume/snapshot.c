/* Block Storage v3 snapshots (/volume/v3/{project_id}/snapshots): create (a full copy
 * of an available volume, or of an in-use one with force), list and detail, show,
 * update, delete and metadata, with the snapshots and gigabytes quotas. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define SNAP_COLS                                                                                  \
	"s.id, s.name, s.description, s.status, s.size_gb, s.volume_id, " VOLUME_TS(               \
	    "s.created_at") ", " VOLUME_TS("s.updated_at") ", s.metadata::text, s.project_id"
enum { S_ID, S_NAME, S_DESC, S_STATUS, S_SIZE, S_VOLUME, S_CREATED, S_UPDATED, S_META, S_PROJECT };

static json_t *snapshot_view(const PGresult *res, int i, int detail)
{
	json_t *s =
	    json_pack("{s:s,s:o,s:s,s:s,s:i,s:s,s:o}", "id", db_val(res, i, S_ID), "name",
	              wire_string_or_null(db_val(res, i, S_NAME)), "status",
	              db_val(res, i, S_STATUS), "volume_id", db_val(res, i, S_VOLUME), "size",
	              (int)db_long(res, i, S_SIZE, 0), "created_at", db_val(res, i, S_CREATED),
	              "description", wire_string_or_null(db_val(res, i, S_DESC)));
	json_t *meta = json_loads(db_val(res, i, S_META), 0, NULL);
	json_object_set_new(s, "metadata", meta ? meta : json_object());
	json_object_set_new(s, "updated_at", wire_string_or_null(db_val(res, i, S_UPDATED)));
	if (detail) {
		json_object_set_new(
		    s, "os-extended-snapshot-attributes:progress",
		    json_string(strcmp(db_val(res, i, S_STATUS), "available") ? "0%" : "100%"));
		json_object_set_new(s, "os-extended-snapshot-attributes:project_id",
		                    json_string(db_val(res, i, S_PROJECT)));
	}
	return s;
}

static PGresult *snapshot_find(struct req *r, struct resp *w, int for_update)
{
	char err[512];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        for_update ? "SELECT " SNAP_COLS " FROM volume_snapshots s WHERE s.id = $1"
	                     " AND ($2 OR s.project_id = $3) FOR UPDATE"
	                   : "SELECT " SNAP_COLS " FROM volume_snapshots s WHERE s.id = $1"
	                     " AND ($2 OR s.project_id = $3)",
	        r->params[1], admin ? "true" : "false", r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Snapshot %s could not be found.", r->params[1]);
}

static void snapshots_list_common(struct req *r, struct resp *w, int detail)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int all = wire_bool(req_query(r, "all_tenants"));
	long limit = wire_nonneg(req_query(r, "limit"));
	if (all == -EINVAL || limit == -EINVAL) {
		resp_error(r, w, 400, "Invalid input received: bad all_tenants or limit.");
		return;
	}
	if (limit < 0 || limit > 1000)
		limit = 1000;
	char lim[24];
	snprintf(lim, sizeof(lim), "%ld", limit);
	const char *scope =
	    policy_is_admin(&r->ctx->auth) && all == 1 ? NULL : r->ctx->auth.project_id;
	const char *marker = req_query(r, "marker");
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT " SNAP_COLS " FROM volume_snapshots s WHERE ($1::text IS NULL OR"
	    " s.project_id = $1) AND ($2::text IS NULL OR s.name = $2) AND ($3::text IS NULL OR"
	    " s.status = $3) AND ($4::text IS NULL OR s.volume_id = $4) AND ($6::text IS NULL OR"
	    " (s.created_at, s.id) < (SELECT created_at, id FROM volume_snapshots WHERE id = $6))"
	    " ORDER BY s.created_at DESC, s.id DESC LIMIT $5::int",
	    scope, req_query(r, "name"), req_query(r, "status"), req_query(r, "volume_id"), lim,
	    marker);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, snapshot_view(res, i, detail));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "snapshots", list));
}

static void snapshots_list(struct req *r, struct resp *w)
{
	snapshots_list_common(r, w, 0);
}

static void snapshots_detail(struct req *r, struct resp *w)
{
	snapshots_list_common(r, w, 1);
}

static void snapshot_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = snapshot_find(r, w, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "snapshot", snapshot_view(res, 0, 1)));
	PQclear(res);
}

struct snap_create {
	char *volume_id, *name, *description;
	int force;
	struct jstrmap metadata;
};

static const struct jfield f_create[] = {
    {"volume_id", J_STR, JF(struct snap_create, volume_id), 0, 36, 1, 0},
    {"name", J_STR, JF(struct snap_create, name), 0, 255, 0, 1},
    {"display_name", J_STR, JF(struct snap_create, name), 0, 255, 0, 1},
    {"description", J_STR, JF(struct snap_create, description), 0, 255, 0, 1},
    {"force", J_BOOL, JF(struct snap_create, force), 0, 1, 0, 1},
    {"metadata", J_STRMAP, JF(struct snap_create, metadata), 0, 128, 0, 1},
};

static void snapshot_create(struct req *r, struct resp *w)
{
	struct snap_create c;
	char err[512], msg[512], id[UUID_STR_LEN];
	int began = 0;
	memset(&c, 0, sizeof(c));
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "snapshot", f_create, JCOUNT(f_create), &c) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT status, size_gb, attached_server IS NOT NULL, host FROM volumes"
	                    " WHERE id = $1 AND ($2 OR project_id = $3) FOR UPDATE",
	                    c.volume_id, admin ? "true" : "false", r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", c.volume_id);
	if (!res)
		goto out;
	long size = db_long(res, 0, 1, 0);
	char host[MSG_HOST_MAX];
	snprintf(host, sizeof(host), "%s", db_val(res, 0, 3) ? db_val(res, 0, 3) : "");
	int bad = volume_state_allows(db_val(res, 0, 0), db_val(res, 0, 2)[0] == 't', 0, c.force,
	                              VOP_SNAPSHOT, msg, sizeof(msg));
	PQclear(res);
	if (bad) {
		resp_error(r, w, 400, "%s", msg);
		goto out;
	}
	struct vquota_set want = {{0, size, 1}};
	if (vquota_reserve(r, w, &want) < 0)
		goto out;
	uuid_generate_str(id);
	json_t *mj = jstrmap_to_json(&c.metadata);
	char *meta = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	char sz[24];
	snprintf(sz, sizeof(sz), "%ld", size);
	struct outbox_task t = {MSG_RES_SNAPSHOT,      id,   TASK_CREATE,
	                        host[0] ? host : NULL, NULL, req_trace_id(r)};
	int rows = DBX(r->ctx->db, err, sizeof err,
	               "INSERT INTO volume_snapshots (id, project_id, user_id, volume_id, name,"
	               " description, size_gb, metadata, host) VALUES ($1, $2, $3, $4, $5, $6,"
	               " $7::int, $8::jsonb, $9)",
	               id, r->ctx->auth.project_id, r->ctx->auth.user_id, c.volume_id, c.name,
	               c.description, sz, meta, host[0] ? host : NULL);
	free(meta);
	if (rows != 1 || outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	r->params[1] = id;
	res = snapshot_find(r, w, 0);
	if (!res)
		goto out;
	if (db_commit(r->ctx->db) < 0) {
		PQclear(res);
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	began = 0;
	api_wake_scheduler(r->ctx->api);
	resp_json(w, 202, json_pack("{s:o}", "snapshot", snapshot_view(res, 0, 1)));
	PQclear(res);
	log_info("snapshot %s of volume %s created", id, c.volume_id);
out:
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_create, JCOUNT(f_create), &c);
}

struct snap_update {
	char *name, *description;
};

static const struct jfield f_update[] = {
    {"name", J_STR, JF(struct snap_update, name), 0, 255, 0, 1},
    {"display_name", J_STR, JF(struct snap_update, name), 0, 255, 0, 1},
    {"description", J_STR, JF(struct snap_update, description), 0, 255, 0, 1},
    {"display_description", J_STR, JF(struct snap_update, description), 0, 255, 0, 1},
};

static void snapshot_update(struct req *r, struct resp *w)
{
	struct snap_update u = {0};
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "snapshot", f_update, JCOUNT(f_update), &u) < 0)
		return;
	json_t *inner = json_object_get(r->json, "snapshot");
	int has_name = json_object_get(inner, "name") || json_object_get(inner, "display_name");
	int has_desc =
	    json_object_get(inner, "description") || json_object_get(inner, "display_description");
	int admin = policy_is_admin(&r->ctx->auth);
	int n =
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volume_snapshots SET name = CASE WHEN $4 THEN $5 ELSE name END,"
	        " description = CASE WHEN $6 THEN $7 ELSE description END, updated_at = now()"
	        " WHERE id = $1 AND ($2 OR project_id = $3)",
	        r->params[1], admin ? "true" : "false", r->ctx->auth.project_id,
	        has_name ? "true" : "false", u.name, has_desc ? "true" : "false", u.description);
	jparse_release(f_update, JCOUNT(f_update), &u);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Snapshot %s could not be found.",
		                 r->params[1]);
		return;
	}
	snapshot_show(r, w);
}

static void snapshot_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = snapshot_find(r, w, 1);
	if (!res)
		goto fail;
	const char *st = db_val(res, 0, S_STATUS);
	if (!strcmp(st, "deleting")) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_empty(w, 202);
		return;
	}
	if (!snapshot_state_deletable(st)) {
		resp_error(r, w, 400,
		           "Invalid snapshot: Snapshot status must be available or error and must "
		           "not be part of a group.");
		goto fail;
	}
	struct outbox_task t = {MSG_RES_SNAPSHOT, r->params[1], TASK_DELETE, NULL, NULL,
	                        req_trace_id(r)};
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volume_snapshots SET status = 'deleting', updated_at = now() WHERE id = $1",
	        r->params[1]) != 1 ||
	    outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto fail;
	}
	PQclear(res);
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return;
	}
	api_wake_scheduler(r->ctx->api);
	resp_empty(w, 202);
	return;
fail:
	PQclear(res);
	db_rollback(r->ctx->db);
}

static void snapshot_meta_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = snapshot_find(r, w, 0);
	if (!res)
		return;
	json_t *m = json_loads(db_val(res, 0, S_META), 0, NULL);
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "metadata", m ? m : json_object()));
}

static void snapshot_meta_write(struct req *r, struct resp *w, int replace)
{
	char err[512];
	struct jstrmap m = {0};
	if (volume_project_check(r, w) < 0)
		return;
	json_t *obj = json_object_get(r->json, "metadata");
	if (!json_is_object(obj) ||
	    jparse_map(obj, J_STRMAP, 128, "metadata", &m, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Malformed request body");
		return;
	}
	json_t *mj = jstrmap_to_json(&m);
	char *text = json_dumps(mj, JSON_COMPACT);
	json_decref(mj);
	jstrmap_release(&m);
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            replace ? "UPDATE volume_snapshots SET metadata = $4::jsonb WHERE id = $1 AND"
	                      " ($2 OR project_id = $3)"
	                    : "UPDATE volume_snapshots SET metadata = metadata || $4::jsonb WHERE"
	                      " id = $1 AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, text);
	free(text);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Snapshot %s could not be found.",
		                 r->params[1]);
		return;
	}
	snapshot_meta_show(r, w);
}

static void snapshot_meta_merge(struct req *r, struct resp *w)
{
	snapshot_meta_write(r, w, 0);
}

static void snapshot_meta_replace(struct req *r, struct resp *w)
{
	snapshot_meta_write(r, w, 1);
}

static void snapshot_meta_key_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_snapshots SET metadata = metadata - $4 WHERE id = $1 AND"
	            " ($2 OR project_id = $3) AND metadata ? $4",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, r->params[2]);
	wire_answer_rows(r, w, n, err, 200, "Snapshot %s has no metadata with key %s.",
	                 r->params[1], r->params[2]);
}

#define V "/volume/v3/{}"
static const struct httpd_route snapshot_rows[] = {
    {"GET", V "/snapshots", snapshots_list, POL_VOLUME_READ, 0},
    {"GET", V "/snapshots/detail", snapshots_detail, POL_VOLUME_READ, 0},
    {"POST", V "/snapshots", snapshot_create, POL_VOLUME_WRITE, 0},
    {"GET", V "/snapshots/{}", snapshot_show, POL_VOLUME_READ, 0},
    {"PUT", V "/snapshots/{}", snapshot_update, POL_VOLUME_WRITE, 0},
    {"DELETE", V "/snapshots/{}", snapshot_delete, POL_VOLUME_WRITE, 0},
    {"GET", V "/snapshots/{}/metadata", snapshot_meta_show, POL_VOLUME_READ, 0},
    {"POST", V "/snapshots/{}/metadata", snapshot_meta_merge, POL_VOLUME_WRITE, 0},
    {"PUT", V "/snapshots/{}/metadata", snapshot_meta_replace, POL_VOLUME_WRITE, 0},
    {"DELETE", V "/snapshots/{}/metadata/{}", snapshot_meta_key_delete, POL_VOLUME_WRITE, 0},
};
HTTPD_TABLE(snapshot_routes, snapshot_rows, &volume_hooks);

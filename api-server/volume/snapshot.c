/* Block Storage v3 snapshots (/volume/v3/{project_id}/snapshots): create (a full copy
 * of an available volume, or with force of an in-use one: a plugged one is copied
 * with its server's guest paused), list and detail, show,
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
	    "s.created_at") ", " VOLUME_TS("s.updated_at") ", s.metadata::text, s.project_id,"     \
	                                                   " s.progress"
enum {
	S_ID,
	S_NAME,
	S_DESC,
	S_STATUS,
	S_SIZE,
	S_VOLUME,
	S_CREATED,
	S_UPDATED,
	S_META,
	S_PROJECT,
	S_PROGRESS
};

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
		    json_string(db_val(res, i, S_PROGRESS) ? db_val(res, i, S_PROGRESS)
		                : strcmp(db_val(res, i, S_STATUS), "available") ? "0%"
		                                                                : "100%"));
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

/* The keys a snapshot list sorts by (Cinder's names; display_name is name). Never
 * NULL (a NULL sorts first, as in Cinder's MySQL), so a page's keyset compares. */
static const struct {
	const char *key, *order;
} sort_keys[] = {
    {"id", "s.id COLLATE \"C\""},
    {"created_at", "s.created_at"},
    {"updated_at", "coalesce(s.updated_at, '-infinity')"},
    {"name", "coalesce(s.name, '') COLLATE \"C\""},
    {"display_name", "coalesce(s.name, '') COLLATE \"C\""},
    {"status", "s.status"},
    {"size", "s.size_gb"},
    {"volume_id", "s.volume_id"},
};

/* The ORDER BY column of key (NULL: created_at); NULL when key is not one. */
static const char *sort_order(const char *key)
{
	for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
		if (!strcmp(key ? key : "created_at", sort_keys[i].key))
			return sort_keys[i].order;
	return NULL;
}

#define SNAP_LIST_MAX 1000 /* Cinder's osapi_max_limit: a longer page is cut, linked */

/* GET snapshots[/detail]: filters name, status, volume_id; sort_key and sort_dir (or
 * sort=key[:dir]); marker (the list goes on after its sort key and id; 404 when the
 * caller cannot see it), offset and limit. One page is read, in SQL. */
static void snapshots_list_common(struct req *r, struct resp *w, int detail)
{
	char err[512], key[32] = "", dir[8] = "";
	if (volume_project_check(r, w) < 0)
		return;
	int all = wire_bool(req_query(r, "all_tenants"));
	long limit = wire_nonneg(req_query(r, "limit"));
	long offset = wire_nonneg(req_query(r, "offset"));
	if (all == -EINVAL || limit == -EINVAL || offset == -EINVAL) {
		resp_error(r, w, 400, "Invalid input received: bad all_tenants, limit or offset.");
		return;
	}
	if (limit < 0 || limit > SNAP_LIST_MAX)
		limit = SNAP_LIST_MAX;
	if (offset < 0)
		offset = 0;
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
	const char *order = sort_order(key[0] ? key : NULL);
	if (!order) {
		resp_error(r, w, 400, "Invalid input received: Invalid sort key %.32s", key);
		return;
	}
	if (dir[0] && strcmp(dir, "asc") && strcmp(dir, "desc")) {
		resp_error(r, w, 400,
		           "Invalid input received: Unknown sort direction, must be 'desc' or "
		           "'asc'");
		return;
	}
	const char *d = !strcmp(dir, "asc") ? "ASC" : "DESC";
	const char *scope =
	    policy_is_admin(&r->ctx->auth) && all == 1 ? NULL : r->ctx->auth.project_id;
	const char *marker = req_query(r, "marker");
	if (marker) {
		int n =
		    DBX(r->ctx->db, err, sizeof err,
		        "SELECT 1 FROM volume_snapshots WHERE id = $1 AND ($2::text IS NULL OR"
		        " project_id = $2)",
		        marker, policy_is_admin(&r->ctx->auth) ? NULL : r->ctx->auth.project_id);
		if (n <= 0) {
			if (n < 0)
				resp_db_error(r, w, err);
			else
				resp_error(r, w, 404, "Marker %.64s could not be found.", marker);
			return;
		}
	}
	char lim[24], off[24];
	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset);
	char *sql = xasprintf(
	    "SELECT " SNAP_COLS " FROM volume_snapshots s WHERE ($1::text IS"
	    " NULL OR s.project_id = $1) AND ($2::text IS NULL OR s.name = $2)"
	    " AND ($3::text IS NULL OR s.status = $3) AND ($4::text IS NULL OR"
	    " s.volume_id = $4) AND ($5::text IS NULL OR (%s, s.id COLLATE \"C\") %s (SELECT %s,"
	    " s.id COLLATE \"C\" FROM volume_snapshots s WHERE s.id = $5))"
	    " ORDER BY %s %s, s.id COLLATE \"C\" %s LIMIT $6::int OFFSET $7::bigint",
	    order, d[0] == 'A' ? ">" : "<", order, order, d, d);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, scope, req_query(r, "name"),
	                    req_query(r, "status"), req_query(r, "volume_id"), marker, lim, off);
	free(sql);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	int n = PQntuples(res);
	for (int i = 0; i < n; i++)
		json_array_append_new(list, snapshot_view(res, i, detail));
	json_t *body = json_pack("{s:o}", "snapshots", list);
	/* a full page links the next, as Cinder does (also one cut at its most) */
	if ((req_query(r, "limit") || limit == SNAP_LIST_MAX) && n == limit && n > 0) {
		static const char *const keep[] = {"all_tenants", "name", "status", "volume_id"};
		char *base = xasprintf("%s/volume/v3/%s/snapshots%s", r->ctx->api->public_url,
		                       r->params[0], detail ? "/detail" : "");
		char *next = volume_next_link(r, base, keep, sizeof(keep) / sizeof(keep[0]), limit,
		                              db_val(res, n - 1, S_ID), key, dir);
		free(base);
		json_object_set_new(body, "snapshots_links",
		                    json_pack("[{s:s,s:s}]", "rel", "next", "href", next));
		free(next);
	}
	PQclear(res);
	resp_json(w, 200, body);
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
    {"volume_id", J_STR, JF(struct snap_create, volume_id), 0, 36, 0, 1},
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
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT status, size_gb, attached_server IS NOT NULL, host, " VOLUME_PLUGGED_BUSY
	        ", type_id FROM volumes"
	        " WHERE id = $1 AND ($2 OR project_id = $3) FOR UPDATE",
	        c.volume_id, admin ? "true" : "false", r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.",
	                   c.volume_id ? c.volume_id : "None");
	if (!res)
		goto out;
	long size = db_long(res, 0, 1, 0);
	char host[MSG_HOST_MAX], type_id[37];
	snprintf(type_id, sizeof(type_id), "%s", db_val(res, 0, 5));
	snprintf(host, sizeof(host), "%s", db_val(res, 0, 3) ? db_val(res, 0, 3) : "");
	int bad = volume_state_allows(db_val(res, 0, 0), db_val(res, 0, 2)[0] == 't', 0, c.force,
	                              VOP_SNAPSHOT, msg, sizeof(msg));
	/* A forced snapshot of a volume Compute has plugged is copied on the server's compute
	 * host with the guest paused (scheduler/volume_tasks.c). Refused while the server has
	 * no host or a task under way (a move, a resize, a shelve...): the guest holding the
	 * file may be changing hosts. */
	if (!bad && db_val(res, 0, 4)[0]) {
		snprintf(msg, sizeof(msg),
		         "Invalid volume: Volume %s is attached to a server that is busy (%s);"
		         " try again when its task is over.",
		         c.volume_id, db_val(res, 0, 4));
		bad = -EINVAL;
	}
	PQclear(res);
	if (bad) {
		resp_error(r, w, 400, "%s", msg);
		goto out;
	}
	struct vquota_set want = {{0, size, 1}};
	if (vquota_reserve(r, w, NULL, type_id, &want, NULL) < 0)
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
	/* Cinder's create and update answers carry no extension attributes */
	resp_json(w, 202, json_pack("{s:o}", "snapshot", snapshot_view(res, 0, 0)));
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
	PGresult *res = snapshot_find(r, w, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "snapshot", snapshot_view(res, 0, 0)));
	PQclear(res);
}

/* Deletes the snapshot of params[1]; force (os-force_delete): whatever its status. */
static void snapshot_delete_common(struct req *r, struct resp *w, int force)
{
	char err[512];
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = snapshot_find(r, w, 1);
	if (!res)
		goto fail;
	const char *st = db_val(res, 0, S_STATUS);
	if (!strcmp(st, "deleting") && !force) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_empty(w, 202);
		return;
	}
	if (!force && !snapshot_state_deletable(st)) {
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

static void snapshot_delete(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		snapshot_delete_common(r, w, 0);
}

/* ---- actions ---- */

static const char *const snap_states[] = {"creating", "available",      "deleting",
                                          "error",    "error_deleting", NULL};

static int one_of(const char *s, const char *const *list)
{
	for (; s && *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

struct snap_status {
	char *status, *progress;
};

static const struct jfield f_status[] = {
    {"status", J_STR, JF(struct snap_status, status), 0, 32, 1, 0},
    {"progress", J_STR, JF(struct snap_status, progress), 0, 8, 0, 1},
};

/* os-reset_status (admins): any snapshot status. */
static void snap_reset_status(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct snap_status a = {0};
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow volume_extension:snapshot_admin_actions:"
		           "reset_status to be performed.");
		return;
	}
	if (!json_is_object(arg) ||
	    jparse(arg, f_status, JCOUNT(f_status), &a, err, sizeof(err)) < 0 ||
	    !one_of(a.status, snap_states)) {
		jparse_release(f_status, JCOUNT(f_status), &a);
		resp_error(r, w, 400, "Invalid input received: Must specify a valid status");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_snapshots SET status = $2, progress = NULL, updated_at = now()"
	            " WHERE id = $1",
	            r->params[1], a.status);
	jparse_release(f_status, JCOUNT(f_status), &a);
	wire_answer_rows(r, w, n, err, 202, "Snapshot %s could not be found.", r->params[1]);
}

/* os-update_snapshot_status: the moves Cinder lets a snapshot's producer report
 * (creating to available or error; deleting to error_deleting), with a progress. */
static const char *const from_creating[] = {"creating", "available", "error", NULL};
static const char *const from_deleting[] = {"deleting", "error_deleting", NULL};
static const struct {
	const char *from;
	const char *const *to;
} snap_moves[] = {
    {"creating", from_creating},
    {"deleting", from_deleting},
};

static void snap_update_status(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct snap_status a = {0};
	if (!json_is_object(arg) ||
	    jparse(arg, f_status, JCOUNT(f_status), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input received: 'status' must be specified.");
		return;
	}
	PGresult *res = snapshot_find(r, w, 0);
	if (!res)
		goto out;
	int ok = 0;
	for (size_t i = 0; i < sizeof(snap_moves) / sizeof(snap_moves[0]); i++)
		ok |= !strcmp(db_val(res, 0, S_STATUS), snap_moves[i].from) &&
		      one_of(a.status, snap_moves[i].to);
	if (!ok) {
		resp_error(r, w, 400,
		           "Invalid input received: Provided snapshot status %.32s not allowed "
		           "for snapshot with status %s.",
		           a.status, db_val(res, 0, S_STATUS));
		PQclear(res);
		goto out;
	}
	PQclear(res);
	/* the storage agent writes every move of a snapshot it still works on: while a
	 * task for it is open, the producer's report would race (and could offer a
	 * half-written file as available) */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_snapshots SET status = $2, progress = coalesce($3, progress),"
	            " updated_at = now() WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM tasks t"
	            " WHERE t.resource_kind = 'snapshot' AND t.resource_id = $1"
	            " AND t.status IN ('pending', 'dispatched'))",
	            r->params[1], a.status, a.progress);
	if (n == 0) /* found above: its task is open (or it went meanwhile) */
		resp_error(r, w, 400,
		           "Invalid snapshot: Snapshot %s is still being processed by its storage "
		           "host.",
		           r->params[1]);
	else
		wire_answer_rows(r, w, n, err, 202, "Snapshot %s could not be found.",
		                 r->params[1]);
out:
	jparse_release(f_status, JCOUNT(f_status), &a);
}

/* os-force_delete (admins): deletes it whatever its status. */
static void snap_force_delete(struct req *r, struct resp *w, const json_t *arg)
{
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow volume_extension:snapshot_admin_actions:"
		           "force_delete to be performed.");
		return;
	}
	snapshot_delete_common(r, w, 1);
}

static const struct volume_action snap_actions[] = {
    {"os-reset_status", snap_reset_status},
    {"os-update_snapshot_status", snap_update_status},
    {"os-force_delete", snap_force_delete},
};

static void snapshot_action(struct req *r, struct resp *w)
{
	const char *verb = volume_action_verb(r, w);
	if (!verb || volume_action_run(r, w, verb, snap_actions,
	                               sizeof(snap_actions) / sizeof(snap_actions[0])))
		return;
	resp_error(r, w, 400, "There is no such action: %.64s", verb);
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

static void snapshot_meta_key_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = snapshot_find(r, w, 0);
	if (!res)
		return;
	json_t *m = json_loads(db_val(res, 0, S_META), 0, NULL);
	PQclear(res);
	json_t *v = json_object_get(m, r->params[2]);
	if (v)
		resp_json(w, 200, json_pack("{s:{s:O}}", "meta", r->params[2], v));
	else
		resp_error(r, w, 404, "Snapshot %s has no metadata with key %s.", r->params[1],
		           r->params[2]);
	json_decref(m);
}

/* PUT metadata/{key} {"meta": {"<key>": "v"}}. */
static void snapshot_meta_key_put(struct req *r, struct resp *w)
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
	jstrmap_release(&m);
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_snapshots SET metadata = metadata || $4::jsonb WHERE id = $1"
	            " AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id, text);
	free(text);
	if (n <= 0) {
		json_decref(mj);
		wire_answer_rows(r, w, n, err, 200, "Snapshot %s could not be found.",
		                 r->params[1]);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "meta", mj));
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
    {"GET", V "/snapshots/{}/metadata/{}", snapshot_meta_key_show, POL_VOLUME_READ, 0},
    {"PUT", V "/snapshots/{}/metadata/{}", snapshot_meta_key_put, POL_VOLUME_WRITE, 0},
    {"POST", V "/snapshots/{}/action", snapshot_action, POL_VOLUME_WRITE, 0},
};
HTTPD_TABLE(snapshot_routes, snapshot_rows, &volume_hooks);

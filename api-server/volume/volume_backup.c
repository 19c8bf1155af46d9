/* Block Storage v3 backups (/volume/v3/{project_id}/backups): create (full, or
 * incremental over the volume's newest available backup; an in-use volume only with
 * force), list and detail, show, update, delete (refused while an incremental child
 * reuses its objects), restore to a new or an existing available volume, and the admin
 * actions os-reset_status and os-force_delete, with the backups and backup_gigabytes
 * quotas. The bytes go to the owner's Swift account through the object store's API: each
 * task carries a token of the caller minted for it (scoped to the project, never
 * outliving the caller's token) and the account URL; nubo-storage does the copying
 * (storage-agent/backup.c, docs/internals.md "Volume backups"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "identity/token.h"
#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define BACKUP_TOKEN_TTL (6 * 3600) /* s; capped by the caller's token's expiry */
#define BACKUP_LIST_MAX 1000
#define BACKUP_CONTAINER "volumebackups" /* Cinder's default */

/* clang-format off */
#define BK_COLS                                                                          \
	"b.id, b.name, b.description, b.status, b.size_gb, b.object_count, b.container,"  \
	" b.is_incremental,"                                                              \
	" EXISTS (SELECT 1 FROM volume_backups c WHERE c.parent_id = b.id),"              \
	" b.volume_id, b.snapshot_id, b.fail_reason, "                                    \
	VOLUME_TS("b.data_timestamp") ", " VOLUME_TS("b.created_at") ", "                 \
	VOLUME_TS("b.updated_at") ", b.availability_zone, b.project_id, b.user_id,"       \
	" coalesce(b.data_id, b.id), coalesce(b.data_project, b.project_id),"             \
	" EXISTS (SELECT 1 FROM volume_backups o WHERE o.id <> b.id AND"                  \
	" coalesce(o.data_id, o.id) = coalesce(b.data_id, b.id)),"                        \
	" coalesce(b.parent_id, ''), b.volume_metadata::text, b.bootable"
/* clang-format on */
enum {
	B_ID,
	B_NAME,
	B_DESC,
	B_STATUS,
	B_SIZE,
	B_OBJECTS,
	B_CONTAINER,
	B_INCR,
	B_CHILDREN,
	B_VOLUME,
	B_SNAPSHOT,
	B_FAIL,
	B_DATA_TS,
	B_CREATED,
	B_UPDATED,
	B_AZ,
	B_PROJECT,
	B_USER,
	B_DATA_ID,      /* the backup id its objects are kept under */
	B_DATA_PROJECT, /* the project whose Swift account holds them */
	B_DATA_SHARED,  /* another record names the same objects (an import) */
	B_PARENT,
	B_VOL_META,
	B_BOOTABLE
};

static json_t *backup_links(struct req *r, const char *id)
{
	char *self =
	    xasprintf("%s/volume/v3/%s/backups/%s", r->ctx->api->public_url, r->params[0], id);
	json_t *l = json_pack("[{s:s,s:s}]", "rel", "self", "href", self);
	free(self);
	return l;
}

static json_t *backup_view(struct req *r, const PGresult *res, int i, int detail)
{
	json_t *b = json_pack("{s:s,s:o,s:o}", "id", db_val(res, i, B_ID), "name",
	                      wire_string_or_null(db_val(res, i, B_NAME)), "links",
	                      backup_links(r, db_val(res, i, B_ID)));
	if (!detail)
		return b;
	json_object_set_new(b, "description", wire_string_or_null(db_val(res, i, B_DESC)));
	json_object_set_new(b, "status", json_string(db_val(res, i, B_STATUS)));
	json_object_set_new(b, "size", json_integer(db_long(res, i, B_SIZE, 0)));
	json_object_set_new(b, "object_count", json_integer(db_long(res, i, B_OBJECTS, 0)));
	json_object_set_new(b, "container", json_string(db_val(res, i, B_CONTAINER)));
	json_object_set_new(b, "is_incremental", json_boolean(db_val(res, i, B_INCR)[0] == 't'));
	json_object_set_new(b, "has_dependent_backups",
	                    json_boolean(db_val(res, i, B_CHILDREN)[0] == 't'));
	json_object_set_new(b, "volume_id", json_string(db_val(res, i, B_VOLUME)));
	json_object_set_new(b, "snapshot_id", wire_string_or_null(db_val(res, i, B_SNAPSHOT)));
	json_object_set_new(b, "fail_reason", wire_string_or_null(db_val(res, i, B_FAIL)));
	json_object_set_new(b, "data_timestamp", json_string(db_val(res, i, B_DATA_TS)));
	json_object_set_new(b, "created_at", json_string(db_val(res, i, B_CREATED)));
	json_object_set_new(b, "updated_at", wire_string_or_null(db_val(res, i, B_UPDATED)));
	json_object_set_new(b, "availability_zone", json_string(db_val(res, i, B_AZ)));
	json_object_set_new(b, "user_id", json_string(db_val(res, i, B_USER)));
	json_object_set_new(b, "metadata", json_object());
	if (policy_is_admin(&r->ctx->auth))
		json_object_set_new(b, "os-backup-project-attr:project_id",
		                    json_string(db_val(res, i, B_PROJECT)));
	return b;
}

/* The backup of params[1] the caller may see (locked when for_update), or NULL with
 * Cinder's 404 answered. */
static PGresult *backup_find(struct req *r, struct resp *w, int for_update)
{
	char err[512];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    for_update ? "SELECT " BK_COLS " FROM volume_backups b WHERE b.id = $1"
	                                 " AND ($2 OR b.project_id = $3) FOR UPDATE OF b"
	                               : "SELECT " BK_COLS " FROM volume_backups b WHERE b.id = $1"
	                                 " AND ($2 OR b.project_id = $3)",
	                    r->params[1], admin ? "true" : "false", r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Backup %s could not be found.", r->params[1]);
}

/* GET backups[/detail]: filters name, status, volume_id; all_tenants (admins), limit,
 * offset, marker; newest first. */
static void backups_list_common(struct req *r, struct resp *w, int detail)
{
	char err[512], lim[24], off[24];
	if (volume_project_check(r, w) < 0)
		return;
	int all = wire_bool(req_query(r, "all_tenants"));
	long limit = wire_nonneg(req_query(r, "limit"));
	long offset = wire_nonneg(req_query(r, "offset"));
	if (all == -EINVAL || limit == -EINVAL || offset == -EINVAL) {
		resp_error(r, w, 400, "Invalid input received: bad all_tenants, limit or offset.");
		return;
	}
	if (limit < 0 || limit > BACKUP_LIST_MAX)
		limit = BACKUP_LIST_MAX;
	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset < 0 ? 0 : offset);
	const char *scope =
	    policy_is_admin(&r->ctx->auth) && all == 1 ? NULL : r->ctx->auth.project_id;
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT " BK_COLS " FROM volume_backups b WHERE ($1::text IS NULL OR b.project_id = $1)"
	    " AND ($2::text IS NULL OR b.name = $2) AND ($3::text IS NULL OR b.status = $3)"
	    " AND ($4::text IS NULL OR b.volume_id = $4) AND ($5::text IS NULL OR"
	    " (b.created_at, b.id) < (SELECT m.created_at, m.id FROM volume_backups m WHERE"
	    " m.id = $5)) ORDER BY b.created_at DESC, b.id DESC LIMIT $6::int OFFSET $7::bigint",
	    scope, req_query(r, "name"), req_query(r, "status"), req_query(r, "volume_id"),
	    req_query(r, "marker"), lim, off);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, backup_view(r, res, i, detail));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "backups", list));
}

static void backups_list(struct req *r, struct resp *w)
{
	backups_list_common(r, w, 0);
}

static void backups_detail(struct req *r, struct resp *w)
{
	backups_list_common(r, w, 1);
}

static void backup_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = backup_find(r, w, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "backup", backup_view(r, res, 0, 1)));
	PQclear(res);
}

/* The payload of a task on the caller's backups: a token of the caller minted for it and
 * the Swift account URL of project account (force: the volume is read while in use;
 * only an admin's token opens another project's account). Owned text,
 * or NULL with the answer given (503: no object store configured; database error). */
static char *backup_task_payload(struct req *r, struct resp *w, int force, const char *account)
{
	const char *base = conf_get(r->ctx->api->conf, "objstore", "internal_url",
	                            conf_get(r->ctx->api->conf, "objstore", "public_url", ""));
	if (!base[0]) {
		resp_error(r, w, 503, "Service cinder-backup could not be found: no object store.");
		return NULL;
	}
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	const struct auth *a = &r->ctx->auth;
	/* least privilege: the caller's own user and project, the caller's application
	 * credential (its roles) if any, never past the caller's token, and limited to the
	 * one Swift account the task reads or writes (no other API, no other account:
	 * common/objtoken.h) */
	char *swift_account = xasprintf("AUTH_%s", account);
	const struct token_req t = {a->user_id,
	                            a->project_id,
	                            NULL,
	                            a->methods[0] ? a->methods : NULL,
	                            a->app_cred_id[0] ? a->app_cred_id : NULL,
	                            a->expires_at[0] ? a->expires_at : NULL,
	                            0,
	                            swift_account};
	char token[TOKEN_STR_MAX];
	struct auth minted;
	int rc = token_issue(r->ctx->db, &t, BACKUP_TOKEN_TTL, token, &minted);
	free(swift_account);
	if (rc < 0) {
		resp_db_error(r, w, "token insert failed");
		return NULL;
	}
	char *url = xasprintf("%.*s/v1/AUTH_%s", (int)blen, base, account);
	json_t *p = json_pack("{s:s,s:s,s:b}", "token", token, "swift_url", url, "force", force);
	char *text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	free(url);
	memset(token, 0, sizeof(token));
	return text;
}

/* Inserts t with payload (wiped and freed). 0, or -EIO answered. */
static int backup_task(struct req *r, struct resp *w, const char *id, const char *action,
                       char *payload, const char *host)
{
	char err[512];
	struct outbox_task t = {MSG_RES_BACKUP, id, action, host, payload, req_trace_id(r)};
	int rc = outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err));
	memset(payload, 0, strlen(payload));
	free(payload);
	if (rc < 0)
		resp_db_error(r, w, err);
	return rc;
}

/* The backups quotas of the caller's project: want more backups of want_gb fit? Locks
 * the project row (as every quota-consuming write does). 0, or < 0 answered (413). */
static int backup_quota_reserve(struct req *r, struct resp *w, long want_gb)
{
	char err[512];
	const char *pid = r->ctx->auth.project_id;
	long lim_n = 10, lim_gb = 1000; /* Cinder's defaults */
	if (DBX(r->ctx->db, err, sizeof err, "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
	        pid) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, VQUOTA_LIMITS_SQL, pid);
	for (int i = 0; res && i < PQntuples(res); i++) {
		if (!strcmp(db_val(res, i, 0), "backups"))
			lim_n = db_long(res, i, 1, -1);
		else if (!strcmp(db_val(res, i, 0), "backup_gigabytes"))
			lim_gb = db_long(res, i, 1, -1);
	}
	PQclear(res);
	long n, gb;
	if (backup_usage(r->ctx->db, pid, &n, &gb) < 0) {
		resp_db_error(r, w, "quota lookup failed");
		return -EIO;
	}
	if (lim_n >= 0 && n + 1 > lim_n) {
		resp_error(r, w, 413,
		           "BackupLimitExceeded: Maximum number of backups allowed (%ld) exceeded",
		           lim_n);
		return -EDQUOT;
	}
	if (lim_gb >= 0 && gb + want_gb > lim_gb) {
		resp_error(
		    r, w, 413,
		    "VolumeBackupSizeExceedsAvailableQuota: Requested backup exceeds allowed "
		    "Backup gigabytes quota. Requested %ldG, quota is %ldG and %ldG has been "
		    "consumed.",
		    want_gb, lim_gb, gb);
		return -EDQUOT;
	}
	return 0;
}

int backup_usage(PGconn *db, const char *project_id, long *count, long *gb)
{
	char err[256];
	PGresult *res = DBQ(db, err, sizeof err,
	                    "SELECT count(*), coalesce(sum(size_gb), 0) FROM volume_backups WHERE"
	                    " project_id = $1",
	                    project_id);
	if (!res)
		return -EIO;
	*count = db_long(res, 0, 0, 0);
	*gb = db_long(res, 0, 1, 0);
	PQclear(res);
	return 0;
}

/* 1 when s is a Swift container name this API takes ([A-Za-z0-9_.-], 1-63). */
static int container_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 63 || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

struct bk_create {
	char *volume_id, *container, *name, *description, *snapshot_id, *az;
	int incremental, force;
	struct jstrmap metadata;
};

static const struct jfield f_create[] = {
    {"volume_id", J_STR, JF(struct bk_create, volume_id), 0, 36, 1, 0},
    {"container", J_STR, JF(struct bk_create, container), 0, 255, 0, 1},
    {"name", J_STR, JF(struct bk_create, name), 0, 255, 0, 1},
    {"description", J_STR, JF(struct bk_create, description), 0, 255, 0, 1},
    {"snapshot_id", J_STR, JF(struct bk_create, snapshot_id), 0, 36, 0, 1},
    {"availability_zone", J_STR, JF(struct bk_create, az), 0, 255, 0, 1},
    {"incremental", J_BOOL, JF(struct bk_create, incremental), 0, 1, 0, 1},
    {"force", J_BOOL, JF(struct bk_create, force), 0, 1, 0, 1},
    {"metadata", J_STRMAP, JF(struct bk_create, metadata), 0, 128, 0, 1},
};

static void backup_create(struct req *r, struct resp *w)
{
	struct bk_create c;
	char err[512], id[UUID_STR_LEN], parent[UUID_STR_LEN] = "", sz[24];
	int began = 0;
	PGresult *res = NULL;
	memset(&c, 0, sizeof(c));
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "backup", f_create, JCOUNT(f_create), &c) < 0)
		return;
	const char *container = c.container ? c.container : BACKUP_CONTAINER;
	if (!container_ok(container)) {
		resp_error(r, w, 400,
		           "Invalid input received: container must be 1-63 characters of "
		           "[A-Za-z0-9_.-].");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	int admin = policy_is_admin(&r->ctx->auth);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT status, size_gb FROM volumes WHERE id = $1 AND ($2 OR project_id = $3)"
	          " FOR UPDATE",
	          c.volume_id, admin ? "true" : "false", r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", c.volume_id);
	if (!res)
		goto out;
	const char *st = db_val(res, 0, 0);
	long size = db_long(res, 0, 1, 0);
	int in_use = !strcmp(st, "in-use");
	if (strcmp(st, "available") && !in_use) {
		resp_error(
		    r, w, 400,
		    "Invalid volume: Volume to be backed up must be available or in-use, but "
		    "the current status is \"%s\".",
		    st);
		goto out;
	}
	if (in_use && !c.force) {
		resp_error(r, w, 400,
		           "Invalid volume: Backing up an in-use volume must use the force flag.");
		goto out;
	}
	PQclear(res);
	res = NULL;
	if (c.snapshot_id && DBX(r->ctx->db, err, sizeof err,
	                         "SELECT 1 FROM volume_snapshots WHERE id = $1 AND volume_id = $2",
	                         c.snapshot_id, c.volume_id) <= 0) {
		resp_error(r, w, 404, "Snapshot %s could not be found.", c.snapshot_id);
		goto out;
	}
	if (c.incremental) { /* over the newest available backup of the volume */
		res = DBQ(r->ctx->db, err, sizeof err,
		          "SELECT id FROM volume_backups WHERE volume_id = $1 AND status ="
		          " 'available' AND container = $2 AND project_id = $3 AND data_id IS NULL"
		          " ORDER BY data_timestamp DESC, created_at DESC LIMIT 1",
		          c.volume_id, container, r->ctx->auth.project_id);
		if (!res) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (PQntuples(res) == 0) {
			resp_error(r, w, 400,
			           "Invalid backup: No backups available to do an incremental "
			           "backup.");
			goto out;
		}
		snprintf(parent, sizeof(parent), "%s", db_val(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	if (backup_quota_reserve(r, w, size) < 0)
		goto out;
	char *payload = backup_task_payload(r, w, in_use, r->ctx->auth.project_id);
	if (!payload)
		goto out;
	uuid_generate_str(id);
	snprintf(sz, sizeof(sz), "%ld", size);
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO volume_backups (id, project_id, user_id, volume_id, snapshot_id,"
	        " name, description, size_gb, container, is_incremental, parent_id,"
	        " volume_metadata, bootable, image_meta) SELECT $1, $2, $3, $4, $5, $6, $7,"
	        " $8::int, $9, $10::boolean, $11, v.metadata, v.bootable, CASE WHEN v.image_meta"
	        " IS NULL AND v.image_id IS NOT NULL THEN jsonb_build_object('image_id',"
	        " v.image_id) ELSE v.image_meta END FROM volumes v WHERE v.id = $4",
	        id, r->ctx->auth.project_id, r->ctx->auth.user_id, c.volume_id, c.snapshot_id,
	        c.name, c.description, sz, container, parent[0] ? "true" : "false",
	        parent[0] ? parent : NULL) != 1) {
		memset(payload, 0, strlen(payload));
		free(payload);
		resp_db_error(r, w, err);
		goto out;
	}
	if (backup_task(r, w, id, TASK_CREATE, payload, NULL) < 0)
		goto out;
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		began = 0;
		goto out;
	}
	began = 0;
	api_wake_scheduler(r->ctx->api);
	json_t *b = json_pack("{s:s,s:o,s:o}", "id", id, "name", wire_string_or_null(c.name),
	                      "links", backup_links(r, id));
	resp_json(w, 202, json_pack("{s:o}", "backup", b));
	log_info("backup %s of volume %s created%s%s", id, c.volume_id,
	         parent[0] ? ", incremental over " : "", parent);
out:
	PQclear(res);
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_create, JCOUNT(f_create), &c);
}

struct bk_update {
	char *name, *description;
};

static const struct jfield f_update[] = {
    {"name", J_STR, JF(struct bk_update, name), 0, 255, 0, 1},
    {"description", J_STR, JF(struct bk_update, description), 0, 255, 0, 1},
};

static void backup_update(struct req *r, struct resp *w)
{
	struct bk_update u = {0};
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "backup", f_update, JCOUNT(f_update), &u) < 0)
		return;
	json_t *inner = json_object_get(r->json, "backup");
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_backups SET name = CASE WHEN $4 THEN $5 ELSE name END,"
	            " description = CASE WHEN $6 THEN $7 ELSE description END, updated_at = now()"
	            " WHERE id = $1 AND ($2 OR project_id = $3)",
	            r->params[1], admin ? "true" : "false", r->ctx->auth.project_id,
	            json_object_get(inner, "name") ? "true" : "false", u.name,
	            json_object_get(inner, "description") ? "true" : "false", u.description);
	jparse_release(f_update, JCOUNT(f_update), &u);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Backup %s could not be found.", r->params[1]);
		return;
	}
	PGresult *res = backup_find(r, w, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "backup", backup_view(r, res, 0, 0)));
	PQclear(res);
}

/* Deletes the backup of params[1]; force (os-force_delete): whatever its status. A
 * backup an incremental child builds on is never deleted. */
static void backup_delete_common(struct req *r, struct resp *w, int force)
{
	char err[512];
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = backup_find(r, w, 1);
	if (!res)
		goto fail;
	const char *st = db_val(res, 0, B_STATUS);
	if (!strcmp(st, "deleting") && !force) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_empty(w, 202);
		return;
	}
	if (!force && strcmp(st, "available") && strcmp(st, "error")) {
		resp_error(r, w, 400, "Invalid backup: Backup status must be available or error");
		goto fail;
	}
	if (db_val(res, 0, B_CHILDREN)[0] == 't') {
		resp_error(r, w, 400, "Invalid backup: Incremental backups exist for this backup.");
		goto fail;
	}
	/* not even forced while its create or restore runs (a status reset does not stop
	 * it): the restore's target would stay restoring-backup for good, and a create
	 * finishing after the delete would leave its objects in the account (review s8 M2) */
	int busy = DBX(r->ctx->db, err, sizeof err,
	               "SELECT 1 FROM tasks t WHERE t.resource_kind = 'backup' AND t.resource_id"
	               " = $1 AND t.action <> '" TASK_DELETE "' AND t.status IN ('pending',"
	               " 'dispatched')",
	               r->params[1]);
	if (busy != 0) {
		if (busy < 0)
			resp_db_error(r, w, err);
		else
			resp_error(
			    r, w, 400,
			    "Invalid backup: Backup %s is still being created or restored by its"
			    " storage host.",
			    r->params[1]);
		goto fail;
	}
	if (db_val(res, 0, B_DATA_SHARED)[0] == 't') { /* the other record keeps the objects */
		if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM volume_backups WHERE id = $1",
		        r->params[1]) != 1) {
			resp_db_error(r, w, err);
			goto fail;
		}
		PQclear(res);
		if (db_commit(r->ctx->db) == 0)
			resp_empty(w, 202);
		else
			resp_db_error(r, w, "commit failed");
		return;
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volume_backups SET status = 'deleting', updated_at = now() WHERE id = $1",
	        r->params[1]) != 1) {
		resp_db_error(r, w, err);
		goto fail;
	}
	char *payload = backup_task_payload(r, w, 0, db_val(res, 0, B_DATA_PROJECT));
	if (!payload || backup_task(r, w, r->params[1], TASK_DELETE, payload, NULL) < 0)
		goto fail;
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

static void backup_delete(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		backup_delete_common(r, w, 0);
}

struct bk_restore {
	char *volume_id, *name;
};

static const struct jfield f_restore[] = {
    {"volume_id", J_STR, JF(struct bk_restore, volume_id), 0, 36, 0, 1},
    {"name", J_STR, JF(struct bk_restore, name), 0, 255, 0, 1},
};

/* POST backups/{id}/restore {"restore": {"volume_id"?, "name"?}}: into an existing
 * available volume at least as large, or a new volume of the backup's size. */
static void backup_restore(struct req *r, struct resp *w)
{
	struct bk_restore q = {0};
	char err[512], vid[UUID_STR_LEN], type_id[37], vname[256] = "";
	int began = 0;
	PGresult *res = NULL, *vol = NULL;
	if (volume_project_check(r, w) < 0)
		return;
	if (!json_is_object(json_object_get(r->json, "restore"))) {
		resp_error(r, w, 400,
		           "Invalid input received: Missing required element 'restore' in "
		           "request body.");
		return;
	}
	if (wire_parse_wrapped(r, w, "restore", f_restore, JCOUNT(f_restore), &q) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	if (!(res = backup_find(r, w, 1)))
		goto out;
	long size = db_long(res, 0, B_SIZE, 0);
	if (strcmp(db_val(res, 0, B_STATUS), "available")) {
		resp_error(r, w, 400, "Invalid backup: Backup status must be available");
		goto out;
	}
	int admin = policy_is_admin(&r->ctx->auth);
	if (q.volume_id) {
		vol =
		    DBQ(r->ctx->db, err, sizeof err,
		        "SELECT status, size_gb, coalesce(name, '') FROM volumes WHERE id = $1 AND"
		        " ($2 OR project_id = $3) FOR UPDATE",
		        q.volume_id, admin ? "true" : "false", r->ctx->auth.project_id);
		vol =
		    wire_one_row(r, w, vol, err, 404, "Volume %s could not be found.", q.volume_id);
		if (!vol)
			goto out;
		if (strcmp(db_val(vol, 0, 0), "available")) {
			resp_error(r, w, 400,
			           "Invalid volume: Volume to be restored to must be available");
			goto out;
		}
		if (db_long(vol, 0, 1, 0) < size) {
			resp_error(
			    r, w, 400,
			    "Invalid volume: volume size %ld is too small to restore backup of "
			    "size %ld.",
			    db_long(vol, 0, 1, 0), size);
			goto out;
		}
		snprintf(vid, sizeof(vid), "%s", q.volume_id);
		snprintf(vname, sizeof(vname), "%s", db_val(vol, 0, 2));
		if (DBX(r->ctx->db, err, sizeof err,
		        "UPDATE volumes v SET status = 'restoring-backup', metadata = v.metadata ||"
		        " b.volume_metadata, bootable = b.bootable, image_meta = "
		        "coalesce(b.image_meta,"
		        " v.image_meta), updated_at = now() FROM volume_backups b WHERE v.id = $1 "
		        "AND"
		        " b.id = $2",
		        vid, r->params[1]) != 1) {
			resp_db_error(r, w, err);
			goto out;
		}
	} else {
		struct vquota_set want = {{1, size, 0}};
		if (volume_type_resolve(r, w, NULL, type_id) < 0 ||
		    volume_type_encryption_refuse(r, w, type_id) < 0 ||
		    vquota_reserve(r, w, NULL, type_id, &want, NULL) < 0)
			goto out;
		uuid_generate_str(vid);
		char sz[24];
		snprintf(sz, sizeof(sz), "%ld", size);
		snprintf(vname, sizeof(vname), "%s", q.name ? q.name : "restore_backup_");
		if (!q.name)
			snprintf(vname, sizeof(vname), "restore_backup_%s", r->params[1]);
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO volumes (id, project_id, user_id, name, size_gb, type_id, "
		        "status,"
		        " metadata, bootable, image_meta) SELECT $1, $2, $3, $4, $5::int, $6,"
		        " 'restoring-backup', b.volume_metadata, b.bootable, b.image_meta FROM"
		        " volume_backups b WHERE b.id = $7",
		        vid, r->ctx->auth.project_id, r->ctx->auth.user_id, vname, sz, type_id,
		        r->params[1]) != 1) {
			resp_db_error(r, w, err);
			goto out;
		}
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volume_backups SET status = 'restoring', restore_volume_id = $2,"
	        " updated_at = now() WHERE id = $1",
	        r->params[1], vid) != 1) {
		resp_db_error(r, w, err);
		goto out;
	}
	char *payload = backup_task_payload(r, w, 0, db_val(res, 0, B_DATA_PROJECT));
	if (!payload || backup_task(r, w, r->params[1], TASK_RESTORE, payload, NULL) < 0)
		goto out;
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		began = 0;
		goto out;
	}
	began = 0;
	api_wake_scheduler(r->ctx->api);
	resp_json(w, 202,
	          json_pack("{s:{s:s,s:s,s:s}}", "restore", "backup_id", r->params[1], "volume_id",
	                    vid, "volume_name", vname));
	log_info("backup %s: restore into volume %s", r->params[1], vid);
out:
	PQclear(res);
	PQclear(vol);
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_restore, JCOUNT(f_restore), &q);
}

/* ---- export_record / import_record (admins) ---- */

#define BACKUP_SERVICE "cinder.backup.drivers.swift" /* what it is: Swift's API */

/* GET backups/{id}/export_record: the record as base64 JSON, for import_record. */
static void backup_export(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403, "Policy doesn't allow backup:export-import to be performed.");
		return;
	}
	PGresult *res = backup_find(r, w, 0);
	if (!res)
		return;
	if (strcmp(db_val(res, 0, B_STATUS), "available")) {
		resp_error(r, w, 400, "Invalid backup: Backup status must be available and not %s.",
		           db_val(res, 0, B_STATUS));
		PQclear(res);
		return;
	}
	json_t *meta = json_loads(db_val(res, 0, B_VOL_META), 0, NULL);
	json_t *rec = json_pack(
	    "{s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:s,s:s,s:s,s:o,s:b}", "id", db_val(res, 0, B_ID),
	    "volume_id", db_val(res, 0, B_VOLUME), "project_id", db_val(res, 0, B_DATA_PROJECT),
	    "data_id", db_val(res, 0, B_DATA_ID), "name",
	    wire_string_or_null(db_val(res, 0, B_NAME)), "description",
	    wire_string_or_null(db_val(res, 0, B_DESC)), "size",
	    (json_int_t)db_long(res, 0, B_SIZE, 0), "container", db_val(res, 0, B_CONTAINER),
	    "parent_id", db_val(res, 0, B_PARENT), "availability_zone", db_val(res, 0, B_AZ),
	    "volume_metadata", meta ? meta : json_object(), "bootable",
	    db_val(res, 0, B_BOOTABLE)[0] == 't');
	PQclear(res);
	char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rec);
	size_t n = strlen(text);
	size_t blen = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = xmalloc(blen);
	sodium_bin2base64(b64, blen, (const unsigned char *)text, n,
	                  sodium_base64_VARIANT_ORIGINAL);
	free(text);
	resp_json(w, 200,
	          json_pack("{s:{s:s,s:s}}", "backup-record", "backup_service", BACKUP_SERVICE,
	                    "backup_url", b64));
	free(b64);
}

struct bk_record {
	char *service, *url;
};

static const struct jfield f_record[] = {
    {"backup_service", J_STR, JF(struct bk_record, service), 0, 255, 1, 0},
    {"backup_url", J_STR, JF(struct bk_record, url), 0, 65536, 1, 0},
};

/* The fields of an exported record, checked. */
struct bk_import {
	char *id, *volume_id, *project_id, *data_id, *name, *description, *container, *parent_id,
	    *az;
	long size;
	int bootable;
	json_t *meta;
};

/* POST backups/import_record: a record export_record made becomes a backup of the
 * caller's project (available at once: its objects are where the record says); its id
 * must be new. */
static void backup_import(struct req *r, struct resp *w)
{
	struct bk_record q = {0};
	char err[512];
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	json_t *rec = NULL;
	if (volume_project_check(r, w) < 0)
		return;
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403, "Policy doesn't allow backup:backup-import to be performed.");
		return;
	}
	if (wire_parse_wrapped(r, w, "backup-record", f_record, JCOUNT(f_record), &q) < 0)
		return;
	if (strcmp(q.service, BACKUP_SERVICE)) {
		resp_error(r, w, 400, "Invalid input received: backup service %.64s is not %s.",
		           q.service, BACKUP_SERVICE);
		goto out;
	}
	if (base64_decode(q.url, "\n", 1, &raw, &rawlen) < 0 ||
	    !(rec = json_loadb((const char *)raw, rawlen, 0, NULL))) {
		resp_error(r, w, 400, "Invalid input received: Can't parse backup record.");
		goto out;
	}
	struct bk_import b = {
	    (char *)json_string_value(json_object_get(rec, "id")),
	    (char *)json_string_value(json_object_get(rec, "volume_id")),
	    (char *)json_string_value(json_object_get(rec, "project_id")),
	    (char *)json_string_value(json_object_get(rec, "data_id")),
	    (char *)json_string_value(json_object_get(rec, "name")),
	    (char *)json_string_value(json_object_get(rec, "description")),
	    (char *)json_string_value(json_object_get(rec, "container")),
	    (char *)json_string_value(json_object_get(rec, "parent_id")),
	    (char *)json_string_value(json_object_get(rec, "availability_zone")),
	    (long)json_integer_value(json_object_get(rec, "size")),
	    json_is_true(json_object_get(rec, "bootable")),
	    json_object_get(rec, "volume_metadata"),
	};
	if (!b.id || !uuid_is_valid(b.id) || !b.volume_id || !uuid_is_valid(b.volume_id) ||
	    !b.project_id || !b.project_id[0] || strlen(b.project_id) > 64 ||
	    strspn(b.project_id, "0123456789abcdefABCDEF-") != strlen(b.project_id) || !b.data_id ||
	    !uuid_is_valid(b.data_id) || !b.container || !container_ok(b.container) || b.size < 1 ||
	    b.size > 1 << 20 || (b.name && strlen(b.name) > 255) ||
	    (b.description && strlen(b.description) > 255) || !json_is_object(b.meta)) {
		resp_error(r, w, 400, "Invalid input received: Can't parse backup record.");
		goto out;
	}
	char sz[24], *meta = json_dumps(b.meta, JSON_COMPACT);
	snprintf(sz, sizeof(sz), "%ld", b.size);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "INSERT INTO volume_backups (id, project_id, user_id, volume_id, name,"
	            " description, status, size_gb, container, is_incremental, parent_id,"
	            " volume_metadata, bootable, data_id, data_project, object_count)"
	            " SELECT $1, $2, $3, $4, $5, $6, 'available', $7::int, $8, p.id IS NOT NULL,"
	            " p.id, $9::jsonb, $10::boolean, $11, $12, 0 FROM (SELECT 1) one"
	            " LEFT JOIN volume_backups p ON p.id = $13 ON CONFLICT (id) DO NOTHING",
	            b.id, r->ctx->auth.project_id, r->ctx->auth.user_id, b.volume_id, b.name,
	            b.description, sz, b.container, meta, b.bootable ? "true" : "false", b.data_id,
	            b.project_id, b.parent_id ? b.parent_id : "");
	free(meta);
	if (n < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (n == 0) {
		resp_error(r, w, 400, "Invalid backup: Backup already exists in database.");
		goto out;
	}
	resp_json(w, 201,
	          json_pack("{s:{s:s,s:o,s:o}}", "backup", "id", b.id, "name",
	                    wire_string_or_null(b.name), "links", backup_links(r, b.id)));
	log_info("backup %s imported (objects of %s in project %s)", b.id, b.data_id, b.project_id);
out:
	json_decref(rec);
	free(raw);
	jparse_release(f_record, JCOUNT(f_record), &q);
}

/* ---- actions ---- */

struct bk_status {
	char *status;
};

static const struct jfield f_status[] = {
    {"status", J_STR, JF(struct bk_status, status), 0, 32, 1, 0},
};

/* os-reset_status (admins): available or error, as Cinder allows. */
static void bk_reset_status(struct req *r, struct resp *w, const json_t *arg)
{
	char err[512];
	struct bk_status a = {0};
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow backup:backup-reset_status to be performed.");
		return;
	}
	if (!json_is_object(arg) ||
	    jparse(arg, f_status, JCOUNT(f_status), &a, err, sizeof(err)) < 0 ||
	    (strcmp(a.status, "available") && strcmp(a.status, "error"))) {
		jparse_release(f_status, JCOUNT(f_status), &a);
		resp_error(r, w, 400, "Invalid input received: Must specify a valid status");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_backups SET status = $2, updated_at = now() WHERE id = $1",
	            r->params[1], a.status);
	jparse_release(f_status, JCOUNT(f_status), &a);
	wire_answer_rows(r, w, n, err, 202, "Backup %s could not be found.", r->params[1]);
}

static void bk_force_delete(struct req *r, struct resp *w, const json_t *arg)
{
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403, "Policy doesn't allow backup:force_delete to be performed.");
		return;
	}
	backup_delete_common(r, w, 1);
}

static const struct volume_action bk_actions[] = {
    {"os-reset_status", bk_reset_status},
    {"os-force_delete", bk_force_delete},
};

static void backup_action(struct req *r, struct resp *w)
{
	const char *verb = volume_action_verb(r, w);
	if (!verb ||
	    volume_action_run(r, w, verb, bk_actions, sizeof(bk_actions) / sizeof(bk_actions[0])))
		return;
	resp_error(r, w, 400, "There is no such action: %.64s", verb);
}

#define V "/volume/v3/{}"
static const struct httpd_route backup_rows[] = {
    {"GET", V "/backups", backups_list, POL_VOLUME_READ, 0},
    {"GET", V "/backups/detail", backups_detail, POL_VOLUME_READ, 0},
    {"POST", V "/backups/import_record", backup_import, POL_VOLUME_WRITE, 0},
    {"GET", V "/backups/{}/export_record", backup_export, POL_VOLUME_READ, 0},
    {"POST", V "/backups", backup_create, POL_VOLUME_WRITE, 0},
    {"GET", V "/backups/{}", backup_show, POL_VOLUME_READ, 0},
    {"PUT", V "/backups/{}", backup_update, POL_VOLUME_WRITE, 0},
    {"DELETE", V "/backups/{}", backup_delete, POL_VOLUME_WRITE, 0},
    {"POST", V "/backups/{}/restore", backup_restore, POL_VOLUME_WRITE, 0},
    {"POST", V "/backups/{}/action", backup_action, POL_VOLUME_WRITE, 0},
};
HTTPD_TABLE(volume_backup_routes, backup_rows, &volume_hooks);

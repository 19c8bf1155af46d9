/* Block Storage v3 quotas and limits: the project's limits and usage, global and per
 * volume type (Cinder's volumes_<type>, gigabytes_<type>, snapshots_<type>), and
 * vquota_reserve, which every quota-consuming write calls under the project row lock;
 * os-quota-sets (show with or without usage, defaults, update and reset by admins) and
 * /limits (the absolute limits Cinder reports, no per-type ones). Backups and
 * backup_gigabytes are enforced by volume_backup.c under the same lock. Groups and
 * per_volume_gigabytes are kept and reported (Cinder's defaults when unset) but nothing
 * consumes or enforces them yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

/* What Cinder lists beside ours, with its defaults (backups: volume_backup.c). */
static const struct {
	const char *name;
	long def;
} unused_quotas[] = {
    {"backups", 10},
    {"backup_gigabytes", 1000},
    {"groups", 10},
    {"per_volume_gigabytes", -1},
};

/* The volume types (all when $2 is '', else the one of id $2) by name, with project $1's
 * usage of each: id, name, volumes, gigabytes (its volumes' and their snapshots'), the
 * snapshots of its volumes. */
#define TYPE_USAGE_SQL                                                                             \
	"SELECT t.id, t.name, (SELECT count(*) FROM volumes v WHERE v.project_id = $1 AND"         \
	" v.type_id = t.id), (SELECT coalesce(sum(greatest(v.size_gb, coalesce(v.new_size_gb,"     \
	" 0))), 0) FROM volumes v WHERE v.project_id = $1 AND v.type_id = t.id) + (SELECT"         \
	" coalesce(sum(s.size_gb), 0) FROM volume_snapshots s JOIN volumes v ON v.id ="            \
	" s.volume_id WHERE s.project_id = $1 AND v.type_id = t.id), (SELECT count(*) FROM"        \
	" volume_snapshots s JOIN volumes v ON v.id = s.volume_id WHERE s.project_id = $1 AND"     \
	" v.type_id = t.id) FROM volume_types t WHERE $2 = '' OR t.id = $2 ORDER BY t.name"

/* The limits of type (NULL: the global ones) set by rows ((resource, hard_limit), a later
 * row overriding an earlier) over out. */
static void limits_from_rows(const PGresult *rows, const char *type, struct vquota_set *out)
{
	for (int i = 0; rows && i < PQntuples(rows); i++) {
		const char *t;
		int q = vquota_parse(db_val(rows, i, 0), &t);
		if (q >= 0 && (t && type ? !strcmp(t, type) : t == type))
			out->v[q] = db_long(rows, i, 1, -1);
	}
}

int vquota_limits(PGconn *db, const char *project_id, const char *type, struct vquota_set *out)
{
	char err[256];
	if (type)
		*out = (struct vquota_set){{-1, -1, -1}};
	else
		vquota_defaults(out);
	PGresult *res = DBQ(db, err, sizeof err, VQUOTA_LIMITS_SQL, project_id);
	if (!res)
		return -EIO;
	limits_from_rows(res, type, out);
	PQclear(res);
	return 0;
}

int vquota_usage(PGconn *db, const char *project_id, const char *type_id, struct vquota_set *out,
                 char type_name[VQUOTA_NAME_MAX])
{
	char err[256];
	PGresult *res =
	    type_id ? DBQ(db, err, sizeof err, TYPE_USAGE_SQL, project_id, type_id)
	            : DBQ(db, err, sizeof err,
	                  "SELECT '', '', (SELECT count(*) FROM volumes WHERE project_id = $1),"
	                  " (SELECT coalesce(sum(greatest(size_gb, coalesce(new_size_gb, 0))), 0)"
	                  " FROM volumes WHERE project_id = $1) + (SELECT coalesce(sum(size_gb), 0)"
	                  " FROM volume_snapshots WHERE project_id = $1), (SELECT count(*) FROM"
	                  " volume_snapshots WHERE project_id = $1)",
	                  project_id);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return -ENOENT;
	}
	out->v[VQ_VOLUMES] = db_long(res, 0, 2, 0);
	out->v[VQ_GIGABYTES] = db_long(res, 0, 3, 0);
	out->v[VQ_SNAPSHOTS] = db_long(res, 0, 4, 0);
	if (type_name)
		snprintf(type_name, VQUOTA_NAME_MAX, "%s", db_val(res, 0, 1));
	PQclear(res);
	return 0;
}

int vquota_reserve(struct req *r, struct resp *w, const char *project_id, const char *type_id,
                   const struct vquota_set *want, const struct vquota_set *typed_want)
{
	char err[512], msg[VQUOTA_NAME_MAX + 256], type[VQUOTA_NAME_MAX] = "";
	const char *pid = project_id ? project_id : r->ctx->auth.project_id;
	/* the type first (the order volume create takes them in): a rename, which moves its
	 * quota rows to the new name, waits until this reservation is over (review s11 L1) */
	if (type_id && DBX(r->ctx->db, err, sizeof err,
	                   "SELECT 1 FROM volume_types WHERE id = $1 FOR SHARE", type_id) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int locked = DBX(r->ctx->db, err, sizeof err,
	                 "SELECT id FROM projects WHERE id = $1 FOR UPDATE", pid);
	if (locked != 1) {
		if (locked < 0)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, 400, "project %s does not exist", pid);
		return -EIO;
	}
	struct vquota_scope all = {.want = *want},
	                    typed = {.want = typed_want ? *typed_want : *want};
	int rc = vquota_limits(r->ctx->db, pid, NULL, &all.limit);
	if (!rc)
		rc = vquota_usage(r->ctx->db, pid, NULL, &all.used, NULL);
	if (!rc && type_id)
		rc = vquota_usage(r->ctx->db, pid, type_id, &typed.used, type);
	if (!rc && type_id)
		rc = vquota_limits(r->ctx->db, pid, type, &typed.limit);
	if (rc == -ENOENT) {
		resp_error(r, w, 404, "Volume type %s could not be found.", type_id);
		return rc;
	}
	if (rc < 0) {
		resp_db_error(r, w, "quota lookup failed");
		return rc;
	}
	if (vquota_check(&all, type_id ? &typed : NULL, type_id ? type : NULL, msg, sizeof(msg)) <
	    0) {
		resp_error(r, w, 413, "%s", msg);
		return -EDQUOT;
	}
	return 0;
}

int vquota_type_key(PGconn *db, const char *key)
{
	char err[256];
	const char *type;
	if (vquota_parse(key, &type) < 0 || !type)
		return 0;
	/* held until the caller's transaction ends: a delete of the type, which removes its
	 * quota rows, waits for the rows this caller writes (review s11 L2) */
	int found =
	    DBX(db, err, sizeof err, "SELECT 1 FROM volume_types WHERE name = $1 FOR SHARE", type);
	return found < 0 ? -EIO : found == 1;
}

int vquota_type_rename(PGconn *db, const char *from, const char *to, char *err, size_t errlen)
{
	static const char *const tables[] = {"quotas", "volume_quota_classes"};
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		char *drop = xasprintf("DELETE FROM %s WHERE resource IN ('volumes_' || $1,"
		                       " 'gigabytes_' || $1, 'snapshots_' || $1)",
		                       tables[i]);
		char *move = xasprintf("UPDATE %s SET resource = substring(resource from"
		                       " '^[a-z]+_') || $2 WHERE resource IN ('volumes_' || $1,"
		                       " 'gigabytes_' || $1, 'snapshots_' || $1)",
		                       tables[i]);
		/* a renaming first drops what the new name may have left behind */
		int rc = to ? DBX(db, err, errlen, drop, to) : 0;
		if (rc >= 0)
			rc = to ? DBX(db, err, errlen, move, from, to)
			        : DBX(db, err, errlen, drop, from);
		free(drop);
		free(move);
		if (rc < 0)
			return -EIO;
	}
	return 0;
}

int vquota_types_view(PGconn *db, json_t *q, const PGresult *rows, const char *project_id)
{
	char err[256], name[VQUOTA_NAME_MAX];
	PGresult *res = DBQ(db, err, sizeof err, TYPE_USAGE_SQL, project_id ? project_id : "", "");
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		struct vquota_set lim = {{-1, -1, -1}};
		limits_from_rows(rows, db_val(res, i, 1), &lim);
		for (int k = 0; k < VQ_COUNT; k++) {
			if (vquota_resource((enum vquota)k, db_val(res, i, 1), name, sizeof(name)) <
			    0)
				continue;
			json_object_set_new(q, name,
			                    project_id
			                        ? json_pack("{s:I,s:I,s:i,s:i}", "limit",
			                                    (json_int_t)lim.v[k], "in_use",
			                                    (json_int_t)db_long(res, i, 2 + k, 0),
			                                    "reserved", 0, "allocated", 0)
			                        : json_integer(lim.v[k]));
		}
	}
	PQclear(res);
	return 0;
}

static int quota_target_ok(struct req *r, struct resp *w)
{
	if (!strcmp(r->params[1], r->ctx->auth.project_id) || policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 403, "Policy doesn't allow volume_extension:quotas:show to be performed.");
	return -EACCES;
}

#define N_UNUSED (sizeof(unused_quotas) / sizeof(unused_quotas[0]))

/* One entry of a quota set: the limit, or with usage Cinder's usage object. */
static json_t *quota_entry(long limit, long in_use, int usage)
{
	return usage ? json_pack("{s:I,s:I,s:i,s:i}", "limit", (json_int_t)limit, "in_use",
	                         (json_int_t)in_use, "reserved", 0, "allocated", 0)
	             : json_integer(limit);
}

/* project's quota set as Cinder lists it: the global quotas, those of every volume type
 * and the ones nothing consumes, each with its usage when usage. New object, or NULL on
 * a database error. */
static json_t *quota_set_view(PGconn *db, const char *project, int usage)
{
	char err[256];
	struct vquota_set lim, used = {{0, 0, 0}};
	long unused[N_UNUSED], unused_in_use[N_UNUSED] = {0};
	json_t *q = NULL;
	PGresult *rows = DBQ(db, err, sizeof err, VQUOTA_LIMITS_SQL, project);
	if (!rows)
		return NULL;
	vquota_defaults(&lim);
	limits_from_rows(rows, NULL, &lim);
	for (size_t i = 0; i < N_UNUSED; i++) {
		unused[i] = unused_quotas[i].def;
		for (int r = 0; r < PQntuples(rows); r++)
			if (!strcmp(db_val(rows, r, 0), unused_quotas[i].name))
				unused[i] = db_long(rows, r, 1, -1);
	}
	if (usage && (vquota_usage(db, project, NULL, &used, NULL) < 0 ||
	              backup_usage(db, project, &unused_in_use[0], &unused_in_use[1]) < 0))
		goto out;
	q = json_pack("{s:s}", "id", project);
	for (int i = 0; i < VQ_COUNT; i++)
		json_object_set_new(q, vquota_name((enum vquota)i),
		                    quota_entry(lim.v[i], used.v[i], usage));
	for (size_t i = 0; i < N_UNUSED; i++)
		json_object_set_new(q, unused_quotas[i].name,
		                    quota_entry(unused[i], unused_in_use[i], usage));
	if (vquota_types_view(db, q, rows, usage ? project : NULL) < 0) {
		json_decref(q);
		q = NULL;
	}
out:
	PQclear(rows);
	return q;
}

static void quota_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0 || quota_target_ok(r, w) < 0)
		return;
	int usage = wire_bool(req_query(r, "usage"));
	if (usage == -EINVAL) {
		resp_error(r, w, 400, "Invalid value '%s' for usage.", req_query(r, "usage"));
		return;
	}
	json_t *q = quota_set_view(r->ctx->db, r->params[1], usage == 1);
	if (!q) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "quota_set", q));
}

static void quota_defaults_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	json_t *q = vquota_class_view(r->ctx->db, "default");
	if (!q) {
		resp_db_error(r, w, "quota class lookup failed");
		return;
	}
	json_object_set_new(q, "id", json_string(r->params[1]));
	resp_json(w, 200, json_pack("{s:o}", "quota_set", q));
}

/* 1 when key names a quota a project may set: a global one, one nothing consumes, or one
 * of an existing volume type (Cinder's VolumeTypeQuotaEngine resources); 0; -EIO. */
static int quota_key_ok(PGconn *db, const char *key)
{
	const char *type;
	if (vquota_parse(key, &type) >= 0 && !type)
		return 1;
	for (size_t i = 0; i < N_UNUSED; i++)
		if (!strcmp(key, unused_quotas[i].name))
			return 1;
	return vquota_type_key(db, key);
}

/* 1 when key of a quota set names the project: cinderclient sends it; Cinder ignores it. */
static int project_key(const char *key)
{
	return !strcmp(key, "tenant_id") || !strcmp(key, "id");
}

long vquota_limit_value(const json_t *v)
{
	if (json_is_string(v) && !strcmp(json_string_value(v), "-1"))
		return -1;
	return json_is_integer(v)  ? (long)json_integer_value(v)
	       : json_is_string(v) ? wire_nonneg(json_string_value(v))
	                           : -2;
}

static void quota_update(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	json_t *qs = json_object_get(r->json, "quota_set");
	if (!json_is_object(qs) || json_object_size(qs) > 64) {
		resp_error(r, w, 400, "Missing required element 'quota_set' in request body.");
		return;
	}
	const char *key;
	json_t *v;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	/* all checked before any is written, in the transaction that writes them (a type's
	 * key holds the type) */
	json_object_foreach(qs, key, v)
	{
		if (project_key(key))
			continue;
		int ours = quota_key_ok(r->ctx->db, key);
		long n = vquota_limit_value(v);
		if (ours < 0)
			resp_db_error(r, w, "quota key lookup failed");
		else if (!ours)
			resp_error(r, w, 400,
			           "Invalid input received: Bad key(s) in quota set: %.64s", key);
		else if (n < -1 || n > 1000000000L)
			resp_error(r, w, 400,
			           "Invalid input received: Quota limit for %s must be an "
			           "integer -1 or greater.",
			           key);
		else
			continue;
		db_rollback(r->ctx->db);
		return;
	}
	/* under the lock the reservations take: no limit below what is in use (Cinder's
	 * _validate_existing_resource) */
	json_t *now = NULL;
	if (DBX(r->ctx->db, err, sizeof err, "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
	        r->params[1]) < 0 ||
	    !(now = quota_set_view(r->ctx->db, r->params[1], 1))) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, "quota usage lookup failed");
		return;
	}
	json_object_foreach(qs, key, v)
	{
		if (project_key(key))
			continue;
		long n = vquota_limit_value(v);
		json_int_t used =
		    json_integer_value(json_object_get(json_object_get(now, key), "in_use"));
		if (n == -1 || !strcmp(key, "per_volume_gigabytes") || n >= used)
			continue;
		db_rollback(r->ctx->db);
		json_decref(now);
		resp_error(
		    r, w, 400,
		    "Invalid input received: Quota %s limit must be equal or greater than "
		    "existing resources. Current usage is %lld and the requested limit is %ld.",
		    key, (long long)used, n);
		return;
	}
	json_decref(now);
	json_object_foreach(qs, key, v)
	{
		char val[24];
		if (project_key(key))
			continue;
		snprintf(val, sizeof(val), "%ld", vquota_limit_value(v));
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2,"
		        " $3::bigint) ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit ="
		        " EXCLUDED.hard_limit",
		        r->params[1], key, val) < 0) {
			db_rollback(r->ctx->db);
			resp_db_error(r, w, err);
			return;
		}
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return;
	}
	json_t *view = quota_set_view(r->ctx->db, r->params[1], 0);
	if (!view) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	json_object_del(view, "id");
	resp_json(w, 200, json_pack("{s:o}", "quota_set", view));
}

static void quota_reset(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM quotas WHERE project_id = $1 AND (resource IN ('volumes',"
	            " 'gigabytes', 'snapshots', 'backups', 'backup_gigabytes', 'groups',"
	            " 'per_volume_gigabytes') OR resource ~ '^(volumes|gigabytes|snapshots)_.')",
	            r->params[1]);
	if (n < 0) {
		resp_db_error(r, w, err);
		return;
	}
	resp_empty(w, 200);
}

static void limits_show(struct req *r, struct resp *w)
{
	struct vquota_set lim, used;
	if (volume_project_check(r, w) < 0)
		return;
	if (vquota_limits(r->ctx->db, r->ctx->auth.project_id, NULL, &lim) < 0 ||
	    vquota_usage(r->ctx->db, r->ctx->auth.project_id, NULL, &used, NULL) < 0) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:{s:[],s:{s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:i}}}", "limits",
	                    "rate", "absolute", "maxTotalVolumes", (json_int_t)lim.v[VQ_VOLUMES],
	                    "maxTotalSnapshots", (json_int_t)lim.v[VQ_SNAPSHOTS],
	                    "maxTotalVolumeGigabytes", (json_int_t)lim.v[VQ_GIGABYTES],
	                    "totalVolumesUsed", (json_int_t)used.v[VQ_VOLUMES],
	                    "totalSnapshotsUsed", (json_int_t)used.v[VQ_SNAPSHOTS],
	                    "totalGigabytesUsed", (json_int_t)used.v[VQ_GIGABYTES],
	                    "maxTotalBackups", 10, "maxTotalBackupGigabytes", 1000,
	                    "totalBackupsUsed", 0, "totalBackupGigabytesUsed", 0));
}

#define V "/volume/v3/{}"
static const struct httpd_route quota_rows[] = {
    {"GET", V "/os-quota-sets/{}", quota_show, POL_VOLUME_READ, 0},
    {"GET", V "/os-quota-sets/{}/defaults", quota_defaults_show, POL_VOLUME_READ, 0},
    {"PUT", V "/os-quota-sets/{}", quota_update, POL_VOLUME_ADMIN, 0},
    {"DELETE", V "/os-quota-sets/{}", quota_reset, POL_VOLUME_ADMIN, 0},
    {"GET", V "/limits", limits_show, POL_VOLUME_READ, 0},
};
HTTPD_TABLE(volume_quota_routes, quota_rows, &volume_hooks);

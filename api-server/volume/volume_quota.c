/* Block Storage v3 quotas and limits: os-quota-sets (show with or without usage,
 * defaults, update and reset by admins), /limits (the absolute limits Cinder reports)
 * and os-availability-zone. Enforcement is vquota_reserve (volume.c) under the
 * project row lock; backups and backup_gigabytes by volume_backup.c under the same lock.
 * Groups and per_volume_gigabytes are kept and reported (Cinder's defaults when unset)
 * but nothing consumes or enforces them yet. */
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

static int quota_target_ok(struct req *r, struct resp *w)
{
	if (!strcmp(r->params[1], r->ctx->auth.project_id) || policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 403, "Policy doesn't allow volume_extension:quotas:show to be performed.");
	return -EACCES;
}

#define N_UNUSED (sizeof(unused_quotas) / sizeof(unused_quotas[0]))

/* The limits set for the quotas nothing consumes (their defaults when unset). */
static void unused_limits(PGconn *db, const char *project, long out[N_UNUSED])
{
	char err[256];
	for (size_t i = 0; i < N_UNUSED; i++)
		out[i] = unused_quotas[i].def;
	PGresult *res = DBQ(db, err, sizeof err, VQUOTA_LIMITS_SQL, project ? project : "");
	for (int r = 0; res && r < PQntuples(res); r++)
		for (size_t i = 0; i < N_UNUSED; i++)
			if (!strcmp(db_val(res, r, 0), unused_quotas[i].name))
				out[i] = db_long(res, r, 1, -1);
	PQclear(res);
}

static json_t *quota_set_view(const char *project, const struct vquota_set *lim,
                              const struct vquota_set *used, const long *unused,
                              const long *unused_in_use)
{
	json_t *q = json_pack("{s:s}", "id", project);
	for (int i = 0; i < VQ_COUNT; i++)
		json_object_set_new(
		    q, vquota_name((enum vquota)i),
		    used ? json_pack("{s:I,s:I,s:i,s:i}", "limit", (json_int_t)lim->v[i], "in_use",
		                     (json_int_t)used->v[i], "reserved", 0, "allocated", 0)
		         : json_integer(lim->v[i]));
	for (size_t i = 0; i < sizeof(unused_quotas) / sizeof(unused_quotas[0]); i++)
		json_object_set_new(
		    q, unused_quotas[i].name,
		    used ? json_pack("{s:I,s:I,s:i,s:i}", "limit", (json_int_t)unused[i], "in_use",
		                     (json_int_t)unused_in_use[i], "reserved", 0, "allocated", 0)
		         : json_integer(unused[i]));
	return q;
}

static void quota_show(struct req *r, struct resp *w)
{
	struct vquota_set lim, used;
	long unused[N_UNUSED];
	if (volume_project_check(r, w) < 0 || quota_target_ok(r, w) < 0)
		return;
	int usage = wire_bool(req_query(r, "usage"));
	if (usage == -EINVAL) {
		resp_error(r, w, 400, "Invalid value '%s' for usage.", req_query(r, "usage"));
		return;
	}
	long in_use[N_UNUSED] = {0};
	unused_limits(r->ctx->db, r->params[1], unused);
	if (vquota_limits(r->ctx->db, r->params[1], &lim) < 0 ||
	    (usage == 1 && (vquota_usage(r->ctx->db, r->params[1], &used) < 0 ||
	                    backup_usage(r->ctx->db, r->params[1], &in_use[0], &in_use[1]) < 0))) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:o}", "quota_set",
	                    quota_set_view(r->params[1], &lim, usage == 1 ? &used : NULL, unused,
	                                   in_use)));
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

static void quota_update(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	json_t *qs = json_object_get(r->json, "quota_set");
	if (!json_is_object(qs)) {
		resp_error(r, w, 400, "Missing required element 'quota_set' in request body.");
		return;
	}
	const char *key;
	json_t *v;
	/* all checked before any is written */
	json_object_foreach(qs, key, v)
	{
		int ours = 0;
		if (!strcmp(key, "tenant_id") || !strcmp(key, "id"))
			continue; /* cinderclient sends the project; Cinder ignores it */
		for (int i = 0; i < VQ_COUNT; i++)
			ours |= !strcmp(key, vquota_name((enum vquota)i));
		for (size_t i = 0; i < N_UNUSED; i++) /* kept and shown; nothing consumes them */
			ours |= !strcmp(key, unused_quotas[i].name);
		if (!ours) {
			resp_error(r, w, 400, "Bad key(s) in quota set: %.64s", key);
			return;
		}
		long n = json_is_integer(v)  ? (long)json_integer_value(v)
		         : json_is_string(v) ? wire_nonneg(json_string_value(v))
		                             : -2;
		if (json_is_string(v) && !strcmp(json_string_value(v), "-1"))
			n = -1;
		if (n < -1 || n > 1000000000L) {
			resp_error(r, w, 400,
			           "Invalid input received: Quota limit for %s must be an "
			           "integer -1 or greater.",
			           key);
			return;
		}
	}
	json_object_foreach(qs, key, v)
	{
		char val[24];
		if (!strcmp(key, "tenant_id") || !strcmp(key, "id"))
			continue;
		snprintf(val, sizeof(val), "%ld",
		         json_is_integer(v) ? (long)json_integer_value(v)
		                            : strtol(json_string_value(v), NULL, 10));
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO quotas (project_id, resource, hard_limit) VALUES ($1, $2,"
		        " $3::bigint) ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit ="
		        " EXCLUDED.hard_limit",
		        r->params[1], key, val) < 0) {
			resp_db_error(r, w, err);
			return;
		}
	}
	struct vquota_set lim;
	if (vquota_limits(r->ctx->db, r->params[1], &lim) < 0) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	long unused[N_UNUSED];
	unused_limits(r->ctx->db, r->params[1], unused);
	json_t *view = quota_set_view(r->params[1], &lim, NULL, unused, NULL);
	json_object_del(view, "id");
	resp_json(w, 200, json_pack("{s:o}", "quota_set", view));
}

static void quota_reset(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM quotas WHERE project_id = $1 AND resource IN ('volumes',"
	            " 'gigabytes', 'snapshots', 'backups', 'backup_gigabytes', 'groups',"
	            " 'per_volume_gigabytes')",
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
	if (vquota_limits(r->ctx->db, r->ctx->auth.project_id, &lim) < 0 ||
	    vquota_usage(r->ctx->db, r->ctx->auth.project_id, &used) < 0) {
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

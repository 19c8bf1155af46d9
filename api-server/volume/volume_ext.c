/* Block Storage v3 discovery and admin views: the API extension list, the scheduler's
 * pools (scheduler-stats/get_pools) and a backend's capabilities, read from the storage
 * agents that report in the agents table; and os-quota-class-sets, Cinder's "default"
 * quota class that overrides the built-in defaults of every project (kept in
 * volume_quota_classes, migration 0018; vquota_limits reads it); and os-hosts, the
 * services' hosts and the volumes each storage host holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define VENDOR "Open Source" /* Tempest's [volume] vendor_name default */
#define PROTOCOL "nbd"       /* how a storage host exports to a compute host */
#define BACKEND "nubo"       /* volume_backend_name */
#define DRIVER_VERSION "1.0.0"

/* ---- extensions ---- */

/* The Cinder API extensions whose behaviour Nubo offers. */
static const struct {
	const char *alias, *name, *description;
} extensions[] = {
    {"os-admin-actions", "AdminActions", "Enable admin actions."},
    {"os-availability-zone", "AvailabilityZones", "Describe Availability Zones."},
    {"os-extended-snapshot-attributes", "ExtendedSnapshotAttributes",
     "Extended SnapshotAttributes support."},
    {"os-quota-class-sets", "QuotaClasses", "Quota classes management support."},
    {"os-quota-sets", "Quotas", "Quota management support."},
    {"os-types-extra-specs", "TypesExtraSpecs", "Type extra specs support."},
    {"os-types-manage", "TypesManage", "Types manage support."},
    {"os-vol-host-attr", "VolumeHostAttribute", "Expose host as an attribute of a volume."},
    {"os-vol-tenant-attr", "VolumeTenantAttribute",
     "Expose the internal project_id as an attribute of a volume."},
    {"os-volume-actions", "VolumeActions", "Enable volume actions."},
    {"os-volume-transfer", "VolumeTransfer", "Volume transfer management support."},
    {"os-volume-type-access", "VolumeTypeAccess", "Volume type access support."},
    {"qos-specs", "Qos_specs_manage", "QoS specs support."},
    {"scheduler-stats", "Scheduler_stats", "Scheduler stats support."},
    {"capabilities", "Capabilities", "Capabilities support."},
};

static void extensions_list(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	json_t *list = json_array();
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:s,s:[]}", "alias", extensions[i].alias, "name",
		                    extensions[i].name, "description", extensions[i].description,
		                    "updated", "2016-02-08T12:20:21+00:00", "links"));
	resp_json(w, 200, json_pack("{s:o}", "extensions", list));
}

/* ---- pools and capabilities ---- */

static json_t *pool_capabilities(const PGresult *res, int i)
{
	/* the agent reports its pool's free space; the total is not reported */
	return json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:b,s:s?}", "vendor_name", VENDOR, "volume_backend_name",
	    BACKEND, "storage_protocol", PROTOCOL, "driver_version", DRIVER_VERSION,
	    "total_capacity_gb", "unknown", "free_capacity_gb", (json_int_t)db_long(res, i, 1, 0),
	    "reserved_percentage", 0, "QoS_support", 0, "timestamp", db_val(res, i, 2));
}

static void pools_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int detail = wire_bool(req_query(r, "detail"));
	if (detail == -EINVAL) {
		resp_error(r, w, 400, "Invalid value '%s' for detail.", req_query(r, "detail"));
		return;
	}
	/* a storage agent's disk_gb is its pool's free space (scheduler/agents.c) */
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT host, disk_gb, " VOLUME_TS("last_seen") " FROM agents"
	                                                        " WHERE kind = $1 ORDER BY host",
	        "storage");
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		char *name = xasprintf("%s@%s#%s", db_val(res, i, 0), BACKEND, BACKEND);
		json_t *p = json_pack("{s:s}", "name", name);
		free(name);
		if (detail == 1)
			json_object_set_new(p, "capabilities", pool_capabilities(res, i));
		json_array_append_new(list, p);
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "pools", list));
}

/* GET capabilities/{host}: host as get_pools names it ("host@backend#pool"; a client
 * that puts it in a URL unescaped loses "#pool"), or the bare host. */
static void capabilities_show(struct req *r, struct resp *w)
{
	char err[512], host[256];
	if (volume_project_check(r, w) < 0)
		return;
	snprintf(host, sizeof(host), "%s", r->params[1]);
	host[strcspn(host, "@#")] = '\0';
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT host FROM agents WHERE kind = 'storage' AND host = $1", host);
	res = wire_one_row(r, w, res, err, 404, "Host %s could not be found.", r->params[1]);
	if (!res)
		return;
	PQclear(res);
	resp_json(w, 200,
	          json_pack("{s:s,s:o,s:s,s:s,s:s,s:s,s:s,s:{},s:s,s:[],s:o}", "pool_name", BACKEND,
	                    "description", json_null(), "volume_backend_name", BACKEND, "namespace",
	                    "OS::Storage::Capabilities::" BACKEND, "visibility", "public",
	                    "driver_version", DRIVER_VERSION, "vendor_name", VENDOR, "properties",
	                    "storage_protocol", PROTOCOL, "replication_targets", "display_name",
	                    json_null()));
}

/* ---- services ---- */

/* GET os-services[?host=&binary=]: each storage agent is a cinder-volume service on
 * "<host>@nubo" (the backend part of the volumes' os-vol-host-attr:host). */
static void services_list(struct req *r, struct resp *w)
{
	char err[512], host[256] = "";
	if (volume_project_check(r, w) < 0)
		return;
	const char *binary = req_query(r, "binary");
	if (req_query(r, "host")) {
		snprintf(host, sizeof(host), "%s", req_query(r, "host"));
		host[strcspn(host, "@#")] = '\0';
	}
	int volumes = !binary || !strcmp(binary, "cinder-volume");
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT host, az, state = 'up' AND last_seen > now() - interval '60"
	        " seconds', " VOLUME_TS("last_seen") " FROM agents WHERE kind = $1 AND"
	                                             " ($2 = '' OR host = $2) ORDER BY host",
	        "storage", host);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; volumes && i < PQntuples(res); i++) {
		char *h = xasprintf("%s@%s", db_val(res, i, 0), BACKEND);
		json_array_append_new(
		    list,
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:b}", "binary", "cinder-volume",
		              "host", h, "zone", db_val(res, i, 1), "status", "enabled", "state",
		              db_val(res, i, 2)[0] == 't' ? "up" : "down", "disabled_reason",
		              json_null(), "updated_at", db_val(res, i, 3), "frozen", 0));
		free(h);
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "services", list));
}

/* PUT os-services/{enable|disable|disable-log-reason|freeze|thaw}: the checks Cinder
 * makes of the named service; disabling or freezing a storage host is not offered
 * (the scheduler places by free space only), so a valid request is refused with 400. */
static void services_update(struct req *r, struct resp *w)
{
	char err[512], host[256] = "";
	static const char *const verbs[] = {"enable", "disable", "disable-log-reason",
	                                    "freeze", "thaw",    NULL};
	if (volume_project_check(r, w) < 0)
		return;
	const char *verb = r->params[1];
	int known = 0;
	for (const char *const *v = verbs; *v; v++)
		known |= !strcmp(verb, *v);
	if (!known) {
		resp_error(r, w, 404, "Unknown action %.32s", verb);
		return;
	}
	const char *h = json_string_value(json_object_get(r->json, "host"));
	const char *binary = json_string_value(json_object_get(r->json, "binary"));
	if (h) {
		snprintf(host, sizeof(host), "%s", h);
		host[strcspn(host, "@#")] = '\0';
	}
	int found = DBX(r->ctx->db, err, sizeof err,
	                "SELECT 1 FROM agents WHERE kind = 'storage' AND host = $1", host);
	if (found < 0) {
		resp_db_error(r, w, err);
		return;
	}
	int freeze = !strcmp(verb, "freeze") || !strcmp(verb, "thaw");
	if (found == 0) {
		resp_error(r, w, freeze ? 400 : 404, "Host %.64s could not be found.",
		           h ? h : "None");
		return;
	}
	if (!freeze && (!binary || strcmp(binary, "cinder-volume"))) {
		resp_error(r, w, 404, "Service %.64s could not be found.",
		           binary ? binary : "None");
		return;
	}
	if (!strcmp(verb, "disable-log-reason") &&
	    !json_string_value(json_object_get(r->json, "disabled_reason"))) {
		resp_error(r, w, 400,
		           "Invalid input received: Disabled reason contains invalid "
		           "characters or is too long");
		return;
	}
	resp_error(r, w, 400,
	           "Invalid input received: Nubo does not %s storage services; the scheduler "
	           "places volumes by free space.",
	           verb);
}

/* ---- hosts ---- */

/* GET os-hosts[?zone=]: Cinder's hosts, one per service: the live schedulers
 * (control_services' heartbeat) as cinder-scheduler on their host in zone "nova", and
 * each storage agent as cinder-volume on "<host>@nubo" in its zone. */
static void hosts_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	const char *zone = req_query(r, "zone");
	if (zone && !*zone)
		zone = NULL;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT host, service, zone, live, updated FROM (SELECT host, 'cinder-scheduler' AS"
	        " service, 'nova' AS zone, seen_at > now() - down_after_s * interval '1 second' AS"
	        " live, " VOLUME_TS(
	            "seen_at") " AS updated, 0 AS k FROM control_services WHERE"
	                       " binary_name = 'nubo-scheduler' AND seen_at > now() - down_after_s "
	                       "* interval"
	                       " '1 second' UNION ALL SELECT host || '@" BACKEND
	                       "', 'cinder-volume', az, state ="
	                       " 'up' AND last_seen > now() - interval '60 seconds', " VOLUME_TS(
	                           "last_seen") ", 1"
	                                        " FROM agents WHERE kind = 'storage') s WHERE "
	                                        "$1::text IS NULL OR zone = $1"
	                                        " ORDER BY k, host",
	        zone);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    list, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "host_name", db_val(res, i, 0),
		                    "service", db_val(res, i, 1), "zone", db_val(res, i, 2),
		                    "service-status",
		                    db_val(res, i, 3)[0] == 't' ? "available" : "unavailable",
		                    "service-state", "enabled", "last-update", db_val(res, i, 4)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "hosts", list));
}

static json_t *host_resource(const char *host, const char *project, const PGresult *res, int i)
{
	/* Cinder gives the counts and sums as strings */
	return json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s}}", "resource", "host", host, "project",
	                 project, "volume_count", db_val(res, i, 1), "total_volume_gb",
	                 db_val(res, i, 2), "snapshot_count", db_val(res, i, 3),
	                 "total_snapshot_gb", db_val(res, i, 4));
}

/* GET os-hosts/{host}: the volumes and snapshots on a cinder-volume host ("<host>@nubo"
 * or the bare host): the total first, then one entry per project. 404 for a host that
 * runs no storage agent. */
static void host_show(struct req *r, struct resp *w)
{
	char err[512], host[256];
	if (volume_project_check(r, w) < 0)
		return;
	snprintf(host, sizeof(host), "%s", r->params[1]);
	host[strcspn(host, "@#")] = '\0';
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM agents WHERE kind = 'storage' AND host = $1", host);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Host %s could not be found.", r->params[1]);
		return;
	}
	/* row 0 the total (project NULL), then each project with volumes there */
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT p, count(DISTINCT vid)::text, coalesce(sum(vsize), 0)::text,"
	        " count(sid)::text, coalesce(sum(ssize), 0)::text FROM (SELECT v.project_id AS p,"
	        " v.id AS vid, CASE WHEN row_number() OVER (PARTITION BY v.id) = 1 THEN v.size_gb"
	        " END AS vsize, s.id AS sid, s.size_gb AS ssize FROM volumes v LEFT JOIN"
	        " volume_snapshots s ON s.volume_id = v.id WHERE v.host = $1) x GROUP BY ROLLUP (p)"
	        " ORDER BY p IS NOT NULL, p",
	        host);
	if (!res || PQntuples(res) < 1) {
		resp_db_error(r, w, res ? "no total row" : err);
		PQclear(res);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    list, host_resource(r->params[1], i ? db_val(res, i, 0) : "(total)", res, i));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "host", list));
}

/* ---- quota classes ---- */

/* The built-in defaults Cinder lists overlaid with the class's rows, and the quotas of
 * every volume type (-1 unless the class sets them). NULL on a database error. */
json_t *vquota_class_view(PGconn *db, const char *class_name)
{
	static const struct {
		const char *name;
		long def;
	} defaults[] = {
	    {"volumes", 10},
	    {"gigabytes", 1000},
	    {"snapshots", 10},
	    {"backups", 10},
	    {"backup_gigabytes", 1000},
	    {"groups", 10},
	    {"per_volume_gigabytes", -1},
	};
	char err[256];
	PGresult *res = DBQ(db, err, sizeof err,
	                    "SELECT resource, hard_limit FROM volume_quota_classes WHERE"
	                    " class_name = $1 ORDER BY resource",
	                    class_name);
	if (!res)
		return NULL;
	json_t *q = json_object();
	for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
		json_object_set_new(q, defaults[i].name, json_integer(defaults[i].def));
	for (int i = 0; i < PQntuples(res); i++) {
		const char *type;
		if (vquota_parse(db_val(res, i, 0), &type) < 0 || !type)
			json_object_set_new(q, db_val(res, i, 0),
			                    json_integer(db_long(res, i, 1, -1)));
	}
	if (vquota_types_view(db, q, res, NULL) < 0) {
		json_decref(q);
		q = NULL;
	}
	PQclear(res);
	return q;
}

static void quota_class_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	json_t *q = vquota_class_view(r->ctx->db, r->params[1]);
	if (!q) {
		resp_db_error(r, w, "quota class lookup failed");
		return;
	}
	json_object_set_new(q, "id", json_string(r->params[1]));
	resp_json(w, 200, json_pack("{s:o}", "quota_class_set", q));
}

/* 1 when key names a quota a class may set: Cinder's resources, or volumes_, gigabytes_
 * or snapshots_ of an existing volume type; 0 when not; -EIO. */
static int quota_class_key_ok(struct req *r, const char *key)
{
	static const char *const plain[] = {"volumes",          "gigabytes", "snapshots",
	                                    "backups",          "groups",    "per_volume_gigabytes",
	                                    "backup_gigabytes", NULL};
	for (const char *const *p = plain; *p; p++)
		if (!strcmp(key, *p))
			return 1;
	return vquota_type_key(r->ctx->db, key);
}

static void quota_class_update(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	json_t *qs = json_object_get(r->json, "quota_class_set");
	if (!json_is_object(qs) || json_object_size(qs) > 64) {
		resp_error(r, w, 400,
		           "Missing required element 'quota_class_set' in request body.");
		return;
	}
	if (strlen(r->params[1]) > 255) {
		resp_error(r, w, 400, "Invalid quota class name.");
		return;
	}
	const char *key;
	json_t *v;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	/* checked in the transaction that writes them: a type's key holds the type */
	json_object_foreach(qs, key, v)
	{
		if (!strcmp(key, "class_name") || !strcmp(key, "id"))
			continue;
		int ok = quota_class_key_ok(r, key);
		long n = vquota_limit_value(v);
		if (ok < 0)
			resp_db_error(r, w, "quota class key lookup failed");
		else if (!ok)
			resp_error(r, w, 400,
			           "Invalid input received: Bad key(s) in quota class set: %.64s",
			           key);
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
	json_object_foreach(qs, key, v)
	{
		char val[24];
		if (!strcmp(key, "class_name") || !strcmp(key, "id"))
			continue;
		snprintf(val, sizeof(val), "%ld",
		         json_is_integer(v) ? (long)json_integer_value(v)
		                            : strtol(json_string_value(v), NULL, 10));
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO volume_quota_classes (class_name, resource, hard_limit) VALUES"
		        " ($1, $2, $3::bigint) ON CONFLICT (class_name, resource) DO UPDATE SET"
		        " hard_limit = EXCLUDED.hard_limit",
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
	json_t *q = vquota_class_view(r->ctx->db, r->params[1]);
	if (!q) {
		resp_db_error(r, w, "quota class lookup failed");
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "quota_class_set", q));
}

#define V "/volume/v3/{}"
static const struct httpd_route ext_rows[] = {
    {"GET", V "/extensions", extensions_list, POL_VOLUME_READ, 0},
    {"GET", V "/scheduler-stats/get_pools", pools_list, POL_VOLUME_ADMIN, 0},
    {"GET", V "/capabilities/{}", capabilities_show, POL_VOLUME_ADMIN, 0},
    {"GET", V "/os-services", services_list, POL_VOLUME_ADMIN, 0},
    {"PUT", V "/os-services/{}", services_update, POL_VOLUME_ADMIN, 0},
    {"GET", V "/os-quota-class-sets/{}", quota_class_show, POL_VOLUME_ADMIN, 0},
    {"GET", V "/os-hosts", hosts_list, POL_VOLUME_ADMIN, 0},
    {"GET", V "/os-hosts/{}", host_show, POL_VOLUME_ADMIN, 0},
    {"PUT", V "/os-quota-class-sets/{}", quota_class_update, POL_VOLUME_ADMIN, 0},
};
HTTPD_TABLE(volume_ext_routes, ext_rows, &volume_hooks);

/* os-hosts (deprecated by Nova at 2.43; 404 from there on): the hosts of the cloud
 * with the service each runs and its zone (compute agents in their zone, the
 * scheduler in "internal"), a compute host's resources per project, and the host
 * power and maintenance calls, which Nubo does not offer (501, as Nova answers for a
 * virt driver without them). A scheduler is listed while its heartbeat is fresh
 * (control_services.seen_at), so one that moved or stopped goes. Admin only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "routes.h"
#include "wire.h"

#define HOSTS_UNTIL 43 /* the first microversion without os-hosts */

/* 0 while the version has os-hosts; else answers 404 and returns -ENOENT. */
static int hosts_version(struct req *r, struct resp *w)
{
	if (r->ctx->mv_minor < HOSTS_UNTIL)
		return 0;
	resp_error(r, w, 404, "The resource could not be found.");
	return -ENOENT;
}

static void hosts_list(struct req *r, struct resp *w)
{
	char err[256];
	if (hosts_version(r, w) < 0)
		return;
	const char *zone = req_query(r, "zone");
	if (zone && !*zone)
		zone = NULL; /* a blank zone lists every host, as Nova */
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT host, service, zone FROM (SELECT host, 'compute' AS service,"
	                    " az AS zone, 0 AS k FROM compute_host_zones UNION ALL SELECT host,"
	                    " 'scheduler', 'internal', 1 FROM control_services WHERE binary_name ="
	                    " 'nubo-scheduler' AND seen_at > now() - down_after_s * interval"
	                    " '1 second') s WHERE $1::text IS NULL OR zone = $1"
	                    " ORDER BY k, host",
	                    zone);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, json_pack("{s:s,s:s,s:s}", "host_name", db_val(res, i, 0),
		                                   "service", db_val(res, i, 1), "zone",
		                                   db_val(res, i, 2)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "hosts", a));
}

/* 0 when host is a compute host; else answers 404 (or 500) and returns -ENOENT. */
static int host_known(struct req *r, struct resp *w, const char *host)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM agents WHERE host = $1 AND kind = 'compute'", host);
	if (n > 0)
		return 0;
	wire_answer_rows(r, w, n, err, 200, "Compute host %s could not be found.", host);
	return -ENOENT;
}

static json_t *resource(const char *host, const char *project, const char *cpu, const char *ram,
                        const char *disk)
{
	return json_pack("{s:{s:s,s:s,s:I,s:I,s:I}}", "resource", "host", host, "project", project,
	                 "cpu", (json_int_t)atol(cpu), "memory_mb", (json_int_t)atol(ram),
	                 "disk_gb", (json_int_t)atol(disk));
}

static void hosts_show(struct req *r, struct resp *w)
{
	char err[256];
	const char *host = r->params[0];
	if (hosts_version(r, w) < 0 || host_known(r, w, host) < 0)
		return;
	/* row 0: the host's capacity; then one row per project with instances there
	 * (project NULL: the sum over all of them) */
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT NULL::text, vcpus, ram_mb, disk_gb, 0 AS k FROM agents WHERE"
	        " host = $1 UNION ALL SELECT project_id, coalesce(sum(vcpus), 0),"
	        " coalesce(sum(ram_mb), 0), coalesce(sum(disk_gb), 0), CASE WHEN project_id IS "
	        "NULL THEN 1 ELSE 2 END FROM"
	        " instances WHERE host = $1 AND NOT deleted GROUP BY ROLLUP (project_id)"
	        " ORDER BY 5, 1",
	        host);
	if (!res || PQntuples(res) < 1) {
		resp_db_error(r, w, res ? "host vanished" : err);
		PQclear(res);
		return;
	}
	json_t *a = json_array();
	json_array_append_new(
	    a, resource(host, "(total)", db_val(res, 0, 1), db_val(res, 0, 2), db_val(res, 0, 3)));
	/* the sum row: what runs now, and the most it may take (the same without
	 * overcommit reservations) */
	int sum = PQntuples(res) > 1 && db_long(res, 1, 4, 0) == 1 ? 1 : 0;
	const char *cpu = sum ? db_val(res, 1, 1) : "0", *ram = sum ? db_val(res, 1, 2) : "0",
	           *disk = sum ? db_val(res, 1, 3) : "0";
	json_array_append_new(a, resource(host, "(used_now)", cpu, ram, disk));
	json_array_append_new(a, resource(host, "(used_max)", cpu, ram, disk));
	for (int i = 1 + sum; i < PQntuples(res); i++)
		json_array_append_new(a, resource(host, db_val(res, i, 0), db_val(res, i, 1),
		                                  db_val(res, i, 2), db_val(res, i, 3)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "host", a));
}

/* 1 when v is one of Nova's words for the two states ("enable"/"disable" in lower,
 * title or upper case). */
static int enable_word(const json_t *v)
{
	static const char *const words[] = {"enable",  "disable", "Enable",
	                                    "Disable", "ENABLE",  "DISABLE"};
	if (!json_is_string(v))
		return 0;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(json_string_value(v), words[i]))
			return 1;
	return 0;
}

/* PUT /os-hosts/{host} {"status"?, "maintenance_mode"?}: validated as Nova does;
 * Nubo cannot disable a host or put it in maintenance, so a valid request is 501. */
static void hosts_update(struct req *r, struct resp *w)
{
	char err[160];
	static const char *const keys[] = {"status", "maintenance_mode", NULL};
	if (hosts_version(r, w) < 0)
		return;
	json_t *st = json_object_get(r->json, "status");
	json_t *mm = json_object_get(r->json, "maintenance_mode");
	if (!json_is_object(r->json) ||
	    jparse_known(r->json, NULL, 0, keys, err, sizeof(err)) < 0 || (!st && !mm) ||
	    (st && !enable_word(st)) || (mm && !enable_word(mm))) {
		resp_error(r, w, 400, "Invalid input for field/attribute %s.",
		           st && !enable_word(st)   ? "status"
		           : mm && !enable_word(mm) ? "maintenance_mode"
		                                    : "body");
		return;
	}
	if (host_known(r, w, r->params[0]) < 0)
		return;
	resp_error(r, w, 501, "Virt driver does not implement host %s.",
	           mm ? "maintenance mode" : "disabled status");
}

/* GET /os-hosts/{host}/{startup,shutdown,reboot}: not offered. */
static void hosts_power(struct req *r, struct resp *w)
{
	if (hosts_version(r, w) < 0 || host_known(r, w, r->params[0]) < 0)
		return;
	resp_error(r, w, 501, "Virt driver does not implement host power management.");
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/os-hosts", hosts_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hosts/{}", hosts_show, POL_COMPUTE_ADMIN, 0},
    {"PUT", C "/os-hosts/{}", hosts_update, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hosts/{}/startup", hosts_power, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hosts/{}/shutdown", hosts_power, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hosts/{}/reboot", hosts_power, POL_COMPUTE_ADMIN, 0},
};
HTTPD_TABLE(os_host_routes, routes, &compute_hooks);

/* The smaller Compute v2.1 resources: limits, availability zones, hypervisors and
 * services (both views of the agents table), simple tenant
 * usage, and the route rows of os-quota-sets (handlers in quota_sets.c). An agent counts as up
 * while the scheduler says so and its last heartbeat is younger than [scheduler] agent_timeout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy.h"
#include "quota.h"
#include "compute/compute_admin.h"
#include "compute/quota_sets.h"
#include "compute/server.h"
#include "routes.h"
#include "usage/usage.h"
#include "wire.h"
#include "xalloc.h"

/* "up" in SQL: $1 is the agent timeout in seconds. */
#define AGENT_UP "(state = 'up' AND last_seen > now() - $1::int * interval '1 second')"

static void agent_timeout(const struct req *r, char out[16])
{
	snprintf(out, 16, "%ld",
	         conf_get_long(r->ctx->api->conf, "scheduler", "agent_timeout", 30));
}

/* ---- limits ---- */

static void limits_show(struct req *r, struct resp *w)
{
	struct quota_set lim, used;
	const char *pid = r->ctx->auth.project_id;
	const char *tenant = req_query(r, "tenant_id");
	if (tenant && strcmp(tenant, pid)) {
		if (!policy_is_admin(&r->ctx->auth)) {
			resp_error(r, w, 403,
			           "Policy doesn't allow os_compute_api:limits:other_project "
			           "to be performed.");
			return;
		}
		pid = tenant;
	}
	if (quota_limits(r->ctx->db, pid, &lim) < 0 || quota_usage(r->ctx->db, pid, &used) < 0) {
		resp_db_error(r, w, "quota lookup failed");
		return;
	}
	/* Nova's fixed 2.1 absolute limits beside the enforced ones; nothing counts
	 * floating IPs, security groups or server groups here yet. The network limits
	 * leave at 2.36, maxImageMeta at 2.39, the personality limits at 2.57. */
	json_t *abs = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i,s:i}",
	    "maxTotalInstances", (json_int_t)lim.v[QUOTA_INSTANCES], "maxTotalCores",
	    (json_int_t)lim.v[QUOTA_CORES], "maxTotalRAMSize", (json_int_t)lim.v[QUOTA_RAM],
	    "maxTotalKeypairs", (json_int_t)lim.v[QUOTA_KEY_PAIRS], "totalInstancesUsed",
	    (json_int_t)used.v[QUOTA_INSTANCES], "totalCoresUsed", (json_int_t)used.v[QUOTA_CORES],
	    "totalRAMUsed", (json_int_t)used.v[QUOTA_RAM], "maxServerMeta", 128, "maxImageMeta",
	    128, "maxPersonality", 5, "maxPersonalitySize", 10240, "maxSecurityGroups", 10,
	    "maxSecurityGroupRules", 20, "maxTotalFloatingIps", 10, "maxServerGroups", 10,
	    "maxServerGroupMembers", 10, "totalFloatingIpsUsed", 0, "totalSecurityGroupsUsed", 0,
	    "totalServerGroupsUsed", 0);
	static const struct {
		const char *key;
		int until;
	} gone[] = {
	    {"maxSecurityGroups", 36},       {"maxSecurityGroupRules", 36},
	    {"maxTotalFloatingIps", 36},     {"totalFloatingIpsUsed", 36},
	    {"totalSecurityGroupsUsed", 36}, {"maxImageMeta", 39},
	    {"maxPersonality", 57},          {"maxPersonalitySize", 57},
	};
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
		if (r->ctx->mv_minor >= gone[i].until)
			json_object_del(abs, gone[i].key);
	resp_json(w, 200, json_pack("{s:{s:o,s:[]}}", "limits", "absolute", abs, "rate"));
}

/* ---- availability zones ---- */

static void az_list_common(struct req *r, struct resp *w, int detail)
{
	char err[256], secs[16];
	agent_timeout(r, secs);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT z.az, a.host, " AGENT_UP ", to_char(last_seen AT TIME ZONE 'UTC',"
	        " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM agents a JOIN compute_host_zones z"
	        " ON z.host = a.host ORDER BY z.az, a.host",
	        secs);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *zones = json_array(), *zone = NULL;
	const char *cur = NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *az = db_val(res, i, 0);
		int up = db_val(res, i, 2)[0] == 't';
		if (!cur || strcmp(cur, az)) {
			zone =
			    json_pack("{s:s,s:{s:b}}", "zoneName", az, "zoneState", "available", 0);
			json_object_set_new(zone, "hosts", detail ? json_object() : json_null());
			json_array_append_new(zones, zone);
			cur = az;
		}
		if (up)
			json_object_set_new(json_object_get(zone, "zoneState"), "available",
			                    json_true());
		if (detail)
			json_object_set_new(json_object_get(zone, "hosts"), db_val(res, i, 1),
			                    json_pack("{s:{s:b,s:b,s:s}}", "nova-compute",
			                              "available", up, "active", 1, "updated_at",
			                              db_val(res, i, 3)));
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "availabilityZoneInfo", zones));
}

static void az_list(struct req *r, struct resp *w)
{
	az_list_common(r, w, 0);
}

static void az_detail(struct req *r, struct resp *w)
{
	az_list_common(r, w, 1);
}

/* ---- hypervisors and services ---- */

/* The compute agents (one with hypervisor id id, or those whose host contains pattern,
 * when given) with their usage; NULL after answering 500. Hypervisor ids are integers
 * at 2.1; the agents table has none, so an agent's id is its rank by registration
 * (stable while no agent row is deleted). */
static PGresult *agents_query(struct req *r, struct resp *w, const char *id, const char *pattern)
{
	/* 2.53: hypervisors (and services) are known by a UUID, derived from the host */
	int by_uuid = r->ctx->mv_minor >= 53;
	char secs[16], err[256];
	agent_timeout(r, secs);
	PGresult *res = db_query(
	    r->ctx->db,
	    "SELECT a.id, a.host, a.up, a.vcpus, a.ram_mb, a.disk_gb, coalesce(u.vcpus, 0),"
	    " coalesce(u.ram, 0), coalesce(u.disk, 0), coalesce(u.n, 0), a.az,"
	    " to_char(a.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
	    " md5('hypervisor:' || a.host)::uuid::text, md5('service:' || a.host)::uuid::text"
	    " FROM (SELECT row_number() OVER (ORDER BY created_at, host) AS id, host, " AGENT_UP
	    " AS up, vcpus, ram_mb, disk_gb, (SELECT z.az FROM compute_host_zones z WHERE z.host ="
	    " agents.host) AS az, last_seen FROM agents WHERE kind = 'compute') a"
	    " LEFT JOIN (SELECT host, sum(vcpus) AS vcpus, sum(ram_mb) AS ram, sum(disk_gb) AS "
	    "disk,"
	    " count(*) AS n FROM instances WHERE NOT deleted AND host IS NOT NULL GROUP BY host) u"
	    " ON u.host = a.host WHERE ($2::text IS NULL OR (CASE WHEN $4::text = '1' THEN"
	    " md5('hypervisor:' || a.host)::uuid::text ELSE a.id::text END) = $2)"
	    " AND ($3::text IS NULL OR strpos(a.host, $3) > 0) ORDER BY a.id",
	    4, (const char *const[]){secs, id, pattern, by_uuid ? "1" : "0"}, err, sizeof(err),
	    NULL);
	if (!res)
		resp_db_error(r, w, err);
	return res;
}

static json_t *hypervisor_json(const PGresult *res, int i, int detail, int mv)
{
	json_int_t id = db_long(res, i, 0, 0);
	json_t *h =
	    json_pack("{s:I,s:s,s:s,s:s}", "id", id, "hypervisor_hostname", db_val(res, i, 1),
	              "state", db_val(res, i, 2)[0] == 't' ? "up" : "down", "status", "enabled");
	if (mv >= 53)
		json_object_set_new(h, "id", json_string(db_val(res, i, 12)));
	if (!detail)
		return h;
	long vcpus = db_long(res, i, 3, 0), ram = db_long(res, i, 4, 0),
	     disk = db_long(res, i, 5, 0);
	long uvcpus = db_long(res, i, 6, 0), uram = db_long(res, i, 7, 0),
	     udisk = db_long(res, i, 8, 0);
	/* host_ip and cpu_info are unknown: agents report neither their address nor
	 * their CPU model. */
	json_t *more = json_pack(
	    "{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I,s:s,s:n,s:s,s:{s:s,s:I,s:n}}", "vcpus",
	    (json_int_t)vcpus, "memory_mb", (json_int_t)ram, "local_gb", (json_int_t)disk,
	    "vcpus_used", (json_int_t)uvcpus, "memory_mb_used", (json_int_t)uram, "local_gb_used",
	    (json_int_t)udisk, "free_ram_mb", (json_int_t)(ram - uram), "free_disk_gb",
	    (json_int_t)(disk - udisk), "running_vms", (json_int_t)db_long(res, i, 9, 0),
	    "current_workload", 0, "disk_available_least", (json_int_t)(disk - udisk),
	    "hypervisor_type", "QEMU", "host_ip", "cpu_info", "{}", "service", "host",
	    db_val(res, i, 1), "id", id, "disabled_reason");
	/* agents do not report their QEMU's version: 0 says "unknown" in Nova's integer */
	json_object_set_new(more, "hypervisor_version", json_integer(0));
	if (mv >= 28) /* 2.28: cpu_info is an object, not its text */
		json_object_set_new(more, "cpu_info", json_object());
	if (mv >= 53)
		json_object_set_new(json_object_get(more, "service"), "id",
		                    json_string(db_val(res, i, 13)));
	json_object_update(h, more);
	json_decref(more);
	return h;
}

/* {"hypervisors": [...]} of rows [from, to) of res. */
static json_t *hypervisors_json(const PGresult *res, int from, int to, int detail, int mv)
{
	json_t *a = json_array();
	for (int i = from; i < to; i++)
		json_array_append_new(a, hypervisor_json(res, i, detail, mv));
	return json_pack("{s:o}", "hypervisors", a);
}

/* 2.53's with_servers: each hypervisor of body (rows from.. of res) gets "servers",
 * [{uuid, name}] of the live instances on its host, when it has any. 0, or -EIO after
 * answering. */
static int hypervisors_servers(struct req *r, struct resp *w, const PGresult *res, int from,
                               json_t *body)
{
	char err[256];
	json_t *list = json_object_get(body, "hypervisors");
	size_t i;
	json_t *h;
	json_array_foreach(list, i, h)
	{
		PGresult *s = DBQ(r->ctx->db, err, sizeof err,
		                  "SELECT id, name FROM instances WHERE host = $1 AND NOT deleted"
		                  " ORDER BY created_at, id",
		                  db_val(res, from + (int)i, 1));
		if (!s) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		if (PQntuples(s) > 0) {
			json_t *a = json_array();
			for (int k = 0; k < PQntuples(s); k++)
				json_array_append_new(a, json_pack("{s:s,s:s}", "uuid",
				                                   db_val(s, k, 0), "name",
				                                   db_val(s, k, 1)));
			json_object_set_new(h, "servers", a);
		}
		PQclear(s);
	}
	return 0;
}

/* The list, from 2.33 paged by limit and marker (a hypervisor id), from 2.53 also by
 * host name pattern and with their servers. */
static void hypervisors_list_common(struct req *r, struct resp *w, int detail)
{
	int mv = r->ctx->mv_minor;
	long limit = mv >= 33 ? wire_nonneg(req_query(r, "limit")) : -1;
	const char *marker = mv >= 33 ? req_query(r, "marker") : NULL;
	const char *pattern = mv >= 53 ? req_query(r, "hypervisor_hostname_pattern") : NULL;
	int with_servers = mv >= 53 ? server_bool_param(req_query(r, "with_servers")) : 0;
	if (limit == -EINVAL || with_servers < 0) {
		resp_error(r, w, 400, "Invalid input for query parameters %s.",
		           limit == -EINVAL ? "limit" : "with_servers");
		return;
	}
	if (pattern && (limit >= 0 || marker)) {
		resp_error(r, w, 400,
		           "Paging over hypervisors with the hypervisor_hostname_pattern query "
		           "parameter is not supported.");
		return;
	}
	PGresult *res = agents_query(r, w, NULL, pattern);
	if (!res)
		return;
	if (pattern && PQntuples(res) == 0) {
		PQclear(res);
		resp_error(r, w, 404, "No hypervisor matching '%s' could be found.", pattern);
		return;
	}
	int n = PQntuples(res), from = 0;
	if (marker) {
		while (from < n && strcmp(db_val(res, from, mv >= 53 ? 12 : 0), marker))
			from++;
		if (from == n) {
			PQclear(res);
			resp_error(r, w, 400, "marker [%s] not found", marker);
			return;
		}
		from++;
	}
	int to = limit >= 0 && from + limit < n ? from + (int)limit : n;
	json_t *body = hypervisors_json(res, from, to, detail, mv);
	if (with_servers && hypervisors_servers(r, w, res, from, body) < 0) {
		json_decref(body);
		PQclear(res);
		return;
	}
	if (limit > 0 && to - from == limit) {
		char *href = xasprintf("%s/compute/v2.1/os-hypervisors%s?limit=%ld&marker=%s",
		                       r->ctx->api->public_url, detail ? "/detail" : "", limit,
		                       db_val(res, to - 1, mv >= 53 ? 12 : 0));
		json_object_set_new(body, "hypervisors_links",
		                    json_pack("[{s:s,s:s}]", "rel", "next", "href", href));
		free(href);
	}
	resp_json(w, 200, body);
	PQclear(res);
}

static void hypervisors_list(struct req *r, struct resp *w)
{
	hypervisors_list_common(r, w, 0);
}

static void hypervisors_detail(struct req *r, struct resp *w)
{
	hypervisors_list_common(r, w, 1);
}

static void hypervisors_show(struct req *r, struct resp *w)
{
	PGresult *res = agents_query(r, w, r->params[0], NULL);
	if (!res)
		return;
	int mv = r->ctx->mv_minor;
	int with_servers = mv >= 53 ? server_bool_param(req_query(r, "with_servers")) : 0;
	if (PQntuples(res) != 1) {
		resp_error(r, w, 404, "Hypervisor with ID %s could not be found.", r->params[0]);
	} else if (with_servers < 0) {
		resp_error(r, w, 400, "Invalid input for query parameters with_servers.");
	} else {
		json_t *one = hypervisors_json(res, 0, 1, 1, mv);
		if (!with_servers || hypervisors_servers(r, w, res, 0, one) == 0)
			resp_json(
			    w, 200,
			    json_pack("{s:O}", "hypervisor",
			              json_array_get(json_object_get(one, "hypervisors"), 0)));
		json_decref(one);
	}
	PQclear(res);
}

/* The host's uptime as its agent last reported it (compute_admin.c writes the text);
 * an agent that did not report one gets Nova's 501 for drivers without it. */
static void hypervisors_uptime(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = agents_query(r, w, r->params[0], NULL);
	if (!res)
		return;
	if (PQntuples(res) != 1) {
		resp_error(r, w, 404, "Hypervisor with ID %s could not be found.", r->params[0]);
		PQclear(res);
		return;
	}
	PGresult *up = DBQ(r->ctx->db, err, sizeof err,
	                   "SELECT extract(epoch FROM now() - booted_at)::bigint FROM agents"
	                   " WHERE host = $1 AND booted_at IS NOT NULL",
	                   db_val(res, 0, 1));
	if (!up) {
		resp_db_error(r, w, err);
	} else if (PQntuples(up) != 1) {
		resp_error(r, w, 501, "Virt driver does not implement host uptime.");
	} else {
		char text[HYPERVISOR_UPTIME_MAX];
		hypervisor_uptime_text(time(NULL), db_long(up, 0, 0, 0), text, sizeof(text));
		json_t *list = hypervisors_json(res, 0, 1, 0, r->ctx->mv_minor);
		json_t *h = json_array_get(json_object_get(list, "hypervisors"), 0);
		json_object_set_new(h, "uptime", json_string(text));
		resp_json(w, 200, json_pack("{s:O}", "hypervisor", h));
		json_decref(list);
	}
	PQclear(up);
	PQclear(res);
}

/* GET /os-hypervisors/{pattern}/servers (below 2.53): the matching hypervisors, each
 * with the servers on it. */
static void hypervisors_servers_list(struct req *r, struct resp *w)
{
	if (r->ctx->mv_minor >= 53) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	PGresult *res = agents_query(r, w, NULL, r->params[0]);
	if (!res)
		return;
	if (PQntuples(res) == 0) {
		resp_error(r, w, 404, "No hypervisor matching '%s' could be found.", r->params[0]);
	} else {
		json_t *body = hypervisors_json(res, 0, PQntuples(res), 0, r->ctx->mv_minor);
		if (hypervisors_servers(r, w, res, 0, body) == 0)
			resp_json(w, 200, json_incref(body));
		json_decref(body);
	}
	PQclear(res);
}

/* GET /os-hypervisors/{pattern}/search: how 2.1 clients find a hypervisor by name
 * (gone at 2.53, replaced by ?hypervisor_hostname_pattern). */
static void hypervisors_search(struct req *r, struct resp *w)
{
	if (r->ctx->mv_minor >= 53) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	PGresult *res = agents_query(r, w, NULL, r->params[0]);
	if (!res)
		return;
	if (PQntuples(res) == 0)
		resp_error(r, w, 404, "No hypervisor matching '%s' could be found.", r->params[0]);
	else
		resp_json(w, 200, hypervisors_json(res, 0, PQntuples(res), 0, r->ctx->mv_minor));
	PQclear(res);
}

static void hypervisors_statistics(struct req *r, struct resp *w)
{
	PGresult *res = agents_query(r, w, NULL, NULL);
	if (!res)
		return;
	long sum[7] = {0}; /* vcpus, ram, disk, used vcpus, used ram, used disk, vms */
	for (int i = 0; i < PQntuples(res); i++)
		for (int k = 0; k < 7; k++)
			sum[k] += db_long(res, i, 3 + k, 0);
	json_t *s = json_pack(
	    "{s:i,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:I}", "count", PQntuples(res), "vcpus",
	    (json_int_t)sum[0], "memory_mb", (json_int_t)sum[1], "local_gb", (json_int_t)sum[2],
	    "vcpus_used", (json_int_t)sum[3], "memory_mb_used", (json_int_t)sum[4], "local_gb_used",
	    (json_int_t)sum[5], "running_vms", (json_int_t)sum[6], "free_ram_mb",
	    (json_int_t)(sum[1] - sum[4]), "free_disk_gb", (json_int_t)(sum[2] - sum[5]),
	    "current_workload", 0, "disk_available_least", (json_int_t)(sum[2] - sum[5]));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "hypervisor_statistics", s));
}

static void services_list(struct req *r, struct resp *w)
{
	PGresult *res = agents_query(r, w, NULL, NULL);
	if (!res)
		return;
	const char *host = req_query(r, "host"), *binary = req_query(r, "binary");
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res) && (!binary || !strcmp(binary, "nova-compute")); i++) {
		if (host && strcmp(host, db_val(res, i, 1)))
			continue;
		json_t *svc = json_pack(
		    "{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:n}", "id", (json_int_t)db_long(res, i, 0, 0),
		    "binary", "nova-compute", "host", db_val(res, i, 1), "zone", db_val(res, i, 10),
		    "status", "enabled", "state", db_val(res, i, 2)[0] == 't' ? "up" : "down",
		    "updated_at", db_val(res, i, 11), "disabled_reason");
		if (r->ctx->mv_minor >= 11) /* nothing forces a Nubo agent down */
			json_object_set_new(svc, "forced_down", json_false());
		if (r->ctx->mv_minor >= 53)
			json_object_set_new(svc, "id", json_string(db_val(res, i, 13)));
		json_array_append_new(a, svc);
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "services", a));
}

/* ---- simple tenant usage ---- */

/* Nova's usage timestamps: naive UTC, "YYYY-MM-DDTHH:MM:SS". */
static void usage_time(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* Parses ?start= and ?end= (each defaults to now). Answers 400 and returns -EINVAL. */
static int usage_window(struct req *r, struct resp *w, time_t *start, time_t *end)
{
	const char *s = req_query(r, "start"), *e = req_query(r, "end");
	*start = *end = time(NULL);
	if ((s && time_parse_iso(s, start) < 0) || (e && time_parse_iso(e, end) < 0)) {
		resp_error(r, w, 400,
		           "Invalid start or end time: use YYYY-MM-DDTHH:MM:SS[.ffffff]");
		return -EINVAL;
	}
	if (*start > *end) {
		resp_error(r, w, 400,
		           "Invalid start time. The start time cannot occur after the "
		           "end time.");
		return -EINVAL;
	}
	return 0;
}

/* The page of the usage query: at most limit instances after the one named marker
 * (NULL: from the first). Nova pages by instance from 2.40 and before it silently
 * stops at its max_limit (1000). */
struct usage_page {
	long limit;
	const char *marker;
};

/* Reads ?limit and ?marker (2.40) into p; answers 400 and returns -EINVAL. */
static int usage_paging(struct req *r, struct resp *w, struct usage_page *p)
{
	char cid[UUID_STR_LEN], err[256];
	p->limit = 1000;
	p->marker = NULL;
	if (r->ctx->mv_minor < 40)
		return 0;
	long l = wire_nonneg(req_query(r, "limit"));
	if (l == -EINVAL) {
		resp_error(r, w, 400, "limit param must be an integer");
		return -EINVAL;
	}
	if (l >= 0 && l < p->limit)
		p->limit = l;
	p->marker = req_query(r, "marker");
	if (p->marker &&
	    (uuid_lower(p->marker, cid) < 0 ||
	     DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM instances WHERE id = $1", cid) != 1)) {
		resp_error(r, w, 400, "marker [%s] not found",
		           uuid_lower(p->marker, cid) < 0 ? "?" : cid);
		return -EINVAL;
	}
	return 0;
}

/* The instances that ran during [start, end), of one project or all (pid NULL),
 * ordered by project, one page of them. Columns: id, name, project, vcpus, ram, disk,
 * flavor name, vm_state, deleted, launched epoch, terminated epoch, launched/
 * terminated text. */
static PGresult *usage_query(struct req *r, char *err, size_t errlen, time_t start, time_t end,
                             const char *pid, const struct usage_page *p)
{
	char s[24], e[24], lim[24];
	snprintf(s, sizeof(s), "%lld", (long long)start);
	snprintf(e, sizeof(e), "%lld", (long long)end);
	snprintf(lim, sizeof(lim), "%ld", p->limit);
	return db_query(
	    r->ctx->db,
	    "SELECT i.id, i.name, i.project_id, i.vcpus, i.ram_mb, i.disk_gb,"
	    " coalesce(f.name, i.flavor_id), i.vm_state, i.deleted,"
	    " extract(epoch FROM i.launched_at)::bigint, extract(epoch FROM t.at)::bigint,"
	    " to_char(i.launched_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
	    " to_char(t.at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
	    " FROM instances i LEFT JOIN flavors f ON f.id = i.flavor_id,"
	    " LATERAL (SELECT coalesce(i.terminated_at,"
	    "   CASE WHEN i.deleted THEN i.updated_at END) AS at) t"
	    " WHERE i.launched_at < to_timestamp($2::bigint)"
	    " AND (t.at IS NULL OR t.at > to_timestamp($1::bigint))"
	    " AND ($3::text IS NULL OR i.project_id = $3)"
	    " AND ($4::text IS NULL OR (i.project_id, i.launched_at, i.id) > (SELECT m.project_id,"
	    " m.launched_at, m.id FROM instances m WHERE m.id = $4))"
	    " ORDER BY i.project_id, i.launched_at, i.id LIMIT $5::int",
	    5, (const char *const[]){s, e, pid, p->marker, lim}, err, errlen, NULL);
}

/* The "next" link of a full usage page (2.40), into body under key. */
static void usage_next(struct req *r, json_t *body, const char *key, const PGresult *res,
                       const struct usage_page *p)
{
	int n = PQntuples(res);
	if (r->ctx->mv_minor < 40 || n == 0 || n != p->limit)
		return;
	const char *path = strstr(r->url, "/os-simple-tenant-usage");
	size_t plen = path ? strcspn(path, "?") : 0;
	char *href = xasprintf("%s/compute/v2.1%.*s?limit=%ld&marker=%s", r->ctx->api->public_url,
	                       (int)plen, path ? path : "", p->limit, db_val(res, n - 1, 0));
	static const char *const keep[] = {"start", "end", "detailed"};
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (req_query(r, keep[i]))
			href = wire_query_append(href, keep[i], req_query(r, keep[i]));
	json_object_set_new(body, key, json_pack("[{s:s,s:s}]", "rel", "next", "href", href));
	free(href);
}

/* Builds the tenant_usage objects of rows [from, to) (one project). */
static json_t *tenant_usage_json(const PGresult *res, int from, int to, time_t start, time_t end,
                                 int detailed)
{
	char ts[32], te[32];
	time_t now = time(NULL);
	struct usage_totals t = {0};
	json_t *servers = json_array();
	for (int i = from; i < to; i++) {
		time_t launched = (time_t)db_long(res, i, 9, 0);
		time_t terminated = (time_t)db_long(res, i, 10, 0);
		long vcpus = db_long(res, i, 3, 0), ram = db_long(res, i, 4, 0),
		     disk = db_long(res, i, 5, 0);
		double hours = usage_hours(launched, terminated, start, end, now);
		usage_add(&t, hours, vcpus, ram, disk);
		if (!detailed)
			continue;
		int deleted = db_val(res, i, 8)[0] == 't';
		json_t *ended = wire_string_or_null(db_val(res, i, 12));
		json_array_append_new(
		    servers,
		    json_pack("{s:s,s:s,s:f,s:I,s:I,s:I,s:s,s:s,s:s,s:o,s:s,s:I}", "instance_id",
		              db_val(res, i, 0), "name", db_val(res, i, 1), "hours", hours,
		              "memory_mb", (json_int_t)ram, "local_gb", (json_int_t)disk, "vcpus",
		              (json_int_t)vcpus, "tenant_id", db_val(res, i, 2), "flavor",
		              db_val(res, i, 6), "started_at", db_val(res, i, 11), "ended_at",
		              ended, "state", deleted ? "terminated" : db_val(res, i, 7), "uptime",
		              (json_int_t)((terminated ? terminated : now) - launched)));
	}
	usage_time(start, ts, sizeof(ts));
	usage_time(end, te, sizeof(te));
	json_t *u = json_pack("{s:s,s:f,s:f,s:f,s:f,s:s,s:s}", "tenant_id", db_val(res, from, 2),
	                      "total_hours", t.hours, "total_vcpus_usage", t.vcpu_hours,
	                      "total_memory_mb_usage", t.memory_mb_hours, "total_local_gb_usage",
	                      t.local_gb_hours, "start", ts, "stop", te);
	if (detailed)
		json_object_set_new(u, "server_usages", servers);
	else
		json_decref(servers);
	return u;
}

static void usage_list(struct req *r, struct resp *w)
{
	char err[256];
	time_t start, end;
	if (usage_window(r, w, &start, &end) < 0)
		return;
	int detailed = wire_bool(req_query(r, "detailed")) == 1;
	struct usage_page pg;
	if (usage_paging(r, w, &pg) < 0)
		return;
	PGresult *res = usage_query(r, err, sizeof(err), start, end, NULL, &pg);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	for (int i = 0, n = PQntuples(res); i < n;) {
		int j = i + 1;
		while (j < n && !strcmp(db_val(res, j, 2), db_val(res, i, 2)))
			j++;
		json_array_append_new(a, tenant_usage_json(res, i, j, start, end, detailed));
		i = j;
	}
	json_t *body = json_pack("{s:o}", "tenant_usages", a);
	usage_next(r, body, "tenant_usages_links", res, &pg);
	PQclear(res);
	resp_json(w, 200, body);
}

static void usage_show(struct req *r, struct resp *w)
{
	char err[256];
	time_t start, end;
	const char *pid = r->params[0];
	if (strcmp(pid, r->ctx->auth.project_id) && !policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow os_compute_api:os-simple-tenant-usage:show "
		           "to be performed.");
		return;
	}
	struct usage_page pg;
	if (usage_window(r, w, &start, &end) < 0 || usage_paging(r, w, &pg) < 0)
		return;
	PGresult *res = usage_query(r, err, sizeof(err), start, end, pid, &pg);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *u = PQntuples(res) ? tenant_usage_json(res, 0, PQntuples(res), start, end, 1)
	                           : json_object();
	json_t *body = json_pack("{s:o}", "tenant_usage", u);
	usage_next(r, body, "tenant_usage_links", res, &pg);
	PQclear(res);
	resp_json(w, 200, body);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/limits", limits_show, POL_COMPUTE_READ, 0},
    {"GET", C "/os-availability-zone", az_list, POL_COMPUTE_READ, 0},
    {"GET", C "/os-availability-zone/detail", az_detail, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors", hypervisors_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/detail", hypervisors_detail, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/statistics", hypervisors_statistics, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/{}", hypervisors_show, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/{}/uptime", hypervisors_uptime, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/{}/search", hypervisors_search, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-hypervisors/{}/servers", hypervisors_servers_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-services", services_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-simple-tenant-usage", usage_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-simple-tenant-usage/{}", usage_show, POL_COMPUTE_READ, 0},
    {"GET", C "/os-quota-sets/{}", quota_sets_show, POL_COMPUTE_QUOTA_READ, 0},
    {"GET", C "/os-quota-sets/{}/defaults", quota_sets_defaults, POL_COMPUTE_QUOTA_READ, 0},
    {"GET", C "/os-quota-sets/{}/detail", quota_sets_detail, POL_COMPUTE_QUOTA_READ, 0},
    {"PUT", C "/os-quota-sets/{}", quota_sets_update, POL_COMPUTE_QUOTA_WRITE, 0},
    {"DELETE", C "/os-quota-sets/{}", quota_sets_delete, POL_COMPUTE_QUOTA_WRITE, 0},
    {"GET", C "/os-quota-class-sets/{}", quota_classes_show, POL_COMPUTE_ADMIN, 0},
    {"PUT", C "/os-quota-class-sets/{}", quota_classes_update, POL_COMPUTE_ADMIN, 0},
};
HTTPD_TABLE(compute_misc_routes, routes, &compute_hooks);

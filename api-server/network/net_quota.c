/* Network quotas (/v2.0/quotas): per-project limits over Neutron's defaults, shown to
 * the project itself and to admins, set and reset by admins; details add the usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"

/* How a project's usage of each resource is counted ($1 the project). */
static const char *const usage_sql[] = {
    "SELECT count(*) FROM net_networks WHERE project_id = $1",
    "SELECT count(*) FROM net_subnets WHERE project_id = $1",
    "SELECT count(*) FROM net_ports WHERE project_id = $1",
    "SELECT count(*) FROM net_routers WHERE project_id = $1",
    "SELECT count(*) FROM net_floatingips WHERE project_id = $1",
    "SELECT count(*) FROM net_secgroups WHERE project_id = $1",
    "SELECT count(*) FROM net_sg_rules WHERE project_id = $1",
    "SELECT 0 WHERE $1::text IS NOT NULL",
    "SELECT 0 WHERE $1::text IS NOT NULL",
};

static int quota_may_read(struct req *r, struct resp *w, const char *project)
{
	if (net_is_admin(r) || !strcmp(project, net_project(r)))
		return 0;
	net_error(r, w, 403, "PolicyNotAuthorized", "(rule:get_quota) is disallowed by policy");
	return -EACCES;
}

/* {resource: limit} or, with details, {resource: {limit, used, reserved}}; defaults
 * only when defaults is 1. NULL on a database failure (answered). */
static json_t *quota_json(struct req *r, struct resp *w, const char *project, int details,
                          int defaults)
{
	json_t *o = json_object();
	char err[256];
	for (size_t i = 0; i < net_quota_ndefs; i++) {
		long lim = defaults
		               ? net_quota_defs[i].def
		               : net_quota_limit(r->ctx->db, project, net_quota_defs[i].resource);
		if (!details) {
			json_object_set_new(o, net_quota_defs[i].resource, json_integer(lim));
			continue;
		}
		PGresult *q = DBQ(r->ctx->db, err, sizeof err, usage_sql[i], project);
		if (!q) {
			resp_db_error(r, w, err);
			json_decref(o);
			return NULL;
		}
		long used = db_long(q, 0, 0, 0);
		PQclear(q);
		json_object_set_new(o, net_quota_defs[i].resource,
		                    json_pack("{s:I,s:I,s:i}", "limit", (json_int_t)lim, "used",
		                              (json_int_t)used, "reserved", 0));
	}
	return o;
}

static void quota_show(struct req *r, struct resp *w)
{
	const char *project = r->params[0];
	json_t *o;
	if (quota_may_read(r, w, project) == 0 && (o = quota_json(r, w, project, 0, 0)))
		resp_json(w, 200, json_pack("{s:o}", "quota", o));
}

static void quota_details(struct req *r, struct resp *w)
{
	const char *project = r->params[0];
	json_t *o;
	if (quota_may_read(r, w, project) == 0 && (o = quota_json(r, w, project, 1, 0)))
		resp_json(w, 200, json_pack("{s:o}", "quota", o));
}

static void quota_defaults(struct req *r, struct resp *w)
{
	json_t *o = quota_json(r, w, r->params[0], 0, 1);
	if (o)
		resp_json(w, 200, json_pack("{s:o}", "quota", o));
}

static void quota_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT DISTINCT project_id FROM net_quotas ORDER BY 1");
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(q); i++) {
		json_t *o = quota_json(r, w, PQgetvalue(q, i, 0), 0, 0);
		if (!o) {
			json_decref(list);
			PQclear(q);
			return;
		}
		json_object_set_new(o, "project_id", json_string(PQgetvalue(q, i, 0)));
		json_object_set_new(o, "tenant_id", json_string(PQgetvalue(q, i, 0)));
		json_array_append_new(list, o);
	}
	PQclear(q);
	resp_json(w, 200, json_pack("{s:o}", "quotas", list));
}

static void quota_update(struct req *r, struct resp *w)
{
	const char *project = r->params[0];
	json_t *body = json_object_get(r->json, "quota");
	char err[256];
	if (!json_is_object(body)) {
		net_error(r, w, 400, "HTTPBadRequest", "Request body must hold a quota object.");
		return;
	}
	const char *k;
	json_t *v;
	json_object_foreach(body, k, v)
	{
		size_t i;
		for (i = 0; i < net_quota_ndefs; i++)
			if (!strcmp(k, net_quota_defs[i].resource))
				break;
		json_int_t n = json_is_integer(v)  ? json_integer_value(v)
		               : json_is_string(v) ? strtoll(json_string_value(v), NULL, 10)
		                                   : -2;
		if (i == net_quota_ndefs) {
			net_error(r, w, 400, "HTTPBadRequest", "Unrecognized attribute(s) '%s'", k);
			return;
		}
		if (n < -1 || n > 0x7fffffff) {
			net_error(r, w, 400, "HTTPBadRequest",
			          "Invalid input for %s. Reason: must be an integer of -1 or more.",
			          k);
			return;
		}
	}
	json_object_foreach(body, k, v)
	{
		char n[24];
		snprintf(n, sizeof n, "%lld",
		         (long long)(json_is_integer(v) ? json_integer_value(v)
		                                        : strtoll(json_string_value(v), NULL, 10)));
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO net_quotas VALUES ($1, $2, $3::bigint) ON CONFLICT "
		        "(project_id,"
		        " resource) DO UPDATE SET hard_limit = EXCLUDED.hard_limit",
		        project, k, n) < 0) {
			resp_db_error(r, w, err);
			return;
		}
	}
	json_t *o = quota_json(r, w, project, 0, 0);
	if (o)
		resp_json(w, 200, json_pack("{s:o}", "quota", o));
}

static void quota_reset(struct req *r, struct resp *w)
{
	char err[256];
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_quotas WHERE project_id = $1",
	        r->params[0]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

static void quota_tenant(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:{s:s}}", "tenant", "tenant_id", net_project(r)));
}

static const struct httpd_route quota_route_list[] = {
    {"GET", "/network/v2.0/quotas", quota_list, POL_NETWORK_ADMIN, 0},
    {"GET", "/network/v2.0/quotas/tenant", quota_tenant, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/quotas/{}", quota_show, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/quotas/{}/details", quota_details, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/quotas/{}/details.json", quota_details, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/quotas/{}/default", quota_defaults, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/quotas/{}", quota_update, POL_NETWORK_ADMIN, 0},
    {"DELETE", "/network/v2.0/quotas/{}", quota_reset, POL_NETWORK_ADMIN, 0},
};
HTTPD_TABLE(net_quota_routes, quota_route_list, &network_hooks);

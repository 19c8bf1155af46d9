/* Nova's network proxy APIs over the Network API's tables (microversions below 2.36,
 * where Nova still proxied them): os-security-groups, os-security-group-rules,
 * servers/{id}/os-security-groups, os-networks, os-tenant-networks, and the
 * addSecurityGroup/removeSecurityGroup server actions. Nova's shapes and codes. */
#include "compute/network_proxy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "db.h"
#include "network/network.h"
#include "policy.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"
#include "server_nic.h"

#define PROXY_MAX_MINOR 35 /* 2.36 removed the proxies: 404 from there on */

static int proxy_version_ok(struct req *r, struct resp *w)
{
	if (r->ctx->mv_minor <= PROXY_MAX_MINOR)
		return 0;
	resp_error(r, w, 404, "The resource could not be found.");
	return -ENOENT;
}

/* A group and its rules in Nova's shape, from one row of group_sql. */
static const char group_sql[] =
    "SELECT json_build_object('id', g.id, 'name', g.name, 'description', g.description,"
    " 'tenant_id', g.project_id, 'rules', (SELECT coalesce(json_agg(json_build_object("
    " 'id', r.id, 'parent_group_id', r.sg_id, 'ip_protocol', r.protocol,"
    " 'from_port', CASE WHEN r.protocol IS NULL THEN NULL ELSE coalesce(r.port_min, -1) END,"
    " 'to_port', CASE WHEN r.protocol IS NULL THEN NULL ELSE coalesce(r.port_max, -1) END,"
    " 'ip_range', CASE WHEN r.remote_group_id IS NULL THEN json_build_object('cidr',"
    " coalesce(r.remote_ip_given, r.remote_ip_prefix::text, CASE r.ethertype WHEN 'IPv6'"
    " THEN '::/0' ELSE '0.0.0.0/0' END)) ELSE '{}'::json END,"
    " 'group', CASE WHEN r.remote_group_id IS NULL THEN '{}'::json ELSE json_build_object("
    " 'name', (SELECT name FROM net_secgroups WHERE id = r.remote_group_id), 'tenant_id',"
    " r.project_id) END) ORDER BY r.created_at, r.id), '[]') FROM net_sg_rules r WHERE"
    " r.sg_id = g.id AND r.direction = 'ingress'))::text FROM net_secgroups g";

/* The groups matching where ($1 is a), in Nova's shape; NULL after answering. */
static json_t *groups_query(struct req *r, struct resp *w, const char *where, const char *a)
{
	char sql[4096], err[512];
	snprintf(sql, sizeof sql, "%s WHERE %s ORDER BY g.created_at, g.id", group_sql, where);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, a);
	if (!q) {
		resp_db_error(r, w, err);
		return NULL;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(q); i++)
		json_array_append_new(list, json_loads(PQgetvalue(q, i, 0), 0, NULL));
	PQclear(q);
	return list;
}

static int ensure_default(struct req *r, struct resp *w)
{
	char err[512];
	if (net_default_sg(r->ctx->db, r->ctx->auth.project_id, NULL, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void sg_list(struct req *r, struct resp *w)
{
	json_t *l;
	if (proxy_version_ok(r, w) < 0 || ensure_default(r, w) < 0)
		return;
	/* Nova: an admin's all_tenants lists every project's groups */
	int all = req_query_has(r, "all_tenants") && policy_is_admin(&r->ctx->auth);
	if ((l = groups_query(r, w, all ? "$1::text IS NOT NULL" : "g.project_id = $1",
	                      r->ctx->auth.project_id)))
		resp_json(w, 200, json_pack("{s:o}", "security_groups", l));
}

/* The group id as the caller may see it: its project's (any for admin), or NULL after
 * answering 404. */
static json_t *sg_find(struct req *r, struct resp *w, const char *id)
{
	char sql[4096], err[512];
	if (!uuid_is_valid(id)) { /* Nova's validate_id */
		resp_error(r, w, 400, "Security group id should be uuid");
		return NULL;
	}
	snprintf(sql, sizeof sql, "%s WHERE g.id = $1 AND (g.project_id = $2 OR $3::boolean)",
	         group_sql);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, id, r->ctx->auth.project_id,
	                  policy_is_admin(&r->ctx->auth) ? "true" : "false");
	if (!q) {
		resp_db_error(r, w, err);
		return NULL;
	}
	json_t *g = PQntuples(q) == 1 ? json_loads(PQgetvalue(q, 0, 0), 0, NULL) : NULL;
	PQclear(q);
	if (!g)
		resp_error(r, w, 404, "Security group %s not found.", id);
	return g;
}

static void sg_show(struct req *r, struct resp *w)
{
	json_t *g;
	if (proxy_version_ok(r, w) == 0 && (g = sg_find(r, w, r->params[0])))
		resp_json(w, 200, json_pack("{s:o}", "security_group", g));
}

struct sg_body {
	char *name, *description;
};
static const struct jfield f_sg[] = {
    {"name", J_STR, JF(struct sg_body, name), 0, 255, 1, 0, 0},
    {"description", J_STR, JF(struct sg_body, description), 0, 255, 1, 0, 0},
};
#define NSG (sizeof(f_sg) / sizeof(f_sg[0]))

static void sg_create(struct req *r, struct resp *w)
{
	struct sg_body b = {0};
	char err[512], id[UUID_STR_LEN];
	if (proxy_version_ok(r, w) < 0 ||
	    wire_parse_wrapped(r, w, "security_group", f_sg, NSG, &b) < 0)
		return;
	if (!b.name[0] || !strcmp(b.name, "default")) {
		resp_error(r, w, 400, "Security group name %s.",
		           b.name[0] ? "default is reserved" : "must not be empty");
		goto out;
	}
	if (ensure_default(r, w) < 0)
		goto out;
	uuid_generate_str(id);
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	long lim = net_quota_limit(r->ctx->db, r->ctx->auth.project_id, "security_group");
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT count(*) FROM net_secgroups WHERE project_id = $1",
	                  r->ctx->auth.project_id);
	long used = q ? db_long(q, 0, 0, 0) : 0;
	PQclear(q);
	if (lim >= 0 && used >= lim) {
		db_rollback(r->ctx->db);
		resp_error(r, w, 403, "Quota exceeded, too many security groups.");
		goto out;
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "WITH g AS (INSERT INTO net_secgroups (id, project_id, name, description) VALUES"
	        " ($1, $2, $3, $4) RETURNING id) INSERT INTO net_sg_rules (id, project_id, sg_id,"
	        " direction, ethertype) SELECT gen_random_uuid()::text, $2, g.id, 'egress', e FROM "
	        "g,"
	        " (VALUES ('IPv4'), ('IPv6')) AS x(e)",
	        id, r->ctx->auth.project_id, b.name, b.description) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		goto out;
	}
	json_t *g = sg_find(r, w, id);
	if (g)
		resp_json(w, 200, json_pack("{s:o}", "security_group", g));
out:
	jparse_release(f_sg, NSG, &b);
}

static void sg_update(struct req *r, struct resp *w)
{
	struct sg_body b = {0};
	char err[512];
	json_t *g;
	if (proxy_version_ok(r, w) < 0 ||
	    wire_parse_wrapped(r, w, "security_group", f_sg, NSG, &b) < 0)
		return;
	if ((g = sg_find(r, w, r->params[0]))) {
		if (!strcmp(json_string_value(json_object_get(g, "name")) ?: "", "default"))
			resp_error(r, w, 400, "Unable to update system group 'default'");
		else if (DBX(r->ctx->db, err, sizeof err,
		             "UPDATE net_secgroups SET name = $2, description = $3, updated_at = "
		             "now(),"
		             " revision = revision + 1 WHERE id = $1",
		             r->params[0], b.name, b.description) < 0)
			resp_db_error(r, w, err);
		else {
			json_decref(g);
			if ((g = sg_find(r, w, r->params[0])))
				resp_json(w, 200, json_pack("{s:o}", "security_group", g));
			g = NULL;
		}
		json_decref(g);
	}
	jparse_release(f_sg, NSG, &b);
}

static void sg_delete(struct req *r, struct resp *w)
{
	char err[512];
	json_t *g;
	if (proxy_version_ok(r, w) < 0 || !(g = sg_find(r, w, r->params[0])))
		return;
	int is_default = !strcmp(json_string_value(json_object_get(g, "name")) ?: "", "default");
	json_decref(g);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT count(*) FROM net_port_sgs WHERE sg_id = $1", r->params[0]);
	long used = q ? db_long(q, 0, 0, 0) : 0;
	PQclear(q);
	if (is_default)
		resp_error(r, w, 400, "Removing default security group not allowed.");
	else if (used > 0)
		resp_error(r, w, 400, "Security group is still in use");
	else if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_secgroups WHERE id = $1",
	             r->params[0]) < 0 ||
	         net_touch(r->ctx->db, r->id, err, sizeof err) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 202);
}

/* ---- rules ---- */

struct rule_body {
	char *parent, *protocol, *cidr, *group;
	char *from, *to;
};
static const struct jfield f_rule[] = {
    {"parent_group_id", J_STR_OR_INT, JF(struct rule_body, parent), 0, 64, 1, 0, 0},
    {"ip_protocol", J_STR, JF(struct rule_body, protocol), 0, 16, 0, 1, 0},
    {"cidr", J_STR, JF(struct rule_body, cidr), 0, 64, 0, 1, 0},
    {"group_id", J_STR_OR_INT, JF(struct rule_body, group), 0, 64, 0, 1, 0},
    {"from_port", J_STR_OR_INT, JF(struct rule_body, from), 0, 16, 0, 1, 0},
    {"to_port", J_STR_OR_INT, JF(struct rule_body, to), 0, 16, 0, 1, 0},
};
#define NRULE (sizeof(f_rule) / sizeof(f_rule[0]))

static int port_num(const char *s, long *out)
{
	char *end;
	if (!s) {
		*out = -2;
		return 0;
	}
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < -1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

static void rule_create(struct req *r, struct resp *w)
{
	struct rule_body b = {0};
	char err[512], state[8] = "", id[UUID_STR_LEN], pmin[24], pmax[24], cidr[64] = "";
	long from, to;
	json_t *g = NULL;
	if (proxy_version_ok(r, w) < 0 ||
	    wire_parse_wrapped(r, w, "security_group_rule", f_rule, NRULE, &b) < 0)
		return;
	if (port_num(b.from, &from) < 0 || port_num(b.to, &to) < 0) {
		resp_error(r, w, 400, "Invalid port range.");
		goto out;
	}
	const char *proto = b.protocol;
	if (proto) {
		for (char *c = b.protocol; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "icmp")) {
			resp_error(r, w, 400, "Invalid IP protocol %s.", proto);
			goto out;
		}
		if (strcmp(proto, "icmp") &&
		    (from < 1 || to < 1 || from > to || (b.from == NULL) != (b.to == NULL))) {
			resp_error(r, w, 400, "Invalid port range %ld:%ld.", from, to);
			goto out;
		}
		if (!strcmp(proto, "icmp") && (from > 255 || to > 255)) {
			resp_error(r, w, 400, "Invalid ICMP type or code.");
			goto out;
		}
	} else if (b.from || b.to) {
		resp_error(r, w, 400, "Invalid IP protocol for a port range.");
		goto out;
	}
	if (b.cidr && b.group) {
		resp_error(r, w, 400, "Only cidr or group_id may be given.");
		goto out;
	}
	if (b.cidr) {
		unsigned a;
		int l;
		if (!net_cidr_parse(b.cidr, &a, &l)) {
			resp_error(r, w, 400, "Invalid cidr %s.", b.cidr);
			goto out;
		}
		char s[16];
		net_ip_str(a, s);
		snprintf(cidr, sizeof cidr, "%s/%d", s, l);
	}
	if (!(g = sg_find(r, w, b.parent)))
		goto out;
	json_decref(g);
	if (b.group && !(g = sg_find(r, w, b.group)))
		goto out;
	json_decref(g);
	snprintf(pmin, sizeof pmin, "%ld", proto && from >= 0 ? from : -1);
	snprintf(pmax, sizeof pmax, "%ld", proto && to >= 0 ? to : -1);
	uuid_generate_str(id);
	PGresult *q = db_query(
	    r->ctx->db,
	    "INSERT INTO net_sg_rules (id, project_id, sg_id, direction, ethertype, protocol,"
	    " port_min, port_max, remote_ip_prefix, remote_group_id, remote_ip_given) SELECT $1,"
	    " project_id, id, 'ingress', 'IPv4', $3, nullif($4::int, -1), nullif($5::int, -1),"
	    " $6::cidr, $7, $8 FROM net_secgroups WHERE id = $2",
	    8,
	    (const char *const[]){id, b.parent, proto, pmin, pmax,
	                          cidr[0] ? cidr : (b.group ? NULL : "0.0.0.0/0"), b.group,
	                          cidr[0] ? b.cidr : NULL},
	    err, sizeof err, state);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE))
			resp_error(r, w, 400, "This rule already exists in group %s", b.parent);
		else
			resp_db_error(r, w, err);
		goto out;
	}
	PQclear(q);
	net_touch(r->ctx->db, r->id, err, sizeof err);
	q = DBQ(r->ctx->db, err, sizeof err,
	        "SELECT json_build_object('id', r.id, 'parent_group_id', r.sg_id, 'ip_protocol',"
	        " r.protocol, 'from_port', r.port_min, 'to_port', r.port_max, 'ip_range',"
	        " CASE WHEN r.remote_group_id IS NULL THEN json_build_object('cidr',"
	        " coalesce(r.remote_ip_given, r.remote_ip_prefix::text)) ELSE '{}'::json END,"
	        " 'group', CASE WHEN"
	        " r.remote_group_id IS NULL THEN '{}'::json ELSE json_build_object('name', (SELECT"
	        " name FROM net_secgroups WHERE id = r.remote_group_id), 'tenant_id', r.project_id)"
	        " END)::text FROM net_sg_rules r WHERE r.id = $1",
	        id);
	if (q && PQntuples(q) == 1)
		resp_json(w, 200,
		          json_pack("{s:o}", "security_group_rule",
		                    json_loads(PQgetvalue(q, 0, 0), 0, NULL)));
	else
		resp_db_error(r, w, err);
	PQclear(q);
out:
	jparse_release(f_rule, NRULE, &b);
}

static void rule_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (proxy_version_ok(r, w) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM net_sg_rules WHERE id = $1 AND (project_id = $2 OR $3::boolean)",
	            r->params[0], r->ctx->auth.project_id,
	            policy_is_admin(&r->ctx->auth) ? "true" : "false");
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0)
		resp_error(r, w, 404, "Rule (%s) not found", r->params[0]);
	else {
		net_touch(r->ctx->db, r->id, err, sizeof err);
		resp_empty(w, 202);
	}
}

/* ---- servers ---- */

static void server_sg_list(struct req *r, struct resp *w)
{
	PGresult *s = server_find(r, w, r->params[0], 0);
	if (!s)
		return;
	PQclear(s);
	json_t *l =
	    groups_query(r, w,
	                 "g.id IN (SELECT ps.sg_id FROM net_port_sgs ps JOIN net_ports p ON"
	                 " p.id = ps.port_id WHERE p.device_id = $1 AND" SERVER_NIC_SQL("p") ")",
	                 r->params[0]);
	if (l)
		resp_json(w, 200, json_pack("{s:o}", "security_groups", l));
}

void network_proxy_sg_action(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	char err[512];
	const char *name = json_string_value(json_object_get(arg, "name"));
	int add = !strcmp(key, "addSecurityGroup");
	if (proxy_version_ok(r, w) < 0)
		return;
	if (!json_is_object(arg) || !name || !*name) {
		resp_error(r, w, 400, "Security group name cannot be empty");
		return;
	}
	PGresult *s = server_find(r, w, r->params[0], 0);
	if (!s)
		return;
	PQclear(s);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT id FROM net_secgroups WHERE (name = $1 OR id = $1) AND"
	                  " project_id = $2 ORDER BY (id = $1) DESC LIMIT 1",
	                  name, r->ctx->auth.project_id);
	if (!q || PQntuples(q) != 1) {
		if (q)
			resp_error(r, w, 404, "Security group %s not found for project %s.", name,
			           r->ctx->auth.project_id);
		else
			resp_db_error(r, w, err);
		PQclear(q);
		return;
	}
	char sg[96];
	snprintf(sg, sizeof sg, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	q = DBQ(r->ctx->db, err, sizeof err,
	        "SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM net_port_sgs ps"
	        " WHERE ps.port_id = p.id AND ps.sg_id = $2)) FROM net_ports p WHERE"
	        " p.device_id = $1 AND" SERVER_NIC_SQL("p") "AND p.port_security",
	        r->params[0], sg);
	long ports = q ? db_long(q, 0, 0, 0) : 0, with = q ? db_long(q, 0, 1, 0) : 0;
	PQclear(q);
	if (ports == 0) {
		resp_error(r, w, 400, "Server %s has no network port for a security group.",
		           r->params[0]);
		return;
	}
	if (add && with == ports) {
		resp_error(r, w, 400,
		           "Security group %s is already associated with the instance %s", name,
		           r->params[0]);
		return;
	}
	if (!add && with == 0) {
		resp_error(r, w, 400, "Security group %s not associated with the instance %s", name,
		           r->params[0]);
		return;
	}
	int n = add ? DBX(r->ctx->db, err, sizeof err,
	                  "INSERT INTO net_port_sgs SELECT p.id, $2 FROM net_ports p WHERE"
	                  " p.device_id = $1 AND" SERVER_NIC_SQL("p") "AND p.port_security"
	                                                              " ON CONFLICT DO NOTHING",
	                  r->params[0], sg)
	            : DBX(r->ctx->db, err, sizeof err,
	                  "DELETE FROM net_port_sgs WHERE sg_id = $2 AND port_id IN (SELECT id FROM"
	                  " net_ports p WHERE p.device_id = $1 AND" SERVER_NIC_SQL("p") ")",
	                  r->params[0], sg);
	if (n < 0 || net_touch(r->ctx->db, r->id, err, sizeof err) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 202);
}

/* ---- networks ---- */

static const char net_sql[] =
    "SELECT json_build_object('id', n.id, 'label', n.name, 'cidr', (SELECT s.cidr::text FROM"
    " net_subnets s WHERE s.network_id = n.id ORDER BY s.created_at LIMIT 1))::text FROM"
    " net_networks n WHERE (n.project_id = $1 OR n.shared OR $2::boolean)";

static void networks_list(struct req *r, struct resp *w)
{
	char err[512], sql[1024];
	if (proxy_version_ok(r, w) < 0)
		return;
	snprintf(sql, sizeof sql, "%s ORDER BY n.created_at, n.id", net_sql);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, r->ctx->auth.project_id,
	                  policy_is_admin(&r->ctx->auth) ? "true" : "false");
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *l = json_array();
	for (int i = 0; i < PQntuples(q); i++)
		json_array_append_new(l, json_loads(PQgetvalue(q, i, 0), 0, NULL));
	PQclear(q);
	resp_json(w, 200, json_pack("{s:o}", "networks", l));
}

static void networks_show(struct req *r, struct resp *w)
{
	char err[512], sql[1024];
	if (proxy_version_ok(r, w) < 0)
		return;
	snprintf(sql, sizeof sql, "%s AND n.id = $3", net_sql);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, r->ctx->auth.project_id,
	                  policy_is_admin(&r->ctx->auth) ? "true" : "false", r->params[0]);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(q) == 1)
		resp_json(w, 200,
		          json_pack("{s:o}", "network", json_loads(PQgetvalue(q, 0, 0), 0, NULL)));
	else
		resp_error(r, w, 404, "Network %s could not be found.", r->params[0]);
	PQclear(q);
}

static const struct httpd_route proxy_routes[] = {
    {"GET", "/compute/v2.1/os-security-groups", sg_list, POL_COMPUTE_READ, 0},
    {"POST", "/compute/v2.1/os-security-groups", sg_create, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/os-security-groups/{}", sg_show, POL_COMPUTE_READ, 0},
    {"PUT", "/compute/v2.1/os-security-groups/{}", sg_update, POL_COMPUTE_WRITE, 0},
    {"DELETE", "/compute/v2.1/os-security-groups/{}", sg_delete, POL_COMPUTE_WRITE, 0},
    {"POST", "/compute/v2.1/os-security-group-rules", rule_create, POL_COMPUTE_WRITE, 0},
    {"DELETE", "/compute/v2.1/os-security-group-rules/{}", rule_delete, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/servers/{}/os-security-groups", server_sg_list, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/os-networks", networks_list, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/os-networks/{}", networks_show, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/os-tenant-networks", networks_list, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/os-tenant-networks/{}", networks_show, POL_COMPUTE_READ, 0},
};
HTTPD_TABLE(network_proxy_routes, proxy_routes, &compute_hooks);

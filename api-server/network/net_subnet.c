/* Subnets (/v2.0/subnets): IPv4 only. The CIDR, gateway, allocation pools, DNS
 * servers and host routes are validated here, before anything is written; a network's
 * subnets never overlap; a DHCP-enabled subnet gives the network's DHCP port an
 * address in it (net_port.c allocates). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

#define SUBNET_MAX_POOLS 16
#define SUBNET_MAX_DNS 5
#define SUBNET_MAX_ROUTES 20

static const char *const subnet_filters[] = {
    "id",   "name",       "tenant_id",  "project_id",  "description",   "network_id",
    "cidr", "gateway_ip", "ip_version", "enable_dhcp", "subnetpool_id", "revision_number",
    NULL};
static const char *const subnet_bools[] = {"enable_dhcp", NULL};

const struct net_res net_res_subnet = {"Subnet",
                                       "Subnet %s could not be found.",
                                       "subnet",
                                       "subnets",
                                       "net_subnets_v",
                                       1,
                                       subnet_filters,
                                       subnet_bools,
                                       NULL};

struct subnet_in {
	char *name, *description, *project_id, *tenant_id, *network_id, *cidr, *gateway_ip;
	char *subnetpool_id;
	long ip_version, prefixlen;
	int enable_dhcp;
	int gateway_null; /* "gateway_ip": null */
	json_t *pools, *dns, *routes;
};

#define F(m) JF(struct subnet_in, m)
static const struct jfield subnet_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"network_id", J_STR, F(network_id), 0, 64, 0, 1, 0},
    {"cidr", J_STR, F(cidr), 0, 64, 0, 1, 0},
    {"gateway_ip", J_STR, F(gateway_ip), 0, 64, 0, 1, 0},
    {"ip_version", J_INT, F(ip_version), 0, 99, 0, 1, 0},
    {"enable_dhcp", J_BOOL, F(enable_dhcp), 0, 0, 0, 1, 0},
    {"allocation_pools", J_ARRAY, F(pools), 0, 0, 0, 1, 0},
    {"dns_nameservers", J_ARRAY, F(dns), 0, 0, 0, 1, 0},
    {"host_routes", J_ARRAY, F(routes), 0, 0, 0, 1, 0},
    {"subnetpool_id", J_STR, F(subnetpool_id), 0, 64, 0, 1, 0},
    {"prefixlen", J_INT, F(prefixlen), 0, 32, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(subnet_fields) / sizeof(subnet_fields[0]))

static void subnet_in_init(struct subnet_in *in)
{
	memset(in, 0, sizeof(*in));
	in->ip_version = in->prefixlen = -1;
	in->enable_dhcp = -1;
}

/* Whether the body says "gateway_ip": null (no gateway). */
static int gateway_is_null(struct req *r)
{
	json_t *o = json_object_get(r->json, "subnet");
	json_t *g = o ? json_object_get(o, "gateway_ip") : NULL;
	return g && json_is_null(g);
}

static int bad(struct req *r, struct resp *w, const char *fmt, const char *a, const char *b)
{
	net_error(r, w, 400, "HTTPBadRequest", fmt, a, b);
	return -EINVAL;
}

struct pool {
	unsigned start, end;
};

/* Validates the pools against the cidr and gateway; fills out (n pools). */
static int pools_parse(struct req *r, struct resp *w, const json_t *pools, unsigned net, int plen,
                       int has_gw, unsigned gw, struct pool *out, int *n)
{
	unsigned first = net + 1, last = (plen == 32 ? net : (net | (0xffffffffu >> plen))) - 1;
	*n = 0;
	if (!pools) { /* the whole range but the gateway (split around it) */
		if (has_gw && gw > first && gw < last) {
			out[(*n)++] = (struct pool){first, gw - 1};
			out[(*n)++] = (struct pool){gw + 1, last};
		} else if (first <= last) {
			out[(*n)++] = (struct pool){first + (has_gw && gw == first),
			                            last - (has_gw && gw == last && gw != first)};
		}
		return 0;
	}
	if (!json_is_array(pools) || json_array_size(pools) > SUBNET_MAX_POOLS)
		return bad(r, w, "Invalid input for allocation_pools. Reason: %s%s",
		           "must be a list of at most 16 {start, end}", "");
	size_t i;
	json_t *p;
	json_array_foreach(pools, i, p)
	{
		const char *s = json_string_value(json_object_get(p, "start"));
		const char *e = json_string_value(json_object_get(p, "end"));
		unsigned a, b;
		if (!net_ip_parse(s, &a) || !net_ip_parse(e, &b))
			return bad(r, w, "Invalid input for allocation_pools. Reason: %s%s",
			           "start and end must be IPv4 addresses", "");
		if (a > b || a < first || b > last)
			return bad(r, w,
			           "The allocation pool %s-%s spans beyond the subnet cidr or is "
			           "reversed.",
			           s, e);
		if (has_gw && gw >= a && gw <= b) {
			net_error(r, w, 409, "GatewayConflictWithAllocationPools",
			          "Gateway ip %s conflicts with allocation pool %s-%s",
			          json_string_value(json_object_get(p, "start")), s, e);
			return -EINVAL;
		}
		for (int j = 0; j < *n; j++)
			if (!(b < out[j].start || a > out[j].end))
				return bad(r, w, "Found overlapping allocation pools: %s %s", s, e);
		out[(*n)++] = (struct pool){a, b};
	}
	return 0;
}

static json_t *pools_json(const struct pool *p, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		char s[16], e[16];
		net_ip_str(p[i].start, s);
		net_ip_str(p[i].end, e);
		json_array_append_new(a, json_pack("{s:s,s:s}", "start", s, "end", e));
	}
	return a;
}

/* dns_nameservers: IPv4 addresses, no duplicates. Returns a new array or NULL (answered). */
static json_t *dns_parse(struct req *r, struct resp *w, const json_t *dns)
{
	if (!json_is_array(dns) || json_array_size(dns) > SUBNET_MAX_DNS) {
		bad(r, w, "Invalid input for dns_nameservers. Reason: %s%s",
		    "must be a list of at most 5 addresses", "");
		return NULL;
	}
	json_t *out = json_array();
	size_t i, j;
	json_t *v, *u;
	json_array_foreach(dns, i, v)
	{
		unsigned a;
		const char *s = json_string_value(v);
		if (!net_ip_parse(s, &a)) {
			bad(r, w,
			    "Invalid input for dns_nameservers. Reason: '%s' is not a valid "
			    "nameserver.%s",
			    s ? s : "?", "");
			json_decref(out);
			return NULL;
		}
		json_array_foreach(out, j, u) if (!strcmp(json_string_value(u), s))
		{
			bad(r, w,
			    "Invalid input for dns_nameservers. Reason: Duplicate nameserver "
			    "'%s'.%s",
			    s, "");
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, json_string(s));
	}
	return out;
}

/* host_routes: [{destination: cidr, nexthop: ip}]. A new array or NULL (answered). */
static json_t *routes_parse(struct req *r, struct resp *w, const json_t *routes)
{
	if (!json_is_array(routes) || json_array_size(routes) > SUBNET_MAX_ROUTES) {
		bad(r, w, "Invalid input for host_routes. Reason: %s%s",
		    "must be a list of at most 20 routes", "");
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(routes, i, v)
	{
		const char *d = json_string_value(json_object_get(v, "destination"));
		const char *h = json_string_value(json_object_get(v, "nexthop"));
		unsigned a, b;
		int l;
		if (!net_cidr_parse(d, &a, &l) || !net_ip_parse(h, &b)) {
			bad(r, w, "Invalid input for host_routes. Reason: %s%s",
			    "each route needs a destination CIDR and a nexthop address", "");
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, json_pack("{s:s,s:s}", "destination", d, "nexthop", h));
	}
	return out;
}

struct subnet_create {
	struct subnet_in in;
	char id[UUID_STR_LEN];
	const char *project;
	char cidr[24], gw[16];
	int has_gw;
	json_t *pools, *dns, *routes; /* owned */
};

/* Gives the network's DHCP port (made on first need) an address in subnet_id. */
static int subnet_dhcp_port(struct req *r, struct resp *w, PGconn *db, const char *network_id,
                            const char *project, const char *subnet_id)
{
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT id FROM net_ports WHERE network_id = $1 AND"
	                  " device_owner = 'network:dhcp' LIMIT 1",
	                  network_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int have = PQntuples(q) == 1;
	char pid[UUID_STR_LEN] = "";
	if (have)
		snprintf(pid, sizeof pid, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	json_t *fixed = json_pack("[{s:s}]", "subnet_id", subnet_id);
	int rc;
	if (!have) {
		char dev[64];
		snprintf(dev, sizeof dev, "dhcp-%s", network_id);
		struct net_port_new p = {.project_id = project,
		                         .network_id = network_id,
		                         .device_id = dev,
		                         .device_owner = "network:dhcp",
		                         .fixed_ips = fixed,
		                         .port_security = 0,
		                         .admin_state_up = 1,
		                         .skip_sgs = 1,
		                         .no_ip_is_error = 1};
		rc = net_port_create_tx(r, w, db, &p, pid);
	} else {
		/* one more address on the existing port: the allocator of port create */
		q = DBQ(db, err, sizeof err,
		        "INSERT INTO net_ips (subnet_id, ip, port_id)"
		        " SELECT $1, x.a, $2 FROM net_subnets s, jsonb_array_elements(s.pools) p,"
		        " LATERAL generate_series(0, (p->>'end')::inet - (p->>'start')::inet) g,"
		        " LATERAL (SELECT (p->>'start')::inet + g AS a) x WHERE s.id = $1 AND NOT"
		        " EXISTS (SELECT 1 FROM net_ips i WHERE i.subnet_id = $1 AND i.ip = x.a)"
		        " LIMIT 1 RETURNING 1",
		        subnet_id, pid);
		rc = q ? 0 : -EIO;
		if (!q)
			resp_db_error(r, w, err);
		PQclear(q);
	}
	json_decref(fixed);
	return rc;
}

static int subnet_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct subnet_create *c = arg;
	struct subnet_in *in = &c->in;
	PGconn *db = r->ctx->db;
	char err[512];
	if (net_quota_take(r, w, db, c->project, "subnet",
	                   "SELECT count(*) FROM net_subnets WHERE project_id = $1") < 0)
		return -EDQUOT;
	/* the network row is locked so that two subnets cannot both pass the overlap check */
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT s.id, s.cidr::text FROM net_networks n LEFT JOIN net_subnets s ON"
	        " s.network_id = n.id AND s.cidr && $2::cidr WHERE n.id = $1 FOR UPDATE OF n",
	        in->network_id, c->cidr);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int clash = PQntuples(q) > 0 && !PQgetisnull(q, 0, 0);
	PQclear(q);
	if (clash) {
		net_error(
		    r, w, 400, "InvalidInput",
		    "Invalid input for operation: Requested subnet with cidr: %s for network: "
		    "%s overlaps with another subnet.",
		    c->cidr, in->network_id);
		return -EINVAL;
	}
	char *pools = json_dumps(c->pools, JSON_COMPACT), *dns = json_dumps(c->dns, JSON_COMPACT),
	     *routes = json_dumps(c->routes, JSON_COMPACT);
	uuid_generate_str(c->id);
	int dhcp = in->enable_dhcp != 0;
	int n = DBX(
	    db, err, sizeof err,
	    "INSERT INTO net_subnets (id, project_id, network_id, name, description, cidr,"
	    " gateway_ip, enable_dhcp, pools, dns, routes) VALUES ($1, $2, $3, coalesce($4, ''),"
	    " coalesce($5, ''), $6::cidr, $7::inet, $8::boolean, $9::jsonb, $10::jsonb, "
	    "$11::jsonb)",
	    c->id, c->project, in->network_id, in->name, in->description, c->cidr,
	    c->has_gw ? c->gw : NULL, dhcp ? "true" : "false", pools, dns, routes);
	free(pools);
	free(dns);
	free(routes);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (in->subnetpool_id &&
	    net_subnetpool_claim_tx(r, w, db, in->subnetpool_id, c->id, c->cidr) < 0)
		return -EBUSY;
	if (dhcp && subnet_dhcp_port(r, w, db, in->network_id, c->project, c->id) < 0)
		return -EIO;
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void subnet_create(struct req *r, struct resp *w)
{
	if (net_bulk(r, w, &net_res_subnet, subnet_create))
		return;
	struct subnet_create c = {.pools = NULL};
	subnet_in_init(&c.in);
	struct subnet_in *in = &c.in;
	struct pool pools[SUBNET_MAX_POOLS + 1];
	int npools = 0;
	char nproject[96];
	int pool_locked = 0; /* held until the subnet is committed (or not) */
	if (wire_parse_wrapped(r, w, "subnet", subnet_fields, NFIELDS, in) < 0)
		return;
	if (!in->network_id) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Failed to parse request. Required attribute "
		          "'network_id' not specified");
		goto out;
	}
	if (in->ip_version == 6) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: IPv6 subnets are not supported.");
		goto out;
	}
	if (in->ip_version != 4 && in->ip_version != -1) {
		net_error(
		    r, w, 400, "HTTPBadRequest",
		    "Invalid input for ip_version. Reason: %ld is not in valid_values [4, 6].",
		    in->ip_version);
		goto out;
	}
	if (in->subnetpool_id) {
		char chosen[24];
		if (net_subnetpool_lock(r->ctx->db, in->subnetpool_id, 1) < 0) {
			resp_db_error(r, w, "subnet pool lock failed");
			goto out;
		}
		pool_locked = 1;
		if (net_subnetpool_choose(r, w, r->ctx->db, in->subnetpool_id, in->cidr,
		                          in->prefixlen, chosen) < 0)
			goto out;
		free(in->cidr);
		in->cidr = xstrdup(chosen);
	}
	if (!in->cidr) {
		net_error(
		    r, w, 400, "BadRequest",
		    "Bad subnets request: a cidr must be specified in the absence of a subnet "
		    "pool.");
		goto out;
	}
	unsigned net, gw = 0;
	int plen;
	if (!net_cidr_parse(in->cidr, &net, &plen)) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for cidr. Reason: '%s' is not a valid IP subnet.",
		          in->cidr);
		goto out;
	}
	char canon[24], a[16];
	net_ip_str(net, a);
	snprintf(canon, sizeof canon, "%s/%d", a, plen);
	if (strcmp(canon, in->cidr)) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for cidr. Reason: '%s' isn't a recognized IP subnet cidr, "
		          "'%s' is recommended.",
		          in->cidr, canon);
		goto out;
	}
	if (plen > 30 || plen < 8) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: prefix length of %s must be 8 to 30.",
		          in->cidr);
		goto out;
	}
	snprintf(c.cidr, sizeof c.cidr, "%s", canon);
	c.has_gw = !gateway_is_null(r);
	if (c.has_gw && in->gateway_ip) {
		unsigned bcast = net | (0xffffffffu >> plen);
		if (!net_ip_parse(in->gateway_ip, &gw)) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for gateway_ip. Reason: '%s' is not a valid IP address.",
			    in->gateway_ip);
			goto out;
		}
		if (!net_cidr_overlap(gw, 32, net, plen) || gw == net || gw == bcast) {
			net_error(r, w, 400, "InvalidInput",
			          "Invalid input for operation: Gateway is not valid on subnet.");
			goto out;
		}
	} else if (c.has_gw) {
		gw = net + 1;
	}
	if (c.has_gw)
		net_ip_str(gw, c.gw);
	if (pools_parse(r, w, in->pools, net, plen, c.has_gw, gw, pools, &npools) < 0)
		goto out;
	c.pools = pools_json(pools, npools);
	if (!(c.dns = in->dns ? dns_parse(r, w, in->dns) : json_array()) ||
	    !(c.routes = in->routes ? routes_parse(r, w, in->routes) : json_array()))
		goto out;
	/* the network: the caller's (or admin); a subnet on another's shared network is not */
	if (net_owned(r, w, &net_res_network, "net_networks", in->network_id, nproject,
	              sizeof nproject) < 0)
		goto out;
	const char *asked =
	    net_create_project(r, w, in->project_id, in->tenant_id, "create_subnet");
	if (!asked)
		goto out;
	/* an admin who names no project makes it the network's */
	c.project = in->project_id || in->tenant_id || !net_is_admin(r) ? asked : nproject;
	if (net_tx(r, w, subnet_create_tx, &c) == 0)
		net_answer(r, w, &net_res_subnet, c.id, 201);
out:
	if (pool_locked)
		net_subnetpool_lock(r->ctx->db, in->subnetpool_id, 0);
	json_decref(c.pools);
	json_decref(c.dns);
	json_decref(c.routes);
	jparse_release(subnet_fields, NFIELDS, in);
}

static void subnet_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_subnet);
}

static void subnet_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_subnet, r->params[0]);
}

static void subnet_update(struct req *r, struct resp *w)
{
	struct subnet_in in;
	const char *id = r->params[0];
	char err[512];
	json_t *dns = NULL, *routes = NULL;
	char *dns_s = NULL, *routes_s = NULL;
	subnet_in_init(&in);
	if (wire_parse_wrapped(r, w, "subnet", subnet_fields, NFIELDS, &in) < 0)
		return;
	if (in.cidr || in.network_id || in.ip_version >= 0 || in.pools) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Cannot update read-only attribute cidr, network_id, ip_version or "
		          "allocation_pools");
		goto out;
	}
	if (net_owned(r, w, &net_res_subnet, "net_subnets", id, NULL, 0) < 0)
		goto out;
	if ((in.dns && !(dns = dns_parse(r, w, in.dns))) ||
	    (in.routes && !(routes = routes_parse(r, w, in.routes))))
		goto out;
	int gw_null = gateway_is_null(r);
	if (in.gateway_ip) {
		unsigned g;
		if (!net_ip_parse(in.gateway_ip, &g)) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for gateway_ip. Reason: '%s' is not a valid IP address.",
			    in.gateway_ip);
			goto out;
		}
		PGresult *q =
		    DBQ(r->ctx->db, err, sizeof err,
		        "SELECT $2::inet << cidr AND $2::inet <> host(broadcast(cidr))::inet"
		        " FROM net_subnets WHERE id = $1",
		        id, in.gateway_ip);
		int ok = q && PQntuples(q) == 1 && !strcmp(PQgetvalue(q, 0, 0), "t");
		PQclear(q);
		if (!ok) {
			net_error(r, w, 400, "InvalidInput",
			          "Invalid input for operation: Gateway is not valid on subnet.");
			goto out;
		}
	}
	dns_s = dns ? json_dumps(dns, JSON_COMPACT) : NULL;
	routes_s = routes ? json_dumps(routes, JSON_COMPACT) : NULL;
	char dh[8];
	snprintf(dh, sizeof dh, "%d", in.enable_dhcp);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_subnets SET name = coalesce($2, name),"
	        " description = coalesce($3, description),"
	        " gateway_ip = CASE WHEN $7 = 'null' THEN NULL ELSE coalesce($4::inet, gateway_ip) "
	        "END,"
	        " dns = coalesce($5::jsonb, dns), routes = coalesce($6::jsonb, routes),"
	        " enable_dhcp = CASE WHEN $8::int < 0 THEN enable_dhcp ELSE $8::int = 1 END,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        id, in.name, in.description, in.gateway_ip, dns_s, routes_s, gw_null ? "null" : "",
	        dh) < 0 ||
	    net_touch(r->ctx->db, r->id, err, sizeof err) < 0)
		resp_db_error(r, w, err);
	else
		net_answer(r, w, &net_res_subnet, id, 200);
out:
	free(dns_s);
	free(routes_s);
	json_decref(dns);
	json_decref(routes);
	jparse_release(subnet_fields, NFIELDS, &in);
}

static int subnet_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT count(*) FROM net_ips i JOIN net_ports p ON p.id = i.port_id"
	                  " WHERE i.subnet_id = $1 AND p.device_owner <> 'network:dhcp'",
	                  id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	long used = db_long(q, 0, 0, 0);
	PQclear(q);
	if (used > 0) {
		net_error(r, w, 409, "SubnetInUse",
		          "Unable to complete operation on subnet %s: One or more ports have an IP "
		          "allocation from this subnet.",
		          id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err, "DELETE FROM net_ips WHERE subnet_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err,
	        "DELETE FROM net_ports p WHERE p.device_owner = 'network:dhcp' AND p.network_id ="
	        " (SELECT network_id FROM net_subnets WHERE id = $1) AND NOT EXISTS"
	        " (SELECT 1 FROM net_ips i WHERE i.port_id = p.id)",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_subnets WHERE id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void subnet_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_subnet, "net_subnets", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, subnet_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

static const struct httpd_route subnet_route_list[] = {
    {"GET", "/network/v2.0/subnets", subnet_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/subnets", subnet_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/subnets/{}", subnet_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/subnets/{}", subnet_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/subnets/{}", subnet_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(subnet_routes, subnet_route_list, &network_hooks);

/* Ports (/v2.0/ports) and the allocator every port goes through: a MAC unique on its
 * network and fixed IPs whose (subnet, address) key makes a duplicate impossible; the
 * subnet row is locked while its next free address is chosen, so concurrent creates
 * get distinct addresses without retries. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

#define PORT_MAX_IPS 8
#define PORT_MAX_SGS 16
#define PORT_MAX_PAIRS 10

static const char *const port_filters[] = {"id",
                                           "name",
                                           "tenant_id",
                                           "project_id",
                                           "description",
                                           "network_id",
                                           "mac_address",
                                           "admin_state_up",
                                           "status",
                                           "device_id",
                                           "device_owner",
                                           "binding:host_id",
                                           "port_security_enabled",
                                           "revision_number",
                                           NULL};
static const char *const port_bools[] = {"admin_state_up", "port_security_enabled", NULL};
static const char *const port_admin_only[] = {"binding:host_id", "binding:vif_type",
                                              "binding:vif_details", "binding:profile", NULL};

const struct net_res net_res_port = {"Port",         "Port %s could not be found.",
                                     "port",         "ports",
                                     "net_ports_v",  0,
                                     port_filters,   port_bools,
                                     port_admin_only};

static int mac_valid(const char *s)
{
	if (!s || strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdefABCDEF", s[i]))
			return 0;
	return 1;
}

static void mac_random(char out[18])
{
	unsigned char b[3];
	randombytes_buf(b, sizeof b);
	snprintf(out, 18, "fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2]);
}

/* One fixed IP of the request: a subnet, an address, or both, on network_id. */
static int ip_take(struct req *r, struct resp *w, PGconn *db, const char *network_id,
                   const char *port_id, const char *subnet_id, const char *ip,
                   const char *device_owner)
{
	char err[512], state[8] = "";
	PGresult *q;
	if (ip) {
		unsigned a;
		if (!net_ip_parse(ip, &a)) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for fixed_ips. Reason: '%s' is not a valid IP address.",
			    ip);
			return -EINVAL;
		}
		/* the subnet of the address when none was named */
		q = DBQ(
		    db, err, sizeof err,
		    "SELECT id, host(gateway_ip) = $3 AND $4 NOT LIKE 'network:router%', $3::inet ="
		    " network(cidr) OR $3::inet = broadcast(cidr) FROM net_subnets WHERE"
		    " network_id = $1 AND ($2::text IS NULL OR id = $2) AND $3::inet << cidr"
		    " FOR UPDATE",
		    network_id, subnet_id, ip, device_owner ? device_owner : "");
		if (!q) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		if (PQntuples(q) != 1 || !strcmp(PQgetvalue(q, 0, 2), "t")) {
			PQclear(q);
			net_error(r, w, 400, "InvalidIpForNetwork",
			          "IP address %s is not a valid IP for any of the subnets on the "
			          "specified network.",
			          ip);
			return -EINVAL;
		}
		char sid[UUID_STR_LEN + 8];
		snprintf(sid, sizeof sid, "%s", PQgetvalue(q, 0, 0));
		int is_gw = !strcmp(PQgetvalue(q, 0, 1), "t");
		PQclear(q);
		if (is_gw) {
			net_error(
			    r, w, 409, "IpAddressInUse",
			    "Unable to complete operation for network %s. The IP address %s is in "
			    "use.",
			    network_id, ip);
			return -EEXIST;
		}
		q = db_query(db, "INSERT INTO net_ips (subnet_id, ip, port_id) VALUES ($1, $2, $3)",
		             3, (const char *const[]){sid, ip, port_id}, err, sizeof err, state);
		if (!q) {
			if (!strcmp(state, SQLSTATE_UNIQUE))
				net_error(r, w, 409, "IpAddressAlreadyAllocated",
				          "IP address %s already allocated in subnet %s", ip, sid);
			else
				resp_db_error(r, w, err);
			return -EEXIST;
		}
		PQclear(q);
		return 0;
	}
	/* lock the subnet(s), then take the first free pool address */
	q = DBQ(db, err, sizeof err,
	        "SELECT id FROM net_subnets WHERE network_id = $1 AND ($2::text IS NULL OR id = $2)"
	        " ORDER BY created_at, id FOR UPDATE",
	        network_id, subnet_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(q);
	PQclear(q);
	if (subnet_id && n == 0) {
		net_error(
		    r, w, 400, "InvalidInput",
		    "Invalid input for operation: Failed to create port on network %s, because "
		    "fixed_ips included invalid subnet %s.",
		    network_id, subnet_id);
		return -EINVAL;
	}
	if (n == 0)
		return 0; /* a network without subnets: a port without addresses */
	q = DBQ(db, err, sizeof err,
	        "INSERT INTO net_ips (subnet_id, ip, port_id)"
	        " SELECT s.id, x.a, $3 FROM net_subnets s, jsonb_array_elements(s.pools) p,"
	        " LATERAL generate_series(0, (p->>'end')::inet - (p->>'start')::inet) g,"
	        " LATERAL (SELECT (p->>'start')::inet + g AS a) x"
	        " WHERE s.network_id = $1 AND ($2::text IS NULL OR s.id = $2) AND NOT EXISTS"
	        " (SELECT 1 FROM net_ips i WHERE i.subnet_id = s.id AND i.ip = x.a)"
	        " LIMIT 1 RETURNING 1",
	        network_id, subnet_id, port_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int got = PQntuples(q);
	PQclear(q);
	if (!got) {
		net_error(r, w, 409, "IpAddressGenerationFailure",
		          "No more IP addresses available on network %s.", network_id);
		return -ENOSPC;
	}
	return 0;
}

/* Security groups of a port: each must be visible to project. NULL: the default. */
static int sgs_set(struct req *r, struct resp *w, PGconn *db, const char *port_id,
                   const char *project, const json_t *sgs)
{
	char err[512], def[UUID_STR_LEN] = "";
	if (DBX(db, err, sizeof err, "DELETE FROM net_port_sgs WHERE port_id = $1", port_id) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (!sgs) {
		if (net_default_sg(db, project, def, err, sizeof err) < 0 ||
		    DBX(db, err, sizeof err, "INSERT INTO net_port_sgs VALUES ($1, $2)", port_id,
		        def) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		return 0;
	}
	if (!json_is_array(sgs) || json_array_size(sgs) > PORT_MAX_SGS) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for security_groups. Reason: must be a list of ids.");
		return -EINVAL;
	}
	size_t i;
	json_t *v;
	json_array_foreach(sgs, i, v)
	{
		const char *sg = json_string_value(v);
		if (!sg || strlen(sg) > 64) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for security_groups. Reason: must be a list of ids.");
			return -EINVAL;
		}
		int n =
		    DBX(db, err, sizeof err,
		        "INSERT INTO net_port_sgs SELECT $1, id FROM net_secgroups WHERE id = $2"
		        " AND (project_id = $3 OR $4::boolean) ON CONFLICT DO NOTHING",
		        port_id, sg, project, net_is_admin(r) ? "true" : "false");
		if (n < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		if (n == 0) {
			PGresult *q =
			    DBQ(db, err, sizeof err,
			        "SELECT 1 FROM net_port_sgs WHERE port_id = $1 AND sg_id = $2",
			        port_id, sg);
			int dup = q && PQntuples(q) == 1;
			PQclear(q);
			if (!dup) {
				net_error(r, w, 404, "SecurityGroupNotFound",
				          "Security group %s does not exist", sg);
				return -ENOENT;
			}
		}
	}
	return 0;
}

/* allowed_address_pairs: [{ip_address: ip or cidr, mac_address?}] as stored JSON
 * (new reference), or NULL after answering. */
static json_t *pairs_parse(struct req *r, struct resp *w, const json_t *pairs, const char *mac)
{
	if (!json_is_array(pairs) || json_array_size(pairs) > PORT_MAX_PAIRS) {
		net_error(
		    r, w, 400, "HTTPBadRequest",
		    "Invalid input for allowed_address_pairs. Reason: must be a list of at most "
		    "10 pairs.");
		return NULL;
	}
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(pairs, i, v)
	{
		const char *ip = json_string_value(json_object_get(v, "ip_address"));
		const char *m = json_string_value(json_object_get(v, "mac_address"));
		unsigned a;
		int l;
		if (!ip || (!net_ip_parse(ip, &a) && !net_cidr_parse(ip, &a, &l)) ||
		    (m && !mac_valid(m))) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for allowed_address_pairs. Reason: '%s' is not a valid "
			    "address pair.",
			    ip ? ip : "?");
			json_decref(out);
			return NULL;
		}
		json_array_append_new(
		    out, json_pack("{s:s,s:s}", "ip_address", ip, "mac_address", m ? m : mac));
	}
	return out;
}

int net_port_create_tx(struct req *r, struct resp *w, PGconn *db, const struct net_port_new *p,
                       char id[UUID_STR_LEN])
{
	char err[512], state[8] = "", mac[18];
	json_t *pairs = NULL;
	int rc = -EIO;
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT port_security FROM net_networks WHERE id = $1 FOR SHARE", p->network_id);
	if (!q || PQntuples(q) != 1) {
		if (q)
			net_not_found(r, w, &net_res_network, p->network_id);
		else
			resp_db_error(r, w, err);
		PQclear(q);
		return q ? -ENOENT : -EIO;
	}
	int port_security =
	    p->port_security >= 0 ? p->port_security : !strcmp(PQgetvalue(q, 0, 0), "t");
	PQclear(q);
	if (p->mac) {
		if (!mac_valid(p->mac)) {
			net_error(r, w, 400, "HTTPBadRequest",
			          "Invalid input for mac_address. Reason: '%s' is not a valid MAC "
			          "address.",
			          p->mac);
			return -EINVAL;
		}
		snprintf(mac, sizeof mac, "%s", p->mac);
		for (char *c = mac; *c; c++)
			if (*c >= 'A' && *c <= 'F')
				*c = (char)(*c - 'A' + 'a');
	} else {
		mac_random(mac);
	}
	if (!port_security && !p->skip_sgs &&
	    ((p->security_groups && json_array_size(p->security_groups) > 0) ||
	     (p->pairs && json_array_size(p->pairs) > 0))) {
		net_error(
		    r, w, 409, "PortSecurityAndIPRequiredForSecurityGroups",
		    "Port security must be enabled and port must have an IP address in order to "
		    "use security groups or allowed address pairs.");
		return -EINVAL;
	}
	if (p->pairs && !(pairs = pairs_parse(r, w, p->pairs, mac)))
		return -EINVAL;
	char *pairs_s = json_dumps(pairs ? pairs : json_array(), JSON_COMPACT);
	uuid_generate_str(id);
	/* created_at is the clock's, not the transaction's: a server's NICs are made in one
	 * transaction, and their order (the first NIC gets addFloatingIp's address) is the
	 * order of created_at; with now() they tied and the port id decided. */
	q = db_query(
	    db,
	    "INSERT INTO net_ports (id, project_id, network_id, name, description, mac,"
	    " admin_state_up, device_id, device_owner, port_security, pairs, host, created_at)"
	    " VALUES ($1, $2, $3, coalesce($4, ''), coalesce($5, ''), $6, $7::boolean,"
	    " coalesce($8, ''), coalesce($9, ''), $10::boolean, $11::jsonb, coalesce($12, ''),"
	    " clock_timestamp())",
	    12,
	    (const char *const[]){id, p->project_id, p->network_id, p->name, p->description, mac,
	                          p->admin_state_up ? "true" : "false", p->device_id,
	                          p->device_owner, port_security ? "true" : "false", pairs_s,
	                          p->host},
	    err, sizeof err, state);
	free(pairs_s);
	json_decref(pairs);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE))
			net_error(
			    r, w, 409, "MacAddressInUse",
			    "Unable to complete operation for network %s. The mac address %s is in "
			    "use.",
			    p->network_id, mac);
		else
			resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(q);
	if (p->fixed_ips) {
		if (!json_is_array(p->fixed_ips) || json_array_size(p->fixed_ips) > PORT_MAX_IPS) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for fixed_ips. Reason: must be a list of at most 8.");
			return -EINVAL;
		}
		size_t i;
		json_t *v;
		json_array_foreach(p->fixed_ips, i, v)
		{
			const char *sid = json_string_value(json_object_get(v, "subnet_id"));
			const char *ip = json_string_value(json_object_get(v, "ip_address"));
			if (!json_is_object(v) || (!sid && !ip)) {
				net_error(r, w, 400, "HTTPBadRequest",
				          "Invalid input for fixed_ips. Reason: each needs a "
				          "subnet_id or "
				          "an ip_address.");
				return -EINVAL;
			}
			if ((rc = ip_take(r, w, db, p->network_id, id, sid, ip, p->device_owner)) <
			    0)
				return rc;
		}
	} else if ((rc = ip_take(r, w, db, p->network_id, id, NULL, NULL, p->device_owner)) < 0) {
		return rc;
	}
	if (!p->skip_sgs && port_security &&
	    (rc = sgs_set(r, w, db, id, p->project_id, p->security_groups)) < 0)
		return rc;
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

/* ---- the API ---------------------------------------------------------------------- */

struct port_in {
	char *name, *description, *project_id, *tenant_id, *network_id, *mac, *device_id,
	    *device_owner, *host;
	int admin_state_up, port_security;
	json_t *fixed_ips, *sgs, *pairs;
};

#define F(m) JF(struct port_in, m)
static const struct jfield port_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"network_id", J_STR, F(network_id), 0, 64, 0, 1, 0},
    {"mac_address", J_STR, F(mac), 0, 32, 0, 1, 0},
    {"device_id", J_STR, F(device_id), 0, 255, 0, 1, 0},
    {"device_owner", J_STR, F(device_owner), 0, 255, 0, 1, 0},
    {"binding:host_id", J_STR, F(host), 0, 255, 0, 1, 0},
    {"admin_state_up", J_BOOL, F(admin_state_up), 0, 0, 0, 1, 0},
    {"port_security_enabled", J_BOOL, F(port_security), 0, 0, 0, 1, 0},
    {"fixed_ips", J_ARRAY, F(fixed_ips), 0, 0, 0, 1, 0},
    {"security_groups", J_ARRAY, F(sgs), 0, 0, 0, 1, 0},
    {"allowed_address_pairs", J_ARRAY, F(pairs), 0, 0, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(port_fields) / sizeof(port_fields[0]))

static void port_in_init(struct port_in *in)
{
	memset(in, 0, sizeof(*in));
	in->admin_state_up = in->port_security = -1;
}

struct port_create {
	struct port_in in;
	struct net_port_new p;
	char id[UUID_STR_LEN];
};

/* Neutron's network_device rule, and its router-tenant check of add_router_interface, for
 * what a non-admin writes by the port API: a device_owner network:* only on a network of
 * the port's project, and network:router_* only with no device_id or one naming a router
 * of the port's project (netstate.c plugs every network:router_interface port into the
 * router its device_id names). 0, or 403 in Neutron's shape and < 0. */
static int port_device_check(struct req *r, struct resp *w, PGconn *db, const char *verb,
                             const char *project, const char *network_id, const char *device_id,
                             const char *device_owner)
{
	if (net_is_admin(r) || !device_owner || strncmp(device_owner, "network:", 8))
		return 0;
	const char *router =
	    strncmp(device_owner, "network:router_", 15) || !device_id || !*device_id ? NULL
	                                                                              : device_id;
	char err[512];
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT EXISTS (SELECT 1 FROM net_networks WHERE id = $1 AND project_id = $2) AND"
	        " ($3::text IS NULL OR EXISTS (SELECT 1 FROM net_routers WHERE id = $3 AND"
	        " project_id = $2))",
	        network_id, project, router);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int ok = !strcmp(PQgetvalue(q, 0, 0), "t");
	PQclear(q);
	if (ok)
		return 0;
	net_error(r, w, 403, "PolicyNotAuthorized",
	          "(rule:%s_port and rule:%s_port:device_owner) is disallowed by policy", verb,
	          verb);
	return -EPERM;
}

static int port_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct port_create *c = arg;
	if (port_device_check(r, w, r->ctx->db, "create", c->p.project_id, c->p.network_id,
	                      c->p.device_id, c->p.device_owner) < 0)
		return -EPERM;
	if (net_quota_take(r, w, r->ctx->db, c->p.project_id, "port",
	                   "SELECT count(*) FROM net_ports WHERE project_id = $1") < 0)
		return -EDQUOT;
	return net_port_create_tx(r, w, r->ctx->db, &c->p, c->id);
}

static void port_create(struct req *r, struct resp *w)
{
	if (net_bulk(r, w, &net_res_port, port_create))
		return;
	struct port_create c;
	port_in_init(&c.in);
	struct port_in *in = &c.in;
	if (wire_parse_wrapped(r, w, "port", port_fields, NFIELDS, in) < 0)
		return;
	if (!in->network_id) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Failed to parse request. Required attribute 'network_id' not specified");
		goto out;
	}
	const char *project =
	    net_create_project(r, w, in->project_id, in->tenant_id, "create_port");
	if (!project)
		goto out;
	if (in->host && !net_is_admin(r)) {
		net_error(r, w, 403, "PolicyNotAuthorized",
		          "(rule:create_port) is disallowed by policy");
		goto out;
	}
	json_t *seen = net_fetch(r, &net_res_network, in->network_id);
	if (!seen) {
		net_not_found(r, w, &net_res_network, in->network_id);
		goto out;
	}
	json_decref(seen);
	c.p = (struct net_port_new){
	    .project_id = project,
	    .network_id = in->network_id,
	    .name = in->name,
	    .description = in->description,
	    .device_id = in->device_id,
	    .device_owner = in->device_owner,
	    .fixed_ips = in->fixed_ips,
	    .security_groups = in->sgs,
	    .pairs = in->pairs,
	    .port_security = in->port_security,
	    .admin_state_up = in->admin_state_up != 0,
	    .mac = in->mac,
	    .host = in->host,
	};
	if (net_tx(r, w, port_create_tx, &c) == 0)
		net_answer(r, w, &net_res_port, c.id, 201);
out:
	jparse_release(port_fields, NFIELDS, in);
}

static void port_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_port);
}

static void port_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_port, r->params[0]);
}

struct port_update {
	struct port_in in;
	const char *id;
	char project[96];
};

static int port_update_tx(struct req *r, struct resp *w, void *arg)
{
	struct port_update *u = arg;
	struct port_in *in = &u->in;
	PGconn *db = r->ctx->db;
	char err[512], asu[8], ps[8];
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT network_id, mac, port_security, (SELECT count(*) FROM net_port_sgs"
	        " WHERE port_id = $1), jsonb_array_length(pairs), coalesce($2, device_id),"
	        " coalesce($3, device_owner) FROM net_ports WHERE id = $1 FOR UPDATE",
	        u->id, in->device_id, in->device_owner);
	if (!q || PQntuples(q) != 1) {
		resp_db_error(r, w, err);
		PQclear(q);
		return -EIO;
	}
	if (port_device_check(r, w, db, "update", u->project, PQgetvalue(q, 0, 0),
	                      PQgetvalue(q, 0, 5), PQgetvalue(q, 0, 6)) < 0) {
		PQclear(q);
		return -EPERM;
	}
	char network_id[96], mac[18];
	snprintf(network_id, sizeof network_id, "%s", PQgetvalue(q, 0, 0));
	snprintf(mac, sizeof mac, "%s", PQgetvalue(q, 0, 1));
	int cur_ps = !strcmp(PQgetvalue(q, 0, 2), "t");
	long nsg = db_long(q, 0, 3, 0), npairs = db_long(q, 0, 4, 0);
	PQclear(q);
	int ps_after = in->port_security >= 0 ? in->port_security : cur_ps;
	long sg_after = in->sgs ? (long)json_array_size(in->sgs) : nsg;
	long pairs_after = in->pairs ? (long)json_array_size(in->pairs) : npairs;
	if (!ps_after && (sg_after > 0 || pairs_after > 0)) {
		net_error(r, w, 409, "PortSecurityPortHasSecurityGroup",
		          "Port has security group associated. Cannot disable port security or ip "
		          "address until security group is removed");
		return -EINVAL;
	}
	json_t *pairs = NULL;
	if (in->pairs && !(pairs = pairs_parse(r, w, in->pairs, mac)))
		return -EINVAL;
	char *pairs_s = pairs ? json_dumps(pairs, JSON_COMPACT) : NULL;
	json_decref(pairs);
	snprintf(asu, sizeof asu, "%d", in->admin_state_up);
	snprintf(ps, sizeof ps, "%d", in->port_security);
	int n =
	    DBX(db, err, sizeof err,
	        "UPDATE net_ports SET name = coalesce($2, name),"
	        " description = coalesce($3, description),"
	        " device_id = coalesce($4, device_id), device_owner = coalesce($5, device_owner),"
	        " admin_state_up = CASE WHEN $6::int < 0 THEN admin_state_up ELSE $6::int = 1 END,"
	        " port_security = CASE WHEN $7::int < 0 THEN port_security ELSE $7::int = 1 END,"
	        " pairs = coalesce($8::jsonb, pairs), host = coalesce($9, host),"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        u->id, in->name, in->description, in->device_id, in->device_owner, asu, ps, pairs_s,
	        in->host);
	free(pairs_s);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (in->sgs && sgs_set(r, w, db, u->id, u->project, in->sgs) < 0)
		return -EINVAL;
	if (in->fixed_ips) {
		if (!json_is_array(in->fixed_ips) ||
		    json_array_size(in->fixed_ips) > PORT_MAX_IPS) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for fixed_ips. Reason: must be a list of at most 8.");
			return -EINVAL;
		}
		/* keep what is asked again, take what is new, release the rest */
		if (DBX(db, err, sizeof err, "DELETE FROM net_ips WHERE port_id = $1", u->id) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		size_t i;
		json_t *v;
		json_array_foreach(in->fixed_ips, i, v)
		{
			const char *sid = json_string_value(json_object_get(v, "subnet_id"));
			const char *ip = json_string_value(json_object_get(v, "ip_address"));
			if (!sid && !ip) {
				net_error(r, w, 400, "HTTPBadRequest",
				          "Invalid input for fixed_ips. Reason: each needs a "
				          "subnet_id or "
				          "an ip_address.");
				return -EINVAL;
			}
			int rc = ip_take(r, w, db, network_id, u->id, sid, ip, in->device_owner);
			if (rc < 0)
				return rc;
		}
	}
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void port_update(struct req *r, struct resp *w)
{
	struct port_update u = {.id = r->params[0]};
	port_in_init(&u.in);
	if (wire_parse_wrapped(r, w, "port", port_fields, NFIELDS, &u.in) < 0)
		return;
	if (u.in.network_id) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Cannot update read-only attribute network_id");
		goto out;
	}
	if (u.in.host && !net_is_admin(r)) {
		net_error(
		    r, w, 403, "PolicyNotAuthorized",
		    "(rule:update_port and rule:update_port:binding:host_id) is disallowed by "
		    "policy");
		goto out;
	}
	if (net_owned(r, w, &net_res_port, "net_ports", u.id, u.project, sizeof u.project) < 0)
		goto out;
	if (net_tx(r, w, port_update_tx, &u) == 0)
		net_answer(r, w, &net_res_port, u.id, 200);
out:
	jparse_release(port_fields, NFIELDS, &u.in);
}

static int port_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q =
	    DBQ(db, err, sizeof err, "SELECT device_owner FROM net_ports WHERE id = $1", id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int router_owned =
	    PQntuples(q) == 1 && !strncmp(PQgetvalue(q, 0, 0), "network:router_interface", 24);
	PQclear(q);
	if (router_owned) {
		net_error(r, w, 409, "L3PortInUse",
		          "Port %s cannot be deleted directly via the port API: has device owner "
		          "network:router_interface.",
		          id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err,
	        "UPDATE net_floatingips SET port_id = NULL, fixed_ip = NULL, router_id = NULL,"
	        " updated_at = now(), revision = revision + 1 WHERE port_id = $1",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_ports WHERE id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void port_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_port, "net_ports", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, port_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

static const struct httpd_route port_route_list[] = {
    {"GET", "/network/v2.0/ports", port_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/ports", port_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/ports/{}", port_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/ports/{}", port_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/ports/{}", port_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(port_routes, port_route_list, &network_hooks);

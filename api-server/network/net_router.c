/* Routers (/v2.0/routers): an external gateway port on an external network (SNAT on
 * by default), interfaces by subnet (the subnet's gateway address) or by port, and
 * no two attached subnets that overlap. Gateway ports belong to no project (hidden,
 * as Neutron's are). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

static const char *const router_filters[] = {
    "id",          "name",           "tenant_id", "project_id",
    "description", "admin_state_up", "status",    "revision_number",
    NULL};
static const char *const router_bools[] = {"admin_state_up", NULL};

const struct net_res net_res_router = {"Router",
                                       "Router %s could not be found.",
                                       "router",
                                       "routers",
                                       "net_routers_v",
                                       0,
                                       router_filters,
                                       router_bools,
                                       NULL};

struct router_in {
	char *name, *description, *project_id, *tenant_id;
	int admin_state_up;
	json_t *gw; /* external_gateway_info, borrowed */
	int gw_given;
	json_t *routes;
};

#define F(m) JF(struct router_in, m)
static const struct jfield router_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"admin_state_up", J_BOOL, F(admin_state_up), 0, 0, 0, 1, 0},
    {"routes", J_ARRAY, F(routes), 0, 0, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(router_fields) / sizeof(router_fields[0]))

static int router_parse(struct req *r, struct resp *w, struct router_in *in)
{
	memset(in, 0, sizeof(*in));
	in->admin_state_up = -1;
	if (wire_parse_wrapped(r, w, "router", router_fields, NFIELDS, in) < 0)
		return -EINVAL;
	json_t *o = json_object_get(r->json, "router");
	json_t *g = json_object_get(o, "external_gateway_info");
	if (g) {
		in->gw_given = 1;
		if (json_is_object(g) && json_object_size(g) > 0)
			in->gw = g;
		else if (!json_is_null(g) && !json_is_object(g)) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for external_gateway_info. Reason: must be an object.");
			return -EINVAL;
		}
	}
	if (in->routes && json_array_size(in->routes) > 0) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: static routes are not supported.");
		return -EINVAL;
	}
	return 0;
}

/* Sets (gw non-NULL) or clears the gateway of router id, inside a transaction. */
static int router_gateway_set(struct req *r, struct resp *w, PGconn *db, const char *id,
                              const json_t *gw)
{
	char err[512];
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT gw_port_id, (SELECT network_id FROM net_ports WHERE id = gw_port_id)"
	        " FROM net_routers WHERE id = $1 FOR UPDATE",
	        id);
	if (!q || PQntuples(q) != 1) {
		resp_db_error(r, w, err);
		PQclear(q);
		return -EIO;
	}
	char old[96] = "", old_net[96] = "";
	if (!PQgetisnull(q, 0, 0)) {
		snprintf(old, sizeof old, "%s", PQgetvalue(q, 0, 0));
		snprintf(old_net, sizeof old_net, "%s", PQgetvalue(q, 0, 1));
	}
	PQclear(q);
	const char *net = gw ? json_string_value(json_object_get(gw, "network_id")) : NULL;
	json_t *snat = gw ? json_object_get(gw, "enable_snat") : NULL;
	json_t *fixed = gw ? json_object_get(gw, "external_fixed_ips") : NULL;
	if (gw && !net) {
		net_error(
		    r, w, 400, "HTTPBadRequest",
		    "Invalid input for external_gateway_info. Reason: network_id is required.");
		return -EINVAL;
	}
	if ((snat || fixed) && !net_is_admin(r)) {
		net_error(r, w, 403, "PolicyNotAuthorized",
		          "(rule:update_router and rule:update_router:external_gateway_info:%s) is "
		          "disallowed by policy",
		          snat ? "enable_snat" : "external_fixed_ips");
		return -EACCES;
	}
	if (snat && !json_is_boolean(snat)) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for external_gateway_info. Reason: enable_snat must be a "
		          "boolean.");
		return -EINVAL;
	}
	/* floating IPs through this router keep it from losing its gateway */
	if (old[0] && (!net || strcmp(net, old_net))) {
		q = DBQ(db, err, sizeof err,
		        "SELECT count(*) FROM net_floatingips WHERE router_id = $1", id);
		long n = q ? db_long(q, 0, 0, 0) : 0;
		PQclear(q);
		if (n > 0) {
			net_error(
			    r, w, 409, "RouterExternalGatewayInUseByFloatingIp",
			    "Gateway cannot be updated for router %s, since a gateway to external "
			    "network %s is required by one or more floating IPs.",
			    id, old_net);
			return -EBUSY;
		}
	}
	if (old[0] && (!net || strcmp(net, old_net) || fixed)) {
		if (DBX(db, err, sizeof err,
		        "UPDATE net_routers SET gw_port_id = NULL WHERE id = $1", id) < 0 ||
		    DBX(db, err, sizeof err, "DELETE FROM net_ports WHERE id = $1", old) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		old[0] = 0;
	}
	if (net && !old[0]) {
		q = DBQ(db, err, sizeof err, "SELECT external FROM net_networks WHERE id = $1",
		        net);
		int ext = q && PQntuples(q) == 1 && !strcmp(PQgetvalue(q, 0, 0), "t");
		int found = q && PQntuples(q) == 1;
		PQclear(q);
		if (!found) {
			net_not_found(r, w, &net_res_network, net);
			return -ENOENT;
		}
		if (!ext) {
			net_error(r, w, 400, "BadRequest",
			          "Bad router request: Network %s is not an external network.",
			          net);
			return -EINVAL;
		}
		char pid[UUID_STR_LEN];
		struct net_port_new p = {.project_id = "",
		                         .network_id = net,
		                         .device_id = id,
		                         .device_owner = "network:router_gateway",
		                         .fixed_ips = fixed,
		                         .port_security = 0,
		                         .admin_state_up = 1,
		                         .skip_sgs = 1,
		                         .no_ip_is_error = 1};
		int rc = net_port_create_tx(r, w, db, &p, pid);
		if (rc < 0)
			return rc;
		if (DBX(db, err, sizeof err, "UPDATE net_routers SET gw_port_id = $2 WHERE id = $1",
		        id, pid) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
	}
	if (DBX(db, err, sizeof err,
	        "UPDATE net_routers SET enable_snat = CASE WHEN $2 = '' THEN"
	        " (CASE WHEN gw_port_id IS NULL THEN true ELSE enable_snat END) ELSE $2 = 't' END,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        id, snat ? (json_is_true(snat) ? "t" : "f") : "") < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

struct router_create {
	struct router_in in;
	const char *project;
	char id[UUID_STR_LEN];
};

static int router_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct router_create *c = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	if (net_quota_take(r, w, db, c->project, "router",
	                   "SELECT count(*) FROM net_routers WHERE project_id = $1") < 0)
		return -EDQUOT;
	uuid_generate_str(c->id);
	if (DBX(db, err, sizeof err,
	        "INSERT INTO net_routers (id, project_id, name, description, admin_state_up)"
	        " VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::boolean)",
	        c->id, c->project, c->in.name, c->in.description,
	        c->in.admin_state_up != 0 ? "true" : "false") < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return c->in.gw ? router_gateway_set(r, w, db, c->id, c->in.gw) : 0;
}

static void router_create(struct req *r, struct resp *w)
{
	struct router_create c;
	if (router_parse(r, w, &c.in) < 0)
		goto out;
	if (!(c.project =
	          net_create_project(r, w, c.in.project_id, c.in.tenant_id, "create_router")))
		goto out;
	if (net_tx(r, w, router_create_tx, &c) == 0)
		net_answer(r, w, &net_res_router, c.id, 201);
out:
	jparse_release(router_fields, NFIELDS, &c.in);
}

static void router_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_router);
}

static void router_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_router, r->params[0]);
}

struct router_update {
	struct router_in in;
	const char *id;
};

static int router_update_tx(struct req *r, struct resp *w, void *arg)
{
	struct router_update *u = arg;
	char err[512], asu[8];
	snprintf(asu, sizeof asu, "%d", u->in.admin_state_up);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_routers SET name = coalesce($2, name),"
	        " description = coalesce($3, description),"
	        " admin_state_up = CASE WHEN $4::int < 0 THEN admin_state_up ELSE $4::int = 1 END,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        u->id, u->in.name, u->in.description, asu) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return u->in.gw_given ? router_gateway_set(r, w, r->ctx->db, u->id, u->in.gw) : 0;
}

static void router_update(struct req *r, struct resp *w)
{
	struct router_update u = {.id = r->params[0]};
	if (router_parse(r, w, &u.in) < 0)
		goto out;
	if (net_owned(r, w, &net_res_router, "net_routers", u.id, NULL, 0) < 0)
		goto out;
	if (net_tx(r, w, router_update_tx, &u) == 0)
		net_answer(r, w, &net_res_router, u.id, 200);
out:
	jparse_release(router_fields, NFIELDS, &u.in);
}

static int router_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT count(*) FROM net_ports WHERE device_id = $1 AND"
	                  " device_owner = 'network:router_interface'",
	                  id);
	long n = q ? db_long(q, 0, 0, 0) : -1;
	PQclear(q);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (n > 0) {
		net_error(r, w, 409, "RouterInUse", "Router %s still has ports", id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err,
	        "UPDATE net_floatingips SET router_id = NULL, port_id = NULL, fixed_ip = NULL"
	        " WHERE router_id = $1",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "UPDATE net_routers SET gw_port_id = NULL WHERE id = $1", id) <
	        0 ||
	    DBX(db, err, sizeof err,
	        "DELETE FROM net_ports WHERE device_id = $1 AND device_owner = "
	        "'network:router_gateway'",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_routers WHERE id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void router_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_router, "net_routers", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, router_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

/* ---- interfaces ------------------------------------------------------------------- */

struct router_iface {
	const char *router_id;
	const char *subnet_id, *port_id; /* from the body: one of them */
	char project[96];
	char out_port[96], out_subnet[96], out_net[96];
};

/* Refuses a subnet that overlaps one already on the router, or is on it already. */
static int iface_overlap(struct req *r, struct resp *w, PGconn *db, const char *router_id,
                         const char *subnet_id)
{
	char err[512];
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT s.id, s.cidr::text, n.cidr::text FROM net_ports p"
	        " JOIN net_ips i ON i.port_id = p.id JOIN net_subnets s ON s.id = i.subnet_id,"
	        " net_subnets n WHERE p.device_id = $1 AND"
	        " p.device_owner = 'network:router_interface' AND n.id = $2 AND"
	        " s.cidr && n.cidr LIMIT 1",
	        router_id, subnet_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int rc = 0;
	if (PQntuples(q) == 1) {
		if (!strcmp(PQgetvalue(q, 0, 0), subnet_id))
			net_error(r, w, 400, "BadRequest",
			          "Bad router request: Router already has a port on subnet %s.",
			          subnet_id);
		else
			net_error(
			    r, w, 400, "BadRequest",
			    "Bad router request: Cidr %s of subnet %s overlaps with cidr %s of "
			    "subnet %s.",
			    PQgetvalue(q, 0, 2), subnet_id, PQgetvalue(q, 0, 1),
			    PQgetvalue(q, 0, 0));
		rc = -EINVAL;
	}
	PQclear(q);
	return rc;
}

static int iface_add_tx(struct req *r, struct resp *w, void *arg)
{
	struct router_iface *f = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err, "SELECT 1 FROM net_routers WHERE id = $1 FOR UPDATE",
	                  f->router_id);
	PQclear(q);
	if (f->subnet_id) {
		json_t *seen = net_fetch(r, &net_res_subnet, f->subnet_id);
		if (!seen) {
			net_not_found(r, w, &net_res_subnet, f->subnet_id);
			return -ENOENT;
		}
		json_t *gw = json_object_get(seen, "gateway_ip");
		const char *owner = json_string_value(json_object_get(seen, "project_id"));
		int gw_ok = json_is_string(gw);
		char gw_ip[16] = "", net[96] = "";
		if (gw_ok)
			snprintf(gw_ip, sizeof gw_ip, "%s", json_string_value(gw));
		snprintf(net, sizeof net, "%s",
		         json_string_value(json_object_get(seen, "network_id")) ?: "");
		int foreign = owner && strcmp(owner, f->project) && !net_is_admin(r);
		json_decref(seen);
		if (foreign) {
			net_not_found(r, w, &net_res_subnet, f->subnet_id);
			return -ENOENT;
		}
		if (!gw_ok) {
			net_error(
			    r, w, 400, "BadRequest",
			    "Bad router request: Subnet for router interface must have a gateway "
			    "IP.");
			return -EINVAL;
		}
		if (iface_overlap(r, w, db, f->router_id, f->subnet_id) < 0)
			return -EINVAL;
		json_t *fixed =
		    json_pack("[{s:s,s:s}]", "subnet_id", f->subnet_id, "ip_address", gw_ip);
		char pid[UUID_STR_LEN];
		struct net_port_new p = {.project_id = f->project,
		                         .network_id = net,
		                         .device_id = f->router_id,
		                         .device_owner = "network:router_interface",
		                         .fixed_ips = fixed,
		                         .port_security = 0,
		                         .admin_state_up = 1,
		                         .skip_sgs = 1};
		int rc = net_port_create_tx(r, w, db, &p, pid);
		json_decref(fixed);
		if (rc < 0)
			return rc;
		snprintf(f->out_port, sizeof f->out_port, "%s", pid);
		snprintf(f->out_subnet, sizeof f->out_subnet, "%s", f->subnet_id);
		snprintf(f->out_net, sizeof f->out_net, "%s", net);
		return 0;
	}
	/* by port: the caller's port, unused, with one address */
	q = DBQ(
	    db, err, sizeof err,
	    "SELECT p.project_id, p.device_id, p.network_id, (SELECT min(subnet_id) FROM net_ips"
	    " WHERE port_id = p.id), (SELECT count(*) FROM net_ips WHERE port_id = p.id)"
	    " FROM net_ports p WHERE p.id = $1 FOR UPDATE",
	    f->port_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (PQntuples(q) != 1 || (strcmp(PQgetvalue(q, 0, 0), f->project) && !net_is_admin(r))) {
		PQclear(q);
		net_not_found(r, w, &net_res_port, f->port_id);
		return -ENOENT;
	}
	if (PQgetvalue(q, 0, 1)[0]) {
		net_error(
		    r, w, 409, "PortInUse",
		    "Unable to complete operation on port %s for network %s. Port already has "
		    "an attached device %s.",
		    f->port_id, PQgetvalue(q, 0, 2), PQgetvalue(q, 0, 1));
		PQclear(q);
		return -EBUSY;
	}
	if (db_long(q, 0, 4, 0) != 1) {
		net_error(r, w, 400, "BadRequest",
		          "Bad router request: Router port must have exactly one fixed IP.");
		PQclear(q);
		return -EINVAL;
	}
	snprintf(f->out_subnet, sizeof f->out_subnet, "%s", PQgetvalue(q, 0, 3));
	snprintf(f->out_net, sizeof f->out_net, "%s", PQgetvalue(q, 0, 2));
	snprintf(f->out_port, sizeof f->out_port, "%s", f->port_id);
	PQclear(q);
	if (iface_overlap(r, w, db, f->router_id, f->out_subnet) < 0)
		return -EINVAL;
	if (DBX(db, err, sizeof err,
	        "UPDATE net_ports SET device_id = $2, device_owner = 'network:router_interface',"
	        " port_security = false, updated_at = now(), revision = revision + 1 WHERE id = $1",
	        f->port_id, f->router_id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_port_sgs WHERE port_id = $1", f->port_id) <
	        0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void iface_answer(struct req *r, struct resp *w, struct router_iface *f)
{
	resp_json(w, 200,
	          json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s],s:s}", "id", f->router_id, "tenant_id",
	                    f->project, "project_id", f->project, "port_id", f->out_port,
	                    "subnet_id", f->out_subnet, "subnet_ids", f->out_subnet, "network_id",
	                    f->out_net));
}

/* Reads {subnet_id} or {port_id} of an interface body. */
static int iface_parse(struct req *r, struct resp *w, struct router_iface *f)
{
	f->subnet_id = json_string_value(json_object_get(r->json, "subnet_id"));
	f->port_id = json_string_value(json_object_get(r->json, "port_id"));
	if (!json_is_object(r->json) || (!f->subnet_id && !f->port_id)) {
		net_error(r, w, 400, "BadRequest",
		          "Bad router request: Either subnet_id or port_id must be specified.");
		return -EINVAL;
	}
	if (f->subnet_id && f->port_id) {
		net_error(r, w, 400, "BadRequest",
		          "Bad router request: Cannot specify both subnet-id and port-id.");
		return -EINVAL;
	}
	return net_owned(r, w, &net_res_router, "net_routers", f->router_id, f->project,
	                 sizeof f->project);
}

static void router_add_interface(struct req *r, struct resp *w)
{
	struct router_iface f = {.router_id = r->params[0]};
	if (iface_parse(r, w, &f) < 0)
		return;
	if (net_tx(r, w, iface_add_tx, &f) == 0)
		iface_answer(r, w, &f);
}

static int iface_remove_tx(struct req *r, struct resp *w, void *arg)
{
	struct router_iface *f = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT p.id, i.subnet_id, p.network_id FROM net_ports p JOIN net_ips i ON"
	        " i.port_id = p.id WHERE p.device_id = $1 AND"
	        " p.device_owner = 'network:router_interface' AND"
	        " ($2::text IS NULL OR i.subnet_id = $2) AND ($3::text IS NULL OR p.id = $3)"
	        " LIMIT 1",
	        f->router_id, f->subnet_id, f->port_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		if (f->subnet_id)
			net_error(r, w, 404, "RouterInterfaceNotFoundForSubnet",
			          "Router %s has no interface on subnet %s", f->router_id,
			          f->subnet_id);
		else
			net_error(r, w, 404, "RouterInterfaceNotFound",
			          "Router %s does not have an interface with id %s", f->router_id,
			          f->port_id);
		return -ENOENT;
	}
	snprintf(f->out_port, sizeof f->out_port, "%s", PQgetvalue(q, 0, 0));
	snprintf(f->out_subnet, sizeof f->out_subnet, "%s", PQgetvalue(q, 0, 1));
	snprintf(f->out_net, sizeof f->out_net, "%s", PQgetvalue(q, 0, 2));
	PQclear(q);
	q = DBQ(db, err, sizeof err,
	        "SELECT count(*) FROM net_floatingips f JOIN net_ips i ON i.port_id = f.port_id"
	        " WHERE f.router_id = $1 AND i.subnet_id = $2",
	        f->router_id, f->out_subnet);
	long n = q ? db_long(q, 0, 0, 0) : 0;
	PQclear(q);
	if (n > 0) {
		net_error(r, w, 409, "RouterInterfaceInUseByFloatingIP",
		          "Router interface for subnet %s on router %s cannot be deleted, as it is "
		          "required by one or more floating IPs.",
		          f->out_subnet, f->router_id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err, "DELETE FROM net_ports WHERE id = $1", f->out_port) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void router_remove_interface(struct req *r, struct resp *w)
{
	struct router_iface f = {.router_id = r->params[0]};
	if (iface_parse(r, w, &f) < 0)
		return;
	if (net_tx(r, w, iface_remove_tx, &f) == 0)
		iface_answer(r, w, &f);
}

static const struct httpd_route router_route_list[] = {
    {"GET", "/network/v2.0/routers", router_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/routers", router_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/routers/{}", router_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/routers/{}", router_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/routers/{}", router_delete, POL_NETWORK_WRITE, 0},
    {"PUT", "/network/v2.0/routers/{}/add_router_interface", router_add_interface,
     POL_NETWORK_WRITE, 0},
    {"PUT", "/network/v2.0/routers/{}/remove_router_interface", router_remove_interface,
     POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(router_routes, router_route_list, &network_hooks);

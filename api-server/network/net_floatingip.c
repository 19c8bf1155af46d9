/* Floating IPs (/v2.0/floatingips): an address of an external network, held by a
 * hidden port of that network, associated 1:1 with a fixed IP of a tenant port that a
 * router of the project connects to that external network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

static const char *const fip_filters[] = {"id",
                                          "tenant_id",
                                          "project_id",
                                          "description",
                                          "floating_ip_address",
                                          "floating_network_id",
                                          "router_id",
                                          "port_id",
                                          "fixed_ip_address",
                                          "status",
                                          "revision_number",
                                          NULL};

const struct net_res net_res_floatingip = {"FloatingIP",
                                           "Floating IP %s could not be found",
                                           "floatingip",
                                           "floatingips",
                                           "net_floatingips_v",
                                           0,
                                           fip_filters,
                                           NULL,
                                           NULL};

struct fip_in {
	char *network_id, *port_id, *fixed_ip, *address, *subnet_id, *description, *project_id,
	    *tenant_id;
	int port_null; /* "port_id": null */
};

#define F(m) JF(struct fip_in, m)
static const struct jfield fip_fields[] = {
    {"floating_network_id", J_STR, F(network_id), 0, 64, 0, 1, 0},
    {"port_id", J_STR, F(port_id), 0, 64, 0, 1, 0},
    {"fixed_ip_address", J_STR, F(fixed_ip), 0, 64, 0, 1, 0},
    {"floating_ip_address", J_STR, F(address), 0, 64, 0, 1, 0},
    {"subnet_id", J_STR, F(subnet_id), 0, 64, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(fip_fields) / sizeof(fip_fields[0]))

static int fip_parse(struct req *r, struct resp *w, struct fip_in *in)
{
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "floatingip", fip_fields, NFIELDS, in) < 0)
		return -EINVAL;
	json_t *p = json_object_get(json_object_get(r->json, "floatingip"), "port_id");
	in->port_null = p && json_is_null(p);
	return 0;
}

/* Associates fip id (on network net_id, owned by project) with port_id / fixed_ip, or
 * disassociates it when port_id is NULL. Inside a transaction. */
static int fip_associate(struct req *r, struct resp *w, PGconn *db, const char *id,
                         const char *net_id, const char *project, const char *port_id,
                         const char *fixed_ip)
{
	char err[512], state[8] = "";
	if (!port_id) {
		if (DBX(db, err, sizeof err,
		        "UPDATE net_floatingips SET port_id = NULL, fixed_ip = NULL, router_id = "
		        "NULL,"
		        " updated_at = now(), revision = revision + 1 WHERE id = $1",
		        id) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
		return 0;
	}
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT host(i.ip), i.subnet_id FROM net_ports p JOIN net_ips i ON"
	                  " i.port_id = p.id WHERE p.id = $1 AND (p.project_id = $2 OR $3::boolean)"
	                  " AND ($4::text IS NULL OR i.ip = $4::inet) ORDER BY i.ip LIMIT 1",
	                  port_id, project, net_is_admin(r) ? "true" : "false", fixed_ip);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		if (fixed_ip) {
			net_error(r, w, 400, "BadRequest",
			          "Bad floatingip request: Port %s does not have fixed ip %s.",
			          port_id, fixed_ip);
			return -EINVAL;
		}
		net_not_found(r, w, &net_res_port, port_id);
		return -ENOENT;
	}
	char ip[64], subnet[96];
	snprintf(ip, sizeof ip, "%s", PQgetvalue(q, 0, 0));
	snprintf(subnet, sizeof subnet, "%s", PQgetvalue(q, 0, 1));
	PQclear(q);
	/* a router of the project with a gateway on net_id and an interface on the subnet */
	q = DBQ(db, err, sizeof err,
	        "SELECT r.id FROM net_routers r JOIN net_ports g ON g.id = r.gw_port_id"
	        " JOIN net_ports p ON p.device_id = r.id AND"
	        " p.device_owner = 'network:router_interface' JOIN net_ips i ON i.port_id = p.id"
	        " WHERE g.network_id = $1 AND i.subnet_id = $2 ORDER BY r.created_at LIMIT 1",
	        net_id, subnet);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		net_error(r, w, 404, "ExternalGatewayForFloatingIPNotFound",
		          "External network %s is not reachable from subnet %s.  Therefore, cannot "
		          "associate Port %s with a Floating IP.",
		          net_id, subnet, port_id);
		return -ENOENT;
	}
	char router[96];
	snprintf(router, sizeof router, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	q = db_query(db,
	             "UPDATE net_floatingips SET port_id = $2, fixed_ip = $3::inet, router_id = $4,"
	             " updated_at = now(), revision = revision + 1 WHERE id = $1",
	             4, (const char *const[]){id, port_id, ip, router}, err, sizeof err, state);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE))
			net_error(
			    r, w, 409, "FloatingIPPortAlreadyAssociated",
			    "Cannot associate floating IP with port %s using fixed IP %s, as that "
			    "fixed IP already has a floating IP on external network %s.",
			    port_id, ip, net_id);
		else
			resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(q);
	return 0;
}

struct fip_create {
	struct fip_in in;
	const char *project;
	char id[UUID_STR_LEN];
};

static int fip_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct fip_create *c = arg;
	struct fip_in *in = &c->in;
	PGconn *db = r->ctx->db;
	char err[512];
	if (net_quota_take(r, w, db, c->project, "floatingip",
	                   "SELECT count(*) FROM net_floatingips WHERE project_id = $1") < 0)
		return -EDQUOT;
	PGresult *q = DBQ(db, err, sizeof err, "SELECT external FROM net_networks WHERE id = $1",
	                  in->network_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int found = PQntuples(q) == 1, ext = found && !strcmp(PQgetvalue(q, 0, 0), "t");
	PQclear(q);
	if (!found) {
		net_not_found(r, w, &net_res_network, in->network_id);
		return -ENOENT;
	}
	if (!ext) {
		net_error(r, w, 400, "BadRequest",
		          "Bad floatingip request: Network %s is not a valid external network.",
		          in->network_id);
		return -EINVAL;
	}
	uuid_generate_str(c->id);
	json_t *fixed = NULL;
	if (in->address || in->subnet_id) {
		fixed = json_object();
		if (in->address)
			json_object_set_new(fixed, "ip_address", json_string(in->address));
		if (in->subnet_id)
			json_object_set_new(fixed, "subnet_id", json_string(in->subnet_id));
		fixed = json_pack("[o]", fixed);
	}
	char pid[UUID_STR_LEN];
	struct net_port_new p = {.project_id = "",
	                         .network_id = in->network_id,
	                         .device_id = c->id,
	                         .device_owner = "network:floatingip",
	                         .fixed_ips = fixed,
	                         .port_security = 0,
	                         .admin_state_up = 1,
	                         .skip_sgs = 1,
	                         .no_ip_is_error = 1};
	int rc = net_port_create_tx(r, w, db, &p, pid);
	json_decref(fixed);
	if (rc < 0)
		return rc;
	q = DBQ(db, err, sizeof err, "SELECT count(*) FROM net_ips WHERE port_id = $1", pid);
	long nip = q ? db_long(q, 0, 0, 0) : 0;
	PQclear(q);
	if (nip == 0) {
		net_error(r, w, 409, "IpAddressGenerationFailure",
		          "No more IP addresses available on network %s.", in->network_id);
		return -ENOSPC;
	}
	if (DBX(db, err, sizeof err,
	        "INSERT INTO net_floatingips (id, project_id, network_id, fip_port_id, description)"
	        " VALUES ($1, $2, $3, $4, coalesce($5, ''))",
	        c->id, c->project, in->network_id, pid, in->description) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (in->port_id && fip_associate(r, w, db, c->id, in->network_id, c->project, in->port_id,
	                                 in->fixed_ip) < 0)
		return -EINVAL;
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void fip_create(struct req *r, struct resp *w)
{
	struct fip_create c;
	if (fip_parse(r, w, &c.in) < 0)
		return;
	if (!c.in.network_id) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Failed to parse request. Required attribute 'floating_network_id' not "
		          "specified");
		goto out;
	}
	if (!(c.project =
	          net_create_project(r, w, c.in.project_id, c.in.tenant_id, "create_floatingip")))
		goto out;
	if (net_tx(r, w, fip_create_tx, &c) == 0)
		net_answer(r, w, &net_res_floatingip, c.id, 201);
out:
	jparse_release(fip_fields, NFIELDS, &c.in);
}

static void fip_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_floatingip);
}

static void fip_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_floatingip, r->params[0]);
}

struct fip_update {
	struct fip_in in;
	const char *id;
	char project[96];
};

static int fip_update_tx(struct req *r, struct resp *w, void *arg)
{
	struct fip_update *u = arg;
	PGconn *db = r->ctx->db;
	char err[512], net[96];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT network_id FROM net_floatingips WHERE id = $1 FOR UPDATE", u->id);
	if (!q || PQntuples(q) != 1) {
		resp_db_error(r, w, err);
		PQclear(q);
		return -EIO;
	}
	snprintf(net, sizeof net, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	if (u->in.description &&
	    DBX(db, err, sizeof err,
	        "UPDATE net_floatingips SET description = $2, updated_at = now(),"
	        " revision = revision + 1 WHERE id = $1",
	        u->id, u->in.description) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if ((u->in.port_id || u->in.port_null) &&
	    fip_associate(r, w, db, u->id, net, u->project, u->in.port_id, u->in.fixed_ip) < 0)
		return -EINVAL;
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void fip_update(struct req *r, struct resp *w)
{
	struct fip_update u = {.id = r->params[0]};
	if (fip_parse(r, w, &u.in) < 0)
		return;
	if (net_owned(r, w, &net_res_floatingip, "net_floatingips", u.id, u.project,
	              sizeof u.project) == 0 &&
	    net_tx(r, w, fip_update_tx, &u) == 0)
		net_answer(r, w, &net_res_floatingip, u.id, 200);
	jparse_release(fip_fields, NFIELDS, &u.in);
}

static int fip_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "DELETE FROM net_floatingips WHERE id = $1 RETURNING fip_port_id", id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	char port[96] = "";
	if (PQntuples(q) == 1)
		snprintf(port, sizeof port, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	if ((port[0] &&
	     DBX(db, err, sizeof err, "DELETE FROM net_ports WHERE id = $1", port) < 0) ||
	    DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void fip_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_floatingip, "net_floatingips", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, fip_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

static const struct httpd_route fip_route_list[] = {
    {"GET", "/network/v2.0/floatingips", fip_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/floatingips", fip_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/floatingips/{}", fip_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/floatingips/{}", fip_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/floatingips/{}", fip_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(floatingip_routes, fip_route_list, &network_hooks);

/* ---- for Nova's floating IP proxy (compute/floating_ip_proxy.c) ---- */

int net_floatingip_create_tx(struct req *r, struct resp *w, const char *project,
                             const char *network_id, char id[UUID_STR_LEN])
{
	struct fip_create c = {.project = project};
	c.in.network_id = (char *)network_id;
	int rc = fip_create_tx(r, w, &c);
	if (rc == 0)
		memcpy(id, c.id, UUID_STR_LEN);
	return rc;
}

int net_floatingip_associate_tx(struct req *r, struct resp *w, const char *id, const char *port_id,
                                const char *fixed_ip)
{
	char err[512], net[96], project[96];
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT network_id, project_id FROM net_floatingips WHERE id = $1 FOR"
	                  " UPDATE",
	                  id);
	if (!q || PQntuples(q) != 1) {
		if (q)
			net_not_found(r, w, &net_res_floatingip, id);
		else
			resp_db_error(r, w, err);
		PQclear(q);
		return q ? -ENOENT : -EIO;
	}
	snprintf(net, sizeof net, "%s", PQgetvalue(q, 0, 0));
	snprintf(project, sizeof project, "%s", PQgetvalue(q, 0, 1));
	PQclear(q);
	if (fip_associate(r, w, r->ctx->db, id, net, project, port_id, fixed_ip) < 0)
		return -EINVAL;
	if (net_touch(r->ctx->db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

int net_floatingip_delete_tx(struct req *r, struct resp *w, void *id)
{
	return fip_delete_tx(r, w, id);
}

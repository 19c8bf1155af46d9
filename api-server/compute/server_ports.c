/* Servers on Network API ports: the NICs of a server create (networks by id, ports by
 * id, Nova's "auto" and "none"), their release on delete, and the `addresses` and
 * `security_groups` the server views show. A port made here has device_id = server id,
 * device_owner = compute:<az> and is deleted with the server; a port the user made is
 * only unbound. */
#include "compute/server_ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network/network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"
#include "server_nic.h"

#define SERVER_NICS_MAX 8

/* The one network "auto" picks: the project's own or shared non-external networks.
 * Returns 1 with id, 0 when there is none, or answers 409 (several) / 500. */
static int auto_network(struct req *r, struct resp *w, PGconn *db, char id[UUID_STR_LEN + 8])
{
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT id FROM net_networks WHERE NOT external AND (project_id = $1 OR"
	                  " shared) ORDER BY created_at LIMIT 2",
	                  r->ctx->auth.project_id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(q);
	if (n == 1)
		snprintf(id, UUID_STR_LEN + 8, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	if (n > 1) {
		resp_error(
		    r, w, 409,
		    "Multiple possible networks found, use a Network ID to be more specific.");
		return -EEXIST;
	}
	return n;
}

/* The ids of the request's security groups (names or ids of the project's groups),
 * as a new JSON array; NULL: the default group (none named). Answers 400 on a group
 * that is not the project's. */
static int sg_ids(struct req *r, struct resp *w, PGconn *db, const json_t *groups, json_t **out)
{
	char err[512];
	*out = NULL;
	if (!groups || !json_array_size(groups))
		return 0;
	json_t *ids = json_array();
	size_t i;
	json_t *g;
	json_array_foreach(groups, i, g)
	{
		const char *name = json_string_value(json_object_get(g, "name"));
		if (!name)
			continue;
		if (!strcmp(name, "default")) {
			char def[UUID_STR_LEN];
			if (net_default_sg(db, r->ctx->auth.project_id, def, err, sizeof err) < 0) {
				resp_db_error(r, w, err);
				json_decref(ids);
				return -EIO;
			}
			json_array_append_new(ids, json_string(def));
			continue;
		}
		PGresult *q = DBQ(db, err, sizeof err,
		                  "SELECT id FROM net_secgroups WHERE (id = $1 OR name = $1) AND"
		                  " project_id = $2 ORDER BY (id = $1) DESC LIMIT 2",
		                  name, r->ctx->auth.project_id);
		if (!q) {
			resp_db_error(r, w, err);
			json_decref(ids);
			return -EIO;
		}
		int n = PQntuples(q), exact = n > 0 && !strcmp(PQgetvalue(q, 0, 0), name);
		if (n == 1 || exact)
			json_array_append_new(ids, json_string(PQgetvalue(q, 0, 0)));
		PQclear(q);
		if (n == 0 || (n > 1 && !exact)) {
			if (n == 0)
				resp_error(r, w, 400, "Security group %s not found for project %s.",
				           name, r->ctx->auth.project_id);
			else
				resp_error(
				    r, w, 409,
				    "Multiple security groups found matching '%s'. Use an ID to be "
				    "more specific.",
				    name);
			json_decref(ids);
			return -EINVAL;
		}
	}
	*out = ids;
	return 0;
}

/* A port on network_id for server id. */
static int nic_new(struct req *r, struct resp *w, PGconn *db, const char *server_id,
                   const char *owner, const char *network_id, const char *fixed_ip,
                   const json_t *sgs)
{
	char err[512], pid[UUID_STR_LEN];
	json_t *seen = net_fetch(r, &net_res_network, network_id);
	if (!seen) {
		resp_error(r, w, 400, "Network %s could not be found.", network_id);
		return -ENOENT;
	}
	json_decref(seen);
	if (net_quota_take(r, w, db, r->ctx->auth.project_id, "port",
	                   "SELECT count(*) FROM net_ports WHERE project_id = $1") < 0)
		return -EDQUOT;
	json_t *fixed = fixed_ip ? json_pack("[{s:s}]", "ip_address", fixed_ip) : NULL;
	struct net_port_new p = {.project_id = r->ctx->auth.project_id,
	                         .network_id = network_id,
	                         .device_id = server_id,
	                         .device_owner = owner,
	                         .fixed_ips = fixed,
	                         .security_groups = sgs,
	                         .port_security = -1,
	                         .admin_state_up = 1};
	int rc = net_port_create_tx(r, w, db, &p, pid);
	json_decref(fixed);
	if (rc < 0)
		return rc;
	if (DBX(db, err, sizeof err, "UPDATE net_ports SET auto_delete = true WHERE id = $1", pid) <
	    0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

/* Binds the user's port port_id to server id. */
static int nic_bind(struct req *r, struct resp *w, PGconn *db, const char *server_id,
                    const char *owner, const char *port_id)
{
	char err[512];
	PGresult *q = DBQ(
	    db, err, sizeof err,
	    "SELECT device_id, project_id = $2 FROM net_ports WHERE id = $1 AND (project_id = $2 OR"
	    " $3::boolean) FOR UPDATE",
	    port_id, r->ctx->auth.project_id, policy_is_admin(&r->ctx->auth) ? "true" : "false");
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(q), used = n == 1 && PQgetvalue(q, 0, 0)[0];
	int foreign = n == 1 && strcmp(PQgetvalue(q, 0, 1), "t");
	PQclear(q);
	if (n != 1) {
		resp_error(r, w, 404, "Port id %s could not be found.", port_id);
		return -ENOENT;
	}
	if (foreign) { /* SERVER_NIC_SQL counts only ports of the server's project */
		resp_error(r, w, 409, "Port %s not usable for instance %s.", port_id, server_id);
		return -EBUSY;
	}
	if (used) {
		resp_error(r, w, 409, "Port %s is still in use.", port_id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err,
	        "UPDATE net_ports SET device_id = $2, device_owner = $3, auto_delete = false,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        port_id, server_id, owner) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

int server_ports_create(struct req *r, struct resp *w, const char *server_id, const char *az,
                        const json_t *networks, const json_t *security_groups)
{
	PGconn *db = r->ctx->db;
	char owner[96], net[UUID_STR_LEN + 8];
	json_t *sgs = NULL;
	int rc = 0;
	snprintf(owner, sizeof owner, "compute:%s", az);
	if (json_is_string(networks) && !strcmp(json_string_value(networks), "none"))
		return 0;
	if ((rc = sg_ids(r, w, db, security_groups, &sgs)) < 0)
		return rc;
	if (!networks || json_is_string(networks)) { /* absent or "auto" */
		rc = auto_network(r, w, db, net);
		if (rc == 1)
			rc = nic_new(r, w, db, server_id, owner, net, NULL, sgs);
		json_decref(sgs);
		return rc < 0 ? rc : 0;
	}
	if (json_array_size(networks) > SERVER_NICS_MAX) {
		resp_error(r, w, 400, "Too many networks requested (at most %d).", SERVER_NICS_MAX);
		json_decref(sgs);
		return -EINVAL;
	}
	size_t i;
	json_t *n;
	json_array_foreach(networks, i, n)
	{
		const char *uuid = json_string_value(json_object_get(n, "uuid"));
		const char *port = json_string_value(json_object_get(n, "port"));
		const char *fixed = json_string_value(json_object_get(n, "fixed_ip"));
		if (port)
			rc = nic_bind(r, w, db, server_id, owner, port);
		else if (uuid)
			rc = nic_new(r, w, db, server_id, owner, uuid, fixed, sgs);
		if (rc < 0)
			break;
	}
	json_decref(sgs);
	return rc;
}

int server_ports_release(PGconn *db, const char *server_id, char *err, size_t errlen)
{
	if (DBX(db, err, errlen,
	        "UPDATE net_floatingips SET port_id = NULL, fixed_ip = NULL, router_id = NULL"
	        " WHERE port_id IN (SELECT id FROM net_ports WHERE device_id = $1 AND"
	        " device_owner LIKE 'compute:%' AND auto_delete)",
	        server_id) < 0 ||
	    DBX(db, err, errlen,
	        "DELETE FROM net_ports WHERE device_id = $1 AND device_owner LIKE 'compute:%'"
	        " AND auto_delete",
	        server_id) < 0 ||
	    DBX(db, err, errlen,
	        "UPDATE net_ports SET device_id = '', device_owner = '', host = '',"
	        " updated_at = now(), revision = revision + 1 WHERE device_id = $1 AND"
	        " device_owner LIKE 'compute:%'",
	        server_id) < 0)
		return -EIO;
	return net_touch(db, NULL, err, errlen);
}

int server_ports_extras(PGconn *db, const PGresult *res, PGresult **out, char *err, size_t errlen)
{
	int n = PQntuples(res);
	*out = NULL;
	if (n == 0)
		return 0;
	size_t cap = (size_t)n * UUID_STR_LEN + 3, len = 0;
	char *ids = xmalloc(cap);
	ids[len++] = '{';
	for (int i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(ids + len, cap - len, "%s%s", i ? "," : "", db_val(res, i, 0));
	snprintf(ids + len, cap - len, "}");
	*out = DBQ(
	    db, err, errlen,
	    "WITH a AS (SELECT p.device_id AS iid, n.name AS net, json_agg(l.x ORDER BY"
	    " l.o, l.ip) AS addrs FROM net_ports p JOIN net_networks n ON"
	    " n.id = p.network_id, LATERAL (SELECT json_build_object('version', 4, 'addr',"
	    " host(i.ip), 'OS-EXT-IPS:type', 'fixed', 'OS-EXT-IPS-MAC:mac_addr', p.mac) AS x,"
	    " 0 AS o, i.ip FROM net_ips i WHERE i.port_id = p.id UNION ALL SELECT"
	    " json_build_object('version', 4, 'addr', host(fi.ip), 'OS-EXT-IPS:type',"
	    " 'floating', 'OS-EXT-IPS-MAC:mac_addr', p.mac), 1, fi.ip FROM net_floatingips f"
	    " JOIN net_ips fi ON fi.port_id = f.fip_port_id WHERE f.port_id = p.id) l"
	    " WHERE p.device_id = ANY($1::text[]) AND" SERVER_NIC_SQL(
	        "p") " GROUP BY p.device_id, n.name)"
	             " SELECT iid, json_object_agg(net, addrs)::text, (SELECT coalesce(json_agg("
	             " json_build_object('name', g.name) ORDER BY g.name), '[]')::text FROM"
	             " net_secgroups g WHERE g.id IN (SELECT ps.sg_id FROM net_port_sgs ps JOIN"
	             " net_ports p2 ON p2.id = ps.port_id WHERE p2.device_id = a.iid "
	             "AND" SERVER_NIC_SQL("p2") ")) FROM a"
	                                        " GROUP BY iid",
	    ids);
	free(ids);
	return *out ? 0 : -EIO;
}

void server_ports_apply(const PGresult *ports, struct server_row *s)
{
	for (int i = 0; ports && i < PQntuples(ports); i++)
		if (!strcmp(db_val(ports, i, 0), s->id)) {
			s->addresses = db_val(ports, i, 1);
			s->security_groups = db_val(ports, i, 2);
			return;
		}
}

const char *server_ports_ip_filter(int version)
{
	/* Nova: a regular expression searched in each of the server's fixed and floating
	 * addresses of that IP version */
	return version == 6
	           ? "EXISTS (SELECT 1 FROM net_ports fp JOIN net_ips fi ON"
	             " fi.port_id = fp.id WHERE fp.device_id = i.id AND" SERVER_NIC_SQL(
	                 "fp") " AND family(fi.ip) = 6 AND host(fi.ip) ~ $%1$d)"
	           : "EXISTS (SELECT 1 FROM net_ports fp JOIN net_ips fi ON"
	             " fi.port_id = fp.id WHERE fp.device_id = i.id AND" SERVER_NIC_SQL(
	                 "fp") " AND family(fi.ip) = 4 AND (host(fi.ip) ~ $%1$d OR"
	                       " EXISTS (SELECT 1 FROM net_floatingips ff JOIN net_ips ffi ON"
	                       " ffi.port_id = ff.fip_port_id WHERE ff.port_id = fp.id AND"
	                       " host(ffi.ip) ~ $%1$d)))";
}

/* nets ({network: [address]}, may be NULL) with each address cut to {version, addr}
 * (new reference). */
static json_t *basic_of(const json_t *nets)
{
	json_t *all = json_object(), *list;
	const char *net;
	json_object_foreach((json_t *)nets, net, list)
	{
		json_t *out = json_array(), *a;
		size_t k;
		json_array_foreach(list, k, a) json_array_append_new(
		    out, json_pack("{s:O?,s:O?}", "version", json_object_get(a, "version"), "addr",
		                   json_object_get(a, "addr")));
		json_object_set_new(all, net, out);
	}
	return all;
}

char *server_ports_basic(const char *addresses)
{
	json_t *nets = addresses ? json_loads(addresses, 0, NULL) : NULL;
	json_t *all = basic_of(nets);
	char *text = json_dumps(all, JSON_COMPACT);
	json_decref(all);
	json_decref(nets);
	return text;
}

/* The addresses of the server row res as /ips shows them: {network: [{version, addr}]}
 * (new reference), or NULL with err. */
static json_t *ips_of(PGconn *db, const PGresult *res, char *err, size_t errlen)
{
	PGresult *ports = NULL;
	if (server_ports_extras(db, res, &ports, err, errlen) < 0)
		return NULL;
	json_t *nets = NULL;
	if (PQntuples(ports) == 1)
		nets = json_loads(db_val(ports, 0, 1), 0, NULL);
	PQclear(ports);
	json_t *all = basic_of(nets);
	json_decref(nets);
	return all;
}

void server_ports_ips(struct req *r, struct resp *w, const char *network)
{
	char err[512];
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	json_t *all = ips_of(r->ctx->db, res, err, sizeof err);
	PQclear(res);
	if (!all) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *one = network ? json_object_get(all, network) : NULL;
	if (!network)
		resp_json(w, 200, json_pack("{s:O}", "addresses", all));
	else if (one)
		resp_json(w, 200, json_pack("{s:O}", network, one));
	else
		resp_error(r, w, 404, "Instance is not a member of specified network");
	json_decref(all);
}

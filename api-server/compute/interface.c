/* Nova's port interfaces of a server (/servers/{id}/os-interface): the Network API
 * ports bound to the server (device_id = its id, device_owner compute:*) as
 * interfaceAttachments, listed or shown by port id; attach (POST: a new port on
 * net_id, or the user's port_id bound) and detach (DELETE: a port made by the attach
 * is deleted, a user's port unbound) in one transaction with a TASK_NICS task, which
 * the compute agent carries out by hot-plug over QMP (compute-agent/vm_iface.c) and
 * after which the host's nubo-net plugs the tap into the network. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"
#include "msg.h"
#include "server_nic.h"
#include "compute/server.h"
#include "compute/server_ports.h"
#include "db.h"
#include "network/network.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"

#define IFACES_MAX 64

/* The interfaceAttachment rows of server id (all, or the one of port when not NULL):
 * a JSON array text per row in column 0. NULL with err on a database failure. */
static PGresult *iface_rows(struct req *r, const char *id, const char *port, char *err,
                            size_t errlen)
{
	return DBQ(
	    r->ctx->db, err, errlen,
	    "SELECT json_build_object('port_id', p.id, 'net_id', p.network_id,"
	    " 'mac_addr', p.mac, 'port_state',"
	    " CASE WHEN p.device_id <> '' THEN 'ACTIVE' ELSE 'DOWN' END,"
	    " 'fixed_ips', net_fixed_ips(p.id))::text FROM net_ports p"
	    " WHERE p.device_id = $1 AND" SERVER_NIC_SQL(
	        "p") " AND ($2::text IS NULL OR p.id = $2) ORDER BY p.created_at, p.id LIMIT 64",
	    id, port);
}

/* At 2.70 and later an attachment shows its tag (Nubo keeps none: null). */
static json_t *iface_json(struct req *r, const char *text)
{
	json_t *a = json_loads(text, 0, NULL);
	if (a && r->ctx->mv_minor >= 70)
		json_object_set_new(a, "tag", json_null());
	return a;
}

/* The server's id (visible to the caller) into id, or answers 404. */
static int iface_server(struct req *r, struct resp *w, char id[UUID_STR_LEN])
{
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return -ENOENT;
	snprintf(id, UUID_STR_LEN, "%s", db_val(res, 0, 0));
	PQclear(res);
	return 0;
}

static void iface_list(struct req *r, struct resp *w)
{
	char id[UUID_STR_LEN], err[256];
	if (iface_server(r, w, id) < 0)
		return;
	PGresult *q = iface_rows(r, id, NULL, err, sizeof err);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(q); i++) {
		json_t *a = iface_json(r, PQgetvalue(q, i, 0));
		if (a)
			json_array_append_new(list, a);
	}
	PQclear(q);
	resp_json(w, 200, json_pack("{s:o}", "interfaceAttachments", list));
}

static void iface_show(struct req *r, struct resp *w)
{
	char id[UUID_STR_LEN], err[256];
	if (iface_server(r, w, id) < 0)
		return;
	PGresult *q = iface_rows(r, id, r->params[1], err, sizeof err);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = PQntuples(q) == 1 ? iface_json(r, PQgetvalue(q, 0, 0)) : NULL;
	PQclear(q);
	if (!a) {
		resp_error(r, w, 404, "Instance %s does not have a port with id %s", id,
		           r->params[1]);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "interfaceAttachment", a));
}

/* ---- attach and detach ---------------------------------------------------------- */

struct iface_req {
	char *net_id, *port_id, *tag;
	json_t *fixed_ips; /* borrowed: [{"ip_address": ...}], at most one */
};

static const struct jfield f_iface[] = {
    {"net_id", J_STR, JF(struct iface_req, net_id), 0, 64, 0, 0},
    {"port_id", J_STR, JF(struct iface_req, port_id), 0, 64, 0, 0},
    {"fixed_ips", J_ARRAY, JF(struct iface_req, fixed_ips), 0, 0, 0, 0},
    {"tag", J_STR, JF(struct iface_req, tag), 0, 60, 0, 0},
};

/* Inside the transaction: locks the server, checks the caller may change it and that
 * it is in a state its NICs can change in (Nova: active, paused, stopped, suspended
 * are not all hot-pluggable; Nubo plugs into a running or paused guest and updates a
 * stopped one's list). Fills id and az, or answers and returns < 0. */
static int iface_server_for_change(struct req *r, struct resp *w, const char *verb,
                                   char id[UUID_STR_LEN], char *az, size_t azlen)
{
	PGresult *res = server_find(r, w, r->params[0], 1);
	if (!res)
		return -ENOENT;
	struct server_row s;
	server_row_from(res, 0, &s);
	/* a queued TASK_NICS is no obstacle: each carries the whole NIC set, the last wins */
	int rc = server_lock_check(r, w, s.id, s.locked_by);
	if (rc == 0 && s.task_state) {
		resp_error(r, w, 409, "Cannot '%s' instance %s while it is in task_state %s", verb,
		           s.id, s.task_state);
		rc = -EBUSY;
	} else if (rc == 0 &&
	           (!s.host || (strcmp(s.vm_state, "active") && strcmp(s.vm_state, "paused") &&
	                        strcmp(s.vm_state, "stopped")))) {
		resp_error(r, w, 409, "Cannot '%s' instance %s while it is in vm_state %s", verb,
		           s.id, s.vm_state ? s.vm_state : "unknown");
		rc = -EBUSY;
	}
	snprintf(id, UUID_STR_LEN, "%s", s.id);
	snprintf(az, azlen, "%s", s.az ? s.az : "nova");
	PQclear(res);
	return rc;
}

/* The server's NIC count: into *n, 0; or answers and returns -EIO. */
static int iface_count(struct req *r, struct resp *w, const char *id, long *n)
{
	char err[256];
	PGresult *q = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT count(*) FROM net_ports p WHERE p.device_id = $1 AND" SERVER_NIC_SQL("p"), id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	*n = db_long(q, 0, 0, 0);
	PQclear(q);
	return 0;
}

static void iface_attach(struct req *r, struct resp *w)
{
	struct iface_req a = {0};
	char id[UUID_STR_LEN], az[64], err[512], port[UUID_STR_LEN] = "";
	int began = 0;
	long before = 0;
	json_t *nets = NULL, *att = NULL;
	if (wire_parse_closed(r, w, "interfaceAttachment", f_iface, JCOUNT(f_iface), NULL, &a) < 0)
		return;
	const char *ip =
	    json_string_value(json_object_get(json_array_get(a.fixed_ips, 0), "ip_address"));
	if ((a.net_id && !uuid_is_valid(a.net_id)) || (a.port_id && !uuid_is_valid(a.port_id)) ||
	    json_array_size(a.fixed_ips) > 1 || (a.fixed_ips && !ip)) {
		resp_error(r, w, 400, "Invalid input for field/attribute interfaceAttachment.");
		goto out;
	}
	if (a.port_id && (a.net_id || a.fixed_ips)) {
		resp_error(r, w, 400,
		           "Must not input both network_id and port_id" /* Nova's words */);
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	if (iface_server_for_change(r, w, "attach_interface", id, az, sizeof az) < 0 ||
	    iface_count(r, w, id, &before) < 0)
		goto out;
	if (before >= MSG_NICS_MAX) {
		resp_error(r, w, 403, "Maximum number of ports exceeded");
		goto out;
	}
	if (!a.port_id && !a.net_id) {
		/* Nova: a port on the project's only network ("auto", as at create) */
	} else if (a.net_id) {
		json_t *seen = net_fetch(r, &net_res_network, a.net_id);
		if (!seen) {
			resp_error(r, w, 404, "Network %s could not be found.", a.net_id);
			goto out;
		}
		json_decref(seen);
		nets = ip ? json_pack("[{s:s,s:s}]", "uuid", a.net_id, "fixed_ip", ip)
		          : json_pack("[{s:s}]", "uuid", a.net_id);
	} else {
		nets = json_pack("[{s:s}]", "port", a.port_id);
	}
	long after = 0;
	if (server_ports_create(r, w, id, az, nets, NULL) < 0 || iface_count(r, w, id, &after) < 0)
		goto out;
	if (after <= before) {
		resp_error(r, w, 400, "No network to attach to: give net_id or port_id.");
		goto out;
	}
	/* the port just bound: the given one, or the newest of the server's */
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT p.id FROM net_ports p WHERE p.device_id = $1 AND" SERVER_NIC_SQL(
	                      "p") " AND ($2::text IS NULL OR p.id = $2)"
	                           " ORDER BY p.created_at DESC, p.id LIMIT 1",
	                  id, a.port_id);
	if (!q || PQntuples(q) != 1) {
		if (q)
			PQclear(q);
		resp_db_error(r, w, q ? "the attached port is not there" : err);
		goto out;
	}
	snprintf(port, sizeof port, "%s", PQgetvalue(q, 0, 0));
	PQclear(q);
	if (server_task_queue(r, id, NULL, TASK_NICS, "attach_interface",
	                      "compute_attach_interface", err, sizeof err) < 0 ||
	    !(q = iface_rows(r, id, port, err, sizeof err))) {
		resp_db_error(r, w, err);
		goto out;
	}
	att = PQntuples(q) == 1 ? iface_json(r, PQgetvalue(q, 0, 0)) : NULL;
	PQclear(q);
	json_t *body = json_pack("{s:o}", "interfaceAttachment", att ? att : json_object());
	att = NULL;
	if (resp_commit_wake(r, w, 200, body) == 0)
		began = 0;
out:
	if (began)
		db_rollback(r->ctx->db);
	json_decref(nets);
	json_decref(att);
	jparse_release(f_iface, JCOUNT(f_iface), &a);
}

static void iface_detach(struct req *r, struct resp *w)
{
	char id[UUID_STR_LEN], az[64], err[512];
	const char *port = r->params[1];
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	if (iface_server_for_change(r, w, "detach_interface", id, az, sizeof az) < 0)
		goto fail;
	PGresult *q = uuid_is_valid(port) ? iface_rows(r, id, port, err, sizeof err) : NULL;
	if (uuid_is_valid(port) && !q) {
		resp_db_error(r, w, err);
		goto fail;
	}
	int n = q ? PQntuples(q) : 0;
	if (q)
		PQclear(q);
	if (n != 1) {
		resp_error(r, w, 404, "Port %s could not be found.", port);
		goto fail;
	}
	/* a port the attach (or the create) made goes; the user's is unbound */
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_floatingips SET port_id = NULL, fixed_ip = NULL, router_id = NULL"
	        " WHERE port_id = $1 AND EXISTS (SELECT 1 FROM net_ports WHERE id = $1 AND"
	        " auto_delete)",
	        port) < 0 ||
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_ports WHERE id = $1 AND auto_delete",
	        port) < 0 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_ports SET device_id = '', device_owner = '', host = '',"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        port) < 0 ||
	    net_touch(r->ctx->db, r->id, err, sizeof err) < 0 ||
	    server_task_queue(r, id, NULL, TASK_NICS, "detach_interface",
	                      "compute_detach_interface", err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		goto fail;
	}
	resp_commit_wake(r, w, 202, NULL);
	return;
fail:
	db_rollback(r->ctx->db);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/servers/{}/os-interface", iface_list, POL_COMPUTE_READ, 0},
    {"GET", C "/servers/{}/os-interface/{}", iface_show, POL_COMPUTE_READ, 0},
    {"POST", C "/servers/{}/os-interface", iface_attach, POL_COMPUTE_WRITE, 0},
    {"DELETE", C "/servers/{}/os-interface/{}", iface_detach, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(server_interface_routes, routes, &compute_hooks);

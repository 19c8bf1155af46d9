/* Nova's port interfaces of a server (/servers/{id}/os-interface), the read side: the
 * Network API ports bound to the server (device_id = its id, device_owner compute:*)
 * as interfaceAttachments, listed or shown by port id. Attaching and detaching (POST,
 * DELETE: hot-plug over QMP) are not implemented yet; those routes stay absent. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_nic.h"
#include "compute/server.h"
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

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/servers/{}/os-interface", iface_list, POL_COMPUTE_READ, 0},
    {"GET", C "/servers/{}/os-interface/{}", iface_show, POL_COMPUTE_READ, 0},
};
HTTPD_TABLE(server_interface_routes, routes, &compute_hooks);

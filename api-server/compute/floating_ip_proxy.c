/* Nova's floating IP proxies over the Network API (microversions below 2.36 for
 * os-floating-ips and os-floating-ip-pools, below 2.44 for the addFloatingIp and
 * removeFloatingIp server actions). A pool is an external network, named by its name
 * or id; a floating IP is shown as {id, ip, pool, fixed_ip, instance_id}. The Network
 * API's own transactions do the work (net_floatingip_*_tx); what they answer, in their
 * terms, is turned into Nova's status and shape here. */
#include "compute/floating_ip_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "db.h"
#include "jparse.h"
#include "network/network.h"
#include "policy.h"
#include "wire.h"
#include "server_nic.h"

#define FIP_MAX_MINOR 35     /* 2.36 removed os-floating-ips and os-floating-ip-pools */
#define FIP_ACT_MAX_MINOR 43 /* 2.44 removed addFloatingIp and removeFloatingIp */
#define FIP_ADDR_MAX 64

/* One floating IP in Nova's shape per row; $1 the caller's project, $2 admin. */
static const char fip_sql[] =
    "SELECT json_build_object('id', f.id, 'ip', (SELECT host(i.ip) FROM net_ips i WHERE"
    " i.port_id = f.fip_port_id ORDER BY i.ip LIMIT 1), 'pool', n.name, 'fixed_ip',"
    " host(f.fixed_ip), 'instance_id', CASE WHEN p.device_owner LIKE 'compute:%' THEN"
    " p.device_id END)::text, f.id, coalesce(p.device_id, ''), f.port_id IS NOT NULL FROM"
    " net_floatingips f JOIN net_networks n ON n.id = f.network_id LEFT JOIN net_ports p ON"
    " p.id = f.port_id";

/* Nova's 404 beyond the version that removed the API. */
static int fip_version_ok(struct req *r, struct resp *w, int max_minor)
{
	if (r->ctx->mv_minor <= max_minor)
		return 0;
	resp_error(r, w, 404, "The resource could not be found.");
	return -ENOENT;
}

static const char *is_admin(struct req *r)
{
	return policy_is_admin(&r->ctx->auth) ? "true" : "false";
}

/* ---- the Network API's answers in Nova's terms ---- */

/* The message of an error body s holds (any service's shape), or "". */
static const char *scratch_message(const struct resp *s)
{
	const char *k;
	json_t *v;
	if (!json_is_object(s->json))
		return "";
	json_object_foreach(s->json, k, v)
	{
		const char *m = json_string_value(json_object_get(v, "message"));
		if (m)
			return m;
	}
	return "";
}

static void scratch_release(struct resp *s)
{
	json_decref(s->json);
	s->json = NULL;
	free(s->text);
	s->text = NULL;
	for (int i = 0; i < s->nheaders; i++) {
		free(s->hname[i]);
		free(s->hval[i]);
	}
	s->nheaders = 0;
}

/* How one operation's Network API failures map to Nova's statuses: the first entry
 * whose status matches (0: any 4xx) and whose word is in the message (NULL: any). */
struct fip_map {
	int from;
	const char *word;
	int to;
};

/* Answers w as Nova would for the failure the Network API wrote into s. */
static void scratch_answer(struct req *r, struct resp *w, struct resp *s, const struct fip_map *map,
                           size_t n)
{
	const char *msg = scratch_message(s);
	int status = s->status ? s->status : 500;
	if (status < 500)
		for (size_t i = 0; i < n; i++)
			if ((map[i].from == status || map[i].from == 0) &&
			    (!map[i].word || strstr(msg, map[i].word))) {
				status = map[i].to;
				break;
			}
	resp_error(r, w, status, "%s", *msg ? msg : httpd_status_title(status));
	scratch_release(s);
}

/* ---- os-floating-ip-pools ---- */

static void pools_list(struct req *r, struct resp *w)
{
	char err[512];
	if (fip_version_ok(r, w, FIP_MAX_MINOR) < 0)
		return;
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT name FROM net_networks WHERE external ORDER BY created_at, id");
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *l = json_array();
	for (int i = 0; i < PQntuples(q); i++)
		json_array_append_new(l, json_pack("{s:s}", "name", PQgetvalue(q, i, 0)));
	PQclear(q);
	resp_json(w, 200, json_pack("{s:o}", "floating_ip_pools", l));
}

/* ---- os-floating-ips ---- */

static void fip_list(struct req *r, struct resp *w)
{
	char err[512], sql[1024];
	if (fip_version_ok(r, w, FIP_MAX_MINOR) < 0)
		return;
	/* Nova lists the project's own, admin or not */
	snprintf(sql, sizeof sql, "%s WHERE f.project_id = $1 ORDER BY f.created_at, f.id",
	         fip_sql);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, r->ctx->auth.project_id);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *l = json_array();
	for (int i = 0; i < PQntuples(q); i++)
		json_array_append_new(l, json_loads(PQgetvalue(q, i, 0), 0, NULL));
	PQclear(q);
	resp_json(w, 200, json_pack("{s:o}", "floating_ips", l));
}

/* The floating IP whose column col ("f.id" or the address) is v, as the caller may see
 * it: a result (row 0: view, id, device id, associated), or NULL after answering 404
 * (msg) or 500. */
static PGresult *fip_find(struct req *r, struct resp *w, int by_address, const char *v,
                          const char *msg)
{
	char err[512], sql[1536];
	snprintf(sql, sizeof sql,
	         "%s WHERE %s AND (f.project_id = $2 OR $3::boolean) ORDER BY f.created_at"
	         " LIMIT 1",
	         fip_sql,
	         by_address ? "EXISTS (SELECT 1 FROM net_ips i WHERE i.port_id = f.fip_port_id"
	                      " AND host(i.ip) = $1)"
	                    : "f.id = $1");
	PGresult *q =
	    DBQ(r->ctx->db, err, sizeof err, sql, v, r->ctx->auth.project_id, is_admin(r));
	if (!q) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		resp_error(r, w, 404, msg, v);
		return NULL;
	}
	return q;
}

static void fip_show(struct req *r, struct resp *w)
{
	if (fip_version_ok(r, w, FIP_MAX_MINOR) < 0)
		return;
	PGresult *q = fip_find(r, w, 0, r->params[0], "Floating IP %s could not be found.");
	if (!q)
		return;
	resp_json(w, 200, json_pack("{s:o}", "floating_ip", json_loads(db_val(q, 0, 0), 0, NULL)));
	PQclear(q);
}

struct fip_new {
	const char *network_id;
	char id[UUID_STR_LEN];
};

static int fip_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct fip_new *c = arg;
	return net_floatingip_create_tx(r, w, r->ctx->auth.project_id, c->network_id, c->id);
}

struct pool_body {
	char *pool;
};
static const struct jfield f_pool[] = {
    {"pool", J_STR, JF(struct pool_body, pool), 0, 255, 0, 1, 0},
};

static void fip_create(struct req *r, struct resp *w)
{
	static const struct fip_map map[] = {
	    {409, "Quota", 403}, /* Nova: FloatingIpLimitExceeded */
	    {409, NULL, 404},    /* Nova: NoMoreFloatingIps */
	};
	struct pool_body b = {0};
	char err[512], why[256];
	PGresult *q = NULL;
	if (fip_version_ok(r, w, FIP_MAX_MINOR) < 0)
		return;
	/* the body may be absent or null: Nova then takes its default pool */
	if (r->json && !json_is_null(r->json) &&
	    (!json_is_object(r->json) ||
	     jparse(r->json, f_pool, JCOUNT(f_pool), &b, why, sizeof why) < 0)) {
		resp_error(r, w, 400, "Invalid input for field/attribute pool.");
		goto out;
	}
	/* the pool by name or id; none named: the first external network (Nova's
	 * default_floating_pool, which a deployment sets to its external network) */
	q = DBQ(r->ctx->db, err, sizeof err,
	        "SELECT id FROM net_networks WHERE external AND ($1::text IS NULL OR id = $1 OR"
	        " name = $1) ORDER BY (id = $1) DESC, created_at, id LIMIT 1",
	        b.pool);
	if (!q) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(q) != 1) {
		resp_error(r, w, 404, "Floating IP pool not found.");
		goto out;
	}
	struct fip_new c = {.network_id = db_val(q, 0, 0)};
	struct resp s = {.fd = -1};
	if (net_tx(r, &s, fip_create_tx, &c) < 0) {
		scratch_answer(r, w, &s, map, JCOUNT(map));
		goto out;
	}
	scratch_release(&s);
	PQclear(q);
	if ((q = fip_find(r, w, 0, c.id, "Floating IP %s could not be found.")))
		resp_json(w, 200,
		          json_pack("{s:o}", "floating_ip", json_loads(db_val(q, 0, 0), 0, NULL)));
out:
	PQclear(q);
	jparse_release(f_pool, JCOUNT(f_pool), &b);
}

struct fip_assoc {
	const char *id, *port_id, *fixed_ip; /* port_id NULL: disassociate */
};

static int fip_assoc_tx(struct req *r, struct resp *w, void *arg)
{
	struct fip_assoc *a = arg;
	return net_floatingip_associate_tx(r, w, a->id, a->port_id, a->fixed_ip);
}

static int fip_delete_tx(struct req *r, struct resp *w, void *arg)
{
	/* Nova disassociates, then releases */
	struct fip_assoc a = {.id = arg};
	int rc = fip_assoc_tx(r, w, &a);
	return rc < 0 ? rc : net_floatingip_delete_tx(r, w, arg);
}

static void fip_delete(struct req *r, struct resp *w)
{
	if (fip_version_ok(r, w, FIP_MAX_MINOR) < 0)
		return;
	PGresult *q = fip_find(r, w, 0, r->params[0], "Floating IP %s could not be found.");
	if (!q)
		return;
	char id[UUID_STR_LEN];
	snprintf(id, sizeof id, "%s", db_val(q, 0, 1));
	PQclear(q);
	struct resp s = {.fd = -1};
	if (net_tx(r, &s, fip_delete_tx, id) < 0) {
		scratch_answer(r, w, &s, NULL, 0);
		return;
	}
	scratch_release(&s);
	resp_empty(w, 202);
}

/* ---- the server actions ---- */

struct fip_action_body {
	char *address, *fixed_address;
};
static const struct jfield f_action[] = {
    {"address", J_STR, JF(struct fip_action_body, address), 0, FIP_ADDR_MAX, 1, 0, 0},
    {"fixed_address", J_STR, JF(struct fip_action_body, fixed_address), 0, FIP_ADDR_MAX, 0, 0, 0},
};

/* Pure: 1 when s is an IPv4 or IPv6 address (Nova's schema formats). */
static int addr_valid(const char *s)
{
	unsigned char bin[16];
	return s && (inet_pton(AF_INET, s, bin) == 1 || inet_pton(AF_INET6, s, bin) == 1);
}

/* The body of key at the edge (Nova's schema): 0, or -EINVAL after its 400. */
static int action_parse(struct req *r, struct resp *w, const char *key, const json_t *arg, int add,
                        struct fip_action_body *b)
{
	char why[256];
	if (!json_is_object(arg) ||
	    jparse_known(arg, f_action, add ? 2 : 1, NULL, why, sizeof why) < 0 ||
	    jparse(arg, f_action, add ? 2 : 1, b, why, sizeof why) < 0 || !addr_valid(b->address) ||
	    (b->fixed_address && !addr_valid(b->fixed_address))) {
		resp_error(r, w, 400, "Invalid input for field/attribute %s.", key);
		return -EINVAL;
	}
	return 0;
}

/* addFloatingIp: the server's fixed IP (fixed or its first IPv4), then the association. */
static void action_add(struct req *r, struct resp *w, const char *sid,
                       const struct fip_action_body *b)
{
	static const struct fip_map map[] = {{0, NULL, 400}};
	char err[512], port[96];
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT p.id, host(i.ip), family(i.ip) FROM net_ports p JOIN net_ips i"
	                  " ON i.port_id = p.id WHERE p.device_id = $1 AND" SERVER_NIC_SQL(
	                      "p") " AND ($2::text IS NULL OR host(i.ip) = $2) ORDER BY"
	                           " family(i.ip), p.created_at, p.id, i.ip LIMIT 1",
	                  sid, b->fixed_address);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(q) != 1 || (!b->fixed_address && strcmp(db_val(q, 0, 2), "4"))) {
		resp_error(r, w, 400, "%s",
		           b->fixed_address ? "Specified fixed address not assigned to instance"
		                            : "No fixed IPs associated to instance");
		PQclear(q);
		return;
	}
	snprintf(port, sizeof port, "%s", db_val(q, 0, 0));
	char fixed[FIP_ADDR_MAX];
	snprintf(fixed, sizeof fixed, "%s", db_val(q, 0, 1));
	PQclear(q);
	if (!(q = fip_find(r, w, 1, b->address, "floating IP %s not found")))
		return;
	struct fip_assoc a = {.id = db_val(q, 0, 1), .port_id = port, .fixed_ip = fixed};
	struct resp s = {.fd = -1};
	if (net_tx(r, &s, fip_assoc_tx, &a) < 0)
		scratch_answer(r, w, &s, map, JCOUNT(map));
	else {
		scratch_release(&s);
		resp_empty(w, 202);
	}
	PQclear(q);
}

/* removeFloatingIp: only from the server that has it (else Nova's 409). */
static void action_remove(struct req *r, struct resp *w, const char *sid,
                          const struct fip_action_body *b)
{
	PGresult *q = fip_find(r, w, 1, b->address, "floating IP %s not found");
	if (!q)
		return;
	if (strcmp(db_val(q, 0, 3), "t") || strcmp(db_val(q, 0, 2), sid)) {
		resp_error(r, w, 409, "Floating IP %s is not associated with instance %s.",
		           b->address, sid);
		PQclear(q);
		return;
	}
	struct fip_assoc a = {.id = db_val(q, 0, 1)};
	struct resp s = {.fd = -1};
	if (net_tx(r, &s, fip_assoc_tx, &a) < 0)
		scratch_answer(r, w, &s, NULL, 0);
	else {
		scratch_release(&s);
		resp_empty(w, 202);
	}
	PQclear(q);
}

void floating_ip_proxy_action(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct fip_action_body b = {0};
	int add = !strcmp(key, "addFloatingIp");
	if (fip_version_ok(r, w, FIP_ACT_MAX_MINOR) < 0 ||
	    action_parse(r, w, key, arg, add, &b) < 0)
		goto out;
	PGresult *s = server_find(r, w, r->params[0], 0);
	if (!s)
		goto out;
	char sid[UUID_STR_LEN];
	snprintf(sid, sizeof sid, "%s", db_val(s, 0, 0));
	PQclear(s);
	if (add)
		action_add(r, w, sid, &b);
	else
		action_remove(r, w, sid, &b);
out:
	jparse_release(f_action, JCOUNT(f_action), &b);
}

static const struct httpd_route routes[] = {
    {"GET", "/compute/v2.1/os-floating-ip-pools", pools_list, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/os-floating-ips", fip_list, POL_COMPUTE_READ, 0},
    {"POST", "/compute/v2.1/os-floating-ips", fip_create, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/os-floating-ips/{}", fip_show, POL_COMPUTE_READ, 0},
    {"DELETE", "/compute/v2.1/os-floating-ips/{}", fip_delete, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(floating_ip_proxy_routes, routes, &compute_hooks);

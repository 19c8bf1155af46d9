/* The metadata service behind nubo-net's proxy (docs/netstate.md): a guest's request
 * for http://169.254.169.254/<path> arrives as GET /metadata/<path> with the shared
 * secret, the network id and the guest's source address; the instance is the one
 * whose port on that network holds that fixed IP and is one of its NICs (SERVER_NIC_SQL:
 * a port of another project naming the instance in device_id is not), so a guest only
 * ever reads its own data. OpenStack (openstack/<version>/meta_data.json, user_data,
 * network_data.json) and the EC2 tree (<version>/meta-data/..., user-data). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "server_nic.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* The instance of the request: columns of inst_sql. */
enum {
	M_ID,
	M_NAME,
	M_HOSTNAME,
	M_AZ,
	M_PROJECT,
	M_KEY_NAME,
	M_PUBLIC_KEY,
	M_USER_DATA,
	M_METADATA,
	M_LAUNCH_INDEX,
	M_RESV,
	M_IP,
	M_FLOATING,
	M_NETWORK_DATA,
	M_SGS,
};

static const char inst_sql[] =
    "SELECT i.id, i.name, coalesce(i.hostname, ''), i.az, i.project_id, i.key_name,"
    " i.public_key, i.user_data, i.metadata::text, coalesce(i.launch_index, 0),"
    " coalesce(i.reservation_id, ''), host(ip.ip),"
    " (SELECT host(fi.ip) FROM net_floatingips f JOIN net_ips fi ON fi.port_id = f.fip_port_id"
    "  WHERE f.port_id = p.id LIMIT 1),"
    " json_build_object('links', (SELECT json_agg(json_build_object('id', 'tap' ||"
    "   substr(q.id, 1, 11), 'vif_id', q.id, 'type', 'tap', 'mtu', n.mtu,"
    "   'ethernet_mac_address', q.mac) ORDER BY q.created_at, q.id) FROM net_ports q JOIN"
    "   net_networks n ON n.id = q.network_id WHERE q.device_id = i.id AND" SERVER_NIC_SQL(
        "q") "),"
             "  'networks', (SELECT json_agg(json_build_object('id', 'network' || x.k, 'type', "
             "'ipv4',"
             "   'link', 'tap' || substr(x.port_id, 1, 11), 'ip_address', host(x.ip), 'netmask',"
             "   host(netmask(x.cidr)), 'network_id', x.network_id, 'routes', CASE WHEN x.gw IS "
             "NULL"
             "   THEN '[]'::json ELSE json_build_array(json_build_object('network', '0.0.0.0',"
             "   'netmask', '0.0.0.0', 'gateway', host(x.gw))) END) ORDER BY x.k) FROM (SELECT"
             "   row_number() OVER (ORDER BY q.created_at, q.id, qi.ip) - 1 AS k, q.id AS port_id,"
             "   qi.ip, s.cidr, s.gateway_ip AS gw, q.network_id FROM net_ports q JOIN net_ips qi "
             "ON"
             "   qi.port_id = q.id JOIN net_subnets s ON s.id = qi.subnet_id WHERE q.device_id = "
             "i.id"
             "   AND" SERVER_NIC_SQL(
                 "q") ") x),"
                      "  'services', (SELECT coalesce(json_agg(DISTINCT jsonb_build_object('type', "
                      "'dns',"
                      "   'address', d.v)), '[]') FROM net_ports q JOIN net_ips qi ON qi.port_id = "
                      "q.id JOIN"
                      "   net_subnets s ON s.id = qi.subnet_id, jsonb_array_elements_text(s.dns) "
                      "d(v) WHERE"
                      "   q.device_id = i.id AND" SERVER_NIC_SQL(
                          "q") "))::text,"
                               " (SELECT string_agg(g.name, E'\\n' ORDER BY g.name) FROM "
                               "net_secgroups g JOIN"
                               "  net_port_sgs ps ON ps.sg_id = g.id WHERE ps.port_id = p.id)"
                               " FROM net_ports p JOIN net_ips ip ON ip.port_id = p.id JOIN "
                               "instances i ON"
                               " i.id = p.device_id WHERE p.network_id = $1 AND ip.ip = $2::inet "
                               "AND" SERVER_NIC_SQL("p") "AND NOT i.deleted LIMIT 1";

/* The caller's instance row (PQclear), or NULL after answering 403/404. */
static PGresult *md_instance(struct req *r, struct resp *w)
{
	const char *want = conf_get(r->ctx->api->conf, "network", "metadata_secret", "");
	const char *got = req_header(r, "X-Nubo-Metadata-Secret");
	const char *net = req_header(r, "X-Nubo-Network-Id");
	const char *ip = req_header(r, "X-Forwarded-For");
	unsigned a;
	if (!*want || !got || strlen(got) != strlen(want) ||
	    sodium_memcmp(got, want, strlen(want)) != 0) {
		resp_error(r, w, 403, "metadata: not from nubo-net");
		return NULL;
	}
	if (!net || !ip || strlen(net) > 64 || !net_ip_parse(ip, &a)) {
		resp_error(r, w, 400, "metadata: network id and guest address required");
		return NULL;
	}
	char err[512];
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, inst_sql, net, ip);
	if (!q) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		resp_error(r, w, 404, "metadata: no instance at %s on network %s", ip, net);
		return NULL;
	}
	return q;
}

static void md_text(struct resp *w, const char *text)
{
	w->status = 200;
	w->text = xstrdup(text);
	w->text_len = strlen(text);
	w->content_type = "text/plain; charset=UTF-8";
}

static const char *val(const PGresult *q, int col)
{
	const char *v = db_val(q, 0, col);
	return v ? v : "";
}

static void md_openstack_versions(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (q)
		md_text(w, "2012-08-10\n2013-04-04\n2013-10-17\n2015-10-15\n2016-06-30\nlatest");
	PQclear(q);
}

static void md_meta_data(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (!q)
		return;
	json_t *meta = json_loads(val(q, M_METADATA), 0, NULL);
	json_t *doc =
	    json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:o,s:[]}", "uuid", val(q, M_ID), "name",
	              val(q, M_NAME), "hostname", val(q, M_HOSTNAME), "availability_zone",
	              val(q, M_AZ), "project_id", val(q, M_PROJECT), "launch_index",
	              atoi(val(q, M_LAUNCH_INDEX)), "meta", meta ? meta : json_object(), "devices");
	if (db_val(q, 0, M_KEY_NAME) && db_val(q, 0, M_PUBLIC_KEY)) {
		json_object_set_new(doc, "public_keys",
		                    json_pack("{s:s}", val(q, M_KEY_NAME), val(q, M_PUBLIC_KEY)));
		json_object_set_new(doc, "keys",
		                    json_pack("[{s:s,s:s,s:s}]", "name", val(q, M_KEY_NAME), "type",
		                              "ssh", "data", val(q, M_PUBLIC_KEY)));
	}
	resp_json(w, 200, doc);
	PQclear(q);
}

static void md_network_data(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (!q)
		return;
	json_t *doc = json_loads(val(q, M_NETWORK_DATA), 0, NULL);
	if (doc && json_is_null(json_object_get(doc, "links")))
		json_object_set_new(doc, "links", json_array());
	if (doc && json_is_null(json_object_get(doc, "networks")))
		json_object_set_new(doc, "networks", json_array());
	resp_json(w, 200, doc ? doc : json_object());
	PQclear(q);
}

/* user_data as the user sent it (stored base64): decoded, or 404 when there is none. */
static void md_user_data(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (!q)
		return;
	unsigned char *raw = NULL;
	size_t n = 0;
	const char *b64 = db_val(q, 0, M_USER_DATA);
	if (!b64 || base64_decode(b64, "\r\n", 1, &raw, &n) < 0) {
		resp_error(r, w, 404, "no user data");
	} else {
		w->status = 200;
		w->text = (char *)raw;
		w->text_len = n;
		w->content_type = "application/octet-stream";
	}
	PQclear(q);
}

/* Nova's vendor_data.json: nothing from a vendor, an empty object (as on the config
 * drive). */
static void md_vendor_data(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (q)
		resp_json(w, 200, json_object());
	PQclear(q);
}

/* One item of the EC2 tree <version>/meta-data/ ("" = its listing). */
static void md_ec2_leaf(struct req *r, struct resp *w, const char *leaf)
{
	PGresult *q = md_instance(r, w);
	if (!q)
		return;
	char *text = NULL;
	if (!*leaf)
		text = xstrdup("ami-id\nhostname\ninstance-id\nlocal-hostname\nlocal-ipv4\n"
		               "placement/\npublic-hostname\npublic-ipv4\npublic-keys/\n"
		               "reservation-id\nsecurity-groups");
	else if (!strcmp(leaf, "instance-id"))
		text = xstrdup(val(q, M_ID));
	else if (!strcmp(leaf, "hostname") || !strcmp(leaf, "local-hostname") ||
	         !strcmp(leaf, "public-hostname"))
		text = xstrdup(val(q, M_HOSTNAME));
	else if (!strcmp(leaf, "local-ipv4"))
		text = xstrdup(val(q, M_IP));
	else if (!strcmp(leaf, "public-ipv4"))
		text = xstrdup(val(q, M_FLOATING));
	else if (!strcmp(leaf, "reservation-id"))
		text = xstrdup(val(q, M_RESV));
	else if (!strcmp(leaf, "security-groups"))
		text = xstrdup(val(q, M_SGS));
	else if (!strcmp(leaf, "ami-id"))
		text = xstrdup("ami-00000001");
	else if (!strcmp(leaf, "public-keys"))
		text =
		    db_val(q, 0, M_KEY_NAME) ? xasprintf("0=%s", val(q, M_KEY_NAME)) : xstrdup("");
	if (text)
		md_text(w, text);
	else
		resp_error(r, w, 404, "metadata: no such item");
	free(text);
	PQclear(q);
}

/* <version>/meta-data/ and <version>/meta-data/<leaf>. */
static void md_ec2(struct req *r, struct resp *w)
{
	md_ec2_leaf(r, w, r->nparams > 1 ? r->params[1] : "");
}

/* The directories of the tree, as cloud-init walks it: a listing line ending in '/'
 * is fetched with the slash ("public-keys/" lists "0=<key name>", whose key is
 * public-keys/0/openssh-key). */
static void md_ec2_public_keys(struct req *r, struct resp *w)
{
	md_ec2_leaf(r, w, "public-keys");
}

static void md_ec2_key_dir(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (q && db_val(q, 0, M_PUBLIC_KEY))
		md_text(w, "openssh-key");
	else if (q)
		resp_error(r, w, 404, "metadata: no key");
	PQclear(q);
}

static void md_ec2_placement_dir(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (q)
		md_text(w, "availability-zone");
	PQclear(q);
}

static void md_ec2_key(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (!q)
		return;
	if (db_val(q, 0, M_PUBLIC_KEY))
		md_text(w, val(q, M_PUBLIC_KEY));
	else
		resp_error(r, w, 404, "metadata: no key");
	PQclear(q);
}

static void md_ec2_placement(struct req *r, struct resp *w)
{
	PGresult *q = md_instance(r, w);
	if (q)
		md_text(w, val(q, M_AZ));
	PQclear(q);
}

static const struct httpd_route md_route_list[] = {
    {"GET", "/metadata/openstack", md_openstack_versions, POL_PUBLIC, 0},
    {"GET", "/metadata/openstack/{}/meta_data.json", md_meta_data, POL_PUBLIC, 0},
    {"GET", "/metadata/openstack/{}/network_data.json", md_network_data, POL_PUBLIC, 0},
    {"GET", "/metadata/openstack/{}/user_data", md_user_data, POL_PUBLIC, 0},
    {"GET", "/metadata/openstack/{}/vendor_data.json", md_vendor_data, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/user-data", md_user_data, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data", md_ec2, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/", md_ec2, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/public-keys/", md_ec2_public_keys, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/public-keys/0/", md_ec2_key_dir, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/placement/", md_ec2_placement_dir, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/{}", md_ec2, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/placement/availability-zone", md_ec2_placement, POL_PUBLIC, 0},
    {"GET", "/metadata/{}/meta-data/public-keys/0/openssh-key", md_ec2_key, POL_PUBLIC, 0},
};
HTTPD_TABLE(net_metadata_routes, md_route_list, &network_hooks);

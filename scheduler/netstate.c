/* The nethost task kind (docs/netstate.md): a net.sync task carries the whole desired
 * state of one host, read from the database in one statement when the task is sent
 * (and again when it is re-sent), so nubo-net converges to the newest layout. A
 * network agent whose hello lists no nethost resource has none applied (it started):
 * it gets a net.sync. Routers and DHCP run on the network host: [network] l3_host, or
 * the first nubo-net host by name. */
#include "netstate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "server_nic.h"
#include "xalloc.h"

#define NET_SUFFIX ".net"

/* The NICs of the servers on host $1: SERVER_NIC_SQL's ports only. */
#define VMPORTS_CTE                                                                                \
	"WITH vmports AS (SELECT p.* FROM net_ports p JOIN instances i ON i.id = p.device_id"      \
	"  WHERE" SERVER_NIC_SQL("p") "AND i.host = $1 AND NOT i.deleted),"

/* The whole document but its header, as one JSON object. $1 host, $2 l3 ("true"/"false"),
 * $3 the external bridge. */
static const char doc_sql[] = VMPORTS_CTE
    " rports AS (SELECT p.* FROM net_ports p WHERE $2::boolean AND p.device_owner IN"
    "  ('network:router_interface', 'network:router_gateway')),"
    " dports AS (SELECT p.* FROM net_ports p WHERE $2::boolean AND"
    "  p.device_owner = 'network:dhcp'),"
    " nets AS (SELECT network_id AS id FROM vmports UNION SELECT network_id FROM rports"
    "  UNION SELECT network_id FROM dports),"
    " sgs AS (SELECT DISTINCT ps.sg_id AS id FROM net_port_sgs ps JOIN vmports v ON"
    "  v.id = ps.port_id WHERE v.port_security),"
    " allsgs AS (SELECT id FROM sgs UNION SELECT remote_group_id FROM net_sg_rules WHERE"
    "  sg_id IN (SELECT id FROM sgs) AND remote_group_id IS NOT NULL)"
    " SELECT json_build_object("
    " 'networks', (SELECT coalesce(json_agg(json_build_object("
    "   'id', n.id, 'name', n.name, 'project_id', n.project_id, 'mtu', n.mtu,"
    "   'segmentation', CASE n.net_type"
    "     WHEN 'vxlan' THEN json_build_object('type', 'vxlan', 'id', n.seg_id)"
    "     WHEN 'vlan' THEN json_build_object('type', 'vlan', 'id', n.seg_id,"
    "       'physical', n.physical_network)"
    "     ELSE json_build_object('type', 'flat', 'bridge', $3::text) END,"
    "   'external', n.external,"
    "   'peers', (SELECT coalesce(json_agg(h.tunnel_ip ORDER BY h.host), '[]') FROM net_hosts h"
    "     WHERE h.host <> $1 AND h.tunnel_ip <> '' AND n.net_type = 'vxlan'),"
    "   'subnets', (SELECT coalesce(json_agg(json_build_object('id', s.id,"
    "     'cidr', s.cidr::text, 'gateway_ip', host(s.gateway_ip), 'enable_dhcp', s.enable_dhcp,"
    "     'dns_nameservers', s.dns, 'host_routes', s.routes, 'allocation_pools', s.pools)"
    "     ORDER BY s.created_at, s.id), '[]') FROM net_subnets s WHERE s.network_id = n.id),"
    "   'dhcp', (SELECT json_build_object('port_id', d.id, 'mac', d.mac,"
    "     'fixed_ips', net_fixed_ips(d.id),"
    "     'hosts', (SELECT coalesce(json_agg(json_build_object('mac', p.mac,"
    "       'ip_address', host(i.ip), 'hostname', coalesce(nullif(inst.hostname, ''),"
    "       'host-' || replace(host(i.ip), '.', '-'))) ORDER BY i.ip), '[]')"
    "       FROM net_ports p JOIN net_ips i ON i.port_id = p.id JOIN net_subnets s ON"
    "       s.id = i.subnet_id AND s.enable_dhcp LEFT JOIN instances inst ON"
    "       inst.id = p.device_id AND inst.project_id = p.project_id WHERE"
    "       p.network_id = n.id AND"
    "       p.device_owner NOT LIKE 'network:%'))"
    "     FROM dports d WHERE d.network_id = n.id LIMIT 1)"
    "   ) ORDER BY n.id), '[]') FROM net_networks n WHERE n.id IN (SELECT id FROM nets)),"
    " 'ports', (SELECT coalesce(json_agg(json_build_object('id', v.id,"
    "   'network_id', v.network_id, 'tap', 'tap' || substr(v.id, 1, 11), 'mac', v.mac,"
    "   'mtu', (SELECT mtu FROM net_networks WHERE id = v.network_id),"
    "   'fixed_ips', net_fixed_ips(v.id), 'device_id', v.device_id,"
    "   'device_owner', v.device_owner, 'port_security_enabled', v.port_security,"
    "   'security_groups', CASE WHEN v.port_security THEN (SELECT coalesce(json_agg(sg_id"
    "     ORDER BY sg_id), '[]') FROM net_port_sgs WHERE port_id = v.id) ELSE '[]' END,"
    "   'allowed_address_pairs', CASE WHEN v.port_security THEN v.pairs::json ELSE '[]' END)"
    "   ORDER BY v.id), '[]') FROM vmports v),"
    " 'security_groups', (SELECT coalesce(json_agg(json_build_object('id', g.id,"
    "   'rules', (SELECT coalesce(json_agg(json_build_object('id', r.id,"
    "     'direction', r.direction, 'ethertype', r.ethertype, 'protocol', r.protocol,"
    "     'port_range_min', r.port_min, 'port_range_max', r.port_max,"
    "     'remote_ip_prefix', r.remote_ip_prefix::text, 'remote_group_id', r.remote_group_id)"
    "     ORDER BY r.id), '[]') FROM net_sg_rules r WHERE r.sg_id = g.id),"
    "   'member_ips', (SELECT coalesce(json_agg(DISTINCT a), '[]') FROM ("
    "     SELECT host(i.ip) AS a FROM net_ips i JOIN net_port_sgs ps ON ps.port_id = i.port_id"
    "     WHERE ps.sg_id = g.id UNION SELECT pr->>'ip_address' FROM net_ports p"
    "     JOIN net_port_sgs ps ON ps.port_id = p.id, jsonb_array_elements(p.pairs) pr"
    "     WHERE ps.sg_id = g.id) m)"
    "   ) ORDER BY g.id), '[]') FROM net_secgroups g WHERE g.id IN (SELECT id FROM allsgs)),"
    " 'routers', (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name,"
    "   'project_id', r.project_id,"
    "   'gateway', (SELECT json_build_object('port_id', g.id, 'network_id', g.network_id,"
    "     'mac', g.mac, 'ip_address', host(i.ip), 'prefixlen', masklen(s.cidr),"
    "     'gateway_ip', host(s.gateway_ip)) FROM net_ports g JOIN net_ips i ON"
    "     i.port_id = g.id JOIN net_subnets s ON s.id = i.subnet_id WHERE g.id = r.gw_port_id"
    "     ORDER BY i.ip LIMIT 1),"
    "   'enable_snat', r.enable_snat,"
    "   'interfaces', (SELECT coalesce(json_agg(json_build_object('port_id', p.id,"
    "     'subnet_id', i.subnet_id, 'network_id', p.network_id, 'mac', p.mac,"
    "     'ip_address', host(i.ip), 'prefixlen', masklen(s.cidr)) ORDER BY p.id), '[]')"
    "     FROM net_ports p JOIN net_ips i ON i.port_id = p.id JOIN net_subnets s ON"
    "     s.id = i.subnet_id WHERE p.device_id = r.id AND"
    "     p.device_owner = 'network:router_interface'),"
    "   'floating_ips', (SELECT coalesce(json_agg(json_build_object('id', f.id,"
    "     'floating_ip_address', (SELECT host(ip) FROM net_ips WHERE port_id = f.fip_port_id"
    "     LIMIT 1), 'fixed_ip_address', host(f.fixed_ip), 'port_id', f.port_id)"
    "     ORDER BY f.id), '[]') FROM net_floatingips f WHERE f.router_id = r.id AND"
    "     f.port_id IS NOT NULL)"
    "   ) ORDER BY r.id), '[]') FROM net_routers r WHERE $2::boolean))::text";

char *netstate_build(PGconn *c, const char *host, int l3, long generation, const char *tunnel_ip,
                     const char *metadata_url, const char *secret, char *err, size_t errlen)
{
	PGresult *q = DBQ(c, err, errlen, doc_sql, host, l3 ? "true" : "false", "br-ex");
	if (!q)
		return NULL;
	json_t *doc = json_loads(PQgetvalue(q, 0, 0), 0, NULL);
	PQclear(q);
	if (!doc) {
		snprintf(err, errlen, "the desired state does not parse");
		return NULL;
	}
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set_new(doc, "host", json_string(host));
	json_object_set_new(doc, "generation", json_integer(generation));
	json_object_set_new(doc, "tunnel_ip", json_string(tunnel_ip));
	json_object_set_new(doc, "external_bridge", json_string("br-ex"));
	json_object_set_new(doc, "metadata",
	                    json_pack("{s:s,s:s}", "url", metadata_url, "secret", secret));
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (text && strlen(text) > MSG_NETSTATE_MAX) {
		snprintf(err, errlen, "the desired state of %s is %zu bytes, more than %d", host,
		         strlen(text), MSG_NETSTATE_MAX);
		free(text);
		return NULL;
	}
	return text;
}

/* Builds and sends the document for t's host. */
static int net_send(struct sched *s, PGconn *c, const struct task *t)
{
	char err[512];
	PGresult *q =
	    DBQ(c, err, sizeof err,
	        "SELECT h.host, h.generation, h.tunnel_ip, h.host = coalesce(nullif($2, ''),"
	        " (SELECT min(host) FROM net_hosts)) FROM net_hosts h WHERE h.id = $1",
	        t->resource_id, conf_get(s->cfg->conf, "network", "l3_host", ""));
	if (!q) {
		sched_db_error(s, c, "netstate: host", err);
		return -EIO;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		tasks_mark(c, t->id, "failed", "no such network host", err, sizeof err);
		return 0;
	}
	char host[MSG_HOST_MAX], agent[MSG_HOST_MAX + 8], tunnel[64];
	snprintf(host, sizeof host, "%s", PQgetvalue(q, 0, 0));
	snprintf(agent, sizeof agent, "%s" NET_SUFFIX, host);
	snprintf(tunnel, sizeof tunnel, "%s", PQgetvalue(q, 0, 2));
	long generation = db_long(q, 0, 1, 0);
	int l3 = !strcmp(PQgetvalue(q, 0, 3), "t");
	PQclear(q);
	char *url = xasprintf("%s/metadata", s->cfg->internal_url);
	char *doc = netstate_build(c, host, l3, generation, tunnel, url,
	                           conf_get(s->cfg->conf, "network", "metadata_secret", ""), err,
	                           sizeof err);
	free(url);
	if (!doc) {
		log_warn("task %s: desired state of %s: %s", t->id, host, err);
		tasks_mark(c, t->id, "failed", err, err, sizeof err);
		return 0;
	}
	struct msg m;
	tasks_msg_init(&m, t);
	m.u.task.p.net_sync.generation = (int)(generation & 0x7fffffff);
	m.u.task.p.net_sync.state = doc;
	int rc = tasks_send(s, c, t, agent, &m);
	msg_release(&m);
	return rc;
}

static int net_dispatch(struct sched *s, PGconn *c, const struct task *t)
{
	return net_send(s, c, t);
}

static int net_on_result(struct sched *s, PGconn *c, const struct task *t,
                         const struct msg_result *r)
{
	char err[512];
	if (!r->ok)
		log_warn("task %s: nubo-net could not apply the desired state: %s", t->id,
		         r->error ? r->error : "?");
	if (tasks_mark(c, t->id, r->ok ? "done" : "failed", r->error, err, sizeof err) < 0) {
		sched_db_error(s, c, "netstate: close", err);
		return -EIO;
	}
	return 0;
}

static int net_on_deadline(struct sched *s, PGconn *c, const struct task *t, const char *why)
{
	char err[512];
	if (tasks_mark(c, t->id, "failed", why, err, sizeof err) < 0) {
		sched_db_error(s, c, "netstate: deadline", err);
		return -EIO;
	}
	return 0;
}

static int net_on_event(struct sched *s, const char *host, const struct msg_event *e)
{
	return 0;
}

/* A hello/heartbeat of a nubo-net: records the host and its tunnel address, and sends
 * its state when it reports none applied (started) or a failed one. */
static void net_reconcile(struct sched *s, PGconn *c, const char *agent, const struct msg_hello *h)
{
	char err[512], host[MSG_HOST_MAX], vlan[8];
	size_t n = strlen(agent), sl = strlen(NET_SUFFIX);
	if (n <= sl || strcmp(agent + n - sl, NET_SUFFIX)) {
		log_warn("network agent %s: its name must be <host>" NET_SUFFIX ": ignored", agent);
		return;
	}
	snprintf(host, sizeof host, "%.*s", (int)(n - sl), agent);
	snprintf(vlan, sizeof vlan, "%s", h->cap.network.vlan ? "true" : "false");
	int synced = 0;
	for (int i = 0; i < h->n_resources; i++)
		if (h->resources[i].kind == MSG_RES_NETHOST &&
		    !strcmp(h->resources[i].state, NET_SYNCED))
			synced = 1;
	PGresult *q =
	    DBQ(c, err, sizeof err,
	        /* RETURNING cannot see EXCLUDED: the old address comes from a CTE, which
	           reads the table as it was before the upsert */
	        "WITH old AS (SELECT tunnel_ip FROM net_hosts WHERE host = $1),"
	        " up AS (INSERT INTO net_hosts (host, id, tunnel_ip, vlan) VALUES ($1,"
	        " gen_random_uuid()::text, $2, $3::boolean) ON CONFLICT (host) DO UPDATE"
	        " SET tunnel_ip = EXCLUDED.tunnel_ip, vlan = EXCLUDED.vlan,"
	        " generation = net_hosts.generation + (net_hosts.tunnel_ip <>"
	        " EXCLUDED.tunnel_ip)::int RETURNING id, tunnel_ip)"
	        " SELECT up.id, NOT EXISTS (SELECT 1 FROM old) OR"
	        " (SELECT tunnel_ip FROM old) IS DISTINCT FROM up.tunnel_ip AS changed,"
	        " EXISTS (SELECT 1 FROM tasks t WHERE t.resource_kind = 'nethost' AND"
	        " t.resource_id = up.id AND t.status IN ('pending', 'dispatched')) FROM up",
	        host, h->cap.network.tunnel_ip, vlan);
	if (!q) {
		sched_db_error(s, c, "netstate: record host", err);
		return;
	}
	char id[UUID_STR_LEN + 8];
	snprintf(id, sizeof id, "%s", PQgetvalue(q, 0, 0));
	int changed = !strcmp(PQgetvalue(q, 0, 1), "t");
	int open = !strcmp(PQgetvalue(q, 0, 2), "t");
	PQclear(q);
	if (open || (synced && !changed))
		return;
	/* a new host or a new tunnel address changes every host's peers */
	if (changed)
		DBX(c, err, sizeof err, "UPDATE net_hosts SET generation = generation + 1");
	q = DBQ(c, err, sizeof err,
	        "SELECT id, host FROM net_hosts h WHERE (h.id = $1 OR $2::boolean) AND NOT EXISTS"
	        " (SELECT 1 FROM tasks t WHERE t.resource_kind = 'nethost' AND t.resource_id = h.id"
	        " AND t.status = 'pending')",
	        id, changed ? "true" : "false");
	for (int i = 0; q && i < PQntuples(q); i++) {
		char a[MSG_HOST_MAX + 8];
		snprintf(a, sizeof a, "%s" NET_SUFFIX, PQgetvalue(q, i, 1));
		struct outbox_task t = {.kind = MSG_RES_NETHOST,
		                        .resource_id = PQgetvalue(q, i, 0),
		                        .action = TASK_NET_SYNC,
		                        .host = a};
		if (outbox_insert(c, &t, NULL, err, sizeof err) < 0)
			sched_db_error(s, c, "netstate: queue sync", err);
	}
	if (q)
		s->kick = 1;
	PQclear(q);
}

const struct task_kind netstate_tasks = {
    .kind = MSG_RES_NETHOST,
    .dispatch = net_dispatch,
    .resend = net_dispatch,
    .on_result = net_on_result,
    .on_deadline = net_on_deadline,
    .on_event = net_on_event,
    .reconcile = net_reconcile,
};

/* The port's address into nic (for the config drive): ip "" leaves it without one; at
 * most MSG_NIC_DNS_MAX of the subnet's DNS servers (a JSON array of strings). */
static void netstate_nic_addr(struct msg_nic *nic, const char *ip, int prefixlen, const char *gw,
                              const char *dns_json)
{
	struct in_addr a;
	if (inet_pton(AF_INET, ip, &a) != 1 || (*gw && inet_pton(AF_INET, gw, &a) != 1) ||
	    prefixlen < 0 || prefixlen > 32)
		return;
	strcpy(nic->ip, ip);
	strcpy(nic->gateway, gw);
	nic->prefixlen = prefixlen;
	json_t *dns = json_loads(dns_json, 0, NULL);
	for (size_t i = 0; json_is_array(dns) && i < json_array_size(dns); i++) {
		const char *d = json_string_value(json_array_get(dns, i));
		if (nic->n_dns < MSG_NIC_DNS_MAX && d && inet_pton(AF_INET, d, &a) == 1)
			strcpy(nic->dns[nic->n_dns++], d);
	}
	json_decref(dns);
}

int netstate_spawn_nics(PGconn *c, const char *instance_id, struct msg_spawn *k, char *err,
                        size_t errlen)
{
	PGresult *q =
	    DBQ(c, err, errlen,
	        "SELECT p.id, p.network_id, p.mac, n.mtu, coalesce(host(a.ip), ''),"
	        " coalesce(masklen(a.cidr), 0), coalesce(host(a.gateway_ip), ''),"
	        " coalesce(a.dns::text, '[]') FROM net_ports p JOIN net_networks n"
	        " ON n.id = p.network_id LEFT JOIN LATERAL (SELECT qi.ip, s.cidr, s.gateway_ip,"
	        " s.dns FROM net_ips qi JOIN net_subnets s ON s.id = qi.subnet_id WHERE"
	        " qi.port_id = p.id AND family(qi.ip) = 4 ORDER BY qi.ip LIMIT 1) a ON true"
	        " WHERE p.device_id = $1 AND" SERVER_NIC_SQL("p") "ORDER BY p.created_at, p.id"
	                                                          " LIMIT 8",
	        instance_id);
	if (!q)
		return -EIO;
	int n = PQntuples(q);
	k->n_nics = n;
	k->nics = n ? xcalloc((size_t)n, sizeof(*k->nics)) : NULL;
	for (int i = 0; i < n; i++) {
		struct msg_nic *nic = &k->nics[i];
		snprintf(nic->port_id, sizeof nic->port_id, "%s", PQgetvalue(q, i, 0));
		snprintf(nic->network_id, sizeof nic->network_id, "%s", PQgetvalue(q, i, 1));
		snprintf(nic->mac, sizeof nic->mac, "%s", PQgetvalue(q, i, 2));
		snprintf(nic->tap, sizeof nic->tap, "tap%.11s", nic->port_id);
		nic->mtu = (int)db_long(q, i, 3, 1500);
		netstate_nic_addr(nic, PQgetvalue(q, i, 4), (int)db_long(q, i, 5, 0),
		                  PQgetvalue(q, i, 6), PQgetvalue(q, i, 7));
	}
	PQclear(q);
	if (n == 0)
		return 0;
	/* the instance is placed now: its host's nubo-net learns its ports */
	if (DBX(c, err, errlen, "UPDATE net_hosts SET generation = generation + 1") < 0)
		return -EIO;
	q = DBQ(c, err, errlen,
	        "SELECT h.id, h.host FROM net_hosts h JOIN instances i ON i.host = h.host WHERE"
	        " i.id = $1 AND NOT EXISTS (SELECT 1 FROM tasks t WHERE"
	        " t.resource_kind = 'nethost' AND t.resource_id = h.id AND t.status = 'pending')",
	        instance_id);
	if (!q)
		return -EIO;
	int rc = 0;
	for (int i = 0; i < PQntuples(q) && rc == 0; i++) {
		char a[MSG_HOST_MAX + 8];
		snprintf(a, sizeof a, "%s" NET_SUFFIX, PQgetvalue(q, i, 1));
		struct outbox_task t = {.kind = MSG_RES_NETHOST,
		                        .resource_id = PQgetvalue(q, i, 0),
		                        .action = TASK_NET_SYNC,
		                        .host = a};
		rc = outbox_insert(c, &t, NULL, err, errlen);
	}
	PQclear(q);
	return rc;
}

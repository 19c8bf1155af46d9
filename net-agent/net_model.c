/* Validation and naming of the desired state (see net_model.h). */
#include "net_model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int net_ifname_ok(const char *s)
{
	size_t n = strnlen(s, NET_IFNAME_MAX);
	if (n == 0 || n >= NET_IFNAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

int net_mac_ok(const char *s)
{
	if (strnlen(s, NET_MAC_LEN) != NET_MAC_LEN - 1)
		return 0;
	for (int i = 0; i < NET_MAC_LEN - 1; i++) {
		if (i % 3 == 2 ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return 0;
	}
	unsigned first = (unsigned)strtoul(s, NULL, 16);
	return !(first & 1) && strcmp(s, "00:00:00:00:00:00");
}

int net_prefix_ok(const char *s)
{
	size_t n = strnlen(s, NET_PREFIX_MAX);
	if (n == 0 || n >= NET_PREFIX_MAX || !islower((unsigned char)s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

int net_ip_parse(const char *s, uint32_t *ip, int *len)
{
	char buf[INET_ADDRSTRLEN + 4];
	if (strnlen(s, sizeof(buf)) >= sizeof(buf))
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%s", s);
	char *slash = strchr(buf, '/');
	int l = 32;
	if (slash) {
		if (!len || !isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 2)
			return -EINVAL;
		l = atoi(slash + 1);
		if (l < 0 || l > 32)
			return -EINVAL;
		*slash = '\0';
	}
	struct in_addr a;
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	if (len)
		*len = l;
	return 0;
}

char *net_ip_str(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255, ip & 255);
	return buf;
}

uint32_t net_mask(int len)
{
	return len <= 0 ? 0 : len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1);
}

void net_name(const struct net_host *h, char letter, const char *uuid, char out[NET_IFNAME_MAX])
{
	char hex[11];
	int n = 0;
	for (const char *c = uuid; *c && n < 10; c++)
		if (*c != '-')
			hex[n++] = *c;
	hex[n] = '\0';
	snprintf(out, NET_IFNAME_MAX, "%s%c%s", h->prefix, letter, hex);
}

void net_ns_router(const struct net_host *h, const char *router_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-r-%s", h->prefix, router_id);
}

void net_ns_dhcp(const struct net_host *h, const char *network_id, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s-d-%s", h->prefix, network_id);
}

/* ---- check ------------------------------------------------------------------------ */

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

static int in_subnet(const struct net_subnet *s, uint32_t ip)
{
	uint32_t m = net_mask(s->cidr.len);
	return (ip & m) == (s->cidr.addr & m) && ip != (s->cidr.addr & m) &&
	       (s->cidr.len >= 31 || ip != ((s->cidr.addr & m) | ~m));
}

static int check_port(const struct net_model *m, const struct net_port *p, char *err, size_t errlen)
{
	if (!uuid_is_valid(p->id))
		FAIL("port: bad id");
	if (p->network < 0 || p->network >= m->n_networks || m->networks[p->network].external)
		FAIL("port %s: unknown or external network", p->id);
	if (!net_ifname_ok(p->tap))
		FAIL("port %s: bad tap name", p->id);
	if (!net_mac_ok(p->mac))
		FAIL("port %s: bad MAC", p->id);
	for (const char *c = p->hostname; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-')
			FAIL("port %s: bad hostname", p->id);
	if (strnlen(p->hostname, NET_HOSTNAME_MAX) >= NET_HOSTNAME_MAX)
		FAIL("port %s: hostname too long", p->id);
	if (p->mtu < 576 || p->mtu > 9000)
		FAIL("port %s: MTU out of range", p->id);
	if (p->n_ips < 0 || p->n_ips > NET_PORT_IPS_MAX || p->n_pairs < 0 ||
	    p->n_pairs > NET_PAIRS_MAX || p->n_sgs < 0 || p->n_sgs > NET_PORT_SGS_MAX)
		FAIL("port %s: too many addresses, pairs or groups", p->id);
	for (int i = 0; i < p->n_ips; i++) {
		int s = p->subnets[i];
		if (s < 0 || s >= m->n_subnets || m->subnets[s].network != p->network ||
		    !in_subnet(&m->subnets[s], p->ips[i]))
			FAIL("port %s: fixed IP outside its subnet", p->id);
	}
	for (int i = 0; i < p->n_pairs; i++)
		if (p->pairs[i].ip.len < 1 || p->pairs[i].ip.len > 32 ||
		    (p->pairs[i].mac[0] && !net_mac_ok(p->pairs[i].mac)))
			FAIL("port %s: bad allowed address pair", p->id);
	for (int i = 0; i < p->n_sgs; i++)
		if (p->sgs[i] < 0 || p->sgs[i] >= m->n_sgs)
			FAIL("port %s: unknown security group", p->id);
	return 0;
}

static int check_sg(const struct net_model *m, const struct net_sg *g, char *err, size_t errlen)
{
	if (!uuid_is_valid(g->id))
		FAIL("security group: bad id");
	if (g->n_rules < 0 || g->n_rules > NET_RULES_MAX || g->n_members < 0 ||
	    g->n_members > NET_MEMBERS_MAX)
		FAIL("security group %s: too many rules or members", g->id);
	for (int i = 0; i < g->n_rules; i++) {
		const struct net_rule *r = &g->rules[i];
		if (r->dir != NET_INGRESS && r->dir != NET_EGRESS)
			FAIL("security group %s: bad direction", g->id);
		if (r->proto != 0 && r->proto != 1 && r->proto != 6 && r->proto != 17)
			FAIL("security group %s: unsupported protocol %d", g->id, r->proto);
		int lo = r->proto == 1 ? -1 : 0, hi = r->proto == 1 ? 255 : 65535;
		if (r->port_min < lo || r->port_min > hi || r->port_max < lo || r->port_max > hi ||
		    (r->proto != 1 && r->port_max && r->port_min > r->port_max) ||
		    (r->proto == 0 && (r->port_min || r->port_max)))
			FAIL("security group %s: bad port range", g->id);
		if (r->remote.len < 0 || r->remote.len > 32 || r->remote_group < -1 ||
		    r->remote_group >= m->n_sgs)
			FAIL("security group %s: bad remote", g->id);
	}
	return 0;
}

static int check_router(const struct net_model *m, const struct net_router *r, char *err,
                        size_t errlen)
{
	if (!uuid_is_valid(r->id))
		FAIL("router: bad id");
	if (r->n_ifs < 0 || r->n_ifs > NET_RIFS_MAX || r->n_fips < 0 || r->n_fips > NET_FIPS_MAX)
		FAIL("router %s: too many interfaces or floating IPs", r->id);
	if (r->has_gateway && (r->ext_ip.len < 1 || r->ext_ip.len > 30 || !r->ext_ip.addr))
		FAIL("router %s: bad external address", r->id);
	if (!r->has_gateway && r->n_fips)
		FAIL("router %s: floating IPs without a gateway", r->id);
	for (int i = 0; i < r->n_ifs; i++) {
		const struct net_rif *f = &r->ifs[i];
		if (!uuid_is_valid(f->port_id) || f->subnet < 0 || f->subnet >= m->n_subnets ||
		    m->networks[m->subnets[f->subnet].network].external ||
		    !in_subnet(&m->subnets[f->subnet], f->ip) || !net_mac_ok(f->mac))
			FAIL("router %s: bad interface", r->id);
	}
	for (int i = 0; i < r->n_fips; i++)
		if (!r->fips[i].floating || !r->fips[i].fixed)
			FAIL("router %s: bad floating IP", r->id);
	return 0;
}

int net_model_check(const struct net_host *h, const struct net_model *m, char *err, size_t errlen)
{
	if (!net_prefix_ok(h->prefix))
		FAIL("bad name prefix");
	if (!net_ifname_ok(h->ext_bridge) || (h->seg == NET_SEG_VLAN && !net_ifname_ok(h->uplink)))
		FAIL("bad external bridge or uplink name");
	if (h->seg == NET_SEG_VXLAN && !h->local_ip)
		FAIL("VXLAN needs a local IP");
	if (m->n_networks < 0 || m->n_networks > NET_NETWORKS_MAX || m->n_subnets < 0 ||
	    m->n_subnets > NET_SUBNETS_MAX || m->n_ports < 0 || m->n_ports > NET_PORTS_MAX ||
	    m->n_routers < 0 || m->n_routers > NET_ROUTERS_MAX || m->n_sgs < 0 ||
	    m->n_sgs > NET_SGS_MAX)
		FAIL("too many objects");
	for (int i = 0; i < m->n_networks; i++) {
		const struct net_network *n = &m->networks[i];
		if (!uuid_is_valid(n->id))
			FAIL("network: bad id");
		if (n->dhcp_mac[0] && !net_mac_ok(n->dhcp_mac))
			FAIL("network %s: bad DHCP MAC", n->id);
		if (!n->external &&
		    (h->seg == NET_SEG_VXLAN ? n->vni < 1 || n->vni > NET_VNI_MAX
		                             : n->vlan < 1 || n->vlan > NET_VLAN_MAX))
			FAIL("network %s: segmentation id out of range", n->id);
		if (n->mtu < 576 || n->mtu > 9000 || n->n_peers < 0 || n->n_peers > NET_PEERS_MAX)
			FAIL("network %s: bad MTU or too many peers", n->id);
		for (int j = 0; j < i; j++)
			if (!strcmp(m->networks[j].id, n->id))
				FAIL("network %s: listed twice", n->id);
	}
	for (int i = 0; i < m->n_subnets; i++) {
		const struct net_subnet *s = &m->subnets[i];
		if (!uuid_is_valid(s->id) || s->network < 0 || s->network >= m->n_networks)
			FAIL("subnet: bad id or network");
		if (s->cidr.len < 8 || s->cidr.len > 30 || (s->cidr.addr & ~net_mask(s->cidr.len)))
			FAIL("subnet %s: bad CIDR", s->id);
		if ((s->gateway && !in_subnet(s, s->gateway)) ||
		    (s->dhcp_ip && !in_subnet(s, s->dhcp_ip)))
			FAIL("subnet %s: gateway or DHCP address outside the subnet", s->id);
		if (s->lease_s < 120 || s->lease_s > 31536000 || s->n_dns < 0 ||
		    s->n_dns > NET_DNS_MAX || s->n_hroutes < 0 || s->n_hroutes > NET_HROUTES_MAX)
			FAIL("subnet %s: bad lease time, DNS or host route list", s->id);
		for (int j = 0; j < s->n_hroutes; j++)
			if (s->hroute_dst[j].len < 0 || s->hroute_dst[j].len > 32 ||
			    !in_subnet(s, s->hroute_via[j]))
				FAIL("subnet %s: bad host route", s->id);
	}
	if (m->n_hosts < 0 || m->n_hosts > NET_DHCP_HOSTS_MAX)
		FAIL("too many DHCP hosts");
	for (int i = 0; i < m->n_hosts; i++) {
		const struct net_dhcp_host *d = &m->hosts[i];
		if (d->network < 0 || d->network >= m->n_networks || !net_mac_ok(d->mac) || !d->ip)
			FAIL("DHCP host: bad network, MAC or address");
		for (const char *c = d->hostname; *c; c++)
			if (!isalnum((unsigned char)*c) && *c != '-')
				FAIL("DHCP host: bad hostname");
	}
	int rc;
	for (int i = 0; i < m->n_sgs; i++)
		if ((rc = check_sg(m, &m->sgs[i], err, errlen)) < 0)
			return rc;
	for (int i = 0; i < m->n_ports; i++) {
		if ((rc = check_port(m, &m->ports[i], err, errlen)) < 0)
			return rc;
		for (int j = 0; j < i; j++)
			if (!strcmp(m->ports[j].tap, m->ports[i].tap))
				FAIL("port %s: tap name used twice", m->ports[i].id);
	}
	for (int i = 0; i < m->n_routers; i++)
		if ((rc = check_router(m, &m->routers[i], err, errlen)) < 0)
			return rc;
	return 0;
}

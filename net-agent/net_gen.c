/* The pure generators of net_gen.h. */
#include "net_gen.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

/* A growing text. */
struct gbuf {
	char *s;
	size_t len, cap;
};

__attribute__((format(printf, 2, 3))) static void gb_add(struct gbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static char *gb_done(struct gbuf *b)
{
	if (!b->s)
		return xstrdup("");
	return b->s;
}

/* Copies the string src into dst of size n (truncating); they may live in one plan. */
static void scpy(char *dst, size_t n, const char *src)
{
	size_t l = strnlen(src, n - 1);
	memmove(dst, src, l);
	dst[l] = '\0';
}

#define IP(x) net_ip_str((x), (char[16]){0})

static void cidr_add(struct gbuf *b, struct net_cidr c)
{
	if (c.len == 32)
		gb_add(b, "%s", IP(c.addr));
	else
		gb_add(b, "%s/%d", IP(c.addr & net_mask(c.len)), c.len);
}

/* ---- dnsmasq ----------------------------------------------------------------------- */

static int network_has_dhcp(const struct net_model *m, int ni)
{
	if (m->networks[ni].external || !m->networks[ni].dhcp_mac[0])
		return 0;
	for (int i = 0; i < m->n_subnets; i++)
		if (m->subnets[i].network == ni && m->subnets[i].dhcp_ip)
			return 1;
	return 0;
}

char *net_gen_dnsmasq_conf(const struct net_host *h, const struct net_model *m, int ni)
{
	if (!network_has_dhcp(m, ni))
		return NULL;
	const struct net_network *n = &m->networks[ni];
	char dev[NET_IFNAME_MAX];
	struct gbuf b = {0};
	net_name(h, 'e', n->id, dev);
	gb_add(&b, "# nubo-net: DHCP of network %s (generated, do not edit)\n", n->id);
	gb_add(&b, "port=0\nno-resolv\nno-hosts\nbind-interfaces\n");
	gb_add(&b, "interface=%s\nexcept-interface=lo\n", dev);
	gb_add(&b, "user=%s\n", h->dhcp_user);
	gb_add(&b, "dhcp-leasefile=%s/dhcp/%s/leases\n", h->state_dir, n->id);
	gb_add(&b, "dhcp-hostsfile=%s/dhcp/%s/hosts\n", h->state_dir, n->id);
	gb_add(&b, "dhcp-ignore=tag:!known\n");
	for (int i = 0; i < m->n_subnets; i++) {
		const struct net_subnet *s = &m->subnets[i];
		if (s->network != ni || !s->dhcp_ip)
			continue;
		gb_add(&b, "dhcp-range=set:s%d,%s,static,%s,%ds\n", i, IP(s->cidr.addr),
		       IP(net_mask(s->cidr.len)), s->lease_s);
		if (s->gateway)
			gb_add(&b, "dhcp-option=tag:s%d,option:router,%s\n", i, IP(s->gateway));
		if (s->n_dns) {
			gb_add(&b, "dhcp-option=tag:s%d,option:dns-server", i);
			for (int j = 0; j < s->n_dns; j++)
				gb_add(&b, ",%s", IP(s->dns[j]));
			gb_add(&b, "\n");
		}
		/* metadata through this namespace's proxy; with option 121 a client ignores
		 * option 3, so the default route is repeated */
		gb_add(&b,
		       "dhcp-option=tag:s%d,option:classless-static-route,169.254.169.254/32,%s", i,
		       IP(s->dhcp_ip));
		for (int j = 0; j < s->n_hroutes; j++) {
			gb_add(&b, ",");
			cidr_add(&b, s->hroute_dst[j]);
			gb_add(&b, ",%s", IP(s->hroute_via[j]));
		}
		if (s->gateway)
			gb_add(&b, ",0.0.0.0/0,%s", IP(s->gateway));
		gb_add(&b, "\ndhcp-option=tag:s%d,option:mtu,%d\n", i, n->mtu);
	}
	return gb_done(&b);
}

char *net_gen_dnsmasq_hosts(const struct net_host *h, const struct net_model *m, int ni)
{
	if (!network_has_dhcp(m, ni))
		return NULL;
	struct gbuf b = {0};
	for (int i = 0; i < m->n_hosts; i++) {
		const struct net_dhcp_host *d = &m->hosts[i];
		const struct net_subnet *s = NULL;
		for (int j = 0; j < m->n_subnets && !s; j++)
			if (m->subnets[j].network == ni && m->subnets[j].dhcp_ip &&
			    ((d->ip ^ m->subnets[j].cidr.addr) &
			     net_mask(m->subnets[j].cidr.len)) == 0)
				s = &m->subnets[j];
		if (d->network != ni || !s)
			continue;
		gb_add(&b, "%s,%s", d->mac, IP(d->ip));
		if (d->hostname[0])
			gb_add(&b, ",%s", d->hostname);
		gb_add(&b, ",%ds\n", s->lease_s);
	}
	return gb_done(&b);
}

/* 1 when a line of hosts ("mac,ip[,...]") names mac with another IP or ip with
 * another MAC. */
static int lease_conflicts(const char *hosts, const char *mac, const char *ip)
{
	for (const char *p = hosts; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[256], *hip, *end;
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if ((hip = strchr(line, ',')) != NULL) {
				*hip++ = '\0';
				if ((end = strchr(hip, ',')) != NULL)
					*end = '\0';
				int same_mac = !strcasecmp(line, mac), same_ip = !strcmp(hip, ip);
				if (same_mac != same_ip)
					return 1;
			}
		}
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

char *net_gen_dnsmasq_leases(const char *leases, const char *hosts)
{
	struct gbuf b = {0};
	int dropped = 0;
	for (const char *p = leases; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char line[512], mac[32], ip[64];
		/* "<expiry> <mac> <ip> <hostname> <client id>"; other lines are kept */
		if (n < sizeof(line)) {
			memcpy(line, p, n);
			line[n] = '\0';
			if (sscanf(line, "%*s %31s %63s", mac, ip) == 2 &&
			    lease_conflicts(hosts, mac, ip)) {
				dropped++;
				p = nl ? nl + 1 : NULL;
				continue;
			}
		}
		gb_add(&b, "%.*s\n", (int)n, p);
		p = nl ? nl + 1 : NULL;
	}
	if (!dropped) {
		free(gb_done(&b));
		return NULL;
	}
	return gb_done(&b);
}

/* ---- nft: the host --------------------------------------------------------------- */

/* "{ a, b/24, ... }" of the port's fixed IPs and allowed pairs (and 0.0.0.0 with zero) */
static void port_ips_add(struct gbuf *b, const struct net_port *p, int zero)
{
	gb_add(b, "{ ");
	int k = 0;
	if (zero)
		gb_add(b, "0.0.0.0"), k++;
	for (int i = 0; i < p->n_ips; i++, k++)
		gb_add(b, "%s%s", k ? ", " : "", IP(p->ips[i]));
	for (int i = 0; i < p->n_pairs; i++, k++) {
		gb_add(b, "%s", k ? ", " : "");
		cidr_add(b, p->pairs[i].ip);
	}
	gb_add(b, " }");
}

static void port_macs_add(struct gbuf *b, const struct net_port *p)
{
	gb_add(b, "{ %s", p->mac);
	for (int i = 0; i < p->n_pairs; i++)
		if (p->pairs[i].mac[0] && strcasecmp(p->pairs[i].mac, p->mac))
			gb_add(b, ", %s", p->pairs[i].mac);
	gb_add(b, " }");
}

static int secured(const struct net_port *p)
{
	return p->port_security && (p->n_ips || p->n_pairs);
}

static void gen_antispoof(struct gbuf *b, const struct net_host *h, const struct net_model *m)
{
	int any = 0;
	gb_add(b, "table bridge %s_as {\n}\ndelete table bridge %s_as\n", h->prefix, h->prefix);
	for (int i = 0; i < m->n_ports; i++)
		any |= m->ports[i].port_security;
	if (!any)
		return; /* nothing to guard: no table left behind */
	gb_add(b, "table bridge %s_as {\n", h->prefix);
	for (int hook = 0; hook < 2 && any; hook++) {
		gb_add(b, "\tchain %s {\n", hook ? "input" : "forward");
		gb_add(b, "\t\ttype filter hook %s priority -200; policy accept;\n",
		       hook ? "input" : "forward");
		gb_add(b, "\t\tiifname vmap { ");
		for (int i = 0, k = 0; i < m->n_ports; i++)
			if (m->ports[i].port_security)
				gb_add(b, "%s\"%s\" : jump port%d", k++ ? ", " : "",
				       m->ports[i].tap, i);
		gb_add(b, " }\n\t}\n");
	}
	for (int i = 0; i < m->n_ports; i++) {
		const struct net_port *p = &m->ports[i];
		if (!p->port_security)
			continue;
		gb_add(b, "\tchain port%d {\n", i);
		gb_add(b, "\t\tether saddr != ");
		port_macs_add(b, p);
		gb_add(b, " drop\n\t\tether type arp arp saddr ether != ");
		port_macs_add(b, p);
		gb_add(b, " drop\n");
		if (secured(p)) {
			gb_add(b, "\t\tether type arp arp saddr ip != ");
			port_ips_add(b, p, 1);
			gb_add(b, " drop\n\t\tether type arp accept\n");
		} else {
			gb_add(b, "\t\tether type arp arp saddr ip != 0.0.0.0 drop\n");
			gb_add(b, "\t\tether type arp accept\n");
		}
		gb_add(b, "\t\tether type ip udp sport 67 drop\n");
		gb_add(b, "\t\tether type ip ip saddr 0.0.0.0 udp sport 68 udp dport 67 accept\n");
		if (secured(p)) {
			gb_add(b, "\t\tether type ip ip saddr ");
			port_ips_add(b, p, 0);
			gb_add(b, " accept\n");
		}
		gb_add(b, "\t\tether type ip6 icmpv6 type nd-router-advert drop\n");
		gb_add(b, "\t\tdrop\n\t}\n");
	}
	gb_add(b, "}\n");
}

static const char *proto_name(int proto)
{
	return proto == 6 ? "tcp" : proto == 17 ? "udp" : proto == 1 ? "icmp" : "";
}

/* The match of one rule (without its remote part). */
static void rule_match_add(struct gbuf *b, const struct net_rule *r)
{
	if (r->proto == 6 || r->proto == 17) {
		if (!r->port_min && !r->port_max)
			gb_add(b, " meta l4proto %s", proto_name(r->proto));
		else if (r->port_min == r->port_max || !r->port_max)
			gb_add(b, " %s dport %d", proto_name(r->proto), r->port_min);
		else
			gb_add(b, " %s dport %d-%d", proto_name(r->proto), r->port_min,
			       r->port_max);
	} else if (r->proto == 1) {
		gb_add(b, " meta l4proto icmp");
		if (r->port_min >= 0)
			gb_add(b, " icmp type %d", r->port_min);
		if (r->port_min >= 0 && r->port_max >= 0)
			gb_add(b, " icmp code %d", r->port_max);
	}
}

static void rules_add(struct gbuf *b, const struct net_model *m, const struct net_port *p,
                      enum net_dir dir)
{
	const char *addr = dir == NET_INGRESS ? "saddr" : "daddr";
	const char *verdict = dir == NET_INGRESS ? "accept" : "return";
	for (int g = 0; g < p->n_sgs; g++) {
		const struct net_sg *sg = &m->sgs[p->sgs[g]];
		for (int i = 0; i < sg->n_rules; i++) {
			const struct net_rule *r = &sg->rules[i];
			if (r->dir != dir)
				continue;
			gb_add(b, "\t\t");
			if (r->remote_group >= 0) {
				gb_add(b, "ip %s @sg%d", addr, r->remote_group);
			} else if (r->remote.len > 0) {
				gb_add(b, "ip %s ", addr);
				cidr_add(b, r->remote);
			} else {
				gb_add(b, "meta nfproto ipv4");
			}
			rule_match_add(b, r);
			gb_add(b, " %s\n", verdict);
		}
	}
}

static void gen_groups(struct gbuf *b, const struct net_host *h, const struct net_model *m)
{
	int any = 0;
	for (int i = 0; i < m->n_ports; i++)
		any |= secured(&m->ports[i]);
	gb_add(b, "table inet %s_sg {\n}\ndelete table inet %s_sg\n", h->prefix, h->prefix);
	if (!any)
		return;
	gb_add(b, "table inet %s_sg {\n", h->prefix);
	for (int g = 0; g < m->n_sgs; g++) {
		const struct net_sg *sg = &m->sgs[g];
		gb_add(b, "\tset sg%d {\n\t\ttype ipv4_addr\n", g);
		if (sg->n_members) {
			gb_add(b, "\t\telements = { ");
			for (int i = 0; i < sg->n_members; i++)
				gb_add(b, "%s%s", i ? ", " : "", IP(sg->members[i]));
			gb_add(b, " }\n");
		}
		gb_add(b, "\t}\n");
	}
	if (any) {
		/* bridged IPv4 reaches this hook through br_netfilter with iifname and
		 * oifname the bridge; the bridge table has already pinned every source
		 * address to its port, so a port is known here by bridge and address */
		gb_add(b, "\tchain forward {\n");
		gb_add(b, "\t\ttype filter hook forward priority 0; policy accept;\n");
		gb_add(b, "\t\tct state established,related accept\n");
		for (int i = 0; i < m->n_ports; i++) {
			const struct net_port *p = &m->ports[i];
			char br[NET_IFNAME_MAX];
			if (!secured(p))
				continue;
			net_name(h, 'b', m->networks[p->network].id, br);
			gb_add(b, "\t\tiifname \"%s\" ip saddr ", br);
			port_ips_add(b, p, 0);
			gb_add(b, " jump out%d\n", i);
			gb_add(b, "\t\toifname \"%s\" ip daddr ", br);
			port_ips_add(b, p, 0);
			gb_add(b, " jump in%d\n", i);
		}
		gb_add(b, "\t}\n");
		for (int i = 0; i < m->n_ports; i++) {
			const struct net_port *p = &m->ports[i];
			if (!secured(p))
				continue;
			gb_add(b, "\tchain out%d {\n\t\tct state invalid drop\n", i);
			rules_add(b, m, p, NET_EGRESS);
			gb_add(b, "\t\tdrop\n\t}\n");
			gb_add(b, "\tchain in%d {\n\t\tct state invalid drop\n", i);
			gb_add(b, "\t\tudp sport 67 udp dport 68 accept\n");
			rules_add(b, m, p, NET_INGRESS);
			gb_add(b, "\t\tdrop\n\t}\n");
		}
	}
	gb_add(b, "}\n");
}

char *net_gen_nft_host(const struct net_host *h, const struct net_model *m)
{
	struct gbuf b = {0};
	gb_add(&b, "# nubo-net: ruleset of host tables %s_as and %s_sg (generated)\n", h->prefix,
	       h->prefix);
	gen_antispoof(&b, h, m);
	gen_groups(&b, h, m);
	return gb_done(&b);
}

/* ---- nft: a router ------------------------------------------------------------------ */

char *net_gen_nft_router(const struct net_host *h, const struct net_model *m, int ri)
{
	const struct net_router *r = &m->routers[ri];
	char gw[NET_IFNAME_MAX];
	struct gbuf b = {0};
	net_name(h, 'h', r->id, gw);
	gb_add(&b, "# nubo-net: NAT of router %s (generated)\n", r->id);
	gb_add(&b, "table ip %s_nat {\n}\ndelete table ip %s_nat\n", h->prefix, h->prefix);
	gb_add(&b, "table ip %s_nat {\n", h->prefix);
	gb_add(&b, "\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy "
	           "accept;\n");
	for (int i = 0; i < r->n_fips; i++)
		gb_add(&b, "\t\tip daddr %s dnat to %s\n", IP(r->fips[i].floating),
		       IP(r->fips[i].fixed));
	gb_add(&b, "\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; "
	           "policy accept;\n");
	if (r->has_gateway) {
		for (int i = 0; i < r->n_fips; i++)
			gb_add(&b, "\t\toifname \"%s\" ip saddr %s snat to %s\n", gw,
			       IP(r->fips[i].fixed), IP(r->fips[i].floating));
		if (r->snat && r->n_ifs) {
			gb_add(&b, "\t\toifname \"%s\" ip saddr { ", gw);
			for (int i = 0; i < r->n_ifs; i++) {
				gb_add(&b, "%s", i ? ", " : "");
				cidr_add(&b, m->subnets[r->ifs[i].subnet].cidr);
			}
			gb_add(&b, " } snat to %s\n", IP(r->ext_ip.addr));
		}
	}
	gb_add(&b, "\t}\n}\n");
	return gb_done(&b);
}

/* ---- link plan ------------------------------------------------------------------------ */

#define PUSH(arr, n, max)                                                                          \
	({                                                                                         \
		if ((n) >= (max))                                                                  \
			return -E2BIG;                                                             \
		memset(&(arr)[(n)], 0, sizeof((arr)[0]));                                          \
		&(arr)[(n)++];                                                                     \
	})

static int addr_push(struct net_plan *p, const char *ns, const char *dev, uint32_t a, int len)
{
	struct net_addr *x = PUSH(p->addrs, p->n_addrs, NET_PLAN_ADDRS_MAX);
	scpy(x->ns, sizeof(x->ns), ns);
	scpy(x->dev, sizeof(x->dev), dev);
	x->a.addr = a;
	x->a.len = len;
	return 0;
}

static int plan_network(const struct net_host *h, const struct net_model *m, struct net_plan *p,
                        int ni)
{
	const struct net_network *n = &m->networks[ni];
	char br[NET_IFNAME_MAX];
	if (n->external)
		return 0;
	net_name(h, 'b', n->id, br);
	struct net_link *l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
	l->kind = NET_LINK_BRIDGE;
	scpy(l->name, sizeof(l->name), br);
	l->mtu = n->mtu;
	l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
	scpy(l->master, sizeof(l->master), br);
	if (h->seg == NET_SEG_VXLAN) {
		l->kind = NET_LINK_VXLAN;
		net_name(h, 'x', n->id, l->name);
		l->id = n->vni;
		l->local = h->local_ip;
		l->port = h->vxlan_port > 0 ? h->vxlan_port : NET_VXLAN_PORT;
		l->mtu = n->mtu;
		for (int i = 0; i < n->n_peers; i++) {
			struct net_fdb *f = PUSH(p->fdb, p->n_fdb, NET_PLAN_FDB_MAX);
			scpy(f->dev, sizeof(f->dev), l->name);
			f->dst = n->peers[i];
		}
	} else {
		l->kind = NET_LINK_VLAN;
		net_name(h, 'v', n->id, l->name);
		l->id = n->vlan;
		scpy(l->parent, sizeof(l->parent), h->uplink);
		l->mtu = n->mtu;
	}
	if (!network_has_dhcp(m, ni))
		return 0;
	struct net_nspec *s = PUSH(p->ns, p->n_ns, NET_PLAN_NS_MAX);
	s->kind = NET_NS_DHCP;
	s->index = ni;
	net_ns_dhcp(h, n->id, s->name, sizeof(s->name));
	l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
	l->kind = NET_LINK_VETH;
	net_name(h, 'd', n->id, l->name);
	net_name(h, 'e', n->id, l->peer);
	scpy(l->master, sizeof(l->master), br);
	scpy(l->peer_ns, sizeof(l->peer_ns), s->name);
	scpy(l->peer_mac, sizeof(l->peer_mac), n->dhcp_mac);
	l->mtu = n->mtu;
	for (int i = 0; i < m->n_subnets; i++) {
		const struct net_subnet *sn = &m->subnets[i];
		if (sn->network == ni && sn->dhcp_ip &&
		    addr_push(p, s->name, l->peer, sn->dhcp_ip, sn->cidr.len) < 0)
			return -E2BIG;
	}
	return addr_push(p, s->name, "lo", NET_METADATA_IP, 32);
}

static int plan_router(const struct net_host *h, const struct net_model *m, struct net_plan *p,
                       int ri)
{
	const struct net_router *r = &m->routers[ri];
	struct net_nspec *s = PUSH(p->ns, p->n_ns, NET_PLAN_NS_MAX);
	s->kind = NET_NS_ROUTER;
	s->index = ri;
	net_ns_router(h, r->id, s->name, sizeof(s->name));
	for (int i = 0; i < r->n_ifs; i++) {
		const struct net_rif *f = &r->ifs[i];
		const struct net_subnet *sn = &m->subnets[f->subnet];
		struct net_link *l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
		l->kind = NET_LINK_VETH;
		net_name(h, 'i', f->port_id, l->name);
		net_name(h, 'j', f->port_id, l->peer);
		net_name(h, 'b', m->networks[sn->network].id, l->master);
		scpy(l->peer_ns, sizeof(l->peer_ns), s->name);
		scpy(l->peer_mac, sizeof(l->peer_mac), f->mac);
		l->mtu = m->networks[sn->network].mtu;
		if (addr_push(p, s->name, l->peer, f->ip, sn->cidr.len) < 0)
			return -E2BIG;
	}
	if (!r->has_gateway)
		return 0;
	struct net_link *l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
	l->kind = NET_LINK_VETH;
	net_name(h, 'g', r->id, l->name);
	net_name(h, 'h', r->id, l->peer);
	scpy(l->master, sizeof(l->master), h->ext_bridge);
	scpy(l->peer_ns, sizeof(l->peer_ns), s->name);
	l->mtu = h->ext_mtu;
	if (addr_push(p, s->name, l->peer, r->ext_ip.addr, r->ext_ip.len) < 0)
		return -E2BIG;
	for (int i = 0; i < r->n_fips; i++)
		if (addr_push(p, s->name, l->peer, r->fips[i].floating, 32) < 0)
			return -E2BIG;
	if (r->ext_gateway) {
		struct net_route *rt = PUSH(p->routes, p->n_routes, NET_PLAN_ROUTES_MAX);
		scpy(rt->ns, sizeof(rt->ns), s->name);
		rt->via = r->ext_gateway;
	}
	return 0;
}

int net_gen_plan(const struct net_host *h, const struct net_model *m, struct net_plan *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < m->n_networks; i++)
		if (plan_network(h, m, p, i) < 0)
			return -E2BIG;
	for (int i = 0; i < m->n_ports; i++) {
		const struct net_port *pt = &m->ports[i];
		struct net_link *l = PUSH(p->links, p->n_links, NET_PLAN_LINKS_MAX);
		l->kind = NET_LINK_TAP;
		scpy(l->name, sizeof(l->name), pt->tap);
		net_name(h, 'b', m->networks[pt->network].id, l->master);
		l->mtu = pt->mtu;
	}
	for (int i = 0; i < m->n_routers; i++)
		if (plan_router(h, m, p, i) < 0)
			return -E2BIG;
	return 0;
}

static const char *const link_kinds[] = {"bridge", "vxlan", "vlan", "tap", "veth"};

char *net_plan_text(const struct net_plan *p)
{
	struct gbuf b = {0};
	for (int i = 0; i < p->n_ns; i++)
		gb_add(&b, "netns %s %s\n", p->ns[i].name,
		       p->ns[i].kind == NET_NS_DHCP ? "dhcp" : "router");
	for (int i = 0; i < p->n_links; i++) {
		const struct net_link *l = &p->links[i];
		gb_add(&b, "link %s %s mtu %d", link_kinds[l->kind], l->name, l->mtu);
		if (l->kind == NET_LINK_VXLAN)
			gb_add(&b, " vni %d local %s dstport %d", l->id, IP(l->local), l->port);
		if (l->kind == NET_LINK_VLAN)
			gb_add(&b, " vlan %d parent %s", l->id, l->parent);
		if (l->kind == NET_LINK_VETH)
			gb_add(&b, " peer %s netns %s%s%s", l->peer, l->peer_ns,
			       l->peer_mac[0] ? " address " : "", l->peer_mac);
		if (l->master[0])
			gb_add(&b, " master %s", l->master);
		gb_add(&b, "\n");
	}
	for (int i = 0; i < p->n_addrs; i++)
		gb_add(&b, "addr %s %s %s/%d\n", p->addrs[i].ns, p->addrs[i].dev,
		       IP(p->addrs[i].a.addr), p->addrs[i].a.len);
	for (int i = 0; i < p->n_routes; i++)
		gb_add(&b, "route %s default via %s\n", p->routes[i].ns, IP(p->routes[i].via));
	for (int i = 0; i < p->n_fdb; i++)
		gb_add(&b, "fdb %s 00:00:00:00:00:00 dst %s\n", p->fdb[i].dev, IP(p->fdb[i].dst));
	return gb_done(&b);
}

int net_vlan_supported(const char *procfs, const char *modules_dir)
{
	char path[512];
	struct stat st;
	snprintf(path, sizeof(path), "%s/net/vlan", procfs);
	if (stat(path, &st) == 0)
		return 1;
	snprintf(path, sizeof(path), "%s/kernel/net/8021q", modules_dir);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

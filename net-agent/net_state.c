/* docs/netstate.md's document into the model (see net_state.h). */
#include "net_state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

/* The string member k of o ("" when absent or null); -EINVAL when it is another type
 * or longer than max-1. */
static int str_get(const json_t *o, const char *k, char *out, size_t max, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, k);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= max)
		FAIL("%s: must be a string of fewer than %zu bytes", k, max);
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int int_get(const json_t *o, const char *k, long def, long min, long max, long *out,
                   char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, k);
	*out = def;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		FAIL("%s: must be an integer in %ld..%ld", k, min, max);
	*out = (long)json_integer_value(v);
	return 0;
}

static int ip_get(const json_t *o, const char *k, uint32_t *ip, int *len, char *err, size_t errlen)
{
	char s[24];
	*ip = 0;
	if (len)
		*len = 32;
	if (str_get(o, k, s, sizeof(s), err, errlen) < 0)
		return -EINVAL;
	if (s[0] && net_ip_parse(s, ip, len) < 0)
		FAIL("%s: not an IPv4 address%s", k, len ? " or CIDR" : "");
	return 0;
}

/* The list member k of o in *out (NULL when absent or null: an empty list). */
static int arr_get(const json_t *o, const char *k, size_t max, const json_t **out, char *err,
                   size_t errlen)
{
	const json_t *v = json_object_get(o, k);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > max)
		FAIL("%s: must be a list of at most %zu items", k, max);
	*out = v;
	return 0;
}

static int uuid_get(const json_t *o, const char *k, char out[UUID_STR_LEN], char *err,
                    size_t errlen)
{
	if (str_get(o, k, out, UUID_STR_LEN, err, errlen) < 0 || !uuid_is_valid(out))
		FAIL("%s: must be a UUID", k);
	return 0;
}

static int network_find(const struct net_model *m, const char *id)
{
	for (int i = 0; i < m->n_networks; i++)
		if (!strcmp(m->networks[i].id, id))
			return i;
	return -1;
}

static int subnet_find(const struct net_model *m, const char *id)
{
	for (int i = 0; i < m->n_subnets; i++)
		if (!strcmp(m->subnets[i].id, id))
			return i;
	return -1;
}

static int sg_find(const struct net_model *m, const char *id)
{
	for (int i = 0; i < m->n_sgs; i++)
		if (!strcmp(m->sgs[i].id, id))
			return i;
	return -1;
}

static int parse_subnet(const json_t *o, struct net_model *m, int ni, char *err, size_t errlen)
{
	struct net_subnet *s = &m->subnets[m->n_subnets];
	long dhcp;
	const json_t *v;
	size_t i;
	memset(s, 0, sizeof(*s));
	s->network = ni;
	s->lease_s = 86400;
	if (uuid_get(o, "id", s->id, err, errlen) < 0 ||
	    ip_get(o, "cidr", &s->cidr.addr, &s->cidr.len, err, errlen) < 0 ||
	    ip_get(o, "gateway_ip", &s->gateway, NULL, err, errlen) < 0)
		return -EINVAL;
	v = json_object_get(o, "enable_dhcp");
	dhcp = json_is_true(v);
	(void)dhcp;
	const json_t *dns;
	int dns_rc = arr_get(o, "dns_nameservers", NET_DNS_MAX, &dns, err, errlen);
	const json_t *hr;
	int hr_rc = arr_get(o, "host_routes", NET_HROUTES_MAX, &hr, err, errlen);
	if (dns_rc || hr_rc)
		return -EINVAL;
	json_array_foreach(dns, i, v)
	{
		if (!json_is_string(v) || net_ip_parse(json_string_value(v), &s->dns[i], NULL) < 0)
			FAIL("dns_nameservers: not an IPv4 address");
		s->n_dns++;
	}
	json_array_foreach(hr, i, v)
	{
		if (ip_get(v, "destination", &s->hroute_dst[i].addr, &s->hroute_dst[i].len, err,
		           errlen) < 0 ||
		    ip_get(v, "nexthop", &s->hroute_via[i], NULL, err, errlen) < 0)
			return -EINVAL;
		s->n_hroutes++;
	}
	/* dhcp_ip comes from the network's dhcp port, only for subnets with enable_dhcp */
	s->dhcp_ip = json_is_true(json_object_get(o, "enable_dhcp")) ? 1 : 0;
	m->n_subnets++;
	return 0;
}

static int parse_network(const json_t *o, struct net_host *h, struct net_model *m, char *err,
                         size_t errlen)
{
	if (m->n_networks >= NET_NETWORKS_MAX)
		FAIL("networks: too many");
	int ni = m->n_networks;
	struct net_network *n = &m->networks[ni];
	const json_t *seg = json_object_get(o, "segmentation"), *v;
	char type[8];
	long x;
	size_t i;
	memset(n, 0, sizeof(*n));
	if (uuid_get(o, "id", n->id, err, errlen) < 0 ||
	    int_get(o, "mtu", 1450, 576, 9000, &x, err, errlen) < 0)
		return -EINVAL;
	n->mtu = (int)x;
	n->external = json_is_true(json_object_get(o, "external"));
	if (!json_is_object(seg) || str_get(seg, "type", type, sizeof(type), err, errlen) < 0)
		FAIL("network %s: segmentation: must be an object with a type", n->id);
	if (!strcmp(type, "flat")) {
		n->external = 1;
	} else if (!strcmp(type, "vxlan") || !strcmp(type, "vlan")) {
		if (int_get(seg, "id", 0, 1, NET_VNI_MAX, &x, err, errlen) < 0 || !x)
			FAIL("network %s: segmentation id missing or out of range", n->id);
		if (type[1] == 'x')
			n->vni = (int)x;
		else
			n->vlan = (int)x;
	} else {
		FAIL("network %s: unknown segmentation type", n->id);
	}
	const json_t *peers;
	int peers_rc = arr_get(o, "peers", NET_PEERS_MAX, &peers, err, errlen);
	const json_t *subnets;
	int subnets_rc = arr_get(o, "subnets", 16, &subnets, err, errlen);
	if (peers_rc || subnets_rc)
		return -EINVAL;
	json_array_foreach(peers, i, v)
	{
		if (!json_is_string(v) ||
		    net_ip_parse(json_string_value(v), &n->peers[i], NULL) < 0)
			FAIL("network %s: peers: not an IPv4 address", n->id);
		n->n_peers++;
	}
	m->n_networks++;
	int first = m->n_subnets;
	json_array_foreach(subnets, i, v)
	{
		if (m->n_subnets >= NET_SUBNETS_MAX)
			FAIL("subnets: too many");
		if (!json_is_object(v) || parse_subnet(v, m, ni, err, errlen) < 0)
			return -EINVAL;
	}
	const json_t *dhcp = json_object_get(o, "dhcp");
	/* without a dhcp object no subnet of this network is served here */
	for (int s = first; s < m->n_subnets && !json_is_object(dhcp); s++)
		m->subnets[s].dhcp_ip = 0;
	if (!json_is_object(dhcp))
		return 0;
	if (str_get(dhcp, "mac", n->dhcp_mac, sizeof(n->dhcp_mac), err, errlen) < 0)
		return -EINVAL;
	const json_t *fips;
	int fips_rc = arr_get(dhcp, "fixed_ips", 16, &fips, err, errlen);
	const json_t *hosts;
	int hosts_rc = arr_get(dhcp, "hosts", NET_DHCP_HOSTS_MAX, &hosts, err, errlen);
	if (fips_rc || hosts_rc)
		return -EINVAL;
	for (int s = first; s < m->n_subnets; s++) {
		int wanted = m->subnets[s].dhcp_ip != 0;
		m->subnets[s].dhcp_ip = 0;
		json_array_foreach(fips, i, v)
		{
			char sid[UUID_STR_LEN];
			uint32_t ip;
			if (str_get(v, "subnet_id", sid, sizeof(sid), err, errlen) < 0 ||
			    ip_get(v, "ip_address", &ip, NULL, err, errlen) < 0)
				return -EINVAL;
			if (wanted && !strcmp(sid, m->subnets[s].id))
				m->subnets[s].dhcp_ip = ip;
		}
	}
	json_array_foreach(hosts, i, v)
	{
		if (m->n_hosts >= NET_DHCP_HOSTS_MAX)
			FAIL("dhcp hosts: too many");
		struct net_dhcp_host *d = &m->hosts[m->n_hosts];
		d->network = ni;
		if (str_get(v, "mac", d->mac, sizeof(d->mac), err, errlen) < 0 ||
		    ip_get(v, "ip_address", &d->ip, NULL, err, errlen) < 0 ||
		    str_get(v, "hostname", d->hostname, sizeof(d->hostname), err, errlen) < 0)
			return -EINVAL;
		m->n_hosts++;
	}
	return 0;
}

static int parse_port(const json_t *o, struct net_model *m, char *err, size_t errlen)
{
	if (m->n_ports >= NET_PORTS_MAX)
		FAIL("ports: too many");
	struct net_port *p = &m->ports[m->n_ports];
	char nid[UUID_STR_LEN];
	const json_t *v;
	long x;
	size_t i;
	memset(p, 0, sizeof(*p));
	if (uuid_get(o, "id", p->id, err, errlen) < 0 ||
	    uuid_get(o, "network_id", nid, err, errlen) < 0 ||
	    str_get(o, "tap", p->tap, sizeof(p->tap), err, errlen) < 0 ||
	    str_get(o, "mac", p->mac, sizeof(p->mac), err, errlen) < 0 ||
	    str_get(o, "hostname", p->hostname, sizeof(p->hostname), err, errlen) < 0 ||
	    int_get(o, "mtu", 1450, 576, 9000, &x, err, errlen) < 0)
		return -EINVAL;
	p->mtu = (int)x;
	if ((p->network = network_find(m, nid)) < 0)
		FAIL("port %s: network %s is not in networks", p->id, nid);
	v = json_object_get(o, "port_security_enabled");
	p->port_security = !json_is_false(v);
	const json_t *ips;
	int ips_rc = arr_get(o, "fixed_ips", NET_PORT_IPS_MAX, &ips, err, errlen);
	const json_t *pairs;
	int pairs_rc = arr_get(o, "allowed_address_pairs", NET_PAIRS_MAX, &pairs, err, errlen);
	const json_t *sgs;
	int sgs_rc = arr_get(o, "security_groups", NET_PORT_SGS_MAX, &sgs, err, errlen);
	if (ips_rc || pairs_rc || sgs_rc)
		return -EINVAL;
	json_array_foreach(ips, i, v)
	{
		char sid[UUID_STR_LEN];
		if (uuid_get(v, "subnet_id", sid, err, errlen) < 0 ||
		    ip_get(v, "ip_address", &p->ips[i], NULL, err, errlen) < 0)
			return -EINVAL;
		if ((p->subnets[i] = subnet_find(m, sid)) < 0)
			FAIL("port %s: subnet %s is not in networks", p->id, sid);
		p->n_ips++;
	}
	json_array_foreach(pairs, i, v)
	{
		if (ip_get(v, "ip_address", &p->pairs[i].ip.addr, &p->pairs[i].ip.len, err,
		           errlen) < 0 ||
		    str_get(v, "mac_address", p->pairs[i].mac, sizeof(p->pairs[i].mac), err,
		            errlen) < 0)
			return -EINVAL;
		p->n_pairs++;
	}
	json_array_foreach(sgs, i, v)
	{
		if (!json_is_string(v) || (p->sgs[i] = sg_find(m, json_string_value(v))) < 0)
			FAIL("port %s: security group not in security_groups", p->id);
		p->n_sgs++;
	}
	m->n_ports++;
	return 0;
}

static const struct {
	const char *name;
	int proto;
} protos[] = {{"tcp", 6}, {"udp", 17}, {"icmp", 1}, {"6", 6}, {"17", 17}, {"1", 1}};

static int parse_rule(const json_t *o, struct net_model *m, struct net_sg *g, char *err,
                      size_t errlen)
{
	char dir[12], eth[8], proto[12], rg[UUID_STR_LEN];
	long lo, hi;
	if (str_get(o, "direction", dir, sizeof(dir), err, errlen) < 0 ||
	    str_get(o, "ethertype", eth, sizeof(eth), err, errlen) < 0 ||
	    str_get(o, "protocol", proto, sizeof(proto), err, errlen) < 0 ||
	    str_get(o, "remote_group_id", rg, sizeof(rg), err, errlen) < 0 ||
	    int_get(o, "port_range_min", -1, 0, 65535, &lo, err, errlen) < 0 ||
	    int_get(o, "port_range_max", -1, 0, 65535, &hi, err, errlen) < 0)
		return -EINVAL;
	if (!strcmp(eth, "IPv6"))
		return 0; /* IPv4 only for now */
	struct net_rule *r = &g->rules[g->n_rules];
	memset(r, 0, sizeof(*r));
	if (strcmp(dir, "ingress") && strcmp(dir, "egress"))
		FAIL("security group %s: direction must be ingress or egress", g->id);
	r->dir = dir[0] == 'i' ? NET_INGRESS : NET_EGRESS;
	r->proto = -1;
	if (!proto[0] || !strcmp(proto, "any"))
		r->proto = 0;
	for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (!strcmp(proto, protos[i].name))
			r->proto = protos[i].proto;
	if (r->proto < 0)
		return 0; /* a protocol nft is not asked to match here: the rule allows nothing */
	if (r->proto == 1) {
		r->port_min = (int)lo, r->port_max = (int)hi;
	} else if (r->proto) {
		r->port_min = lo < 0 ? 0 : (int)lo;
		r->port_max = hi < 0 ? r->port_min : (int)hi;
	}
	r->remote_group = -1;
	if (rg[0] && (r->remote_group = sg_find(m, rg)) < 0)
		return 0; /* a group this host was not told about has no members here */
	if (ip_get(o, "remote_ip_prefix", &r->remote.addr, &r->remote.len, err, errlen) < 0)
		return -EINVAL;
	if (!r->remote.addr && r->remote.len == 32)
		r->remote.len = 0; /* absent */
	g->n_rules++;
	return 0;
}

static int parse_groups(const json_t *list, struct net_model *m, char *err, size_t errlen)
{
	const json_t *o, *v;
	size_t i, j;
	/* ids first: rules refer to groups listed later */
	json_array_foreach(list, i, o)
	{
		struct net_sg *g = &m->sgs[m->n_sgs];
		memset(g, 0, sizeof(*g));
		if (!json_is_object(o) || uuid_get(o, "id", g->id, err, errlen) < 0)
			return -EINVAL;
		m->n_sgs++;
	}
	json_array_foreach(list, i, o)
	{
		struct net_sg *g = &m->sgs[i];
		const json_t *rules;
		int rules_rc = arr_get(o, "rules", NET_RULES_MAX, &rules, err, errlen);
		const json_t *members;
		int members_rc = arr_get(o, "member_ips", NET_MEMBERS_MAX, &members, err, errlen);
		if (rules_rc || members_rc)
			return -EINVAL;
		json_array_foreach(rules, j,
		                   v) if (!json_is_object(v) ||
		                          parse_rule(v, m, g, err, errlen) < 0) return -EINVAL;
		json_array_foreach(members, j, v)
		{
			int len;
			if (!json_is_string(v) ||
			    net_ip_parse(json_string_value(v), &g->members[g->n_members], &len) < 0)
				FAIL("security group %s: member_ips: not an IPv4 address", g->id);
			if (len == 32)
				g->n_members++;
		}
	}
	return 0;
}

static int parse_router(const json_t *o, struct net_model *m, char *err, size_t errlen)
{
	if (m->n_routers >= NET_ROUTERS_MAX)
		FAIL("routers: too many");
	struct net_router *r = &m->routers[m->n_routers];
	const json_t *gw = json_object_get(o, "gateway"), *v;
	long x;
	size_t i;
	memset(r, 0, sizeof(*r));
	if (uuid_get(o, "id", r->id, err, errlen) < 0)
		return -EINVAL;
	r->snat = !json_is_false(json_object_get(o, "enable_snat"));
	if (json_is_object(gw)) {
		r->has_gateway = 1;
		if (ip_get(gw, "ip_address", &r->ext_ip.addr, NULL, err, errlen) < 0 ||
		    int_get(gw, "prefixlen", 24, 1, 30, &x, err, errlen) < 0 ||
		    ip_get(gw, "gateway_ip", &r->ext_gateway, NULL, err, errlen) < 0)
			return -EINVAL;
		r->ext_ip.len = (int)x;
	}
	const json_t *ifs;
	int ifs_rc = arr_get(o, "interfaces", NET_RIFS_MAX, &ifs, err, errlen);
	const json_t *fips;
	int fips_rc = arr_get(o, "floating_ips", NET_FIPS_MAX, &fips, err, errlen);
	if (ifs_rc || fips_rc)
		return -EINVAL;
	json_array_foreach(ifs, i, v)
	{
		struct net_rif *f = &r->ifs[r->n_ifs];
		char sid[UUID_STR_LEN];
		if (uuid_get(v, "port_id", f->port_id, err, errlen) < 0 ||
		    uuid_get(v, "subnet_id", sid, err, errlen) < 0 ||
		    str_get(v, "mac", f->mac, sizeof(f->mac), err, errlen) < 0 ||
		    ip_get(v, "ip_address", &f->ip, NULL, err, errlen) < 0)
			return -EINVAL;
		if ((f->subnet = subnet_find(m, sid)) < 0)
			FAIL("router %s: subnet %s is not in networks", r->id, sid);
		r->n_ifs++;
	}
	json_array_foreach(fips, i, v)
	{
		struct net_fip *f = &r->fips[r->n_fips];
		if (ip_get(v, "floating_ip_address", &f->floating, NULL, err, errlen) < 0 ||
		    ip_get(v, "fixed_ip_address", &f->fixed, NULL, err, errlen) < 0)
			return -EINVAL;
		if (f->fixed)
			r->n_fips++;
	}
	m->n_routers++;
	return 0;
}

int net_state_parse(const char *text, size_t len, struct net_host *h, struct net_model *m,
                    char *err, size_t errlen)
{
	json_error_t je;
	const json_t *v;
	size_t i;
	int rc = -EINVAL;
	memset(m, 0, sizeof(*m));
	json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(doc)) {
		snprintf(err, errlen, "not a JSON object: %s", doc ? "" : je.text);
		goto out;
	}
	long x;
	uint32_t tip;
	char bridge[NET_IFNAME_MAX];
	const json_t *md = json_object_get(doc, "metadata");
	if (int_get(doc, "generation", 0, 0, 0x7fffffffL, &x, err, errlen) < 0 ||
	    ip_get(doc, "tunnel_ip", &tip, NULL, err, errlen) < 0 ||
	    str_get(doc, "external_bridge", bridge, sizeof(bridge), err, errlen) < 0)
		goto out;
	m->generation = x;
	if (!h->local_ip)
		h->local_ip = tip;
	/* external_bridge is nubo.conf's ([net] external_bridge): the helper allows only
	 * that one, so the document's word is informative */
	if (json_is_object(md) &&
	    (str_get(md, "url", h->metadata_url, sizeof(h->metadata_url), err, errlen) < 0 ||
	     str_get(md, "secret", h->metadata_secret, sizeof(h->metadata_secret), err, errlen) <
	         0))
		goto out;
	const json_t *nets;
	int nets_rc = arr_get(doc, "networks", NET_NETWORKS_MAX, &nets, err, errlen);
	const json_t *sgs;
	int sgs_rc = arr_get(doc, "security_groups", NET_SGS_MAX, &sgs, err, errlen);
	const json_t *ports;
	int ports_rc = arr_get(doc, "ports", NET_PORTS_MAX, &ports, err, errlen);
	const json_t *routers;
	int routers_rc = arr_get(doc, "routers", NET_ROUTERS_MAX, &routers, err, errlen);
	if (nets_rc || sgs_rc || ports_rc || routers_rc)
		goto out;
	json_array_foreach(nets, i, v) if (!json_is_object(v) ||
	                                   parse_network(v, h, m, err, errlen) < 0) goto out;
	if (parse_groups(sgs, m, err, errlen) < 0)
		goto out;
	json_array_foreach(ports, i,
	                   v) if (!json_is_object(v) || parse_port(v, m, err, errlen) < 0) goto out;
	json_array_foreach(routers, i, v) if (!json_is_object(v) ||
	                                      parse_router(v, m, err, errlen) < 0) goto out;
	rc = net_model_check(h, m, err, errlen);
out:
	json_decref(doc);
	return rc;
}

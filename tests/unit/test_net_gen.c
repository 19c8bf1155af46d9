/* nubo-net's pure generators against golden files: a desired-state document
 * (golden/netstate_host1.json, the wire form of docs/netstate.md) parsed into the
 * model, then its dnsmasq configuration and hosts, the host's nft ruleset, the
 * router's NAT table and the link plan in VXLAN and in VLAN mode; plus documents and
 * models the parser and the checker refuse, and the 8021q probe.
 * NUBO_UPDATE_GOLDEN=1 rewrites the golden files from the current output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "net-agent/net_gen.h"
#include "net-agent/net_state.h"

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 18);
	size_t n = fread(buf, 1, (1 << 18) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_golden(char *got, const char *path)
{
	assert_non_null(got);
	if (getenv("NUBO_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	char *want = read_file(path);
	assert_non_null(want);
	if (strcmp(got, want))
		fprintf(stderr, "output differs from %s; got:\n%s", path, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void host_init(struct net_host *h, enum net_seg seg)
{
	memset(h, 0, sizeof(*h));
	strcpy(h->prefix, "nb");
	h->seg = seg;
	strcpy(h->uplink, "eth1");
	strcpy(h->ext_bridge, "br-ex");
	h->ext_mtu = 1500;
	strcpy(h->tap_user, "nubo-qemu");
	strcpy(h->dhcp_user, "nubo");
	strcpy(h->state_dir, "/var/lib/nubo/net");
}

static struct net_model *model_load(struct net_host *h, const char *path)
{
	char err[256] = "";
	char *text = read_file(path);
	assert_non_null(text);
	struct net_model *m = calloc(1, sizeof(*m));
	int rc = net_state_parse(text, strlen(text), h, m, err, sizeof(err));
	if (rc)
		fprintf(stderr, "%s: %s\n", path, err);
	assert_int_equal(rc, 0);
	free(text);
	return m;
}

static void golden_vxlan(void **state)
{
	struct net_host h;
	host_init(&h, NET_SEG_VXLAN);
	struct net_model *m = model_load(&h, "golden/netstate_host1.json");
	assert_int_equal(m->generation, 42);
	assert_string_equal(h.metadata_url, "http://127.0.0.1:8774/metadata");
	assert_int_equal(m->n_networks, 2);
	assert_int_equal(m->n_ports, 3);
	assert_null(net_gen_dnsmasq_conf(&h, m, 1)); /* the external network has none */
	assert_golden(net_gen_dnsmasq_conf(&h, m, 0), "golden/net_dnsmasq.conf");
	assert_golden(net_gen_dnsmasq_hosts(&h, m, 0), "golden/net_dnsmasq.hosts");
	assert_golden(net_gen_nft_host(&h, m), "golden/net_host.nft");
	assert_golden(net_gen_nft_router(&h, m, 0), "golden/net_router.nft");
	struct net_plan *p = calloc(1, sizeof(*p));
	assert_int_equal(net_gen_plan(&h, m, p), 0);
	assert_golden(net_plan_text(p), "golden/net_plan_vxlan.txt");
	for (int i = 0; i < p->n_links; i++)
		assert_true(net_ifname_ok(p->links[i].name));
	free(p);
	/* net.vxlan_port reaches the plan */
	h.vxlan_port = 8472;
	p = calloc(1, sizeof(*p));
	assert_int_equal(net_gen_plan(&h, m, p), 0);
	char *text = net_plan_text(p);
	assert_non_null(strstr(text, " dstport 8472 "));
	assert_null(strstr(text, "4789"));
	free(text);
	free(p);
	free(m);
}

static void golden_vlan(void **state)
{
	struct net_host h;
	host_init(&h, NET_SEG_VLAN);
	char *text = read_file("golden/netstate_host1.json");
	assert_non_null(text);
	/* the same document with VLAN segmentation */
	char *at = strstr(text, "\"vxlan\", \"id\": 1001");
	assert_non_null(at);
	memcpy(at, "\"vlan\",  \"id\":  101", strlen("\"vlan\",  \"id\":  101"));
	struct net_model *m = calloc(1, sizeof(*m));
	char err[256] = "";
	assert_int_equal(net_state_parse(text, strlen(text), &h, m, err, sizeof(err)), 0);
	assert_int_equal(m->networks[0].vlan, 101);
	struct net_plan *p = calloc(1, sizeof(*p));
	assert_int_equal(net_gen_plan(&h, m, p), 0);
	assert_golden(net_plan_text(p), "golden/net_plan_vlan.txt");
	free(p);
	free(m);
	free(text);
}

static void empty_state(void **state)
{
	struct net_host h;
	host_init(&h, NET_SEG_VXLAN);
	struct net_model *m = calloc(1, sizeof(*m));
	char err[256];
	const char *doc = "{\"generation\": 1, \"tunnel_ip\": \"10.0.0.5\"}";
	assert_int_equal(net_state_parse(doc, strlen(doc), &h, m, err, sizeof(err)), 0);
	assert_golden(net_gen_nft_host(&h, m), "golden/net_host_empty.nft");
	free(m);
}

static const char *const bad_docs[] = {
    "[]",
    "{\"networks\": 3}",
    "{\"tunnel_ip\": \"10.0.0.300\"}",
    "{\"generation\": -1}",
    /* VNI out of range */
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"vxlan\",\"id\":16777216}}]}",
    /* unknown segmentation */
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"gre\",\"id\":5}}]}",
    /* a subnet CIDR with host bits */
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"vxlan\",\"id\":5},\"subnets\":[{\"id\":"
    "\"91b20000-1111-4222-8333-444455556666\",\"cidr\":\"10.0.1.7/24\"}]}]}",
    /* a tap name longer than IFNAMSIZ */
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"vxlan\",\"id\":5}}],\"ports\":[{\"id\":"
    "\"5a6b7c8d-9e0f-4111-8222-333344445555\",\"network_id\":"
    "\"6c1e0a00-1111-4222-8333-444455556666\",\"tap\":\"tap5a6b7c8d-9e0f-4\",\"mac\":"
    "\"fa:16:3e:12:34:56\"}]}",
    /* a tap name with a slash, a multicast MAC */
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"vxlan\",\"id\":5}}],\"ports\":[{\"id\":"
    "\"5a6b7c8d-9e0f-4111-8222-333344445555\",\"network_id\":"
    "\"6c1e0a00-1111-4222-8333-444455556666\",\"tap\":\"tap/x\",\"mac\":"
    "\"fa:16:3e:12:34:56\"}]}",
    "{\"tunnel_ip\":\"10.0.0.5\",\"networks\":[{\"id\":\"6c1e0a00-1111-4222-8333-444455556666\","
    "\"segmentation\":{\"type\":\"vxlan\",\"id\":5}}],\"ports\":[{\"id\":"
    "\"5a6b7c8d-9e0f-4111-8222-333344445555\",\"network_id\":"
    "\"6c1e0a00-1111-4222-8333-444455556666\",\"tap\":\"tapx\",\"mac\":"
    "\"01:16:3e:12:34:56\"}]}",
    /* a port on a network the document does not list */
    "{\"tunnel_ip\":\"10.0.0.5\",\"ports\":[{\"id\":\"5a6b7c8d-9e0f-4111-8222-333344445555\","
    "\"network_id\":\"6c1e0a00-1111-4222-8333-444455556666\",\"tap\":\"tapx\",\"mac\":"
    "\"fa:16:3e:12:34:56\"}]}",
    /* a security group rule with a port range upside down */
    "{\"tunnel_ip\":\"10.0.0.5\",\"security_groups\":[{\"id\":"
    "\"0a0b0000-1111-4222-8333-444455556666\",\"rules\":[{\"direction\":\"ingress\","
    "\"protocol\":\"tcp\",\"port_range_min\":90,\"port_range_max\":80}]}]}",
    "{\"tunnel_ip\":\"10.0.0.5\",\"security_groups\":[{\"id\":"
    "\"0a0b0000-1111-4222-8333-444455556666\",\"rules\":[{\"direction\":\"sideways\"}]}]}",
};

static void refuses_bad_documents(void **state)
{
	struct net_model *m = calloc(1, sizeof(*m));
	for (size_t i = 0; i < sizeof(bad_docs) / sizeof(bad_docs[0]); i++) {
		struct net_host h;
		char err[256] = "";
		host_init(&h, NET_SEG_VXLAN);
		int rc = net_state_parse(bad_docs[i], strlen(bad_docs[i]), &h, m, err, sizeof(err));
		if (rc == 0)
			fprintf(stderr, "accepted: %s\n", bad_docs[i]);
		assert_int_equal(rc, -22);
		assert_true(err[0] != '\0');
	}
	free(m);
}

static void names_and_addresses(void **state)
{
	assert_true(net_ifname_ok("tap5a6b7c8d-9e"));
	assert_false(net_ifname_ok("0123456789abcdef")); /* 16 bytes */
	assert_false(net_ifname_ok(""));
	assert_false(net_ifname_ok(".."));
	assert_false(net_ifname_ok("a b"));
	assert_true(net_prefix_ok("nb"));
	assert_true(net_prefix_ok("t9z2"));
	assert_false(net_prefix_ok("nubo1"));
	assert_false(net_prefix_ok("9a"));
	assert_false(net_mac_ok("fa:16:3e:12:34"));
	assert_false(net_mac_ok("00:00:00:00:00:00"));
	uint32_t ip;
	int len;
	assert_int_equal(net_ip_parse("10.0.1.0/24", &ip, &len), 0);
	assert_int_equal(ip, 0x0a000100);
	assert_int_equal(len, 24);
	assert_int_equal(net_ip_parse("10.0.1.0/33", &ip, &len), -22);
	assert_int_equal(net_ip_parse("10.0.1.0/24", &ip, NULL), -22);
	assert_int_equal(net_ip_parse("10.0.1", &ip, NULL), -22);
	struct net_host h = {.prefix = "abcd"};
	char name[NET_IFNAME_MAX];
	net_name(&h, 'b', "6c1e0a00-1111-4222-8333-444455556666", name);
	assert_string_equal(name, "abcdb6c1e0a0011");
}

static void vlan_probe(void **state)
{
	char dir[] = "/tmp/nubo-vlanprobe-XXXXXX", p[256];
	assert_non_null(mkdtemp(dir));
	assert_int_equal(net_vlan_supported(dir, dir), 0);
	snprintf(p, sizeof(p), "%s/kernel", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/kernel/net", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/kernel/net/8021q", dir);
	mkdir(p, 0700);
	assert_int_equal(net_vlan_supported(dir, dir), 1);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/kernel/net", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/kernel", dir);
	rmdir(p);
	rmdir(dir);
}

/* Leases that would keep dnsmasq from handing a configured address: the address
 * leased to another MAC, or the MAC leased another address. Others stay. */
static void leases_conflicting_dropped(void **state)
{
	const char *hosts = "fa:16:3e:00:00:05,10.0.1.5,vm1,86400s\n"
	                    "FA:16:3E:00:00:09,10.0.1.8,vm4,86400s\n"
	                    "fa:16:3e:00:00:0a,10.0.1.9,86400s\n";
	const char *leases = "1700000000 fa:16:3e:00:00:05 10.0.1.5 vm1 01:fa:16:3e:00:00:05\n"
	                     "1700000000 fa:16:3e:00:00:08 10.0.1.8 vm4 *\n"
	                     "1700000000 fa:16:3e:00:00:0a 10.0.1.7 * *\n"
	                     "1700000000 fa:16:3e:00:00:0b 10.0.1.20 old *\n"
	                     "duid 00:01:02\n";
	char *got = net_gen_dnsmasq_leases(leases, hosts);
	assert_non_null(got);
	assert_string_equal(got, "1700000000 fa:16:3e:00:00:05 10.0.1.5 vm1 01:fa:16:3e:00:00:05\n"
	                         "1700000000 fa:16:3e:00:00:0b 10.0.1.20 old *\n"
	                         "duid 00:01:02\n");
	free(got);
	/* nothing conflicts: nothing to do (dnsmasq is not restarted) */
	assert_null(net_gen_dnsmasq_leases("1700000000 fa:16:3e:00:00:05 10.0.1.5 vm1 *\n", hosts));
	assert_null(net_gen_dnsmasq_leases("", hosts));
	assert_null(net_gen_dnsmasq_leases("1700000000 fa:16:3e:00:00:05 10.0.1.5 vm1 *\n", ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(golden_vxlan),
	    cmocka_unit_test(golden_vlan),
	    cmocka_unit_test(empty_state),
	    cmocka_unit_test(refuses_bad_documents),
	    cmocka_unit_test(names_and_addresses),
	    cmocka_unit_test(vlan_probe),
	    cmocka_unit_test(leases_conflicting_dropped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

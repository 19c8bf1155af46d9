/* nubo-net's privileged requests: the argv each typed link request becomes (golden
 * file, one request a block), and what the helper refuses before running anything:
 * names of other prefixes or beyond IFNAMSIZ, namespaces that are not Nubo's,
 * out-of-range numbers, dnsmasq configurations with options or paths nubo-net never
 * writes, nft scripts that reach beyond Nubo's own tables. NUBO_UPDATE_GOLDEN=1 rewrites the golden
 * file. */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmocka.h>

#include "net-agent/net_priv.h"

static const struct net_priv_ctx ctx = {
    .prefix = "nb",
    .ext_bridge = "br-ex",
    .tap_user = "nubo-qemu",
    .dhcp_user = "nubo",
    .state_dir = "/var/lib/nubo/net",
};

static void add(char **out, size_t *len, const struct net_argv *a)
{
	for (int i = 0; i < a->n; i++) {
		size_t n = strlen(a->argv[i]);
		*out = realloc(*out, *len + n + 2);
		memcpy(*out + *len, a->argv[i], n);
		*len += n;
		(*out)[(*len)++] = i + 1 < a->n ? ' ' : '\n';
		(*out)[*len] = '\0';
	}
}

static void golden_argv(void **state)
{
	struct net_priv_link reqs[] = {
	    {.kind = NET_LINK_BRIDGE, .name = "nbb6c1e0a0011", .mtu = 1450},
	    {.kind = NET_LINK_VXLAN,
	     .name = "nbx6c1e0a0011",
	     .mtu = 1450,
	     .id = 1001,
	     .local = 0x0a000005},
	    {.kind = NET_LINK_VLAN,
	     .name = "nbv6c1e0a0011",
	     .mtu = 1500,
	     .id = 101,
	     .parent = "eth1"},
	    {.kind = NET_LINK_TAP, .name = "tap5a6b7c8d-9e", .mtu = 1450},
	    {.kind = NET_LINK_VETH,
	     .name = "nbd6c1e0a0011",
	     .peer = "nbe6c1e0a0011",
	     .mtu = 1450,
	     .peer_ns = "nb-d-6c1e0a00-1111-4222-8333-444455556666"},
	};
	char *out = calloc(1, 1);
	size_t len = 0;
	char err[256];
	struct net_argv a, b;
	for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		assert_int_equal(
		    net_priv_link_argv(&ctx, NET_PRIV_LINK_ADD, &reqs[i], &a, &b, err, sizeof(err)),
		    0);
		add(&out, &len, &a);
		add(&out, &len, &b);
	}
	/* plugged into its bridge and up by the add itself (no LINK_SET after it) */
	struct net_priv_link plugged = {.kind = NET_LINK_TAP,
	                                .name = "tap5a6b7c8d-9f",
	                                .master = "nbb6c1e0a0011",
	                                .mtu = 1450,
	                                .up = 1};
	assert_int_equal(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_ADD, &plugged, &a, &b, err, sizeof(err)), 0);
	add(&out, &len, &a);
	add(&out, &len, &b);
	struct net_priv_link set = {
	    .name = "tap5a6b7c8d-9e", .master = "nbb6c1e0a0011", .mtu = 1450, .up = 1};
	assert_int_equal(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_SET, &set, &a, &b, err, sizeof(err)), 0);
	add(&out, &len, &a);
	struct net_priv_link inns = {.name = "nbe6c1e0a0011",
	                             .ns = "nb-d-6c1e0a00-1111-4222-8333-444455556666",
	                             .mac = "fa:16:3e:00:00:02",
	                             .up = 1};
	assert_int_equal(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_SET, &inns, &a, &b, err, sizeof(err)), 0);
	add(&out, &len, &a);
	struct net_priv_link del = {.name = "nbg7f8e000011"};
	assert_int_equal(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_DEL, &del, &a, &b, err, sizeof(err)), 0);
	add(&out, &len, &a);
	const char *path = "golden/net_priv_argv.txt";
	if (getenv("NUBO_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(out, f);
		fclose(f);
	}
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char want[8192] = "";
	size_t n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	fclose(f);
	if (strcmp(out, want))
		fprintf(stderr, "got:\n%s", out);
	assert_string_equal(out, want);
	free(out);
}

static void refuses(void **state)
{
	struct net_priv_link bad[] = {
	    /* another prefix, too long a name, a slash */
	    {.kind = NET_LINK_BRIDGE, .name = "eth0", .mtu = 1450},
	    {.kind = NET_LINK_BRIDGE, .name = "nb0123456789abcd", .mtu = 1450},
	    {.kind = NET_LINK_BRIDGE, .name = "nb/x", .mtu = 1450},
	    /* an add plugged into a bridge that is not Nubo's; a bad state */
	    {.kind = NET_LINK_TAP, .name = "tapabc", .mtu = 1450, .master = "docker0"},
	    {.kind = NET_LINK_TAP, .name = "tapabc", .mtu = 1450, .up = 2},
	    /* a tap name for a bridge; MTU; VNI; VLAN id */
	    {.kind = NET_LINK_BRIDGE, .name = "tapabc", .mtu = 1450},
	    {.kind = NET_LINK_BRIDGE, .name = "nbb1", .mtu = 100},
	    {.kind = NET_LINK_VXLAN, .name = "nbx1", .mtu = 1450, .id = 16777216, .local = 1},
	    {.kind = NET_LINK_VXLAN, .name = "nbx1", .mtu = 1450, .id = 5, .local = 0},
	    {.kind = NET_LINK_VXLAN,
	     .name = "nbx1",
	     .mtu = 1450,
	     .id = 5,
	     .local = 1,
	     .port = 65536},
	    {.kind = NET_LINK_VXLAN, .name = "nbx1", .mtu = 1450, .id = 5, .local = 1, .port = -1},
	    {.kind = NET_LINK_VLAN, .name = "nbv1", .mtu = 1450, .id = 4095, .parent = "eth1"},
	    /* a veth into a namespace that is not Nubo's */
	    {.kind = NET_LINK_VETH,
	     .name = "nbd1",
	     .peer = "nbe1",
	     .mtu = 1450,
	     .peer_ns = "other"},
	    {.kind = NET_LINK_VETH,
	     .name = "nbd1",
	     .peer = "nbe1",
	     .mtu = 1450,
	     .peer_ns = "nb-../x"},
	    {.kind = 9, .name = "nbq1", .mtu = 1450},
	};
	char err[256];
	struct net_argv a, b;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_true(net_priv_link_argv(&ctx, NET_PRIV_LINK_ADD, &bad[i], &a, &b, err,
		                               sizeof(err)) < 0);
		assert_true(err[0] != '\0');
	}
	struct net_priv_link set_master = {.name = "tapx", .master = "docker0"};
	assert_true(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_SET, &set_master, &a, &b, err, sizeof(err)) < 0);
	struct net_priv_link set_ext = {.name = "nbg1", .master = "br-ex", .up = 1};
	assert_int_equal(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_SET, &set_ext, &a, &b, err, sizeof(err)), 0);
	struct net_priv_link del_other = {.name = "eth0"};
	assert_true(
	    net_priv_link_argv(&ctx, NET_PRIV_LINK_DEL, &del_other, &a, &b, err, sizeof(err)) < 0);
	struct net_priv_link unterminated;
	memset(&unterminated, 'a', sizeof(unterminated));
	unterminated.kind = NET_LINK_BRIDGE;
	assert_true(net_priv_link_argv(&ctx, NET_PRIV_LINK_ADD, &unterminated, &a, &b, err,
	                               sizeof(err)) < 0);
	/* a stack's own VXLAN port (parallel stacks on one box must not share VNIs on
	 * 4789: the kernel refuses a second device with the same VNI and port) */
	struct net_priv_link vx = {
	    .kind = NET_LINK_VXLAN, .name = "nbx1", .mtu = 1450, .id = 5, .local = 1, .port = 8472};
	assert_int_equal(net_priv_link_argv(&ctx, NET_PRIV_LINK_ADD, &vx, &a, &b, err, sizeof(err)),
	                 0);
	int saw = 0;
	for (int i = 0; i + 1 < a.n; i++)
		saw |= !strcmp(a.argv[i], "dstport") && !strcmp(a.argv[i + 1], "8472");
	assert_true(saw);
	assert_true(net_priv_ns_ok("nb", "nb-r-7f8e0000-1111-4222-8333-444455556666"));
	assert_false(net_priv_ns_ok("nb", "nb-"));
	assert_false(net_priv_ns_ok("nb", "nbx-r-1"));
	assert_false(net_priv_ns_ok("nb", "nb-R-1"));
}

static void dnsmasq_conf(void **state)
{
	char err[256];
	const char *ok =
	    "# x\nport=0\ninterface=nbe1\nuser=nubo\n"
	    "dhcp-hostsfile=/var/lib/nubo/net/dhcp/6c1e0a00-1111-4222-8333-444455556666/hosts\n"
	    "dhcp-range=set:s0,10.0.1.0,static,255.255.255.0,86400s\n";
	assert_int_equal(net_priv_dnsmasq_conf_ok(&ctx, ok, err, sizeof(err)), 0);
	const char *bad[] = {
	    "dhcp-script=/bin/sh\n",
	    "user=root\n",
	    "port=53\n",
	    "dhcp-hostsfile=/etc/shadow\n",
	    "dhcp-leasefile=/var/lib/nubo/net/dhcp/../../../../etc/passwd\n",
	    "conf-dir=/etc\n",
	    "dhcp-option=tag:s0,option:router,10.0.1.1\x01\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(net_priv_dnsmasq_conf_ok(&ctx, bad[i], err, sizeof(err)), -1);
		assert_true(err[0] != '\0');
	}
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	char *buf = calloc(1, 1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* The helper applies an nft script the worker wrote: every ruleset the generator
 * writes passes, and anything that reaches beyond Nubo's own tables is refused. */
static void nft_ruleset(void **state)
{
	char err[256];
	const char *golden[] = {"golden/net_host.nft", "golden/net_host_empty.nft",
	                        "golden/net_router.nft"};
	for (size_t i = 0; i < sizeof(golden) / sizeof(golden[0]); i++) {
		char *text = slurp(golden[i]);
		err[0] = '\0';
		if (net_priv_nft_ok(&ctx, text, err, sizeof(err)) != 0)
			fail_msg("%s refused: %s", golden[i], err);
		free(text);
	}
	const char *ok[] = {
	    "",
	    "# only a comment\n",
	    "table ip nb_nat {\n}; delete table ip nb_nat\n",
	    "table inet nb_sg { chain c { iifname \"tap1\" drop; } }",
	    "delete table bridge nb_as",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err[0] = '\0';
		if (net_priv_nft_ok(&ctx, ok[i], err, sizeof(err)) != 0)
			fail_msg("refused %s: %s", ok[i], err);
	}
	const char *bad[] = {
	    "flush ruleset\n",
	    "include \"/etc/shadow\"\n",
	    "table ip nb_nat {\ninclude \"/etc/shadow\"\n}\n",
	    "table ip nb_nat { chain c { include \"/root/x\" } }\n",
	    "define x = 1\ntable ip nb_nat {\n}\n",
	    "table ip nb_nat { chain c { ip saddr $x drop } }\n",
	    "delete table ip filter\n",
	    "delete table inet nbx\n",  /* the prefix, then '_' */
	    "delete table inet nb_\n",  /* a name after it */
	    "delete table inet nb_A\n", /* lower case only */
	    "table netdev nb_x {\n}\n", /* a family nubo-net never writes */
	    "table ip filter {\n}\n",
	    "table ip nb_nat {\n}\nflush table ip filter\n",
	    "table ip nb_nat {\n}\nadd rule ip filter input drop\n",
	    "table ip nb_nat {\n}\nlist ruleset\n",
	    "table ip nb_nat {\n} delete table ip filter\n",
	    "table ip nb_nat {\n}; flush ruleset\n",
	    "table ip nb_nat { }\n}\nflush ruleset\n{\n",                      /* unbalanced */
	    "table ip nb_nat {\nchain c {\n",                                  /* never closed */
	    "table ip nb_nat { chain c { iifname \"tap1 } }\nflush ruleset\n", /* string */
	    "table ip \"nb_nat\" {\n}\n",
	    "table ip nb_nat { chain c { ruleset } }\n",
	    "table ip nb_nat { table ip filter { } }\n",
	    "table ip nb_nat { chain c { iifname \"\x1b[2J\" drop } }\n",
	    "table ip nb_nat { chain c { drop } }\n\xc3\xa9\n",
	    "table ip nb_nat\x01 {\n}\n",
	    "table ip nb_nat {\n}\n/etc/x\n",
	    "table ip nb_nat {{{{{{{{{ }}}}}}}}}\n",
	    "table ip nb_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa "
	    "{\n}\n",
	    "delete delete delete table ip nb_nat\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (net_priv_nft_ok(&ctx, bad[i], err, sizeof(err)) != -EPERM)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
}

/* The CI race: the compute agent's helper opens (so creates) a VM's tap and QEMU
 * holds it; nubo-net, which read the kernel a moment before, then adds the same tap
 * and `ip tuntap add` fails with TUNSETIFF EBUSY. The add must adopt the held tap
 * (mark it Nubo's, set its MTU), not fail the sync. Needs CAP_NET_ADMIN. */
static void tap_add_adopts_held_tap(void **state)
{
	struct ifreq ifr;
	char name[IFNAMSIZ], path[128], alias[64] = "", err[256] = "";
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0 || geteuid() != 0) {
		if (fd >= 0)
			close(fd);
		skip(); /* no tun device or not root: nothing to race on */
	}
	snprintf(name, sizeof(name), "tapu%x", (unsigned)getpid() & 0xfffffff);
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	struct net_priv_ctx c = ctx;
	c.tap_user = "root";
	struct net_priv_link l = {.kind = NET_LINK_TAP, .mtu = 1400};
	snprintf(l.name, sizeof(l.name), "%s", name);
	int rc = net_priv_link_add_exec(&c, &l, err, sizeof(err));
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifalias", name);
	int afd = open(path, O_RDONLY | O_CLOEXEC);
	if (afd >= 0) {
		ssize_t n = read(afd, alias, sizeof(alias) - 1);
		alias[n > 0 ? n : 0] = '\0';
		alias[strcspn(alias, "\n")] = '\0';
		close(afd);
	}
	close(fd); /* not persistent: the tap goes with the fd */
	if (rc != 0)
		fail_msg("add of a held tap: %d %s", rc, err);
	assert_string_equal(alias, NET_ALIAS_PREFIX "nb");
	/* a name that does not exist and cannot be made is still an error */
	struct net_priv_link bad = {.kind = NET_LINK_TAP, .mtu = 1400};
	snprintf(bad.name, sizeof(bad.name), "tapx");
	c.tap_user = "no-such-user-nubo";
	assert_true(net_priv_link_add_exec(&c, &bad, err, sizeof(err)) < 0);
}

/* Review s6 7: only a busy tap is adopted, not any failure of the add. */
static void tap_adoptable_only_when_busy(void **state)
{
	assert_true(
	    net_priv_tap_adoptable(-EIO, "ip tuntap: ioctl(TUNSETIFF): Device or resource busy"));
	assert_false(net_priv_tap_adoptable(-EIO, "ip tuntap: ioctl(TUNSETIFF): Invalid argument"));
	assert_false(net_priv_tap_adoptable(-EIO, "ip tuntap: Operation not permitted"));
	assert_false(net_priv_tap_adoptable(-ETIMEDOUT, "Device or resource busy"));
	assert_false(net_priv_tap_adoptable(0, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(golden_argv),
	    cmocka_unit_test(refuses),
	    cmocka_unit_test(dnsmasq_conf),
	    cmocka_unit_test(nft_ruleset),
	    cmocka_unit_test(tap_add_adopts_held_tap),
	    cmocka_unit_test(tap_adoptable_only_when_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

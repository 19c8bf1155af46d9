/* Gratuitous ARP: the frame nubo-net's helper sends after a router namespace gains
 * an address (byte by byte, both kinds), the inputs it refuses to build a frame
 * for, the helper's check of the request (names not Nubo's, no address), the
 * helper's check that the namespace holds the address, and the schedule of the
 * repeats (NET_GARP_COUNT announcements, NET_GARP_INTERVAL_MS apart). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include "net-agent/net_garp.h"
#include "net-agent/net_priv.h"

static const uint8_t mac[6] = {0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56};
#define IP 0xac180414u /* 172.24.4.20 */

static void request_frame(void **state)
{
	uint8_t buf[80];
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(net_garp_frame(buf, sizeof(buf), mac, IP, NET_GARP_REQUEST), 60);
	static const uint8_t want[42] = {
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* to everyone */
	    0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56, /* from the port */
	    0x08, 0x06,                         /* ARP */
	    0x00, 0x01, 0x08, 0x00, 6,    4,    /* Ethernet, IPv4 */
	    0x00, 0x01,                         /* request */
	    0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56, /* sender MAC */
	    172,  24,   4,    20,               /* sender IP */
	    0,    0,    0,    0,    0,    0,    /* target MAC: unknown */
	    172,  24,   4,    20,               /* target IP = sender IP */
	};
	assert_memory_equal(buf, want, sizeof(want));
	for (int i = 42; i < 60; i++)
		assert_int_equal(buf[i], 0); /* padding */
	assert_int_equal(buf[60], 0xaa);     /* nothing beyond the frame */
}

static void reply_frame(void **state)
{
	uint8_t buf[60];
	assert_int_equal(net_garp_frame(buf, sizeof(buf), mac, IP, NET_GARP_REPLY), 60);
	assert_int_equal(buf[20], 0x00);
	assert_int_equal(buf[21], 0x02);            /* reply */
	assert_memory_equal(buf + 22, mac, 6);      /* sender MAC */
	assert_memory_equal(buf + 32, mac, 6);      /* target MAC: its own */
	assert_memory_equal(buf + 28, buf + 38, 4); /* sender IP = target IP */
	static const uint8_t ip_bytes[4] = {172, 24, 4, 20};
	assert_memory_equal(buf + 38, ip_bytes, 4);
}

static void refused_frames(void **state)
{
	uint8_t buf[60];
	static const uint8_t multicast[6] = {0x01, 0, 0x5e, 0, 0, 1}, zero[6];
	assert_int_equal(net_garp_frame(buf, 59, mac, IP, NET_GARP_REQUEST), 0);
	assert_int_equal(net_garp_frame(buf, sizeof(buf), mac, IP, 3), 0);
	assert_int_equal(net_garp_frame(buf, sizeof(buf), mac, IP, 0), 0);
	assert_int_equal(net_garp_frame(buf, sizeof(buf), mac, 0, NET_GARP_REQUEST), 0);
	assert_int_equal(net_garp_frame(buf, sizeof(buf), multicast, IP, NET_GARP_REQUEST), 0);
	assert_int_equal(net_garp_frame(buf, sizeof(buf), zero, IP, NET_GARP_REPLY), 0);
}

static const struct net_priv_ctx ctx = {
    .prefix = "nb",
    .ext_bridge = "br-ex",
    .tap_user = "nubo-qemu",
    .dhcp_user = "nubo",
    .state_dir = "/var/lib/nubo/net",
};

static int garp_ok(const char *ns, const char *dev, uint32_t addr)
{
	struct net_priv_garp r = {.addr = addr};
	char err[128] = "";
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	int rc = net_priv_garp_ok(&ctx, &r, err, sizeof(err));
	if (rc)
		assert_true(err[0]);
	return rc;
}

static void helper_check(void **state)
{
	const char *ns = "nb-r-6c1e0000-0000-4000-8000-000000000001";
	assert_int_equal(garp_ok(ns, "nbh6c1e000000", IP), 0);
	assert_int_equal(garp_ok(ns, "eth0", IP), -EPERM);                   /* not Nubo's link */
	assert_int_equal(garp_ok(ns, "lo", IP), -EPERM);                     /* never lo */
	assert_int_equal(garp_ok("other-r-x", "nbh6c1e000000", IP), -EPERM); /* not Nubo's ns */
	assert_int_equal(garp_ok("", "nbh6c1e000000", IP), -EPERM); /* the root namespace */
	assert_int_equal(garp_ok("nb-r-../../x", "nbh6c1e000000", IP), -EPERM);
	assert_int_equal(garp_ok(ns, "nbh6c1e000000", 0), -EPERM);
	assert_int_equal(garp_ok(ns, "nbh6c1e000000", 0xffffffffu), -EPERM);
	assert_int_equal(garp_ok(ns, "nb/../x", IP), -EPERM); /* not a link name */
	struct net_priv_garp r = {.addr = IP};
	char err[128];
	memset(r.ns, 'a', sizeof(r.ns)); /* unterminated */
	strcpy(r.dev, "nbh6c1e000000");
	assert_int_equal(net_priv_garp_ok(&ctx, &r, err, sizeof(err)), -EPERM);
}

/* getifaddrs()'s list: eth0 10.0.0.1, gw 172.24.4.20 (+ an IPv6 one), lo without an
 * address */
static void owned(void **state)
{
	struct sockaddr_in a1 = {.sin_family = AF_INET}, a2 = a1;
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
	a1.sin_addr.s_addr = htonl(0x0a000001u);
	a2.sin_addr.s_addr = htonl(IP);
	memcpy(&a6.sin6_addr, "\xfe\x80\0\0\0\0\0\0\0\0\0\0\xac\x18\x04\x14", 16);
	struct ifaddrs lo = {.ifa_name = (char *)"lo"};
	struct ifaddrs v6 = {.ifa_next = &lo, .ifa_name = (char *)"nbg1", .ifa_addr = (void *)&a6};
	struct ifaddrs gw = {.ifa_next = &v6, .ifa_name = (char *)"nbg1", .ifa_addr = (void *)&a2};
	struct ifaddrs eth = {.ifa_next = &gw, .ifa_name = (char *)"eth0", .ifa_addr = (void *)&a1};
	assert_true(net_garp_owned(&eth, "nbg1", IP));
	assert_true(net_garp_owned(&eth, "eth0", 0x0a000001u));
	assert_false(net_garp_owned(&eth, "eth0", IP));          /* another link's */
	assert_false(net_garp_owned(&eth, "nbg1", 0x0a000001u)); /* the same */
	assert_false(net_garp_owned(&eth, "nbg1", IP + 1));      /* nobody's */
	assert_false(net_garp_owned(&eth, "lo", 0));
	assert_false(net_garp_owned(&eth, "nbg", IP)); /* a prefix of the name is not it */
	assert_false(net_garp_owned(NULL, "nbg1", IP));
}

#define NS "nb-r-6c1e0000-0000-4000-8000-000000000001"

static int take(struct net_garp_sched *s, int64_t now, struct net_garp_due *out)
{
	return net_garp_sched_take(s, now, out, 8);
}

static void repeats(void **state)
{
	static struct net_garp_sched s;
	struct net_garp_due d[8];
	memset(&s, 0, sizeof(s));
	assert_int_equal(net_garp_sched_next(&s), -1);
	assert_int_equal(take(&s, 1000, d), 0);
	/* announced at t = 1000: the repeats follow at 2000 and 3000 */
	assert_int_equal(net_garp_sched_add(&s, NS, "nbg1", IP, 1000), 0);
	assert_int_equal(net_garp_sched_next(&s), 1000 + NET_GARP_INTERVAL_MS);
	assert_int_equal(take(&s, 1999, d), 0); /* not yet */
	int sent = 0;
	int64_t t = 1000;
	for (int tick = 0; tick < 10; tick++) {
		t += NET_GARP_INTERVAL_MS;
		int n = take(&s, t, d);
		if (n) {
			assert_int_equal(n, 1);
			assert_string_equal(d[0].ns, NS);
			assert_string_equal(d[0].dev, "nbg1");
			assert_int_equal(d[0].addr, IP);
		}
		sent += n;
	}
	assert_int_equal(sent, NET_GARP_COUNT - 1); /* the first went out at once */
	assert_int_equal(s.n, 0);
	assert_int_equal(net_garp_sched_next(&s), -1);

	/* a late tick sends one, not the backlog: the next is an interval later */
	net_garp_sched_add(&s, NS, "nbg1", IP, 0);
	assert_int_equal(take(&s, 10000, d), 1);
	assert_int_equal(take(&s, 10000, d), 0);
	assert_int_equal(net_garp_sched_next(&s), 10000 + NET_GARP_INTERVAL_MS);
	assert_int_equal(take(&s, 10000 + NET_GARP_INTERVAL_MS, d), 1);
	assert_int_equal(s.n, 0);

	/* the same address again restarts its count; another one is its own */
	net_garp_sched_add(&s, NS, "nbg1", IP, 0);
	assert_int_equal(take(&s, NET_GARP_INTERVAL_MS, d), 1);
	net_garp_sched_add(&s, NS, "nbg1", IP, NET_GARP_INTERVAL_MS);
	net_garp_sched_add(&s, NS, "nbg1", IP + 1, NET_GARP_INTERVAL_MS);
	net_garp_sched_add(&s, NS, "nbq2", IP, NET_GARP_INTERVAL_MS);
	assert_int_equal(s.n, 3);
	assert_int_equal(take(&s, 2 * NET_GARP_INTERVAL_MS, d), 3);
	assert_int_equal(take(&s, 3 * NET_GARP_INTERVAL_MS, d), 3);
	assert_int_equal(take(&s, 4 * NET_GARP_INTERVAL_MS, d), 0);

	/* max bounds one take; the rest stay due */
	for (uint32_t i = 0; i < 10; i++)
		net_garp_sched_add(&s, NS, "nbg1", IP + i, 0);
	assert_int_equal(net_garp_sched_take(&s, NET_GARP_INTERVAL_MS, d, 4), 4);
	assert_int_equal(net_garp_sched_take(&s, NET_GARP_INTERVAL_MS, d, 8), 6);
	assert_int_equal(net_garp_sched_take(&s, NET_GARP_INTERVAL_MS, d, 8), 0);
	assert_int_equal(s.n, 10);
	memset(&s, 0, sizeof(s));

	/* names too long are refused, nothing noted */
	char longns[NET_GARP_NS_MAX + 1];
	memset(longns, 'n', sizeof(longns) - 1);
	longns[sizeof(longns) - 1] = '\0';
	assert_int_equal(net_garp_sched_add(&s, longns, "nbg1", IP, 0), -EINVAL);
	assert_int_equal(net_garp_sched_add(&s, NS, "nbg1234567890123", IP, 0), -EINVAL);
	assert_int_equal(s.n, 0);

	/* full: the entry due first makes room, the count stays bounded */
	for (uint32_t i = 0; i < NET_GARP_PENDING_MAX; i++)
		net_garp_sched_add(&s, NS, "nbg1", IP + i, 100 + i);
	assert_int_equal(s.n, NET_GARP_PENDING_MAX);
	net_garp_sched_add(&s, NS, "nbg1", 0x0a0a0a0au, 5000);
	assert_int_equal(s.n, NET_GARP_PENDING_MAX);
	int found_new = 0, found_oldest = 0;
	for (int i = 0; i < s.n; i++) {
		found_new |= s.e[i].addr == 0x0a0a0a0au;
		found_oldest |= s.e[i].addr == IP;
	}
	assert_true(found_new);
	assert_false(found_oldest);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(request_frame),  cmocka_unit_test(reply_frame),
	    cmocka_unit_test(refused_frames), cmocka_unit_test(helper_check),
	    cmocka_unit_test(owned),          cmocka_unit_test(repeats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Gratuitous ARP: the frame nubo-net's helper sends after a router namespace gains
 * an address (byte by byte, both kinds), the inputs it refuses to build a frame
 * for, and the helper's check of the request (names not Nubo's, no address). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(request_frame),
	    cmocka_unit_test(reply_frame),
	    cmocka_unit_test(refused_frames),
	    cmocka_unit_test(helper_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

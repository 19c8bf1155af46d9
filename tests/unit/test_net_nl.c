/* nubo-net's rtnetlink messages (net-agent/net_nl.h): the requests the helper sends
 * instead of running ip(8), byte for byte as the kernel reads them (x86-64: little
 * endian), and the parse of a link of the converge's dump (a VXLAN VNI above 16 bits
 * and a VLAN id, which share attribute number 1; malformed messages). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>

#include <cmocka.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "net-agent/net_nl.h"

static void addr_replace(void **state)
{
	struct net_nl_msg m;
	assert_int_equal(net_nl_addr_msg(&m, 1, 7, 0x0a4d0101u, 24, 0), 0);
	static const uint8_t want[] = {
	    0x28, 0,    0, 0, /* length 40 */
	    20,   0,          /* RTM_NEWADDR */
	    0x05, 0x05,       /* REQUEST | ACK | REPLACE | CREATE */
	    1,    0,    0, 0, /* seq */
	    0,    0,    0, 0, /* pid */
	    2,    24,   0, 0, /* AF_INET, /24, flags, scope universe */
	    7,    0,    0, 0, /* ifindex */
	    8,    0,    2, 0, /* IFA_LOCAL */
	    10,   77,   1, 1, /* 10.77.1.1 */
	    8,    0,    1, 0, /* IFA_ADDRESS */
	    10,   77,   1, 1,
	};
	assert_int_equal(m.len, sizeof(want));
	assert_memory_equal(m.buf, want, sizeof(want));
	assert_int_equal(net_nl_addr_msg(&m, 2, 7, 0x0a4d0101u, 24, 1), 0);
	assert_int_equal(m.buf[4], 21);   /* RTM_DELADDR */
	assert_int_equal(m.buf[6], 0x05); /* REQUEST | ACK only */
	assert_int_equal(m.buf[7], 0);
	assert_int_equal(m.buf[8], 2); /* seq */
}

static void link_set(void **state)
{
	struct net_nl_msg m;
	struct net_nl_link l = {
	    .name = "nbt1", .master = 5, .mtu = 1450, .up = 1, .alias = "nubo-net:nb"};
	assert_int_equal(net_nl_link_set_msg(&m, 3, &l), 0);
	static const uint8_t want[] = {
	    76, 0, 0,  0, 16,   0,    0x05, 0, /* RTM_NEWLINK, REQUEST | ACK: no CREATE */
	    3,  0, 0,  0, 0,    0,    0,    0, /* seq 3, pid */
	    0,  0, 0,  0,                      /* AF_UNSPEC, pad, type */
	    0,  0, 0,  0,                      /* ifindex 0: by name */
	    1,  0, 0,  0, 1,    0,    0,    0, /* flags IFF_UP, change IFF_UP */
	    9,  0, 3,  0, 'n',  'b',  't',  '1', 0,   0,   0,   0, /* IFLA_IFNAME, padded */
	    8,  0, 10, 0, 5,    0,    0,    0,                     /* IFLA_MASTER 5 */
	    8,  0, 4,  0, 0xaa, 0x05, 0,    0,                     /* IFLA_MTU 1450 */
	    16, 0, 20, 0, 'n',  'u',  'b',  'o', '-', 'n', 'e', 't', ':', 'n', 'b', 0,
	};
	assert_int_equal(m.len, sizeof(want));
	assert_memory_equal(m.buf, want, sizeof(want));

	/* nothing but the name: a no-op set, and a MAC as IFLA_ADDRESS */
	static const uint8_t mac[6] = {0xfa, 0x16, 0x3e, 1, 2, 3};
	struct net_nl_link l2 = {.name = "lo", .mac = mac};
	assert_int_equal(net_nl_link_set_msg(&m, 4, &l2), 0);
	assert_int_equal(m.len, 16 + 16 + 8 + 12);
	static const uint8_t tail[] = {10, 0, 1, 0, 0xfa, 0x16, 0x3e, 1, 2, 3, 0, 0};
	assert_memory_equal(m.buf + 40, tail, sizeof(tail));
	assert_int_equal(m.buf[24], 0); /* flags: up not asked, not changed */
	assert_int_equal(m.buf[28], 0);
}

static void link_del_and_route(void **state)
{
	struct net_nl_msg m;
	assert_int_equal(net_nl_link_del_msg(&m, 5, "nbt1"), 0);
	static const uint8_t del[] = {
	    44, 0, 0, 0, 17,  0,   0x05, 0,   5, 0, 0, 0, 0, 0, 0, 0, /* RTM_DELLINK */
	    0,  0, 0, 0, 0,   0,   0,    0,   0, 0, 0, 0, 0, 0, 0, 0,
	    9,  0, 3, 0, 'n', 'b', 't',  '1', 0, 0, 0, 0,
	};
	assert_int_equal(m.len, sizeof(del));
	assert_memory_equal(m.buf, del, sizeof(del));

	assert_int_equal(net_nl_route_default_msg(&m, 6, 0x0a4d01feu), 0);
	static const uint8_t route[] = {
	    36,   0, 0, 0, 24, 0,  0x05, 0x05, 6, 0, 0, 0, 0, 0, 0, 0, /* RTM_NEWROUTE */
	    2,    0, 0, 0,                     /* AF_INET, default: dst_len 0, src_len, tos */
	    0xfe, 3, 0, 1,                     /* main table, RTPROT_BOOT, universe, unicast */
	    0,    0, 0, 0,                     /* flags */
	    8,    0, 5, 0, 10, 77, 1,    0xfe, /* RTA_GATEWAY 10.77.1.254 */
	};
	assert_int_equal(m.len, sizeof(route));
	assert_memory_equal(m.buf, route, sizeof(route));
}

static void overflow(void **state)
{
	struct net_nl_msg m;
	char alias[NET_NL_MSG_MAX];
	memset(alias, 'a', sizeof(alias) - 1);
	alias[sizeof(alias) - 1] = '\0';
	struct net_nl_link l = {.name = "nbt1", .alias = alias, .mtu = 1500};
	assert_int_equal(net_nl_link_set_msg(&m, 1, &l), -E2BIG);
	char err[64];
	assert_int_equal(net_nl_talk(&m, "nbt1", err, sizeof(err)), -E2BIG); /* never sent */
	assert_string_equal(err, "nbt1: request too long");
}

/* ---- parse -------------------------------------------------------------------------- */

static uint8_t msg[512];
static size_t msg_len;

static size_t put(size_t at, uint16_t type, const void *data, size_t len)
{
	struct nlattr a = {.nla_len = (uint16_t)(sizeof(a) + len), .nla_type = type};
	memcpy(msg + at, &a, sizeof(a));
	memcpy(msg + at + sizeof(a), data, len);
	return at + NLA_ALIGN(sizeof(a) + len);
}

/* A RTM_NEWLINK of "nbx1" (index 9, up, MTU 1450, master 3, Nubo's mark) of kind
 * with one IFLA_INFO_DATA attribute 1 of id_len bytes, and IFLA_VXLAN_LOCAL (4) of
 * local (host order) when it is not 0. */
static void newlink_local(const char *kind, uint32_t id, size_t id_len, uint32_t local)
{
	memset(msg, 0, sizeof(msg));
	struct ifinfomsg ifi = {.ifi_index = 9, .ifi_flags = 1};
	memcpy(msg + NLMSG_HDRLEN, &ifi, sizeof(ifi));
	size_t at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ifi));
	uint32_t mtu = 1450, master = 3;
	at = put(at, IFLA_IFNAME, "nbx1", 5);
	at = put(at, IFLA_MTU, &mtu, 4);
	at = put(at, IFLA_MASTER, &master, 4);
	at = put(at, IFLA_IFALIAS, "nubo-net:nb", 12);
	/* IFLA_LINKINFO { IFLA_INFO_KIND kind, IFLA_INFO_DATA { 1: id } } */
	uint8_t inner[64], data[32];
	size_t dlen = NLA_ALIGN(4 + id_len);
	size_t start = at, n = 0;
	struct nlattr a;
	memset(inner, 0, sizeof(inner));
	a = (struct nlattr){.nla_len = (uint16_t)(4 + strlen(kind) + 1),
	                    .nla_type = IFLA_INFO_KIND};
	memcpy(inner, &a, 4);
	memcpy(inner + 4, kind, strlen(kind) + 1);
	n = NLA_ALIGN(a.nla_len);
	memset(data, 0, sizeof(data));
	a = (struct nlattr){.nla_len = (uint16_t)(4 + id_len), .nla_type = 1};
	memcpy(data, &a, 4);
	memcpy(data + 4, &id, id_len);
	if (local) {
		uint32_t be = htonl(local);
		a = (struct nlattr){.nla_len = 8, .nla_type = 4};
		memcpy(data + dlen, &a, 4);
		memcpy(data + dlen + 4, &be, 4);
		dlen += 8;
	}
	a = (struct nlattr){.nla_len = (uint16_t)(4 + dlen),
	                    .nla_type = NLA_F_NESTED | IFLA_INFO_DATA};
	memcpy(inner + n, &a, 4);
	memcpy(inner + n + 4, data, dlen);
	n += a.nla_len;
	at = put(start, NLA_F_NESTED | IFLA_LINKINFO, inner, n);
	struct nlmsghdr nh = {.nlmsg_len = (uint32_t)at, .nlmsg_type = RTM_NEWLINK};
	memcpy(msg, &nh, sizeof(nh));
	msg_len = at;
}

static void newlink(const char *kind, uint32_t id, size_t id_len)
{
	newlink_local(kind, id, id_len, 0);
}

static void parse_vxlan_vlan(void **state)
{
	struct net_nl_linkinfo li;
	newlink("vxlan", 1130107, 4); /* a VNI above 16 bits */
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), 0);
	assert_string_equal(li.name, "nbx1");
	assert_string_equal(li.kind, "vxlan");
	assert_string_equal(li.alias, "nubo-net:nb");
	assert_int_equal(li.id, 1130107);
	assert_int_equal(li.index, 9);
	assert_int_equal(li.master, 3);
	assert_int_equal(li.mtu, 1450);
	assert_int_equal(li.up, 1);
	assert_int_equal(li.local, 0);

	/* its source address, which converge compares (review s8 M3) */
	newlink_local("vxlan", 42, 4, 0x0afd0001); /* 10.253.0.1 */
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), 0);
	assert_int_equal(li.id, 42);
	assert_int_equal(li.local, 0x0afd0001);

	newlink("vlan", 100, 2);
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), 0);
	assert_string_equal(li.kind, "vlan");
	assert_int_equal(li.id, 100);

	newlink("bridge", 7, 4); /* attribute 1 of a bridge is no id */
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), 0);
	assert_int_equal(li.id, -1);
}

static void parse_malformed(void **state)
{
	struct net_nl_linkinfo li;
	newlink("vxlan", 42, 4);
	/* shorter than its header says */
	assert_int_equal(net_nl_link_parse(msg, msg_len - 4, &li), -EINVAL);
	/* not a link */
	((struct nlmsghdr *)msg)->nlmsg_type = RTM_NEWADDR;
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), -EINVAL);
	/* an attribute longer than the message: parsing stops before it, no name */
	newlink("vxlan", 42, 4);
	size_t name_at = NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg));
	((struct nlattr *)(msg + name_at))->nla_len = 400;
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), -EINVAL);
	/* an unterminated name is no name */
	newlink("vxlan", 42, 4);
	memcpy(msg + name_at + 4, "nbx1X", 5);
	assert_int_equal(net_nl_link_parse(msg, msg_len, &li), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(addr_replace),       cmocka_unit_test(link_set),
	    cmocka_unit_test(link_del_and_route), cmocka_unit_test(overflow),
	    cmocka_unit_test(parse_vxlan_vlan),   cmocka_unit_test(parse_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

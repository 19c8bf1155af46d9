/* The Network API's address checks: dotted IPv4, CIDRs (prefix, host bits, junk) and
 * overlap between networks, which subnet create and router interfaces rely on. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/network/network.h"

static void ip_parse(void **state)
{
	unsigned a;
	assert_true(net_ip_parse("10.0.0.1", &a));
	assert_int_equal(a, 0x0a000001u);
	assert_true(net_ip_parse("255.255.255.255", &a));
	assert_true(net_ip_parse("0.0.0.0", &a));
	static const char *const bad[] = {"",          "10.0.0",    "10.0.0.256", "10.0.0.1.2",
	                                  "10.0.0.01", " 10.0.0.1", "10.0.0.1 ",  "a.b.c.d",
	                                  "-1.0.0.0",  "10..0.1",   "1234.0.0.1", "10.0.0.1/24"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(net_ip_parse(bad[i], &a));
	assert_false(net_ip_parse(NULL, &a));
	char s[16];
	net_ip_str(0xac180401u, s);
	assert_string_equal(s, "172.24.4.1");
}

static void cidr_parse(void **state)
{
	unsigned a;
	int l;
	assert_true(net_cidr_parse("10.0.1.0/24", &a, &l));
	assert_int_equal(a, 0x0a000100u);
	assert_int_equal(l, 24);
	/* host bits are masked off: the caller compares with the canonical form */
	assert_true(net_cidr_parse("10.0.1.7/24", &a, &l));
	assert_int_equal(a, 0x0a000100u);
	assert_true(net_cidr_parse("0.0.0.0/0", &a, &l));
	assert_int_equal(l, 0);
	static const char *const bad[] = {"10.0.1.0",   "10.0.1.0/33",   "10.0.1.0/",
	                                  "10.0.1.0/a", "10.0.1.0/024",  "/24",
	                                  "banana/24",  "10.0.1.0/24/1", "10.0.1.0/-1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(net_cidr_parse(bad[i], &a, &l));
}

static void overlap(void **state)
{
	unsigned a, b;
	int al, bl;
	assert_true(net_cidr_parse("10.0.0.0/24", &a, &al));
	assert_true(net_cidr_parse("10.0.0.128/25", &b, &bl));
	assert_true(net_cidr_overlap(a, al, b, bl));
	assert_true(net_cidr_overlap(b, bl, a, al));
	assert_true(net_cidr_parse("10.0.1.0/24", &b, &bl));
	assert_false(net_cidr_overlap(a, al, b, bl));
	assert_true(net_cidr_parse("10.0.0.0/8", &b, &bl));
	assert_true(net_cidr_overlap(a, al, b, bl));
	assert_true(net_cidr_parse("0.0.0.0/0", &b, &bl));
	assert_true(net_cidr_overlap(a, al, b, bl));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ip_parse),
	    cmocka_unit_test(cidr_parse),
	    cmocka_unit_test(overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

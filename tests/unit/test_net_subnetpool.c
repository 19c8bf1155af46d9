/* Subnet pools: the pure choice of a free block of a prefix length among a pool's
 * prefixes, skipping (and aligning past) the blocks its subnets already hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/network/network.h"

static struct net_prefix P(const char *cidr) {
	struct net_prefix p;
	assert_true(net_cidr_parse(cidr, &p.addr, &p.len));
	return p;
}

static void
assert_pick(const struct net_prefix *pool, size_t np, const struct net_prefix *used, size_t nu,
            int want, const char *expect)
{
	unsigned a;
	char s[16];
	if (!expect) {
		assert_false(net_pool_pick(pool, np, used, nu, want, &a));
		return;
	}
	assert_true(net_pool_pick(pool, np, used, nu, want, &a));
	net_ip_str(a, s);
	assert_string_equal(s, expect);
}

static void pick_first_free(void **state)
{
	struct net_prefix pool[] = {P("10.10.0.0/16")};
	assert_pick(pool, 1, NULL, 0, 24, "10.10.0.0");
	struct net_prefix used[] = {P("10.10.0.0/24"), P("10.10.1.0/24")};
	assert_pick(pool, 1, used, 2, 24, "10.10.2.0");
	/* a wider block aligns past what is taken */
	assert_pick(pool, 1, used, 2, 22, "10.10.4.0");
	/* a narrow used block inside the first candidate */
	struct net_prefix small[] = {P("10.10.0.64/26")};
	assert_pick(pool, 1, small, 1, 25, "10.10.0.128");
	assert_pick(pool, 1, small, 1, 24, "10.10.1.0");
}

static void pick_bounds(void **state)
{
	struct net_prefix pool[] = {P("10.20.0.0/24"), P("192.168.0.0/23")};
	/* wider than every prefix: nothing */
	assert_pick(pool, 2, NULL, 0, 16, NULL);
	/* wider than the first but not the second */
	assert_pick(pool, 2, NULL, 0, 23, "192.168.0.0");
	/* the first prefix full: the next one */
	struct net_prefix used[] = {P("10.20.0.0/24")};
	assert_pick(pool, 2, used, 1, 26, "192.168.0.0");
	/* all full */
	struct net_prefix all[] = {P("10.20.0.0/24"), P("192.168.0.0/23")};
	assert_pick(pool, 2, all, 2, 28, NULL);
	assert_pick(pool, 2, NULL, 0, 33, NULL);
	/* the top of the address space does not wrap */
	struct net_prefix top[] = {P("255.255.255.0/24")};
	struct net_prefix topused[] = {P("255.255.255.0/25")};
	assert_pick(top, 1, topused, 1, 25, "255.255.255.128");
	struct net_prefix topfull[] = {P("255.255.255.0/24")};
	assert_pick(top, 1, topfull, 1, 25, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pick_first_free),
	    cmocka_unit_test(pick_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

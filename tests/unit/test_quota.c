/* Quota arithmetic: quota_check's verdicts and Nova's over-quota message, defaults and
 * resource names. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/quota.h"

static struct quota_set set(long instances, long cores, long ram)
{
	struct quota_set s;
	memset(&s, 0, sizeof(s));
	s.v[QUOTA_INSTANCES] = instances;
	s.v[QUOTA_CORES] = cores;
	s.v[QUOTA_RAM] = ram;
	return s;
}

static void defaults_and_names(void **state)
{
	struct quota_set d;
	quota_defaults(&d);
	assert_int_equal(d.v[QUOTA_INSTANCES], 10);
	assert_int_equal(d.v[QUOTA_CORES], 20);
	assert_int_equal(d.v[QUOTA_RAM], 51200);
	assert_int_equal(d.v[QUOTA_KEY_PAIRS], 100);
	assert_string_equal(quota_name(QUOTA_INSTANCES), "instances");
	assert_string_equal(quota_name(QUOTA_CORES), "cores");
	assert_string_equal(quota_name(QUOTA_RAM), "ram");
	assert_string_equal(quota_name(QUOTA_KEY_PAIRS), "key_pairs");
	assert_string_equal(quota_name(QUOTA_COUNT), "?");
}

static void fits(void **state)
{
	char msg[256] = "junk";
	struct quota_set lim = set(10, 20, 51200), used = set(0, 0, 0), want = set(1, 1, 512);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	/* exactly reaching every limit still fits */
	used = set(9, 19, 50688);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), 0);
	/* nothing requested: fits even when already over a lowered limit */
	used = set(12, 30, 60000);
	want = set(0, 0, 0);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), 0);
}

static void unlimited(void **state)
{
	char msg[256];
	struct quota_set lim = set(-1, -1, -1), used = set(1000, 5000, 1L << 40);
	struct quota_set want = set(100, 400, 1L << 30);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), 0);
	/* zero means zero, not unlimited */
	lim = set(0, -1, -1);
	want = set(1, 1, 512);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "Quota exceeded for instances: Requested 1, but already used "
	                         "1000 of 0 instances");
}

static void over_one(void **state)
{
	char msg[256];
	struct quota_set lim = set(1, 20, 51200), used = set(1, 1, 512), want = set(1, 1, 512);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(
	    msg, "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances");
	lim = set(10, 3, 51200);
	used = set(1, 2, 512);
	want = set(1, 2, 4096);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg,
	                    "Quota exceeded for cores: Requested 2, but already used 2 of 3 cores");
}

static void over_several(void **state)
{
	char msg[256];
	struct quota_set lim = set(10, 4, 4096), used = set(1, 4, 4096), want = set(1, 2, 2048);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), -EDQUOT);
	/* Nova's TooManyInstances joins each list with ", " in the same order */
	assert_string_equal(msg, "Quota exceeded for cores, ram: Requested 2, 2048, but already "
	                         "used 4, 4096 of 4, 4096 cores, ram");
}

static void overflow_and_bounds(void **state)
{
	char msg[8];
	/* huge requests must not overflow into "fits" */
	struct quota_set lim = set(10, 20, 51200), used = set(5, 5, 5);
	struct quota_set want = set(__LONG_MAX__, 1, 1);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), -EDQUOT);
	/* the message is cut, never overrun */
	assert_int_equal(strlen(msg), sizeof(msg) - 1);
	/* no buffer at all is allowed */
	assert_int_equal(quota_check(&lim, &used, &want, NULL, 0), -EDQUOT);
	want = set(1, 1, 1);
	assert_int_equal(quota_check(&lim, &used, &want, NULL, 0), 0);
	/* negative requests are treated as nothing requested */
	want = set(-3, -1, -1);
	assert_int_equal(quota_check(&lim, &used, &want, msg, sizeof(msg)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_and_names), cmocka_unit_test(fits),
	    cmocka_unit_test(unlimited),          cmocka_unit_test(over_one),
	    cmocka_unit_test(over_several),       cmocka_unit_test(overflow_and_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

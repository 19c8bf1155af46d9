/* os-simple-tenant-usage arithmetic: the overlap of an instance's life with the report
 * window, and the per-tenant totals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include <cmocka.h>

#include "api-server/usage/usage.h"

#define H 3600
static const time_t T0 = 1700000000; /* window start */

static void running_inside_window(void **state)
{
	/* launched 2 h into a 10 h window, still running, now = end */
	assert_float_equal(usage_hours(T0 + 2 * H, 0, T0, T0 + 10 * H, T0 + 10 * H), 8.0, 1e-9);
	/* launched before the window: charged from its start */
	assert_float_equal(usage_hours(T0 - 5 * H, 0, T0, T0 + 10 * H, T0 + 10 * H), 10.0, 1e-9);
}

static void running_not_charged_beyond_now(void **state)
{
	/* the CLI asks up to tomorrow; only the hours until now count */
	assert_float_equal(usage_hours(T0, 0, T0, T0 + 24 * H, T0 + 3 * H), 3.0, 1e-9);
	/* launched "in the future" relative to now (clock skew): nothing */
	assert_float_equal(usage_hours(T0 + 5 * H, 0, T0, T0 + 24 * H, T0 + 3 * H), 0.0, 1e-9);
}

static void terminated(void **state)
{
	time_t end = T0 + 10 * H, now = T0 + 20 * H;
	/* lived 1..4 h into the window */
	assert_float_equal(usage_hours(T0 + 1 * H, T0 + 4 * H, T0, end, now), 3.0, 1e-9);
	/* terminated before the window */
	assert_float_equal(usage_hours(T0 - 5 * H, T0 - 1, T0, end, now), 0.0, 1e-9);
	/* terminated after the window: capped at its end */
	assert_float_equal(usage_hours(T0 + 9 * H, T0 + 15 * H, T0, end, now), 1.0, 1e-9);
	/* half an hour */
	assert_float_equal(usage_hours(T0, T0 + 1800, T0, end, now), 0.5, 1e-9);
}

static void never_launched_or_empty_window(void **state)
{
	assert_float_equal(usage_hours(0, 0, T0, T0 + H, T0 + H), 0.0, 1e-9);
	assert_float_equal(usage_hours(T0, 0, T0 + H, T0 + H, T0 + 2 * H), 0.0, 1e-9);
	assert_float_equal(usage_hours(T0, 0, T0 + H, T0, T0 + 2 * H), 0.0, 1e-9);
	/* launched after the window ended */
	assert_float_equal(usage_hours(T0 + 2 * H, 0, T0, T0 + H, T0 + 3 * H), 0.0, 1e-9);
}

static void totals(void **state)
{
	struct usage_totals t = {0};
	usage_add(&t, 2.0, 1, 512, 1);
	usage_add(&t, 6.0, 2, 4096, 40);
	usage_add(&t, 0.0, 8, 16384, 160); /* listed, charged nothing */
	assert_int_equal(t.servers, 3);
	assert_float_equal(t.hours, 8.0, 1e-9);
	assert_float_equal(t.vcpu_hours, 14.0, 1e-9);
	assert_float_equal(t.memory_mb_hours, 25600.0, 1e-9);
	assert_float_equal(t.local_gb_hours, 242.0, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(running_inside_window),
	    cmocka_unit_test(running_not_charged_beyond_now),
	    cmocka_unit_test(terminated),
	    cmocka_unit_test(never_launched_or_empty_window),
	    cmocka_unit_test(totals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* When the replicator may remove a tombstone (replicator.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "object-store/replicator.h"

#define DAY (24 * 3600L)

static void test_old_tombstone_is_reclaimed(void **state)
{
	time_t now = 1800000000;
	assert_int_equal(
	    replicator_reclaimable((double)(now - 8 * DAY), now - 8 * DAY, now, 7 * DAY), 1);
	assert_int_equal(
	    replicator_reclaimable((double)(now - 7 * DAY), now - 7 * DAY, now, 7 * DAY), 1);
}

static void test_young_tombstone_is_kept(void **state)
{
	time_t now = 1800000000;
	assert_int_equal(replicator_reclaimable((double)(now - 60), now - 60, now, 7 * DAY), 0);
	assert_int_equal(
	    replicator_reclaimable((double)(now - 7 * DAY + 1), now - 8 * DAY, now, 7 * DAY), 0);
}

/* An expirer's tombstone of an object stored 30 days ago carries a timestamp just after
 * that version's: it was written today, so it stays for the reclaim age. */
static void test_expiry_tombstone_of_old_object_is_kept(void **state)
{
	time_t now = 1800000000;
	double ts = (double)(now - 30 * DAY) + 0.00001;
	assert_int_equal(replicator_reclaimable(ts, now - 5, now, 7 * DAY), 0);
	assert_int_equal(replicator_reclaimable(ts, now - 6 * DAY, now, 7 * DAY), 0);
	assert_int_equal(replicator_reclaimable(ts, now - 7 * DAY, now, 7 * DAY), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_old_tombstone_is_reclaimed),
	    cmocka_unit_test(test_young_tombstone_is_kept),
	    cmocka_unit_test(test_expiry_tombstone_of_old_object_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

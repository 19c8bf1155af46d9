/* When the replicator may remove a tombstone, and the auditor's rate bound (replicator.h). */
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

/* The auditor's rate bound: many small objects add up to pauses (each one's pause
 * alone rounded down to none, so a pass over small objects never slept), a large
 * object is paid in full (the pause was capped at 1 s), nothing is lost to rounding. */
static void test_audit_pause_adds_up(void **state)
{
	long rate = 10L << 20, owed = 0, total = 0;
	for (int i = 0; i < 1280; i++) /* 1280 files of 4 KiB: 12 KiB each with the header */
		total += replicator_audit_pause_ms(&owed, 4096, rate);
	assert_int_equal(total, 1500); /* 15 MiB at 10 MiB/s */
	owed = 0;
	assert_int_equal(replicator_audit_pause_ms(&owed, (64L << 20) - 8192, rate), 6400);
	assert_int_equal(owed, 0);
	owed = 0;
	total = 0;
	for (int i = 0; i < 3; i++) /* a rate no second divides evenly */
		total += replicator_audit_pause_ms(&owed, 1000 - 8192, 3000);
	assert_int_equal(total, 1000);
	assert_int_equal(owed, 0);
}

/* review s12 n6: a large object's pause is paid in slices, none longer than
 * REPLICATOR_AUDIT_SLICE_MS, that add up to exactly the pause owed (the rate bound
 * holds); 5 GiB at 10 MiB/s owed one 512 s wait before. */
static void test_audit_pause_is_paid_in_bounded_slices(void **state)
{
	long rate = 10L << 20, owed = 0;
	long ms = replicator_audit_pause_ms(&owed, (5L << 30) - 8192, rate);
	assert_int_equal(ms, 512000);
	long left = ms, paid = 0, slices = 0, s;
	while ((s = replicator_audit_slice_ms(&left)) > 0) {
		assert_true(s <= REPLICATOR_AUDIT_SLICE_MS);
		paid += s;
		slices++;
	}
	assert_int_equal(paid, ms);
	assert_int_equal(left, 0);
	assert_int_equal(slices, 512000 / REPLICATOR_AUDIT_SLICE_MS);
	/* a pause shorter than a slice is one wait; none is none */
	left = 7;
	assert_int_equal(replicator_audit_slice_ms(&left), 7);
	assert_int_equal(replicator_audit_slice_ms(&left), 0);
	left = REPLICATOR_AUDIT_SLICE_MS + 1;
	assert_int_equal(replicator_audit_slice_ms(&left), REPLICATOR_AUDIT_SLICE_MS);
	assert_int_equal(replicator_audit_slice_ms(&left), 1);
	assert_int_equal(left, 0);
}

/* A full pass counts as done only when every partition rehashed: one whose rehash
 * failed (a listing error, a cache that could not be written) is retried in full by
 * the next pass instead of waiting an hour. A stopped pass does not count either, and
 * a pass that was not full changes nothing. Review s13 L2. */
static void test_full_pass_with_failures_is_not_done(void **state)
{
	assert_int_equal(replicator_full_done(0, 5000, 1, 0, 0), 5000);
	assert_int_equal(replicator_full_done(0, 5000, 1, 0, 1), 0);
	assert_int_equal(replicator_full_done(1000, 5000, 1, 0, 3), 1000);
	assert_int_equal(replicator_full_done(1000, 5000, 1, 1, 0), 1000);
	assert_int_equal(replicator_full_done(1000, 5000, 0, 0, 0), 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_old_tombstone_is_reclaimed),
	    cmocka_unit_test(test_young_tombstone_is_kept),
	    cmocka_unit_test(test_expiry_tombstone_of_old_object_is_kept),
	    cmocka_unit_test(test_audit_pause_adds_up),
	    cmocka_unit_test(test_audit_pause_is_paid_in_bounded_slices),
	    cmocka_unit_test(test_full_pass_with_failures_is_not_done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

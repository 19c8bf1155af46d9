/* Object expiry's pure parts: the tombstone's timestamp one step after the expiring
 * version (so a later overwrite always wins), X-Delete-At values, the expirer's pacing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/expirer.h"
#include "object-store/store.h"

static void next_ok(const char *ts, const char *want)
{
	char out[STORE_TS_LEN];
	assert_int_equal(store_ts_next(ts, out), 0);
	assert_string_equal(out, want);
	assert_true(strcmp(out, ts) > 0); /* string order is time order */
}

static void ts_next_steps_ten_microseconds(void **state)
{
	next_ok("1700000000.12345", "1700000000.12346");
	next_ok("1700000000.99999", "1700000001.00000");
	next_ok("1699999999.99999", "1700000000.00000");
	next_ok("0000000000.00000", "0000000000.00001");
	/* the next version store_ts_now can give is never older than the tombstone */
	char now[STORE_TS_LEN], after[STORE_TS_LEN];
	store_ts_now(now);
	assert_int_equal(store_ts_next(now, after), 0);
	char later[STORE_TS_LEN];
	store_ts_now(later);
	assert_true(strcmp(later, after) >= 0);
}

static void ts_next_refuses_what_is_not_a_timestamp(void **state)
{
	char out[STORE_TS_LEN];
	const char *bad[] = {NULL,
	                     "",
	                     "1700000000",
	                     "1700000000.1234",
	                     "1700000000.123456",
	                     "170000000a.12345",
	                     "1700000000,12345",
	                     "-700000000.12345",
	                     "1700000000.1234 ",
	                     "9999999999.99999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(store_ts_next(bad[i], out), -1);
}

static void delete_at_parses_decimal_seconds_only(void **state)
{
	assert_int_equal(store_delete_at_parse("1700000000"), 1700000000);
	assert_int_equal(store_delete_at_parse("1"), 1);
	assert_int_equal(store_delete_at_parse(""), 0);
	assert_int_equal(store_delete_at_parse(NULL), 0);
	assert_int_equal(store_delete_at_parse("-5"), 0);
	assert_int_equal(store_delete_at_parse("+5"), 0);
	assert_int_equal(store_delete_at_parse(" 5"), 0);
	assert_int_equal(store_delete_at_parse("17e9"), 0);
	assert_int_equal(store_delete_at_parse("1700000000.5"), 0);
	assert_int_equal(store_delete_at_parse("99999999999999999999999"), 0); /* overflow */
}

static void pace_keeps_the_rate(void **state)
{
	/* 100 a second: the 50th delete is due at 0.5 s */
	assert_int_equal(expirer_pace_us(50, 100, 0), 500000);
	assert_int_equal(expirer_pace_us(50, 100, 400000), 100000);
	assert_int_equal(expirer_pace_us(50, 100, 600000), 0); /* behind: no pause */
	assert_int_equal(expirer_pace_us(0, 100, 0), 0);       /* the first goes at once */
	assert_int_equal(expirer_pace_us(3, 1, 0), 3000000);
	assert_int_equal(expirer_pace_us(3, 0, 0), 3000000); /* a rate below 1 counts as 1 */
	/* no overflow with large counts */
	assert_true(expirer_pace_us(1000000000L, 1, 0) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ts_next_steps_ten_microseconds),
	    cmocka_unit_test(ts_next_refuses_what_is_not_a_timestamp),
	    cmocka_unit_test(delete_at_parses_decimal_seconds_only),
	    cmocka_unit_test(pace_keeps_the_rate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

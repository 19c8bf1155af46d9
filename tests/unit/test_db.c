/* The DBQ/DBX wrappers pass the caller's error buffer size through unchanged: a
 * pointer to a buffer keeps the whole message (the old macro took sizeof(err) and
 * cut it to 7 bytes). Uses a connection that never reached a server. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "db.h"

static void error_through_pointer_keeps_message(void **state)
{
	PGconn *c = PQconnectdb("host=/nonexistent-nubo-test port=1 connect_timeout=1");
	assert_non_null(c);
	char buf[256];
	char *err = buf;
	buf[0] = 0;
	assert_null(DBQ(c, err, sizeof buf, "SELECT $1::int", "1"));
	assert_true(strlen(err) > 7);
	buf[0] = 0;
	assert_int_equal(DBX(c, err, sizeof buf, "SELECT 1"), -EIO);
	assert_true(strlen(err) > 7);
	/* a prepared statement on a dead connection reports through the same buffer */
	static const struct db_stmt st = {"test_stmt", "SELECT $1::int"};
	buf[0] = 0;
	assert_null(DBQS(c, err, sizeof buf, &st, "1"));
	assert_true(strlen(err) > 7);
	char small[4] = "xyz";
	assert_null(DBQ(c, small, sizeof small, "SELECT 1"));
	assert_int_equal(strlen(small), 3); /* bounded by the size given */
	PQfinish(c);
}

/* A pool with every connection busy (here: none at all) answers NULL once the wait is
 * over instead of blocking the request thread for ever. */
static void acquire_wait_is_bounded(void **state)
{
	char err[64];
	struct db_pool *p = db_pool_new("host=/nonexistent-nubo-test", 0, err, sizeof err);
	assert_non_null(p);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(db_acquire_timed(p, 50));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 40 && ms < 2000);
	db_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(error_through_pointer_keeps_message),
	    cmocka_unit_test(acquire_wait_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Pure parts of the Image v2 API: the Range header of downloads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>

#include "api-server/image/image.h"

static void range_single(void **state)
{
	static const struct {
		const char *h;
		uint64_t size;
		int rc;
		uint64_t start, len;
	} rows[] = {
	    {"bytes=0-9", 100, 1, 0, 10},
	    {"bytes=10-", 100, 1, 10, 90},
	    {"bytes=-5", 100, 1, 95, 5},
	    {"bytes=-500", 100, 1, 0, 100},    /* suffix longer than the body: all of it */
	    {"bytes=90-1000", 100, 1, 90, 10}, /* end clamped */
	    {"bytes=99-99", 100, 1, 99, 1},
	    {"BYTES=1-2", 100, 1, 1, 2},
	    {"bytes=100-", 100, -ERANGE, 0, 0}, /* starts at the end */
	    {"bytes=200-300", 100, -ERANGE, 0, 0},
	    {"bytes=-0", 100, -ERANGE, 0, 0},
	    {"bytes=0-", 0, -ERANGE, 0, 0},
	    {NULL, 100, 0, 0, 0},
	    {"", 100, 0, 0, 0},
	    {"items=0-9", 100, 0, 0, 0},
	    {"bytes=0-1,5-6", 100, 0, 0, 0}, /* several ranges: whole body */
	    {"bytes=9-0", 100, 0, 0, 0},     /* last before first: invalid, ignored */
	    {"bytes=a-b", 100, 0, 0, 0},
	    {"bytes= 1-2", 100, 0, 0, 0},
	    {"bytes=1-2x", 100, 0, 0, 0},
	    {"bytes=-", 100, 0, 0, 0},
	    {"bytes=-+5", 100, 0, 0, 0},
	    {"bytes=+1-2", 100, 0, 0, 0},
	    {"bytes=99999999999999999999999-", 100, 0, 0, 0}, /* overflow */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t start = 7777, len = 7777;
		int rc = image_range_parse(rows[i].h, rows[i].size, &start, &len);
		if (rc != rows[i].rc)
			print_error("row %zu (%s): rc %d\n", i, rows[i].h ? rows[i].h : "NULL", rc);
		assert_int_equal(rc, rows[i].rc);
		if (rc == 1) {
			assert_int_equal(start, rows[i].start);
			assert_int_equal(len, rows[i].len);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(range_single),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

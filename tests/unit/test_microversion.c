/* Compute microversion negotiation: header precedence, "latest", Nova's 400 for a
 * malformed version and 406 outside the served range. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/microversion.h"

static int parse(const char *h, const char *legacy, int *minor, char *msg)
{
	*minor = -1;
	return microversion_parse(h, legacy, minor, msg, 256);
}

static void defaults_and_latest(void **state)
{
	char msg[256];
	int m;
	assert_int_equal(parse(NULL, NULL, &m, msg), 0);
	assert_int_equal(m, 1);
	assert_int_equal(parse("compute latest", NULL, &m, msg), 0);
	assert_int_equal(m, MICROVERSION_MAX);
	assert_int_equal(parse(NULL, "latest", &m, msg), 0);
	assert_int_equal(m, MICROVERSION_MAX);
	assert_int_equal(parse(NULL, "2.1", &m, msg), 0);
	assert_int_equal(m, 1);
	/* another service's entry only: the legacy header (or 2.1) decides */
	assert_int_equal(parse("identity 3.0", NULL, &m, msg), 0);
	assert_int_equal(m, 1);
	assert_int_equal(parse("identity 3.0", "2.1", &m, msg), 0);
	assert_int_equal(m, 1);
}

static void new_header_wins(void **state)
{
	char msg[256];
	int m;
	char max[32];
	snprintf(max, sizeof(max), "COMPUTE  %s ", MICROVERSION_MAX_STR);
	/* the new header is taken over the legacy one, its service name in any case */
	assert_int_equal(parse(max, "2.1", &m, msg), 0);
	assert_int_equal(m, MICROVERSION_MAX);
	snprintf(max, sizeof(max), "identity 3.7, compute %s", MICROVERSION_MAX_STR);
	assert_int_equal(parse(max, NULL, &m, msg), 0);
	assert_int_equal(m, MICROVERSION_MAX);
	assert_int_equal(parse("compute 2.1", "9.9", &m, msg), 0);
	assert_int_equal(m, 1);
}

static void malformed_is_400(void **state)
{
	static const char *const bad[] = {"2",   "2.",  ".1", "2.01", "02.1", "0.1",   "2.1a",
	                                  "abc", "2.x", "",   "2..1", "-2.1", "2.1.0", "1234567.1"};
	char msg[256];
	int m;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(NULL, bad[i], &m, msg), -EINVAL);
		assert_non_null(strstr(msg, "is of invalid format. Must be of format "
		                            "MajorNum.MinorNum."));
	}
	assert_int_equal(parse("compute 2.1x", NULL, &m, msg), -EINVAL);
	assert_string_equal(msg, "API Version String (not shown) is of invalid format. Must be "
	                         "of format MajorNum.MinorNum.");
	assert_int_equal(parse("compute 2.01", NULL, &m, msg), -EINVAL);
	assert_string_equal(msg, "API Version String 2.01 is of invalid format. Must be of "
	                         "format MajorNum.MinorNum.");
}

static void out_of_range_is_406(void **state)
{
	char msg[256], want[256], above[32];
	int m;
	assert_int_equal(parse(NULL, "2.0", &m, msg), -ERANGE);
	snprintf(want, sizeof(want),
	         "Version 2.0 is not supported by the API. Minimum is 2.1 and maximum is %s.",
	         MICROVERSION_MAX_STR);
	assert_string_equal(msg, want);
	snprintf(above, sizeof(above), "compute 2.%d", MICROVERSION_MAX + 1);
	assert_int_equal(parse(above, NULL, &m, msg), -ERANGE);
	assert_int_equal(parse(NULL, "3.0", &m, msg), -ERANGE);
	assert_int_equal(parse(NULL, "1.1", &m, msg), -ERANGE);
	assert_int_equal(m, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_and_latest),
	    cmocka_unit_test(new_header_wins),
	    cmocka_unit_test(malformed_is_400),
	    cmocka_unit_test(out_of_range_is_406),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

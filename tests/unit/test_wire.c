/* Request-edge helpers: boolean query flags and name/charset checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/wire.h"

static void bools(void **state)
{
	assert_int_equal(wire_bool(NULL), -1);
	assert_int_equal(wire_bool("True"), 1);
	assert_int_equal(wire_bool("true"), 1);
	assert_int_equal(wire_bool("1"), 1);
	assert_int_equal(wire_bool("yes"), 1);
	assert_int_equal(wire_bool("False"), 0);
	assert_int_equal(wire_bool("0"), 0);
	assert_int_equal(wire_bool("off"), 0);
	assert_int_equal(wire_bool(""), -EINVAL);
	assert_int_equal(wire_bool("None"), -EINVAL);
	assert_int_equal(wire_bool("truex"), -EINVAL);
}

static void names(void **state)
{
	assert_true(wire_name_ok("p1", 64));
	assert_true(wire_name_ok("a name with spaces", 64));
	assert_true(wire_name_ok("caf\xc3\xa9", 64)); /* UTF-8 is fine */
	assert_false(wire_name_ok("", 64));
	assert_false(wire_name_ok(NULL, 64));
	assert_false(wire_name_ok(" x", 64));
	assert_false(wire_name_ok("x ", 64));
	assert_false(wire_name_ok("a\tb", 64));
	assert_false(wire_name_ok("a\x7f", 64));
	assert_false(wire_name_ok("abcde", 4));
	assert_true(wire_name_ok("abcd", 4));
}

static void charsets(void **state)
{
	assert_true(wire_charset_ok("m1.tiny", 255, "._-"));
	assert_false(wire_charset_ok("m1/tiny", 255, "._-"));
	assert_false(wire_charset_ok("", 255, "._-"));
	assert_false(wire_charset_ok("abc", 2, NULL));
	assert_true(wire_charset_ok("abc", 3, NULL));
	assert_false(wire_charset_ok("a b", 3, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bools),
	    cmocka_unit_test(names),
	    cmocka_unit_test(charsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

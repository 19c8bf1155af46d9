/* Request-edge helpers: boolean query flags, name/charset checks, wrapped bodies, next-page
 * query strings and Compute links. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
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

static void nonnegs(void **state)
{
	assert_int_equal(wire_nonneg(NULL), -1);
	assert_int_equal(wire_nonneg("0"), 0);
	assert_int_equal(wire_nonneg("25"), 25);
	assert_int_equal(wire_nonneg(""), -EINVAL);
	assert_int_equal(wire_nonneg("-1"), -EINVAL);
	assert_int_equal(wire_nonneg("5x"), -EINVAL);
	assert_int_equal(wire_nonneg("99999999999999999999999"), -EINVAL);
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

struct thing {
	char *name;
	long size;
};

static const struct jfield f_thing[] = {
    {"name", J_STR, JF(struct thing, name), 0, 8, 1, 0},
    {"size", J_INT, JF(struct thing, size), 0, 10, 0, 1},
};

static void unwrap(void **state)
{
	char err[256];
	struct thing t = {0};
	json_t *body = json_loads("{\"thing\": {\"name\": \"a\", \"size\": 3}}", 0, NULL);
	const json_t *inner =
	    wire_unwrap(body, "thing", f_thing, JCOUNT(f_thing), &t, err, sizeof(err));
	assert_ptr_equal(inner, json_object_get(body, "thing"));
	assert_string_equal(t.name, "a");
	assert_int_equal(t.size, 3);
	jparse_release(f_thing, JCOUNT(f_thing), &t);
	/* only unwrapping */
	assert_ptr_equal(wire_unwrap(body, "thing", NULL, 0, NULL, err, sizeof(err)), inner);
	json_decref(body);

	assert_null(wire_unwrap(NULL, "thing", f_thing, JCOUNT(f_thing), &t, err, sizeof(err)));
	assert_string_equal(err, "request body required");
	body = json_loads("{\"other\": {}}", 0, NULL);
	assert_null(wire_unwrap(body, "thing", f_thing, JCOUNT(f_thing), &t, err, sizeof(err)));
	assert_string_equal(err, "thing: is required");
	json_decref(body);
	body = json_loads("{\"thing\": {\"name\": \"too long a name\"}}", 0, NULL);
	assert_null(wire_unwrap(body, "thing", f_thing, JCOUNT(f_thing), &t, err, sizeof(err)));
	assert_string_equal(err, "name: must be a string of at most 8 bytes");
	assert_null(t.name);
	json_decref(body);
}

static void query_append(void **state)
{
	char *q = wire_query_append(NULL, "name", "vm-1.a_b~");
	assert_string_equal(q, "&name=vm-1.a_b~");
	q = wire_query_append(q, "status", "a b&c=d/\xc3\xa9");
	assert_string_equal(q, "&name=vm-1.a_b~&status=a%20b%26c%3Dd%2F%C3%A9");
	q = wire_query_append(q, "empty", "");
	assert_string_equal(q, "&name=vm-1.a_b~&status=a%20b%26c%3Dd%2F%C3%A9&empty=");
	free(q);
}

static void links(void **state)
{
	json_t *l = wire_compute_links("http://cloud:8080", "flavors", "m1");
	char *text = json_dumps(l, JSON_COMPACT);
	assert_string_equal(text, "[{\"rel\":\"self\",\"href\":\"http://cloud:8080/compute/v2.1/"
	                          "flavors/m1\"},{\"rel\":\"bookmark\",\"href\":"
	                          "\"http://cloud:8080/compute/flavors/m1\"}]");
	free(text);
	json_decref(l);
	json_t *s = wire_string_or_null("x"), *n = wire_string_or_null(NULL);
	assert_string_equal(json_string_value(s), "x");
	assert_true(json_is_null(n));
	json_decref(s);
	json_decref(n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bools),    cmocka_unit_test(nonnegs), cmocka_unit_test(names),
	    cmocka_unit_test(charsets), cmocka_unit_test(unwrap),  cmocka_unit_test(query_append),
	    cmocka_unit_test(links),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

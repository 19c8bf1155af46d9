/* The streaming JSON writer: separators, nesting, escaping as jansson does, strings
 * that are not UTF-8, and the bytes it writes parse back to what was meant. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jsonw.h"

static void structure(void **state)
{
	struct jsonw w;
	jsonw_init(&w, 1);
	jsonw_obj_begin(&w);
	jsonw_key(&w, "a");
	jsonw_arr_begin(&w);
	jsonw_int(&w, -1);
	jsonw_null(&w);
	jsonw_bool(&w, 0);
	jsonw_obj_begin(&w);
	jsonw_obj_end(&w);
	jsonw_raw(&w, "{\"x\": 1}", 8);
	jsonw_str_or_null(&w, NULL);
	jsonw_str(&w, NULL);
	jsonw_arr_end(&w);
	jsonw_key(&w, "b");
	jsonw_str(&w, "c");
	jsonw_obj_end(&w);
	assert_string_equal(w.buf, "{\"a\":[-1,null,false,{},{\"x\": 1},null,\"\"],\"b\":\"c\"}");
	size_t n;
	char *s = jsonw_detach(&w, &n);
	assert_int_equal(n, strlen(s));
	assert_null(w.buf);
	free(s);
	jsonw_release(&w);
}

static void escapes(void **state)
{
	struct jsonw w;
	jsonw_init(&w, 0);
	jsonw_str(&w, "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9");
	/* jansson's bytes: upper-case \u00XX, '/' and DEL and UTF-8 as they are */
	assert_string_equal(w.buf, "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001F\x7f\xc3\xa9\"");
	jsonw_release(&w);
}

static void not_utf8(void **state)
{
	static const char *bad[] = {
	    "\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\xaf"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(jsonw_utf8_valid(bad[i], strlen(bad[i])));
		assert_null(json_string(bad[i])); /* the oracle agrees */
		struct jsonw w;
		jsonw_init(&w, 0);
		jsonw_str(&w, bad[i]);
		assert_string_equal(w.buf, "\"\"");
		jsonw_release(&w);
	}
	assert_true(jsonw_utf8_valid("\xf0\x9f\x98\x80\xef\xbf\xbf", 7));
	assert_false(jsonw_utf8_valid("a\0b", 3));
}

static void long_output_grows(void **state)
{
	struct jsonw w;
	jsonw_init(&w, 4);
	jsonw_arr_begin(&w);
	for (int i = 0; i < 10000; i++)
		jsonw_str(&w, "0123456789");
	jsonw_arr_end(&w);
	json_t *j = json_loadb(w.buf, w.len, 0, NULL);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 10000);
	json_decref(j);
	jsonw_release(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(structure), cmocka_unit_test(escapes),
	                                   cmocka_unit_test(not_utf8),
	                                   cmocka_unit_test(long_output_grows)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

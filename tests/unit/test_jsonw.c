/* The streaming JSON writer: separators, nesting, escaping as jansson does, strings
 * that are not UTF-8, and the bytes it writes parse back to what was meant. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
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

/* Plain keys, values and pieces write what jsonw_key()/jsonw_str() would, without
 * the scan; jsonw_is_plain() tells which text qualifies. */
static void plain(void **state)
{
	struct jsonw w;
	jsonw_init(&w, 1);
	jsonw_obj_begin(&w);
	JSONW_KEY(&w, "id");
	JSONW_PLAIN(&w, "0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b");
	jsonw_key_plain(&w, "href", 4);
	jsonw_plain_begin(&w);
	JSONW_PLAIN_ADD(&w, "http://h/");
	jsonw_plain_add(&w, "a/b", 3);
	jsonw_plain_end(&w);
	JSONW_KEY(&w, "l");
	jsonw_arr_begin(&w);
	jsonw_plain(&w, "", 0);
	JSONW_PLAIN(&w, "x");
	jsonw_plain_begin(&w);
	jsonw_plain_end(&w);
	jsonw_arr_end(&w);
	jsonw_obj_end(&w);
	assert_string_equal(w.buf, "{\"id\":\"0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b\","
	                           "\"href\":\"http://h/a/b\",\"l\":[\"\",\"x\",\"\"]}");
	jsonw_release(&w);

	assert_true(jsonw_is_plain("", 0));
	assert_true(jsonw_is_plain(" azAZ09-:./~!'{}", 16));
	static const char *const not_plain[] = {"a\"", "a\\", "\x1f", "\x7f", "\xc3\xa9", "\t"};
	for (size_t i = 0; i < sizeof(not_plain) / sizeof(not_plain[0]); i++)
		assert_false(jsonw_is_plain(not_plain[i], strlen(not_plain[i])));
	assert_false(jsonw_is_plain("a\0b", 3));
	/* every plain byte is written unchanged by the escaping path too */
	for (int c = 0; c < 256; c++) {
		char b[2] = {(char)c, 0};
		if (!c || !jsonw_is_plain(b, 1))
			continue;
		jsonw_init(&w, 0);
		jsonw_str(&w, b);
		assert_int_equal(w.len, 3);
		assert_int_equal((unsigned char)w.buf[1], c);
		jsonw_release(&w);
	}
}

/* Integers without snprintf: the extremes and zero as printf writes them. */
static void integers(void **state)
{
	static const long long v[] = {0,
	                              1,
	                              -1,
	                              9,
	                              10,
	                              -10,
	                              100,
	                              123456789012345LL,
	                              9223372036854775807LL,
	                              -9223372036854775807LL - 1};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char want[32];
		snprintf(want, sizeof(want), "%lld", v[i]);
		struct jsonw w;
		jsonw_init(&w, 0);
		jsonw_int(&w, v[i]);
		assert_string_equal(w.buf, want);
		jsonw_release(&w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(structure), cmocka_unit_test(escapes),
	    cmocka_unit_test(not_utf8),  cmocka_unit_test(long_output_grows),
	    cmocka_unit_test(plain),     cmocka_unit_test(integers)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

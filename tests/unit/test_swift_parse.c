/* Swift front end and store pure parts: path splitting with hostile input, metadata
 * names, listing roll-up, names, byte ranges, listing rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdint.h>

#include "object-store/objfile.h"
#include "object-store/objserver.h"
#include "object-store/store_impl.h"
#include "object-store/swift.h"

static void parse_ok(const char *raw, const char *a, const char *c, const char *o)
{
	char *pa, *pc, *po;
	assert_int_equal(swift_path_parse(raw, &pa, &pc, &po), 0);
	assert_string_equal(pa, a);
	if (c)
		assert_string_equal(pc, c);
	else
		assert_null(pc);
	if (o)
		assert_string_equal(po, o);
	else
		assert_null(po);
	free(pa);
	free(pc);
	free(po);
}

static void test_path_parse(void **state)
{
	parse_ok("/v1/AUTH_p", "AUTH_p", NULL, NULL);
	parse_ok("/v1/AUTH_p/", "AUTH_p", NULL, NULL);
	parse_ok("/v1/AUTH_p/c", "AUTH_p", "c", NULL);
	parse_ok("/v1/AUTH_p/c/", "AUTH_p", "c", NULL);
	parse_ok("/v1/AUTH_p/c/o", "AUTH_p", "c", "o");
	parse_ok("/v1/AUTH_p/c/a/b/", "AUTH_p", "c", "a/b/");
	parse_ok("/v1/AUTH_p/c//x", "AUTH_p", "c", "/x"); /* never collapsed */
	parse_ok("/v1/AUTH_p/my%20c/%E2%9C%93%2Fz", "AUTH_p", "my c", "\xe2\x9c\x93/z");
	parse_ok("/v1/AUTH_p/c/a+b", "AUTH_p", "c", "a+b"); /* '+' is not a space in paths */
}

static void test_path_hostile(void **state)
{
	static const char *bad[] = {
	    "",
	    "/",
	    "/v1",
	    "/v1/",
	    "/v2/AUTH_p",
	    "/v1//c",
	    "/v1/AUTH_p//o",
	    "/v1/AUTH_p/c/a%00b",
	    "/v1/AUTH_p/c/%zz",
	    "/v1/AUTH_p/c/%4",
	    "/v1/AUTH_p/%00/o",
	    "/v1/%/c",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *a = (char *)1, *c = (char *)1, *o = (char *)1;
		if (swift_path_parse(bad[i], &a, &c, &o) == 0)
			fail_msg("accepted %s", bad[i]);
		assert_null(a);
		assert_null(c);
		assert_null(o);
	}
}

static void test_names(void **state)
{
	assert_true(store_account_name_ok("AUTH_0123-abc_d"));
	assert_false(store_account_name_ok("AUTH_"));
	assert_false(store_account_name_ok("AUTH_a/b"));
	assert_false(store_account_name_ok("auth_a"));
	assert_true(store_container_name_ok("photos \xc3\xa9"));
	assert_false(store_container_name_ok("a/b"));
	assert_false(store_container_name_ok(""));
	assert_false(store_container_name_ok("\xff"));
	assert_false(store_container_name_ok("\xc0\xaf"));     /* overlong '/' */
	assert_false(store_container_name_ok("\xed\xa0\x80")); /* a surrogate */
	char big[1100];
	memset(big, 'x', sizeof(big));
	big[1024] = '\0';
	assert_true(store_object_name_ok(big));
	big[1024] = 'x';
	big[1025] = '\0';
	assert_false(store_object_name_ok(big));
	big[257] = '\0';
	assert_false(store_container_name_ok(big));
}

static void test_meta_name(void **state)
{
	char out[64];
	swift_meta_name("x-object-meta-color", out, sizeof(out));
	assert_string_equal(out, "X-Object-Meta-Color");
	swift_meta_name("X-OBJECT-META-TWO-WORDS", out, sizeof(out));
	assert_string_equal(out, "X-Object-Meta-Two-Words");
}

static int classify(const char *prefix, const char *delim, const char *marker, const char *end,
                    const char *name, char *sub)
{
	struct store_list_query q = {prefix, delim, marker, end, 0};
	return store_list_classify(&q, name, sub, 64);
}

static void test_list_classify(void **state)
{
	char sub[64];
	assert_int_equal(classify(NULL, NULL, NULL, NULL, "a", sub), 1);
	assert_int_equal(classify(NULL, "/", NULL, NULL, "a/b", sub), 2);
	assert_string_equal(sub, "a/");
	assert_int_equal(classify("a/", "/", NULL, NULL, "a/b", sub), 1);
	assert_int_equal(classify("a/", "/", NULL, NULL, "a/b/c", sub), 2);
	assert_string_equal(sub, "a/b/");
	assert_int_equal(classify("b", NULL, NULL, NULL, "a", sub), 0);
	assert_int_equal(classify("b", NULL, NULL, NULL, "c", sub), 3);
	assert_int_equal(classify(NULL, NULL, "m", NULL, "m", sub), 0);
	assert_int_equal(classify(NULL, NULL, "m", NULL, "n", sub), 1);
	assert_int_equal(classify(NULL, NULL, NULL, "m", "m", sub), 3);
	assert_int_equal(classify(NULL, NULL, NULL, "m", "l", sub), 1);
}

static int classify_rev(const char *prefix, const char *delim, const char *marker, const char *end,
                        const char *name, char *sub)
{
	struct store_list_query q = {prefix, delim, marker, end, 0, 1};
	return store_list_classify(&q, name, sub, 64);
}

/* reverse=true (review finding 12): names come downward; the marker is the upper bound,
 * the end_marker the lower one, and a name below the prefix ends the listing */
static void test_list_classify_reverse(void **state)
{
	char sub[64];
	assert_int_equal(classify_rev(NULL, NULL, NULL, NULL, "a", sub), 1);
	assert_int_equal(classify_rev(NULL, NULL, "m", NULL, "m", sub), 0);
	assert_int_equal(classify_rev(NULL, NULL, "m", NULL, "n", sub), 0);
	assert_int_equal(classify_rev(NULL, NULL, "m", NULL, "l", sub), 1);
	assert_int_equal(classify_rev(NULL, NULL, NULL, "m", "m", sub), 3);
	assert_int_equal(classify_rev(NULL, NULL, NULL, "m", "l", sub), 3);
	assert_int_equal(classify_rev(NULL, NULL, NULL, "m", "n", sub), 1);
	assert_int_equal(classify_rev("b", NULL, NULL, NULL, "c", sub), 0);
	assert_int_equal(classify_rev("b", NULL, NULL, NULL, "a", sub), 3);
	assert_int_equal(classify_rev("b", NULL, NULL, NULL, "b1", sub), 1);
	assert_int_equal(classify_rev(NULL, "/", NULL, NULL, "a/b", sub), 2);
	assert_string_equal(sub, "a/");
}

static void test_range(void **state)
{
	uint64_t off, len;
	assert_int_equal(objserver_range("bytes=10-19", 100, &off, &len), 1);
	assert_true(off == 10 && len == 10);
	assert_int_equal(objserver_range("bytes=90-", 100, &off, &len), 1);
	assert_true(off == 90 && len == 10);
	assert_int_equal(objserver_range("bytes=-5", 100, &off, &len), 1);
	assert_true(off == 95 && len == 5);
	assert_int_equal(objserver_range("bytes=-500", 100, &off, &len), 1);
	assert_true(off == 0 && len == 100);
	assert_int_equal(objserver_range("bytes=50-5000", 100, &off, &len), 1);
	assert_true(off == 50 && len == 50);
	assert_int_equal(objserver_range("bytes=100-", 100, &off, &len), 0);
	assert_int_equal(objserver_range("bytes=-0", 100, &off, &len), 0);
	assert_int_equal(objserver_range("bytes=5-1", 100, &off, &len), -1);
	assert_int_equal(objserver_range("bytes=1-2,5-6", 100, &off, &len), -1);
	assert_int_equal(objserver_range("items=1-2", 100, &off, &len), -1);
	assert_int_equal(objserver_range("bytes=x-2", 100, &off, &len), -1);
	assert_int_equal(objserver_range(NULL, 100, &off, &len), -1);
}

static void test_ts(void **state)
{
	char ts[STORE_TS_LEN], ts2[STORE_TS_LEN];
	store_ts_now(ts);
	store_ts_now(ts2);
	assert_true(objfile_ts_valid(ts));
	assert_true(strcmp(ts2, ts) > 0); /* strictly increasing */
	store_ts_format(1700000000.5, ts);
	assert_string_equal(ts, "1700000000.50000");
	assert_false(objfile_ts_valid("1700000000.5"));
	assert_false(objfile_ts_valid("170000000a.50000"));
}

static void test_listing_render(void **state)
{
	struct store_entry e[2] = {
	    {.name = "a<b",
	     .bytes = 3,
	     .etag = "e",
	     .timestamp = "1700000000.00000",
	     .content_type = "text/plain"},
	    {.name = "d/", .subdir = 1},
	};
	struct store_list l = {e, 2, 0};
	size_t n;
	char *s = swift_listing(&l, "json", 'c', "c", &n);
	assert_string_equal(s, "[{\"name\":\"a<b\",\"hash\":\"e\",\"bytes\":3,\"content_type\":"
	                       "\"text/plain\",\"last_modified\":\"2023-11-14T22:13:20.000000\"},"
	                       "{\"subdir\":\"d/\"}]");
	free(s);
	s = swift_listing(&l, "plain", 'c', "c", &n);
	assert_string_equal(s, "a<b\nd/\n");
	free(s);
	s = swift_listing(&l, "xml", 'c', "c&", &n);
	assert_non_null(strstr(s, "<container name=\"c&amp;\"><object><name>a&lt;b</name>"));
	assert_non_null(strstr(s, "<subdir name=\"d/\"><name>d/</name></subdir>"));
	free(s);
}

static void succ_is(const char *name, const char *want)
{
	char out[STORE_MAX_OBJECT_NAME + 8];
	assert_int_equal(store_name_successor(name, out, sizeof(out)), 0);
	assert_string_equal(out, want);
}

/* review s6 4 and 8: the successor of a prefix bounds a listing above it, for any last
 * character (ASCII, DEL, multi-byte), and stays well-formed UTF-8 */
static void test_name_successor(void **state)
{
	char out[16];
	succ_is("aaa", "aab");
	succ_is("a/", "a0");
	succ_is("a\x7f", "a\xc2\x80");               /* DEL -> U+0080 */
	succ_is("a/\xc3\xa9", "a/\xc3\xaa");         /* é -> ê */
	succ_is("x\xc3\xbf", "x\xc4\x80");           /* ÿ -> Ā */
	succ_is("\xed\x9f\xbf", "\xee\x80\x80");     /* U+D7FF -> U+E000, no surrogate */
	succ_is("\xef\xbf\xbf", "\xf0\x90\x80\x80"); /* U+FFFF -> U+10000 */
	succ_is("b\xf4\x8f\xbf\xbf", "c");           /* U+10FFFF dropped, b raised */
	assert_int_equal(store_name_successor("", out, sizeof(out)), -1);
	assert_int_equal(store_name_successor("\xf4\x8f\xbf\xbf", out, sizeof(out)), -1);
	assert_int_equal(store_name_successor("a\xff", out, sizeof(out)), -1); /* not UTF-8 */
	assert_int_equal(store_name_successor("a\xc3", out, sizeof(out)), -1);
	assert_int_equal(store_name_successor("\xc0\xaf", out, sizeof(out)), -1); /* overlong */
	assert_int_equal(store_name_successor("0123456789abcdef", out, sizeof(out)), -1);
	/* every name under the prefix is below its successor, bytewise (C collation) */
	char above[64];
	assert_int_equal(store_name_successor("p\xc3\xa9", above, sizeof(above)), 0);
	assert_true(strcmp("p\xc3\xa9\xf4\x8f\xbf\xbfzzz", above) < 0);
	assert_true(strcmp("p\xc3\xa9", above) < 0);
}

static char *start_of(const char *prefix, const char *marker, int reverse)
{
	struct store_list_query q = {0};
	q.prefix = prefix;
	q.marker = marker;
	q.reverse = reverse;
	return store_list_start(&q);
}

static void start_is(const char *prefix, const char *marker, int reverse, const char *want)
{
	char *s = start_of(prefix, marker, reverse);
	assert_string_equal(s, want);
	free(s);
}

/* review s6 4: downward with a prefix the listing starts just above the prefix, not at
 * the top of the container (every name above it was read and dropped) */
static void test_list_start(void **state)
{
	start_is("aaa", NULL, 1, "aab");
	start_is("aaa", "zzz", 1, "aab");
	start_is("aaa", "aaa5", 1, "aaa5");
	start_is("aaa", "", 1, "aab");
	start_is(NULL, NULL, 1, "");
	start_is(NULL, "m", 1, "m");
	start_is("", NULL, 1, "");
	/* upward: the higher of marker and prefix */
	start_is("aaa", NULL, 0, "aaa");
	start_is("aaa", "b", 0, "b");
	start_is("b", "aaa", 0, "b");
	start_is(NULL, NULL, 0, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_path_parse),
	    cmocka_unit_test(test_path_hostile),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_meta_name),
	    cmocka_unit_test(test_list_classify),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_list_classify_reverse),
	    cmocka_unit_test(test_ts),
	    cmocka_unit_test(test_listing_render),
	    cmocka_unit_test(test_name_successor),
	    cmocka_unit_test(test_list_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

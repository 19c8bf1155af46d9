/* Large objects' pure parts: the stored SLO manifest (format, parse, hostile bodies), the
 * large-object ETag, and the byte range a read of the whole covers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdint.h>

#include "common/md5.h"
#include "object-store/largeobj.h"
#include "object-store/swift.h"

static const char manifest[] =
    "[{\"name\":\"/segs/a\",\"hash\":\"0cc175b9c0f1b6a831c399e269772661\",\"bytes\":10},"
    "{\"name\":\"/segs/dir/b\",\"hash\":\"92eb5ffee6ae2fec3ad71c777531578f\",\"bytes\":5}]";

static void test_slo_parse_format(void **state)
{
	struct largeobj lo;
	assert_int_equal(largeobj_slo_parse(manifest, strlen(manifest), &lo), 0);
	assert_int_equal(lo.n, 2);
	assert_string_equal(lo.seg[0].container, "segs");
	assert_string_equal(lo.seg[0].object, "a");
	assert_string_equal(lo.seg[1].object, "dir/b");
	assert_int_equal(lo.size, 15);
	/* Swift's large-object ETag: MD5 of the segments' ETags concatenated */
	char want[33];
	struct md5 m;
	md5_init(&m);
	md5_update(&m, "0cc175b9c0f1b6a831c399e26977266192eb5ffee6ae2fec3ad71c777531578f", 64);
	md5_final_hex(&m, want);
	assert_string_equal(lo.etag, want);
	char *again = largeobj_slo_format(&lo);
	struct largeobj lo2;
	assert_int_equal(largeobj_slo_parse(again, strlen(again), &lo2), 0);
	assert_int_equal(lo2.n, 2);
	assert_string_equal(lo2.etag, lo.etag);
	free(again);
	largeobj_release(&lo);
	largeobj_release(&lo2);
}

static void test_slo_parse_hostile(void **state)
{
	static const char *const bad[] = {
	    "",
	    "{}",
	    "[1]",
	    "[{\"name\":\"/c\",\"hash\":\"x\",\"bytes\":1}]",       /* no object part */
	    "[{\"name\":\"/c/o\",\"hash\":\"x\",\"bytes\":-1}]",    /* negative size */
	    "[{\"name\":\"/c/o\",\"bytes\":1}]",                    /* no hash */
	    "[{\"name\":\"/c/o\",\"hash\":\"x\",\"bytes\":\"1\"}]", /* size not a number */
	    "[{\"name\":\"//o\",\"hash\":\"x\",\"bytes\":1}]",      /* empty container */
	    "[{\"name\":\"/c/o\",\"hash\":\"0123456789abcdef0123456789abcdef0\",\"bytes\":1}]",
	    "[{\"name\":\"/c/o\",\"hash\":\"x\",\"bytes\":1}", /* truncated */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct largeobj lo;
		assert_int_not_equal(largeobj_slo_parse(bad[i], strlen(bad[i]), &lo), 0);
		assert_int_equal(lo.n, 0);
	}
	/* more segments than Swift's max_manifest_segments */
	size_t n = LARGEOBJ_MAX_SEGMENTS + 1, cap = n * 48 + 8, k = 0;
	char *big = malloc(cap);
	big[k++] = '[';
	for (size_t i = 0; i < n; i++)
		k += (size_t)snprintf(big + k, cap - k,
		                      "%s{\"name\":\"/c/o\",\"hash\":\"x\",\"bytes\":1}",
		                      i ? "," : "");
	big[k++] = ']';
	struct largeobj lo;
	assert_int_not_equal(largeobj_slo_parse(big, k, &lo), 0);
	free(big);
}

/* The bytes a read covers: off, len for a range, or STORE_RANGE. */
static enum store_err range(int64_t first, int64_t last, uint64_t *off, uint64_t *len)
{
	struct largeobj lo;
	assert_int_equal(largeobj_slo_parse(manifest, strlen(manifest), &lo), 0);
	struct largeobj_get *g = NULL;
	enum store_err e = largeobj_get_open(NULL, "AUTH_p", &lo, first, last, off, len, &g);
	largeobj_get_close(g);
	largeobj_release(&lo);
	return e;
}

static void test_get_ranges(void **state)
{
	uint64_t off, len;
	assert_int_equal(range(0, -1, &off, &len), STORE_OK);
	assert_int_equal(off, 0);
	assert_int_equal(len, 15);
	assert_int_equal(range(8, 11, &off, &len), STORE_OK); /* across the boundary */
	assert_int_equal(off, 8);
	assert_int_equal(len, 4);
	assert_int_equal(range(12, -1, &off, &len), STORE_OK);
	assert_int_equal(len, 3);
	assert_int_equal(range(3, 400, &off, &len), STORE_OK); /* clipped to the end */
	assert_int_equal(len, 12);
	assert_int_equal(range(-1, 4, &off, &len), STORE_OK); /* the final 4 */
	assert_int_equal(off, 11);
	assert_int_equal(len, 4);
	assert_int_equal(range(-1, 99, &off, &len), STORE_OK);
	assert_int_equal(off, 0);
	assert_int_equal(len, 15);
	assert_int_equal(range(15, -1, &off, &len), STORE_RANGE);
	assert_int_equal(range(-1, 0, &off, &len), STORE_RANGE);
}

static void test_meta_name_underscore(void **state)
{
	char out[64];
	swift_meta_name("X-Container-Meta-test_container_meta", out, sizeof(out));
	assert_string_equal(out, "X-Container-Meta-Test-Container-Meta");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slo_parse_format),
	    cmocka_unit_test(test_slo_parse_hostile),
	    cmocka_unit_test(test_get_ranges),
	    cmocka_unit_test(test_meta_name_underscore),
	};
	return cmocka_run_group_tests(tests, 0, NULL);
}

/* Pure parts of the Image v2 API: the Range header of downloads, the image_size_total
 * quota arithmetic, which list query keys filter by extra properties. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "api-server/image/image.h"
#include "api-server/image/image_store.h"

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

static void quota_fits(void **state)
{
	char msg[256] = "";
	const long long mib = 1 << 20;
	assert_int_equal(image_quota_fits(-1, 1LL << 50, 1LL << 50, msg, sizeof(msg)), 0);
	assert_int_equal(image_quota_fits(1, 0, mib, msg, sizeof(msg)), 0);
	assert_int_equal(image_quota_fits(1, mib - 10, 10, msg, sizeof(msg)), 0);
	assert_int_equal(image_quota_fits(1, mib - 10, 11, msg, sizeof(msg)), -EDQUOT);
	assert_string_equal(msg, "Resource image_size_total is over limit of 1 due to current"
	                         " usage 0 and delta 1");
	assert_int_equal(image_quota_fits(0, 0, 1, msg, sizeof(msg)), -EDQUOT);
	assert_int_equal(image_quota_fits(0, 0, 0, msg, sizeof(msg)), 0);
	assert_int_equal(image_quota_fits(2, 3 * mib, 1, msg, sizeof(msg)), -EDQUOT);
	assert_non_null(strstr(msg, "limit of 2 due to current usage 3 and delta 1"));
}

/* Glance lists by extra properties for every query key that is no list parameter and
 * no attribute (Nova's backup rotation and Tempest's test_create_backup list
 * image_type=backup&backup_type=daily&instance_uuid=<server>); before, they were
 * ignored and every image listed. */
static void list_prop_filter_keys(void **state)
{
	static const char *const props[] = {"image_type",  "backup_type", "instance_uuid",
	                                    "hw_disk_bus", "os_distro",   "Image Type"};
	static const char *const not_props[] = {"limit",
	                                        "marker",
	                                        "sort_key",
	                                        "sort_dir",
	                                        "sort",
	                                        "member_status",
	                                        "tag",
	                                        "size_min",
	                                        "size_max",
	                                        "name",
	                                        "status",
	                                        "owner",
	                                        "visibility",
	                                        "size",
	                                        "protected",
	                                        "os_hidden",
	                                        "id",
	                                        "created_at",
	                                        "checksum",
	                                        "disk_format",
	                                        "container_format",
	                                        "os_glance_import_method",
	                                        ""};
	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++)
		assert_int_equal(image_list_prop_filter(props[i]), 1);
	for (size_t i = 0; i < sizeof(not_props) / sizeof(not_props[0]); i++)
		assert_int_equal(image_list_prop_filter(not_props[i]), 0);
}

static void store_backends_and_segments(void **state)
{
	assert_ptr_equal(image_store_by_name("file"), &image_store_file);
	assert_ptr_equal(image_store_by_name("swift"), &image_store_swift);
	assert_null(image_store_by_name("File"));
	assert_null(image_store_by_name(""));
	assert_null(image_store_by_name(NULL));
	static const struct {
		uint64_t size, seg, n;
	} rows[] = {
	    {0, 10, 0},
	    {1, 10, 0},
	    {10, 10, 0}, /* up to a segment: one plain object */
	    {11, 10, 2},
	    {20, 10, 2},
	    {21, 10, 3},
	    {(10ULL << 30) + 1, 1ULL << 30, 11}, /* the largest upload by default, 1 GiB segments */
	    {5, 0, 0},                           /* no segment size: never segmented */
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(image_store_segments(rows[i].size, rows[i].seg), rows[i].n);
	char a[96], b[96];
	image_store_segment_name("7c5e3f0e-1d2a-4b8e-9a55-0c1d2e3f4a5b", 0, a, sizeof(a));
	assert_string_equal(a, "7c5e3f0e-1d2a-4b8e-9a55-0c1d2e3f4a5b/00000000");
	/* names sort as the segments follow each other */
	image_store_segment_name("x", 9, a, sizeof(a));
	image_store_segment_name("x", 10, b, sizeof(b));
	assert_true(strcmp(a, b) < 0);
	image_store_segment_name("x", IMAGE_STORE_SEGMENT_MAX - 1, b, sizeof(b));
	assert_string_equal(b, "x/00009999");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(range_single),
	    cmocka_unit_test(quota_fits),
	    cmocka_unit_test(list_prop_filter_keys),
	    cmocka_unit_test(store_backends_and_segments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* S3 versioning's pure parts: the version id format (made and checked), the
 * versioning state, and the XML of ListVersionsResult (versions, delete markers,
 * IsLatest, the version-id markers of a truncated page) and of DeleteResult with
 * delete markers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object-store/s3_version.h"
#include "object-store/s3_view.h"

static void test_version_id_format(void **state)
{
	char a[S3_VERSION_ID_LEN + 1], b[S3_VERSION_ID_LEN + 1];
	s3_version_id_new(a);
	s3_version_id_new(b);
	assert_int_equal(strlen(a), S3_VERSION_ID_LEN);
	assert_string_not_equal(a, b);
	assert_true(s3_version_id_valid(a));
	assert_true(s3_version_id_valid("null"));
	static const char *const bad[] = {
	    "",
	    "Null",
	    "nul",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 31 */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 33 */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'",
	    "../../../../../../../etc/passwd.",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(s3_version_id_valid(bad[i]));
	assert_false(s3_version_id_valid(NULL));
	/* every character of many ids is one the check takes */
	for (int i = 0; i < 200; i++) {
		s3_version_id_new(a);
		assert_true(s3_version_id_valid(a));
	}
}

static void test_vstate(void **state)
{
	assert_int_equal(s3_vstate_parse("Enabled"), S3_VER_ENABLED);
	assert_int_equal(s3_vstate_parse("Suspended"), S3_VER_SUSPENDED);
	assert_int_equal(s3_vstate_parse(NULL), S3_VER_OFF);
	assert_int_equal(s3_vstate_parse("enabled"), S3_VER_OFF);
}

static const struct s3_owner owner = {"p1d", "demo"};

static void test_list_versions_xml(void **state)
{
	const struct s3_object_entry e[] = {
	    {.key = "doc",
	     .last_modified = "1700000000.5",
	     .version_id = "MARKERMARKERMARKERMARKERMARKERMA",
	     .delete_marker = 1},
	    {.key = "doc",
	     .last_modified = "1700000000.1",
	     .etag = "0123456789abcdef0123456789abcdef",
	     .size = 5,
	     .version_id = "VERSIONVERSIONVERSIONVERSIONVERS",
	     .not_latest = 1},
	    {.key = "dir/", .prefix = 1},
	};
	struct s3_list_view v = {.version = 3,
	                         .bucket = "bkt",
	                         .delimiter = "/",
	                         .max_keys = 3,
	                         .truncated = 1,
	                         .marker = "a",
	                         .version_id_marker = "null",
	                         .next_marker = "doc",
	                         .next_version_id_marker = "VERSIONVERSIONVERSIONVERSIONVERS",
	                         .owner = &owner,
	                         .e = e,
	                         .n = 3};
	char *x = s3_view_list_objects(&v);
	assert_non_null(strstr(x, "<ListVersionsResult xmlns="));
	assert_non_null(
	    strstr(x, "<KeyMarker>a</KeyMarker><VersionIdMarker>null</VersionIdMarker>"));
	assert_non_null(strstr(x, "<NextKeyMarker>doc</NextKeyMarker><NextVersionIdMarker>"
	                          "VERSIONVERSIONVERSIONVERSIONVERS</NextVersionIdMarker>"));
	assert_non_null(
	    strstr(x, "<DeleteMarker><Key>doc</Key><VersionId>MARKERMARKERMARKERMARKERMARKER"
	              "MA</VersionId><IsLatest>true</IsLatest>"));
	assert_non_null(strstr(x,
	                       "<Version><Key>doc</Key><VersionId>VERSIONVERSIONVERSIONVERSIONVERS"
	                       "</VersionId><IsLatest>false</IsLatest>"));
	assert_non_null(strstr(x, "<Size>5</Size>"));
	/* a delete marker has no ETag, Size or StorageClass */
	const char *dm = strstr(x, "<DeleteMarker>");
	const char *dm_end = strstr(x, "</DeleteMarker>");
	assert_true(dm && dm_end);
	assert_null(memmem(dm, (size_t)(dm_end - dm), "<ETag>", 6));
	assert_null(memmem(dm, (size_t)(dm_end - dm), "<Size>", 6));
	assert_non_null(strstr(x, "<CommonPrefixes><Prefix>dir/</Prefix></CommonPrefixes>"));
	free(x);
	/* a page ending in a common prefix: no version id of its own */
	v.next_version_id_marker = NULL;
	v.n = 1;
	x = s3_view_list_objects(&v);
	assert_non_null(strstr(x, "<NextVersionIdMarker>null</NextVersionIdMarker>"));
	free(x);
}

static void test_delete_result_markers(void **state)
{
	const struct s3_delete_entry d[] = {
	    {"made", NULL, S3_OK, 1, "MARKERMARKERMARKERMARKERMARKERMA"},
	    {"removed", "MARKERMARKERMARKERMARKERMARKERMB", S3_OK, 1, NULL},
	    {"plain", "null", S3_OK, 0, NULL},
	};
	char *x = s3_view_delete_result(d, 3, 0);
	assert_non_null(strstr(x, "<Deleted><Key>made</Key><DeleteMarker>true</DeleteMarker>"
	                          "<DeleteMarkerVersionId>MARKERMARKERMARKERMARKERMARKERMA"
	                          "</DeleteMarkerVersionId></Deleted>"));
	assert_non_null(strstr(x,
	                       "<Deleted><Key>removed</Key><VersionId>MARKERMARKERMARKERMARKER"
	                       "MARKERMB</VersionId><DeleteMarker>true</DeleteMarker></Deleted>"));
	assert_non_null(
	    strstr(x, "<Deleted><Key>plain</Key><VersionId>null</VersionId></Deleted>"));
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_id_format),
	    cmocka_unit_test(test_vstate),
	    cmocka_unit_test(test_list_versions_xml),
	    cmocka_unit_test(test_delete_result_markers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The S3 front end's pure cores: request routing (path and virtual-host style,
 * subresources, bounds), the XML answers against golden files and their escaping,
 * the request-body parsers against hostile input, and the error documents. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "object-store/s3_error.h"
#include "object-store/s3_request.h"
#include "object-store/s3_view.h"
#include "object-store/s3_xml.h"
#include "xalloc.h"

static enum s3_err route(const char *method, const char *path, const char *query, const char *host,
                         const char *copy, struct s3_request *r)
{
	struct s3_wire w = {method, path, query, host, "s3.nubo.test", copy};
	return s3_request_parse(&w, r);
}

static void test_routing_table(void **state)
{
	static const struct {
		const char *method, *path, *query, *host, *copy;
		enum s3_op op;
		const char *bucket, *key;
	} cases[] = {
	    {"GET", "/", NULL, "127.0.0.1:8080", NULL, S3_LIST_BUCKETS, "", NULL},
	    {"PUT", "/bkt", NULL, "127.0.0.1", NULL, S3_CREATE_BUCKET, "bkt", NULL},
	    {"PUT", "/bkt/", NULL, "127.0.0.1", NULL, S3_CREATE_BUCKET, "bkt", NULL},
	    {"DELETE", "/bkt", NULL, NULL, NULL, S3_DELETE_BUCKET, "bkt", NULL},
	    {"HEAD", "/bkt", NULL, NULL, NULL, S3_HEAD_BUCKET, "bkt", NULL},
	    {"GET", "/bkt", "location", NULL, NULL, S3_GET_BUCKET_LOCATION, "bkt", NULL},
	    {"GET", "/bkt", "prefix=a&delimiter=%2F", NULL, NULL, S3_LIST_OBJECTS, "bkt", NULL},
	    {"GET", "/bkt", "list-type=2&max-keys=5", NULL, NULL, S3_LIST_OBJECTS_V2, "bkt", NULL},
	    {"GET", "/bkt", "versions", NULL, NULL, S3_LIST_OBJECT_VERSIONS, "bkt", NULL},
	    {"GET", "/bkt", "uploads", NULL, NULL, S3_LIST_MULTIPART_UPLOADS, "bkt", NULL},
	    {"GET", "/bkt", "acl", NULL, NULL, S3_GET_BUCKET_ACL, "bkt", NULL},
	    {"PUT", "/bkt", "acl=", NULL, NULL, S3_PUT_BUCKET_ACL, "bkt", NULL},
	    {"GET", "/bkt", "versioning", NULL, NULL, S3_GET_BUCKET_VERSIONING, "bkt", NULL},
	    {"PUT", "/bkt", "versioning", NULL, NULL, S3_PUT_BUCKET_VERSIONING, "bkt", NULL},
	    {"POST", "/bkt", "delete", NULL, NULL, S3_DELETE_OBJECTS, "bkt", NULL},
	    {"PUT", "/bkt/a/b.txt", NULL, NULL, NULL, S3_PUT_OBJECT, "bkt", "a/b.txt"},
	    {"PUT", "/bkt/k", NULL, NULL, "/src/k", S3_COPY_OBJECT, "bkt", "k"},
	    {"GET", "/bkt/k%20x%2Fy", NULL, NULL, NULL, S3_GET_OBJECT, "bkt", "k x/y"},
	    {"GET", "/bkt/a+b", NULL, NULL, NULL, S3_GET_OBJECT, "bkt", "a+b"},
	    {"GET", "/bkt/k", "partNumber=1", NULL, NULL, S3_GET_OBJECT, "bkt", "k"},
	    {"HEAD", "/bkt//k", NULL, NULL, NULL, S3_HEAD_OBJECT, "bkt", "/k"},
	    {"DELETE", "/bkt/k", "versionId=null", NULL, NULL, S3_DELETE_OBJECT, "bkt", "k"},
	    {"GET", "/bkt/k", "acl", NULL, NULL, S3_GET_OBJECT_ACL, "bkt", "k"},
	    {"PUT", "/bkt/k", "acl", NULL, NULL, S3_PUT_OBJECT_ACL, "bkt", "k"},
	    {"POST", "/bkt/k", "uploads", NULL, NULL, S3_CREATE_MULTIPART, "bkt", "k"},
	    {"PUT", "/bkt/k", "partNumber=3&uploadId=u1", NULL, NULL, S3_UPLOAD_PART, "bkt", "k"},
	    {"PUT", "/bkt/k", "uploadId=u1&partNumber=3", NULL, "src/k", S3_UPLOAD_PART_COPY, "bkt",
	     "k"},
	    {"POST", "/bkt/k", "uploadId=u1", NULL, NULL, S3_COMPLETE_MULTIPART, "bkt", "k"},
	    {"DELETE", "/bkt/k", "uploadId=u1", NULL, NULL, S3_ABORT_MULTIPART, "bkt", "k"},
	    {"GET", "/bkt/k", "uploadId=u1&max-parts=2", NULL, NULL, S3_LIST_PARTS, "bkt", "k"},
	    /* virtual-host style */
	    {"GET", "/", NULL, "vbk.s3.nubo.test:8080", NULL, S3_LIST_OBJECTS, "vbk", NULL},
	    {"GET", "/", "list-type=2", "VBK.S3.Nubo.Test", NULL, S3_LIST_OBJECTS_V2, "vbk", NULL},
	    {"PUT", "/dir/obj", NULL, "vbk.s3.nubo.test", NULL, S3_PUT_OBJECT, "vbk", "dir/obj"},
	    {"GET", "/", NULL, "s3.nubo.test", NULL, S3_LIST_BUCKETS, "", NULL},
	    /* presigned query parameters are not subresources */
	    {"GET", "/bkt/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00", NULL, NULL,
	     S3_GET_OBJECT, "bkt", "k"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct s3_request r;
		enum s3_err e = route(cases[i].method, cases[i].path, cases[i].query, cases[i].host,
		                      cases[i].copy, &r);
		if (e != S3_OK || r.op != cases[i].op)
			print_error("case %zu: %s %s?%s -> %s (%s)\n", i, cases[i].method,
			            cases[i].path, cases[i].query ? cases[i].query : "",
			            s3_op_name(r.op), s3_err_code(e));
		assert_int_equal(e, S3_OK);
		assert_int_equal(r.op, cases[i].op);
		assert_string_equal(r.bucket, cases[i].bucket);
		if (cases[i].key)
			assert_string_equal(r.key, cases[i].key);
		else
			assert_null(r.key);
		s3_request_release(&r);
	}
}

static void test_query_values(void **state)
{
	struct s3_request r;
	assert_int_equal(route("GET", "/bkt",
	                       "list-type=2&prefix=a%20b+c&delimiter=%2F&max-keys=5000"
	                       "&continuation-token=6162&start-after=x&fetch-owner=true"
	                       "&encoding-type=url",
	                       NULL, NULL, &r),
	                 S3_OK);
	assert_string_equal(r.prefix, "a b c");
	assert_string_equal(r.delimiter, "/");
	assert_int_equal(r.max_keys, 1000); /* clamped as S3 does */
	assert_string_equal(r.continuation_token, "6162");
	assert_true(r.fetch_owner);
	s3_request_release(&r);
	assert_int_equal(route("GET", "/bkt", "max-keys=0", NULL, NULL, &r), S3_OK);
	assert_int_equal(r.max_keys, 0);
	s3_request_release(&r);
}

static void test_routing_errors(void **state)
{
	static const struct {
		const char *method, *path, *query;
		enum s3_err e;
	} cases[] = {
	    {"PUT", "/ab", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/Bucket", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/bk_t", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/-bkt", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/b..kt", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/192.168.1.2", NULL, S3E_INVALID_BUCKET_NAME},
	    {"PUT", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
	     S3E_INVALID_BUCKET_NAME},
	    {"GET", "/bkt/%zz", NULL, S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt/a%00b", NULL, S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "max-keys=-1", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "max-keys=abc", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "max-keys=99999999999", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "list-type=3", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "encoding-type=base64", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "prefix=a&prefix=b", S3E_INVALID_ARGUMENT},
	    {"PUT", "/bkt/k", "partNumber=0&uploadId=u", S3E_INVALID_ARGUMENT},
	    {"PUT", "/bkt/k", "partNumber=10001&uploadId=u", S3E_INVALID_ARGUMENT},
	    {"PUT", "/bkt/k", "partNumber=1", S3E_INVALID_ARGUMENT},
	    {"GET", "/bkt", "tagging", S3E_NOT_IMPLEMENTED},
	    {"PUT", "/bkt", "cors", S3E_NOT_IMPLEMENTED},
	    {"GET", "/bkt", "acl&versioning", S3E_INVALID_REQUEST},
	    {"POST", "/bkt", NULL, S3E_METHOD_NOT_ALLOWED},
	    {"PATCH", "/bkt/k", NULL, S3E_METHOD_NOT_ALLOWED},
	    {"PUT", "/", NULL, S3E_METHOD_NOT_ALLOWED},
	    {"POST", "/bkt/k", "delete", S3E_INVALID_REQUEST},
	    {"GET", "bkt", NULL, S3E_INVALID_ARGUMENT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct s3_request r;
		enum s3_err e =
		    route(cases[i].method, cases[i].path, cases[i].query, NULL, NULL, &r);
		if (e != cases[i].e)
			print_error("case %zu: %s %s?%s -> %s\n", i, cases[i].method, cases[i].path,
			            cases[i].query ? cases[i].query : "", s3_err_code(e));
		assert_int_equal(e, cases[i].e);
		s3_request_release(&r);
	}
	/* a key past 1024 bytes */
	char *path = xmalloc(1100);
	strcpy(path, "/bkt/");
	memset(path + 5, 'k', 1025);
	path[1030] = 0;
	struct s3_request r;
	assert_int_equal(route("PUT", path, NULL, NULL, NULL, &r), S3E_KEY_TOO_LONG);
	s3_request_release(&r);
	free(path);
}

static char *golden(const char *name)
{
	char path[256];
	snprintf(path, sizeof path, "golden/s3/%s", name);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *buf = xcalloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	fclose(f);
	while (n && buf[n - 1] == '\n') /* editors add one */
		buf[--n] = 0;
	return buf;
}

/* NUBO_UPDATE_GOLDEN=1 rewrites the golden files (review the diff). */
static void check_golden(const char *name, char *got)
{
	if (getenv("NUBO_UPDATE_GOLDEN")) {
		char path[256];
		snprintf(path, sizeof path, "golden/s3/%s", name);
		FILE *f = fopen(path, "we");
		assert_non_null(f);
		fprintf(f, "%s\n", got);
		fclose(f);
	}
	char *want = golden(name);
	if (strcmp(got, want))
		print_error("%s:\n%s\n", name, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static const struct s3_owner owner = {"p1d", "demo"};

static void test_views_golden(void **state)
{
	const struct s3_bucket_entry b[] = {{"alpha", "1700000000.12345"}, {"b<&>", "0"}};
	check_golden("list_buckets.xml", s3_view_list_buckets(&owner, b, 2));
	const struct s3_object_entry e[] = {
	    {"a&b.txt", 0, "1700000000.5", "0123456789abcdef0123456789abcdef", 12, NULL, 0},
	    {"dir/", 1, NULL, NULL, 0, NULL, 0},
	    {"sp ace/", 1, NULL, NULL, 0, NULL, 0},
	};
	struct s3_list_view v1 = {.version = 1,
	                          .bucket = "bkt",
	                          .prefix = "",
	                          .delimiter = "/",
	                          .max_keys = 2,
	                          .truncated = 1,
	                          .next_marker = "sp ace/",
	                          .owner = &owner,
	                          .e = e,
	                          .n = 3};
	check_golden("list_v1.xml", s3_view_list_objects(&v1));
	struct s3_list_view v2 = v1;
	v2.version = 2;
	v2.encoding_type = "url";
	v2.continuation_token = "61";
	v2.next_continuation_token = "737020616365";
	check_golden("list_v2_url.xml", s3_view_list_objects(&v2));
	struct s3_list_view v3 = v1;
	v3.version = 3;
	v3.truncated = 0;
	check_golden("list_versions.xml", s3_view_list_objects(&v3));
	check_golden("initiate.xml", s3_view_initiate_multipart("bkt", "k<1>", "upl-1"));
	check_golden("complete.xml",
	             s3_view_complete_multipart("http://h/bkt/k", "bkt", "k",
	                                        "0123456789abcdef0123456789abcdef-3"));
	const struct s3_part_entry p[] = {{1, "1700000000", "00112233445566778899aabbccddeeff", 5}};
	struct s3_parts_view pv = {"bkt", "k", "u1", &owner, 0, 1, 1000, 0, p, 1};
	check_golden("list_parts.xml", s3_view_list_parts(&pv));
	const struct s3_upload_entry u[] = {{"k", "u1", "1700000000"}};
	struct s3_uploads_view uv = {
	    .bucket = "bkt", .max_uploads = 1000, .owner = &owner, .u = u, .n = 1};
	check_golden("list_uploads.xml", s3_view_list_uploads(&uv));
	check_golden("copy.xml",
	             s3_view_copy_result("00112233445566778899aabbccddeeff", "1700000000", 0));
	const struct s3_delete_entry d[] = {{"gone", NULL, S3_OK}, {"x", NULL, S3E_ACCESS_DENIED}};
	check_golden("delete.xml", s3_view_delete_result(d, 2, 0));
	check_golden("delete_quiet.xml", s3_view_delete_result(d, 2, 1));
	check_golden("acl_public_read.xml", s3_view_acl(&owner, S3_ACL_PUBLIC_READ));
	check_golden("versioning.xml", s3_view_versioning("Enabled"));
	check_golden("versioning_never.xml", s3_view_versioning(NULL));
	check_golden("location_us_east_1.xml", s3_view_location("us-east-1"));
	check_golden("location_region.xml", s3_view_location("RegionOne"));
	const char *extra[] = {"BucketName", "b&b", "Key", NULL};
	check_golden("error_no_such_bucket.xml",
	             s3_error_doc(S3E_NO_SUCH_BUCKET, NULL, "/b&b", "tx1", extra, 2));
}

static void test_errors_table(void **state)
{
	static const struct {
		enum s3_err e;
		const char *code;
		int status;
	} t[] = {
	    {S3E_NO_SUCH_BUCKET, "NoSuchBucket", 404},
	    {S3E_NO_SUCH_KEY, "NoSuchKey", 404},
	    {S3E_SIGNATURE_DOES_NOT_MATCH, "SignatureDoesNotMatch", 403},
	    {S3E_ACCESS_DENIED, "AccessDenied", 403},
	    {S3E_BUCKET_NOT_EMPTY, "BucketNotEmpty", 409},
	    {S3E_BUCKET_ALREADY_EXISTS, "BucketAlreadyExists", 409},
	    {S3E_BUCKET_ALREADY_OWNED, "BucketAlreadyOwnedByYou", 409},
	    {S3E_ENTITY_TOO_LARGE, "EntityTooLarge", 400},
	    {S3E_INVALID_PART, "InvalidPart", 400},
	    {S3E_INVALID_ARGUMENT, "InvalidArgument", 400},
	    {S3E_INVALID_RANGE, "InvalidRange", 416},
	    {S3E_NOT_IMPLEMENTED, "NotImplemented", 501},
	    {S3E_EXPIRED_TOKEN, "AccessDenied", 403},
	    {S3E_INVALID_ACCESS_KEY_ID, "InvalidAccessKeyId", 403},
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		assert_string_equal(s3_err_code(t[i].e), t[i].code);
		assert_int_equal(s3_err_status(t[i].e), t[i].status);
	}
	for (int e = 1; e < S3E_COUNT; e++) /* every row filled */
		assert_true(s3_err_status((enum s3_err)e) >= 400);
	assert_int_equal(s3_err_status(S3E_COUNT), 500);
	assert_int_equal(s3_err_status((enum s3_err) - 1), 500);
}

static void test_parse_complete(void **state)
{
	struct s3_complete_part *p;
	size_t n;
	const char *ok =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Part><ETag>&quot;00112233445566778899AABBCCDDEEFF&quot;</ETag>"
	    "<PartNumber>1</PartNumber></Part><!-- c -->"
	    "<Part><PartNumber> 2 </PartNumber><ETag>\"ffeeddccbbaa99887766554433221100\""
	    "</ETag></Part></CompleteMultipartUpload>";
	assert_int_equal(s3_parse_complete(ok, strlen(ok), &p, &n), S3_OK);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].number, 1);
	assert_string_equal(p[0].etag, "00112233445566778899aabbccddeeff");
	assert_int_equal(p[1].number, 2);
	free(p);
	static const struct {
		const char *body;
		enum s3_err e;
	} bad[] = {
	    {"", S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload/>", S3E_MALFORMED_XML},
	    {"<Other><Part/></Other>", S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>"
	     "</CompleteMultipartUpload>",
	     S3E_INVALID_PART},
	    {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"
	     "00112233445566778899aabbccddeeff</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"
	     "00112233445566778899aabbccddeeff</ETag></Part></CompleteMultipartUpload>",
	     S3E_INVALID_PART_ORDER},
	    {"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>"
	     "00112233445566778899aabbccddeeff</ETag></Part></CompleteMultipartUpload>",
	     S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
	     "00112233445566778899aabbccddeeff</ETag></Part>",
	     S3E_MALFORMED_XML},
	    {"<!DOCTYPE x [<!ENTITY a \"b\">]><CompleteMultipartUpload/>", S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload><Part><PartNumber>&a;</PartNumber></Part>"
	     "</CompleteMultipartUpload>",
	     S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload></Complete>", S3E_MALFORMED_XML},
	    {"<CompleteMultipartUpload/><x/>", S3E_MALFORMED_XML},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		enum s3_err e = s3_parse_complete(bad[i].body, strlen(bad[i].body), &p, &n);
		if (e != bad[i].e)
			print_error("case %zu -> %s\n", i, s3_err_code(e));
		assert_int_equal(e, bad[i].e);
		assert_null(p);
	}
}

static void test_parse_bodies(void **state)
{
	struct s3_delete_req d;
	const char *del = "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object>"
	                  "<Object><Key>c&#x41;&#66;</Key><VersionId>null</VersionId></Object>"
	                  "<Object><Key><![CDATA[<raw>]]></Key></Object></Delete>";
	assert_int_equal(s3_parse_delete(del, strlen(del), &d), S3_OK);
	assert_int_equal(d.n, 3);
	assert_true(d.quiet);
	assert_string_equal(d.keys[0], "a&b");
	assert_string_equal(d.keys[1], "cAB");
	assert_string_equal(d.version_ids[1], "null");
	assert_null(d.version_ids[0]);
	assert_string_equal(d.keys[2], "<raw>");
	s3_delete_req_release(&d);
	const char *none = "<Delete></Delete>";
	assert_int_equal(s3_parse_delete(none, strlen(none), &d), S3E_MALFORMED_XML);
	const char *empty = "<Delete><Object><Key></Key></Object></Delete>";
	assert_int_equal(s3_parse_delete(empty, strlen(empty), &d), S3E_MALFORMED_XML);
	const char *nul = "<Delete><Object><Key>a&#0;</Key></Object></Delete>";
	assert_int_equal(s3_parse_delete(nul, strlen(nul), &d), S3E_MALFORMED_XML);
	/* 1001 objects */
	FILE *f;
	char *big = NULL;
	size_t blen = 0;
	f = open_memstream(&big, &blen);
	fputs("<Delete>", f);
	for (int i = 0; i < 1001; i++)
		fprintf(f, "<Object><Key>k%d</Key></Object>", i);
	fputs("</Delete>", f);
	fclose(f);
	assert_int_equal(s3_parse_delete(big, blen, &d), S3E_MALFORMED_XML);
	free(big);

	int en = -1;
	const char *ver =
	    "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Status>Enabled</Status></VersioningConfiguration>";
	assert_int_equal(s3_parse_versioning(ver, strlen(ver), &en), S3_OK);
	assert_int_equal(en, 1);
	const char *sus = "<VersioningConfiguration><Status>Suspended</Status>"
	                  "</VersioningConfiguration>";
	assert_int_equal(s3_parse_versioning(sus, strlen(sus), &en), S3_OK);
	assert_int_equal(en, 0);
	const char *bad = "<VersioningConfiguration><Status>On</Status></VersioningConfiguration>";
	assert_int_equal(s3_parse_versioning(bad, strlen(bad), &en), S3E_MALFORMED_XML);

	char loc[64];
	assert_int_equal(s3_parse_location("", 0, loc), S3_OK);
	assert_string_equal(loc, "");
	const char *l =
	    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<LocationConstraint>RegionOne</LocationConstraint></CreateBucketConfiguration>";
	assert_int_equal(s3_parse_location(l, strlen(l), loc), S3_OK);
	assert_string_equal(loc, "RegionOne");
	assert_int_equal(s3_parse_location("<x", 2, loc), S3E_MALFORMED_XML);

	enum s3_acl acl;
	char *doc = s3_view_acl(&owner, S3_ACL_PUBLIC_READ_WRITE);
	assert_int_equal(s3_parse_acl(doc, strlen(doc), &acl), S3_OK);
	assert_int_equal(acl, S3_ACL_PUBLIC_READ_WRITE);
	free(doc);
	doc = s3_view_acl(&owner, S3_ACL_PRIVATE);
	assert_int_equal(s3_parse_acl(doc, strlen(doc), &acl), S3_OK);
	assert_int_equal(acl, S3_ACL_PRIVATE);
	free(doc);
	assert_int_equal(s3_acl_parse_canned("public-read", &acl), 0);
	assert_int_equal(acl, S3_ACL_PUBLIC_READ);
	assert_int_equal(s3_acl_parse_canned("everyone", &acl), -EINVAL);
}

static void test_xml_bounds(void **state)
{
	/* nesting past the depth bound; a huge body; entity expansion refused */
	char deep[1024] = "";
	for (int i = 0; i < S3_XML_MAX_DEPTH + 1; i++)
		strcat(deep, "<a>");
	for (int i = 0; i < S3_XML_MAX_DEPTH + 1; i++)
		strcat(deep, "</a>");
	assert_null(s3_xml_parse(deep, strlen(deep)));
	assert_null(s3_xml_parse("<a>&unknown;</a>", 16));
	assert_null(s3_xml_parse("<a>&#xD800;</a>", 15));
	assert_null(s3_xml_parse("<a b='<'/>", 10));
	assert_null(s3_xml_parse("<a>\0</a>", 8));
	assert_null(s3_xml_parse(NULL, 0));
	const char *doc = "\xEF\xBB\xBF<?xml version=\"1.0\"?><x:a xmlns:x=\"u\" "
	                  "xsi:type='Group'>t<b/>u</x:a>";
	struct s3_xnode *n = s3_xml_parse(doc, strlen(doc));
	assert_non_null(n);
	assert_string_equal(n->name, "a");
	assert_string_equal(n->text, "tu");
	assert_string_equal(n->type, "Group");
	assert_non_null(s3_xml_child(n, "b"));
	s3_xml_free(n);
	/* times and tokens */
	char t[40];
	s3_time_iso("1700000000.12345", t);
	assert_string_equal(t, "2023-11-14T22:13:20.123Z");
	s3_time_iso("junk", t);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	s3_time_http("1700000000.5", t);
	assert_string_equal(t, "Tue, 14 Nov 2023 22:13:20 GMT");
	char *tok = s3_token_encode("a/b c");
	char *back = s3_token_decode(tok);
	assert_string_equal(back, "a/b c");
	free(tok);
	free(back);
	assert_null(s3_token_decode("6"));
	assert_null(s3_token_decode("zz"));
	assert_null(s3_token_decode("0061"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_routing_table),  cmocka_unit_test(test_query_values),
	    cmocka_unit_test(test_routing_errors), cmocka_unit_test(test_views_golden),
	    cmocka_unit_test(test_errors_table),   cmocka_unit_test(test_parse_complete),
	    cmocka_unit_test(test_parse_bodies),   cmocka_unit_test(test_xml_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

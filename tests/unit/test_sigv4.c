/* SigV4 against AWS's published test suite (golden/sigv4/, see its README), the S3
 * documentation's header, presigned and chunked-upload examples, and hostile input to
 * the parsers and the chunk decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "util.h"
#include "xalloc.h"

#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static const char *const suite[] = {
    "get-header-key-duplicate",
    "get-header-value-multiline",
    "get-header-value-order",
    "get-header-value-trim",
    "get-unreserved",
    "get-utf8",
    "get-vanilla",
    "get-vanilla-empty-query-key",
    "get-vanilla-query",
    "get-vanilla-query-order-encoded",
    "get-vanilla-query-order-key",
    "get-vanilla-query-order-key-case",
    "get-vanilla-query-order-value",
    "get-vanilla-query-unreserved",
    "get-vanilla-utf8-query",
    "post-header-key-case",
    "post-header-key-sort",
    "post-header-value-case",
    "post-vanilla",
    "post-vanilla-empty-query-value",
    "post-vanilla-query",
    "post-x-www-form-urlencoded",
    "post-x-www-form-urlencoded-parameters",
    /* normalize-path/ */
    "get-relative",
    "get-relative-relative",
    "get-slash",
    "get-slash-dot-slash",
    "get-slash-pointless-dot",
    "get-slashes",
    "get-space",
    "get-special-character",
};

static char *slurp(const char *name, const char *ext)
{
	char path[256];
	snprintf(path, sizeof path, "golden/sigv4/%s.%s", name, ext);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	char *buf = xcalloc(1, 65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

/* A parsed .req: request line, headers (continuation lines folded into the value
 * with their newline, as they arrive), body. */
struct vreq {
	char *text, *method, *path, *query, *body;
	struct sigv4_header h[16];
	size_t nh;
};

static void vreq_parse(struct vreq *v, char *text)
{
	memset(v, 0, sizeof *v);
	v->text = text;
	char *eol = strchr(text, '\n');
	if (eol)
		*eol = 0;
	char *sp = strchr(text, ' '), *proto = strstr(text, " HTTP/1.1");
	assert_non_null(sp);
	assert_non_null(proto);
	*sp = 0;
	*proto = 0;
	v->method = text;
	v->path = sp + 1;
	char *q = strchr(v->path, '?');
	if (q) {
		*q = 0;
		v->query = q + 1;
	}
	char *p = eol ? eol + 1 : NULL;
	while (p && *p && *p != '\n') {
		char *end = strchr(p, '\n');
		if (*p == ' ' || *p == '\t') { /* continuation: keep it in the previous value */
			assert_true(v->nh > 0);
			p[-1] = '\n';
		} else {
			char *colon = strchr(p, ':');
			assert_non_null(colon);
			*colon = 0;
			v->h[v->nh].name = p;
			v->h[v->nh].value = colon + 1;
			v->nh++;
		}
		if (!end) {
			p = NULL;
			break;
		}
		*end = 0;
		p = end + 1;
	}
	v->body = p && *p == '\n' ? p + 1 : (char *)"";
}

/* The case's .creq, .sts and .authz from its .req with the given URI rule. */
static void run_case(const char *name, int s3)
{
	struct vreq v;
	struct sigv4_auth a;
	char hash[65], *creq = NULL;
	vreq_parse(&v, slurp(name, "req"));
	char *want_creq = slurp(name, "creq"), *want_sts = slurp(name, "sts"),
	     *authz = slurp(name, "authz");
	assert_int_equal(sigv4_parse_header(authz, &a), 0);
	assert_string_equal(a.access, "AKIDEXAMPLE");
	strcpy(a.amz_date, "20150830T123600Z");
	sha256_hex(v.body, strlen(v.body), hash);
	struct sigv4_request rq = {v.method, v.path, v.query, v.h, v.nh, hash, s3};
	assert_int_equal(sigv4_canonical_request(&rq, &a, &creq), 0);
	if (strcmp(creq, want_creq))
		print_error("case %s:\n%s\n--- want\n%s\n", name, creq, want_creq);
	assert_string_equal(creq, want_creq);
	char *sts = sigv4_string_to_sign(&a, creq);
	assert_string_equal(sts, want_sts);
	assert_int_equal(sigv4_verify(&rq, &a, SUITE_SECRET, NULL), 0);
	assert_int_equal(sigv4_verify(&rq, &a, "another secret", NULL), -EACCES);
	free(sts);
	free(creq);
	free(want_creq);
	free(want_sts);
	free(authz);
	free(v.text);
}

static int is_normalize_case(const char *name)
{
	return !strncmp(name, "get-relative", 12) || !strncmp(name, "get-slash", 9) ||
	       !strcmp(name, "get-space") || !strcmp(name, "get-special-character");
}

static void test_suite_services(void **state)
{
	for (size_t i = 0; i < sizeof suite / sizeof *suite; i++)
		run_case(suite[i], 0);
}

/* The S3 rule gives the same answers wherever the path needs no normalising. */
static void test_suite_s3_rule(void **state)
{
	for (size_t i = 0; i < sizeof suite / sizeof *suite; i++)
		if (!is_normalize_case(suite[i]) || !strcmp(suite[i], "get-space") ||
		    !strcmp(suite[i], "get-special-character"))
			run_case(suite[i], 1);
}

static char *creq_line2(const char *path, int s3)
{
	struct sigv4_auth a = {.signed_headers = "host", .amz_date = "20150830T123600Z"};
	struct sigv4_header h = {"Host", "x"};
	struct sigv4_request rq = {"GET", path, NULL, &h, 1, SIGV4_EMPTY_SHA256, s3};
	char *creq = NULL;
	if (sigv4_canonical_request(&rq, &a, &creq) < 0)
		return NULL;
	char *nl = strchr(creq + 4, '\n');
	*nl = 0;
	char *line = xstrdup(creq + 4);
	free(creq);
	return line;
}

/* S3 never normalises and encodes once; other services encode the raw path again. */
static void test_uri_rules(void **state)
{
	static const struct {
		const char *path;
		int s3;
		const char *want;
	} cases[] = {
	    {"//example//", 1, "//example//"},
	    {"/example1/example2/../..", 1, "/example1/example2/../.."},
	    {"/./example", 1, "/./example"},
	    {"/bkt/a%20b%2Bc", 1, "/bkt/a%20b%2Bc"},
	    {"/bkt/a+b", 1, "/bkt/a%2Bb"},
	    {"/bkt/%e1%88%b4", 1, "/bkt/%E1%88%B4"},
	    {"/bkt/a%2Fb", 1, "/bkt/a/b"},
	    {"/bkt/~x", 1, "/bkt/~x"},
	    {"/a%20b", 0, "/a%2520b"},
	    {"", 1, "/"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *got = creq_line2(cases[i].path, cases[i].s3);
		assert_non_null(got);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
	assert_null(creq_line2("/bkt/%zz", 1));
	assert_null(creq_line2("/bkt/%4", 1));
	assert_null(creq_line2("/bkt/%", 1));
}

/* The S3 documentation's GET Object example (header auth, Range signed). */
static void test_s3_get_object(void **state)
{
	struct sigv4_auth a;
	const char *authz =
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
	    "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
	    "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";
	assert_int_equal(sigv4_parse_header(authz, &a), 0);
	strcpy(a.amz_date, "20130524T000000Z");
	struct sigv4_header h[] = {
	    {"Host", "examplebucket.s3.amazonaws.com"},
	    {"Range", "bytes=0-9"},
	    {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
	    {"x-amz-date", "20130524T000000Z"},
	};
	struct sigv4_request rq = {"GET", "/test.txt", NULL, h, 4, SIGV4_EMPTY_SHA256, 1};
	assert_int_equal(sigv4_verify(&rq, &a, S3_SECRET, NULL), 0);
	assert_int_equal(sigv4_check_time(&a, 1369353600 + 60), 0);
	assert_int_equal(sigv4_check_time(&a, 1369353600 + 3600), -ETIME);
	assert_int_equal(sigv4_check_time(&a, 1369353600 - 3600), -ETIME);
	h[1].value = "bytes=0-10"; /* a signed header changed */
	assert_int_equal(sigv4_verify(&rq, &a, S3_SECRET, NULL), -EACCES);
	h[1].name = "X-Other"; /* a signed header missing */
	assert_int_equal(sigv4_verify(&rq, &a, S3_SECRET, NULL), -ENOENT);
}

/* The S3 documentation's presigned GET example, and its expiry. */
static void test_s3_presigned(void **state)
{
	const char *q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE"
	                "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
	                "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
	                "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
	struct sigv4_auth a;
	assert_int_equal(sigv4_parse_query(q, &a), 0);
	assert_true(a.presigned);
	assert_int_equal(a.expires, 86400);
	assert_string_equal(a.access, "AKIAIOSFODNN7EXAMPLE");
	struct sigv4_header h = {"Host", "examplebucket.s3.amazonaws.com"};
	struct sigv4_request rq = {"GET", "/test.txt", q, &h, 1, SIGV4_UNSIGNED, 1};
	assert_int_equal(sigv4_verify(&rq, &a, S3_SECRET, NULL), 0);
	time_t t0 = 1369353600;
	assert_int_equal(sigv4_check_time(&a, t0 + 86400), 0);
	assert_int_equal(sigv4_check_time(&a, t0 + 86401), -EKEYEXPIRED);
	assert_int_equal(sigv4_check_time(&a, t0 - 3600), -ETIME);
	rq.path = "/test2.txt";
	assert_int_equal(sigv4_verify(&rq, &a, S3_SECRET, NULL), -EACCES);
	assert_int_equal(sigv4_parse_query("a=1&b", &a), -ENOENT);
	assert_int_equal(sigv4_parse_query(NULL, &a), -ENOENT);
	assert_int_equal(sigv4_parse_query("X-Amz-Algorithm=AWS4-HMAC-SHA1", &a), -ENOTSUP);
	assert_int_equal(sigv4_parse_query("X-Amz-Algorithm=AWS4-HMAC-SHA256", &a), -EINVAL);
	/* expires beyond seven days; a seven-digit expiry */
	char *q2 = xstrdup(q);
	memcpy(strstr(q2, "X-Amz-Expires=86400") + 14, "90000", 5);
	assert_int_equal(sigv4_parse_query(q2, &a), 0);
	assert_int_equal(sigv4_check_time(&a, t0), 0);
	free(q2);
	q2 = xasprintf("%.*s604801%s", (int)(strstr(q, "86400") - q), q, strstr(q, "86400") + 5);
	assert_int_equal(sigv4_parse_query(q2, &a), 0);
	assert_int_equal(sigv4_check_time(&a, t0), -EINVAL);
	free(q2);
	q2 = xasprintf("%.*s6048010%s", (int)(strstr(q, "86400") - q), q, strstr(q, "86400") + 5);
	assert_int_equal(sigv4_parse_query(q2, &a), -EINVAL);
	free(q2);
}

static void test_parse_header_hostile(void **state)
{
	struct sigv4_auth a;
	static const char sig[] =
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";
	char ok[512];
	snprintf(ok, sizeof ok,
	         "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/service/aws4_request, "
	         "SignedHeaders=host;x-amz-date, Signature=%s",
	         sig);
	assert_int_equal(sigv4_parse_header(ok, &a), 0);
	assert_string_equal(a.region, "us-east-1");
	assert_string_equal(a.signed_headers, "host;x-amz-date");
	const char *bad[] = {
	    "",
	    "AWS4-HMAC-SHA256",
	    "AWS4-HMAC-SHA256 ",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/service/aws4_request",
	    "AWS4-HMAC-SHA256 Credential=AK/2015083/us-east-1/s/aws4_request, "
	    "SignedHeaders=host, Signature=00",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/service/aws5_request, "
	    "SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d"
	    "763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/US/service/aws4_request, "
	    "SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d"
	    "763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, "
	    "SignedHeaders=x-amz-date;host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host;host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=Host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host;, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, "
	    "Signature=5FA00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf3",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	    "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31, X=1",
	    "AWS4-HMAC-SHA256 Credential=A-K/20150830/r/s/aws4_request, SignedHeaders=host, "
	    "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(sigv4_parse_header(bad[i], &a), -EINVAL);
	assert_int_equal(sigv4_parse_header("AWS AK:sig", &a), -ENOTSUP);
	/* too many signed headers */
	char big[4096] = "AWS4-HMAC-SHA256 Credential=AK/20150830/r/s/aws4_request, SignedHeaders=";
	for (int i = 0; i < SIGV4_HEADERS_MAX + 1; i++)
		sprintf(big + strlen(big), "%sh%03d", i ? ";" : "", i);
	strcat(big, ", Signature=");
	strcat(big, sig);
	assert_int_equal(sigv4_parse_header(big, &a), -EINVAL);
}

/* ---- chunked upload: the S3 documentation's PUT Object example ---- */

static const char *const chunk_sigs[] = {
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
};

static void chunked_seed(struct sigv4_auth *a, uint8_t key[32])
{
	const char *authz =
	    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
	    "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
	    "x-amz-decoded-content-length;x-amz-storage-class,"
	    "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
	assert_int_equal(sigv4_parse_header(authz, a), 0);
	strcpy(a->amz_date, "20130524T000000Z");
	struct sigv4_header h[] = {
	    {"Host", "s3.amazonaws.com"},
	    {"x-amz-date", "20130524T000000Z"},
	    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
	    {"x-amz-content-sha256", SIGV4_STREAMING},
	    {"Content-Encoding", "aws-chunked"},
	    {"x-amz-decoded-content-length", "66560"},
	    {"Content-Length", "66824"},
	};
	struct sigv4_request rq = {
	    "PUT", "/examplebucket/chunkObject.txt", NULL, h, 7, SIGV4_STREAMING, 1};
	assert_int_equal(sigv4_verify(&rq, a, S3_SECRET, NULL), 0);
	sigv4_signing_key(S3_SECRET, a, key);
}

/* The example's body: 64 KiB of 'a', 1 KiB of 'a', the final chunk. */
static char *chunked_body(size_t *len)
{
	char *b = xmalloc(70000), *p = b;
	p += sprintf(p, "10000;chunk-signature=%s\r\n", chunk_sigs[0]);
	memset(p, 'a', 65536);
	p += 65536;
	p += sprintf(p, "\r\n400;chunk-signature=%s\r\n", chunk_sigs[1]);
	memset(p, 'a', 1024);
	p += 1024;
	p += sprintf(p, "\r\n0;chunk-signature=%s\r\n\r\n", chunk_sigs[2]);
	*len = (size_t)(p - b);
	return b;
}

struct sinkbuf {
	size_t n;
	int bad;
};

static int sink(void *arg, const void *data, size_t len)
{
	struct sinkbuf *s = arg;
	for (size_t i = 0; i < len; i++)
		if (((const char *)data)[i] != 'a')
			s->bad = 1;
	s->n += len;
	return 0;
}

static void test_chunked_example(void **state)
{
	struct sigv4_auth a;
	uint8_t key[32];
	size_t len;
	chunked_seed(&a, key);
	char *body = chunked_body(&len);
	assert_int_equal(len, 66824);
	/* whole, byte by byte, and in odd pieces */
	const size_t steps[] = {len, 1, 7, 4093};
	for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
		struct sinkbuf sb = {0};
		struct sigv4_chunks *c = sigv4_chunks_new(key, &a, sink, &sb);
		for (size_t off = 0; off < len; off += steps[s]) {
			size_t n = len - off < steps[s] ? len - off : steps[s];
			assert_int_equal(sigv4_chunks_feed(c, body + off, n), 0);
		}
		assert_int_equal(sigv4_chunks_finish(c, 66560), 0);
		assert_int_equal(sb.n, 66560);
		assert_false(sb.bad);
		assert_int_equal(sigv4_chunks_feed(c, "x", 1), -EPIPE);
		sigv4_chunks_free(c);
	}
	/* a flipped payload byte fails that chunk's signature */
	body[5000] = 'b';
	struct sigv4_chunks *c = sigv4_chunks_new(key, &a, NULL, NULL);
	assert_int_equal(sigv4_chunks_feed(c, body, len), -EACCES);
	assert_int_equal(sigv4_chunks_finish(c, 66560), -EACCES);
	sigv4_chunks_free(c);
	body[5000] = 'a';
	/* truncated before the final chunk; wrong decoded length */
	c = sigv4_chunks_new(key, &a, NULL, NULL);
	assert_int_equal(sigv4_chunks_feed(c, body, len - 90), 0);
	assert_int_equal(sigv4_chunks_finish(c, 66560), -EBADMSG);
	sigv4_chunks_free(c);
	c = sigv4_chunks_new(key, &a, NULL, NULL);
	assert_int_equal(sigv4_chunks_feed(c, body, len), 0);
	assert_int_equal(sigv4_chunks_finish(c, 66561), -EBADMSG);
	sigv4_chunks_free(c);
	free(body);
}

static void test_chunked_hostile(void **state)
{
	struct sigv4_auth a;
	uint8_t key[32];
	chunked_seed(&a, key);
	char longhdr[400];
	memset(longhdr, '0', sizeof longhdr);
	static const struct {
		const char *in;
		int rc;
	} cases[] = {
	    {"zz;chunk-signature=", -EBADMSG},
	    {"10;chunk-signature=abc\r\n", -EBADMSG},
	    {"10;chunk-signatur="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
	     -EBADMSG},
	    {"10\r\n", -EBADMSG},
	    {"\r\n", -EBADMSG},
	    {"10;chunk-signature="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\n",
	     -EBADMSG},
	    {"123456789;chunk-signature="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
	     -EBADMSG},
	    {"1000001;chunk-signature="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
	     -EFBIG},
	    {"1;chunk-signature="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
	     "x",
	     -EACCES},
	    {"0;chunk-signature="
	     "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n",
	     -EACCES},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct sigv4_chunks *c = sigv4_chunks_new(key, &a, NULL, NULL);
		int rc = sigv4_chunks_feed(c, cases[i].in, strlen(cases[i].in));
		if (rc == 0)
			rc = sigv4_chunks_finish(c, -1);
		assert_int_equal(rc, cases[i].rc);
		sigv4_chunks_free(c);
	}
	/* a header line without end is cut at SIGV4_CHUNK_HEADER_MAX */
	struct sigv4_chunks *c = sigv4_chunks_new(key, &a, NULL, NULL);
	assert_int_equal(sigv4_chunks_feed(c, longhdr, sizeof longhdr), -EBADMSG);
	sigv4_chunks_free(c);
}

static void test_encode(void **state)
{
	char *e = sigv4_uri_encode("a b/~-_.*+=\xe1\x88\xb4", 14, 0);
	assert_string_equal(e, "a%20b%2F~-_.%2A%2B%3D%E1%88%B4");
	free(e);
	assert_true(sigv4_equal(chunk_sigs[0], chunk_sigs[0]));
	assert_false(sigv4_equal(chunk_sigs[0], chunk_sigs[1]));
	assert_false(sigv4_equal(chunk_sigs[0], "ad80"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suite_services),  cmocka_unit_test(test_suite_s3_rule),
	    cmocka_unit_test(test_uri_rules),       cmocka_unit_test(test_s3_get_object),
	    cmocka_unit_test(test_s3_presigned),    cmocka_unit_test(test_parse_header_hostile),
	    cmocka_unit_test(test_chunked_example), cmocka_unit_test(test_chunked_hostile),
	    cmocka_unit_test(test_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

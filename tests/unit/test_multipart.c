/* The streaming multipart/form-data parser with well-formed and hostile bodies, fed
 * whole, a byte at a time and split at every offset: the same parts and bytes come out,
 * bounds hold, and a malformed body is refused rather than misread. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/multipart.h"

/* What the callbacks saw, as text: "[name|filename|ctype]data" per part; "!" when the
 * part never ended. */
struct seen {
	char out[1 << 21];
	size_t len;
	int open;
	size_t biggest; /* largest data piece */
	int stop_at;    /* part_begin number that returns -EPERM (0: none) */
	int parts;
};

static void put(struct seen *s, const char *p, size_t n)
{
	assert_true(s->len + n < sizeof(s->out));
	memcpy(s->out + s->len, p, n);
	s->len += n;
	s->out[s->len] = '\0';
}

static int on_begin(void *arg, const struct multipart_part *p)
{
	struct seen *s = arg;
	assert_false(s->open);
	s->open = 1;
	if (++s->parts == s->stop_at)
		return -EPERM;
	char h[2048];
	snprintf(h, sizeof(h), "[%s%s|%s%s|%s]", p->form_data ? "" : "~", p->name,
	         p->has_filename ? "" : "-", p->filename, p->content_type);
	put(s, h, strlen(h));
	return 0;
}

static int on_data(void *arg, const char *d, size_t n)
{
	struct seen *s = arg;
	assert_true(s->open);
	assert_true(n > 0);
	if (n > s->biggest)
		s->biggest = n;
	put(s, d, n);
	return 0;
}

static int on_end(void *arg)
{
	struct seen *s = arg;
	assert_true(s->open);
	s->open = 0;
	put(s, "\n", 1);
	return 0;
}

static const struct multipart_cb cb = {on_begin, on_data, on_end};

/* Feeds body in pieces of `step` bytes (0: whole), or split once at `at`. */
static int parse(const char *boundary, const char *body, size_t n, size_t step, size_t at,
                 struct seen *s, int *done)
{
	memset(s, 0, sizeof(*s) - sizeof(s->stop_at) - sizeof(s->parts));
	s->parts = 0;
	struct multipart *m = multipart_new(boundary, &cb, s);
	assert_non_null(m);
	int rc = 0;
	if (at) {
		rc = multipart_feed(m, body, at);
		if (!rc)
			rc = multipart_feed(m, body + at, n - at);
	} else
		for (size_t i = 0; i < n && !rc; i += step ? step : n)
			rc = multipart_feed(m, body + i, step && n - i > step ? step : n - i);
	*done = multipart_done(m);
	multipart_free(m);
	return rc;
}

#define TEMPEST_BODY                                                                               \
	"----boundary--\r\n"                                                                       \
	"Content-Disposition: form-data; name=\"redirect\"\r\n\r\n"                                \
	"\r\n"                                                                                     \
	"----boundary--\r\n"                                                                       \
	"Content-Disposition: form-data; name=\"max_file_size\"\r\n\r\n"                           \
	"104857600\r\n"                                                                            \
	"----boundary--\r\n"                                                                       \
	"Content-Disposition: form-data; name=\"file1\"; filename=\"testfile\"\r\n"                \
	"Content-Type: application/octet-stream\r\n\r\n"                                           \
	"hello world\r\n"                                                                          \
	"----boundary----\r\n"

static const char tempest_want[] = "[redirect|-|]\n"
                                   "[max_file_size|-|]104857600\n"
                                   "[file1|testfile|application/octet-stream]hello world\n";

static void whole_bytewise_and_split_agree(void **state)
{
	static struct seen s;
	const char *body = TEMPEST_BODY;
	size_t n = strlen(body);
	int done;
	assert_int_equal(parse("--boundary--", body, n, 0, 0, &s, &done), 0);
	assert_string_equal(s.out, tempest_want);
	assert_true(done);
	assert_int_equal(parse("--boundary--", body, n, 1, 0, &s, &done), 0);
	assert_string_equal(s.out, tempest_want);
	assert_true(done);
	for (size_t at = 1; at < n; at++) {
		assert_int_equal(parse("--boundary--", body, n, 0, at, &s, &done), 0);
		assert_string_equal(s.out, tempest_want);
		assert_true(done);
	}
}

static void boundary_lookalikes_stay_data(void **state)
{
	static struct seen s;
	/* a delimiter's prefix, the boundary without its CRLF, CRs and dashes in the data */
	const char body[] = "--B\r\n"
	                    "Content-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n"
	                    "a\r\n--Bx is not it\r\n-\r\n--\r--B--B\r\n\r\n--"
	                    "\r\n--B--";
	int done;
	for (size_t step = 1; step < 8; step++) {
		assert_int_equal(parse("B", body, sizeof(body) - 1, step, 0, &s, &done), -EINVAL);
	}
	/* "\r\n--Bx" is a delimiter followed by garbage: RFC 2046 forbids the boundary in
	 * the data, so that is refused; without it everything else is data */
	const char ok[] = "--B\r\n"
	                  "Content-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n"
	                  "a\r\n-B\r\n-\r\n--\r--B--B\r\n\r\n--\r\n"
	                  "\r\n--B--";
	for (size_t step = 0; step < 8; step++) {
		assert_int_equal(parse("B", ok, sizeof(ok) - 1, step, 0, &s, &done), 0);
		assert_string_equal(s.out, "[f|x|]a\r\n-B\r\n-\r\n--\r--B--B\r\n\r\n--\r\n\n");
		assert_true(done);
	}
}

static void preamble_padding_and_epilogue(void **state)
{
	static struct seen s;
	const char body[] = "this is a preamble\r\n--xy \t\r\n"
	                    "content-disposition: FORM-DATA ; name = tok ;\r\n\r\n"
	                    "v\r\n--xy--\r\nepilogue --xy\r\n";
	int done;
	assert_int_equal(parse("xy", body, sizeof(body) - 1, 0, 0, &s, &done), 0);
	assert_string_equal(s.out, "[tok|-|]v\n");
	assert_true(done);
	/* a part without headers; an empty body */
	const char bare[] = "--xy\r\n\r\n\r\n--xy\r\n\r\nz\r\n--xy--";
	assert_int_equal(parse("xy", bare, sizeof(bare) - 1, 0, 0, &s, &done), 0);
	assert_string_equal(s.out, "[~|-|]\n[~|-|]z\n");
	assert_int_equal(parse("xy", "", 0, 0, 0, &s, &done), 0);
	assert_false(done);
}

static void truncated_bodies_are_not_done(void **state)
{
	static struct seen s;
	const char *body = TEMPEST_BODY;
	size_t n = strlen(body) - strlen("----\r\n") - 2; /* cut inside the last delimiter */
	int done;
	assert_int_equal(parse("--boundary--", body, n, 0, 0, &s, &done), 0);
	assert_false(done);
	assert_true(s.open); /* the file part never ended: its writer must abort */
	assert_null(strstr(s.out, "hello world\n"));
}

static void quoted_parameters(void **state)
{
	static struct seen s;
	const char body[] = "--b\r\nContent-Disposition: form-data; filename=\"a\\\"b;c=d\"; "
	                    "name=\"n\\\\\"\r\nContent-Type:  text/plain ; charset=x \r\n\r\n"
	                    "1\r\n--b--";
	int done;
	assert_int_equal(parse("b", body, sizeof(body) - 1, 0, 0, &s, &done), 0);
	assert_string_equal(s.out, "[n\\|a\"b;c=d|text/plain ; charset=x]1\n");
	const char *bad[] = {
	    "--b\r\nContent-Disposition: form-data; name=\"open\r\n\r\nx\r\n--b--",
	    "--b\r\nno colon here\r\n\r\nx\r\n--b--",
	    "--b\r\n: empty name\r\n\r\nx\r\n--b--",
	    "--b\r\nContent-Disposition: form-data; name\r\n\r\nx\r\n--b--",
	    "--b\r\nContent-Disposition: form-data; name=\"a\"junk\r\n\r\nx\r\n--b--",
	    "--b junk\r\n\r\nx\r\n--b--",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(parse("b", bad[i], strlen(bad[i]), 0, 0, &s, &done), -EINVAL);
	/* a NUL inside the headers */
	const char nul[] = "--b\r\nContent-Type: a\0b\r\n\r\nx\r\n--b--";
	assert_int_equal(parse("b", nul, sizeof(nul) - 1, 0, 0, &s, &done), -EINVAL);
}

static void bounds(void **state)
{
	static struct seen s;
	static char body[200000];
	int done;
	/* a name, a filename and a content type one byte over their bounds */
	const struct {
		const char *fmt;
		int len;
	} over[] = {
	    {"--b\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\nx\r\n--b--",
	     MULTIPART_MAX_NAME + 1},
	    {"--b\r\nContent-Disposition: form-data; filename=\"%s\"\r\n\r\nx\r\n--b--",
	     MULTIPART_MAX_FILENAME + 1},
	    {"--b\r\nContent-Disposition: form-data; filename=%s\r\n\r\nx\r\n--b--",
	     MULTIPART_MAX_FILENAME + 1},
	    {"--b\r\nContent-Type: %s\r\n\r\nx\r\n--b--", MULTIPART_MAX_VALUE + 1},
	};
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		char v[2000];
		memset(v, 'n', (size_t)over[i].len);
		v[over[i].len] = '\0';
		int n = snprintf(body, sizeof(body), over[i].fmt, v);
		assert_int_equal(parse("b", body, (size_t)n, 0, 0, &s, &done), -E2BIG);
		v[over[i].len - 1] = '\0'; /* at the bound: fine */
		n = snprintf(body, sizeof(body), over[i].fmt, v);
		assert_int_equal(parse("b", body, (size_t)n, 7, 0, &s, &done), 0);
	}
	/* a header block without its end */
	int n = snprintf(body, sizeof(body), "--b\r\nX-Pad: ");
	memset(body + n, 'p', 100000);
	assert_int_equal(parse("b", body, (size_t)n + 100000, 4096, 0, &s, &done), -EINVAL);
	/* no boundary at all: refused once past the preamble bound, not buffered forever */
	memset(body, 'z', sizeof(body));
	assert_int_equal(parse("b", body, sizeof(body), 1000, 0, &s, &done), -EINVAL);
	/* a big file: every byte delivered, in pieces no larger than the buffer */
	n = snprintf(body, sizeof(body),
	             "--b\r\nContent-Disposition: form-data; name=f; "
	             "filename=f\r\n\r\n");
	for (int i = 0; i < 150000; i++)
		body[n + i] = (char)('a' + i % 26);
	memcpy(body + n + 150000, "\r\n--b--", 7);
	assert_int_equal(parse("b", body, (size_t)n + 150007, 50000, 0, &s, &done), 0);
	assert_true(done);
	assert_int_equal(s.len, strlen("[f|f|]") + 150000 + 1);
	assert_true(s.biggest <= MULTIPART_BUF + 5);
}

static void a_callback_stops_the_parse(void **state)
{
	static struct seen s;
	s.stop_at = 2;
	const char *body = TEMPEST_BODY;
	int done;
	struct multipart *m = multipart_new("--boundary--", &cb, &s);
	memset(s.out, 0, 16);
	s.len = 0;
	s.parts = 0;
	s.open = 0;
	assert_int_equal(multipart_feed(m, body, strlen(body)), -EPERM);
	assert_int_equal(multipart_feed(m, "x", 1), -EPERM); /* sticks */
	done = multipart_done(m);
	assert_false(done);
	multipart_free(m);
	s.stop_at = 0;
}

static void boundary_parameter(void **state)
{
	char b[MULTIPART_MAX_BOUNDARY + 1];
	assert_int_equal(multipart_boundary("multipart/form-data; boundary=--boundary--", b), 0);
	assert_string_equal(b, "--boundary--");
	assert_int_equal(multipart_boundary("Multipart/Form-Data;charset=x;BOUNDARY=\"a b\"", b),
	                 0);
	assert_string_equal(b, "a b");
	assert_int_equal(multipart_boundary(" multipart/form-data ; boundary = q ", b), 0);
	assert_string_equal(b, "q");
	char long_b[200];
	snprintf(long_b, sizeof(long_b), "multipart/form-data; boundary=%071d", 0);
	const char *bad[] = {NULL,
	                     "",
	                     "multipart/mixed; boundary=x",
	                     "multipart/form-data",
	                     "multipart/form-data; boundary=",
	                     "multipart/form-data; boundary=\"\"",
	                     "multipart/form-data; boundary=\"a \"",
	                     "multipart/form-data; boundary=a<b",
	                     "multipart/form-data; boundary=\"unterminated",
	                     "multipart/form-data; boundary",
	                     "multipart/form-datax; boundary=x",
	                     "text/plain",
	                     long_b};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(multipart_boundary(bad[i], b), -EINVAL);
	long_b[strlen(long_b) - 1] = '\0'; /* 70: the bound */
	assert_int_equal(multipart_boundary(long_b, b), 0);
	assert_null(multipart_new("", &cb, NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(whole_bytewise_and_split_agree),
	    cmocka_unit_test(boundary_lookalikes_stay_data),
	    cmocka_unit_test(preamble_padding_and_epilogue),
	    cmocka_unit_test(truncated_bodies_are_not_done),
	    cmocka_unit_test(quoted_parameters),
	    cmocka_unit_test(bounds),
	    cmocka_unit_test(a_callback_stops_the_parse),
	    cmocka_unit_test(boundary_parameter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

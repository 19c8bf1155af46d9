/* libFuzzer target: the streaming multipart/form-data parser of the form POST
 * (object-store/multipart.c). The input is "boundary\nbody"; the body is parsed whole and
 * again in pieces of a size taken from the first byte. Both must give the same events
 * (the parser does not depend on how the bytes arrive), callbacks must nest (data only
 * inside a part), and every string must honour its bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "object-store/multipart.h"

struct trace {
	unsigned char *out;
	size_t len, cap;
	int open;
};

static void add(struct trace *t, const void *p, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->len + n) * 2 + 64;
		t->out = realloc(t->out, t->cap);
		if (!t->out)
			abort();
	}
	memcpy(t->out + t->len, p, n);
	t->len += n;
}

static int on_begin(void *arg, const struct multipart_part *p)
{
	struct trace *t = arg;
	if (t->open || strlen(p->name) > MULTIPART_MAX_NAME ||
	    strlen(p->filename) > MULTIPART_MAX_FILENAME ||
	    strlen(p->content_type) > MULTIPART_MAX_VALUE ||
	    strlen(p->content_encoding) > MULTIPART_MAX_VALUE)
		abort();
	t->open = 1;
	add(t, "B", 1);
	add(t, p, sizeof(*p));
	return 0;
}

static int on_data(void *arg, const char *d, size_t n)
{
	struct trace *t = arg;
	if (!t->open || n == 0)
		abort();
	add(t, d, n); /* pieces may differ: only their concatenation is compared */
	return 0;
}

static int on_end(void *arg)
{
	struct trace *t = arg;
	if (!t->open)
		abort();
	t->open = 0;
	add(t, "E", 1);
	return 0;
}

static const struct multipart_cb cb = {on_begin, on_data, on_end};

static int run(const char *boundary, const uint8_t *body, size_t n, size_t step, struct trace *t,
               int *done)
{
	struct multipart *m = multipart_new(boundary, &cb, t);
	if (!m)
		return 1;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i += step)
		rc = multipart_feed(m, (const char *)body + i, n - i < step ? n - i : step);
	*done = multipart_done(m);
	multipart_free(m);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t step = (size_t)data[0] + 1;
	const uint8_t *nl = memchr(data + 1, '\n', size - 1);
	if (!nl)
		return 0;
	size_t bl = (size_t)(nl - (data + 1));
	if (bl == 0 || bl > MULTIPART_MAX_BOUNDARY || memchr(data + 1, '\0', bl))
		return 0;
	char boundary[MULTIPART_MAX_BOUNDARY + 1];
	memcpy(boundary, data + 1, bl);
	boundary[bl] = '\0';
	/* the Content-Type parser too, on the same bytes */
	char ct[MULTIPART_MAX_BOUNDARY + 64], out[MULTIPART_MAX_BOUNDARY + 1];
	memcpy(ct, "multipart/form-data; boundary=", 30);
	memcpy(ct + 30, boundary, bl + 1);
	if (multipart_boundary(ct, out) == 0 && strlen(out) > MULTIPART_MAX_BOUNDARY)
		abort();
	const uint8_t *body = nl + 1;
	size_t n = size - (size_t)(body - data);
	struct trace a = {0}, b = {0};
	int da, db;
	int ra = run(boundary, body, n, n ? n : 1, &a, &da);
	int rb = run(boundary, body, n, step, &b, &db);
	/* same outcome, same events and bytes; a failed parse may stop at different points
	 * inside the last piece only in how much data it passed on, so compare the parts
	 * both saw end */
	if (ra != rb || da != db)
		abort();
	if (ra == 0 && (a.len != b.len || (a.len && memcmp(a.out, b.out, a.len))))
		abort();
	free(a.out);
	free(b.out);
	return 0;
}

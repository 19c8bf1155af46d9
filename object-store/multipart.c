/* The streaming multipart/form-data parser: a bounded buffer and four states. The
 * buffer starts with a CRLF of our own, so the first boundary line is found like every
 * later delimiter ("\r\n--B"), whether the body begins with it or with a preamble. */
#include "multipart.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

#define MULTIPART_MAX_PREAMBLE MULTIPART_BUF
#define MULTIPART_MAX_PADDING 64 /* blanks after a boundary before its line ends */

enum mp_state { MP_PREAMBLE, MP_AFTER_DELIM, MP_HEADERS, MP_DATA, MP_DONE, MP_FAILED };

struct multipart {
	const struct multipart_cb *cb;
	void *arg;
	char delim[4 + MULTIPART_MAX_BOUNDARY + 1]; /* "\r\n--" boundary */
	size_t dlen;
	enum mp_state st;
	int started, rc;
	size_t skipped; /* preamble bytes dropped */
	char *buf;
	size_t len, cap;
};

/* RFC 2046's bchars, and the space (not last) */
static int bchar(int c)
{
	return isalnum(c) || strchr("'()+_,-./:=? ", c);
}

int multipart_boundary(const char *ct, char out[MULTIPART_MAX_BOUNDARY + 1])
{
	static const char type[] = "multipart/form-data";
	out[0] = '\0';
	if (!ct)
		return -EINVAL;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	if (strncasecmp(ct, type, sizeof(type) - 1))
		return -EINVAL;
	const char *p = ct + sizeof(type) - 1;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (*p != ';')
			return -EINVAL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		const char *k = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		size_t klen = (size_t)(p - k);
		while (klen && (k[klen - 1] == ' ' || k[klen - 1] == '\t'))
			klen--;
		if (*p != '=')
			return -EINVAL;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		char val[MULTIPART_MAX_BOUNDARY + 1];
		size_t n = 0;
		int over = 0;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (n < MULTIPART_MAX_BOUNDARY)
					val[n++] = *p;
				else
					over = 1;
			}
			if (*p != '"')
				return -EINVAL;
			p++;
		} else
			for (; *p && *p != ';' && *p != ' ' && *p != '\t'; p++) {
				if (n < MULTIPART_MAX_BOUNDARY)
					val[n++] = *p;
				else
					over = 1;
			}
		val[n] = '\0';
		if (klen == 8 && !strncasecmp(k, "boundary", 8)) {
			if (over || n == 0 || val[n - 1] == ' ')
				return -EINVAL;
			for (size_t i = 0; i < n; i++)
				if (!bchar((unsigned char)val[i]))
					return -EINVAL;
			memcpy(out, val, n + 1);
		}
	}
	return out[0] ? 0 : -EINVAL;
}

struct multipart *multipart_new(const char *boundary, const struct multipart_cb *cb, void *arg)
{
	size_t bl = strlen(boundary);
	if (bl == 0 || bl > MULTIPART_MAX_BOUNDARY)
		return NULL;
	struct multipart *m = xcalloc(1, sizeof(*m));
	m->cb = cb;
	m->arg = arg;
	memcpy(m->delim, "\r\n--", 4);
	memcpy(m->delim + 4, boundary, bl + 1);
	m->dlen = 4 + bl;
	m->cap = MULTIPART_BUF + m->dlen;
	m->buf = xmalloc(m->cap);
	memcpy(m->buf, "\r\n", 2);
	m->len = 2;
	return m;
}

void multipart_free(struct multipart *m)
{
	if (!m)
		return;
	free(m->buf);
	free(m);
}

int multipart_done(const struct multipart *m)
{
	return m->st == MP_DONE;
}

int multipart_started(const struct multipart *m)
{
	return m->started;
}

static void consume(struct multipart *m, size_t k)
{
	memmove(m->buf, m->buf + k, m->len - k);
	m->len -= k;
}

/* ------------------------------------------------------------------ part headers */

/* Copies s[0..n) trimmed into out (max bytes + NUL). 0 or -E2BIG. */
static int copy_value(const char *s, size_t n, char *out, size_t max)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > max)
		return -E2BIG;
	memcpy(out, s, n);
	out[n] = '\0';
	return 0;
}

/* Content-Disposition: form-data; name="a"; filename="b" (values quoted, with \-escapes,
 * or bare tokens). 0, -EINVAL or -E2BIG. */
static int disposition_parse(const char *s, size_t n, struct multipart_part *p)
{
	const char *end = s + n, *semi = memchr(s, ';', n);
	char type[32];
	size_t tl = semi ? (size_t)(semi - s) : n;
	if (copy_value(s, tl, type, sizeof(type) - 1) < 0)
		return -EINVAL;
	p->form_data = !strcasecmp(type, "form-data");
	const char *q = semi;
	while (q && q < end) {
		q++; /* past ';' */
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		const char *k = q;
		while (q < end && *q != '=' && *q != ';')
			q++;
		size_t kl = (size_t)(q - k);
		while (kl && (k[kl - 1] == ' ' || k[kl - 1] == '\t'))
			kl--;
		if (q >= end || *q != '=') {
			if (kl == 0 && q >= end)
				break; /* a trailing ';' */
			return -EINVAL;
		}
		q++;
		while (q < end && (*q == ' ' || *q == '\t'))
			q++;
		char val[MULTIPART_MAX_FILENAME + 1];
		size_t vl = 0;
		int over = 0;
		if (q < end && *q == '"') {
			for (q++; q < end && *q != '"'; q++) {
				if (*q == '\\' && q + 1 < end)
					q++;
				if (vl < MULTIPART_MAX_FILENAME)
					val[vl++] = *q;
				else
					over = 1;
			}
			if (q >= end)
				return -EINVAL; /* unterminated quote */
			q++;
			while (q < end && (*q == ' ' || *q == '\t'))
				q++;
			if (q < end && *q != ';')
				return -EINVAL;
		} else {
			const char *v = q;
			while (q < end && *q != ';')
				q++;
			size_t l = (size_t)(q - v);
			while (l && (v[l - 1] == ' ' || v[l - 1] == '\t'))
				l--;
			if (l > MULTIPART_MAX_FILENAME)
				over = 1;
			else
				memcpy(val, v, vl = l);
		}
		val[vl] = '\0';
		if (kl == 4 && !strncasecmp(k, "name", 4)) {
			if (over || vl > MULTIPART_MAX_NAME)
				return -E2BIG;
			memcpy(p->name, val, vl + 1);
		} else if (kl == 8 && !strncasecmp(k, "filename", 8)) {
			if (over)
				return -E2BIG;
			memcpy(p->filename, val, vl + 1);
			p->has_filename = 1;
		}
	}
	return 0;
}

/* The header block s[0..n) (lines joined by CRLF, no final CRLF) into p. */
static int headers_parse(const char *s, size_t n, struct multipart_part *p)
{
	memset(p, 0, sizeof(*p));
	if (memchr(s, '\0', n))
		return -EINVAL;
	const char *end = s + n;
	while (s < end) {
		const char *eol = s;
		while (eol + 1 < end && !(eol[0] == '\r' && eol[1] == '\n'))
			eol++;
		if (eol + 1 >= end)
			eol = end;
		const char *colon = memchr(s, ':', (size_t)(eol - s));
		if (!colon || colon == s)
			return -EINVAL;
		size_t kl = (size_t)(colon - s);
		const char *v = colon + 1;
		size_t vl = (size_t)(eol - v);
		int rc = 0;
		if (kl == 19 && !strncasecmp(s, "Content-Disposition", kl))
			rc = disposition_parse(v, vl, p);
		else if (kl == 12 && !strncasecmp(s, "Content-Type", kl))
			rc = copy_value(v, vl, p->content_type, MULTIPART_MAX_VALUE);
		else if (kl == 16 && !strncasecmp(s, "Content-Encoding", kl))
			rc = copy_value(v, vl, p->content_encoding, MULTIPART_MAX_VALUE);
		if (rc < 0)
			return rc;
		s = eol == end ? end : eol + 2;
	}
	return 0;
}

/* ------------------------------------------------------------------ the states */

/* Runs the states over the buffer as far as its bytes go. 0, or the parse's error. */
static int process(struct multipart *m)
{
	for (;;) {
		switch (m->st) {
		case MP_PREAMBLE:
		case MP_DATA: {
			char *at = memmem(m->buf, m->len, m->delim, m->dlen);
			size_t upto = at                  ? (size_t)(at - m->buf)
			              : m->len >= m->dlen ? m->len - (m->dlen - 1)
			                                  : 0;
			if (upto && m->st == MP_DATA) {
				int rc = m->cb->part_data(m->arg, m->buf, upto);
				if (rc)
					return rc;
			}
			if (m->st == MP_PREAMBLE && (m->skipped += upto) > MULTIPART_MAX_PREAMBLE)
				return -EINVAL;
			if (!at) {
				consume(m, upto);
				return 0;
			}
			if (m->st == MP_DATA) {
				int rc = m->cb->part_end(m->arg);
				if (rc)
					return rc;
			}
			m->started = 1;
			consume(m, upto + m->dlen);
			m->st = MP_AFTER_DELIM;
			break;
		}
		case MP_AFTER_DELIM: {
			size_t i = 0;
			while (i < m->len && (m->buf[i] == ' ' || m->buf[i] == '\t'))
				i++;
			if (i > MULTIPART_MAX_PADDING)
				return -EINVAL;
			if (m->len - i < 2)
				return 0;
			if (!memcmp(m->buf + i, "--", 2))
				m->st = MP_DONE;
			else if (!memcmp(m->buf + i, "\r\n", 2))
				m->st = MP_HEADERS;
			else
				return -EINVAL;
			consume(m, i + 2);
			break;
		}
		case MP_HEADERS: {
			size_t hl;
			if (m->len >= 2 && !memcmp(m->buf, "\r\n", 2))
				hl = 0; /* no headers */
			else {
				char *eoh = memmem(m->buf, m->len, "\r\n\r\n", 4);
				if (!eoh)
					return m->len > MULTIPART_MAX_HEADERS ? -EINVAL : 0;
				hl = (size_t)(eoh - m->buf);
				if (hl > MULTIPART_MAX_HEADERS)
					return -EINVAL;
			}
			struct multipart_part p;
			int rc = headers_parse(m->buf, hl, &p);
			if (rc)
				return rc;
			consume(m, hl ? hl + 4 : 2);
			m->st = MP_DATA;
			if ((rc = m->cb->part_begin(m->arg, &p)))
				return rc;
			break;
		}
		case MP_DONE:
			m->len = 0; /* the epilogue is dropped */
			return 0;
		case MP_FAILED:
			return m->rc;
		}
	}
}

int multipart_feed(struct multipart *m, const char *data, size_t n)
{
	if (m->st == MP_FAILED)
		return m->rc;
	do {
		size_t k = m->cap - m->len < n ? m->cap - m->len : n;
		memcpy(m->buf + m->len, data, k);
		m->len += k;
		data += k;
		n -= k;
		int rc = process(m);
		if (rc) {
			m->st = MP_FAILED;
			m->rc = rc;
			return rc;
		}
	} while (n > 0);
	return 0;
}

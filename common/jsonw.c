/* The streaming JSON writer. */
#include "jsonw.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static void grow_slow(struct jsonw *w, size_t need)
{
	size_t cap = w->cap ? w->cap : 256;
	while (cap < w->len + need + 1)
		cap *= 2;
	char *b = realloc(w->buf, cap);
	if (!b)
		abort(); /* allocation failure aborts, as xmalloc does */
	w->buf = b;
	w->cap = cap;
}

static inline void grow(struct jsonw *w, size_t need)
{
	if (w->len + need + 1 > w->cap)
		grow_slow(w, need);
}

static inline void put(struct jsonw *w, const char *s, size_t n)
{
	grow(w, n);
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	w->buf[w->len] = '\0';
}

static inline void putc1(struct jsonw *w, char c)
{
	grow(w, 1);
	w->buf[w->len++] = c;
	w->buf[w->len] = '\0';
}

void jsonw_init(struct jsonw *w, size_t hint)
{
	memset(w, 0, sizeof(*w));
	grow(w, hint ? hint : 256);
	w->buf[0] = '\0';
}

void jsonw_release(struct jsonw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

char *jsonw_detach(struct jsonw *w, size_t *len)
{
	char *b = w->buf;
	if (len)
		*len = w->len;
	memset(w, 0, sizeof(*w));
	return b;
}

/* Before any value or key: the comma that separates it from its predecessor. */
static void sep(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth - 1])
			putc1(w, ',');
		w->first[w->depth - 1] = 0;
	}
}

static void open(struct jsonw *w, char c)
{
	sep(w);
	putc1(w, c);
	if (w->depth < JSONW_DEPTH)
		w->first[w->depth] = 1;
	w->depth++;
}

static void close_(struct jsonw *w, char c)
{
	putc1(w, c);
	if (w->depth > 0)
		w->depth--;
}

void jsonw_obj_begin(struct jsonw *w)
{
	open(w, '{');
}
void jsonw_obj_end(struct jsonw *w)
{
	close_(w, '}');
}
void jsonw_arr_begin(struct jsonw *w)
{
	open(w, '[');
}
void jsonw_arr_end(struct jsonw *w)
{
	close_(w, ']');
}

/* ---- strings: validated and escaped in one pass, eight bytes at a time ---- */

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load8(const unsigned char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Nonzero when one of the eight bytes in v is not plain ASCII: below 0x20, '"', '\\'
 * or 0x80 and above. Never zero when one is (the classic "has a zero byte" test,
 * whose false positives only cost the byte-wise look that follows). */
static inline uint64_t special8(uint64_t v)
{
	uint64_t quote = v ^ (ONES * '"'), bslash = v ^ (ONES * '\\');
	uint64_t ctl = (v - ONES * 0x20) & ~v;
	quote = (quote - ONES) & ~quote;
	bslash = (bslash - ONES) & ~bslash;
	return (ctl | quote | bslash | v) & HIGHS;
}

/* What a byte asks of the writer. */
enum { B_PLAIN, B_ESCAPE, B_HIGH };
static const unsigned char byte_class[256] = {
    [0 ... 0x1f] = B_ESCAPE,
    ['"'] = B_ESCAPE,
    ['\\'] = B_ESCAPE,
    [0x80 ... 0xff] = B_HIGH,
};

/* Length of the valid UTF-8 sequence (2-4 bytes) s[0..) starts, as jansson accepts it
 * (no overlong forms, no surrogates, nothing past U+10FFFF), within avail bytes; 0
 * when it is not one. */
static size_t utf8_seq(const unsigned char *s, size_t avail)
{
	unsigned c = s[0];
	size_t k;
	unsigned cp, min;
	if (c >= 0xc2 && c <= 0xdf) {
		k = 1, cp = c & 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 2, cp = c & 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 3, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (avail <= k)
		return 0;
	for (size_t j = 1; j <= k; j++) {
		if ((s[j] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[j] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

int jsonw_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		if (i + 8 <= n) {
			uint64_t v = load8(s + i);
			if (!((v | ((v - ONES) & ~v)) & HIGHS)) { /* ASCII, no NUL */
				i += 8;
				continue;
			}
		}
		unsigned c = s[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k = utf8_seq(s + i, n - i);
		if (!k)
			return 0;
		i += k;
	}
	return 1;
}

/* Writes the escape of c (a B_ESCAPE byte) as jansson's dumper does without flags: the
 * two-character forms for \" \\ \b \f \n \r \t, \u00XX for other control characters. */
static void put_escape(struct jsonw *w, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	static const char two[256] = {['"'] = '"',  ['\\'] = '\\', ['\b'] = 'b', ['\f'] = 'f',
	                              ['\n'] = 'n', ['\r'] = 'r',  ['\t'] = 't'};
	char e[6] = {'\\', two[c], 0};
	if (e[1]) {
		put(w, e, 2);
		return;
	}
	memcpy(e + 1, "u00", 3);
	e[4] = hex[c >> 4];
	e[5] = hex[c & 15];
	put(w, e, 6);
}

/* Writes s[0..n) as a JSON string. With validate, a string that is not valid UTF-8
 * (or holds a NUL) is written as "" instead, as jansson refuses it; without, bytes
 * from 0x80 are copied as they are. One pass: plain runs are found eight bytes at a
 * time and copied whole. */
static void put_string(struct jsonw *w, const char *str, size_t n, int validate)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t start = w->len, i = 0, run = 0; /* run: first byte not yet copied */
	grow(w, n + 2);
	w->buf[w->len++] = '"';
	while (i < n) {
		if (i + 8 <= n && !special8(load8(s + i))) {
			i += 8;
			continue;
		}
		unsigned char c = s[i];
		switch (byte_class[c]) {
		case B_PLAIN:
			i++;
			continue;
		case B_HIGH: {
			size_t k = validate ? utf8_seq(s + i, n - i) : 1;
			if (!k)
				goto invalid;
			i += k;
			continue;
		}
		default:
			if (c == 0 && validate)
				goto invalid;
			put(w, str + run, i - run);
			put_escape(w, c);
			run = ++i;
		}
	}
	put(w, str + run, n - run);
	putc1(w, '"');
	return;
invalid:
	w->len = start;
	put(w, "\"\"", 2);
}

void jsonw_key(struct jsonw *w, const char *k)
{
	sep(w);
	put_string(w, k, strlen(k), 0);
	putc1(w, ':');
	w->after_key = 1;
}

void jsonw_strn(struct jsonw *w, const char *s, size_t n)
{
	sep(w);
	if (!s)
		put(w, "\"\"", 2);
	else
		put_string(w, s, n, 1);
}

void jsonw_str(struct jsonw *w, const char *s)
{
	jsonw_strn(w, s ? s : "", s ? strlen(s) : 0);
}

void jsonw_str_or_null(struct jsonw *w, const char *s)
{
	if (s)
		jsonw_str(w, s);
	else
		jsonw_null(w);
}

void jsonw_int(struct jsonw *w, long long v)
{
	char b[24];
	char *e = b + sizeof(b), *p = e;
	/* digits from the magnitude as unsigned: LLONG_MIN has no positive twin */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	sep(w);
	put(w, p, (size_t)(e - p));
}

void jsonw_bool(struct jsonw *w, int v)
{
	sep(w);
	if (v)
		put(w, "true", 4);
	else
		put(w, "false", 5);
}

void jsonw_null(struct jsonw *w)
{
	sep(w);
	put(w, "null", 4);
}

void jsonw_raw(struct jsonw *w, const char *json, size_t n)
{
	sep(w);
	put(w, json, n);
}

void jsonw_key_plain(struct jsonw *w, const char *k, size_t n)
{
	sep(w);
	grow(w, n + 3);
	char *b = w->buf + w->len;
	b[0] = '"';
	memcpy(b + 1, k, n);
	b[n + 1] = '"';
	b[n + 2] = ':';
	w->len += n + 3;
	w->buf[w->len] = '\0';
	w->after_key = 1;
}

void jsonw_plain(struct jsonw *w, const char *s, size_t n)
{
	sep(w);
	grow(w, n + 2);
	char *b = w->buf + w->len;
	b[0] = '"';
	memcpy(b + 1, s, n);
	b[n + 1] = '"';
	w->len += n + 2;
	w->buf[w->len] = '\0';
}

void jsonw_plain_begin(struct jsonw *w)
{
	sep(w);
	putc1(w, '"');
}

void jsonw_plain_add(struct jsonw *w, const char *s, size_t n)
{
	put(w, s, n);
}

void jsonw_plain_end(struct jsonw *w)
{
	putc1(w, '"');
}

int jsonw_is_plain(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

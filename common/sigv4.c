/* AWS Signature Version 4 verification (see sigv4.h): parsers with fixed bounds, the
 * canonical request rebuilt from the raw request, HMAC-SHA256 through libsodium, and
 * the aws-chunked streaming decoder. Never logs: secrets and signatures pass through. */
#include "sigv4.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

#define QUERY_PARAMS_MAX 256
#define QUERY_VALUE_MAX 4096
#define PATH_MAX_LEN 8192

static int is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

char *sigv4_uri_encode(const char *s, size_t len, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(3 * len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (is_unreserved(c) || (keep_slash && c == '/')) {
			*o++ = (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = 0;
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes s[0..len) into a new string (NUL-terminated, *outlen bytes; may
 * hold NULs). Returns owned, or NULL when a '%' is not followed by two hex digits. */
static char *pct_decode(const char *s, size_t len, size_t *outlen)
{
	char *out = xmalloc(len + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = 0;
	if (outlen)
		*outlen = (size_t)(o - out);
	return out;
}

/* ---- parsing ---- */

static int all_of(const char *s, size_t n, int (*ok)(int))
{
	for (size_t i = 0; i < n; i++)
		if (!ok((unsigned char)s[i]))
			return 0;
	return 1;
}

static int is_lower_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static int is_scope_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static int is_access_char(int c)
{
	return isalnum(c);
}

static int is_header_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Copies s[0..n) into dst[cap] when 1 <= n < cap and every byte passes ok. */
static int take(char *dst, size_t cap, const char *s, size_t n, int (*ok)(int))
{
	if (n == 0 || n >= cap || !all_of(s, n, ok))
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = 0;
	return 0;
}

/* "AK/YYYYMMDD/region/service/aws4_request" into a. */
static int parse_credential(const char *s, size_t n, struct sigv4_auth *a)
{
	const char *end = s + n, *p = s;
	const char *part[5];
	size_t len[5];
	for (int i = 0; i < 5; i++) {
		const char *slash = i < 4 ? memchr(p, '/', (size_t)(end - p)) : end;
		if (!slash)
			return -EINVAL;
		part[i] = p;
		len[i] = (size_t)(slash - p);
		p = slash + 1;
	}
	if (len[1] != 8 || len[4] != 12 || memcmp(part[4], "aws4_request", 12))
		return -EINVAL;
	if (take(a->access, sizeof a->access, part[0], len[0], is_access_char) < 0 ||
	    take(a->date, sizeof a->date, part[1], len[1], is_digit) < 0 ||
	    take(a->region, sizeof a->region, part[2], len[2], is_scope_char) < 0 ||
	    take(a->service, sizeof a->service, part[3], len[3], is_scope_char) < 0)
		return -EINVAL;
	return 0;
}

/* Lowercase names joined by ';', strictly ascending, at most SIGV4_HEADERS_MAX. */
static int parse_signed_headers(const char *s, size_t n, struct sigv4_auth *a)
{
	if (n == 0 || n > SIGV4_SIGNED_HEADERS_MAX)
		return -EINVAL;
	const char *p = s, *end = s + n, *prev = NULL;
	size_t prevlen = 0, count = 0;
	while (p <= end) {
		const char *semi = memchr(p, ';', (size_t)(end - p));
		if (!semi)
			semi = end;
		size_t len = (size_t)(semi - p);
		if (len == 0 || !all_of(p, len, is_header_char) || ++count > SIGV4_HEADERS_MAX)
			return -EINVAL;
		if (prev) {
			int c = memcmp(prev, p, len < prevlen ? len : prevlen);
			if (c > 0 || (c == 0 && prevlen >= len))
				return -EINVAL;
		}
		prev = p;
		prevlen = len;
		p = semi + 1;
	}
	memcpy(a->signed_headers, s, n);
	a->signed_headers[n] = 0;
	return 0;
}

static int parse_signature(const char *s, size_t n, struct sigv4_auth *a)
{
	if (n != SIGV4_HEX - 1)
		return -EINVAL;
	return take(a->signature, sizeof a->signature, s, n, is_lower_hex);
}

int sigv4_parse_header(const char *value, struct sigv4_auth *out)
{
	size_t alen = strlen(SIGV4_ALGORITHM);
	memset(out, 0, sizeof *out);
	if (!value || strlen(value) > 4096)
		return -EINVAL;
	if (strncmp(value, SIGV4_ALGORITHM, alen))
		return strncmp(value, "AWS", 3) ? -EINVAL : -ENOTSUP; /* SigV2, another hash */
	if (value[alen] != ' ')
		return -EINVAL;
	const char *p = value + alen;
	int seen = 0; /* bits: 1 Credential, 2 SignedHeaders, 4 Signature */
	for (;;) {
		while (*p == ' ')
			p++;
		const char *eq = strchr(p, '=');
		if (!eq)
			return -EINVAL;
		size_t klen = (size_t)(eq - p);
		const char *v = eq + 1;
		size_t vlen = strcspn(v, ", ");
		int bit, rc;
		if (klen == 10 && !memcmp(p, "Credential", 10)) {
			bit = 1;
			rc = parse_credential(v, vlen, out);
		} else if (klen == 13 && !memcmp(p, "SignedHeaders", 13)) {
			bit = 2;
			rc = parse_signed_headers(v, vlen, out);
		} else if (klen == 9 && !memcmp(p, "Signature", 9)) {
			bit = 4;
			rc = parse_signature(v, vlen, out);
		} else {
			return -EINVAL;
		}
		if (rc < 0 || (seen & bit))
			return -EINVAL;
		seen |= bit;
		p = v + vlen;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (*p++ != ',')
			return -EINVAL;
	}
	return seen == 7 ? 0 : -EINVAL;
}

/* One key=value pair of a raw query, both percent-decoded (owned). */
struct qparam {
	char *key, *val;
	size_t klen, vlen;
};

static void qparams_free(struct qparam *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(q[i].key);
		free(q[i].val);
	}
	free(q);
}

/* Splits a raw query into decoded pairs; empty segments ("a=1&&b") are skipped.
 * Returns 0 with *out (owned, *n entries), or -EINVAL. */
static int query_split(const char *query, struct qparam **out, size_t *n)
{
	struct qparam *q = NULL;
	size_t count = 0;
	int rc = 0;
	*out = NULL;
	*n = 0;
	if (!query)
		return 0;
	const char *p = query;
	while (*p) {
		size_t seglen = strcspn(p, "&");
		if (seglen) {
			if (count == QUERY_PARAMS_MAX || seglen > QUERY_VALUE_MAX) {
				rc = -EINVAL;
				goto out;
			}
			const char *eq = memchr(p, '=', seglen);
			size_t klen = eq ? (size_t)(eq - p) : seglen;
			q = xrealloc(q, (count + 1) * sizeof *q);
			struct qparam *e = &q[count];
			e->key = pct_decode(p, klen, &e->klen);
			e->val = eq ? pct_decode(eq + 1, seglen - klen - 1, &e->vlen)
			            : pct_decode("", 0, &e->vlen);
			count++;
			if (!e->key || !e->val) {
				rc = -EINVAL;
				goto out;
			}
		}
		p += seglen;
		if (*p == '&')
			p++;
	}
out:
	if (rc < 0) {
		qparams_free(q, count);
		return rc;
	}
	*out = q;
	*n = count;
	return 0;
}

static const struct qparam *qfind(const struct qparam *q, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(q[i].key, key) && strlen(key) == q[i].klen)
			return &q[i];
	return NULL;
}

int sigv4_parse_query(const char *query, struct sigv4_auth *out)
{
	struct qparam *q = NULL;
	size_t n = 0;
	int rc;
	memset(out, 0, sizeof *out);
	if ((rc = query_split(query, &q, &n)) < 0)
		return rc;
	const struct qparam *alg = qfind(q, n, "X-Amz-Algorithm"),
	                    *cred = qfind(q, n, "X-Amz-Credential"),
	                    *date = qfind(q, n, "X-Amz-Date"), *exp = qfind(q, n, "X-Amz-Expires"),
	                    *sh = qfind(q, n, "X-Amz-SignedHeaders"),
	                    *sig = qfind(q, n, "X-Amz-Signature");
	if (!alg) {
		rc = -ENOENT;
		goto out;
	}
	if (strcmp(alg->val, SIGV4_ALGORITHM)) {
		rc = -ENOTSUP;
		goto out;
	}
	rc = -EINVAL;
	if (!cred || !date || !exp || !sh || !sig)
		goto out;
	if (parse_credential(cred->val, cred->vlen, out) < 0 ||
	    parse_signed_headers(sh->val, sh->vlen, out) < 0 ||
	    parse_signature(sig->val, sig->vlen, out) < 0)
		goto out;
	if (date->vlen != SIGV4_AMZDATE - 1)
		goto out;
	memcpy(out->amz_date, date->val, date->vlen + 1);
	if (exp->vlen == 0 || exp->vlen > 6 || !all_of(exp->val, exp->vlen, is_digit))
		goto out;
	out->expires = strtol(exp->val, NULL, 10);
	out->presigned = 1;
	rc = 0;
out:
	qparams_free(q, n);
	return rc;
}

/* YYYYMMDDTHHMMSSZ as UTC. */
static int amz_date_parse(const char *s, time_t *t)
{
	struct tm tm = {0};
	if (strlen(s) != SIGV4_AMZDATE - 1 || s[8] != 'T' || s[15] != 'Z' ||
	    !all_of(s, 8, is_digit) || !all_of(s + 9, 6, is_digit))
		return -EINVAL;
	char *end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*t = timegm(&tm);
	return 0;
}

int sigv4_check_time(const struct sigv4_auth *a, time_t now)
{
	time_t t;
	if (amz_date_parse(a->amz_date, &t) < 0 || memcmp(a->date, a->amz_date, 8))
		return -EINVAL;
	if (!a->presigned)
		return t > now + SIGV4_SKEW || t < now - SIGV4_SKEW ? -ETIME : 0;
	if (a->expires < 1 || a->expires > SIGV4_EXPIRES_MAX)
		return -EINVAL;
	if (t > now + SIGV4_SKEW)
		return -ETIME;
	return t + a->expires < now ? -EKEYEXPIRED : 0;
}

/* ---- canonical request ---- */

/* S3: the raw path decoded and encoded once. Others: normalised, then the raw
 * (already encoded) path encoded again. */
static char *canonical_uri(const char *path, int s3)
{
	if (!path || !*path)
		return xstrdup("/");
	size_t len = strlen(path);
	if (len > PATH_MAX_LEN)
		return NULL;
	if (s3) {
		size_t dlen;
		char *dec = pct_decode(path, len, &dlen);
		if (!dec)
			return NULL;
		char *enc = sigv4_uri_encode(dec, dlen, 1);
		free(dec);
		return enc;
	}
	/* segments kept on a stack of offsets into a copy */
	char *copy = xstrdup(path), *norm = xmalloc(len + 2);
	const char **seg = xmalloc((len / 2 + 2) * sizeof *seg);
	size_t nseg = 0;
	for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (nseg)
				nseg--;
			continue;
		}
		seg[nseg++] = tok;
	}
	char *o = norm;
	for (size_t i = 0; i < nseg; i++)
		o += sprintf(o, "/%s", seg[i]);
	if (nseg == 0 || path[len - 1] == '/')
		*o++ = '/';
	*o = 0;
	char *enc = sigv4_uri_encode(norm, strlen(norm), 1);
	free(seg);
	free(norm);
	free(copy);
	return enc;
}

struct qenc {
	char *k, *v;
};

static int qenc_cmp(const void *x, const void *y)
{
	const struct qenc *a = x, *b = y;
	int c = strcmp(a->k, b->k);
	return c ? c : strcmp(a->v, b->v);
}

/* Decoded, strictly re-encoded, sorted "k=v&..." without X-Amz-Signature when skip. */
static char *canonical_query(const char *query, int skip_signature)
{
	struct qparam *q;
	size_t n;
	if (query_split(query, &q, &n) < 0)
		return NULL;
	struct qenc *e = xcalloc(n + 1, sizeof *e);
	size_t m = 0, total = 1;
	for (size_t i = 0; i < n; i++) {
		if (skip_signature && !strcmp(q[i].key, "X-Amz-Signature"))
			continue;
		e[m].k = sigv4_uri_encode(q[i].key, q[i].klen, 0);
		e[m].v = sigv4_uri_encode(q[i].val, q[i].vlen, 0);
		total += strlen(e[m].k) + strlen(e[m].v) + 2;
		m++;
	}
	qsort(e, m, sizeof *e, qenc_cmp);
	char *out = xmalloc(total), *o = out;
	*o = 0;
	for (size_t i = 0; i < m; i++) {
		o += sprintf(o, "%s%s=%s", i ? "&" : "", e[i].k, e[i].v);
		free(e[i].k);
		free(e[i].v);
	}
	free(e);
	qparams_free(q, n);
	return out;
}

/* Writes "name:v1,v2\n" for every header called name (trimmed, runs of whitespace
 * collapsed). Returns 0, or -ENOENT when rq has none. */
static int canonical_header(FILE *f, const struct sigv4_request *rq, const char *name, size_t nlen)
{
	int found = 0;
	fwrite(name, 1, nlen, f);
	fputc(':', f);
	for (size_t i = 0; i < rq->nheaders; i++) {
		const struct sigv4_header *h = &rq->headers[i];
		if (strlen(h->name) != nlen || strncasecmp(h->name, name, nlen))
			continue;
		if (found++)
			fputc(',', f);
		const char *v = h->value ? h->value : "";
		int space = 0, any = 0;
		for (; *v; v++) {
			if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n') {
				space = any;
				continue;
			}
			if (space)
				fputc(' ', f);
			fputc(*v, f);
			space = 0;
			any = 1;
		}
	}
	fputc('\n', f);
	return found ? 0 : -ENOENT;
}

int sigv4_canonical_request(const struct sigv4_request *rq, const struct sigv4_auth *a, char **out)
{
	char *buf = NULL, *uri = NULL, *query = NULL;
	size_t size = 0;
	int rc = 0;
	*out = NULL;
	if (rq->nheaders > 1024)
		return -EINVAL;
	uri = canonical_uri(rq->path, rq->s3);
	query = canonical_query(rq->query, a->presigned);
	if (!uri || !query) {
		free(uri);
		free(query);
		return -EINVAL;
	}
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		abort();
	fprintf(f, "%s\n%s\n%s\n", rq->method, uri, query);
	for (const char *p = a->signed_headers; *p && rc == 0;) {
		size_t n = strcspn(p, ";");
		rc = canonical_header(f, rq, p, n);
		p += n;
		if (*p == ';')
			p++;
	}
	fprintf(f, "\n%s\n%s", a->signed_headers, rq->payload_hash ? rq->payload_hash : "");
	fclose(f);
	free(uri);
	free(query);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*out = buf;
	return 0;
}

static void scope_of(const struct sigv4_auth *a, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s/aws4_request", a->date, a->region, a->service);
}

char *sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq)
{
	char hash[65], scope[160];
	sha256_hex(creq, strlen(creq), hash);
	scope_of(a, scope, sizeof scope);
	return xasprintf(SIGV4_ALGORITHM "\n%s\n%s\n%s", a->amz_date, scope, hash);
}

static void hmac(const uint8_t *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32])
{
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, klen);
	crypto_auth_hmacsha256_update(&st, msg, mlen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
}

void sigv4_signing_key(const char *secret, const struct sigv4_auth *a, uint8_t key[32])
{
	size_t slen = strlen(secret);
	uint8_t *k0 = xmalloc(slen + 4), k[32];
	memcpy(k0, "AWS4", 4);
	memcpy(k0 + 4, secret, slen);
	hmac(k0, slen + 4, a->date, strlen(a->date), k);
	hmac(k, 32, a->region, strlen(a->region), k);
	hmac(k, 32, a->service, strlen(a->service), k);
	hmac(k, 32, "aws4_request", 12, key);
	sodium_memzero(k0, slen + 4);
	sodium_memzero(k, sizeof k);
	free(k0);
}

void sigv4_sign(const uint8_t key[32], const char *msg, char out[SIGV4_HEX])
{
	uint8_t mac[32];
	hmac(key, 32, msg, strlen(msg), mac);
	sodium_bin2hex(out, SIGV4_HEX, mac, sizeof mac);
}

int sigv4_equal(const char *a, const char *b)
{
	if (strlen(a) != SIGV4_HEX - 1 || strlen(b) != SIGV4_HEX - 1)
		return 0;
	return sodium_memcmp(a, b, SIGV4_HEX - 1) == 0;
}

int sigv4_verify(const struct sigv4_request *rq, const struct sigv4_auth *a, const char *secret,
                 char **creq_out)
{
	char *creq = NULL, sig[SIGV4_HEX];
	uint8_t key[32];
	if (creq_out)
		*creq_out = NULL;
	int rc = sigv4_canonical_request(rq, a, &creq);
	if (rc < 0)
		return rc;
	char *sts = sigv4_string_to_sign(a, creq);
	sigv4_signing_key(secret, a, key);
	sigv4_sign(key, sts, sig);
	sodium_memzero(key, sizeof key);
	rc = sigv4_equal(sig, a->signature) ? 0 : -EACCES;
	free(sts);
	if (creq_out)
		*creq_out = creq;
	else
		free(creq);
	return rc;
}

/* ---- aws-chunked ---- */

enum chunk_state { CH_HEADER, CH_DATA, CH_CRLF, CH_DONE };

struct sigv4_chunks {
	uint8_t key[32];
	char amz_date[SIGV4_AMZDATE], scope[160];
	char prev[SIGV4_HEX], want[SIGV4_HEX];
	sigv4_chunk_sink sink;
	void *arg;
	enum chunk_state state;
	char line[SIGV4_CHUNK_HEADER_MAX + 2];
	size_t linelen, crlf;
	unsigned long chunk_len, left;
	unsigned long long decoded;
	crypto_hash_sha256_state hash;
	int err;
};

struct sigv4_chunks *sigv4_chunks_new(const uint8_t key[32], const struct sigv4_auth *a,
                                      sigv4_chunk_sink sink, void *arg)
{
	struct sigv4_chunks *c = xcalloc(1, sizeof *c);
	memcpy(c->key, key, 32);
	memcpy(c->amz_date, a->amz_date, sizeof c->amz_date);
	scope_of(a, c->scope, sizeof c->scope);
	memcpy(c->prev, a->signature, sizeof c->prev);
	c->sink = sink;
	c->arg = arg;
	return c;
}

/* "<hex>;chunk-signature=<64 lowercase hex>" (without CRLF). */
static int chunk_header_parse(struct sigv4_chunks *c)
{
	static const char tag[] = ";chunk-signature=";
	const char *l = c->line, *semi = strchr(l, ';');
	size_t hlen = semi ? (size_t)(semi - l) : 0;
	if (hlen == 0 || hlen > 8)
		return -EBADMSG;
	unsigned long size = 0;
	for (size_t i = 0; i < hlen; i++) {
		int v = hexval((unsigned char)l[i]);
		if (v < 0)
			return -EBADMSG;
		size = size << 4 | (unsigned)v;
	}
	if (strncmp(semi, tag, sizeof tag - 1))
		return -EBADMSG;
	const char *sig = semi + sizeof tag - 1;
	if (strlen(sig) != SIGV4_HEX - 1 || !all_of(sig, SIGV4_HEX - 1, is_lower_hex))
		return -EBADMSG;
	if (size > SIGV4_CHUNK_MAX)
		return -EFBIG;
	memcpy(c->want, sig, SIGV4_HEX);
	c->chunk_len = c->left = size;
	crypto_hash_sha256_init(&c->hash);
	return 0;
}

static int chunk_verify(struct sigv4_chunks *c)
{
	uint8_t h[32];
	char hex[65], sig[SIGV4_HEX];
	crypto_hash_sha256_final(&c->hash, h);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);
	char *sts = xasprintf("AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n" SIGV4_EMPTY_SHA256 "\n%s",
	                      c->amz_date, c->scope, c->prev, hex);
	sigv4_sign(c->key, sts, sig);
	free(sts);
	if (!sigv4_equal(sig, c->want))
		return -EACCES;
	memcpy(c->prev, sig, sizeof c->prev);
	return 0;
}

static int chunks_step(struct sigv4_chunks *c, const char *p, size_t len, size_t *used)
{
	int rc = 0;
	switch (c->state) {
	case CH_HEADER:
		for (*used = 0; *used < len;) {
			char ch = p[(*used)++];
			if (ch == '\n') {
				if (c->linelen == 0 || c->line[c->linelen - 1] != '\r')
					return -EBADMSG;
				c->line[c->linelen - 1] = 0;
				c->linelen = 0;
				if ((rc = chunk_header_parse(c)) < 0)
					return rc;
				c->state = c->left ? CH_DATA : CH_CRLF;
				c->crlf = 0;
				if (c->state == CH_CRLF && (rc = chunk_verify(c)) < 0)
					return rc;
				return 0;
			}
			if (c->linelen >= SIGV4_CHUNK_HEADER_MAX)
				return -EBADMSG;
			c->line[c->linelen++] = ch;
		}
		return 0;
	case CH_DATA: {
		size_t n = len < c->left ? len : c->left;
		crypto_hash_sha256_update(&c->hash, (const unsigned char *)p, n);
		if (c->sink && (rc = c->sink(c->arg, p, n)) < 0)
			return rc;
		c->left -= n;
		c->decoded += n;
		*used = n;
		if (c->left == 0) {
			if ((rc = chunk_verify(c)) < 0)
				return rc;
			c->state = CH_CRLF;
			c->crlf = 0;
		}
		return 0;
	}
	case CH_CRLF:
		*used = 1;
		if (p[0] != "\r\n"[c->crlf])
			return -EBADMSG;
		if (++c->crlf == 2)
			c->state = c->chunk_len ? CH_HEADER : CH_DONE;
		return 0;
	case CH_DONE:
		return -EPIPE;
	}
	return -EBADMSG;
}

int sigv4_chunks_feed(struct sigv4_chunks *c, const void *data, size_t len)
{
	const char *p = data;
	while (c->err == 0 && len) {
		size_t used = 0;
		c->err = chunks_step(c, p, len, &used);
		p += used;
		len -= used;
	}
	return c->err;
}

int sigv4_chunks_finish(struct sigv4_chunks *c, long long expected)
{
	if (c->err)
		return c->err;
	if (c->state != CH_DONE)
		return -EBADMSG;
	if (expected >= 0 && (unsigned long long)expected != c->decoded)
		return -EBADMSG;
	return 0;
}

unsigned long long sigv4_chunks_decoded(const struct sigv4_chunks *c)
{
	return c->decoded;
}

void sigv4_chunks_free(struct sigv4_chunks *c)
{
	if (!c)
		return;
	sodium_memzero(c, sizeof *c);
	free(c);
}

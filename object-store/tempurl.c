/* Swift's temporary URLs: signatures, expiry, disposition (see tempurl.h). */
#include "tempurl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"

/* ------------------------------------------------------------------ SHA-1 (FIPS 180-4) */

struct sha1 {
	uint32_t h[5];
	uint64_t len; /* bytes hashed */
	unsigned char buf[64];
	size_t nbuf;
};

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *s, const unsigned char *b)
{
	uint32_t w[80], a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		       (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = bb ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = bb ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(bb, 30);
		bb = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += bb;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
	static const uint32_t h0[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
	memset(s, 0, sizeof(*s));
	memcpy(s->h, h0, sizeof(h0));
}

static void sha1_update(struct sha1 *s, const void *p, size_t n)
{
	const unsigned char *b = p;
	s->len += n;
	while (n > 0) {
		size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
		memcpy(s->buf + s->nbuf, b, k);
		s->nbuf += k;
		b += k;
		n -= k;
		if (s->nbuf == 64) {
			sha1_block(s, s->buf);
			s->nbuf = 0;
		}
	}
}

static void sha1_final(struct sha1 *s, unsigned char out[20])
{
	uint64_t bits = s->len * 8;
	unsigned char pad = 0x80, zero = 0, lenb[8];
	sha1_update(s, &pad, 1);
	while (s->nbuf != 56)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(s, lenb, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (unsigned char)(s->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)s->h[i];
	}
}

void tempurl_sha1(const void *p, size_t n, unsigned char out[20])
{
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, p, n);
	sha1_final(&s, out);
}

/* RFC 2104 over SHA-1 (libsodium has no SHA-1). */
static void hmac_sha1(const char *key, size_t klen, const char *msg, size_t mlen,
                      unsigned char out[20])
{
	unsigned char k[64] = {0}, ipad[64], opad[64], inner[20];
	if (klen > 64)
		tempurl_sha1(key, klen, k);
	else
		memcpy(k, key, klen);
	for (int i = 0; i < 64; i++) {
		ipad[i] = k[i] ^ 0x36;
		opad[i] = k[i] ^ 0x5c;
	}
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, ipad, 64);
	sha1_update(&s, msg, mlen);
	sha1_final(&s, inner);
	sha1_init(&s);
	sha1_update(&s, opad, 64);
	sha1_update(&s, inner, 20);
	sha1_final(&s, out);
	sodium_memzero(k, sizeof(k));
}

size_t tempurl_hmac(enum tempurl_digest d, const char *key, size_t klen, const char *msg,
                    size_t mlen, unsigned char out[TEMPURL_MAX_MAC])
{
	if (d == TEMPURL_SHA1) {
		hmac_sha1(key, klen, msg, mlen, out);
		return 20;
	}
	if (d == TEMPURL_SHA256) {
		crypto_auth_hmacsha256_state st;
		crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, klen);
		crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, mlen);
		crypto_auth_hmacsha256_final(&st, out);
		return 32;
	}
	crypto_auth_hmacsha512_state st;
	crypto_auth_hmacsha512_init(&st, (const unsigned char *)key, klen);
	crypto_auth_hmacsha512_update(&st, (const unsigned char *)msg, mlen);
	crypto_auth_hmacsha512_final(&st, out);
	return 64;
}

/* ------------------------------------------------------------------ parsing */

static const struct {
	const char *name;
	enum tempurl_digest d;
	size_t len;
} digests[] = {
    {"sha1", TEMPURL_SHA1, 20},
    {"sha256", TEMPURL_SHA256, 32},
    {"sha512", TEMPURL_SHA512, 64},
};

int tempurl_sig_parse(const char *sig, enum tempurl_digest *d, unsigned char mac[TEMPURL_MAX_MAC],
                      size_t *maclen)
{
	if (!sig)
		return -EINVAL;
	const char *colon = strchr(sig, ':');
	for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
		size_t nl = strlen(digests[i].name);
		if (colon) {
			if ((size_t)(colon - sig) != nl || strncmp(sig, digests[i].name, nl))
				continue;
			/* base64, standard or URL-safe, padding optional */
			const char *b = colon + 1;
			size_t bl = strlen(b), n = 0;
			if (bl > 128)
				return -EINVAL;
			char tmp[132];
			memcpy(tmp, b, bl + 1);
			while (bl > 0 && tmp[bl - 1] == '=')
				tmp[--bl] = '\0';
			for (size_t k = 0; k < bl; k++)
				tmp[k] = tmp[k] == '-' ? '+' : tmp[k] == '_' ? '/' : tmp[k];
			if (sodium_base642bin(mac, TEMPURL_MAX_MAC, tmp, bl, NULL, &n, NULL,
			                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING) != 0 ||
			    n != digests[i].len)
				return -EINVAL;
			*d = digests[i].d;
			*maclen = n;
			return 0;
		}
		if (strlen(sig) != 2 * digests[i].len)
			continue;
		size_t n = 0;
		if (sodium_hex2bin(mac, TEMPURL_MAX_MAC, sig, strlen(sig), NULL, &n, NULL) != 0 ||
		    n != digests[i].len)
			return -EINVAL;
		*d = digests[i].d;
		*maclen = n;
		return 0;
	}
	return -EINVAL;
}

int64_t tempurl_expires_parse(const char *s)
{
	if (!s || !*s || strlen(s) > 32)
		return -1;
	char *end;
	if (s[0] >= '0' && s[0] <= '9') {
		long long v = strtoll(s, &end, 10);
		if (!*end)
			return v < 0 ? -1 : (int64_t)v;
	}
	struct tm tm = {0};
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return -1;
	time_t t = timegm(&tm);
	return t < 0 ? -1 : (int64_t)t;
}

int tempurl_mac_ok(const char *sig, const char *msg, const char *const *keys, int nkeys)
{
	enum tempurl_digest d;
	unsigned char want[TEMPURL_MAX_MAC], got[TEMPURL_MAX_MAC];
	size_t wl;
	if (tempurl_sig_parse(sig, &d, want, &wl) < 0)
		return 0;
	int ok = 0;
	for (int i = 0; i < nkeys; i++) {
		if (!keys[i] || !*keys[i] || strlen(keys[i]) > TEMPURL_MAX_KEY)
			continue;
		size_t gl = tempurl_hmac(d, keys[i], strlen(keys[i]), msg, strlen(msg), got);
		ok |= gl == wl && sodium_memcmp(got, want, wl) == 0;
	}
	return ok;
}

int tempurl_sig_ok(const char *sig, const char *method, int64_t expires, const char *path,
                   const char *const *keys, int nkeys)
{
	char *msg = xasprintf("%s\n%lld\n%s", method, (long long)expires, path);
	int ok = tempurl_mac_ok(sig, msg, keys, nkeys);
	free(msg);
	return ok;
}

int tempurl_sig_ok_ip(const char *sig, const char *ip_range, const char *method, int64_t expires,
                      const char *path, const char *const *keys, int nkeys)
{
	char *msg = xasprintf("ip=%s\n%s\n%lld\n%s", ip_range, method, (long long)expires, path);
	int ok = tempurl_mac_ok(sig, msg, keys, nkeys);
	free(msg);
	return ok;
}

/* ------------------------------------------------------------------ ip ranges */

/* An IPv4 or IPv6 address into out (16 bytes); its bit count, or -1. */
static int ip_parse(const char *s, unsigned char out[16])
{
	if (inet_pton(AF_INET, s, out) == 1)
		return 32;
	if (inet_pton(AF_INET6, s, out) == 1)
		return 128;
	return -1;
}

int tempurl_ip_in_range(const char *addr, const char *range)
{
	char net[INET6_ADDRSTRLEN + 8];
	unsigned char a[16] = {0}, n[16] = {0};
	if (!range || strlen(range) >= sizeof(net))
		return -1;
	snprintf(net, sizeof(net), "%s", range);
	char *slash = strchr(net, '/');
	if (slash)
		*slash = '\0';
	int bits = ip_parse(net, n), prefix = bits;
	if (bits < 0)
		return -1;
	if (slash) {
		char *end;
		errno = 0;
		long v = strtol(slash + 1, &end, 10);
		if (end == slash + 1 || *end || errno || v < 0 || v > bits ||
		    !isdigit((unsigned char)slash[1]))
			return -1;
		prefix = (int)v;
	}
	for (int i = prefix; i < bits; i++) /* host bits set: not a network */
		if (n[i / 8] & (0x80 >> (i % 8)))
			return -1;
	if (!addr || ip_parse(addr, a) != bits)
		return 0;
	for (int i = 0; i < prefix; i++)
		if ((a[i / 8] ^ n[i / 8]) & (0x80 >> (i % 8)))
			return 0;
	return 1;
}

int tempurl_sig_methods(const char *method, const char *out[TEMPURL_MAX_SIG_METHODS])
{
	static const char *const head[] = {"HEAD", "GET", "POST", "PUT"};
	if (strcmp(method, "HEAD")) {
		out[0] = method;
		return 1;
	}
	for (int i = 0; i < TEMPURL_MAX_SIG_METHODS; i++)
		out[i] = head[i];
	return TEMPURL_MAX_SIG_METHODS;
}

/* ------------------------------------------------------------------ disposition */

static char *disposition_format(const char *type, const char *name)
{
	size_t n = strlen(name);
	char *quoted = xmalloc(3 * n + 1), *pct = xmalloc(3 * n + 1);
	char *q = quoted, *p = pct;
	for (const char *s = name; *s; s++) {
		if (*s == '"')
			*q++ = '\\';
		if (*s == '\n' || *s == '\r')
			q += sprintf(q, "%%%02X", (unsigned char)*s);
		else
			*q++ = *s;
		unsigned char c = (unsigned char)*s;
		/* Python's quote(): letters, digits, "_.-~" and '/' stay */
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("_.-~/", c))
			*p++ = (char)c;
		else
			p += sprintf(p, "%%%02X", c);
	}
	*q = *p = '\0';
	char *out = xasprintf("%s; filename=\"%s\"; filename*=UTF-8''%s", type, quoted, pct);
	free(quoted);
	free(pct);
	return out;
}

char *tempurl_disposition(int inl, const char *filename, const char *object, int existing)
{
	if (inl)
		return filename ? disposition_format("inline", filename) : xstrdup("inline");
	if (filename)
		return disposition_format("attachment", filename);
	if (existing)
		return NULL;
	size_t n = strlen(object);
	while (n > 0 && object[n - 1] == '/')
		n--;
	size_t b = n;
	while (b > 0 && object[b - 1] != '/')
		b--;
	char *base = xstrndup(object + b, n - b);
	char *out = disposition_format("attachment", base);
	free(base);
	return out;
}

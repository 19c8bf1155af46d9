/* UUIDs, time formats, random tokens, hashes and base64 (libsodium for randomness,
 * SHA-256 and base64). */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

void uuid_generate_str(char out[UUID_STR_LEN])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, UUID_STR_LEN,
	         "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	         b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	         b[15]);
}

int uuid_is_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int request_id_is_valid(const char *s)
{
	if (!s || strncmp(s, "req-", 4) || !uuid_is_valid(s + 4))
		return 0;
	for (const char *p = s + 4; *p; p++)
		if (isupper((unsigned char)*p))
			return 0;
	return 1;
}

int uuid_lower(const char *s, char out[UUID_STR_LEN])
{
	if (!uuid_is_valid(s))
		return -EINVAL;
	for (int i = 0; i < UUID_STR_LEN; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return 0;
}

void time_iso_micro(time_t t, long usec, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
}

void time_iso(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *time_from_pg(const char *pg, int micro, char out[TIME_PG_OUT])
{
	static const char shape[] = "dddd-dd-dd dd:dd:dd"; /* d: a digit */
	if (!pg)
		return NULL;
	/* stops at the first mismatch, so never reads past a short string's NUL */
	for (size_t i = 0; i < sizeof(shape) - 1; i++)
		if (shape[i] == 'd' ? pg[i] < '0' || pg[i] > '9' : pg[i] != shape[i])
			return pg;
	const char *f = pg + sizeof(shape) - 1;
	size_t nf = 0;
	if (*f == '.') {
		f++;
		while (nf < 6 && f[nf] >= '0' && f[nf] <= '9')
			nf++;
		if (nf == 0 || f[nf])
			return pg;
	} else if (*f) {
		return pg;
	}
	memcpy(out, pg, 19);
	out[10] = 'T';
	if (!micro) {
		out[19] = 'Z';
		out[20] = '\0';
		return out;
	}
	out[19] = '.';
	memcpy(out + 20, f, nf);
	memset(out + 20 + nf, '0', 6 - nf);
	out[26] = '\0';
	return out;
}

int time_parse_iso(const char *s, time_t *out)
{
	struct tm tm = {0};
	int consumed = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	                 &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6)
		return -EINVAL;
	const char *rest = s + consumed;
	if (*rest == '.') {
		rest++;
		while (isdigit((unsigned char)*rest))
			rest++;
	}
	if (*rest && strcmp(rest, "Z") && strcmp(rest, "+00:00") && strcmp(rest, "+0000"))
		return -EINVAL;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return 0;
}

int64_t time_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void token_random(char *out, size_t outlen, size_t bytes)
{
	unsigned char buf[64];
	if (bytes > sizeof(buf))
		bytes = sizeof(buf);
	randombytes_buf(buf, bytes);
	sodium_bin2base64(out, outlen, buf, bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(buf, sizeof(buf));
}

void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, data, len);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

int base64_decode(const char *s, const char *ignore, int unpadded_ok, unsigned char **out,
                  size_t *len)
{
	static const int variants[] = {sodium_base64_VARIANT_ORIGINAL,
	                               sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	size_t in = strlen(s);
	/* room for all of it (3 bytes per 4 characters); libsodium reports a missing
	 * padding with the same ERANGE as a short buffer, so none may be short */
	size_t cap = in / 4 * 3 + 3;
	unsigned char *buf = xmalloc(cap + 1);
	size_t n = 0;
	const char *end = NULL;
	int rc = -1;
	/* padded (what clients send) or, when allowed and that failed, unpadded */
	for (size_t i = 0; rc < 0 && i < (unpadded_ok ? 2u : 1u); i++) {
		rc = sodium_base642bin(buf, cap, s, in, ignore, &n, &end, variants[i]);
		if (rc == 0 && end != s + in)
			rc = -1; /* stopped before the end: a byte outside the alphabet */
	}
	if (rc < 0) {
		free(buf);
		return -EINVAL;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

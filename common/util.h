/* Small shared helpers: UUIDs, timestamps, random tokens, monotonic time, base64. */
#ifndef NUBO_UTIL_H
#define NUBO_UTIL_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define UUID_STR_LEN 37 /* 36 chars + NUL */

/* Writes a random (v4) UUID, lowercase with dashes. */
void uuid_generate_str(char out[UUID_STR_LEN]);
/* 1 when s is a canonical lowercase or uppercase UUID string, else 0. */
int uuid_is_valid(const char *s);
/* Writes s lowercased into out when it is a UUID (any case). Returns 0, or -EINVAL
 * (out untouched) when s is not a UUID. */
int uuid_lower(const char *s, char out[UUID_STR_LEN]);

#define REQUEST_ID_LEN 41 /* "req-" + UUID + NUL */
/* 1 when s is an OpenStack request id in canonical form, "req-" followed by a
 * lowercase UUID, else 0. */
int request_id_is_valid(const char *s);

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" (Keystone), into out (>= 28 bytes). */
void time_iso_micro(time_t t, long usec, char *out, size_t n);
/* "YYYY-MM-DDTHH:MM:SSZ" (Nova/Glance), into out (>= 21 bytes). */
void time_iso(time_t t, char *out, size_t n);
/* Nova's text of a PostgreSQL `timestamp` value (a timestamptz AT TIME ZONE 'UTC') as
 * DateStyle ISO prints it, "YYYY-MM-DD HH:MM:SS[.f]" (one to six fraction digits, none
 * when zero), rewritten without any calendar arithmetic: micro 0 gives
 * "YYYY-MM-DDTHH:MM:SSZ" (the fraction dropped, as to_char's SS does), micro 1
 * "YYYY-MM-DDTHH:MM:SS.ffffff" (padded to six digits). Returns out; NULL when pg is
 * NULL (SQL NULL); pg itself, unchanged, when it is not of that form (a year past
 * 9999, BC, infinity, another DateStyle). */
#define TIME_PG_OUT 27
const char *time_from_pg(const char *pg, int micro, char out[TIME_PG_OUT]);
/* Parses "YYYY-MM-DD[T ]HH:MM:SS[.ffffff][Z|+00:00]" as UTC. 0 or -EINVAL. */
int time_parse_iso(const char *s, time_t *out);
/* Milliseconds from CLOCK_MONOTONIC. */
int64_t time_mono_ms(void);

/* Fills out with a URL-safe random token of `bytes` random bytes (base64url, no
 * padding); out must hold 4*bytes/3+2. */
void token_random(char *out, size_t outlen, size_t bytes);
/* Lowercase hex SHA-256 of data into out[65]. */
void sha256_hex(const void *data, size_t len, char out[65]);

/* Decodes base64 text s (standard alphabet), which must be base64 to its end. The
 * bytes of ignore (may be NULL) are skipped wherever they stand; text without its '='
 * padding is accepted only when unpadded_ok. Returns 0 with *out (owned; a NUL is
 * appended that *len does not count) and *len, or -EINVAL with nothing to free. */
int base64_decode(const char *s, const char *ignore, int unpadded_ok, unsigned char **out,
                  size_t *len);

#endif

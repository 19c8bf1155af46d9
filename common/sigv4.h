/* AWS Signature Version 4, the verifier's side: the Authorization header and the
 * presigned query parsed into a typed struct with strict bounds, the canonical request
 * and string to sign rebuilt from the request as received, signing keys, a
 * constant-time compare, and a streaming decoder for STREAMING-AWS4-HMAC-SHA256-PAYLOAD
 * bodies that checks every chunk's chained signature. Pure: never logs, never reads the
 * clock (callers pass "now"); shared by the S3 front end and, later, the EC2 API. */
#ifndef NUBO_SIGV4_H
#define NUBO_SIGV4_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define SIGV4_STREAMING "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_ACCESS_MAX 128 /* access key id */
#define SIGV4_REGION_MAX 63
#define SIGV4_SERVICE_MAX 31
#define SIGV4_SIGNED_HEADERS_MAX 1024 /* "host;x-amz-date;..." */
#define SIGV4_HEADERS_MAX 64          /* names in SignedHeaders */
#define SIGV4_HEX 65                  /* 64 hex digits + NUL */
#define SIGV4_AMZDATE 17              /* YYYYMMDDTHHMMSSZ + NUL */
#define SIGV4_EXPIRES_MAX 604800      /* presigned URLs: at most 7 days */
#define SIGV4_SKEW 900                /* header auth: |now - x-amz-date| <= 15 min */

/* What a request claims: its key, scope, the headers it signed and the signature.
 * Filled by sigv4_parse_header or sigv4_parse_query; all strings NUL-terminated. */
struct sigv4_auth {
	char access[SIGV4_ACCESS_MAX + 1];
	char date[9]; /* scope date YYYYMMDD */
	char region[SIGV4_REGION_MAX + 1];
	char service[SIGV4_SERVICE_MAX + 1];
	char signed_headers[SIGV4_SIGNED_HEADERS_MAX + 1]; /* lowercase, ';'-joined, sorted */
	char signature[SIGV4_HEX];                         /* lowercase hex */
	char amz_date[SIGV4_AMZDATE]; /* query auth: X-Amz-Date; header auth: caller sets */
	long expires;                 /* query auth: X-Amz-Expires seconds; else 0 */
	int presigned;                /* 1 when it came from the query */
};

/* One request header as received (name in any case, value raw). */
struct sigv4_header {
	const char *name, *value;
};

/* The request as received on the wire. path and query are raw (still
 * percent-encoded); query excludes the '?', may be NULL. payload_hash is the value
 * the signature covers: x-amz-content-sha256 (hex, UNSIGNED-PAYLOAD or the streaming
 * marker) or, for a service without that header, the body's hex SHA-256. s3 selects
 * S3's URI rule (the path decoded and encoded once, never normalised); otherwise
 * the path is normalised (".", "..", empty segments) and encoded again as it stands,
 * as the other services do. */
struct sigv4_request {
	const char *method, *path, *query;
	const struct sigv4_header *headers;
	size_t nheaders;
	const char *payload_hash;
	int s3;
};

/* Parses an Authorization header value "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/
 * SERVICE/aws4_request, SignedHeaders=a;b, Signature=hex" (components in any order,
 * each exactly once, ',' with optional spaces between). Leaves out->amz_date empty.
 * Returns 0, -EINVAL for anything malformed or out of bounds, -ENOTSUP for another
 * algorithm. */
int sigv4_parse_header(const char *value, struct sigv4_auth *out);

/* Parses the presigned form from a raw query string: X-Amz-Algorithm, -Credential,
 * -Date, -Expires, -SignedHeaders, -Signature (percent-decoded). Returns 0, -ENOENT
 * when the query carries no X-Amz-Algorithm (not a presigned request), -EINVAL when
 * malformed, -ENOTSUP for another algorithm. */
int sigv4_parse_query(const char *query, struct sigv4_auth *out);

/* Checks the time claims of a parsed auth against now: the scope date equals
 * amz_date's day; header auth within SIGV4_SKEW of now; query auth not yet expired
 * (amz_date + expires >= now), expires in 1..SIGV4_EXPIRES_MAX and amz_date not more
 * than SIGV4_SKEW in the future. Returns 0, -EINVAL (malformed date), -ETIME
 * (skewed), -EKEYEXPIRED (presigned URL expired). */
int sigv4_check_time(const struct sigv4_auth *a, time_t now);

/* The canonical request of rq for the signed header names in a (headers not in the
 * list are ignored; a listed header absent from rq yields -ENOENT); for a presigned
 * request X-Amz-Signature is left out of the query. Returns 0 with *out owned
 * (free()), -EINVAL (bad percent-encoding, too many headers) or -ENOENT. */
int sigv4_canonical_request(const struct sigv4_request *rq, const struct sigv4_auth *a, char **out);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of creq>": owned string. */
char *sigv4_string_to_sign(const struct sigv4_auth *a, const char *creq);

/* The signing key HMAC chain from secret over date/region/service/"aws4_request". */
void sigv4_signing_key(const char *secret, const struct sigv4_auth *a, uint8_t key[32]);

/* Hex HMAC-SHA256 of msg under key into out. */
void sigv4_sign(const uint8_t key[32], const char *msg, char out[SIGV4_HEX]);

/* Full check: rebuilds the canonical request of rq, signs it with secret and compares
 * with a->signature in constant time. 0 when it matches, -EACCES when not, or the
 * errors of sigv4_canonical_request. When creq_out is not NULL it receives the
 * canonical request (owned) for the caller's error document. */
int sigv4_verify(const struct sigv4_request *rq, const struct sigv4_auth *a, const char *secret,
                 char **creq_out);

/* 1 when two hex signatures are equal (constant time over SIGV4_HEX-1 bytes). */
int sigv4_equal(const char *a, const char *b);

/* ---- STREAMING-AWS4-HMAC-SHA256-PAYLOAD ---- */

#define SIGV4_CHUNK_HEADER_MAX 128  /* "<hex size>;chunk-signature=<64 hex>" */
#define SIGV4_CHUNK_MAX (16u << 20) /* a chunk's payload */

typedef int (*sigv4_chunk_sink)(void *arg, const void *data, size_t len);

/* Decodes an aws-chunked body, handing each chunk's payload to a sink as it arrives
 * and checking each chunk's signature (chained from the seed) when the chunk ends:
 * a caller must not commit what the sink received until sigv4_chunks_finish
 * succeeds. */
struct sigv4_chunks;

/* A decoder for a request whose header signature (the seed) verified. key and a are
 * copied. Returns owned. */
struct sigv4_chunks *sigv4_chunks_new(const uint8_t key[32], const struct sigv4_auth *a,
                                      sigv4_chunk_sink sink, void *arg);
/* Feeds len bytes of the body. 0, -EBADMSG (framing), -EACCES (a chunk signature
 * does not match), -EFBIG (chunk over SIGV4_CHUNK_MAX), a sink's negative error, or
 * -EPIPE for bytes after the final chunk. Errors are sticky. */
int sigv4_chunks_feed(struct sigv4_chunks *c, const void *data, size_t len);
/* 0 when the final zero-length chunk arrived and verified and decoded bytes total
 * `expected` (x-amz-decoded-content-length; -1 skips the check), else -EBADMSG or the
 * sticky error. */
int sigv4_chunks_finish(struct sigv4_chunks *c, long long expected);
/* Bytes of payload handed to the sink so far. */
unsigned long long sigv4_chunks_decoded(const struct sigv4_chunks *c);
void sigv4_chunks_free(struct sigv4_chunks *c);

/* Encodes s per SigV4's rule (unreserved A-Za-z0-9-._~ kept, the rest %XX uppercase;
 * '/' kept when keep_slash). Returns owned. */
char *sigv4_uri_encode(const char *s, size_t len, int keep_slash);

#endif

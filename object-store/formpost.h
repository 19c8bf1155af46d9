/* Swift's formpost middleware: a browser uploads files straight into a container with an
 * HTML form (POST, multipart/form-data) signed by the account's or the container's
 * Temp-URL-Key, no token needed. The form's fields, before its files:
 *   redirect, max_file_size, max_file_count, expires (Unix time), signature,
 *   and optionally x_delete_at, x_delete_after, content-type, content-encoding
 * signature = HMAC(key, "PATH\nREDIRECT\nMAX_FILE_SIZE\nMAX_FILE_COUNT\nEXPIRES"), PATH the
 * decoded request path: hex of SHA-1, SHA-256 or SHA-512, or "<digest>:<base64>". Each file
 * becomes object PATH's object part (or "") + its filename, streamed to the replicas as it
 * arrives. The answer: 303 to redirect?status=S&message=M, or, without a redirect, S as
 * text; a bad form is 400 and a bad signature or an expired form 401, never redirected. */
#ifndef NUBO_OBJSTORE_FORMPOST_H
#define NUBO_OBJSTORE_FORMPOST_H
#include <stddef.h>
#include <stdint.h>

struct px_req;
struct swift_req;
struct formpost;

#define FORMPOST_MAX_VALUE 4096 /* bytes kept of a field (Swift's MAX_VALUE_LENGTH) */

/* 1 when r is a form POST (POST of multipart/form-data with a boundary to a container or
 * object path): q->formpost is set and the body goes to formpost_body, then
 * formpost_finish answers. 0 when it is not one. */
int formpost_begin(struct px_req *r, struct swift_req *q);
/* Body bytes: 0 to go on, 1 when the form is decided (the rest is not needed). */
int formpost_body(struct swift_req *q, const char *data, size_t n);
/* Answers the form POST. */
void formpost_finish(struct px_req *r, struct swift_req *q);
/* Aborts a write in progress and frees. Accepts NULL. */
void formpost_free(struct formpost *f);

/* 1 when sig signs the form (path, redirect, max_file_size, max_file_count, expires as
 * the form sent them; NULL counts as "" and, for the numbers, "0") under one of the nkeys
 * keys, else 0. Pure. */
int formpost_sig_ok(const char *sig, const char *path, const char *redirect,
                    const char *max_file_size, const char *max_file_count, const char *expires,
                    const char *const *keys, int nkeys);
/* The Location of a form's redirect: redirect + '?' (or '&' when it has a query) +
 * "status=S&message=M" (M percent-encoded). Owned string. Pure. */
char *formpost_location(const char *redirect, int status, const char *message);
/* Swift's integer form fields: the value of s (optional sign, decimal digits, at most
 * 18), 0 for NULL or "" (Swift's `int(x or 0)`), -1 with *bad set otherwise. Pure. */
int64_t formpost_int(const char *s, int *bad);

#endif

/* Helpers shared by the OpenStack resource handlers: bodies wrapped in one named
 * object ({"project": {...}}), boolean query flags and name checks, so each resource
 * file parses its input the same way at the edge; and the answer shapes they share
 * (Compute links, next-page query strings, the row that must exist, the rows a
 * statement matched). */
#ifndef NUBO_WIRE_H
#define NUBO_WIRE_H
#include <stddef.h>

#include "http.h"
#include "jparse.h"

/* Pure: parses body as {"<key>": {...}}, the inner object into out per fields (n may
 * be 0 to only unwrap). Returns the inner object (borrowed from body); or NULL with a
 * client-facing message in err ("request body required" for a NULL body), with
 * nothing left in out to release. */
json_t *wire_unwrap(const json_t *body, const char *key, const struct jfield *fields, size_t n,
                    void *out, char *err, size_t errlen);

/* wire_unwrap of r's body that answers the failure: returns 0; or answers 400 on w and
 * returns -EINVAL, with nothing left in out to release. */
int wire_parse_wrapped(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                       size_t n, void *out);

/* wire_parse_wrapped for Nova's closed schemas (additionalProperties: false): the body
 * holds only key, and the inner object only the keys of fields and of also (a
 * NULL-terminated list the handler reads itself, may be NULL). Returns 0; or answers
 * 400 "Invalid input for field/attribute <key>. Additional properties are not allowed
 * (...)" and returns -EINVAL, with nothing left in out to release. */
int wire_parse_closed(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                      size_t n, const char *const *also, void *out);

/* Pure: a query flag's value. 1 for true/True/1/yes, 0 for false/False/0/no, -1 when
 * v is NULL (absent), -EINVAL for anything else. */
int wire_bool(const char *v);

/* Pure: a query value that must be a non-negative decimal integer (limit, minRam...).
 * Its value; -1 when v is NULL (absent), -EINVAL when it is anything else. */
long wire_nonneg(const char *v);

/* Pure: 1 when s is a usable display name of at most max bytes: not empty, no
 * control characters, no leading or trailing space. Else 0. */
int wire_name_ok(const char *s, size_t max);

/* Pure: 1 when every byte of s is in the ASCII letters, digits or the bytes of
 * extra, and s is 1..max bytes long. Else 0. */
int wire_charset_ok(const char *s, size_t max, const char *extra);

/* Pure: a JSON string of s, or JSON null when s is NULL (new reference). */
json_t *wire_string_or_null(const char *s);

/* Pure: the Compute links of <public_url>/compute/v2.1/<collection>/<id>:
 * [{"rel":"self",…},{"rel":"bookmark",…}] (the bookmark without the version). Returns
 * a new array. */
json_t *wire_compute_links(const char *public_url, const char *collection, const char *id);

/* Pure: appends "&<key>=<value>" to the query string s, value percent-encoded (RFC 3986
 * unreserved bytes kept). Takes ownership of s (NULL is the empty string) and returns
 * the longer string (owned). */
char *wire_query_append(char *s, const char *key, const char *value);

/* The one row a handler works on: res when it holds exactly one row. Otherwise answers
 * 500 (res NULL: err says why, logged) or status with the printf-style message, clears
 * res and returns NULL. */
PGresult *wire_one_row(struct req *r, struct resp *w, PGresult *res, const char *err, int status,
                       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Answers a statement that matched n rows (a db_exec result: an UPDATE, a DELETE or a
 * SELECT of the rows that must exist): 500 with err (logged) when n < 0, 404 with the
 * printf-style message when n is 0, else ok_status with no body. */
void wire_answer_rows(struct req *r, struct resp *w, int n, const char *err, int ok_status,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* The SQLSTATE PostgreSQL reports for a unique-constraint violation. */
#define SQLSTATE_UNIQUE "23505"
#define SQLSTATE_FOREIGN_KEY "23503"

#endif

/* Helpers shared by the OpenStack resource handlers: bodies wrapped in one named
 * object ({"project": {...}}), boolean query flags and name checks, so each resource
 * file parses its input the same way at the edge. */
#ifndef NUBO_WIRE_H
#define NUBO_WIRE_H
#include <stddef.h>

#include "http.h"
#include "jparse.h"

/* Parses r's body as {"<key>": {...}} into out per fields. Returns 0; or answers 400
 * on w and returns -EINVAL, with nothing left in out to release. */
int wire_parse_wrapped(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                       size_t n, void *out);

/* Pure: a query flag's value. 1 for true/True/1/yes, 0 for false/False/0/no, -1 when
 * v is NULL (absent), -EINVAL for anything else. */
int wire_bool(const char *v);

/* Pure: 1 when s is a usable display name of at most max bytes: not empty, no
 * control characters, no leading or trailing space. Else 0. */
int wire_name_ok(const char *s, size_t max);

/* Pure: 1 when every byte of s is in the ASCII letters, digits or the bytes of
 * extra, and s is 1..max bytes long. Else 0. */
int wire_charset_ok(const char *s, size_t max, const char *extra);

/* The SQLSTATE PostgreSQL reports for a unique-constraint violation. */
#define SQLSTATE_UNIQUE "23505"
#define SQLSTATE_FOREIGN_KEY "23503"

#endif

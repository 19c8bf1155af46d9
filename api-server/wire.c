/* Request-edge helpers shared by the resource files (see wire.h). */
#include "wire.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

json_t *wire_unwrap(const json_t *body, const char *key, const struct jfield *fields, size_t n,
                    void *out, char *err, size_t errlen)
{
	json_t *inner = NULL;
	const struct jfield top[] = {{key, J_OBJECT, 0, 0, 0, 1, 0}};
	if (!body) {
		snprintf(err, errlen, "request body required");
		return NULL;
	}
	if (jparse(body, top, 1, &inner, err, errlen) < 0 ||
	    jparse(inner, fields, n, out, err, errlen) < 0)
		return NULL;
	return inner;
}

int wire_parse_wrapped(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                       size_t n, void *out)
{
	char err[256];
	if (!wire_unwrap(r->json, key, fields, n, out, err, sizeof(err))) {
		resp_error(r, w, 400, "%s", err);
		return -EINVAL;
	}
	return 0;
}

int wire_parse_closed(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                      size_t n, const char *const *also, void *out)
{
	char err[256], why[160];
	const char *const top[] = {key, NULL};
	json_t *inner = wire_unwrap(r->json, key, fields, n, out, err, sizeof(err));
	if (!inner) {
		resp_error(r, w, 400, "%s", err);
		return -EINVAL;
	}
	const char *where = key;
	int rc = jparse_known(r->json, NULL, 0, top, why, sizeof(why));
	if (rc < 0)
		where = "body";
	else
		rc = jparse_known(inner, fields, n, also, why, sizeof(why));
	if (rc < 0) {
		jparse_release(fields, n, out);
		resp_error(r, w, 400, "Invalid input for field/attribute %s. %s", where, why);
		return -EINVAL;
	}
	return 0;
}

int wire_bool(const char *v)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	if (!v)
		return -1;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(v, yes[i]))
			return 1;
		if (!strcasecmp(v, no[i]))
			return 0;
	}
	return -EINVAL;
}

long wire_nonneg(const char *v)
{
	char *end;
	if (!v)
		return -1;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (!*v || *end || errno || x < 0)
		return -EINVAL;
	return x;
}

int wire_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max || s[0] == ' ' || s[n - 1] == ' ')
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return 0;
	}
	return 1;
}

int wire_charset_ok(const char *s, size_t max, const char *extra)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (extra && c && strchr(extra, c))))
			return 0;
	}
	return 1;
}

json_t *wire_string_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *wire_compute_links(const char *public_url, const char *collection, const char *id)
{
	char *self = xasprintf("%s/compute/v2.1/%s/%s", public_url, collection, id);
	char *bookmark = xasprintf("%s/compute/%s/%s", public_url, collection, id);
	json_t *l = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self, "rel",
	                      "bookmark", "href", bookmark);
	free(self);
	free(bookmark);
	return l;
}

char *wire_query_append(char *s, const char *key, const char *value)
{
	size_t len = s ? strlen(s) : 0;
	/* worst case every byte of value becomes %XX */
	s = xrealloc(s, len + strlen(key) + 3 * strlen(value) + 3);
	len += (size_t)sprintf(s + len, "&%s=", key);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			s[len++] = (char)*p;
		else
			len += (size_t)sprintf(s + len, "%%%02X", *p);
	}
	s[len] = '\0';
	return s;
}

/* resp_error with a va_list. */
static void answer_error(struct req *r, struct resp *w, int status, const char *fmt, va_list ap)
{
	char msg[1024];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	resp_error(r, w, status, "%s", msg);
}

PGresult *wire_one_row(struct req *r, struct resp *w, PGresult *res, const char *err, int status,
                       const char *fmt, ...)
{
	va_list ap;
	if (!res) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (PQntuples(res) == 1)
		return res;
	va_start(ap, fmt);
	answer_error(r, w, status, fmt, ap);
	va_end(ap);
	PQclear(res);
	return NULL;
}

void wire_answer_rows(struct req *r, struct resp *w, int n, const char *err, int ok_status,
                      const char *fmt, ...)
{
	va_list ap;
	if (n < 0) {
		resp_db_error(r, w, err);
		return;
	}
	if (n > 0) {
		resp_empty(w, ok_status);
		return;
	}
	va_start(ap, fmt);
	answer_error(r, w, 404, fmt, ap);
	va_end(ap);
}

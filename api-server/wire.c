/* Request-edge helpers shared by the resource files (see wire.h). */
#include "wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int wire_parse_wrapped(struct req *r, struct resp *w, const char *key, const struct jfield *fields,
                       size_t n, void *out)
{
	char err[256];
	json_t *inner = NULL;
	const struct jfield top[] = {{key, J_OBJECT, 0, 0, 0, 1, 0}};
	if (!r->json) {
		resp_error(r, w, 400, "request body required");
		return -EINVAL;
	}
	if (jparse(r->json, top, 1, &inner, err, sizeof(err)) < 0 ||
	    jparse(inner, fields, n, out, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
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

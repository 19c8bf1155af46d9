/* Compute microversion negotiation: the version header's text to a 2.x minor number,
 * with Nova's 400 (malformed) and 406 (outside the served range) texts. */
#include "compute/microversion.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define VERSION_TEXT_MAX 32

/* A decimal number without leading zeros (Nova's "[1-9]\d*|0"); at most 6 digits. */
static int number_parse(const char *s, size_t n, long *out)
{
	if (n == 0 || n > 6 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* The value of the compute entry of an OpenStack-API-Version header, copied into out
 * (trimmed); 0 when found, -ENOENT when the header names no compute version. */
static int compute_entry(const char *hdr, char *out, size_t outlen)
{
	const char *p = hdr;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		while (n > 0 && isspace((unsigned char)*p))
			p++, n--;
		size_t svc = 0;
		while (svc < n && !isspace((unsigned char)p[svc]))
			svc++;
		if (svc == 7 && !strncasecmp(p, "compute", 7)) {
			const char *v = p + svc;
			size_t vn = n - svc;
			while (vn > 0 && isspace((unsigned char)*v))
				v++, vn--;
			while (vn > 0 && isspace((unsigned char)v[vn - 1]))
				vn--;
			if (vn >= outlen)
				vn = outlen - 1; /* too long to be a version: stays malformed */
			memcpy(out, v, vn);
			out[vn] = '\0';
			return 0;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return -ENOENT;
}

int microversion_parse(const char *new_hdr, const char *legacy, int *minor, char *msg,
                       size_t msglen)
{
	char v[VERSION_TEXT_MAX];
	const char *text = NULL;
	if (new_hdr && compute_entry(new_hdr, v, sizeof(v)) == 0)
		text = v;
	else if (legacy) {
		snprintf(v, sizeof(v), "%s", legacy);
		text = v;
	}
	if (msglen)
		msg[0] = '\0';
	if (!text) {
		*minor = 1;
		return 0;
	}
	if (!strcmp(text, "latest")) {
		*minor = MICROVERSION_MAX;
		return 0;
	}
	const char *dot = strchr(text, '.');
	long major, mnr;
	/* the text is echoed only when it is digits and a dot */
	if (!dot || number_parse(text, (size_t)(dot - text), &major) < 0 ||
	    number_parse(dot + 1, strlen(dot + 1), &mnr) < 0 || major == 0) {
		int clean = strspn(text, "0123456789.") == strlen(text);
		snprintf(msg, msglen,
		         "API Version String %s is of invalid format. Must be of format "
		         "MajorNum.MinorNum.",
		         clean ? text : "(not shown)");
		return -EINVAL;
	}
	if (major != 2 || mnr < MICROVERSION_MIN || mnr > MICROVERSION_MAX) {
		snprintf(msg, msglen,
		         "Version %ld.%ld is not supported by the API. Minimum is 2.%d and maximum "
		         "is " MICROVERSION_MAX_STR ".",
		         major, mnr, MICROVERSION_MIN);
		return -ERANGE;
	}
	*minor = (int)mnr;
	return 0;
}

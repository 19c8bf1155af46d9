/* Server name -> DNS label (RFC 1123), following Nova's sanitize_hostname. */
#include "hostname.h"

#include <stdio.h>
#include <string.h>

/* The label character c becomes, or 0 when it is dropped. */
static char label_char(unsigned char c)
{
	if (c == ' ' || c == '_' || c == '.' || c == '-')
		return '-';
	if (c >= 'A' && c <= 'Z')
		return (char)(c - 'A' + 'a');
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return (char)c;
	return 0;
}

void hostname_from_name(const char *name, const char *id, char out[HOSTNAME_MAX])
{
	size_t n = 0;
	for (const char *p = name ? name : ""; *p && n < HOSTNAME_MAX - 1; p++) {
		char c = label_char((unsigned char)*p);
		if (!c || (c == '-' && n == 0))
			continue;
		out[n++] = c;
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (n)
		return;
	char fallback[HOSTNAME_MAX];
	snprintf(fallback, sizeof(fallback), "server%s%s", id ? "-" : "", id ? id : "");
	hostname_from_name(fallback, NULL, out); /* "server" survives, so this ends */
}

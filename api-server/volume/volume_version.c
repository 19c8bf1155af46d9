/* The OpenStack-API-Version header of Block Storage requests. */
#include "volume/volume_version.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int volume_version_parse(const char *header, int *minor, char *msg, size_t msglen)
{
	*minor = 0;
	if (!header)
		return 0;
	/* "volume 3.0" (case-insensitive service, one or more spaces); other services
	 * named in the header are not ours to judge */
	const char *p = header;
	while (*p == ' ')
		p++;
	if (strncasecmp(p, "volume", 6) || (p[6] != ' ' && p[6] != '\t'))
		return 0;
	p += 6;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!strcasecmp(p, "latest")) {
		*minor = VOLUME_VERSION_MAX;
		return 0;
	}
	char *end;
	long maj = strtol(p, &end, 10);
	if (end == p || *end != '.' || end[1] < '0' || end[1] > '9') {
		snprintf(msg, msglen, "Invalid API version request string %.64s", p);
		return -EINVAL;
	}
	long min = strtol(end + 1, &end, 10);
	if (*end) {
		snprintf(msg, msglen, "Invalid API version request string %.64s", p);
		return -EINVAL;
	}
	if (maj != 3 || min < 0 || min > VOLUME_VERSION_MAX) {
		snprintf(msg, msglen,
		         "Version %ld.%ld is not supported by the API. Minimum is 3.0 and maximum "
		         "is %s.",
		         maj, min, VOLUME_VERSION_MAX_STR);
		return -ERANGE;
	}
	*minor = (int)min;
	return 0;
}

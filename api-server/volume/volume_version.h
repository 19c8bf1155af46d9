/* Block Storage v3 microversions: we serve 3.0 only (VOLUME_VERSION_MAX), and say so
 * in the version document; the pure parser of the OpenStack-API-Version header. */
#ifndef NUBO_VOLUME_VERSION_H
#define NUBO_VOLUME_VERSION_H
#include <stddef.h>

#define VOLUME_VERSION_MAX 0 /* 3.0: no later microversion is implemented */
#define VOLUME_VERSION_MAX_STR "3.0"

/* Pure: the minor version asked for by header (an "OpenStack-API-Version" value such
 * as "volume 3.0" or "volume latest"; NULL or another service's: 3.0). 0 with *minor
 * set; -EINVAL (400) for a malformed value; -ERANGE (406) for one we do not serve. */
int volume_version_parse(const char *header, int *minor, char *msg, size_t msglen);

#endif

/* Compute API microversions: which 2.x a request asked for (OpenStack-API-Version:
 * compute X.Y, or the older X-OpenStack-Nova-API-Version), checked against the range
 * Nubo serves. Every step between the two ends is listed in docs/compute-microversions.md
 * with where it is implemented. Pure; tested in tests/unit/test_microversion.c. */
#ifndef NUBO_MICROVERSION_H
#define NUBO_MICROVERSION_H
#include <stddef.h>

#define MICROVERSION_MIN 1  /* 2.1 */
#define MICROVERSION_MAX 73 /* 2.<max>: the highest step implemented */
#define MICROVERSION_MAX_STR "2.73"

/* Picks the version asked for: the "compute" entry of new_hdr (a comma-separated list
 * of "<service> <version>", service case-insensitive) if there is one, else legacy
 * (either may be NULL). No header: 2.1; "latest": the maximum. Returns 0 with *minor
 * set; -EINVAL when the text is not MajorNum.MinorNum (400 in Nova); -ERANGE when it is
 * outside 2.MICROVERSION_MIN..2.MICROVERSION_MAX (406). msg gets Nova's text. */
int microversion_parse(const char *new_hdr, const char *legacy, int *minor, char *msg,
                       size_t msglen);

#endif

/* Compute admin resources (compute_admin.c): the pure parts, for tests. */
#ifndef NUBO_COMPUTE_ADMIN_H
#define NUBO_COMPUTE_ADMIN_H
#include <time.h>

#define EVENTS_MAX 256 /* events in one os-server-external-events request */

/* Pure: Nova's usage audit period completed by `before` (a month: from the first of
 * the month before before's month to the first of before's month, 00:00 UTC), into
 * begin and end (tm_year/tm_mon/tm_mday set, the rest 0). 0, or -EINVAL. */
int audit_period(time_t before, struct tm *begin, struct tm *end);

/* Pure: a timestamp of os-instance_usage_audit_log/{before}: "YYYY-MM-DD HH:MM:SS"
 * with optional ".ffffff" (1..6 digits), as Nova's strptime formats take it, read as
 * UTC. 0 with *out set, or -EINVAL. */
int audit_time_parse(const char *s, time_t *out);

#endif

/* Compute admin resources (compute_admin.c): the pure parts, for tests. */
#ifndef NUBO_COMPUTE_ADMIN_H
#define NUBO_COMPUTE_ADMIN_H
#include <stddef.h>
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

#define HYPERVISOR_UPTIME_MAX 64

/* Pure: the uptime text of a host up for up_s seconds at now, in the shape of
 * uptime(1)'s start, which Nova's libvirt driver returns: " 14:03:09 up 3 days,
 * 2:05" (" up 7 min" under an hour; the users and load of uptime(1) are not known). */
void hypervisor_uptime_text(time_t now, long up_s, char *out, size_t n);

#endif

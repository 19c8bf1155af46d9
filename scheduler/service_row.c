/* Registers the running scheduler in control_services and keeps its heartbeat. */
#include "service_row.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "ctx.h"
#include "db.h"
#include "settings.h"
#include "util.h"

static int service_row_write(PGconn *c, long down_after_s, int start, char *err, size_t errlen)
{
	char host[256] = "", secs[24];
	if (gethostname(host, sizeof(host) - 1) < 0 || !host[0]) {
		snprintf(err, errlen, "gethostname failed");
		return -EIO;
	}
	snprintf(secs, sizeof(secs), "%ld", down_after_s);
	return DBX(c, err, errlen,
	           start ? "INSERT INTO control_services (host, binary_name, down_after_s) VALUES"
	                   " ($1, 'nubo-scheduler', $2::int) ON CONFLICT (host, binary_name) DO"
	                   " UPDATE SET started_at = now(), seen_at = now(),"
	                   " down_after_s = EXCLUDED.down_after_s"
	                 : "INSERT INTO control_services (host, binary_name, down_after_s) VALUES"
	                   " ($1, 'nubo-scheduler', $2::int) ON CONFLICT (host, binary_name) DO"
	                   " UPDATE SET seen_at = now(), down_after_s = EXCLUDED.down_after_s",
	           host, secs) < 0
	           ? -EIO
	           : 0;
}

int service_row_register(PGconn *c, long down_after_s, char *err, size_t errlen)
{
	return service_row_write(c, down_after_s, 1, err, errlen);
}

void service_row_tick(struct sched *s)
{
	static int64_t last_ms;
	char err[256];
	int64_t now = time_mono_ms(), every = (int64_t)s->cfg->agent_timeout * 1000 / 3;
	if (last_ms && now - last_ms < every)
		return;
	last_ms = now;
	PGconn *c = sched_db(s);
	if (service_row_write(c, s->cfg->agent_timeout, 0, err, sizeof(err)) < 0)
		sched_db_error(s, c, "control_services: heartbeat", err);
	sched_db_done(s, c);
}

/* The scheduler's own row in control_services (migrations 0009, 0029), so the Compute
 * API can list the host it runs on (os-hosts' "scheduler" service, as Nova lists its
 * nova-scheduler) while it runs. */
#ifndef NUBO_SCHED_SERVICE_ROW_H
#define NUBO_SCHED_SERVICE_ROW_H
#include <libpq-fe.h>
#include <stddef.h>

struct sched;

/* Records (or refreshes) this host's nubo-scheduler with the start time now, gone after
 * down_after_s seconds without a heartbeat. 0, or -EIO with err. */
int service_row_register(PGconn *c, long down_after_s, char *err, size_t errlen);

/* Per tick: refreshes the row's heartbeat every agent_timeout / 3 (errors logged). */
void service_row_tick(struct sched *s);

#endif

/* The scheduler's own row in control_services (migration 0009), so the Compute API
 * can list the host it runs on (os-hosts' "scheduler" service, as Nova lists its
 * nova-scheduler). */
#ifndef NUBO_SCHED_SERVICE_ROW_H
#define NUBO_SCHED_SERVICE_ROW_H
#include <libpq-fe.h>
#include <stddef.h>

/* Records (or refreshes) this host's nubo-scheduler with the start time now. 0, or
 * -EIO with err. */
int service_row_register(PGconn *c, char *err, size_t errlen);

#endif

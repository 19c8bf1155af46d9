/* The scheduler's event loop over the shared context (ctx.h): binds the sockets,
 * connects the database and runs the handlers until asked to stop. */
#ifndef NUBO_SCHED_SCHED_H
#define NUBO_SCHED_SCHED_H
#include <signal.h>

#include "ctx.h"

/* Binds the ROUTER and PULL sockets. Returns an owned scheduler, or NULL with err.
 * The database is connected later by sched_run. */
struct sched *sched_new(const struct settings *cfg, char *err, size_t errlen);
void sched_free(struct sched *s);
/* Connects to PostgreSQL (retrying every 2 s), applies migrations, then runs the
 * loop until *stop is set. Returns 0 on a requested stop, -EIO when the schema
 * cannot be brought up to date. */
int sched_run(struct sched *s, volatile sig_atomic_t *stop);

#endif

/* The instance row of the outbox's kind table: how instance tasks are placed, sent,
 * retried, closed by their result or their deadline, and how a compute host's
 * reports and events reconcile instances (reconcile.c). */
#ifndef NUBO_SCHED_INSTANCE_TASKS_H
#define NUBO_SCHED_INSTANCE_TASKS_H

#include <libpq-fe.h>

#include "tasks.h"

extern const struct task_kind instance_tasks;

/* Where instance id, not yet placed, would be placed now (its filters, its server
 * group's policy, the weighers), ranking first the compute hosts whose machine runs a
 * storage agent with new_gb free: where the boot volume being made for it (before
 * it is placed: its spawn waits for the volume) should go so that both land on one
 * machine; the spawn's own placement then prefers the volume's machine. Reads the
 * instance without locking it (the caller holds the volume's row). 1 with host
 * written, 0 when no host passes or the instance is placed or gone, -EIO (logged). */
int instance_place_preview(struct sched *s, PGconn *c, const char *id, int new_gb,
                           char host[MSG_HOST_MAX]);

#endif

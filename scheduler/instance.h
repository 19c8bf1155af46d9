/* Writes of an instance row's state, shared by task results and reconciliation.
 * Every statement is parameterised and leaves deleted rows alone. */
#ifndef NUBO_SCHED_INSTANCE_H
#define NUBO_SCHED_INSTANCE_H
#include <libpq-fe.h>
#include <stddef.h>

#include "vmstate.h"

/* Sets status, vm_state and power_state of instance id to st. clear_task_state
 * clears task_state. fault (may be NULL) is recorded as fault_message (code 500); a
 * NULL fault keeps an ERROR instance's fault and clears any other's. Becoming ACTIVE
 * sets launched_at the first time. Returns the rows changed (0 or 1) or -EIO. */
int instance_set_state(PGconn *c, const char *id, const struct vmstate *st, int clear_task_state,
                       const char *fault, char *err, size_t errlen);
/* Marks instance id DELETED (deleted = true, terminated_at = now) and releases its
 * volumes (instance_volumes.h). Returns the rows changed or -EIO. */
int instance_mark_deleted(PGconn *c, const char *id, char *err, size_t errlen);

#endif

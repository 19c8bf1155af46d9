/* The volume backup row of the outbox's kind table (docs/internals.md, "Volume
 * backups"): a create goes to the storage host of the volume it reads, a restore to the
 * host of the volume it writes (placed like a new volume when it has none), a delete to
 * any storage host that is up (the objects are in the object store). The Swift account
 * URL and the owner's token come from the task's payload as nubo-api wrote it; the
 * token is removed from the row when the task closes. Outcomes: creating → available |
 * error, restoring → available (its volume available | error_restoring), deleting →
 * gone | error_deleting. */
#ifndef NUBO_SCHED_BACKUP_TASKS_H
#define NUBO_SCHED_BACKUP_TASKS_H

#include "tasks.h"

extern const struct task_kind backup_tasks;

#endif

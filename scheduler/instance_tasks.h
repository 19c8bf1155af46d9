/* The instance row of the outbox's kind table: how instance tasks are placed, sent,
 * retried, closed by their result or their deadline, and how a compute host's
 * reports and events reconcile instances (reconcile.c). */
#ifndef NUBO_SCHED_INSTANCE_TASKS_H
#define NUBO_SCHED_INSTANCE_TASKS_H

#include "tasks.h"

extern const struct task_kind instance_tasks;

#endif

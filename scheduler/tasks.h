/* The task outbox (docs/internals.md, "Task flow"): pending tasks are placed (spawn)
 * and dispatched to their host's agent, dispatched tasks without a result are sent
 * again, and results become task and instance transitions. */
#ifndef NUBO_SCHED_TASKS_H
#define NUBO_SCHED_TASKS_H

#define TASK_MAX_ATTEMPTS 10 /* sends of one task before it fails for want of a result */

struct sched;
struct msg;
/* One pass over the pending tasks, oldest first, at most a bounded number per pass
 * (the next pass goes on where this one stopped). A task waits while an older task
 * of the same instance is open (except delete), or while its host is down. Spawns
 * are placed; a spawn no host fits puts its instance into ERROR. */
void tasks_run(struct sched *s);
/* Sends again every dispatched task whose host is up and that has had no result
 * for [scheduler] task_retry seconds or was dispatched before this scheduler
 * started; after TASK_MAX_ATTEMPTS sends the task fails. */
void tasks_retry(struct sched *s);
/* Bus handler for result: closes the task (done/failed) and moves its instance
 * per the state table. Results for unknown, closed or foreign tasks are ignored.
 * Returns 0 or a negative errno (already logged). */
int tasks_on_result(struct sched *s, const char *peer, struct msg *m);

#endif

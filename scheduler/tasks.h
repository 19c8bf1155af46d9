/* The task outbox, reader side (docs/internals.md, "Task flow"): generic over resource
 * kinds. Pending tasks are dispatched to their agent, dispatched tasks without a
 * result are sent again (at once when their agent says hello again), results and
 * events are routed to their resource kind, and every task has a deadline past which
 * its kind closes it. What a kind does is one row of struct task_kind (instances:
 * instance_tasks.c). */
#ifndef NUBO_SCHED_TASKS_H
#define NUBO_SCHED_TASKS_H
#include <libpq-fe.h>

#include "msg.h"

struct sched;

/* A task row as the locking queries return it. */
struct task {
	char id[UUID_STR_LEN];
	char action[MSG_STATE_MAX];
	enum msg_res_kind kind;
	char resource_id[UUID_STR_LEN];
	char host[MSG_HOST_MAX]; /* "" until dispatched (or set by its writer) */
	char status[16];         /* pending, dispatched, done, failed */
	int attempts;
	long age_s;                      /* seconds since the row was written */
	char request_id[REQUEST_ID_LEN]; /* the API request it serves, "" when none */
};

/* What one resource kind does with its tasks. Every callback runs inside the task's
 * transaction with the task row locked; returning < 0 rolls it back (-EAGAIN: not
 * now, the task stays as it was; -EIO: already logged). */
struct task_kind {
	enum msg_res_kind kind;
	/* A pending task: place/send it, or close it. */
	int (*dispatch)(struct sched *s, PGconn *c, const struct task *t);
	/* A dispatched task without a result: send it again, or close it. */
	int (*resend)(struct sched *s, PGconn *c, const struct task *t);
	/* The result of t from the host it went to: close t and move the resource. */
	int (*on_result)(struct sched *s, PGconn *c, const struct task *t,
	                 const struct msg_result *r);
	/* t is past its deadline; why says what timed out where: close t and move the
	 * resource (to ERROR with why as fault, or, for a delete whose host is down,
	 * to deleted). */
	int (*on_deadline)(struct sched *s, PGconn *c, const struct task *t, const char *why);
	/* An event from host about one resource of this kind (own transaction). */
	int (*on_event)(struct sched *s, const char *host, const struct msg_event *e);
	/* A hello/heartbeat of host: reconcile its resources of this kind. */
	void (*reconcile)(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h);
};

/* The row for kind, or NULL. */
const struct task_kind *tasks_kind(enum msg_res_kind kind);

/* One pass over the pending tasks, oldest first, at most a bounded number per pass
 * (the next pass goes on where this one stopped). A task waits while an older task
 * of the same resource is open (except delete). */
void tasks_run(struct sched *s);
/* Per tick: sends again every dispatched task whose host is up and that has had no
 * result for [scheduler] task_retry seconds or was dispatched before this scheduler
 * started. */
void tasks_retry(struct sched *s);
/* Sends again at once every dispatched task of host (its agent said hello: it may
 * have restarted and lost what it was doing). */
void tasks_resend_host(struct sched *s, const char *host);
/* Per tick: stamps a deadline on tasks without one ([scheduler] spawn_deadline or
 * task_deadline after their creation) and hands tasks past it to their kind (not in
 * the first agent_timeout seconds of this scheduler: a deadline that passed while it
 * was down waits for the agents' answers to what is re-sent). */
void tasks_deadlines(struct sched *s);
/* Bus handler for result: routes it to the task's kind when it is open and from the
 * host it was sent to, then acks it to peer once recorded (or when it can never be
 * recorded: unknown, closed or foreign task). Returns 0 or a negative errno (logged). */
int tasks_on_result(struct sched *s, const char *peer, struct msg *m);
/* Bus handler for event: routes it to its resource kind. */
int tasks_on_event(struct sched *s, const char *peer, struct msg *m);
/* Routes a hello/heartbeat to every resource kind its agent kind runs. */
void tasks_reconcile_host(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h);

/* For kinds: msg_task_init for t, carrying t's request id in the envelope. */
void tasks_msg_init(struct msg *m, const struct task *t);
/* For kinds: closes task id as status ("done"/"failed") with error (may be NULL).
 * Returns rows changed or -EIO with err. */
int tasks_mark(PGconn *c, const char *id, const char *status, const char *error, char *err,
               size_t errlen);
/* For kinds: marks t dispatched to host (attempts + 1) and sends m. Returns 0, -EIO,
 * or -EAGAIN when the agent cannot be reached now (the caller rolls back). */
int tasks_send(struct sched *s, PGconn *c, const struct task *t, const char *host,
               const struct msg *m);
/* For kinds: 1 when host has been silent for more than [scheduler] host_down_after
 * seconds (or never registered), 0 when not (or while this scheduler has run for
 * less than agent_timeout: its agents may not have said hello yet), -EIO. */
int tasks_host_gone(struct sched *s, PGconn *c, const char *host);

#endif

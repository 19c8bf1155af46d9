/* The task outbox, writer side: one function that inserts a task row inside the
 * caller's transaction, used by nubo-api (server create, delete, actions), by the
 * scheduler's reconcile and by nubo-manage (and so the tests). The scheduler reads
 * the rows (scheduler/outbox.c); docs/internals.md "Task flow" has the lifecycle. */
#ifndef NUBO_OUTBOX_H
#define NUBO_OUTBOX_H
#include <libpq-fe.h>
#include <stddef.h>

#include "msg.h"

struct outbox_task {
	enum msg_res_kind kind;  /* the resource kind; the agent kind follows from it */
	const char *resource_id; /* a UUID */
	const char *action;      /* one of the kind's actions (msg.h) */
	const char *host;        /* the agent to send it to; NULL: the scheduler decides */
	const char *payload;     /* JSON object text for the task's typed payload; NULL: {} */
	const char *request_id;  /* the API request it serves ("req-<uuid>"); NULL: none */
};

/* Inserts t as a pending task into the transaction open on c (it neither begins nor
 * commits: the task commits with the caller's row changes, or not at all). The task
 * id is written to id (may be NULL). The deadline is left to the scheduler, which
 * stamps it from its per-action defaults. Returns 0, -EINVAL with err for a kind,
 * action or id msg.h does not know, or -EIO with the database's message in err. */
int outbox_insert(PGconn *c, const struct outbox_task *t, char id[UUID_STR_LEN], char *err,
                  size_t errlen);

#endif

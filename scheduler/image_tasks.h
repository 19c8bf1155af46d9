/* Instance snapshots (Nova's createImage) on the scheduler's side: the snapshot task is
 * an instance task (instance_tasks.c sends it to the instance's host like a power
 * action); this file fills its payload and, whenever the task closes, leaves no
 * snapshot image half-made. */
#ifndef NUBO_SCHED_IMAGE_TASKS_H
#define NUBO_SCHED_IMAGE_TASKS_H
#include <libpq-fe.h>
#include <stddef.h>

#include "msg.h"
#include "tasks.h"

struct sched;

/* Fills the snapshot payload of m for task t: the image id nubo-api wrote into the
 * task's payload and the URL the agent PUTs the bytes to ([api] internal_url +
 * /image/v2/images/<id>/file). Returns 0, -EIO (err set) or -EINVAL (err says why the
 * task can never be sent). */
int image_task_payload(struct sched *s, const struct task *t, PGconn *c, struct msg *m, char *err,
                       size_t errlen);

/* Called whenever snapshot task t closes (status "done" or "failed"): the image of t
 * that did not become active (the upload failed or never came, the deadline passed,
 * the server was deleted first) is deleted, as Nova deletes the image of a failed
 * snapshot; an upload still running finds its image gone and discards its bytes. A
 * task of another action is left alone. 0 or -EIO with err. */
int image_task_close(PGconn *c, const struct task *t, char *err, size_t errlen);

#endif

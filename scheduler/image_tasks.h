/* Tasks that upload an image, on the scheduler's side: instance snapshots (Nova's
 * createImage; an instance task that instance_tasks.c sends to the instance's host like
 * a power action) and volume uploads (Cinder's os-volume_upload_image; a volume task
 * of volume_tasks.c). This file fills their payload and, whenever such a task closes,
 * leaves no image half-made. */
#ifndef NUBO_SCHED_IMAGE_TASKS_H
#define NUBO_SCHED_IMAGE_TASKS_H
#include <libpq-fe.h>
#include <stddef.h>

#include "msg.h"
#include "tasks.h"

struct sched;

/* Fills the msg_snapshot payload of m for task t: the image id and disk format nubo-api
 * wrote into the task's payload and the URL the agent PUTs the bytes to ([api] internal_url +
 * /image/v2/images/<id>/file). Returns 0, -EIO (err set) or -EINVAL (err says why the
 * task can never be sent). */
int image_task_payload(struct sched *s, const struct task *t, PGconn *c, struct msg *m, char *err,
                       size_t errlen);

/* Called whenever task t closes (status "done" or "failed"): the image of t
 * that did not become active (the upload failed or never came, the deadline passed,
 * the server was deleted first) is deleted, as Nova and Cinder delete the image of a
 * failed snapshot or upload; an upload still running finds its image gone and discards
 * its bytes. A task that uploads no image is left alone. 0 or -EIO with err. */
int image_task_close(PGconn *c, const struct task *t, char *err, size_t errlen);

/* 1 when t uploads an image and that image is active already: a run of t that an agent
 * restart cut short and its re-run (whose PUT then finds the image active) both did the
 * work, so t's failure is not one. Else 0 (also on a database error). */
int image_task_landed(PGconn *c, const struct task *t);

#endif

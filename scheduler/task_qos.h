/* The disk I/O limits a task carries to a compute agent, read from the rows that hold
 * them: an instance's flavor extra specs (the copy the instance keeps from its create,
 * as Nova's embedded flavor) and a volume type's front-end QoS specs (Cinder's consumer
 * "front-end" or "both"). The API refused bad values where they were set; a row that
 * still holds one (written beside the API) fails the task with err naming it. */
#ifndef NUBO_SCHED_TASK_QOS_H
#define NUBO_SCHED_TASK_QOS_H
#include <libpq-fe.h>
#include <stddef.h>

#include "disk_qos.h"

/* The limits of instance id's own root disk (quota:disk_* of its flavor). 0 with out
 * filled (all zero: none or no such instance), -EINVAL with err, or -EIO. */
int task_qos_instance(PGconn *c, const char *id, struct disk_qos *out, char *err, size_t errlen);
/* The limits of volume id (its type's QoS specs when their consumer is front-end or
 * both). 0 with out filled (all zero: none), -EINVAL with err, or -EIO. */
int task_qos_volume(PGconn *c, const char *id, struct disk_qos *out, char *err, size_t errlen);

#endif

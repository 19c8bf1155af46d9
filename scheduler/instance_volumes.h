/* What a deleted instance leaves to Block Storage: the volumes attached to it. */
#ifndef NUBO_SCHED_INSTANCE_VOLUMES_H
#define NUBO_SCHED_INSTANCE_VOLUMES_H
#include <libpq-fe.h>
#include <stddef.h>

#include "msg.h"

/* Detaches every volume attached to instance id in the database, as Nova's terminate
 * does: in-use, attaching or detaching becomes available, and the attachment (server,
 * id, device) is cleared on every one; a volume attached with delete_on_termination
 * (a boot volume Nova made from an image, or one the user asked so) goes deleting
 * with its delete task queued instead. Called in the transaction that marks the
 * instance deleted, once its QEMU (which held the files) is gone. Returns the volumes
 * released or -EIO. */
int instance_volumes_release(PGconn *c, const char *id, char *err, size_t errlen);

/* After action succeeded on instance id with the power state reported ("" or NULL
 * when none): when the action started a new QEMU (start, reboot, hard reboot,
 * rebuild, resume) that runs, queues an attach task for every volume in-use on the
 * instance through Compute (attach_compute; Cinder's os-attach is bookkeeping only) and
 * of the instance's own project, since hot-plugged disks live only in the QEMU that is
 * gone (the attach is idempotent). In the caller's transaction. Returns the tasks queued or -EIO.
 */
/* 1 when action starts the instance's QEMU anew (start, reboot, hard reboot, rebuild,
 * resume): its boot volume is checked again first (instance_volumes_boot), as the
 * disk the QEMU opens is named by the agent's spec.json. Else 0. */
int instance_volumes_restarts(const char *action);

int instance_volumes_replug(PGconn *c, const char *id, const char *action, const char *reported,
                            char *err, size_t errlen);

/* The boot volume of instance id, before its spawn is sent (in the caller's
 * transaction, the volume row locked): 0 when the instance boots from an image; 1 when
 * its volume is ready, which is then in-use, with vol and host (its storage agent)
 * written; -EAGAIN while the volume is still being made (the spawn waits); -EINVAL
 * with err when it can never boot (the volume failed, is gone or attached elsewhere);
 * -EIO. */
int instance_volumes_boot(PGconn *c, const char *id, char vol[UUID_STR_LEN],
                          char host[MSG_HOST_MAX], char *err, size_t errlen);

#endif

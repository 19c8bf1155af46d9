/* What a deleted instance leaves to Block Storage: the volumes attached to it. */
#ifndef NUBO_SCHED_INSTANCE_VOLUMES_H
#define NUBO_SCHED_INSTANCE_VOLUMES_H
#include <libpq-fe.h>
#include <stddef.h>

/* Detaches every volume attached to instance id in the database, as Nova's terminate
 * does: in-use, attaching or detaching becomes available, and the attachment (server,
 * id, device) is cleared on every one. Called in the transaction that marks the
 * instance deleted, once its QEMU (which held the files) is gone. Returns the volumes
 * released or -EIO. */
int instance_volumes_release(PGconn *c, const char *id, char *err, size_t errlen);

#endif

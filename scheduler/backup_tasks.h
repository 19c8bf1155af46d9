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

/* Pure: 1 when a backup create of a volume (of its snapshot snapshot_id when not "") must
 * first have a point-in-time copy made on a compute host: no snapshot is named and a
 * server of the storage host's machine has the volume plugged (volume_copy_on_compute:
 * its QEMU writes the pool file). Such a create is one task in two hops: TASK_BACKUP_COPY
 * to the server's compute host, which copies the volume into the pool's copies/<backup
 * id> with the guest paused, as for a forced snapshot (the server is kept in the task's
 * payload as copy_instance); then, its success recorded as the payload's copied, the
 * create to the storage host, which backs the copy up. The copy is removed once its
 * backup has no open task any more, whatever the outcome, when the storage host's next
 * heartbeat lists it (TASK_BACKUP_DROP): until then a re-sent hop finds it. */
int backup_copy_first(const char *snapshot_id, const char *instance_id, const char *instance_host,
                      const char *storage_host);

#endif

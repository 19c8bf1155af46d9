/* The volume and snapshot rows of the outbox's kind table: volumes are placed on the
 * storage host with the most free space, a server's new boot volume on its machine
 * when it can be, and under the local_to_instance hint only there (a copy goes where
 * its source is), tasks go
 * to the volume's host, and each outcome moves the row along Cinder's state machine
 * (api-server/volume/volume_state.h): creating → available | error, extending →
 * available | error_extending, deleting → gone | error_deleting. */
#ifndef NUBO_SCHED_VOLUME_TASKS_H
#define NUBO_SCHED_VOLUME_TASKS_H

#include <stddef.h>

#include "tasks.h"

extern const struct task_kind volume_tasks;
extern const struct task_kind snapshot_tasks;
/* attachment_tasks.c: to compute hosts, and first to the storage host when the volume
 * is on another machine (an NBD export) */
extern const struct task_kind attachment_tasks;
/* A storage host's hello or heartbeat: every NBD export it lists (resources of kind
 * attachment) whose volume is no longer attached gets a stop (attachment_tasks.c). */
void attachment_exports_reconcile(struct sched *s, PGconn *c, const char *host,
                                  const struct msg_hello *h);
/* Before a spawn or rebuild (task task_id) of a server booting from volume k->boot_volume_id
 * is sent to compute host host: when the volume's storage host k->boot_volume_host is
 * another machine, the root disk comes over NBD. The export is made by an attach task
 * of the volume (one hop, to the storage host; the boot volume's attachment id and a
 * key derived as for an attach) queued here; once done, nbd_host, nbd_port,
 * attachment_id and psk go into k. Returns 0 (k complete: filled, or the volume is on
 * host's machine), 1 while the export is being made (the spawn waits; in the caller's
 * transaction), -EINVAL with err when it cannot be (the export failed), -EIO. */
int attachment_boot_export(struct sched *s, PGconn *c, const char *task_id, const char *host,
                           struct msg_spawn *k, char *err, size_t errlen);
/* The delete of instance instance_id succeeded on compute host host (its QEMU is
 * gone): the export of its boot volume, when another machine's storage host serves
 * it, is told to stop (the heartbeat check would stop it too, later). 0 or -EIO. */
int attachment_boot_export_stop(struct sched *s, PGconn *c, const char *instance_id,
                                const char *host, char *err, size_t errlen);
/* Over the registry (placement_store_choose): the storage host that is up, is in
 * zone az (NULL or "": any), has size_gb free, is on near's machine when one is (near:
 * a compute host, NULL or "" for none; only such a host passes when local_only) and
 * then has the most free, into host. 0, or -ENOSPC with why written ("no storage host
 * has 20 GB free: st1 has 4 GB"). */
int volume_place_near(const struct sched *s, int size_gb, const char *az, const char *near,
                      int local_only, char *host, size_t n, char *why, size_t whylen);
/* Records that volume volume_id is on storage host host, and so in host's zone (the
 * zone its agent reports; a volume asked for no zone, or copied on its source's host,
 * takes it). Rows updated, or -EIO with err. */
int volume_placed(const struct sched *s, PGconn *c, const char *volume_id, const char *host,
                  char *err, size_t errlen);
/* Pure: 1 when a copy of a volume of storage host storage_host that Compute has plugged
 * into server instance_id ("" when none) on compute host instance_host ("" while it has
 * none) must be made on that compute host, with the guest paused: the server is on the
 * storage host's machine, so its QEMU holds the pool file (a snapshot, a clone, a
 * backup's point-in-time copy). A server of another machine gets the volume over NBD:
 * the storage host copies it through the export's daemon. A server without a host is
 * answered 1 too, for the caller to refuse. */
int volume_copy_on_compute(const char *instance_id, const char *instance_host,
                           const char *storage_host);
/* volume_place_near() in any zone, near no machine. */
int volume_place(const struct sched *s, int size_gb, char *host, size_t n);

#endif

/* Volume hot-plug on a running instance over QMP: attach = the volume's qcow2 opened
 * by the worker and handed to QEMU as a descriptor set (add-fd), blockdev-add on
 * /dev/fdset/N, with I/O limits (the volume type's front-end QoS) an object-add of a
 * throttle-group and a blockdev-add of a throttle node above it, device_add scsi-hd on
 * the instance's virtio-scsi controller with serial = volume id; detach = device_del
 * (immediate for a SCSI disk: no waiting for the guest), wait until the device is
 * gone, blockdev-del of the nodes, object-del, remove-fd. A volume of another
 * machine's storage agent comes over NBD instead (the attach payload names the
 * export): a tls-creds-psk client object whose key file QEMU reads through a directory
 * descriptor it was handed (it cannot reach the instance directory by path), an nbd
 * blockdev with that object, the same limits and device; detach also deletes the
 * object. Pure names and QMP arguments are exposed for tests. */
#ifndef NUBO_VM_VOLUME_H
#define NUBO_VM_VOLUME_H
#include <jansson.h>
#include <stddef.h>

#include "msg.h"
#include "vm.h"

/* QEMU's ids of one attached volume, each under 32 bytes as QEMU requires node names:
 * a letter + 30 hex digits of the volume id. */
struct vm_volume_ids {
	char node[32];     /* "v...": the qcow2 (or nbd) block node */
	char dev[32];      /* "d...": the scsi-hd device */
	char throttle[32]; /* "t...": the throttle filter node above node, with limits */
	char group[32];    /* "g...": the throttle-group object of the volume's limits */
	char creds[32];    /* "k...": the TLS-PSK client object of an NBD export */
};

/* Pure: the ids of volume_id's QEMU objects. */
void vm_volume_names(const char *volume_id, struct vm_volume_ids *ids);

/* Pure: the QMP arguments (owned) of object-add for the TLS-PSK client credentials
 * creds reading <dir>/keys.psk with identity username, and of blockdev-add for node
 * reading NBD export export_name at host:port through creds (reconnecting for a while
 * when the storage host's daemon restarts). */
json_t *vm_volume_psk_object_args(const char *creds, const char *dir, const char *username);
json_t *vm_volume_nbd_blockdev_args(const char *node, const char *host, int port,
                                    const char *export_name, const char *creds);

/* Writes the TLS key file QEMU reads: <dir>/keys.psk holding "<identity>:<key>" (dir
 * made anew). QEMU runs under a uid of its own and reaches the directory only through
 * the descriptor it is handed (the instance directory above is the worker's, 0700), so
 * the file is readable and the directory searchable by others; it lives only while the
 * credentials object is made (a hot-plug's object-add, a root disk's QEMU start). 0 or
 * a negative errno. */
int vm_volume_psk_dir_make(const char *dir, const char *identity, const char *key);

/* Removes every psk-* directory (a hot-plug's or the root disk's key file) of the
 * instance directory dir: what an attach or a start left when the agent died between
 * making the key file and removing it (review s9 L5). For the agent's start, when no
 * task runs. Returns how many it removed. */
int vm_volume_psk_sweep(const char *dir);

struct conf;
/* The storage pool directory of this machine's storage agent (storage.state_dir of
 * the same nubo.conf, c may be NULL), borrowed from c or a constant. */
const char *vm_volume_pool_dir(const struct conf *c);
/* [storage] volume_group when this machine's pool is LVM ([storage] backend = lvm),
 * else NULL. */
const char *vm_volume_group(const struct conf *c);
/* 0 when storage_host is this machine's storage agent (so its pool file can be opened
 * directly), else -EXDEV with err saying that volume_id is elsewhere. */
int vm_volume_local(const struct vm_ctx *ctx, const char *volume_id, const char *storage_host,
                    char *err, size_t errlen);

/* Runs an attachment task (TASK_ATTACH, TASK_DETACH; t->resource_id is the volume)
 * on vm and fills r (ids set, state "attached"/"detached"/"error", error owned).
 * Idempotent: attaching what is attached, or detaching what is not, succeeds. */
void vm_volume_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                   struct msg_result *r);

/* Runs a snapshot create of a volume plugged into vm (t->resource_id is the snapshot,
 * t->p.snap_create names the volume and its storage host, which must be this machine's):
 * the volume's pool file is copied into the pool's snapshots/ with vm's guest paused
 * meanwhile (vm_snapshot_copy), and r filled (kind snapshot, state "available" or
 * "error", error owned). Idempotent: a snapshot file already in place succeeds. The
 * storage agent deletes it like its own. */
void vm_volume_snapshot_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                            struct msg_result *r);

/* Runs the first hop of a backup create of a volume plugged into vm (t->resource_id is
 * the backup, action TASK_BACKUP_COPY, t->p.snap_create names the volume and its storage
 * host, which must be this machine's): the volume's pool file is copied into the pool's
 * copies/<backup id> (common/volfile.h VOLFILE_COPIES) with vm's guest paused meanwhile,
 * as a snapshot is; the storage agent's backup reads it (and drops it once the task is
 * over, on the scheduler's word). r filled (kind
 * backup, state "available" or "error", error owned). Idempotent: a copy already in place
 * succeeds. */
void vm_volume_backup_copy_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                               struct msg_result *r);

/* Runs a volume create that clones a volume plugged into vm (t->resource_id is the new
 * volume, t->p.vol_create its size and source volume, with the storage host, which must
 * be this machine's): the source's pool file is copied with vm's guest paused meanwhile,
 * grown to size_gb and renamed into the pool's volumes/; r filled (kind volume, state
 * "available" or "error", error owned). Idempotent: a volume file already in place
 * succeeds. The storage agent owns the new volume from then on. */
void vm_volume_clone_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                         struct msg_result *r);

#endif

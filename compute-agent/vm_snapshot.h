/* Instance snapshots (Nova's createImage) on the compute host: the root disk overlay is
 * flattened with its backing chain into one standalone qcow2 by `qemu-img convert`,
 * while a running guest's vCPUs are stopped (QMP stop flushes QEMU's block layer, so
 * the file is consistent as of that instant; QMP cont resumes it), and the copy is
 * PUT to the Image API's file URL of the queued snapshot image with the agent key. */
#ifndef NUBO_VM_SNAPSHOT_H
#define NUBO_VM_SNAPSHOT_H
#include <stddef.h>

#include "vm.h"

#define VM_SNAPSHOT_ARGC 12 /* entries of the qemu-img argv, NULL included */

/* Pure: fills argv with `qemu-img convert -U -q -f DISK_FMT -O OUT_FMT <disk> <out>` (the
 * chain read with shared locks, as the running QEMU holds the write lock; formats "qcow2"
 * or "raw"), NULL terminated. */
void vm_snapshot_argv(const char *disk, const char *disk_fmt, const char *out, const char *out_fmt,
                      const char *argv[VM_SNAPSHOT_ARGC]);

/* `qemu-img convert` of disk (a disk_fmt file vm's QEMU may hold open) into out (a new
 * out_fmt file), a running
 * guest's vCPUs stopped meanwhile (QMP stop, then cont; a guest that cannot be resumed
 * is recorded as paused). 0 or a negative errno with err; out may remain on failure. */
int vm_snapshot_copy(struct vm *vm, const char *disk, const char *disk_fmt, const char *out,
                     const char *out_fmt, char *err, size_t errlen);

/* The snapshot task action of the QEMU driver (t->p.snapshot). Leaves the guest in the
 * power state it had; no temporary file remains. 0 or a negative errno with err. */
int vm_snapshot_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                    size_t errlen);

/* At re-attach to a QEMU an earlier agent left: a guest that agent stopped for a
 * snapshot and never resumed (it died between stop and cont; the snapshot.stopped
 * mark is there) is resumed, and state (VM_PAUSED) becomes VM_RUNNING. The user's
 * own pause has no mark and stays. */
void vm_snapshot_reattach(struct vm *vm, char state[MSG_STATE_MAX]);

/* Drops the mark a snapshot leaves while it holds the guest stopped (one whose resume
 * failed stays, the guest shown PAUSED): once the user acts on the server (unpause,
 * pause, stop, start, reboot, ...) the pause is theirs, and a later restart or snapshot
 * must not resume it (review s7 M3). */
void vm_snapshot_forget(struct vm *vm);

#endif

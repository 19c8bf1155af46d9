/* A copy of a volume while qemu-storage-daemon serves it over NBD to a server on
 * another machine: the daemon's own QMP monitor runs a backup job (blockdev-backup,
 * sync=full) from the exported node into a new qcow2 file. The copy is the volume as it
 * was when the job started, every write the daemon had acknowledged included (the job's
 * copy-before-write filter keeps later writes out), while the guest runs on: nothing of
 * the compute host is involved. Never logs. */
#ifndef NUBO_STORAGE_EXPORT_COPY_H
#define NUBO_STORAGE_EXPORT_COPY_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "export.h"

/* The daemon's names for the copy made for id (a snapshot's or a new volume's id):
 * its target node and its job, "c"/"j" + the first 30 hex digits of id. */
struct export_copy_names {
	char node[32];
	char job[32];
};
void export_copy_names(const char *id, struct export_copy_names *n);

/* Pure: the arguments (owned) of blockdev-add of the target node on file, and of the
 * blockdev-backup job from the exported node into it. format is the pool's: "qcow2"
 * (NULL too; a qcow2 node on a file) or "raw" (a raw node of bytes, the volume's size,
 * on the host_device of an LV); any other gives NULL. */
json_t *export_copy_target_args(const struct export_copy_names *n, const char *file,
                                const char *format, uint64_t bytes);
json_t *export_copy_backup_args(const struct export_copy_names *n);

/* Copies volume_id, exported by x, into out (absolute) for the resource id. format
 * "qcow2": out is made here as a qcow2 of the volume's size, replaced when there;
 * "raw": out is a block device (an LV) at least the volume's size, written from its
 * start (the rest is left as it is). What an earlier run for id
 * left in the daemon (an agent killed mid-copy: its job and node) is removed first.
 * 0 when copied; -ENOENT when the volume is not exported (the caller copies the pool
 * file itself); else a negative errno with err (out may be left: the caller removes it). */
int export_copy(struct exports *x, const char *volume_id, const char *id, const char *out,
                const char *format, char *err, size_t errlen);

/* At the agent's start, when no copy runs: removes from every export daemon the copies
 * an earlier run of the agent left (killed mid-copy, its task failed by its deadline
 * since), their jobs cancelled, within budget_ms in all (a hung daemon must not hold
 * back the agent's hello: those not reached keep their nodes, logged). Returns how many. */
#define EXPORT_SWEEP_BUDGET_MS 30000
int export_copy_sweep(struct exports *x, int budget_ms);

#endif

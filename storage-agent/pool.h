/* The volume pool of one storage host: a directory of self-contained volume files,
 * volumes/<id>.EXT and snapshots/<id>.EXT, EXT the file's format: qcow2, or raw (sparse
 * files) when [storage] volume_format = raw (pool_set_format; new files get the pool's
 * format, existing ones keep theirs and are found by pool_locate; common/volfile.h), made in tmp/
 * and renamed into place once complete (so a file in volumes/ or snapshots/ is always whole, and a
 * restart finds either nothing or the finished file). Snapshots and clones are full copies
 * (`qemu-img convert`), never overlay chains: a volume, a snapshot and a clone each
 * live and die alone (docs/internals.md, "Storage agent"). qemu-img runs from argv
 * (common/qemu_img.h); an empty qcow2 volume is a copy of the empty qcow2 qemu-img made
 * once for its size (an empty raw one a sparse file) (pool_template.h, in templates/); a source
 * image is inspected (common/qemu_img_check) before any tool opens it. Thread-safe for different
 * ids. Never logs. */
#ifndef NUBO_STORAGE_POOL_H
#define NUBO_STORAGE_POOL_H
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/* Copies volume volume_id into out for resource id while something else serves the
 * volume (an NBD export, export_copy.h), so the pool cannot read it alone. format is
 * the pool's ("qcow2": out is made here as a new file of the volume's size; "raw": out
 * is a block device at least that large, already there, whose first bytes get the
 * copy). 0 when copied, -ENOENT when nothing serves it (the pool copies it itself),
 * else a negative errno with err. */
typedef int (*pool_live_copy_fn)(void *arg, const char *volume_id, const char *id, const char *out,
                                 const char *format, char *err, size_t errlen);

enum pool_kind { POOL_VOLUME, POOL_SNAPSHOT };

struct pool;
struct priv;
/* A backend: the file pool below (qcow2 or raw files) or LVM (pool_lvm.c, raw LVs). */
struct pool_ops {
	const char *format; /* what every volume holds ("raw"); NULL: per file (pool_locate) */
	char *(*path)(const struct pool *p, enum pool_kind kind, const char *id);
	/* path, and the format of what is there (NULL: path with format) */
	char *(*locate)(const struct pool *p, enum pool_kind kind, const char *id,
	                const char **fmt);
	int (*volume_create)(const struct pool *p, const char *id, const struct msg_vol_create *c,
	                     char *err, size_t errlen);
	int (*snapshot_create)(const struct pool *p, const char *id, const char *volume_id,
	                       char *err, size_t errlen);
	int (*volume_extend)(const struct pool *p, const char *id, int size_gb, char *err,
	                     size_t errlen);
	int (*remove)(const struct pool *p, enum pool_kind kind, const char *id, char *err,
	              size_t errlen);
	void (*space)(const struct pool *p, int *total_gb, int *free_gb);
	int (*list)(const struct pool *p, struct msg_resource *out, int max);
};

struct pool {
	char *dir;                  /* the state directory (absolute) */
	char *agent_key;            /* presented on uploads to the API (pool_upload.c) */
	struct image_cache *images; /* images/: the sources of volumes made from images */
	const struct pool_ops *ops;
	const char *volume_format;   /* the file pool's new volumes: "qcow2" (default) or "raw" */
	char *vg;                    /* LVM: the volume group; NULL for the file pool */
	struct priv *priv;           /* LVM: the helper that runs lvm (borrowed) */
	struct lvm_cache *lvm;       /* LVM: the space and list the heartbeat reads (pool_lvm.c) */
	pool_live_copy_fn live_copy; /* NULL: every volume is copied from its file or LV */
	void *live_arg;
};

/* Fills p for dir and creates volumes/, snapshots/, copies/, an empty tmp/ and the base image
 * cache images/ (common/image_cache.h: downloads with agent_key of at most
 * max_image_bytes, evicted beyond image_cache_bytes). 0 or -errno with err. */
int pool_open(struct pool *p, const char *dir, const char *agent_key, long long max_image_bytes,
              long long image_cache_bytes, char *err, size_t errlen);
/* Switches p to the LVM backend on volume group vg, whose commands the helper priv
 * runs (its rows are lvm_priv.h's): the group must answer `vgs` and the kernel's
 * device-mapper `dmsetup version` (-ENODEV, "...: no device-mapper in the kernel (...)"
 * without it). Then activates its vol-/snap- LVs (`lvchange -ay --select`), removes LVs left
 * half-made by an earlier run and gives the volumes' and snapshots' nodes back to the worker (in
 * the helper, over the whole list); what failed there goes to note (the caller logs it; "" when all
 * went well). Starts the thread that keeps the group's space and list for pool_space/pool_list
 * (refreshed after each change and every 30 s; neither ever runs lvm itself). 0, or a negative
 * errno with err ("volume group X: ..."). */
int pool_use_lvm(struct pool *p, const char *vg, struct priv *priv, char *note, size_t notelen,
                 char *err, size_t errlen);
/* The part of pool_use_lvm after its checks (vgs, device-mapper): activation, the
 * adopt pass, the kept space and list and their thread. Always 0; note as above. */
int pool_lvm_start(struct pool *p, const char *vg, struct priv *priv, char *note, size_t notelen);
/* Stops the LVM backend's thread and frees what it kept (pool_close calls it). */
void pool_lvm_close(struct pool *p);
/* LVM: the adopt pass again (removes tmp-* LVs: those an export daemon held open at
 * pool_use_lvm, the target of a copy an earlier run left in it, can go once that copy
 * is swept out of the daemon: export_copy_sweep). Nothing for the file pool. */
void pool_lvm_tidy(const struct pool *p);
void pool_close(struct pool *p);
/* "qcow2" or "raw": the format of the volumes and snapshots p makes (LVM: of all of
 * them; the file pool: of new ones, while an existing file keeps its own: pool_locate). */
const char *pool_format(const struct pool *p);
/* The file pool's format for new volumes, snapshots and clones ([storage]
 * volume_format): "qcow2" or "raw". 0, or -EINVAL for anything else. */
int pool_set_format(struct pool *p, const char *format);

/* The path of id's file (or block device) of kind (owned): the file there, whatever its
 * format, else the one a new one gets. */
char *pool_path(const struct pool *p, enum pool_kind kind, const char *id);
/* pool_path, and the qemu driver that reads it ("qcow2" or "raw") to *fmt. */
char *pool_locate(const struct pool *p, enum pool_kind kind, const char *id, const char **fmt);

/* Creates volume id per c (empty, or a copy of a volume, a snapshot or an image,
 * grown to c->size_gb). A volume already in place is success (idempotent). 0, or a
 * negative errno with err (nothing left behind). */
int pool_volume_create(const struct pool *p, const char *id, const struct msg_vol_create *c,
                       char *err, size_t errlen);
/* Copies volume volume_id into snapshot id. Idempotent as create. */
int pool_snapshot_create(const struct pool *p, const char *id, const char *volume_id, char *err,
                         size_t errlen);
/* Grows volume id to size_gb (never shrinks: a larger file is left as it is). */
int pool_volume_extend(const struct pool *p, const char *id, int size_gb, char *err, size_t errlen);
/* Removes id's file of kind; a missing one is success. */
int pool_remove(const struct pool *p, enum pool_kind kind, const char *id, char *err,
                size_t errlen);
/* Free and total GiB of the pool's file system (or volume group). */
void pool_space(const struct pool *p, int *total_gb, int *free_gb);
/* Fills up to max resources with what the pool holds (volumes and snapshots, state
 * "available"). Returns the count. */
int pool_list(const struct pool *p, struct msg_resource *out, int max);

/* The point-in-time copies of in-use volumes that backups read (VOLFILE_COPIES of the state
 * directory, whatever the backend: common/volfile.h), named by their backup's id. The
 * compute agent of this machine makes them; they outlive a restart of this agent. */
/* The path (owned) of backup_id's copy, its format to *fmt (a qcow2 name when none). */
char *pool_copy_locate(const struct pool *p, const char *backup_id, const char **fmt);
/* Fills up to max resources of kind backup (state available), one per copy, whole or
 * still being made (VOLFILE_PART). The count. */
int pool_copies_list(const struct pool *p, struct msg_resource *out, int max);
/* Removes backup_id's copy, in whatever format, whole or still being made (its maker
 * then fails to rename it); none there is success. 0 or -errno with
 * err. */
int pool_copy_drop(const struct pool *p, const char *backup_id, char *err, size_t errlen);

struct qemu_img_argv;
/* Runs a qemu-img argv built by a common/qemu_img.h builder that returned built (< 0:
 * refused, nothing runs). 0, or -EINVAL / -EIO with qemu-img's words in err. */
int pool_run_img(const struct qemu_img_argv *a, int built, char *err, size_t errlen);
/* Moves the finished file tmp to path durably (fsync, rename, directory sync). 0 or
 * -errno with err. */
int pool_commit(const char *tmp, const char *path, char *err, size_t errlen);
/* Makes dl (in the state directory's tmp/) a hard link of the image of c in the image
 * cache, which downloads and inspects it once per checksum; it must be at most
 * max_virtual bytes virtual. Its qemu-img driver goes to *fmt. The caller lets dl go
 * with pool_image_release. 0 or a negative errno with err. */
int pool_image_fetch(const struct pool *p, const struct msg_vol_create *c, const char *dl,
                     uint64_t max_virtual, const char **fmt, char *err, size_t errlen);
/* Removes dl and runs the cache's eviction, which dl's link kept from counting the
 * entry (so a bound of 0 keeps nothing unused here too). */
void pool_image_release(const struct pool *p, const char *dl);

/* Copies volume volume_id into out through p->live_copy when the volume is served that
 * way: format "qcow2" makes out a new qcow2 file, "raw" writes the block device out (an
 * LV of a raw pool). -ENOENT when it is not served so (nothing done: the backend copies
 * it itself), else as pool_live_copy_fn. */
int pool_live_copy(const struct pool *p, const char *volume_id, const char *id, const char *out,
                   const char *format, char *err, size_t errlen);

extern const struct pool_ops pool_lvm_ops;

#endif

/* Volume backups in the object store (docs/internals.md, "Volume backups"): a volume is
 * read as raw bytes in BACKUP_CHUNK pieces; each piece that is not all zeros and differs
 * from the parent's piece at the same place (by sha256) is PUT as the object
 * "<backup id>/chunk-NNNNN" of the backup's container in the owner's Swift account, and
 * a manifest object "<backup id>/manifest" lists every piece the backup holds: its
 * index, sha256 and the backup whose object has the bytes (itself, or for an incremental
 * the ancestor whose piece it reuses). A restore GETs and checks each listed piece and
 * writes a new qcow2 for the target volume (absent pieces are zeros); a delete removes
 * the backup's own objects (the API refuses it while a child reuses them). Every
 * request carries the task's token (X-Auth-Token). Never logs. */
#ifndef NUBO_STORAGE_BACKUP_H
#define NUBO_STORAGE_BACKUP_H
#include <stddef.h>

#include "msg.h"
#include "pool.h"

#define BACKUP_CHUNK (4u << 20)         /* bytes per object */
#define BACKUP_MANIFEST_MAX (32u << 20) /* largest manifest read back */
#define BACKUP_ARGV_MAX 12

/* Pure: the argv of `qemu-img convert -q [-U] -f SRC_FMT -O raw SRC DST` (-U: the
 * volume is in use, read it shared), src_fmt the pool's ("qcow2" or "raw"). Paths must
 * be absolute. 0 or -EINVAL. */
int backup_read_argv(const char *src, const char *src_fmt, const char *dst, int shared,
                     const char *argv[BACKUP_ARGV_MAX]);

/* Pure: whether a manifest's size (bytes) may be restored into a volume of size_gb GiB:
 * positive, whole sectors, and no larger than the volume. The manifest lives in the
 * tenant's own account and can be rewritten there: a larger size would give the
 * volume a disk above its size and quota (review s8 H1). */
int backup_size_fits(long long size, int size_gb);

/* Pure: whether an object name is one a backup's delete removes: short and of
 * [A-Za-z0-9._/-] only, as the names this agent writes ("<id>/chunk-NNNNN",
 * "<id>/manifest"). Others the tenant put under the prefix stay theirs. */
int backup_name_plain(const char *name);

/* Creates backup id of b->volume_id (of its snapshot b->snapshot_id when set; of the
 * point-in-time copy pool_copy_locate(id) when b->copied, which stays until the scheduler
 * drops it once the task is over, so a run repeated after a crash reads it again; incremental over
 * b->parent_id when set). A forced backup of a volume another machine's server has plugged reads a
 * copy its NBD export's daemon makes (pool_live_copy). On success *count is the number of objects
 * the backup wrote (its chunks and manifest). 0, or a negative errno with err. Repeating it
 * rewrites the same objects. */
int backup_create(const struct pool *p, const char *id, const struct msg_backup *b, int *count,
                  char *err, size_t errlen);
/* Writes backup id (its objects: b->data_id's when set) into volume b->volume_id of the pool (grown
 * to b->size_gb), replacing its file. 0, or a negative errno with err (the volume's file is then
 * unchanged). */
int backup_restore(const struct pool *p, const char *id, const struct msg_backup *b, char *err,
                   size_t errlen);
/* Removes backup id's own objects (b->data_id's for an imported record; none left is
 * success). 0 or a negative errno. */
int backup_delete(const struct pool *p, const char *id, const struct msg_backup *b, char *err,
                  size_t errlen);

#endif

/* The file pool's layout, shared by nubo-storage (storage-agent/pool.c) and nubo-compute's
 * same-machine paths (compute-agent/vm_volume.c): a volume or snapshot is one file
 * <pool>/<dir>/<id>.<format>, dir "volumes", "snapshots" or VOLFILE_COPIES, format "qcow2" or "raw"
 * (the file's extension names its qemu driver, so a pool whose [storage] volume_format changed
 * keeps serving the files it holds). Pure but for volfile_find's stat. */
#ifndef NUBO_VOLFILE_H
#define NUBO_VOLFILE_H
#include <stddef.h>

/* The directory of the point-in-time copies in-use volumes' backups read: copies/<backup
 * id>.<format>, made by the compute agent of the machine whose server has the volume
 * plugged (with the guest paused), read by the storage agent's backup and removed when
 * the scheduler tells it the backup's task is over. Not emptied at the
 * storage agent's start, unlike tmp/: a backup task re-sent after a restart reads it. */
#define VOLFILE_COPIES "copies"
/* A copy in VOLFILE_COPIES still being made: <id>.<format>.part, renamed to <id>.<format>
 * once whole. It is listed and dropped like a whole one, so a copy whose maker died and
 * whose task is over goes too. */
#define VOLFILE_PART ".part"

/* "qcow2" or "raw" when name (len bytes) ends in ".qcow2" or ".raw", else NULL. */
const char *volfile_ext(const char *name, size_t len);
/* The volume file formats in lookup order, i from 0: "qcow2", "raw", then NULL. */
const char *volfile_format_at(size_t i);
/* 1 when fmt is a volume file format ("qcow2" or "raw"). */
int volfile_format_ok(const char *fmt);
/* The path (owned) of id's file in <pool>/<dir>: the one there, <id>.qcow2 or <id>.raw
 * (checked in that order), its format to *fmt; else <id>.<new_fmt>, *fmt = new_fmt (a
 * new file's name). */
char *volfile_find(const char *pool, const char *dir, const char *id, const char *new_fmt,
                   const char **fmt);

#endif

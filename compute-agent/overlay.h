/* Instance root disks: a qcow2 overlay on the instance's base, the hard link
 * <instance dir>/base that common/image_cache.h gives of the cached image. The overlay's
 * header names its backing file relatively ("base"), so it resolves inside the
 * instance's own directory whatever the cache evicts (QEMU itself never opens that name:
 * the helper hands it the base as a descriptor, compute-agent/vm_priv.c). */
#ifndef NUBO_COMPUTE_OVERLAY_H
#define NUBO_COMPUTE_OVERLAY_H
#include <stddef.h>

#define OVERLAY_BASE "base" /* the base's name in the instance directory */

/* Creates a qcow2 overlay at path whose backing file is base (a path, format fmt),
 * recorded in the header as backing (a name relative to path's directory), of size
 * bytes (0 = the base's size), atomically. A size below the base's virtual size is
 * refused with -EFBIG (the base is inspected again with qemu_img_check). 0 or a
 * negative errno with err. */
int overlay_create(const char *base, const char *backing, const char *fmt, const char *path,
                   long long size, char *err, size_t errlen);

/* Points the overlay at path to backing (format fmt, relative to path's directory)
 * without touching its data (`qemu-img rebase -u`): an instance disk made before the
 * base link existed names the cache's file by its absolute path. Only while no QEMU
 * has the disk open. 0 or -EIO with err. */
int overlay_rebase(const char *path, const char *backing, const char *fmt, char *err,
                   size_t errlen);

#endif

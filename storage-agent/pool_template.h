/* The pool's empty-volume templates: one empty qcow2 per virtual size in templates/,
 * made once by `qemu-img create` from argv (common/qemu_img.h), inspected with
 * qemu_img_check (header and `qemu-img info`: a qcow2 of exactly that size), and
 * renamed into place whole. An empty volume is then a byte copy of its size's template
 * (copy_file_range, else read/write; a qcow2 header holds no path, so the copy is the
 * file qemu-img would have made) instead of one qemu-img exec per create, the most
 * of a create's agent time on a loaded host (issue 9).
 *
 * Bounded: at most POOL_TEMPLATES_MAX sizes, each at most POOL_TEMPLATE_MAX_BYTES
 * (a larger header is not cached: the caller runs qemu-img itself); using a template
 * touches its mtime and a new one evicts the least recently used (common/lru.h, the
 * eviction the image cache uses too). Safe for concurrent
 * creates without a lock: a template is made in tmp/ under a per-thread name and
 * renamed (two threads racing leave identical files; an evicted template stays
 * readable through an open descriptor). pool_open empties templates/ so a restart
 * always makes them again with the qemu-img it runs now. Never logs. */
#ifndef NUBO_STORAGE_POOL_TEMPLATE_H
#define NUBO_STORAGE_POOL_TEMPLATE_H
#include <stddef.h>
#include <stdint.h>

#define POOL_TEMPLATES_MAX 4
#define POOL_TEMPLATE_MAX_BYTES (4u << 20) /* a 16 TiB qcow2 has a 448 KiB header */

/* Makes tmp (a new file, which must not exist) an empty qcow2 of size_bytes as a copy
 * of pool dir's template of that size, making the template first when there is none.
 * 0; 1 when the template would exceed POOL_TEMPLATE_MAX_BYTES (nothing made: create
 * the volume directly); or a negative errno with err (nothing left at tmp). */
int pool_template_copy(const char *dir, uint64_t size_bytes, const char *tmp, char *err,
                       size_t errlen);

#endif

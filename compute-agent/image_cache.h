/* The base image cache: <state_dir>/images/<image id>. An image is downloaded once
 * (concurrent spawns of the same image wait for the first download), checked (size
 * bound, md5 against Glance's checksum, then common/qemu_img.c's qemu_img_check, the
 * same inspection the API runs on upload: declared format, no backing file, no
 * external data file, not encrypted) and only then renamed into place, with
 * a sidecar <id>.info recording what was checked. Instance disks are qcow2 overlays
 * on these files. */
#ifndef NUBO_IMAGE_CACHE_H
#define NUBO_IMAGE_CACHE_H
#include <stddef.h>

#define IMAGE_FMT_MAX 16

struct image_cache;

/* What a checked image is. */
struct image_info {
	char format[IMAGE_FMT_MAX]; /* "qcow2" or "raw" */
	long long virtual_size;     /* bytes the guest sees */
};

/* A cache in dir (created if needed; leftovers of interrupted downloads removed).
 * agent_key is copied; max_bytes bounds a download. Returns owned or NULL with err. */
struct image_cache *image_cache_new(const char *dir, const char *agent_key, long long max_bytes,
                                    char *err, size_t errlen);
void image_cache_free(struct image_cache *c);

/* Makes sure image_id is cached: downloads url (header X-Nubo-Agent-Key), verifies
 * md5 (lowercase hex; NULL skips the check) and format (NULL accepts qcow2 or raw as
 * probed). Thread-safe. On success returns 0, the base image path in path (owned)
 * and its info; else a negative errno with err. */
int image_cache_get(struct image_cache *c, const char *image_id, const char *url, const char *md5,
                    const char *format, char **path, struct image_info *info, char *err,
                    size_t errlen);

/* Creates a qcow2 overlay at path on base (format fmt), of size bytes (0 = the base's
 * size), atomically. A size below the base's virtual size is refused with -EFBIG (the
 * base is inspected again with qemu_img_check). 0 or a negative errno with err. */
int image_overlay_create(const char *base, const char *fmt, const char *path, long long size,
                         char *err, size_t errlen);

#endif

/* Where image bytes live: one small interface (commit an examined upload, read a range,
 * remove) and its backends, chosen by [image] store in nubo.conf:
 *   file  - one file per image in [api] image_dir (image_store_file.c);
 *   swift - one object per image in a container of the cloud's 'service' project on
 *           the object store, through its Swift API with a token nubo-api mints for
 *           itself (image_store_swift.c); an image over [image] swift_segment_mb is a
 *           dynamic large object: its segments in "<container>_segments" under "<id>/".
 * Whatever the backend, an upload first lands in [api] image_dir (the HTTP layer
 * spools it there) and is examined there (image_data.c: format, no backing or data
 * file, quota) before it is committed; a download of the swift backend is fetched into
 * an unlinked file there, so no image is ever held in memory. */
#ifndef NUBO_IMAGE_STORE_H
#define NUBO_IMAGE_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* What a backend's calls return besides 0: the bytes are missing or not what the row
 * says (-ENOENT: a 500, as a lost file), the store cannot be reached or answers 5xx
 * (-EAGAIN: a 503), anything else (-EIO: a 500). err says which, for the log. */
struct image_store_ops {
	const char *name;
	/* Makes the examined upload at path (size bytes, MD5 md5 in hex) the bytes of
	 * image id; path is consumed (renamed or left for the HTTP layer to unlink). */
	int (*commit)(struct req *r, const char *id, const char *path, uint64_t size,
	              const char *md5, char *err, size_t errlen);
	/* Opens bytes [start, start + len) of image id (size bytes in all): *fd (owned by
	 * the caller) holds them from offset *off. */
	int (*open)(struct req *r, const char *id, uint64_t size, uint64_t start, uint64_t len,
	            int *fd, uint64_t *off, char *err, size_t errlen);
	/* Removes the bytes of image id; absent bytes are no error. */
	int (*remove)(struct req *r, const char *id, char *err, size_t errlen);
};

extern const struct image_store_ops image_store_file, image_store_swift;

/* Pure: the backend named name ("file", "swift"), or NULL. */
const struct image_store_ops *image_store_by_name(const char *name);

/* The backend of r's nubo-api ([image] store). */
const struct image_store_ops *image_store_for(const struct req *r);

/* Pure: how many segments of seg bytes (> 0) an image of size bytes is stored in by
 * the swift backend: 0 when it is one plain object (size <= seg), else ceil(size/seg). */
uint64_t image_store_segments(uint64_t size, uint64_t seg);

/* Pure: the name of segment i of image id, "<id>/<i, 8 digits>", into out of n bytes.
 * Names sort as the segments follow each other (a DLO reads them in name order). */
void image_store_segment_name(const char *id, uint64_t i, char *out, size_t n);

#define IMAGE_STORE_SEGMENT_MAX 10000 /* segments of one image at most (a bound, a refusal) */

#endif

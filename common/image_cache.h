/* The base image cache of an agent host (nubo-compute: the bases of instance overlays;
 * nubo-storage: the sources of volumes made from images): <dir>/<key>, one file per
 * image content, and its sidecar <dir>/<key>.info recording what was checked.
 *
 * Key: the image's sha512 (Glance's os_hash_value, 128 lowercase hex digits), so two
 * images with the same bytes share one entry, and no one can make an image that takes
 * another's entry (that would need a sha512 collision). An image whose sha512 the task
 * does not carry is keyed by its id instead, and so shares with no other image: never
 * by its md5 (checksum), whose collisions can be crafted (docs/internals.md, "Base
 * image cache"). Entries named by an image id are also what hosts kept before the
 * cache was shared (images/<image id>): old instances' disks name them.
 *
 * An entry is downloaded once (concurrent users of one key wait for the first
 * download), checked (size bound, sha512 against the key, md5 against the checksum
 * when the task has one, then common/qemu_img.c's qemu_img_check, the inspection the
 * API ran on upload: declared format, no backing file, no external data file, not
 * encrypted) and only then renamed into place, its sidecar written after it. Leftovers
 * of an interrupted download are removed at start.
 *
 * A user never reads the entry by its cache name: image_cache_link gives it a hard link
 * of its own (an instance's base, a volume's source while it is copied), made under the
 * cache's lock. Eviction (common/lru.h) runs under that lock after each use: least
 * recently used first (the mtime, touched on each use), until the entries that only the
 * cache holds (one link) total at most max_cache_bytes, never the entry just used. An
 * entry with another link is in use: it is never removed, and its bytes do not count,
 * since removing it would free none. Thread-safe. Never logs. */
#ifndef NUBO_IMAGE_CACHE_H
#define NUBO_IMAGE_CACHE_H
#include <stddef.h>

#define IMAGE_FMT_MAX 16
#define IMAGE_KEY_MAX 129 /* a 128-digit sha512 or a 36-character uuid, NUL */
/* the default bound of the agents' image_cache_max_mb (nubo.conf) */
#define IMAGE_CACHE_DEFAULT_MB 10240

struct image_cache;

struct image_cache_conf {
	const char *dir;           /* created if needed (0700) */
	const char *agent_key;     /* X-Nubo-Agent-Key of the downloads (copied) */
	const char *user_agent;    /* "nubo-compute", "nubo-storage" */
	long long max_image_bytes; /* largest download */
	long long max_cache_bytes; /* the eviction's bound (see above) */
};

/* What a checked image is. */
struct image_info {
	char format[IMAGE_FMT_MAX]; /* the qemu-img driver that reads it: "qcow2" or "raw" */
	long long virtual_size;     /* bytes the guest sees */
};

/* One image a task names. */
struct image_ref {
	const char *id;     /* the image's uuid */
	const char *url;    /* where its bytes are (the API's /image/v2/images/<id>/file) */
	const char *sha512; /* Glance's os_hash_value (sha512); NULL or "": unknown (keyed by id) */
	const char *md5;    /* Glance's checksum; NULL or "": unknown (not verified) */
	const char *format; /* its disk_format (qemu_img_driver); NULL or "": as probed */
};

/* A cache per conf (copied): the directory made, leftovers of interrupted downloads
 * removed (nothing evicted yet: the agent first links what its instances use, see
 * compute-agent/vm.c base_adopt). Returns owned or NULL with err. */
struct image_cache *image_cache_new(const struct image_cache_conf *conf, char *err, size_t errlen);
void image_cache_free(struct image_cache *c);

/* Pure: the key of img into key: its sha512 when it has one, else its id (never its
 * md5). 0, or -EINVAL with err (no valid id, a sha512 that is not 128 lowercase hex
 * digits, an md5 that is not 32 hex digits). */
int image_cache_key(const struct image_ref *img, char key[IMAGE_KEY_MAX], char *err, size_t errlen);

/* Makes sure img is cached (downloading it with the agent key when it is not), then
 * makes dest a hard link of the entry (dest replaced atomically; it must be on the
 * cache's file system) and fills info. *fetched (may be NULL) is 1 when this call
 * downloaded it. The caller owns dest: it removes dest when done. 0 or a negative
 * errno with err. */
int image_cache_link(struct image_cache *c, const struct image_ref *img, const char *dest,
                     struct image_info *info, int *fetched, char *err, size_t errlen);

/* Evicts as after a use (image_cache.h above), e.g. once a user removed its link. */
void image_cache_evict(struct image_cache *c);

#endif

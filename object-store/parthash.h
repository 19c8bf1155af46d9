/* The hashes of a partition's suffixes, cached on the device (Swift's hashes.pkl and
 * hashes.invalid): a replication pass compares one hash per suffix with each peer and
 * lists only the suffixes that differ, and rehashes only the suffixes written since the
 * last pass. Writers (PUT, DELETE, quarantine, tombstone reclaim) invalidate the suffix
 * they changed by appending its name to the partition's invalidations file. */
#ifndef NUBO_OBJSTORE_PARTHASH_H
#define NUBO_OBJSTORE_PARTHASH_H
#include <stddef.h>

#include "objfile.h"

#define PARTHASH_SUFFIXES 4096 /* three hex digits: the hash's last three */
#define PARTHASH_FILE "hashes.cache"
#define PARTHASH_INVALID_FILE "hashes.invalid"
#define PARTHASH_MAGIC "nubo-parthash 1\n"
/* Larger files are not read: a cache that big is not ours (rebuilt), invalidations that
 * many mean "rehash everything". */
#define PARTHASH_FILE_MAX (PARTHASH_SUFFIXES * 37 + 64)
#define PARTHASH_INVALID_MAX (64 << 10)
/* Every suffix of every partition is rehashed this often (and at a worker's start):
 * tombstones that came of age are reclaimed, and a write whose invalidation a crash
 * lost (killed between its rename and the append) is noticed. */
#define PARTHASH_FULL_EVERY_S 3600

enum parthash_state {
	PARTHASH_ABSENT, /* no object in this suffix */
	PARTHASH_VALID,  /* hash[] holds the suffix's hash */
	PARTHASH_INVALID /* written since it was hashed */
};

struct parthash {
	unsigned char state[PARTHASH_SUFFIXES];
	char hash[PARTHASH_SUFFIXES][33];
};

/* One object of a listing: its hash and its newest version file's name. */
struct objentry {
	char hash[33];
	char file[OBJFILE_NAME_MAX];
};

struct objentries {
	struct objentry *e;
	size_t n, cap;
};

/* Pure: the index of a suffix name (exactly three lowercase hex digits), else -1. */
int parthash_suffix_index(const char *s, size_t n);
/* Pure: the name of suffix i (0..4095) into out. */
void parthash_suffix_name(int i, char out[4]);
/* Pure: parses a cache file (or a REPLICATE answer: the same text): PARTHASH_MAGIC,
 * then one line "<suffix> <32 hex digits>" (valid) or "<suffix> -" (invalid) per
 * suffix, each once, every line ended. Suffixes not named are absent. 0, or -EINVAL
 * (out is then all absent) for anything else. */
int parthash_parse(const char *buf, size_t len, struct parthash *out);
/* Pure: the text parthash_parse reads, as a new string (owned) of *len bytes. */
char *parthash_format(const struct parthash *h, size_t *len);
/* Pure: marks invalid every suffix named in an invalidations file's text ("<suffix>\n"
 * lines) that h holds as valid or absent. The suffixes it named (invalidated or not)
 * are counted, or -EINVAL when a line is anything else or the last one is not ended
 * (the caller then rehashes everything). */
int parthash_merge_invalid(struct parthash *h, const char *buf, size_t len);
/* Pure: the hash of a suffix holding the n objects e (sorted in place by hash): the MD5
 * of their "<hash> <newest file>\n" lines in that order. Two replicas whose suffix holds
 * the same newest versions agree on it whatever their directories' order. */
void parthash_digest(struct objentry *e, size_t n, char out[33]);
/* Pure: appends an entry to es. */
void objentries_add(struct objentries *es, const char *hash, const char *file);
void objentries_release(struct objentries *es);
/* Pure: sorts es by hash, so that objentries_find can search it. */
void objentries_sort(struct objentries *es);
/* Pure: the newest file of hash in the sorted es, or NULL. */
const char *objentries_find(const struct objentries *es, const char *hash);

/* The newest version of every object in suffix sfx of the partition at partdir,
 * appended to out. With reclaim, tombstones old enough (replicator_reclaimable) are
 * removed and left out; when any was and invalidate is set, the suffix is invalidated
 * (a caller that is rehashing it passes 0). The count reclaimed, or -errno when the
 * suffix or one of its hash directories exists but could not be read (out then misses
 * objects: unreadable is never "empty"). */
long parthash_list_suffix(const char *partdir, const char *sfx, int reclaim, int invalidate,
                          struct objentries *out);
/* Invalidates the suffix of hashdir ("<dev>/objects/<part>/<suffix>/<hash>") after a
 * change in it is on disk (a file past PARTHASH_INVALID_MAX, which already means
 * "rehash everything", is not appended to). 0 or -errno (the partition is gone: nothing
 * to invalidate). */
int parthash_invalidate(const char *hashdir);
/* The hashes of every suffix of the partition at partdir into out, rehashing those
 * invalid (every suffix on disk when full, or when the cache is missing or corrupt)
 * and writing the cache back. A suffix a write invalidated while it was being hashed
 * comes back (and stays cached) invalid. *rehashed (may be NULL) counts the suffixes
 * hashed. 0, or -errno (-ENOENT: no such partition; out is all absent). A suffix that
 * could not be listed stays invalid in the cache and the get fails: out is then not
 * to be trusted (the replicator removes no handoff copy on it). */
int parthash_get(const char *partdir, int full, struct parthash *out, long *rehashed);

#endif

/* Least-recently-used eviction for the agents' file caches (common/image_cache.c's base
 * images, storage-agent/pool_template.c's empty-volume templates): a pure chooser over
 * entries, and the pass that stats the files of a cache directory and removes what the
 * chooser picked. Recency is a file's mtime, which each use touches (futimens). Not
 * locked: a caller whose entries may be taken while the pass runs holds its own lock
 * around it. Never logs. */
#ifndef NUBO_LRU_H
#define NUBO_LRU_H
#include <stddef.h>
#include <time.h>

#define LRU_SCAN_MAX 1024 /* files one pass looks at */
#define LRU_NAME_MAX 160  /* longest entry name a pass handles */

/* One entry as the chooser sees it. */
struct lru_entry {
	struct timespec used; /* its last use (the file's mtime) */
	long long bytes;      /* what removing it frees; 0 for a file linked elsewhere too */
	int keep;             /* never chosen: the entry just made or used, or one in use */
};

/* Pure: which entries to remove so that at most max_n remain and the remaining bytes
 * total at most max_bytes (< 0: no byte bound). The least recently used goes first
 * (the first of equals), never a kept one. Writes the chosen indexes, in removal
 * order, to victims (room for n) and returns their count; fewer than the bounds ask
 * for when only kept entries are left. */
int lru_choose(const struct lru_entry *e, int n, int max_n, long long max_bytes, int *victims);

/* One eviction pass over a cache directory. */
struct lru_dir {
	const char *dir;
	int (*match)(const char *name); /* 1: the file is an entry of the cache */
	const char *keep;               /* the entry never removed (NULL: none) */
	int max_n;                      /* entries kept at most */
	long long max_bytes;            /* bytes (on disk) kept at most; < 0: no bound */
	/* 1: an entry with more than one link is in use elsewhere (a hard link): kept, and
	 * its bytes not counted, removing it would free none */
	int links_in_use;
	/* called after an entry was removed, to remove what belongs to it; may be NULL */
	void (*removed)(int dirfd, const char *name, void *arg);
	void *arg;
	/* 1: the entry is kept whatever its recency (e.g. a download not yet linked); may be NULL
	 */
	int (*kept)(const char *name, void *arg);
};

/* Stats the entries of d->dir (regular files that match, at most LRU_SCAN_MAX) and
 * removes the ones lru_choose picks. Returns how many it removed, or a negative errno
 * when the directory cannot be read. */
int lru_dir_evict(const struct lru_dir *d);

#endif

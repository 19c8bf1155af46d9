/* The .data files an object server verified lately (their bytes hashed to their ETag),
 * so that a hot object's GETs do not hash it again each time. A file is known by its
 * inode and its size and change times: any write to it through the file system (a
 * corrupting one too) changes its ctime and makes it a stranger again. Entries expire
 * after VERIFY_CACHE_TTL seconds, so a hot object is still re-read from time to time;
 * rot below the file system in between is the auditor's to find. Fixed size: a new
 * entry replaces whatever shared its slot. Thread-safe. */
#ifndef NUBO_OBJSTORE_VERIFY_CACHE_H
#define NUBO_OBJSTORE_VERIFY_CACHE_H
#include <sys/stat.h>
#include <time.h>

#define VERIFY_CACHE_TTL 300

struct verify_cache;

/* A table of slots entries (at least 1). */
struct verify_cache *verify_cache_new(unsigned slots);
void verify_cache_free(struct verify_cache *vc);
/* 1 when the file st describes was verified less than VERIFY_CACHE_TTL before now and
 * has not changed since, else 0. */
int verify_cache_hit(struct verify_cache *vc, const struct stat *st, time_t now);
/* Records that the file st describes was verified at now. */
void verify_cache_add(struct verify_cache *vc, const struct stat *st, time_t now);

#endif

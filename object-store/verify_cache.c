/* The table of lately verified .data files (see verify_cache.h): open addressing
 * without probing, one slot per inode number. */
#include "verify_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct verify_entry {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	time_t at; /* 0: empty */
};

struct verify_cache {
	pthread_mutex_t mu;
	unsigned n;
	struct verify_entry e[];
};

struct verify_cache *verify_cache_new(unsigned slots)
{
	if (slots < 1)
		slots = 1;
	struct verify_cache *vc = xcalloc(1, sizeof(*vc) + slots * sizeof(struct verify_entry));
	pthread_mutex_init(&vc->mu, NULL);
	vc->n = slots;
	return vc;
}

void verify_cache_free(struct verify_cache *vc)
{
	if (!vc)
		return;
	pthread_mutex_destroy(&vc->mu);
	free(vc);
}

static int ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static struct verify_entry *slot(struct verify_cache *vc, const struct stat *st)
{
	return &vc->e[(unsigned long long)st->st_ino % vc->n];
}

int verify_cache_hit(struct verify_cache *vc, const struct stat *st, time_t now)
{
	pthread_mutex_lock(&vc->mu);
	const struct verify_entry *e = slot(vc, st);
	int hit = e->at && now >= e->at && now - e->at < VERIFY_CACHE_TTL && e->dev == st->st_dev &&
	          e->ino == st->st_ino && e->size == st->st_size && ts_eq(e->mtime, st->st_mtim) &&
	          ts_eq(e->ctime, st->st_ctim);
	pthread_mutex_unlock(&vc->mu);
	return hit;
}

void verify_cache_add(struct verify_cache *vc, const struct stat *st, time_t now)
{
	pthread_mutex_lock(&vc->mu);
	*slot(vc, st) = (struct verify_entry){st->st_dev,  st->st_ino,  st->st_size,
	                                      st->st_mtim, st->st_ctim, now ? now : 1};
	pthread_mutex_unlock(&vc->mu);
}

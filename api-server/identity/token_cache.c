/* The in-memory token cache: sets of WAYS entries, each set under its own mutex. */
#include "identity/token_cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#define WAYS 8

struct entry {
	int used;
	time_t expires;
	struct auth a;
};

struct set {
	pthread_mutex_t lock;
	struct entry e[WAYS];
};

struct token_cache {
	unsigned nsets;
	struct set *sets;
	atomic_int enabled;
	/* bumped by every revocation and by disable: a put computed from an older
	 * database answer is dropped */
	atomic_uint_fast64_t gen;
};

struct token_cache *token_cache_new(unsigned capacity)
{
	struct token_cache *tc = xcalloc(1, sizeof(*tc));
	tc->nsets = capacity < WAYS ? 1 : (capacity + WAYS - 1) / WAYS;
	tc->sets = xcalloc(tc->nsets, sizeof(*tc->sets));
	for (unsigned i = 0; i < tc->nsets; i++)
		pthread_mutex_init(&tc->sets[i].lock, NULL);
	atomic_init(&tc->enabled, 0);
	atomic_init(&tc->gen, 1);
	return tc;
}

void token_cache_free(struct token_cache *tc)
{
	if (!tc)
		return;
	for (unsigned i = 0; i < tc->nsets; i++)
		pthread_mutex_destroy(&tc->sets[i].lock);
	free(tc->sets);
	free(tc);
}

/* The hash is a SHA-256 in hex: its first 8 digits are already uniform. */
static struct set *set_of(const struct token_cache *tc, const char *hash)
{
	uint32_t h = 0;
	for (int i = 0; i < 8 && hash[i]; i++) {
		char c = hash[i];
		h = h << 4 | (uint32_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return &tc->sets[h % tc->nsets];
}

int token_cache_get(struct token_cache *tc, const char *hash, time_t now, struct auth *out)
{
	if (!tc || !atomic_load(&tc->enabled))
		return -ENOENT;
	struct set *s = set_of(tc, hash);
	int rc = -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &s->e[i];
		if (!e->used || strcmp(e->a.token_hash, hash) != 0)
			continue;
		if (e->expires <= now) {
			e->used = 0;
			break;
		}
		*out = e->a;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

uint64_t token_cache_gen(const struct token_cache *tc)
{
	return tc ? atomic_load(&((struct token_cache *)tc)->gen) : 0;
}

void token_cache_put(struct token_cache *tc, const struct auth *a, time_t expires, uint64_t gen)
{
	if (!tc || !a->valid || !atomic_load(&tc->enabled))
		return;
	struct set *s = set_of(tc, a->token_hash);
	pthread_mutex_lock(&s->lock);
	/* checked under the set's lock: a revocation takes every set's lock after
	 * bumping gen, so it cannot pass between this check and the store */
	if (atomic_load(&tc->gen) != gen)
		goto out;
	struct entry *victim = &s->e[0];
	for (int i = 0; i < WAYS; i++) {
		struct entry *e = &s->e[i];
		if (e->used && !strcmp(e->a.token_hash, a->token_hash)) {
			victim = e;
			break;
		}
		if (!e->used) {
			if (victim->used)
				victim = e;
		} else if (victim->used && e->expires < victim->expires) {
			victim = e;
		}
	}
	victim->used = 1;
	victim->expires = expires;
	victim->a = *a;
out:
	pthread_mutex_unlock(&s->lock);
}

static int matches(const struct entry *e, const char *hash, const char *user_id,
                   const char *project_id)
{
	if (hash && *hash && !strcmp(e->a.token_hash, hash))
		return 1;
	if (user_id && *user_id && !strcmp(e->a.user_id, user_id))
		return 1;
	if (project_id && *project_id && !strcmp(e->a.project_id, project_id))
		return 1;
	return 0;
}

static void drop(struct token_cache *tc, const char *hash, const char *user_id,
                 const char *project_id, int all)
{
	atomic_fetch_add(&tc->gen, 1);
	for (unsigned i = 0; i < tc->nsets; i++) {
		struct set *s = &tc->sets[i];
		pthread_mutex_lock(&s->lock);
		for (int j = 0; j < WAYS; j++)
			if (s->e[j].used && (all || matches(&s->e[j], hash, user_id, project_id)))
				s->e[j].used = 0;
		pthread_mutex_unlock(&s->lock);
	}
}

void token_cache_revoke(struct token_cache *tc, const char *hash, const char *user_id,
                        const char *project_id)
{
	if (!tc)
		return;
	int all = !(hash && *hash) && !(user_id && *user_id) && !(project_id && *project_id);
	drop(tc, hash, user_id, project_id, all);
}

void token_cache_enable(struct token_cache *tc, int on)
{
	if (!tc)
		return;
	if (on) {
		/* a put from a database answer read while the cache was off is dropped */
		atomic_fetch_add(&tc->gen, 1);
		atomic_store(&tc->enabled, 1);
		return;
	}
	atomic_store(&tc->enabled, 0);
	drop(tc, NULL, NULL, NULL, 1);
}

int token_cache_enabled(const struct token_cache *tc)
{
	return tc ? atomic_load(&((struct token_cache *)tc)->enabled) : 0;
}

unsigned token_cache_count(struct token_cache *tc)
{
	unsigned n = 0;
	for (unsigned i = 0; i < tc->nsets; i++) {
		struct set *s = &tc->sets[i];
		pthread_mutex_lock(&s->lock);
		for (int j = 0; j < WAYS; j++)
			n += s->e[j].used != 0;
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

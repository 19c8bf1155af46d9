/* Validated tokens kept in memory by their SHA-256, so an authenticated request
 * costs no database round trip: bounded, set-associative (one lock per set of 8, no
 * global lock on the request path), each entry dropped at its token's own expiry and
 * at once on a revocation event (identity/revocation.h). */
#ifndef NUBO_TOKEN_CACHE_H
#define NUBO_TOKEN_CACHE_H
#include <stdint.h>
#include <time.h>

#include "http.h"

struct token_cache;

/* A cache of at least capacity entries (rounded up to a multiple of 8, at least 8).
 * It starts disabled (every get misses) until token_cache_enable(). */
struct token_cache *token_cache_new(unsigned capacity);
void token_cache_free(struct token_cache *tc);

/* Copies the entry of hash (64 hex characters) into out when it is cached and expires
 * after now. Returns 0, or -ENOENT (out untouched). NULL tc always misses. */
int token_cache_get(struct token_cache *tc, const char *hash, time_t now, struct auth *out);

/* The revocation generation: read it BEFORE the database query whose answer is then
 * put, so an event applied in between makes token_cache_put drop that answer. */
uint64_t token_cache_gen(const struct token_cache *tc);

/* Keeps a (a->valid, a->token_hash set) until expires (epoch seconds). Dropped when
 * the cache is disabled or gen is no longer the current generation. When the set is
 * full the entry that expires first gives way. */
void token_cache_put(struct token_cache *tc, const struct auth *a, time_t expires, uint64_t gen);

/* Applies one revocation event: drops the entries of token hash, of user_id, or of
 * project_id (each NULL or "" = not that criterion); all three empty drops every
 * entry. Advances the generation. */
void token_cache_revoke(struct token_cache *tc, const char *hash, const char *user_id,
                        const char *project_id);

/* Enables the cache, or disables and empties it (while revocations cannot be followed
 * nothing may be served from it). */
void token_cache_enable(struct token_cache *tc, int on);

/* 1 when the cache is enabled, i.e. revocation events are followed and its generation
 * moves with each of them (what else is kept in memory may then be tied to it). 0 for
 * a NULL tc. */
int token_cache_enabled(const struct token_cache *tc);

/* Live entries (for tests and the log). */
unsigned token_cache_count(struct token_cache *tc);

#endif

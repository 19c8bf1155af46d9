/* Follows the revocation_events table (migration 0003) for the token cache: a thread
 * with its own connection LISTENs on nubo_revocation and applies every new event by
 * id; while it cannot follow, the cache is disabled. A process that made a revocation
 * itself catches up before it answers, so its own next request already sees it. */
#ifndef NUBO_REVOCATION_H
#define NUBO_REVOCATION_H
#include <libpq-fe.h>

#include "identity/token_cache.h"

struct revocation;

/* Starts following on a connection of its own to conninfo; tc is borrowed and must
 * outlive it. The cache is enabled once the follower has its starting point. */
struct revocation *revocation_start(const char *conninfo, struct token_cache *tc);
/* Stops the thread, closes its connection. Accepts NULL. */
void revocation_stop(struct revocation *rv);

/* Applies, on the caller's connection db, every event newer than the last one
 * applied; when there were any, waits (250 ms at most) until every live follower
 * (each nubo-api reports its progress in revocation_followers) has applied them too.
 * Returns 0, or -EIO (then the cache was disabled until the follower recovers). NULL
 * rv: 0. */
int revocation_catch_up(struct revocation *rv, PGconn *db);

#endif

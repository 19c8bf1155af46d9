/* The scheduler's shared context: settings, the database connection, the bus sockets,
 * the agent registry and the outbox cursor. One thread owns it; every handler takes
 * it as its first argument. It lives apart from the event loop (sched.c) so the
 * handlers (agents, outbox, instance tasks, reconcile) include it without including
 * each other or the loop. */
#ifndef NUBO_SCHED_CTX_H
#define NUBO_SCHED_CTX_H
#include <libpq-fe.h>
#include <stdint.h>

#include "agents.h"
#include "reconcile.h"
#include "settings.h"

struct sched {
	const struct settings *cfg; /* borrowed */
	struct db_pool *pool;       /* one connection: the loop is single-threaded */
	void *zctx, *router, *pull;
	struct agents agents;
	struct orphan_memo orphans;
	int64_t started_ms;  /* CLOCK_MONOTONIC at start */
	char started_at[64]; /* database clock at start */
	char cursor_at[64];  /* outbox position: created_at, id of the last task seen */
	char cursor_id[128];
	int kick;    /* something may have unblocked tasks: scan the outbox soon */
	int db_lost; /* the connection is broken; logged once */
};

/* The database connection for one handler; give it back with sched_db_done. */
PGconn *sched_db(struct sched *s);
void sched_db_done(struct sched *s, PGconn *c);
/* Logs a failed database operation once: while the connection stays broken, only
 * the first failure is logged. */
void sched_db_error(struct sched *s, PGconn *c, const char *what, const char *err);
/* 1 while spawns that fit no host should wait: agents may not have said hello yet. */
int sched_placement_on_hold(const struct sched *s);

#endif

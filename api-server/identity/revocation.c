/* The revocation follower: LISTEN/NOTIFY wakes it, the table's ids make it complete. */
#include "identity/revocation.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "xalloc.h"

#define POLL_MS 1000    /* also read the table this often, should a notification be lost */
#define ACK_WAIT_MS 250 /* a revoking request waits at most this for the other followers */
#define LIVE_S "3"      /* a follower silent longer than this is not waited for */

struct revocation {
	char *conninfo;
	struct token_cache *tc;
	pthread_t thread;
	pthread_mutex_t lock; /* serialises applying, so last_id only grows */
	long long last_id;    /* -1: no starting point yet */
	long long acked_id;   /* newest event a request has waited for the others to apply */
	atomic_int stop;
	int started;
	char id[96]; /* this follower's row in revocation_followers */
};

/* Tells the others how far this follower is (and that it is alive). */
static void report(struct revocation *rv, PGconn *db)
{
	char last[32], err[256];
	snprintf(last, sizeof(last), "%lld", rv->last_id);
	DBX(db, err, sizeof err,
	    "INSERT INTO revocation_followers (id, last_id) VALUES ($1, $2::bigint)"
	    " ON CONFLICT (id) DO UPDATE SET last_id = EXCLUDED.last_id, seen_at = now()",
	    rv->id, last);
}

/* Applies the events after rv->last_id read on db. Caller holds rv->lock. */
static int apply_new(struct revocation *rv, PGconn *db)
{
	char last[32], err[256];
	snprintf(last, sizeof(last), "%lld", rv->last_id);
	PGresult *r = DBQ(db, err, sizeof err,
	                  "SELECT id, coalesce(token_hash, ''), coalesce(user_id, ''),"
	                  " coalesce(project_id, '') FROM revocation_events WHERE id > $1::bigint"
	                  " ORDER BY id",
	                  last);
	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		token_cache_revoke(rv->tc, db_val(r, i, 1), db_val(r, i, 2), db_val(r, i, 3));
		rv->last_id = strtoll(db_val(r, i, 0), NULL, 10);
	}
	PQclear(r);
	return 0;
}

int revocation_catch_up(struct revocation *rv, PGconn *db)
{
	if (!rv)
		return 0;
	int rc = 0;
	pthread_mutex_lock(&rv->lock);
	long long before = rv->last_id;
	if (rv->last_id >= 0 && apply_new(rv, db) < 0) {
		token_cache_enable(rv->tc, 0);
		rc = -EIO;
	}
	long long now = rv->last_id;
	if (rc == 0 && now > before)
		report(rv, db);
	/* An event nobody has waited for yet: this request may have made it, even when
	 * this process's own follower thread (woken by the same notification) applied
	 * it first, so last_id alone does not tell. */
	int wait = rc == 0 && now > rv->acked_id;
	pthread_mutex_unlock(&rv->lock);
	if (!wait)
		return rc;
	/* This request revoked something (or saw another's revocation first): wait,
	 * briefly, until every live follower has applied it, so no process serves the
	 * revoked token once this answer is out. */
	char last[32], err[256];
	snprintf(last, sizeof(last), "%lld", now);
	for (int waited = 0; waited < ACK_WAIT_MS; waited += 2) {
		PGresult *r =
		    DBQ(db, err, sizeof err,
		        "SELECT count(*) FROM revocation_followers WHERE last_id < $1::bigint"
		        " AND seen_at > now() - interval '" LIVE_S " seconds'",
		        last);
		long behind = r ? db_long(r, 0, 0, 0) : 0;
		PQclear(r);
		if (behind == 0)
			break;
		struct pollfd none = {.fd = -1};
		poll(&none, 0, 2);
	}
	/* once per event: a follower that does not keep up costs one wait, not one per write */
	pthread_mutex_lock(&rv->lock);
	if (rv->acked_id < now)
		rv->acked_id = now;
	pthread_mutex_unlock(&rv->lock);
	return 0;
}

/* Connects, LISTENs and takes the newest id as the starting point (what came before
 * is already in the tokens table the cache's misses read). */
static PGconn *follow_connect(struct revocation *rv)
{
	char err[256];
	PGconn *db = PQconnectdb(rv->conninfo);
	if (PQstatus(db) != CONNECTION_OK)
		goto fail;
	PGresult *r = PQexec(db, "LISTEN nubo_revocation");
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (!ok)
		goto fail;
	r = DBQ(db, err, sizeof err, "SELECT coalesce(max(id), 0) FROM revocation_events WHERE $1",
	        "true");
	if (!r)
		goto fail;
	pthread_mutex_lock(&rv->lock);
	/* the cache was empty and off while we were away: restart from now */
	rv->last_id = strtoll(db_val(r, 0, 0), NULL, 10);
	if (rv->acked_id < rv->last_id)
		rv->acked_id = rv->last_id; /* older events: the cache was off for them */
	token_cache_enable(rv->tc, 1);
	report(rv, db);
	pthread_mutex_unlock(&rv->lock);
	PQclear(r);
	return db;
fail:
	PQfinish(db);
	return NULL;
}

static void *follow(void *arg)
{
	struct revocation *rv = arg;
	PGconn *db = NULL;
	while (!atomic_load(&rv->stop)) {
		if (!db && !(db = follow_connect(rv))) {
			struct pollfd none = {.fd = -1};
			poll(&none, 0, POLL_MS);
			continue;
		}
		struct pollfd p = {.fd = PQsocket(db), .events = POLLIN};
		poll(&p, 1, POLL_MS);
		int ok = PQconsumeInput(db) == 1;
		PGnotify *n;
		while ((n = PQnotifies(db)))
			PQfreemem(n);
		pthread_mutex_lock(&rv->lock);
		if (!ok || apply_new(rv, db) < 0) {
			token_cache_enable(rv->tc, 0);
			rv->last_id = -1;
			PQfinish(db);
			db = NULL;
		} else {
			report(rv, db);
		}
		pthread_mutex_unlock(&rv->lock);
	}
	if (db) {
		char err[256];
		DBX(db, err, sizeof err, "DELETE FROM revocation_followers WHERE id = $1", rv->id);
	}
	PQfinish(db);
	return NULL;
}

struct revocation *revocation_start(const char *conninfo, struct token_cache *tc)
{
	struct revocation *rv = xcalloc(1, sizeof(*rv));
	rv->conninfo = xstrdup(conninfo);
	rv->tc = tc;
	rv->last_id = -1;
	rv->acked_id = -1;
	char host[64] = "";
	gethostname(host, sizeof(host) - 1);
	snprintf(rv->id, sizeof(rv->id), "%s:%ld", host, (long)getpid());
	pthread_mutex_init(&rv->lock, NULL);
	atomic_init(&rv->stop, 0);
	rv->started = pthread_create(&rv->thread, NULL, follow, rv) == 0;
	return rv;
}

void revocation_stop(struct revocation *rv)
{
	if (!rv)
		return;
	atomic_store(&rv->stop, 1);
	if (rv->started)
		pthread_join(rv->thread, NULL);
	token_cache_enable(rv->tc, 0);
	pthread_mutex_destroy(&rv->lock);
	free(rv->conninfo);
	free(rv);
}

/* Connection pool and query helpers over libpq. */
#include "db.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "xalloc.h"

struct db_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int size;
	PGconn **conns;
	int *busy;
};

/* Server NOTICEs (e.g. "relation already exists, skipping") are not errors. */
static void notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

struct db_pool *db_pool_new(const char *conninfo, int size, char *err, size_t errlen)
{
	struct db_pool *p = xcalloc(1, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->size = size;
	p->conns = xcalloc((size_t)size, sizeof(PGconn *));
	p->busy = xcalloc((size_t)size, sizeof(int));
	for (int i = 0; i < size; i++) {
		p->conns[i] = PQconnectdb(conninfo);
		if (PQstatus(p->conns[i]) != CONNECTION_OK) {
			snprintf(err, errlen, "database: %s", PQerrorMessage(p->conns[i]));
			db_pool_free(p);
			return NULL;
		}
		PQsetNoticeProcessor(p->conns[i], notice_ignore, NULL);
	}
	return p;
}

void db_pool_free(struct db_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->size; i++)
		if (p->conns[i])
			PQfinish(p->conns[i]);
	free(p->conns);
	free(p->busy);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

/* timeout_ms < 0: wait for ever */
static PGconn *acquire(struct db_pool *p, long timeout_ms)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	for (;;) {
		for (int i = 0; i < p->size; i++)
			if (!p->busy[i]) {
				p->busy[i] = 1;
				pthread_mutex_unlock(&p->lock);
				if (PQstatus(p->conns[i]) != CONNECTION_OK)
					PQreset(p->conns[i]);
				return p->conns[i];
			}
		if (timeout_ms < 0)
			pthread_cond_wait(&p->cond, &p->lock);
		else if (pthread_cond_timedwait(&p->cond, &p->lock, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

PGconn *db_acquire(struct db_pool *p)
{
	return acquire(p, -1);
}

PGconn *db_acquire_timed(struct db_pool *p, long timeout_ms)
{
	return acquire(p, timeout_ms < 0 ? 0 : timeout_ms);
}

/* ---- the result cache of `cached` statements ---- */

#define CACHE_SLOTS 8      /* per thread */
#define CACHE_KEY_MAX 512  /* statements with longer parameters are not cached */
#define CACHE_POLL_MS 1000 /* the follower reads the generation this often anyway */

/* The database's cache generation as the follower last read it; -1: not following
 * (nothing is cached). Only grows while following. */
static atomic_llong cache_gen = -1;

struct cache_slot {
	const struct db_stmt *st; /* NULL: empty */
	long long gen;
	char key[CACHE_KEY_MAX];
	size_t keylen;
	PGresult *res;
};
static __thread struct cache_slot cache_slots[CACHE_SLOTS];
static __thread unsigned cache_next; /* the slot a miss replaces */
static __thread int cache_wrote;     /* this thread ran a write since its last release */

/* The parameters as one key of *len bytes (NULL and "" told apart). 0, or
 * -ENAMETOOLONG. */
static int cache_key(int n, const char *const *params, char key[CACHE_KEY_MAX], size_t *len)
{
	size_t k = 0;
	for (int i = 0; i < n; i++) {
		size_t m = params[i] ? strlen(params[i]) : 0;
		if (k + m + 2 > CACHE_KEY_MAX)
			return -ENAMETOOLONG;
		key[k++] = params[i] ? 'v' : 'n';
		memcpy(key + k, params[i] ? params[i] : "", m);
		k += m;
		key[k++] = '\0';
	}
	*len = k;
	return 0;
}

static int cache_key_equal(const struct cache_slot *s, const char *key, size_t len)
{
	return s->keylen == len && !memcmp(s->key, key, len);
}

static PGresult *cache_get(const struct db_stmt *st, const char *key, size_t len, long long gen)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		struct cache_slot *s = &cache_slots[i];
		if (s->st == st && s->gen == gen && cache_key_equal(s, key, len))
			return PQcopyResult(s->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	}
	return NULL;
}

static void cache_put(const struct db_stmt *st, const char *key, size_t len, long long gen,
                      const PGresult *r)
{
	struct cache_slot *s = NULL;
	for (int i = 0; i < CACHE_SLOTS && !s; i++)
		if (cache_slots[i].st == st && cache_key_equal(&cache_slots[i], key, len))
			s = &cache_slots[i]; /* an older generation of the same */
	if (!s)
		s = &cache_slots[cache_next++ % CACHE_SLOTS];
	PGresult *copy = PQcopyResult(r, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
	if (!copy)
		return;
	PQclear(s->res);
	s->st = st;
	s->gen = gen;
	memcpy(s->key, key, len);
	s->keylen = len;
	s->res = copy;
}

void db_cache_flush(void)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		PQclear(cache_slots[i].res);
		memset(&cache_slots[i], 0, sizeof(cache_slots[i]));
	}
}

/* The follower's connections so far: the high bits of the published generation, so a
 * database generation that went backwards (a restored database) never matches what
 * was cached before. */
static atomic_llong cache_epoch;
#define CACHE_EPOCH_SHIFT 40

/* Raises the published generation to database generation g of this epoch (never
 * lowers it while following). */
static void cache_gen_raise(long long g)
{
	if (g < 0)
		return;
	g += atomic_load(&cache_epoch) << CACHE_EPOCH_SHIFT;
	long long cur = atomic_load(&cache_gen);
	while (cur >= 0 && g > cur && !atomic_compare_exchange_weak(&cache_gen, &cur, g))
		;
}

/* The generation on c, or -1. */
static long long cache_gen_read(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT gen FROM cache_generation");
	long long g = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		g = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return g;
}

/* Before a statement: a write makes the releasing thread read the generation. */
static void cache_note(const char *sql)
{
	if (!cache_wrote && atomic_load(&cache_gen) >= 0 && !db_sql_read_only(sql))
		cache_wrote = 1;
}

static void cache_sync(PGconn *c)
{
	if (!cache_wrote)
		return;
	cache_wrote = 0;
	if (atomic_load(&cache_gen) >= 0 && PQstatus(c) == CONNECTION_OK)
		cache_gen_raise(cache_gen_read(c));
}

static struct {
	pthread_t thread;
	int started;
	atomic_int stop;
	char *conninfo;
} follower;

static void *cache_follow(void *arg)
{
	(void)arg;
	PGconn *c = NULL;
	while (!atomic_load(&follower.stop)) {
		if (!c) {
			c = PQconnectdb(follower.conninfo);
			PGresult *r =
			    PQstatus(c) == CONNECTION_OK ? PQexec(c, "LISTEN nubo_cache") : NULL;
			int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
			long long g = ok ? cache_gen_read(c) : -1;
			if (g < 0) {
				PQfinish(c);
				c = NULL;
				struct pollfd none = {.fd = -1};
				poll(&none, 0, CACHE_POLL_MS);
				continue;
			}
			PQsetNoticeProcessor(c, notice_ignore, NULL);
			/* a new epoch: what was cached before the link broke is never reused */
			long long e = atomic_fetch_add(&cache_epoch, 1) + 1;
			atomic_store(&cache_gen, (e << CACHE_EPOCH_SHIFT) + g);
		}
		struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
		poll(&p, 1, CACHE_POLL_MS);
		int ok = PQconsumeInput(c) == 1;
		PGnotify *nt;
		while ((nt = PQnotifies(c)))
			PQfreemem(nt);
		long long g = ok ? cache_gen_read(c) : -1;
		if (g < 0) {
			atomic_store(&cache_gen, -1); /* not following: nothing is cached */
			PQfinish(c);
			c = NULL;
			continue;
		}
		cache_gen_raise(g);
	}
	atomic_store(&cache_gen, -1);
	PQfinish(c);
	return NULL;
}

void db_cache_follow(const char *conninfo)
{
	if (follower.started)
		return;
	follower.conninfo = xstrdup(conninfo);
	atomic_store(&follower.stop, 0);
	follower.started = pthread_create(&follower.thread, NULL, cache_follow, NULL) == 0;
}

void db_cache_stop(void)
{
	if (!follower.started)
		return;
	atomic_store(&follower.stop, 1);
	pthread_join(follower.thread, NULL);
	follower.started = 0;
	free(follower.conninfo);
	follower.conninfo = NULL;
	atomic_store(&cache_gen, -1);
}

void db_release(struct db_pool *p, PGconn *c)
{
	if (!c)
		return;
	if (PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	cache_sync(c);
	pthread_mutex_lock(&p->lock);
	for (int i = 0; i < p->size; i++)
		if (p->conns[i] == c)
			p->busy[i] = 0;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* 1 when sql at s starts with the keyword kw (a whole word). */
static int keyword_at(const char *s, const char *kw)
{
	size_t n = strlen(kw);
	return !strncasecmp(s, kw, n) && !isalnum((unsigned char)s[n]) && s[n] != '_';
}

/* 1 when a data-modifying keyword appears anywhere in sql as a whole word (string
 * literals and identifiers included: a false "writes" only costs the retry). */
static int mentions_write(const char *sql)
{
	static const char *const writes[] = {"INSERT", "UPDATE", "DELETE", "MERGE", "COPY"};
	for (const char *p = sql; *p; p++) {
		if (p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
			if (keyword_at(p, writes[i]))
				return 1;
	}
	return 0;
}

int db_sql_read_only(const char *sql)
{
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '(')
		sql++;
	if (keyword_at(sql, "SELECT"))
		return 1;
	/* a WITH query (the token lookup's recursive group and implied-role walk) reads
	 * only when none of its parts writes */
	return keyword_at(sql, "WITH") && !mentions_write(sql);
}

/* Before a statement is sent on an idle connection: a connection the server closed
 * while it sat in the pool (PostgreSQL restarted) has its goodbye waiting on the
 * socket; it is reset now, so the statement goes out on a live link and is never
 * one that may or may not have run. */
static void db_revive(PGconn *c)
{
	/* the server's FATAL and its EOF may take two reads: libpq returns after the
	 * bytes of the first and notices the EOF only on the next (a bounded loop: a
	 * live link with a pending notification stops as soon as nothing is left) */
	for (int i = 0;
	     i < 8 && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE; i++) {
		struct pollfd p = {PQsocket(c), POLLIN, 0};
		if (p.fd < 0 || poll(&p, 1, 0) <= 0 || !PQconsumeInput(c))
			break;
	}
	if (PQstatus(c) != CONNECTION_OK)
		PQreset(c);
}

/* A statement that fails because the connection broke under it runs once more on a
 * fresh connection only when running it twice cannot matter: outside a transaction
 * (inside one, the transaction is gone with the link) and read-only (an INSERT or
 * UPDATE in autocommit may have been applied before the link broke). */
static int db_should_retry(PGconn *c, PGresult *r, int was_idle, const char *sql)
{
	ExecStatusType st = PQresultStatus(r);
	return was_idle && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
	       PQstatus(c) == CONNECTION_BAD && db_sql_read_only(sql);
}

static int result_ok(const PGresult *r)
{
	ExecStatusType s = PQresultStatus(r);
	return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* r when it succeeded; else NULL, r freed, its reason in err and its SQLSTATE in
 * sqlstate (both optional). */
static PGresult *result_or_fail(PGconn *c, PGresult *r, char *err, size_t errlen, char *sqlstate)
{
	if (result_ok(r))
		return r;
	if (err && errlen) {
		/* no result at all (connection lost): the connection holds the reason */
		const char *why = r ? PQresultErrorMessage(r) : "";
		snprintf(err, errlen, "%s", *why ? why : PQerrorMessage(c));
	}
	if (sqlstate) {
		const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		snprintf(sqlstate, 6, "%s", s ? s : "");
	}
	PQclear(r);
	return NULL;
}

PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params, char *err,
                   size_t errlen, char *sqlstate)
{
	int was_idle = PQtransactionStatus(c) == PQTRANS_IDLE;
	if (was_idle)
		db_revive(c);
	cache_note(sql);
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (db_should_retry(c, r, was_idle, sql)) {
		PQclear(r);
		PQreset(c);
		r = PQstatus(c) == CONNECTION_OK
		        ? PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0)
		        : NULL;
	}
	return result_or_fail(c, r, err, errlen, sqlstate);
}

/* SQLSTATE 26000: this connection has no statement of that name (first use, or a new
 * connection after a reset) */
static int no_such_statement(const PGresult *r)
{
	const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	return s && !strcmp(s, "26000");
}

static PGresult *query_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params,
                            char *err, size_t errlen, char *sqlstate);

PGresult *db_query_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params,
                        char *err, size_t errlen, char *sqlstate)
{
	/* inside a transaction the caller may have changed what is cached: no cache */
	if (!st->cached || PQtransactionStatus(c) != PQTRANS_IDLE)
		return query_stmt(c, st, n, params, err, errlen, sqlstate);
	char key[CACHE_KEY_MAX];
	size_t len;
	long long gen = atomic_load(&cache_gen);
	if (gen < 0 || cache_key(n, params, key, &len) < 0)
		return query_stmt(c, st, n, params, err, errlen, sqlstate);
	PGresult *hit = cache_get(st, key, len, gen);
	if (hit)
		return hit;
	PGresult *r = query_stmt(c, st, n, params, err, errlen, sqlstate);
	if (r)
		cache_put(st, key, len, gen, r); /* under the generation read before the query */
	return r;
}

/* The statements each connection has prepared, so that one runs prepared inside a
 * transaction too, where a missing statement would abort it. A connection is known by
 * its PGconn and its server process: PQreset starts a new session (without the
 * statements) under a new process id. Bounded: when full, the oldest entry goes, and
 * its statement is prepared again on its next use. */
#define DB_PREPARED_MAX 256
static struct db_prepared {
	const PGconn *c;
	int pid;
	const struct db_stmt *st;
} db_prepared[DB_PREPARED_MAX];
static unsigned db_prepared_next;
static pthread_mutex_t db_prepared_lock = PTHREAD_MUTEX_INITIALIZER;

static int prepared_known(const PGconn *c, const struct db_stmt *st)
{
	int pid = PQbackendPID(c), hit = 0;
	pthread_mutex_lock(&db_prepared_lock);
	for (int i = 0; i < DB_PREPARED_MAX && !hit; i++)
		hit = db_prepared[i].c == c && db_prepared[i].pid == pid && db_prepared[i].st == st;
	pthread_mutex_unlock(&db_prepared_lock);
	return hit;
}

static void prepared_note(const PGconn *c, const struct db_stmt *st)
{
	pthread_mutex_lock(&db_prepared_lock);
	db_prepared[db_prepared_next++ % DB_PREPARED_MAX] =
	    (struct db_prepared){.c = c, .pid = PQbackendPID(c), .st = st};
	pthread_mutex_unlock(&db_prepared_lock);
}

/* Prepares st on c: 0, or -1 (a failure inside a transaction aborts it). */
static int prepare(PGconn *c, const struct db_stmt *st, int n)
{
	PGresult *r = PQprepare(c, st->name, st->sql, n, NULL);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok)
		prepared_note(c, st);
	return ok ? 0 : -1;
}

/* The one way a statement runs prepared, for reads (query_stmt) and writes
 * (db_exec_stmt): known to this session, or inside a transaction (prepared first,
 * which is allowed there), it runs at once; on an idle connection the first use runs
 * it, and a missing statement (which ran nothing) is prepared and run once, so a
 * write never runs twice. The result (NULL when the prepare failed). */
static PGresult *exec_prepared(PGconn *c, const struct db_stmt *st, int n,
                               const char *const *params)
{
	int idle = PQtransactionStatus(c) == PQTRANS_IDLE;
	if (idle)
		db_revive(c); /* a link PostgreSQL dropped while pooled (restart): reset first */
	if (prepared_known(c, st) || !idle)
		return prepared_known(c, st) || prepare(c, st, n) == 0
		           ? PQexecPrepared(c, st->name, n, params, NULL, NULL, 0)
		           : NULL;
	PGresult *r = PQexecPrepared(c, st->name, n, params, NULL, NULL, 0);
	if (no_such_statement(r) && PQtransactionStatus(c) == PQTRANS_IDLE) {
		PQclear(r);
		return prepare(c, st, n) == 0
		           ? PQexecPrepared(c, st->name, n, params, NULL, NULL, 0)
		           : NULL;
	}
	if (result_ok(r))
		prepared_note(c, st);
	return r;
}

static PGresult *query_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params,
                            char *err, size_t errlen, char *sqlstate)
{
	if (!db_sql_read_only(st->sql))
		return db_query(c, st->sql, n, params, err, errlen, sqlstate);
	int idle = PQtransactionStatus(c) == PQTRANS_IDLE;
	PGresult *r = exec_prepared(c, st, n, params);
	if (!idle) /* its error aborted the transaction: it stands, as it is */
		return result_or_fail(c, r, err, errlen, sqlstate);
	if (result_ok(r))
		return r;
	PQclear(r);
	/* anything else (a link that broke under the statement, an error): the plain
	 * path, with its error reporting (a read: running it again is harmless); a broken
	 * link is reset first, since db_query revives only a connection that still looks
	 * idle */
	if (PQstatus(c) == CONNECTION_BAD)
		PQreset(c);
	return db_query(c, st->sql, n, params, err, errlen, sqlstate);
}

int db_exec_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params, char *err,
                 size_t errlen)
{
	cache_note(st->sql);
	PGresult *r = result_or_fail(c, exec_prepared(c, st, n, params), err, errlen, NULL);
	if (!r)
		return -EIO;
	const char *t = PQcmdTuples(r);
	int rows = *t ? atoi(t) : 0;
	PQclear(r);
	return rows;
}

int db_exec(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen)
{
	PGresult *r = db_query(c, sql, n, params, err, errlen, NULL);
	if (!r)
		return -EIO;
	const char *t = PQcmdTuples(r);
	int rows = *t ? atoi(t) : 0;
	PQclear(r);
	return rows;
}

static int simple(PGconn *c, const char *sql)
{
	/* BEGIN is the only one of these that starts outside a transaction: a dead
	 * pooled link is reset before it, and it is safe to run again */
	int was_idle = PQtransactionStatus(c) == PQTRANS_IDLE;
	if (was_idle)
		db_revive(c);
	PGresult *r = PQexec(c, sql);
	ExecStatusType st = PQresultStatus(r);
	if (was_idle && st != PGRES_COMMAND_OK && PQstatus(c) == CONNECTION_BAD &&
	    strcmp(sql, "BEGIN") == 0) {
		PQclear(r);
		PQreset(c);
		r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	}
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -EIO;
}

int db_begin(PGconn *c)
{
	return simple(c, "BEGIN");
}

int db_commit(PGconn *c)
{
	return simple(c, "COMMIT");
}

void db_rollback(PGconn *c)
{
	simple(c, "ROLLBACK");
}

const char *db_val(const PGresult *r, int row, int col)
{
	if (row >= PQntuples(r) || col >= PQnfields(r) || PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

long db_long(const PGresult *r, int row, int col, long def)
{
	const char *v = db_val(r, row, col);
	return v ? strtol(v, NULL, 10) : def;
}

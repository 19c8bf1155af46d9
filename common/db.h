/* PostgreSQL access for the controller side (nubo-api, nubo-scheduler): a small
 * connection pool, parameterised queries only, and versioned schema migrations. */
#ifndef NUBO_DB_H
#define NUBO_DB_H
#include <libpq-fe.h>
#include <stddef.h>

struct db_pool;

/* Opens size connections to conninfo. NULL with err on failure. */
struct db_pool *db_pool_new(const char *conninfo, int size, char *err, size_t errlen);
void db_pool_free(struct db_pool *p);
/* Borrows a connection, waiting while all are in use; a broken one is reset first. */
PGconn *db_acquire(struct db_pool *p);
/* Like db_acquire but waits at most timeout_ms; NULL when none came free (the caller
 * answers 503 rather than queueing without bound). */
PGconn *db_acquire_timed(struct db_pool *p, long timeout_ms);
/* Returns c to the pool; an open transaction is rolled back. */
void db_release(struct db_pool *p, PGconn *c);

/* Runs sql with text parameters (NULL entries are SQL NULL). Returns the result
 * (caller PQclear()s) for COMMAND_OK/TUPLES_OK, or NULL with the server's message in
 * err and its SQLSTATE in sqlstate (6 bytes, may be NULL). Outside a transaction, a
 * connection the server dropped while it was idle (PostgreSQL restarted) is reset
 * before sql is sent; a read-only statement (db_sql_read_only) whose connection
 * breaks under it runs once more on a fresh one. Nothing else is ever run twice: a
 * write may have been applied before the link broke, and a transaction is gone with
 * it. On failure PQstatus(c) != CONNECTION_OK tells "database unreachable" from a
 * statement error. */
PGresult *db_query(PGconn *c, const char *sql, int n, const char *const *params, char *err,
                   size_t errlen, char *sqlstate);
/* 1 when sql is a plain SELECT, or a WITH query none of whose parts writes (what
 * db_query may run a second time, and what db_query_stmt prepares), else 0. */
int db_sql_read_only(const char *sql);
/* A hot statement with a fixed text, run as a prepared statement under its name
 * (unique per process, e.g. "token_validate"), so PostgreSQL parses and plans it once
 * per connection instead of on every request. */
struct db_stmt {
	const char *name;
	const char *sql;
	/* 1: a read of cached tables only (migration 0004's cache_generation triggers:
	 * flavors): its results may be served from memory while those tables have not
	 * changed, once db_cache_follow() runs. */
	int cached;
};
/* Like db_query for st: outside a transaction it runs prepared (prepared on first use
 * on each connection, and again after a reconnect); inside one it runs as db_query
 * does, since a failed prepared call would abort the transaction. A prepared run that
 * fails is run once more through db_query, which reports the error: use it for reads
 * only. */
PGresult *db_query_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params,
                        char *err, size_t errlen, char *sqlstate);
#define DBQS(c, err, errlen, st, ...)                                                              \
	db_query_stmt((c), (st), DB_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__}, (err), \
	              (errlen), NULL)

/* The result cache of `cached` statements: per request thread, keyed by statement and
 * parameters, valid while the database's cache generation (bumped by a trigger on
 * every change to a cached table, with NOTIFY nubo_cache) is the one it was read
 * under. db_cache_follow() starts a thread that LISTENs on a connection of its own
 * to conninfo and publishes the generation; until it has one, and whenever it loses
 * its connection, nothing is cached. A pooled connection that ran a write reads the
 * generation itself when it is released (db_release), so the writer's own next
 * request already sees its change; other processes see it when their follower is
 * notified (milliseconds), or within a second should a notification be lost. A hit
 * returns a copy the caller PQclear()s, as a miss does. */
void db_cache_follow(const char *conninfo);
/* Stops the follower (caching off). Accepts being called when none runs. */
void db_cache_stop(void);
/* Frees the calling thread's cached results. */
void db_cache_flush(void);

/* Like db_exec for a hot write with a fixed text (st->cached unused): run prepared,
 * inside a transaction as well as outside. Each connection prepares it on first use
 * (and again after a reset); a statement that was missing ran nothing, so that first
 * run is never a second run of a write. Affected rows (>= 0) or -EIO. */
int db_exec_stmt(PGconn *c, const struct db_stmt *st, int n, const char *const *params, char *err,
                 size_t errlen);
#define DBXS(c, err, errlen, st, ...)                                                              \
	db_exec_stmt((c), (st), DB_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__}, (err),  \
	             (errlen))

/* Like db_query but for statements: returns affected rows (>= 0) or -EIO. */
int db_exec(PGconn *c, const char *sql, int n, const char *const *params, char *err, size_t errlen);

#define DB_NARGS(...) ((int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)))
/* DBQ(conn, err, errlen, sql, params...): db_query with an inline parameter list;
 * DBX the same for db_exec. The error buffer's size is always passed explicitly (a
 * macro that took sizeof(err) cut the message to 7 bytes where err was a pointer). */
#define DBQ(c, err, errlen, sql, ...)                                                              \
	db_query((c), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__}, (err),     \
	         (errlen), NULL)
#define DBX(c, err, errlen, sql, ...)                                                              \
	db_exec((c), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__}, (err),      \
	        (errlen))

/* Transaction helpers: 0 or -EIO. BEGIN on a dropped connection reconnects once. */
int db_begin(PGconn *c);
int db_commit(PGconn *c);
void db_rollback(PGconn *c);

/* Brings the schema to the newest version (under an advisory lock, so concurrent
 * daemons do not race). Returns the version now in place, or -EIO with err. */
int db_migrate(PGconn *c, char *err, size_t errlen);
/* Newest schema version this build knows. */
int db_schema_version(void);

/* Cell helpers: value of (row, col) or NULL when SQL NULL; int with default. */
const char *db_val(const PGresult *r, int row, int col);
long db_long(const PGresult *r, int row, int col, long def);

#endif

/* The DBQ/DBX wrappers pass the caller's error buffer size through unchanged: a
 * pointer to a buffer keeps the whole message (the old macro took sizeof(err) and
 * cut it to 7 bytes). Uses a connection that never reached a server. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "db.h"

static void error_through_pointer_keeps_message(void **state)
{
	PGconn *c = PQconnectdb("host=/nonexistent-nubo-test port=1 connect_timeout=1");
	assert_non_null(c);
	char buf[256];
	char *err = buf;
	buf[0] = 0;
	assert_null(DBQ(c, err, sizeof buf, "SELECT $1::int", "1"));
	assert_true(strlen(err) > 7);
	buf[0] = 0;
	assert_int_equal(DBX(c, err, sizeof buf, "SELECT 1"), -EIO);
	assert_true(strlen(err) > 7);
	/* a prepared statement on a dead connection reports through the same buffer */
	static const struct db_stmt st = {"test_stmt", "SELECT $1::int"};
	buf[0] = 0;
	assert_null(DBQS(c, err, sizeof buf, &st, "1"));
	assert_true(strlen(err) > 7);
	char small[4] = "xyz";
	assert_null(DBQ(c, small, sizeof small, "SELECT 1"));
	assert_int_equal(strlen(small), 3); /* bounded by the size given */
	PQfinish(c);
}

static void read_only_statements(void **state)
{
	assert_true(db_sql_read_only("SELECT 1"));
	assert_true(db_sql_read_only("  select id FROM tasks WHERE id = $1"));
	assert_true(db_sql_read_only("SELECT\n1"));
	assert_false(db_sql_read_only("INSERT INTO tokens VALUES ($1)"));
	assert_false(db_sql_read_only("UPDATE quota SET in_use = in_use + 1"));
	assert_false(db_sql_read_only("DELETE FROM tokens"));
	assert_false(db_sql_read_only("WITH x AS (DELETE FROM t RETURNING 1) SELECT 1"));
	assert_false(db_sql_read_only("SELECTED"));
	/* a WITH query reads when none of its parts writes (the token lookup's recursive
	 * walk: without this its first run after a PostgreSQL restart was a 503) */
	assert_true(db_sql_read_only("WITH RECURSIVE g(id) AS (SELECT 1 UNION SELECT id FROM g)"
	                             " SELECT * FROM g"));
	assert_true(db_sql_read_only("with x as (select updated_at from t) select * from x"));
	assert_false(db_sql_read_only("WITH x AS (SELECT 1) UPDATE t SET a = 1"));
	assert_false(db_sql_read_only("WITH x AS (SELECT 1) insert into t SELECT * FROM x"));
	assert_false(db_sql_read_only("WITH x AS (SELECT 1 FOR UPDATE) SELECT 1"));
	assert_false(db_sql_read_only("WITHOUT"));
	assert_false(db_sql_read_only(""));
}

/* ---- a PostgreSQL server that speaks just enough of the protocol ------------------ */

enum fake_mode {
	FAKE_DROP_ON_QUERY, /* the link breaks while the statement runs */
	FAKE_GONE_AT_ONCE,  /* the server restarts while the connection is pooled */
	FAKE_ANSWER,        /* answers every statement with success */
	FAKE_SESSION,       /* a session: named statements, transactions, a process id */
};

struct fake_pg {
	char dir[64];
	int lfd;
	enum fake_mode modes[4]; /* per accepted connection */
	int queries;             /* statements (Parse messages) received, all connections */
	int errors;              /* error answers sent (FAKE_SESSION) */
	pthread_t th;
};

static int read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = read(fd, (char *)buf + got, n - got);
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Writes a message of type t with body b of n bytes. */
static void send_msg(int fd, char t, const void *b, uint32_t n)
{
	unsigned char h[5];
	h[0] = (unsigned char)t;
	put32(h + 1, n + 4);
	if (write(fd, h, 5) != 5 || (n && write(fd, b, n) != (ssize_t)n))
		return;
}

/* FAKE_SESSION after the startup: a server process of its own (BackendKeyData) that
 * keeps the statements Parse names for the session, answers a Bind of a name it does
 * not have with SQLSTATE 26000 and a second Parse of a name with 42P05, and tracks
 * BEGIN / COMMIT / ROLLBACK (simple queries) with the failed-transaction state. */
static void fake_session(struct fake_pg *f, int fd, unsigned char *body)
{
	static int next_pid = 1000;
	char names[8][64] = {{0}};
	int nnames = 0;
	unsigned char key[8];
	put32(key, (uint32_t)__atomic_add_fetch(&next_pid, 1, __ATOMIC_SEQ_CST));
	put32(key + 4, 0);
	send_msg(fd, 'K', key, 8);
	send_msg(fd, 'Z', "I", 1);
	char txn = 'I', pending[16] = "", err[64] = "";
	int npending = 0;
	unsigned char hdr[5];
	for (;;) {
		if (read_full(fd, hdr, 5) < 0 || get32(hdr + 1) < 4 || get32(hdr + 1) > (1 << 16) ||
		    read_full(fd, body, get32(hdr + 1) - 4) < 0)
			return;
		body[get32(hdr + 1) - 4] = 0;
		const char *name = (const char *)body;
		if (hdr[0] == 'Q') { /* BEGIN, COMMIT, ROLLBACK */
			txn = !strcmp(name, "BEGIN") ? (txn == 'I' ? 'T' : txn) : 'I';
			send_msg(fd, 'C', name, (uint32_t)strlen(name) + 1);
			send_msg(fd, 'Z', &txn, 1);
			continue;
		}
		if (hdr[0] == 'P') {
			__atomic_add_fetch(&f->queries, 1, __ATOMIC_SEQ_CST);
			int have = 0;
			for (int i = 0; i < nnames; i++)
				have |= !strcmp(names[i], name);
			if (have && !err[0])
				snprintf(err, sizeof(err), "42P05");
			else if (*name && nnames < 8)
				snprintf(names[nnames++], sizeof(names[0]), "%s", name);
		}
		if (hdr[0] == 'B') {
			name += strlen(name) + 1; /* after the portal: the statement */
			int have = !*name;
			for (int i = 0; i < nnames; i++)
				have |= !strcmp(names[i], name);
			if (!have && !err[0])
				snprintf(err, sizeof(err), "26000");
		}
		if (hdr[0] != 'S') {
			if (npending < (int)sizeof(pending) - 1)
				pending[npending++] = (char)hdr[0];
			continue;
		}
		if (err[0]) {
			char e[96];
			int n = snprintf(e, sizeof(e), "SERROR%cC%s%cMfails%c", 0, err, 0, 0) + 1;
			send_msg(fd, 'E', e, (uint32_t)n);
			__atomic_add_fetch(&f->errors, 1, __ATOMIC_SEQ_CST);
			if (txn == 'T')
				txn = 'E';
		} else {
			for (int i = 0; i < npending; i++) {
				if (pending[i] == 'P')
					send_msg(fd, '1', NULL, 0);
				else if (pending[i] == 'B')
					send_msg(fd, '2', NULL, 0);
				else if (pending[i] == 'D')
					send_msg(fd, 'n', NULL, 0);
				else if (pending[i] == 'E')
					send_msg(fd, 'C', "INSERT 0 1", 11);
			}
		}
		send_msg(fd, 'Z', &txn, 1);
		err[0] = 0;
		npending = 0;
	}
}

static void fake_conn(struct fake_pg *f, int fd, enum fake_mode mode)
{
	unsigned char hdr[5], *body = malloc(1 << 16);
	if (read_full(fd, hdr, 4) < 0 || get32(hdr) < 8 || get32(hdr) > (1 << 16) ||
	    read_full(fd, body, get32(hdr) - 4) < 0)
		goto out;
	unsigned char auth[4] = {0, 0, 0, 0};
	send_msg(fd, 'R', auth, 4);
	if (mode == FAKE_SESSION) {
		fake_session(f, fd, body);
		goto out;
	}
	send_msg(fd, 'Z', "I", 1);
	if (mode == FAKE_GONE_AT_ONCE) {
		static const char fatal[] = "SFATAL\0C57P01\0Mterminating connection\0";
		send_msg(fd, 'E', fatal, sizeof(fatal));
		goto out;
	}
	for (;;) {
		if (read_full(fd, hdr, 5) < 0 || get32(hdr + 1) < 4 || get32(hdr + 1) > (1 << 16) ||
		    read_full(fd, body, get32(hdr + 1) - 4) < 0)
			goto out;
		if (hdr[0] == 'P')
			__atomic_add_fetch(&f->queries, 1, __ATOMIC_SEQ_CST);
		if (hdr[0] != 'S')
			continue;
		if (mode == FAKE_DROP_ON_QUERY)
			goto out;
		send_msg(fd, '1', NULL, 0);
		send_msg(fd, '2', NULL, 0);
		send_msg(fd, 'n', NULL, 0);
		send_msg(fd, 'C', "INSERT 0 1", 11);
		send_msg(fd, 'Z', "I", 1);
	}
out:
	free(body);
	close(fd);
}

static void *fake_main(void *arg)
{
	struct fake_pg *f = arg;
	for (int i = 0; i < 4; i++) {
		int fd = accept(f->lfd, NULL, NULL);
		if (fd < 0)
			break;
		fake_conn(f, fd, f->modes[i]);
	}
	return NULL;
}

static PGconn *fake_start(struct fake_pg *f, enum fake_mode first, enum fake_mode then)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(f->dir, sizeof(f->dir), "/tmp/nubo-test-db-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/.s.PGSQL.5432", f->dir);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 4), 0);
	f->modes[0] = first;
	for (int i = 1; i < 4; i++)
		f->modes[i] = then;
	f->queries = 0;
	f->errors = 0;
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	char conninfo[160];
	snprintf(conninfo, sizeof(conninfo),
	         "host=%s port=5432 user=nubo dbname=nubo gssencmode=disable connect_timeout=5",
	         f->dir);
	PGconn *c = PQconnectdb(conninfo);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

static void fake_stop(struct fake_pg *f, PGconn *c)
{
	char path[128];
	PQfinish(c);
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->th, NULL);
	close(f->lfd);
	snprintf(path, sizeof(path), "%s/.s.PGSQL.5432", f->dir);
	unlink(path);
	rmdir(f->dir);
}

/* An INSERT whose link breaks under it may have been applied: it is not run again. */
static void write_is_never_run_twice(void **state)
{
	struct fake_pg f;
	char err[256] = "";
	PGconn *c = fake_start(&f, FAKE_DROP_ON_QUERY, FAKE_ANSWER);
	assert_int_equal(DBX(c, err, sizeof err, "INSERT INTO t VALUES ($1)", "x"), -EIO);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1);
	assert_true(PQstatus(c) != CONNECTION_OK); /* the caller can tell an outage */
	fake_stop(&f, c);
}

/* A SELECT whose link breaks under it runs once more on a fresh connection. */
static void read_is_retried_once(void **state)
{
	struct fake_pg f;
	char err[256] = "";
	PGconn *c = fake_start(&f, FAKE_DROP_ON_QUERY, FAKE_ANSWER);
	PGresult *r = DBQ(c, err, sizeof err, "SELECT $1::int", "1");
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 2);
	fake_stop(&f, c);
}

/* A pooled connection the server closed while idle (a restart) is replaced before a
 * write is sent: the write succeeds, once, and is not an error. */
static void stale_link_is_reset_before_a_write(void **state)
{
	struct fake_pg f;
	char err[256] = "";
	PGconn *c = fake_start(&f, FAKE_GONE_AT_ONCE, FAKE_ANSWER);
	usleep(100 * 1000); /* the goodbye is on the socket */
	assert_int_equal(DBX(c, err, sizeof err, "INSERT INTO t VALUES ($1)", "x"), 1);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1);
	fake_stop(&f, c);
}

/* A hot write runs prepared: the first use on a session prepares it (the run that
 * found it missing had run nothing), later ones only execute it, in a transaction as
 * well; a new session after a reset (another server process) prepares it again before
 * its first run inside a transaction, where a missing statement would fail the
 * transaction. */
static void write_statement_prepared_per_session(void **state)
{
	static const struct db_stmt st = {"test_write", "INSERT INTO t VALUES ($1)"};
	struct fake_pg f;
	char err[256] = "";
	PGconn *c = fake_start(&f, FAKE_SESSION, FAKE_SESSION);
	assert_int_equal(DBXS(c, err, sizeof err, &st, "x"), 1);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(DBXS(c, err, sizeof err, &st, "y"), 1);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(DBXS(c, err, sizeof err, &st, "z"), 1);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1); /* parsed once */
	int errors = __atomic_load_n(&f.errors, __ATOMIC_SEQ_CST); /* the first run's 26000 */
	assert_int_equal(errors, 1);
	PQreset(c); /* a new session: no statements */
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(DBXS(c, err, sizeof err, &st, "w"), 1);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 2);
	assert_int_equal(__atomic_load_n(&f.errors, __ATOMIC_SEQ_CST), errors);
	fake_stop(&f, c);
}

/* A read runs prepared through the same note as a write: inside a transaction too,
 * where it used to be sent unprepared (parsed again on every run). */
static void read_statement_prepared_in_a_transaction(void **state)
{
	static const struct db_stmt st = {"test_read", "SELECT $1::int"};
	struct fake_pg f;
	char err[256] = "";
	PGconn *c = fake_start(&f, FAKE_SESSION, FAKE_SESSION);
	PGresult *r = DBQS(c, err, sizeof err, &st, "1");
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1);
	assert_int_equal(db_begin(c), 0);
	r = DBQS(c, err, sizeof err, &st, "2");
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(__atomic_load_n(&f.queries, __ATOMIC_SEQ_CST), 1); /* parsed once */
	fake_stop(&f, c);
}

/* A pool with every connection busy (here: none at all) answers NULL once the wait is
 * over instead of blocking the request thread for ever. */
static void acquire_wait_is_bounded(void **state)
{
	char err[64];
	struct db_pool *p = db_pool_new("host=/nonexistent-nubo-test", 0, err, sizeof err);
	assert_non_null(p);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_null(db_acquire_timed(p, 50));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 40 && ms < 2000);
	db_pool_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(error_through_pointer_keeps_message),
	    cmocka_unit_test(read_only_statements),
	    cmocka_unit_test(write_is_never_run_twice),
	    cmocka_unit_test(read_is_retried_once),
	    cmocka_unit_test(stale_link_is_reset_before_a_write),
	    cmocka_unit_test(write_statement_prepared_per_session),
	    cmocka_unit_test(read_statement_prepared_in_a_transaction),
	    cmocka_unit_test(acquire_wait_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The versioned schema: migration N (common/migrations/000N_name.sql, embedded at
 * build) turns version N-1 into N. db_migrate applies the missing ones in order, in
 * one transaction under an advisory lock, each once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "db.h"
#include "db_migrations.h"

int db_schema_version(void)
{
	return db_n_migrations;
}

int db_migrations_check(const struct db_migration *m, int n, char *err, size_t errlen)
{
	for (int i = 0; i < n; i++)
		if (m[i].version != i + 1 || !m[i].sql) {
			snprintf(err, errlen, "migration %s is not number %d", m[i].name, i + 1);
			return -EINVAL;
		}
	return 0;
}

int db_migrate(PGconn *c, char *err, size_t errlen)
{
	PGresult *r = NULL;
	if (db_migrations_check(db_migrations, db_n_migrations, err, errlen) < 0)
		return -EIO;
	if (db_begin(c) < 0) {
		snprintf(err, errlen, "begin: %s", PQerrorMessage(c));
		return -EIO;
	}
	/* A fixed advisory-lock key serialises migrations across daemons. */
	if (db_exec(c, "SELECT pg_advisory_xact_lock(7242001)", 0, NULL, err, errlen) < 0 ||
	    db_exec(c, "CREATE TABLE IF NOT EXISTS schema_version (version int NOT NULL)", 0, NULL,
	            err, errlen) < 0)
		goto fail;
	r = db_query(c, "SELECT max(version) FROM schema_version", 0, NULL, err, errlen, NULL);
	if (!r)
		goto fail;
	int have = (int)db_long(r, 0, 0, 0);
	PQclear(r);
	if (have > db_n_migrations) {
		snprintf(err, errlen, "database schema %d is newer than this build (%d)", have,
		         db_n_migrations);
		goto fail;
	}
	for (int v = have + 1; v <= db_n_migrations; v++) {
		/* simple-query protocol: a file may hold several statements */
		PGresult *m = PQexec(c, db_migrations[v - 1].sql);
		if (PQresultStatus(m) != PGRES_COMMAND_OK) {
			snprintf(err, errlen, "migration %s: %s", db_migrations[v - 1].name,
			         PQresultErrorMessage(m));
			PQclear(m);
			goto fail;
		}
		PQclear(m);
		char vs[16];
		snprintf(vs, sizeof(vs), "%d", v);
		if (db_exec(c, "INSERT INTO schema_version VALUES ($1::int)", 1,
		            (const char *const[]){vs}, err, errlen) < 0)
			goto fail;
	}
	if (db_commit(c) < 0) {
		snprintf(err, errlen, "commit: %s", PQerrorMessage(c));
		return -EIO;
	}
	return db_n_migrations;
fail:
	db_rollback(c);
	return -EIO;
}

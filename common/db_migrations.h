/* The schema migrations embedded at build from common/migrations/NNNN_name.sql (the
 * table is generated into the build tree by common/migrations/embed.awk). Append a
 * file; never edit one that has shipped. */
#ifndef NUBO_DB_MIGRATIONS_H
#define NUBO_DB_MIGRATIONS_H
#include <stddef.h>

struct db_migration {
	int version;      /* NNNN of the file name: 1, 2, ... without gaps */
	const char *name; /* "0001_initial" */
	const char *sql;  /* the file's text, run as one simple query */
};

/* In version order, db_n_migrations rows. */
extern const struct db_migration db_migrations[];
extern const int db_n_migrations;

/* 0 when the table's versions are 1..n in order, else -EINVAL with the first bad row's
 * name in err. db_migrate refuses to run a table that fails this. */
int db_migrations_check(const struct db_migration *m, int n, char *err, size_t errlen);

#endif

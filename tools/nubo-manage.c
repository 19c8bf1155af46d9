/* nubo-manage: operator tasks that need the database or crypto: apply migrations,
 * hash a password, print the schema version. Used by deploy/stack.sh. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "db.h"

static int usage(void)
{
	fputs("usage: nubo-manage -c CONF db-sync | db-version\n"
	      "       nubo-manage hash-password   (reads the password on stdin)\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *confpath = "/etc/nubo/nubo.conf";
	int i = 1;
	if (argc > 2 && !strcmp(argv[1], "-c")) {
		confpath = argv[2];
		i = 3;
	}
	if (i >= argc)
		return usage();
	if (sodium_init() < 0)
		return 1;
	if (!strcmp(argv[i], "hash-password")) {
		char pw[1024], out[crypto_pwhash_STRBYTES];
		if (!fgets(pw, sizeof(pw), stdin))
			return 1;
		pw[strcspn(pw, "\n")] = '\0';
		if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
			return 1;
		puts(out);
		return 0;
	}
	char err[512];
	struct conf *c = conf_load(confpath, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "nubo-manage: %s\n", err);
		return 1;
	}
	struct db_pool *pool = db_pool_new(conf_get(c, "database", "conninfo", ""), 1, err,
					   sizeof(err));
	if (!pool) {
		fprintf(stderr, "nubo-manage: %s\n", err);
		conf_free(c);
		return 1;
	}
	int rc = 0;
	PGconn *db = db_acquire(pool);
	if (!strcmp(argv[i], "db-sync")) {
		int v = db_migrate(db, err, sizeof(err));
		if (v < 0) {
			fprintf(stderr, "nubo-manage: %s\n", err);
			rc = 1;
		} else {
			printf("schema version %d\n", v);
		}
	} else if (!strcmp(argv[i], "db-version")) {
		printf("%d\n", db_schema_version());
	} else {
		rc = usage();
	}
	db_release(pool, db);
	db_pool_free(pool);
	conf_free(c);
	return rc;
}

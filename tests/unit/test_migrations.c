/* The embedded migration table: numbered 1..N without gaps, named after their files,
 * and db_migrations_check refuses a table that is not. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "db.h"
#include "db_migrations.h"

static void embedded_table_is_numbered(void **state)
{
	char err[128], prefix[16];
	assert_true(db_n_migrations >= 2);
	assert_int_equal(db_schema_version(), db_n_migrations);
	assert_int_equal(db_migrations_check(db_migrations, db_n_migrations, err, sizeof(err)), 0);
	for (int i = 0; i < db_n_migrations; i++) {
		snprintf(prefix, sizeof(prefix), "%04d_", i + 1);
		assert_int_equal(strncmp(db_migrations[i].name, prefix, 5), 0);
		assert_true(strlen(db_migrations[i].sql) > 0);
	}
	assert_string_equal(db_migrations[0].name, "0001_initial");
	/* 0001 is the first release's schema: the outbox still had instance_id then */
	assert_non_null(
	    strstr(db_migrations[0].sql, "instance_id text NOT NULL REFERENCES instances(id)"));
	assert_non_null(strstr(db_migrations[1].sql, "RENAME COLUMN instance_id TO resource_id"));
}

static void check_refuses_gaps(void **state)
{
	char err[128];
	const struct db_migration gap[] = {{1, "0001_a", "SELECT 1"}, {3, "0003_c", "SELECT 1"}};
	assert_int_equal(db_migrations_check(gap, 2, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0003_c"));
	const struct db_migration order[] = {{2, "0002_b", "SELECT 1"}, {1, "0001_a", "SELECT 1"}};
	assert_int_equal(db_migrations_check(order, 2, err, sizeof(err)), -EINVAL);
	const struct db_migration ok[] = {{1, "0001_a", "SELECT 1"}, {2, "0002_b", "SELECT 1"}};
	assert_int_equal(db_migrations_check(ok, 2, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(embedded_table_is_numbered),
	    cmocka_unit_test(check_refuses_gaps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

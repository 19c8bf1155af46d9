/* Scheduler: server name -> guest hostname (one DNS label, Nova's rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/hostname.h"

static void expect(const char *name, const char *id, const char *want)
{
	char out[HOSTNAME_MAX];
	memset(out, 'x', sizeof(out));
	hostname_from_name(name, id, out);
	assert_string_equal(out, want);
}

static void plain_names(void **state)
{
	expect("vm1", NULL, "vm1");
	expect("web-01", NULL, "web-01");
	expect("MyServer", NULL, "myserver");
}

static void separators_become_hyphens(void **state)
{
	expect("my server", NULL, "my-server");
	expect("db_primary.prod", NULL, "db-primary-prod");
	expect("a  b", NULL, "a--b");
}

static void other_characters_are_dropped(void **state)
{
	expect("héllo!", NULL, "hllo");
	expect("x@y#z$", NULL, "xyz");
	expect("名前vm", NULL, "vm");
}

static void edges_are_trimmed(void **state)
{
	expect("-vm-", NULL, "vm");
	expect("  .vm._ ", NULL, "vm");
	expect("---", "1234", "server-1234");
}

static void empty_falls_back(void **state)
{
	expect("", "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	       "server-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	expect(NULL, NULL, "server");
	expect("!!!", "AB_C", "server-ab-c");
}

static void long_names_are_cut_to_63(void **state)
{
	char name[200], out[HOSTNAME_MAX];
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	hostname_from_name(name, NULL, out);
	assert_int_equal(strlen(out), 63);
	/* a hyphen at the cut is trimmed */
	memset(name, 'b', 62);
	name[62] = '_';
	name[63] = 'c';
	name[64] = '\0';
	hostname_from_name(name, NULL, out);
	assert_int_equal(strlen(out), 62);
	assert_int_equal(out[61], 'b');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(plain_names),
	    cmocka_unit_test(separators_become_hyphens),
	    cmocka_unit_test(other_characters_are_dropped),
	    cmocka_unit_test(edges_are_trimmed),
	    cmocka_unit_test(empty_falls_back),
	    cmocka_unit_test(long_names_are_cut_to_63),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

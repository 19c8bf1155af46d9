/* The server create hint "group" as server_group.c reads it: either hint key, a UUID
 * lower-cased, Nova's 400 for anything else. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server_group.h"

static int hint(const char *body, char group[UUID_STR_LEN], char *err)
{
	json_t *b = json_loads(body, 0, NULL);
	assert_non_null(b);
	int rc = server_group_hint(b, group, err, 256);
	json_decref(b);
	return rc;
}

static void hint_keys(void **state)
{
	char g[UUID_STR_LEN], err[256];
	assert_int_equal(hint("{\"server\": {}}", g, err), 0);
	assert_int_equal(hint("{\"os:scheduler_hints\": {\"same_host\": []}}", g, err), 0);
	assert_int_equal(hint("{\"os:scheduler_hints\": {\"group\": "
	                      "\"0B4E7A3E-6A0C-4C1B-9D7E-2F1E3C4D5A6B\"}}",
	                      g, err),
	                 1);
	assert_string_equal(g, "0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b");
	assert_int_equal(hint("{\"OS-SCH-HNT:scheduler_hints\": {\"group\": "
	                      "\"0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b\"}}",
	                      g, err),
	                 1);
}

static void hint_errors(void **state)
{
	char g[UUID_STR_LEN], err[256];
	assert_int_equal(hint("{\"os:scheduler_hints\": {\"group\": \"g1\"}}", g, err), -EINVAL);
	assert_string_equal(err, "Invalid input for field/attribute group.");
	assert_int_equal(hint("{\"os:scheduler_hints\": {\"group\": 7}}", g, err), -EINVAL);
	assert_int_equal(hint("{\"os:scheduler_hints\": []}", g, err), -EINVAL);
	assert_string_equal(err, "Invalid input for field/attribute os:scheduler_hints.");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hint_keys),
	    cmocka_unit_test(hint_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

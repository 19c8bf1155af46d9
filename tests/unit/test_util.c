/* UUID case folding and base64 decoding with the API's and the agent's policies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"

/* request ids in canonical form only: the bus, the tasks table and log lines take
 * no other (the HTTP edge lowercases what callers send) */
static void request_ids(void **state)
{
	assert_true(request_id_is_valid("req-0a1b2c3d-0000-4000-8000-00000000abcd"));
	assert_false(request_id_is_valid(NULL));
	assert_false(request_id_is_valid(""));
	assert_false(request_id_is_valid("req-"));
	assert_false(request_id_is_valid("REQ-0a1b2c3d-0000-4000-8000-00000000abcd"));
	assert_false(request_id_is_valid("req-0A1B2C3D-0000-4000-8000-00000000ABCD"));
	assert_false(request_id_is_valid("req-0a1b2c3d-0000-4000-8000-00000000abcd0"));
	assert_false(request_id_is_valid("0a1b2c3d-0000-4000-8000-00000000abcd"));
	assert_false(request_id_is_valid("req_0a1b2c3d-0000-4000-8000-00000000abcd"));
}

static void uuid_lowering(void **state)
{
	char out[UUID_STR_LEN] = "untouched";
	assert_int_equal(uuid_lower("AAAAAAAA-bbbb-4CCC-8ddd-EEEEEEEEEEEE", out), 0);
	assert_string_equal(out, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	strcpy(out, "untouched");
	assert_int_equal(uuid_lower("vm1", out), -EINVAL);
	assert_int_equal(uuid_lower("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeee", out), -EINVAL);
	assert_int_equal(uuid_lower(NULL, out), -EINVAL);
	assert_string_equal(out, "untouched");
}

/* Decodes s per policy; returns the bytes as a string (owned) or NULL when refused. */
static char *decode(const char *s, const char *ignore, int unpadded_ok)
{
	unsigned char *out = NULL;
	size_t n = 0;
	if (base64_decode(s, ignore, unpadded_ok, &out, &n) < 0)
		return NULL;
	assert_int_equal(strlen((char *)out), n);
	return (char *)out;
}

static void base64_policies(void **state)
{
	static const struct {
		const char *in, *api, *agent; /* NULL = refused */
	} cases[] = {
	    {"aGVsbG8=", "hello", "hello"},
	    {"", "", ""},
	    {"aGVs\nbG8=\n", "hello", "hello"},
	    {"aGVs\r\nbG8=", "hello", "hello"},
	    {"aGVsbG8", NULL, "hello"},      /* unpadded: only the agent */
	    {" aGVs bG8=\t", NULL, "hello"}, /* spaces and tabs: only the agent */
	    {"aGVsbG8=garbage", NULL, NULL},
	    {"not base64!", NULL, NULL},
	    {"a", NULL, NULL},
	    {"aGVsbG8==", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *api = decode(cases[i].in, "\r\n", 0);
		char *agent = decode(cases[i].in, " \t\r\n", 1);
		if (cases[i].api)
			assert_string_equal(api, cases[i].api);
		else
			assert_null(api);
		if (cases[i].agent)
			assert_string_equal(agent, cases[i].agent);
		else
			assert_null(agent);
		free(api);
		free(agent);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uuid_lowering),
	    cmocka_unit_test(request_ids),
	    cmocka_unit_test(base64_policies),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

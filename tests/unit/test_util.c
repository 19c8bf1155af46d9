/* UUID case folding and base64 decoding with the API's and the agent's policies. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proc.h"
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

/* PostgreSQL's ISO text of a UTC timestamp in Nova's two forms, as SERVER_COLUMNS'
 * to_char() wrote them before. */
static void time_from_pg_forms(void **state)
{
	(void)state;
	static const struct {
		const char *pg, *seconds, *micro;
	} cases[] = {
	    /* no fraction (PostgreSQL prints none when it is zero) */
	    {"2026-01-02 03:04:05", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000000"},
	    /* trailing zeros trimmed by PostgreSQL, padded back */
	    {"2026-01-02 03:04:05.1", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.100000"},
	    {"2026-01-02 03:04:05.000001", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000001"},
	    {"2026-01-02 03:04:05.12345", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05.123450"},
	    /* the fraction truncated, never rounded across a year boundary */
	    {"1999-12-31 23:59:59.999999", "1999-12-31T23:59:59Z", "1999-12-31T23:59:59.999999"},
	    {"2000-01-01 00:00:00", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00.000000"},
	    {"2024-02-29 12:00:00.5", "2024-02-29T12:00:00Z", "2024-02-29T12:00:00.500000"},
	};
	char out[TIME_PG_OUT];
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(time_from_pg(cases[i].pg, 0, out), cases[i].seconds);
		assert_string_equal(time_from_pg(cases[i].pg, 1, out), cases[i].micro);
	}
	/* SQL NULL stays null */
	assert_null(time_from_pg(NULL, 0, out));
	assert_null(time_from_pg(NULL, 1, out));
	/* anything else is passed through as it came, never read past its end */
	static const char *const other[] = {
	    "",
	    "2026-01-02",
	    "2026-01-02 03:04",
	    "2026-01-02 03:04:05.",
	    "2026-01-02 03:04:05.1234567",
	    "2026-01-02 03:04:05+00",
	    "2026-01-02T03:04:05",
	    "12026-01-02 03:04:05",
	    "2026-01-02 03:04:05 BC",
	    "infinity",
	    "01/02/2026 03:04:05",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		assert_ptr_equal(time_from_pg(other[i], 0, out), other[i]);
		assert_ptr_equal(time_from_pg(other[i], 1, out), other[i]);
	}
}

/* a child's output longer than the buffer is cut and says so; one that fits is not */
static void proc_output_cut(void **state)
{
	const char *const fits[] = {"printf", "abc", NULL};
	const char *const longer[] = {"printf", "abcdefghij", NULL};
	char out[8];
	int cut = -1;
	assert_int_equal(proc_run_cut(fits, 10000, out, sizeof(out), &cut), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(cut, 0);
	assert_int_equal(proc_run_cut(longer, 10000, out, sizeof(out), &cut), 0);
	assert_string_equal(out, "abcdefg");
	assert_int_equal(cut, 1);
	/* exactly outlen-1 bytes: whole */
	const char *const exact[] = {"printf", "abcdefg", NULL};
	assert_int_equal(proc_run_cut(exact, 10000, out, sizeof(out), &cut), 0);
	assert_int_equal(cut, 0);
	/* more than one read's worth past the end (the rest is drained, still cut) */
	const char *const big[] = {"head", "-c", "100000", "/dev/zero", NULL};
	assert_int_equal(proc_run_cut(big, 10000, out, sizeof(out), &cut), 0);
	assert_int_equal(cut, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(uuid_lowering),      cmocka_unit_test(proc_output_cut),
	    cmocka_unit_test(request_ids),        cmocka_unit_test(base64_policies),
	    cmocka_unit_test(time_from_pg_forms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

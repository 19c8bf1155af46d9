/* nubo.conf parser: sections, comments, overrides and every error path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

static void parses_sections(void **state)
{
	char err[128];
	struct conf *c = conf_parse("# comment\n[api]\nport = 8080\n ; c\n[database]\n"
	                            "conninfo = host=/x port=5 dbname=n\n[api]\nport=9090\n",
	                            err, sizeof(err));
	assert_non_null(c);
	assert_int_equal(conf_get_long(c, "api", "port", 0), 9090);
	assert_string_equal(conf_get(c, "database", "conninfo", ""), "host=/x port=5 dbname=n");
	assert_string_equal(conf_get(c, "api", "missing", "def"), "def");
	assert_int_equal(conf_get_long(c, "nosuch", "port", 7), 7);
	conf_free(c);
}

static void numbers(void **state)
{
	char err[128];
	struct conf *c = conf_parse("[s]\nratio = 1.5\nbad = 12x\nempty =\n", err, sizeof(err));
	assert_non_null(c);
	assert_true(conf_get_double(c, "s", "ratio", 0) == 1.5);
	assert_int_equal(conf_get_long(c, "s", "bad", 3), 3);
	assert_int_equal(conf_get_long(c, "s", "empty", 4), 4);
	conf_free(c);
}

static void errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"key = v\n", "line 1: key outside a [section]"},
	    {"[s\n", "line 1: malformed section header"},
	    {"[s]\njunk\n", "line 2: expected key = value"},
	    {"[s]\nba d = 1\n", "line 2: bad key name"},
	    {"[a/b]\n", "line 1: bad section name"},
	    /* conf_dump prints section.key: a dotted section would make it ambiguous */
	    {"[a.b]\n", "line 1: bad section name"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[128] = "";
		assert_null(conf_parse(cases[i].text, err, sizeof(err)));
		assert_string_equal(err, cases[i].msg);
	}
}

static void overlong_line(void **state)
{
	static char text[CONF_MAX_LINE + 64];
	memset(text, 'a', sizeof(text) - 1);
	char err[128];
	assert_null(conf_parse(text, err, sizeof(err)));
	assert_non_null(strstr(err, "longer than"));
}

static void dump_masks_secrets(void **state)
{
	char err[128], buf[512] = "";
	struct conf *c = conf_parse("[bus]\nagent_key = k\nadmin_password = p\n[database]\n"
	                            "conninfo = secret\n",
	                            err, sizeof(err));
	FILE *f = fmemopen(buf, sizeof(buf), "w");
	conf_dump(c, f);
	fclose(f);
	assert_null(strstr(buf, "= p"));
	assert_null(strstr(buf, "= secret"));
	assert_non_null(strstr(buf, "bus.agent_key = ***"));
	conf_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_sections),
	    cmocka_unit_test(numbers),
	    cmocka_unit_test(errors),
	    cmocka_unit_test(overlong_line),
	    cmocka_unit_test(dump_masks_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

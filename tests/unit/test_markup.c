/* object-store/markup: the one escaper of Swift's XML listings, S3's documents and
 * staticweb's pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "object-store/markup.h"

static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	markup_escape(f, s);
	fclose(f);
	return buf;
}

static void test_escapes(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"plain/name.txt", "plain/name.txt"},
	    {"a&b<c>d\"e'f", "a&amp;b&lt;c&gt;d&quot;e&#x27;f"},
	    {"tab\tnl\nbell\x07", "tab&#x9;nl&#xA;bell&#x7;"},
	    {"caf\xc3\xa9", "caf\xc3\xa9"}, /* UTF-8 passes through */
	    {"", ""},
	    {NULL, ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escaped(cases[i].in);
		assert_string_equal(got, cases[i].want);
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_escapes)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The flavor views against golden text: the bytes the jansson tree of flavor.c gave
 * before the views were written with jsonw (golden/flavor_views.txt, made from that
 * code), for every microversion step and both lists and show. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/flavor.h"
#include "jsonw.h"

#define NROWS 5
/* rxtx_factor and extra_specs as PostgreSQL prints them: integers, fractions, an
 * exponent; strings with escapes (\u001f in PostgreSQL's lower case), numbers and
 * arrays (the slow path), NULL. */
static const struct flavor_row rows[NROWS] = {
    {"1", "m1.tiny", 512, 1, 1, 0, 0, "1", 1, 0, NULL, "{}"},
    {"3f6c5a1e-4b1d-4c2e-9a0b-2d3e4f5a6b7c",
     "tab\there \"q\" \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\ /", 2048, 20, 2, 512, 10, "1.5", 0, 1,
     "a \"desc\"\n\\ \xc3\xa9",
     "{\"quota:x\": \"a\\\"b\\\\c\\u001f \\n\", \"hw:cpu_policy\": \"dedicated\"}"},
    {"m1.small", "m1.small", 2048, 0, 1, 0, 0, "0.1", 1, 0, "", "{\"k\": \"v\"}"},
    {"big", "big", 1048576, 100, 64, 1, 1, "1e+20", 1, 0, "d",
     "{\"a b\": \"c, d: e\", \"n\": 1.50, \"t\": [true, null]}"},
    {"two", "two", 1, 1, 1, 0, 0, "2", 0, 0, NULL, NULL},
};

/* The next line of f (without its newline) into buf. */
static void next_line(FILE *f, char *buf, size_t n)
{
	if (!fgets(buf, (int)n, f))
		fail_msg("golden/flavor_views.txt: too few lines");
	buf[strcspn(buf, "\n")] = '\0';
}

static void views_bytes(void **state)
{
	(void)state;
	static const char *const urls[] = {"http://cloud:8080", "http://c\"l\\oud:1/\x01p"};
	static const int mvs[] = {1, 55, 61, 75};
	static char want[16384];
	FILE *f = fopen("golden/flavor_views.txt", "r");
	assert_non_null(f);
	for (int u = 0; u < 2; u++)
		for (int m = 0; m < 4; m++)
			for (int brief = 0; brief < 2; brief++) {
				struct jsonw w;
				jsonw_init(&w, 0);
				jsonw_obj_begin(&w);
				JSONW_KEY(&w, "flavors");
				jsonw_arr_begin(&w);
				for (int i = 0; i < NROWS; i++)
					flavor_view_write(&w, &rows[i], urls[u], mvs[m], brief);
				jsonw_arr_end(&w);
				jsonw_obj_end(&w);
				next_line(f, want, sizeof(want));
				if (strcmp(w.buf, want))
					fail_msg("list mv %d brief %d url %d:\ngot  %s\nwant %s",
					         mvs[m], brief, u, w.buf, want);
				jsonw_release(&w);
				jsonw_init(&w, 0);
				jsonw_obj_begin(&w);
				JSONW_KEY(&w, "flavor");
				flavor_view_write(&w, &rows[1], urls[u], mvs[m], 0);
				jsonw_obj_end(&w);
				next_line(f, want, sizeof(want));
				if (strcmp(w.buf, want))
					fail_msg("show mv %d url %d:\ngot  %s\nwant %s", mvs[m], u,
					         w.buf, want);
				jsonw_release(&w);
			}
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(views_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* staticweb's pure parts: the container settings and the HTML listing, whose names come
 * from tenants (escaped in text and attributes, percent-encoded in links). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/staticweb.h"

static void conf_reads_the_web_items(void **state)
{
	struct store_kv kv[] = {
	    {"X-Container-Meta-Web-Index", "index.html"},
	    {"X-Container-Meta-Web-Error", "error.html"},
	    {"X-Container-Meta-Web-Listings", "TRUE"},
	    {"X-Container-Meta-Web-Listings-Css", "s.css"},
	    {"X-Container-Meta-Web-Directory-Type", "text/directory"},
	    {"X-Container-Read", ".r:*"},
	};
	struct staticweb_conf c;
	staticweb_conf_from_kv(kv, 6, &c);
	assert_string_equal(c.index, "index.html");
	assert_string_equal(c.error, "error.html");
	assert_string_equal(c.css, "s.css");
	assert_string_equal(c.dir_type, "text/directory");
	assert_int_equal(c.listings, 1);
	/* Swift's false values, and empty items (a removed setting) */
	const char *no[] = {"false", "0", "no", "off", "", "truthy", "2"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct store_kv k[] = {{"X-Container-Meta-Web-Listings", (char *)no[i]},
		                       {"X-Container-Meta-Web-Index", ""}};
		staticweb_conf_from_kv(k, 2, &c);
		assert_int_equal(c.listings, 0);
		assert_null(c.index);
	}
	const char *yes[] = {"true", "1", "yes", "on", "t", "y", "On"};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct store_kv k[] = {{"X-Container-Meta-Web-Listings", (char *)yes[i]}};
		staticweb_conf_from_kv(k, 1, &c);
		assert_int_equal(c.listings, 1);
	}
}

static struct store_entry entry(const char *name, int subdir, uint64_t bytes, const char *ct)
{
	struct store_entry e = {.name = (char *)name, .subdir = subdir, .bytes = bytes};
	snprintf(e.timestamp, sizeof(e.timestamp), "1700000000.00000");
	snprintf(e.content_type, sizeof(e.content_type), "%s", ct);
	return e;
}

static char *render(struct store_entry *e, size_t n, const char *path, const char *prefix,
                    const char *css)
{
	struct store_list l = {.e = e, .n = n};
	size_t len;
	char *html = staticweb_listing_html(&l, path, prefix, css, &len);
	assert_int_equal(strlen(html), len);
	return html;
}

static void listing_escapes_hostile_names(void **state)
{
	struct store_entry e[] = {
	    entry("<script>alert(1)</script>", 0, 5, "text/html"),
	    entry("a\"b' onmouseover=x.txt", 0, 2048, "text/plain; charset=utf-8"),
	    entry("sub&dir/", 1, 0, ""),
	    entry("caf\xc3\xa9 #1?.txt", 0, 3 << 20, "Bad Type\"/<x>"),
	};
	char *h = render(e, 4, "/v1/AUTH_p/c/<b>", "", NULL);
	assert_null(strstr(h, "<script>"));
	assert_null(strstr(h, "<b>"));
	assert_non_null(strstr(h, "Listing of /v1/AUTH_p/c/&lt;b&gt;"));
	assert_non_null(strstr(h, ">&lt;script&gt;alert(1)&lt;/script&gt;</a>"));
	assert_non_null(strstr(h, "href=\"%3Cscript%3Ealert%281%29%3C/script%3E\""));
	/* a quote never ends the attribute: the link is percent-encoded, the text escaped */
	assert_non_null(strstr(h, "href=\"a%22b%27%20onmouseover%3Dx.txt\""));
	assert_non_null(strstr(h, ">a&quot;b&#x27; onmouseover=x.txt</a>"));
	assert_non_null(strstr(h, "<tr class=\"item type-directory\">"));
	assert_non_null(strstr(h, "href=\"sub%26dir/\">sub&amp;dir/</a>"));
	assert_non_null(strstr(h, "href=\"caf%C3%A9%20%231%3F.txt\""));
	/* content types become class names of [a-z0-9-] only */
	assert_non_null(strstr(h, "<tr class=\"item type-text type-plain\">"));
	assert_non_null(strstr(h, "<tr class=\"item type-bad-type- type--x-\">"));
	/* sizes as Swift shows them, dates in UTC */
	assert_non_null(strstr(h, "<td class=\"colsize\">5</td>"));
	assert_non_null(strstr(h, "<td class=\"colsize\">2Ki</td>"));
	assert_non_null(strstr(h, "<td class=\"colsize\">3Mi</td>"));
	assert_non_null(strstr(h, "<td class=\"coldate\">2023-11-14 22:13:20</td>"));
	assert_null(strstr(h, "id=\"parent\"")); /* the top has no parent */
	assert_non_null(strstr(h, "<style type=\"text/css\">"));
	free(h);
}

static void listing_under_a_prefix(void **state)
{
	struct store_entry e[] = {
	    entry("docs/", 0, 0, "application/directory"), /* the marker itself: not listed */
	    entry("docs/a.html", 0, 10, "text/html"),
	    entry("docs/img/", 1, 0, ""),
	};
	char *h = render(e, 3, "/v1/AUTH_p/c/docs/", "docs/", "listings.css");
	assert_non_null(strstr(h, "<tr id=\"parent\" class=\"item\">"));
	assert_non_null(strstr(h, "<a href=\"a.html\">a.html</a>"));
	assert_non_null(strstr(h, "<a href=\"img/\">img/</a>"));
	assert_null(strstr(h, "href=\"\""));
	/* the sheet is the container's: one level up */
	assert_non_null(
	    strstr(h, "<link rel=\"stylesheet\" type=\"text/css\" href=\"../listings.css\" />"));
	assert_null(strstr(h, "<style"));
	free(h);
	/* at the top, as Tempest expects it; absolute and remote sheets as given, escaped */
	h = render(e, 0, "/v1/AUTH_p/c/", "", "listings.css");
	assert_non_null(
	    strstr(h, "<link rel=\"stylesheet\" type=\"text/css\" href=\"listings.css\" />"));
	free(h);
	h = render(e, 0, "/v1/AUTH_p/c/a/b/", "a/b/", "https://x/s.css?a=1&b=\"2\"");
	assert_non_null(strstr(h, "href=\"https://x/s.css?a=1&amp;b=&quot;2&quot;\" />"));
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(conf_reads_the_web_items),
	    cmocka_unit_test(listing_escapes_hostile_names),
	    cmocka_unit_test(listing_under_a_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

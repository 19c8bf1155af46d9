/* The catalog's per-project URLs (catalog_url), and the revocation event a catalog
 * change makes: it moves the token cache's generation (what the cached catalog is tied
 * to) without dropping any token. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/identity/catalog.h"
#include "api-server/identity/token_cache.h"

static void url_without_placeholder_is_kept(void **state)
{
	char *u = catalog_url("http://127.0.0.1:8080/compute/v2.1", "p1");
	assert_string_equal(u, "http://127.0.0.1:8080/compute/v2.1");
	free(u);
	u = catalog_url("http://h/image", "");
	assert_string_equal(u, "http://h/image");
	free(u);
}

static void every_placeholder_spelling_is_filled(void **state)
{
	const char *pid = "0123456789abcdef0123456789abcdef";
	char *u = catalog_url("http://h/v1/AUTH_%(project_id)s", pid);
	assert_string_equal(u, "http://h/v1/AUTH_0123456789abcdef0123456789abcdef");
	free(u);
	u = catalog_url("http://h/v3/$(project_id)s/x/%(tenant_id)s", "p");
	assert_string_equal(u, "http://h/v3/p/x/p");
	free(u);
	/* not a placeholder: left alone */
	u = catalog_url("http://h/%(project)s/%", "p");
	assert_string_equal(u, "http://h/%(project)s/%");
	free(u);
}

static void project_url_without_project_is_left_out(void **state)
{
	assert_null(catalog_url("http://h/v3/%(project_id)s", ""));
}

static void catalog_event_moves_the_generation_but_drops_no_token(void **state)
{
	struct token_cache *tc = token_cache_new(16);
	assert_int_equal(token_cache_enabled(tc), 0);
	assert_int_equal(token_cache_enabled(NULL), 0);
	token_cache_enable(tc, 1);
	assert_int_equal(token_cache_enabled(tc), 1);
	struct auth a;
	memset(&a, 0, sizeof(a));
	a.valid = 1;
	snprintf(a.token_hash, sizeof(a.token_hash), "%064d", 7);
	snprintf(a.project_id, sizeof(a.project_id), "p");
	token_cache_put(tc, &a, 4000000000, token_cache_gen(tc));
	uint64_t before = token_cache_gen(tc);
	/* migration 5's catalog event: project ' catalog', which no token has */
	token_cache_revoke(tc, NULL, NULL, " catalog");
	assert_true(token_cache_gen(tc) != before);
	assert_int_equal(token_cache_count(tc), 1);
	token_cache_enable(tc, 0);
	assert_int_equal(token_cache_enabled(tc), 0);
	token_cache_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(url_without_placeholder_is_kept),
	    cmocka_unit_test(every_placeholder_spelling_is_filled),
	    cmocka_unit_test(project_url_without_project_is_left_out),
	    cmocka_unit_test(catalog_event_moves_the_generation_but_drops_no_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

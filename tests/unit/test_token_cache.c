/* The token cache: hits, its own expiry, bounded size, revocation by token, user,
 * project or all, the generation that drops a put computed before a revocation, and
 * disabling (while revocations cannot be followed). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/identity/token_cache.h"

static struct auth entry(int i, const char *user, const char *project, unsigned roles)
{
	struct auth a;
	memset(&a, 0, sizeof(a));
	a.valid = 1;
	snprintf(a.token_hash, sizeof(a.token_hash), "%08x%056d", (unsigned)i * 2654435761u, i);
	snprintf(a.user_id, sizeof(a.user_id), "%s", user);
	snprintf(a.project_id, sizeof(a.project_id), "%s", project);
	a.roles = roles;
	return a;
}

static struct token_cache *enabled(unsigned n)
{
	struct token_cache *tc = token_cache_new(n);
	token_cache_enable(tc, 1);
	return tc;
}

static void hit_and_expiry(void **state)
{
	struct token_cache *tc = enabled(64);
	struct auth a = entry(1, "u1", "p1", ROLE_ADMIN), got;
	assert_int_equal(token_cache_get(tc, a.token_hash, 100, &got), -ENOENT);
	token_cache_put(tc, &a, 200, token_cache_gen(tc));
	assert_int_equal(token_cache_get(tc, a.token_hash, 100, &got), 0);
	assert_string_equal(got.user_id, "u1");
	assert_int_equal(got.roles, ROLE_ADMIN);
	/* the token's own expiry ends the entry */
	assert_int_equal(token_cache_get(tc, a.token_hash, 200, &got), -ENOENT);
	assert_int_equal(token_cache_get(tc, a.token_hash, 100, &got), -ENOENT);
	/* an invalid answer is never kept */
	struct auth bad = entry(2, "u1", "p1", 0);
	bad.valid = 0;
	token_cache_put(tc, &bad, 200, token_cache_gen(tc));
	assert_int_equal(token_cache_get(tc, bad.token_hash, 100, &got), -ENOENT);
	assert_int_equal(token_cache_get(NULL, a.token_hash, 100, &got), -ENOENT);
	token_cache_free(tc);
}

static void bounded(void **state)
{
	struct token_cache *tc = enabled(16);
	for (int i = 0; i < 1000; i++) {
		struct auth a = entry(i, "u", "p", 0);
		token_cache_put(tc, &a, 1000 + i, token_cache_gen(tc));
	}
	assert_true(token_cache_count(tc) <= 16);
	assert_true(token_cache_count(tc) > 0);
	/* the newest entry is there: the one expiring first gave way */
	struct auth last = entry(999, "u", "p", 0), got;
	assert_int_equal(token_cache_get(tc, last.token_hash, 0, &got), 0);
	token_cache_free(tc);
}

static void revoke(void **state)
{
	struct token_cache *tc = enabled(64);
	struct auth a = entry(1, "u1", "p1", ROLE_ADMIN), b = entry(2, "u2", "p1", ROLE_MEMBER),
	            c = entry(3, "u3", "p2", ROLE_READER), got;
	token_cache_put(tc, &a, 500, token_cache_gen(tc));
	token_cache_put(tc, &b, 500, token_cache_gen(tc));
	token_cache_put(tc, &c, 500, token_cache_gen(tc));
	assert_int_equal(token_cache_count(tc), 3);
	token_cache_revoke(tc, a.token_hash, NULL, NULL); /* logout */
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), -ENOENT);
	assert_int_equal(token_cache_get(tc, b.token_hash, 0, &got), 0);
	token_cache_revoke(tc, NULL, "u2", NULL); /* role removed, disabled, password */
	assert_int_equal(token_cache_get(tc, b.token_hash, 0, &got), -ENOENT);
	assert_int_equal(token_cache_get(tc, c.token_hash, 0, &got), 0);
	token_cache_revoke(tc, "", "", "p2"); /* project disabled or deleted */
	assert_int_equal(token_cache_get(tc, c.token_hash, 0, &got), -ENOENT);
	token_cache_put(tc, &a, 500, token_cache_gen(tc));
	token_cache_put(tc, &b, 500, token_cache_gen(tc));
	token_cache_revoke(tc, NULL, NULL, NULL); /* a role renamed or deleted: all */
	assert_int_equal(token_cache_count(tc), 0);
	token_cache_free(tc);
}

/* A database answer read before a revocation must not land after it: this is how a
 * removed role could otherwise survive in the cache. */
static void stale_put_dropped(void **state)
{
	struct token_cache *tc = enabled(64);
	struct auth a = entry(1, "u1", "p1", ROLE_ADMIN), got;
	uint64_t gen = token_cache_gen(tc);       /* request reads gen, then queries */
	token_cache_revoke(tc, NULL, "u1", NULL); /* the admin role is removed meanwhile */
	token_cache_put(tc, &a, 500, gen);        /* the stale answer with ROLE_ADMIN */
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), -ENOENT);
	token_cache_free(tc);
}

static void disabled(void **state)
{
	struct token_cache *tc = token_cache_new(8);
	struct auth a = entry(1, "u1", "p1", 0), got;
	token_cache_put(tc, &a, 500, token_cache_gen(tc)); /* off at start */
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), -ENOENT);
	uint64_t before = token_cache_gen(tc);
	token_cache_enable(tc, 1);
	token_cache_put(tc, &a, 500, before); /* read while off: dropped */
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), -ENOENT);
	token_cache_put(tc, &a, 500, token_cache_gen(tc));
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), 0);
	token_cache_enable(tc, 0); /* the follower lost its connection */
	assert_int_equal(token_cache_count(tc), 0);
	assert_int_equal(token_cache_get(tc, a.token_hash, 0, &got), -ENOENT);
	token_cache_free(tc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hit_and_expiry), cmocka_unit_test(bounded), cmocka_unit_test(revoke),
	    cmocka_unit_test(stale_put_dropped), cmocka_unit_test(disabled)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

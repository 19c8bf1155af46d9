/* Tokens limited to one Swift account (common/objtoken.h) and how the object store's
 * proxy narrows its caller for one (object-store/objauth.h): review s8 H2. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/objauth.h"
#include "objtoken.h"

#define PID "0123456789abcdef0123456789abcdef"
#define RANDOM "Zm9vYmFyYmF6cXV4cXV1eAZm9vYmFyYmF6cXV4cXV1e"

static void prefix_and_account_round_trip(void **state)
{
	(void)state;
	char out[128], acc[OBJTOKEN_ACCOUNT_MAX];
	int n = objtoken_prefix("AUTH_" PID, out, sizeof(out));
	assert_int_equal(n, (int)strlen("nubsAUTH_" PID "."));
	assert_string_equal(out, "nubsAUTH_" PID ".");
	strcat(out, RANDOM);
	assert_int_equal(objtoken_account(out, acc, sizeof(acc)), 1);
	assert_string_equal(acc, "AUTH_" PID);
	/* an ordinary token, or none: not limited */
	assert_int_equal(objtoken_account("nubo" RANDOM, acc, sizeof(acc)), 0);
	assert_string_equal(acc, "");
	assert_int_equal(objtoken_account(NULL, acc, sizeof(acc)), 0);
	assert_int_equal(objtoken_account("gAAAAAB", acc, sizeof(acc)), 0);
}

static void malformed_are_refused(void **state)
{
	(void)state;
	char out[128], acc[OBJTOKEN_ACCOUNT_MAX];
	static const char *const bad_tokens[] = {
	    "nubs",                      /* nothing */
	    "nubs" RANDOM,               /* no account */
	    "nubsAUTH_." RANDOM,         /* an empty project */
	    "nubsAUTH_" PID RANDOM,      /* no dot */
	    "nubsAUTH_" PID ".",         /* no random part */
	    "nubsAUTH_a/b." RANDOM,      /* a path character */
	    "nubsSWIFT_" PID "." RANDOM, /* not an AUTH_ account */
	};
	for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++)
		if (objtoken_account(bad_tokens[i], acc, sizeof(acc)) != -EINVAL)
			fail_msg("case %zu: %s taken", i, bad_tokens[i]);
	/* an account longer than 64 after AUTH_ */
	char lng[128] = "nubsAUTH_";
	memset(lng + 9, 'a', 65);
	strcpy(lng + 74, ".x");
	assert_int_equal(objtoken_account(lng, acc, sizeof(acc)), -EINVAL);
	static const char *const bad_accounts[] = {"", "AUTH_", "auth_x", "AUTH_a.b", "AUTH_a b"};
	for (size_t i = 0; i < sizeof(bad_accounts) / sizeof(bad_accounts[0]); i++)
		assert_int_equal(objtoken_prefix(bad_accounts[i], out, sizeof(out)), -EINVAL);
	assert_int_equal(objtoken_prefix(NULL, out, sizeof(out)), -EINVAL);
	assert_int_equal(objtoken_prefix("AUTH_" PID, out, 10), -EINVAL);
}

/* The proxy's view of a limited token: the account's owner, never the reseller admin,
 * only there; an ordinary token keeps what Keystone said. */
static void objauth_narrows_a_limited_token(void **state)
{
	(void)state;
	struct objauth_who w = {"adminproject", "u1", 1, 1, 1, ""};
	assert_int_equal(objauth_limit("nubsAUTH_" PID "." RANDOM, &w), 0);
	assert_string_equal(w.only_account, "AUTH_" PID);
	assert_string_equal(w.project_id, PID);
	assert_int_equal(w.admin, 0);
	assert_int_equal(w.writer, 1);
	struct objauth_who p = {"p1", "u1", 1, 1, 1, ""};
	assert_int_equal(objauth_limit("nubo" RANDOM, &p), 0);
	assert_string_equal(p.only_account, "");
	assert_string_equal(p.project_id, "p1");
	assert_int_equal(p.admin, 1);
	assert_int_equal(objauth_limit("nubs.bad", &p), -EACCES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(prefix_and_account_round_trip),
	    cmocka_unit_test(malformed_are_refused),
	    cmocka_unit_test(objauth_narrows_a_limited_token),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

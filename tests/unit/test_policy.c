/* The policy table and the route matcher of nubo-api. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/http.h"
#include "api-server/policy.h"

static struct auth caller(unsigned roles)
{
	struct auth a;
	memset(&a, 0, sizeof(a));
	a.valid = 1;
	a.roles = roles;
	return a;
}

static void rules(void **state)
{
	struct auth none = {0};
	struct auth reader = caller(ROLE_READER);
	struct auth member = caller(ROLE_READER | ROLE_MEMBER);
	struct auth admin = caller(ROLE_READER | ROLE_MEMBER | ROLE_ADMIN);
	struct auth unscoped = caller(0);

	assert_int_equal(policy_check("public", &none), 0);
	assert_int_equal(policy_check("compute:read", &none), -EPERM);
	assert_int_equal(policy_check("compute:read", &reader), 0);
	assert_int_equal(policy_check("compute:write", &reader), -EACCES);
	assert_int_equal(policy_check("compute:write", &member), 0);
	assert_int_equal(policy_check("compute:flavor:write", &member), -EACCES);
	assert_int_equal(policy_check("compute:flavor:write", &admin), 0);
	assert_int_equal(policy_check("identity:admin", &member), -EACCES);
	assert_int_equal(policy_check("identity:token", &unscoped), 0);
	assert_int_equal(policy_check("compute:read", &unscoped), -EACCES);
	/* unknown rules deny */
	assert_int_equal(policy_check("no:such:rule", &admin), -EACCES);
	assert_int_equal(policy_check("no:such:rule", &none), -EPERM);
}

static int match(const char *pattern, const char *url, const char **p0, const char **p1)
{
	static char scratch[256];
	const char *params[HTTP_MAX_PARAMS] = {0};
	int n = 0;
	strcpy(scratch, url);
	int ok = route_match(pattern, scratch, params, &n);
	if (p0)
		*p0 = params[0];
	if (p1)
		*p1 = params[1];
	return ok ? n : -1;
}

static void routes(void **state)
{
	const char *a, *b;
	assert_int_equal(match("/compute/v2.1/servers", "/compute/v2.1/servers", NULL, NULL), 0);
	assert_int_equal(match("/compute/v2.1/servers", "/compute/v2.1/servers/", NULL, NULL), 0);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers/abc", &a, NULL), 1);
	assert_string_equal(a, "abc");
	assert_int_equal(match("/compute/v2.1/servers/{}/action", "/compute/v2.1/servers/x1/action",
			       &a, NULL), 1);
	assert_string_equal(a, "x1");
	assert_int_equal(match("/p/{}/u/{}", "/p/1/u/2", &a, &b), 2);
	assert_string_equal(b, "2");
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers", NULL, NULL), -1);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers//", NULL, NULL), -1);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers/a/b", NULL, NULL), -1);
	assert_int_equal(match("/", "/", NULL, NULL), 0);
	assert_int_equal(match("/identity", "/identityx", NULL, NULL), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(rules), cmocka_unit_test(routes)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The policy table, every route of every table of nubo-api, and the route matcher. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/http.h"
#include "api-server/policy.h"
#include "api-server/routes.h"

static struct auth caller(unsigned roles)
{
	struct auth a;
	memset(&a, 0, sizeof(a));
	a.valid = 1;
	a.roles = roles;
	if (roles)
		strcpy(a.project_id, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	return a;
}

/* A domain-scoped token: roles granted on a domain, no project (review of issue 7:
 * a domain member read other domains' private images, a domain admin was a cloud
 * admin). */
static void domain_scope_roles_count_nowhere(void **state)
{
	struct auth a = caller(ROLE_READER | ROLE_MEMBER | ROLE_ADMIN);
	a.project_id[0] = '\0';
	assert_int_equal(policy_check(POL_IDENTITY_TOKEN, &a), 0);
	assert_int_equal(policy_check(POL_IDENTITY_READ_SELF, &a), 0);
	assert_int_equal(policy_check(POL_IDENTITY_ADMIN, &a), -EACCES);
	assert_int_equal(policy_check(POL_COMPUTE_READ, &a), -EACCES);
	assert_int_equal(policy_check(POL_COMPUTE_ADMIN, &a), -EACCES);
	assert_int_equal(policy_check(POL_IMAGE_READ, &a), -EACCES);
	assert_int_equal(policy_check(POL_IMAGE_WRITE, &a), -EACCES);
	assert_false(policy_is_admin(&a));
	strcpy(a.project_id, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee");
	assert_true(policy_is_admin(&a));
	assert_int_equal(policy_check(POL_IDENTITY_ADMIN, &a), 0);
}

/* A system-scoped token: its roles count for the identity service's administration
 * (Keystone's admin and system reader rules), never for a project's resources. */
static void system_scope_roles_count_for_identity_only(void **state)
{
	struct auth a = caller(ROLE_READER);
	a.project_id[0] = '\0';
	a.system = 1;
	assert_int_equal(policy_check(POL_IDENTITY_SYSTEM_READ, &a), 0);
	assert_int_equal(policy_check(POL_IDENTITY_ADMIN, &a), -EACCES);
	assert_int_equal(policy_check(POL_COMPUTE_READ, &a), -EACCES);
	assert_int_equal(policy_check(POL_IMAGE_READ, &a), -EACCES);
	a.roles = ROLE_READER | ROLE_MEMBER | ROLE_ADMIN;
	assert_int_equal(policy_check(POL_IDENTITY_ADMIN, &a), 0);
	assert_int_equal(policy_check(POL_COMPUTE_ADMIN, &a), -EACCES);
	assert_false(policy_is_admin(&a));
	/* a project reader is no system reader; a project admin passes both */
	struct auth pr = caller(ROLE_READER), pa = caller(ROLE_READER | ROLE_MEMBER | ROLE_ADMIN);
	assert_int_equal(policy_check(POL_IDENTITY_SYSTEM_READ, &pr), -EACCES);
	assert_int_equal(policy_check(POL_IDENTITY_SYSTEM_READ, &pa), 0);
	/* a domain-scoped reader is none either */
	struct auth dr = caller(ROLE_READER);
	dr.project_id[0] = '\0';
	assert_int_equal(policy_check(POL_IDENTITY_SYSTEM_READ, &dr), -EACCES);
}

static void rules(void **state)
{
	struct auth none = {0};
	struct auth reader = caller(ROLE_READER);
	struct auth member = caller(ROLE_READER | ROLE_MEMBER);
	struct auth admin = caller(ROLE_READER | ROLE_MEMBER | ROLE_ADMIN);
	struct auth unscoped = caller(0);

	assert_int_equal(policy_check(POL_PUBLIC, &none), 0);
	assert_int_equal(policy_check(POL_COMPUTE_READ, &none), -EPERM);
	assert_int_equal(policy_check(POL_COMPUTE_READ, &reader), 0);
	assert_int_equal(policy_check(POL_COMPUTE_WRITE, &reader), -EACCES);
	assert_int_equal(policy_check(POL_COMPUTE_WRITE, &member), 0);
	assert_int_equal(policy_check(POL_COMPUTE_FLAVOR_WRITE, &member), -EACCES);
	assert_int_equal(policy_check(POL_COMPUTE_FLAVOR_WRITE, &admin), 0);
	assert_int_equal(policy_check(POL_IDENTITY_ADMIN, &member), -EACCES);
	assert_int_equal(policy_check(POL_IDENTITY_TOKEN, &unscoped), 0);
	assert_int_equal(policy_check(POL_COMPUTE_READ, &unscoped), -EACCES);
	/* a value outside the table denies */
	assert_int_equal(policy_check(POL_COUNT, &admin), -EACCES);
	assert_int_equal(policy_check(POL_COUNT + 7, &none), -EPERM);
	assert_null(policy_name(POL_COUNT));
	/* every rule of the enum has a row */
	for (unsigned p = 0; p < POL_COUNT; p++)
		assert_non_null(policy_name(p));
}

static int match(const char *pattern, const char *url, const char **p0, const char **p1)
{
	static char scratch[256];
	const char *params[HTTPD_MAX_PARAMS] = {0};
	int n = 0;
	strcpy(scratch, url);
	int ok = httpd_route_match(pattern, scratch, params, &n);
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
	/* a trailing slash below a version root names an empty id, not the collection
	 * (Glance and Nova answer 404: Tempest's *_null_id / blank id tests) */
	assert_int_equal(match("/compute/v2.1/servers", "/compute/v2.1/servers/", NULL, NULL), -1);
	assert_int_equal(match("/image/v2/images", "/image/v2/images/", NULL, NULL), -1);
	/* ... and is tolerated on the service and version documents */
	assert_int_equal(match("/compute/v2.1", "/compute/v2.1/", NULL, NULL), 0);
	assert_int_equal(match("/identity/v3", "/identity/v3/", NULL, NULL), 0);
	assert_int_equal(match("/image", "/image/", NULL, NULL), 0);
	assert_int_equal(match("/compute/v2.1", "/compute/v2.1//", NULL, NULL), -1);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers/abc", &a, NULL),
	                 1);
	assert_string_equal(a, "abc");
	assert_int_equal(
	    match("/compute/v2.1/servers/{}/action", "/compute/v2.1/servers/x1/action", &a, NULL),
	    1);
	assert_string_equal(a, "x1");
	assert_int_equal(match("/p/{}/u/{}", "/p/1/u/2", &a, &b), 2);
	assert_string_equal(b, "2");
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers", NULL, NULL),
	                 -1);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers//", NULL, NULL),
	                 -1);
	assert_int_equal(match("/compute/v2.1/servers/{}", "/compute/v2.1/servers/a/b", NULL, NULL),
	                 -1);
	assert_int_equal(match("/", "/", NULL, NULL), 0);
	assert_int_equal(match("/identity", "/identityx", NULL, NULL), -1);
}

/* Every route of every table names a rule that exists, has a handler and hooks that
 * authenticate and authorize it, and no two routes share a method and pattern. */
static void every_route(void **state)
{
	size_t total = 0;
	for (size_t t = 0; t < routes_count; t++) {
		const struct httpd_table *tab = routes_all[t];
		assert_non_null(tab->hooks);
		assert_non_null(tab->hooks->authorize);
		assert_non_null(tab->hooks->authenticate);
		assert_non_null(tab->hooks->render_error);
		for (size_t i = 0; i < tab->n; i++) {
			const struct httpd_route *rt = &tab->routes[i];
			if (!policy_name(rt->policy))
				fail_msg("%s %s: policy %u does not exist", rt->method, rt->pattern,
				         rt->policy);
			assert_non_null(rt->fn);
			assert_true(rt->pattern[0] == '/');
			if (rt->may_stream)
				assert_true(rt->flags & HTTPD_STREAM_BODY);
			for (size_t u = 0; u < routes_count; u++)
				for (size_t j = 0; j < routes_all[u]->n; j++) {
					const struct httpd_route *o = &routes_all[u]->routes[j];
					if (o != rt && !strcmp(o->method, rt->method) &&
					    !strcmp(o->pattern, rt->pattern))
						fail_msg("%s %s twice", rt->method, rt->pattern);
				}
			total++;
		}
	}
	assert_true(total > 50);
}

/* Review s8 H2: the token a storage agent holds for a volume backup is limited to the
 * object store. nubo-api refuses it (403) on every route but the validation of itself,
 * which the object store's proxy makes; every other token passes. */
static void object_store_token_is_refused_elsewhere(void **state)
{
	(void)state;
	const char *lim = "nubsAUTH_0123456789abcdef0123456789abcdef.Zm9vYmFyYmF6cXV4cXV1eA";
	const char *plain = "nuboZm9vYmFyYmF6cXV4cXV1eAZm9vYmFyYmF6cXV4cXV1eA";
	/* a compute, volume, image or identity route: 403 */
	assert_int_equal(policy_token_limit_check(lim, NULL, 0), -EACCES);
	assert_int_equal(policy_token_limit_check(lim, NULL, ROUTE_AGENT_OK), -EACCES);
	/* token validation, of another token or with none named: 403 */
	assert_int_equal(policy_token_limit_check(lim, plain, ROUTE_SELF_TOKEN_OK), -EACCES);
	assert_int_equal(policy_token_limit_check(lim, NULL, ROUTE_SELF_TOKEN_OK), -EACCES);
	/* of itself: what objauth asks */
	assert_int_equal(policy_token_limit_check(lim, lim, ROUTE_SELF_TOKEN_OK), 0);
	/* a malformed limited token (no account) is limited too */
	assert_int_equal(policy_token_limit_check("nubs.abc", NULL, 0), -EACCES);
	assert_int_equal(policy_token_limit_check("nubsAUTH_x", NULL, 0), -EACCES);
	/* every other token is not */
	assert_int_equal(policy_token_limit_check(plain, NULL, 0), 0);
	assert_int_equal(policy_token_limit_check(plain, lim, ROUTE_SELF_TOKEN_OK), 0);
	/* the route table: only GET /v3/auth/tokens takes a limited token */
	size_t n = 0;
	for (size_t t = 0; t < routes_count; t++)
		for (size_t i = 0; i < routes_all[t]->n; i++)
			if (routes_all[t]->routes[i].flags & ROUTE_SELF_TOKEN_OK) {
				assert_string_equal(routes_all[t]->routes[i].method, "GET");
				assert_string_equal(routes_all[t]->routes[i].pattern,
				                    "/identity/v3/auth/tokens");
				n++;
			}
	assert_int_equal(n, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rules),
	    cmocka_unit_test(routes),
	    cmocka_unit_test(domain_scope_roles_count_nowhere),
	    cmocka_unit_test(system_scope_roles_count_for_identity_only),
	    cmocka_unit_test(every_route),
	    cmocka_unit_test(object_store_token_is_refused_elsewhere)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

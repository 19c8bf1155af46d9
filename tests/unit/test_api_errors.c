/* nubo-api's error shapes, one per API family's hooks: Keystone/Glance {"error": ...},
 * Nova {"<fault>": {code, message}}, Neutron {"NeutronError": {type, message,
 * detail}}; a 401 says where tokens come from; bytes that are not UTF-8 never break the
 * body. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/http.h"

static struct api api = {.public_url = "http://cloud.example:8080"};

/* Renders through the hooks the way resp_error does, and returns the body text. */
static char *render(const struct httpd_hooks *hk, int status, const char *type, const char *msg,
                    struct resp *w)
{
	struct req r = {.app = &api};
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	hk->render_error(&r, w, status, type, msg);
	assert_int_equal(w->status, status);
	assert_non_null(w->json);
	return json_dumps(w->json, JSON_COMPACT | JSON_SORT_KEYS);
}

static void release(struct resp *w, char *text)
{
	json_decref(w->json);
	for (int i = 0; i < w->nheaders; i++) {
		free(w->hname[i]);
		free(w->hval[i]);
	}
	free(text);
}

static void shapes(void **state)
{
	struct resp w;
	char *t = render(&compute_hooks, 404, NULL, "Instance x could not be found.", &w);
	assert_string_equal(t, "{\"itemNotFound\":{\"code\":404,\"message\":\"Instance x could not "
	                       "be found.\"}}");
	release(&w, t);
	t = render(&compute_hooks, 503, NULL, "later", &w);
	assert_string_equal(t, "{\"serviceUnavailable\":{\"code\":503,\"message\":\"later\"}}");
	release(&w, t);
	t = render(&compute_hooks, 418, NULL, "odd", &w); /* an unlisted 4xx */
	assert_string_equal(t, "{\"badRequest\":{\"code\":418,\"message\":\"odd\"}}");
	release(&w, t);

	t = render(&identity_hooks, 409, NULL, "dup", &w);
	assert_string_equal(t, "{\"error\":{\"code\":409,\"message\":\"dup\",\"title\":"
	                       "\"Conflict\"}}");
	release(&w, t);
	t = render(&image_hooks, 413, NULL, "big", &w);
	assert_non_null(strstr(t, "\"code\":413"));
	release(&w, t);

	t = render(&network_hooks, 404, "NetworkNotFound", "Network n could not be found.", &w);
	assert_string_equal(t, "{\"NeutronError\":{\"detail\":\"\",\"message\":\"Network n could "
	                       "not be found.\",\"type\":\"NetworkNotFound\"}}");
	release(&w, t);
	t = render(&network_hooks, 400, NULL, "bad", &w); /* no type: the reason phrase */
	assert_non_null(strstr(t, "\"type\":\"Bad Request\""));
	release(&w, t);
}

static void unauthorized_names_keystone(void **state)
{
	const struct httpd_hooks *all[] = {&identity_hooks, &compute_hooks, &image_hooks,
	                                   &network_hooks};
	for (size_t i = 0; i < 4; i++) {
		struct resp w;
		char *t = render(all[i], 401, NULL, "who?", &w);
		assert_int_equal(w.nheaders, 1);
		assert_string_equal(w.hname[0], "WWW-Authenticate");
		assert_string_equal(w.hval[0],
		                    "Keystone uri=\"http://cloud.example:8080/identity\"");
		release(&w, t);
	}
}

static void not_utf8(void **state)
{
	const struct httpd_hooks *all[] = {&identity_hooks, &compute_hooks, &image_hooks,
	                                   &network_hooks};
	for (size_t i = 0; i < 4; i++) {
		struct resp w;
		char *t = render(all[i], 400, NULL, "bad \xff\xfe bytes", &w);
		assert_null(strstr(t, "bytes")); /* the reason phrase instead */
		assert_non_null(strstr(t, "Bad Request"));
		release(&w, t);
	}
}

/* Every hook set authenticates, authorizes and keeps per-request state. */
static void hook_sets_complete(void **state)
{
	const struct httpd_hooks *all[] = {&identity_hooks, &compute_hooks, &image_hooks,
	                                   &network_hooks};
	for (size_t i = 0; i < 4; i++) {
		assert_non_null(all[i]->begin);
		assert_non_null(all[i]->end);
		assert_non_null(all[i]->enter);
		assert_non_null(all[i]->leave);
		assert_non_null(all[i]->authenticate);
		assert_non_null(all[i]->authorize);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(shapes),
	    cmocka_unit_test(unauthorized_names_keystone),
	    cmocka_unit_test(not_utf8),
	    cmocka_unit_test(hook_sets_complete),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

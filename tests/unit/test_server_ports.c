/* What the server views make of a server's ports: the addresses the rebuild and update
 * answers show below 2.75 ({version, addr} only, as Nova's), and the security_groups key
 * left out when the server's ports have no group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server.h"
#include "api-server/compute/server_ports.h"

static const char full_addresses[] =
    "{\"net1\":[{\"version\":4,\"addr\":\"10.0.0.3\",\"OS-EXT-IPS:type\":\"fixed\","
    "\"OS-EXT-IPS-MAC:mac_addr\":\"fa:16:3e:00:00:01\"},{\"version\":4,\"addr\":"
    "\"172.24.4.9\",\"OS-EXT-IPS:type\":\"floating\",\"OS-EXT-IPS-MAC:mac_addr\":"
    "\"fa:16:3e:00:00:01\"}],\"net2\":[{\"version\":4,\"addr\":\"10.1.0.4\","
    "\"OS-EXT-IPS:type\":\"fixed\",\"OS-EXT-IPS-MAC:mac_addr\":\"fa:16:3e:00:00:02\"}]}";

static void assert_json_eq(json_t *got, const char *want_text)
{
	json_t *want = json_loads(want_text, 0, NULL);
	assert_non_null(want);
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_SORT_KEYS);
		fprintf(stderr, "got  %s\nwant %s\n", g, want_text);
		free(g);
		fail();
	}
	json_decref(want);
}

static void test_basic_cuts_extended_keys(void **state)
{
	(void)state;
	char *text = server_ports_basic(full_addresses);
	assert_non_null(text);
	json_t *got = json_loads(text, 0, NULL);
	assert_json_eq(got, "{\"net1\":[{\"version\":4,\"addr\":\"10.0.0.3\"},{\"version\":4,"
	                    "\"addr\":\"172.24.4.9\"}],\"net2\":[{\"version\":4,\"addr\":"
	                    "\"10.1.0.4\"}]}");
	json_decref(got);
	free(text);
	/* no ports, or text that is not JSON: no addresses */
	text = server_ports_basic(NULL);
	assert_string_equal(text, "{}");
	free(text);
	text = server_ports_basic("not json");
	assert_string_equal(text, "{}");
	free(text);
}

static struct server_row row(void)
{
	struct server_row s = {
	    .id = "0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b",
	    .name = "vm1",
	    .project_id = "p-1",
	    .user_id = "u-1",
	    .flavor_id = "1",
	    .image_id = "11111111-2222-4333-8444-555555555555",
	    .status = "ACTIVE",
	    .vm_state = "active",
	    .power_state = 1,
	    .host = "node1",
	    .az = "nova",
	    .metadata = "{}",
	    .access_ipv4 = "",
	    .access_ipv6 = "",
	    .created_at = "2026-01-02T03:04:05Z",
	    .updated_at = "2026-01-02T03:05:00Z",
	    .addresses = full_addresses,
	    .security_groups = "[{\"name\":\"default\"}]",
	};
	return s;
}

static void test_update_answer_addresses(void **state)
{
	(void)state;
	struct server_row s = row();
	struct server_view_ctx c = {"http://cloud:8080", 0, 1, 1, 1};
	json_t *v = server_view_full(&s, &c);
	json_t *a = json_object_get(json_object_get(v, "addresses"), "net1");
	assert_int_equal(json_array_size(a), 2);
	assert_null(json_object_get(json_array_get(a, 0), "OS-EXT-IPS:type"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 0), "addr")),
	                    "10.0.0.3");
	json_decref(v);
	/* from 2.75 the answer is the show view: extended keys too */
	c.mv_minor = 75;
	v = server_view_full(&s, &c);
	a = json_object_get(json_object_get(v, "addresses"), "net1");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 0), "OS-EXT-IPS:type")), "fixed");
	json_decref(v);
	/* show keeps them at 2.1 */
	c.mv_minor = 1;
	c.update = 0;
	v = server_view_full(&s, &c);
	a = json_object_get(json_object_get(v, "addresses"), "net2");
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(a, 0), "OS-EXT-IPS-MAC:mac_addr")),
	    "fa:16:3e:00:00:02");
	json_decref(v);
}

static void test_security_groups_key(void **state)
{
	(void)state;
	struct server_row s = row();
	struct server_view_ctx c = {"http://cloud:8080", 0, 1, 0, 1};
	json_t *v = server_view_full(&s, &c);
	assert_json_eq(json_object_get(v, "security_groups"), "[{\"name\":\"default\"}]");
	json_decref(v);
	/* ports without any group: Nova leaves the key out */
	s.security_groups = "[]";
	v = server_view_full(&s, &c);
	assert_null(json_object_get(v, "security_groups"));
	assert_non_null(json_object_get(v, "OS-EXT-STS:vm_state"));
	json_decref(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_basic_cuts_extended_keys),
	    cmocka_unit_test(test_update_answer_addresses),
	    cmocka_unit_test(test_security_groups_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

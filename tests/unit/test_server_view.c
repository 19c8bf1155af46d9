/* The Nova 2.1 server views against golden JSON, hostId and console tails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server.h"
#include "jsonw.h"

static const struct server_view_ctx member = {"http://cloud:8080", 0, 1};
static const struct server_view_ctx admin = {"http://cloud:8080", 1, 1};

static struct server_row active_row(void)
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
	    .task_state = NULL,
	    .power_state = 1,
	    .host = "node1",
	    .az = "nova",
	    .key_name = "k1",
	    .metadata = "{\"role\": \"web\"}",
	    .config_drive = 1,
	    .access_ipv4 = "",
	    .access_ipv6 = "",
	    .created_at = "2026-01-02T03:04:05Z",
	    .updated_at = "2026-01-02T03:05:00Z",
	    .launched_at = "2026-01-02T03:04:59.123456",
	    .terminated_at = NULL,
	};
	return s;
}

/* Compares j (stolen) with the golden file; on mismatch prints both. */
static void assert_golden(json_t *j, const char *path)
{
	json_error_t e;
	json_t *want = json_load_file(path, 0, &e);
	if (!want)
		fail_msg("%s: %s", path, e.text);
	if (!json_equal(j, want)) {
		char *got = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		fprintf(stderr, "got for %s:\n%s\n", path, got);
		free(got);
		json_decref(want);
		json_decref(j);
		fail_msg("%s differs", path);
	}
	json_decref(want);
	json_decref(j);
}

static void full_member(void **state)
{
	struct server_row s = active_row();
	assert_golden(server_view_full(&s, &member), "golden/server_view_active.json");
}

static void full_admin_error(void **state)
{
	struct server_row s = active_row();
	s.status = "ERROR";
	s.vm_state = "error";
	s.power_state = 0;
	s.host = NULL;
	s.key_name = NULL;
	s.metadata = NULL;
	s.launched_at = NULL;
	s.fault_message = "no host has 8192 MB RAM free: node1 has 1024";
	assert_golden(server_view_full(&s, &admin), "golden/server_view_error_admin.json");
}

static void full_building(void **state)
{
	struct server_row s = active_row();
	s.status = "BUILD";
	s.vm_state = "building";
	s.task_state = "scheduling";
	s.power_state = 0;
	s.host = NULL;
	s.launched_at = NULL;
	s.metadata = "not json"; /* never fails the view */
	json_t *j = server_view_full(&s, &member);
	assert_string_equal(json_string_value(json_object_get(j, "OS-EXT-STS:task_state")),
	                    "scheduling");
	assert_int_equal(json_integer_value(json_object_get(j, "progress")), 0);
	assert_string_equal(json_string_value(json_object_get(j, "hostId")), "");
	assert_true(json_is_null(json_object_get(j, "OS-SRV-USG:launched_at")));
	assert_int_equal(json_object_size(json_object_get(j, "metadata")), 0);
	assert_null(json_object_get(j, "fault"));
	assert_null(json_object_get(j, "OS-EXT-SRV-ATTR:host"));
	/* 2.1 flavor is a reference, never the embedded flavor of 2.47+ */
	json_t *fl = json_object_get(j, "flavor");
	assert_string_equal(json_string_value(json_object_get(fl, "id")), "1");
	assert_null(json_object_get(fl, "vcpus"));
	json_decref(j);
}

static void brief(void **state)
{
	struct server_row s = active_row();
	assert_golden(server_view_brief(&s, &member), "golden/server_view_brief.json");
}

static void bad_utf8_name(void **state)
{
	struct server_row s = active_row();
	s.name = "bad\xff";
	json_t *j = server_view_full(&s, &member);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "");
	json_decref(j);
}

static void host_id(void **state)
{
	char a[57], b[57], c[57];
	server_host_id("p-1", "node1", a);
	server_host_id("p-1", "node1", b);
	server_host_id("p-2", "node1", c);
	assert_int_equal(strlen(a), 56);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	for (int i = 0; i < 56; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	server_host_id("p-1", NULL, a);
	assert_string_equal(a, "");
	server_host_id("p-1", "", a);
	assert_string_equal(a, "");
}

static void console_tail(void **state)
{
	const char *log = "one\ntwo\nthree\n";
	assert_string_equal(server_console_tail(log, -1), log);
	assert_string_equal(server_console_tail(log, 0), "");
	assert_string_equal(server_console_tail(log, 1), "three\n");
	assert_string_equal(server_console_tail(log, 2), "two\nthree\n");
	assert_string_equal(server_console_tail(log, 3), log);
	assert_string_equal(server_console_tail(log, 100), log);
	/* an unterminated last line counts as a line */
	assert_string_equal(server_console_tail("one\ntwo", 1), "two");
	assert_string_equal(server_console_tail("one\ntwo", 2), "one\ntwo");
	/* empty lines are lines */
	assert_string_equal(server_console_tail("a\n\n\nb\n", 2), "\nb\n");
	assert_string_equal(server_console_tail("", 5), "");
	assert_string_equal(server_console_tail("\n", 1), "\n");
}

/* The exact bytes a list writes (not only the parsed value): the writer's shortcuts
 * (hrefs, cached hostId, plain values) must not change one byte. The .txt goldens
 * were written by the jansson-equivalent code before those shortcuts. */
static void assert_bytes(const char *got, size_t n, const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("%s: cannot open", path);
	static char want[65536];
	size_t m = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	while (m > 0 && want[m - 1] == '\n')
		m--;
	want[m] = '\0';
	if (n != m || memcmp(got, want, n)) {
		fprintf(stderr, "got for %s:\n%.*s\n", path, (int)n, got);
		fail_msg("%s differs", path);
	}
}

/* Rows that take every branch of the view: admin and member, ERROR with and without
 * a fault, DELETED, a host or none, names and URLs that need escaping or are not
 * UTF-8, the same (project, host) again and a changed one. */
static void list_bytes(void **state)
{
	static const struct server_view_ctx odd = {"http://c\"l\\oud:1/\x01p", 1, 1};
	static const struct server_view_ctx bad = {"http://cl\xffoud", 0, 1};
	struct server_row rows[8];
	for (int i = 0; i < 8; i++)
		rows[i] = active_row();
	rows[1].project_id = "p-2";
	rows[2].host = "node2";
	rows[2].name = "tab\there \"quoted\" \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \\ /";
	rows[3].status = "ERROR";
	rows[3].vm_state = "error";
	rows[3].host = NULL;
	rows[3].fault_message = NULL;
	rows[3].fault_code = 0;
	rows[4].status = "DELETED";
	rows[4].vm_state = "deleted";
	rows[4].fault_message = "gone\n";
	rows[4].fault_code = 404;
	rows[4].terminated_at = "2026-01-02T04:00:00.000001";
	rows[4].power_state = -3;
	rows[5].host = "";
	rows[5].task_state = "rebooting";
	rows[5].config_drive = 0;
	rows[5].key_name = NULL;
	rows[6].name = "bad\xff";
	rows[6].access_ipv4 = "10.0.0.1";
	rows[6].access_ipv6 = "::1";
	rows[7].project_id = "p-1";
	rows[7].host = "node1";
	const struct server_view_ctx *ctxs[] = {&member, &admin, &odd, &bad};
	static const char *const paths[] = {
	    "golden/server_list_member.txt", "golden/server_list_admin.txt",
	    "golden/server_list_odd_url.txt", "golden/server_list_bad_url.txt"};
	for (int c = 0; c < 4; c++) {
		struct jsonw w;
		jsonw_init(&w, 0);
		jsonw_obj_begin(&w);
		jsonw_key(&w, "servers");
		jsonw_arr_begin(&w);
		for (int i = 0; i < 8; i++)
			server_view_write_full(&w, &rows[i], ctxs[c]);
		for (int i = 0; i < 8; i++)
			server_view_write_brief(&w, &rows[i], ctxs[c]);
		jsonw_arr_end(&w);
		jsonw_obj_end(&w);
		assert_bytes(w.buf, w.len, paths[c]);
		jsonw_release(&w);
	}
}

/* hostId from the per-thread cache equals the digest computed afresh, for many
 * (project, host) pairs in turn, long ones included (not cached). */
static void host_id_cached(void **state)
{
	static char longp[300], longh[300];
	memset(longp, 'p', sizeof(longp) - 1);
	memset(longh, 'h', sizeof(longh) - 1);
	const char *projects[] = {"p-1", "p-2", "", longp, "p-1p"};
	const char *hosts[] = {"node1", "node2", "1node", longh, "x"};
	for (int round = 0; round < 3; round++)
		for (size_t p = 0; p < 5; p++)
			for (size_t h = 0; h < 5; h++) {
				struct server_row s = active_row();
				s.project_id = projects[p];
				s.host = hosts[h];
				json_t *j = server_view_full(&s, &member);
				char want[57];
				server_host_id(projects[p], hosts[h], want);
				assert_string_equal(json_string_value(json_object_get(j, "hostId")),
				                    want);
				json_decref(j);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(full_member),    cmocka_unit_test(full_admin_error),
	    cmocka_unit_test(full_building),  cmocka_unit_test(brief),
	    cmocka_unit_test(bad_utf8_name),  cmocka_unit_test(host_id),
	    cmocka_unit_test(console_tail),   cmocka_unit_test(list_bytes),
	    cmocka_unit_test(host_id_cached),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

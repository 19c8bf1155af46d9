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

static const struct server_view_ctx member = {"http://cloud:8080", 0, 1, 0};
static const struct server_view_ctx admin = {"http://cloud:8080", 1, 1, 0};

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
	    .description = "web front",
	    .locked_by = "owner",
	    .lock_reason = "maintenance",
	    .flavor_name = "m1.small",
	    .vcpus = 1,
	    .ram_mb = 2048,
	    .disk_gb = 20,
	    .ephemeral_gb = 1,
	    .swap_mb = 512,
	    .flavor_extra_specs = "{\"hw:cpu_policy\": \"shared\"}",
	    .tags = "[\"blue\", \"web\"]",
	    .host_state = "up",
	    .reservation_id = "r-abcdefgh",
	    .hostname = "vm1",
	    .user_data = "IyEvYmluL3NoCg==",
	    .launch_index = 0,
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

/* One golden file per microversion step that changes the server view: the view at
 * that step must match it and the view one step earlier must not (so a step that
 * stops shaping the answer fails here). update = PUT's short view. */
static const struct {
	int minor, admin, update;
	const char *golden;
} steps[] = {
    {3, 1, 0, "golden/server_view_v2.3_admin.json"},
    {9, 0, 0, "golden/server_view_v2.9.json"},
    {16, 1, 0, "golden/server_view_v2.16_admin.json"},
    {19, 0, 0, "golden/server_view_v2.19.json"},
    {26, 0, 0, "golden/server_view_v2.26.json"},
    {47, 0, 0, "golden/server_view_v2.47.json"},
    {63, 0, 0, "golden/server_view_v2.63.json"},
    {73, 0, 0, "golden/server_view_v2.73.json"},
    {1, 1, 1, "golden/server_update_v2.1_admin.json"},
    {19, 0, 1, "golden/server_update_v2.19.json"},
    {71, 0, 1, "golden/server_update_v2.71.json"},
};

static void version_steps(void **state)
{
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct server_row s = active_row();
		/* PUT's answer is about one server: server_groups (2.71) */
		struct server_view_ctx c = {"http://cloud:8080", steps[i].admin, steps[i].minor,
		                            steps[i].update, steps[i].update};
		assert_golden(server_view_full(&s, &c), steps[i].golden);
		if (steps[i].minor == 1)
			continue;
		c.mv_minor = steps[i].minor - 1;
		json_error_t e;
		json_t *want = json_load_file(steps[i].golden, 0, &e);
		json_t *before = server_view_full(&s, &c);
		if (json_equal(before, want))
			fail_msg("%s: 2.%d already answers it", steps[i].golden, c.mv_minor);
		json_decref(want);
		json_decref(before);
	}
}

/* The update view leaves out what only show and detail carry. */
static void update_is_short(void **state)
{
	struct server_row s = active_row();
	struct server_view_ctx c = {"http://cloud:8080", 1, 1, 1};
	json_t *j = server_view_full(&s, &c);
	static const char *const absent[] = {"OS-EXT-AZ:availability_zone",
	                                     "config_drive",
	                                     "key_name",
	                                     "OS-SRV-USG:launched_at",
	                                     "OS-EXT-STS:vm_state",
	                                     "security_groups",
	                                     "os-extended-volumes:volumes_attached",
	                                     "OS-EXT-SRV-ATTR:host"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		if (json_object_get(j, absent[i]))
			fail_msg("update view carries %s", absent[i]);
	assert_non_null(json_object_get(j, "accessIPv6"));
	assert_non_null(json_object_get(j, "progress"));
	json_decref(j);
}

/* Nova's rebuild answer per step: the update view, key_name (2.54), user_data in place
 * of the admin's OS-EXT-SRV-ATTR:user_data (2.57), the server's groups (2.71), and
 * adminPass. */
static void rebuild_steps(void **state)
{
	static const struct {
		int minor, admin;
		const char *golden;
	} rsteps[] = {
	    {1, 1, "golden/server_rebuild_v2.1_admin.json"},
	    {54, 0, "golden/server_rebuild_v2.54.json"},
	    {57, 1, "golden/server_rebuild_v2.57_admin.json"},
	    {71, 0, "golden/server_rebuild_v2.71.json"},
	};
	for (size_t i = 0; i < sizeof(rsteps) / sizeof(rsteps[0]); i++) {
		struct server_row s = active_row();
		s.server_groups = "[\"9b1c5f4e-1d2e-4f3a-8b5c-6d7e8f9a0b1c\"]";
		struct server_view_ctx c = {"http://cloud:8080", rsteps[i].admin, rsteps[i].minor,
		                            1, 1};
		json_t *v = server_view_full(&s, &c);
		server_rebuild_shape(v, rsteps[i].minor, s.key_name, s.user_data, "pw12345678ab");
		assert_golden(v, rsteps[i].golden);
	}
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
	/* Nova's _tail_log: '\n'.join(log.split('\n')[-lines:]) */
	const char *log = "one\ntwo\nthree\n";
	assert_string_equal(server_console_tail(log, -1), log);
	assert_string_equal(server_console_tail(log, 0), "");
	assert_string_equal(server_console_tail(log, 1), ""); /* the empty piece after "three" */
	assert_string_equal(server_console_tail(log, 2), "three\n");
	assert_string_equal(server_console_tail(log, 3), "two\nthree\n");
	assert_string_equal(server_console_tail(log, 4), log);
	assert_string_equal(server_console_tail(log, 100), log);
	/* an unterminated last line is the last piece */
	assert_string_equal(server_console_tail("one\ntwo", 1), "two");
	assert_string_equal(server_console_tail("one\ntwo", 2), "one\ntwo");
	/* empty lines are pieces */
	assert_string_equal(server_console_tail("a\n\n\nb\n", 3), "\nb\n");
	assert_string_equal(server_console_tail("", 5), "");
	assert_string_equal(server_console_tail("\n", 1), "");
	assert_string_equal(server_console_tail("\n", 2), "\n");
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
	    cmocka_unit_test(full_member),     cmocka_unit_test(full_admin_error),
	    cmocka_unit_test(full_building),   cmocka_unit_test(brief),
	    cmocka_unit_test(bad_utf8_name),   cmocka_unit_test(host_id),
	    cmocka_unit_test(console_tail),    cmocka_unit_test(version_steps),
	    cmocka_unit_test(update_is_short), cmocka_unit_test(list_bytes),
	    cmocka_unit_test(host_id_cached),  cmocka_unit_test(rebuild_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

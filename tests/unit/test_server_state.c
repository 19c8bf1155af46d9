/* The server action table: every verb against every vm_state, task_state and open
 * tasks blocking, and Nova's 409 texts. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server.h"
#include "common/msg.h"

#define ID "0b4e7a3e-6a0c-4c1b-9d7e-2f1e3c4d5a6b"

static const char *const vm_states[] = {"active",    "building", "stopped", "paused",
                                        "suspended", "error",    "deleted", "bogus"};

/* Expected verdicts: one row per action, one column per vm_states[] entry. */
static const struct {
	const char *key, *variant, *task, *task_state;
	int ok[8];
} expect[] = {
    /* ok[] columns: active building stopped paused suspended error deleted bogus */
    {"os-start", NULL, TASK_START, "powering-on", {0, 0, 1, 0, 0, 0, 0, 0}},
    {"os-stop", NULL, TASK_STOP, "powering-off", {1, 0, 0, 1, 1, 1, 0, 0}},
    {"reboot", "SOFT", TASK_REBOOT, "rebooting", {1, 0, 0, 0, 0, 0, 0, 0}},
    {"reboot", "HARD", TASK_HARD_REBOOT, "rebooting_hard", {1, 0, 1, 1, 1, 1, 0, 0}},
    {"pause", NULL, TASK_PAUSE, "pausing", {1, 0, 0, 0, 0, 0, 0, 0}},
    {"unpause", NULL, TASK_UNPAUSE, "unpausing", {0, 0, 0, 1, 0, 0, 0, 0}},
    {"suspend", NULL, TASK_SUSPEND, "suspending", {1, 0, 0, 0, 0, 0, 0, 0}},
    {"resume", NULL, TASK_RESUME, "resuming", {0, 0, 0, 0, 1, 0, 0, 0}},
};

static void table(void **state)
{
	char msg[256];
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		const struct server_action *a =
		    server_action_find(expect[i].key, expect[i].variant);
		assert_non_null(a);
		assert_string_equal(a->task, expect[i].task);
		assert_string_equal(a->task_state, expect[i].task_state);
		assert_true(msg_action_valid(a->task));
		for (size_t s = 0; s < sizeof(vm_states) / sizeof(vm_states[0]); s++) {
			int rc =
			    server_action_check(a, ID, vm_states[s], NULL, 0, msg, sizeof(msg));
			if (rc != (expect[i].ok[s] ? 0 : -EBUSY))
				fail_msg("%s %s from %s: got %d", expect[i].key,
				         expect[i].variant ? expect[i].variant : "", vm_states[s],
				         rc);
			/* a task in flight blocks every verb, whatever the vm_state */
			assert_int_equal(server_action_check(a, ID, vm_states[s], "powering-off", 0,
			                                     msg, sizeof(msg)),
			                 -EBUSY);
			assert_int_equal(
			    server_action_check(a, ID, vm_states[s], NULL, 1, msg, sizeof(msg)),
			    -EBUSY);
		}
	}
}

static void lookup(void **state)
{
	assert_non_null(server_action_find("reboot", "hard"));
	assert_string_equal(server_action_find("reboot", "Soft")->task, TASK_REBOOT);
	assert_null(server_action_find("reboot", NULL));
	assert_null(server_action_find("reboot", "MEDIUM"));
	assert_null(server_action_find("os-getConsoleOutput", NULL));
	assert_null(server_action_find("", NULL));
	/* variants are ignored for verbs that have none */
	assert_non_null(server_action_find("os-stop", "HARD"));
}

static void messages(void **state)
{
	char msg[256];
	const struct server_action *stop = server_action_find("os-stop", NULL);
	assert_int_equal(server_action_check(stop, ID, "stopped", NULL, 0, msg, sizeof(msg)),
	                 -EBUSY);
	assert_string_equal(msg, "Cannot 'stop' instance " ID " while it is in vm_state stopped");
	assert_int_equal(server_action_check(stop, ID, "active", "rebooting", 1, msg, sizeof(msg)),
	                 -EBUSY);
	assert_string_equal(msg,
	                    "Cannot 'stop' instance " ID " while it is in task_state rebooting");
	assert_int_equal(server_action_check(stop, ID, "active", NULL, 1, msg, sizeof(msg)),
	                 -EBUSY);
	assert_string_equal(msg, "Cannot 'stop' instance " ID " while it is in task_state queued");
	assert_int_equal(server_action_check(stop, ID, NULL, NULL, 0, msg, sizeof(msg)), -EBUSY);
	assert_int_equal(server_action_check(stop, ID, "active", NULL, 0, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	/* a short buffer is cut, not overrun */
	char tiny[10];
	assert_int_equal(server_action_check(stop, ID, "stopped", NULL, 0, tiny, sizeof(tiny)),
	                 -EBUSY);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void vm_state_bits(void **state)
{
	assert_int_equal(server_vm_state_bit("active"), VMS_ACTIVE);
	assert_int_equal(server_vm_state_bit("stopped"), VMS_STOPPED);
	assert_int_equal(server_vm_state_bit("error"), VMS_ERROR);
	assert_int_equal(server_vm_state_bit("ACTIVE"), 0);
	assert_int_equal(server_vm_state_bit(NULL), 0);
}

/* Nova's flavor/image checks: a 100 TiB qcow2 on a 1 GB flavor is refused with
 * FlavorDiskSmallerThanImage's message, min_disk and min_ram are honoured. */
static void flavor_fits(void **state)
{
	char msg[512];
	const long long gib = 1LL << 30;
	struct image_needs small = {.size = 20 << 20, .virtual_size = gib, .min_disk_gb = 0};
	assert_int_equal(server_flavor_fits(1, 512, &small, msg, sizeof(msg)), 0);

	struct image_needs huge = {.size = 200 << 10, .virtual_size = 100LL << 40};
	assert_int_equal(server_flavor_fits(1, 512, &huge, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "Flavor's disk is too small for requested image. Flavor disk is "
	                         "1073741824 bytes, image is 109951162777600 bytes.");

	struct image_needs raw = {.size = 2 * gib, .virtual_size = -1};
	assert_int_equal(server_flavor_fits(1, 512, &raw, msg, sizeof(msg)), -EINVAL);

	struct image_needs mind = {.size = 1 << 20, .virtual_size = 1 << 20, .min_disk_gb = 5};
	assert_int_equal(server_flavor_fits(1, 512, &mind, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "minimum size specified in image metadata"));
	assert_non_null(strstr(msg, "minimum size is 5368709120 bytes"));
	assert_int_equal(server_flavor_fits(5, 512, &mind, msg, sizeof(msg)), 0);

	struct image_needs minr = {.size = 1, .virtual_size = 1, .min_ram_mb = 1024};
	assert_int_equal(server_flavor_fits(10, 512, &minr, msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "Flavor's memory is too small for requested image.");
	assert_int_equal(server_flavor_fits(10, 1024, &minr, msg, sizeof(msg)), 0);

	/* a zero-disk flavor takes the image's size: only memory counts */
	assert_int_equal(server_flavor_fits(0, 512, &huge, msg, sizeof(msg)), 0);
}

static void access_ips(void **state)
{
	char out[SERVER_IP_MAX];
	assert_int_equal(server_access_ip(AF_INET6, "2001:DB8:0:0::1", out), 0);
	assert_string_equal(out, "2001:db8::1");
	/* Tempest's test_verify_server_details */
	assert_int_equal(
	    server_access_ip(AF_INET6, "0000:0000:0000:0000:0000:babe:220.12.22.2", out), 0);
	assert_string_equal(out, "::babe:dc0c:1602");
	assert_int_equal(server_access_ip(AF_INET, "10.0.0.9", out), 0);
	assert_string_equal(out, "10.0.0.9");
	assert_int_equal(server_access_ip(AF_INET, "10.0.0.300", out), -EINVAL);
	assert_int_equal(server_access_ip(AF_INET, "", out), -EINVAL);
	assert_int_equal(server_access_ip(AF_INET, "::1", out), -EINVAL);
	assert_int_equal(server_access_ip(AF_INET6, "fe80::zz", out), -EINVAL);
	assert_int_equal(server_access_ip(AF_INET6, "10.0.0.1", out), -EINVAL);
}

static void since_gates(void **state)
{
	static const struct server_since g[] = {
	    {"description", 19, 0}, {"tag", 32, 37}, {"tag", 42, 0}, {"personality", 0, 57}};
	char msg[256];
	json_t *o = json_pack("{s:s,s:s}", "name", "x", "description", "d");
	assert_int_equal(server_since_check(o, g, 4, 18, "server", msg, sizeof(msg)), -EINVAL);
	assert_string_equal(msg, "Invalid input for field/attribute server. Additional properties "
	                         "are not allowed ('description' was unexpected)");
	assert_int_equal(server_since_check(o, g, 4, 19, "server", msg, sizeof(msg)), 0);
	json_decref(o);
	o = json_pack("{s:s}", "tag", "nic1");
	static const int tag_ok[][2] = {{31, 0}, {32, 1}, {36, 1}, {37, 0},
	                                {41, 0}, {42, 1}, {73, 1}};
	for (size_t i = 0; i < sizeof(tag_ok) / sizeof(tag_ok[0]); i++)
		assert_int_equal(
		    server_since_check(o, g, 4, tag_ok[i][0], "networks", msg, sizeof(msg)) == 0,
		    tag_ok[i][1]);
	json_decref(o);
	o = json_pack("{s:[]}", "personality");
	assert_int_equal(server_since_check(o, g, 4, 56, "server", msg, sizeof(msg)), 0);
	assert_int_equal(server_since_check(o, g, 4, 57, "server", msg, sizeof(msg)), -EINVAL);
	json_decref(o);
}

static void small_rules(void **state)
{
	/* oslo's boolean strings */
	assert_int_equal(server_bool_param("T"), 1);
	assert_int_equal(server_bool_param("yes"), 1);
	assert_int_equal(server_bool_param(""), 1);
	assert_int_equal(server_bool_param("f"), 0);
	assert_int_equal(server_bool_param("OFF"), 0);
	assert_int_equal(server_bool_param(NULL), 0);
	assert_int_equal(server_bool_param("maybe"), -EINVAL);
	/* Nova's statuses (2.38) */
	assert_true(server_status_known("active"));
	assert_true(server_status_known("SHUTOFF"));
	assert_false(server_status_known("bogus"));
	/* a reboot is not ACTIVE until it ends (what `server reboot --wait` polls for) */
	assert_string_equal(server_status_shown("ACTIVE", "rebooting_hard"), "HARD_REBOOT");
	assert_string_equal(server_status_shown("ACTIVE", "rebooting"), "REBOOT");
	assert_string_equal(server_status_shown("ACTIVE", NULL), "ACTIVE");
	assert_string_equal(server_status_shown("ACTIVE", "image_snapshot"), "ACTIVE");
	assert_string_equal(server_status_shown("SHUTOFF", "rebooting_hard"), "SHUTOFF");
	const char *stored = NULL;
	assert_string_equal(server_status_task("hard_reboot", &stored), "rebooting_hard");
	assert_string_equal(stored, "ACTIVE");
	assert_null(server_status_task("ACTIVE", &stored));
	assert_null(server_status_task(NULL, &stored));
	/* a list filtered by ACTIVE leaves out what shows REBOOT/HARD_REBOOT (review s7 L6) */
	char mask[64];
	assert_int_equal(server_status_masking("ACTIVE", mask, sizeof(mask)), 2);
	assert_string_equal(mask, "rebooting,rebooting_hard");
	assert_int_equal(server_status_masking("active", mask, sizeof(mask)), 2);
	assert_int_equal(server_status_masking("SHUTOFF", mask, sizeof(mask)), 0);
	assert_string_equal(mask, "");
	assert_int_equal(server_status_masking(NULL, mask, sizeof(mask)), 0);
	assert_int_equal(server_status_masking("ACTIVE", mask, 12), 1); /* whole names only */
	assert_string_equal(mask, "rebooting");
	/* tags: 1..60 characters, no '/' or ',' */
	assert_true(server_tag_valid("web"));
	assert_true(server_tag_valid("\xc3\xa9t\xc3\xa9")); /* counted in characters */
	assert_false(server_tag_valid(""));
	assert_false(server_tag_valid("a/b"));
	assert_false(server_tag_valid("a,b"));
	char tag[200];
	memset(tag, 'x', 60);
	tag[60] = '\0';
	assert_true(server_tag_valid(tag));
	tag[60] = 'x';
	tag[61] = '\0';
	assert_false(server_tag_valid(tag));
	/* 60 two-byte characters are 120 bytes and still a valid tag */
	for (int i = 0; i < 60; i++)
		memcpy(tag + 2 * i, "\xc3\xa9", 2);
	tag[120] = '\0';
	assert_true(server_tag_valid(tag));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(table),       cmocka_unit_test(lookup),
	    cmocka_unit_test(messages),    cmocka_unit_test(vm_state_bits),
	    cmocka_unit_test(flavor_fits), cmocka_unit_test(access_ips),
	    cmocka_unit_test(since_gates), cmocka_unit_test(small_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

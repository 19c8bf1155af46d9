/* Scheduler agent registry: registration, liveness, expiry, bounds; and the memo
 * that keeps deletes of unknown instances from repeating every heartbeat. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/agents.h"
#include "scheduler/reconcile.h"

static struct msg_hello hello(const char *host, const char *az)
{
	struct msg_hello h;
	memset(&h, 0, sizeof(h));
	snprintf(h.host, sizeof(h.host), "%s", host);
	snprintf(h.az, sizeof(h.az), "%s", az);
	snprintf(h.cap.compute.accel, sizeof(h.cap.compute.accel), "tcg");
	h.cap.compute.vcpus = 4;
	h.cap.compute.ram_mb = 8192;
	h.cap.compute.disk_gb = 100;
	return h;
}

static void touch_registers_and_updates(void **state)
{
	struct agents a = {0};
	struct msg_hello h = hello("node1", "");
	assert_int_equal(agents_touch(&a, &h, 1000), 1);
	assert_int_equal(agents_touch(&a, &h, 2000), 0);
	const struct agent *g = agents_find(&a, "node1");
	assert_non_null(g);
	assert_string_equal(g->az, "nova"); /* empty zone is the default zone */
	assert_string_equal(g->accel, "tcg");
	assert_int_equal(g->last_seen_ms, 2000);
	h.cap.compute.ram_mb = 4096;
	snprintf(h.az, sizeof(h.az), "az1");
	agents_touch(&a, &h, 3000);
	assert_int_equal(agents_find(&a, "node1")->ram_mb, 4096);
	assert_string_equal(agents_find(&a, "node1")->az, "az1");
	assert_int_equal(a.n, 1);
	assert_null(agents_find(&a, "node2"));
	assert_null(agents_find(&a, NULL));
	agents_release(&a);
	assert_int_equal(a.n, 0);
}

/* One machine: the same name, or the compute host's own "-storage" agent. */
static void same_machine(void **state)
{
	static const struct {
		const char *compute, *storage;
		int same;
	} cases[] = {
	    {"node1", "node1-storage", 1},
	    {"node1", "node1", 1},
	    {"node1", "node2-storage", 0},
	    {"node1", "node10-storage", 0},
	    {"node10", "node1-storage", 0},
	    {"node1", "node1-storagex", 0},
	    {"node1", "st1", 0},
	    {"node1", "node1-", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (agents_same_machine(cases[i].compute, cases[i].storage) != cases[i].same)
			fail_msg("%s / %s: want %d", cases[i].compute, cases[i].storage,
			         cases[i].same);
}

/* A storage agent near a compute host counts when it is up, reachable and has room. */
static void storage_near(void **state)
{
	struct agents a = {0};
	struct msg_hello h = hello("node1-storage", "");
	h.agent_kind = MSG_AGENT_STORAGE;
	h.cap.storage.free_gb = 20;
	agents_touch(&a, &h, 1000);
	struct msg_hello far = hello("st9", "");
	far.agent_kind = MSG_AGENT_STORAGE;
	far.cap.storage.free_gb = 500;
	agents_touch(&a, &far, 1000);
	assert_int_equal(agents_storage_near(&a, "node1", 20), 1);
	assert_int_equal(agents_storage_near(&a, "node1", 21), 0); /* no room */
	assert_int_equal(agents_storage_near(&a, "node2", 1), 0);  /* st9 is elsewhere */
	agents_mark_reachable(&a, "node1-storage", 0);
	assert_int_equal(agents_storage_near(&a, "node1", 1), 0);
	agents_mark_reachable(&a, "node1-storage", 1);
	agents_expire(&a, 100000, 1000, NULL, NULL);
	assert_int_equal(agents_storage_near(&a, "node1", 1), 0); /* down */
	agents_release(&a);
}

static void record_down(const char *host, void *arg)
{
	char *log = arg;
	strcat(log, host);
	strcat(log, ";");
}

static void expiry(void **state)
{
	struct agents a = {0};
	struct msg_hello h1 = hello("node1", "nova"), h2 = hello("node2", "nova");
	char log[64] = "";
	agents_touch(&a, &h1, 0);
	agents_touch(&a, &h2, 5000);
	assert_int_equal(agents_expire(&a, 30000, 30000, record_down, log), 0);
	assert_int_equal(agents_expire(&a, 30001, 30000, record_down, log), 1);
	assert_string_equal(log, "node1;");
	assert_false(agents_is_up(&a, "node1"));
	assert_true(agents_is_up(&a, "node2"));
	/* down hosts are reported once */
	assert_int_equal(agents_expire(&a, 34000, 30000, record_down, log), 0);
	assert_string_equal(log, "node1;");
	assert_int_equal(agents_expire(&a, 35001, 30000, NULL, NULL), 1);
	assert_false(agents_is_up(&a, "node2"));
	/* a heartbeat brings a host back, and says so */
	assert_int_equal(agents_touch(&a, &h1, 36000), 1);
	assert_true(agents_is_up(&a, "node1"));
	assert_false(agents_is_up(&a, "node3"));
	agents_release(&a);
}

static void registry_is_bounded(void **state)
{
	struct agents a = {0};
	for (int i = 0; i < AGENTS_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		struct msg_hello h = hello(name, "nova");
		assert_int_equal(agents_touch(&a, &h, i), 1);
	}
	struct msg_hello extra = hello("one-too-many", "nova");
	assert_int_equal(agents_touch(&a, &extra, 0), -ENOSPC);
	struct msg_hello known = hello("n7", "nova");
	assert_int_equal(agents_touch(&a, &known, 99), 0);
	agents_release(&a);
}

static void reachability_changes_are_reported_once(void **state)
{
	struct agents a = {0};
	struct msg_hello h = hello("node1", "nova");
	agents_touch(&a, &h, 0);
	assert_int_equal(agents_mark_reachable(&a, "node1", 1), 0); /* starts reachable */
	assert_int_equal(agents_mark_reachable(&a, "node1", 0), 1);
	assert_int_equal(agents_mark_reachable(&a, "node1", 0), 0);
	assert_int_equal(agents_mark_reachable(&a, "node1", 1), 1);
	assert_int_equal(agents_mark_reachable(&a, "nobody", 0), 0);
	agents_release(&a);
}

static void orphan_memo(void **state)
{
	static struct orphan_memo m; /* zeroed */
	const char *id1 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
	const char *id2 = "aaaaaaaa-bbbb-4ccc-8ddd-ffffffffffff";
	assert_int_equal(orphan_memo_claim(&m, "node1", id1, 1000, 60000), 1);
	assert_int_equal(orphan_memo_claim(&m, "node1", id1, 2000, 60000), 0);
	assert_int_equal(orphan_memo_claim(&m, "node2", id1, 2000, 60000), 1);
	assert_int_equal(orphan_memo_claim(&m, "node1", id2, 2000, 60000), 1);
	assert_int_equal(orphan_memo_claim(&m, "node1", id1, 61000, 60000), 1);
	assert_int_equal(orphan_memo_claim(&m, "node1", id1, 62000, 60000), 0);
	/* the memo is a ring: old entries are forgotten, never overflowed */
	for (int i = 0; i < ORPHAN_MEMO_MAX; i++) {
		char host[16];
		snprintf(host, sizeof(host), "h%d", i);
		assert_int_equal(orphan_memo_claim(&m, host, id2, 63000, 60000), 1);
	}
	assert_int_equal(orphan_memo_claim(&m, "node1", id1, 63000, 60000), 1);
}

static void fault_text(void **state)
{
	char out[128];
	reconcile_fault_text(VMSTATE_FAULT_VANISHED, "node1", NULL, out, sizeof(out));
	assert_string_equal(out, "instance vanished from host node1");
	reconcile_fault_text(VMSTATE_FAULT_VANISHED, "node1", "", out, sizeof(out));
	assert_string_equal(out, "instance vanished from host node1");
	reconcile_fault_text(VMSTATE_FAULT_CRASHED, "node2", "QEMU exited (signal 9)", out,
	                     sizeof(out));
	assert_string_equal(out, "instance failed on host node2: QEMU exited (signal 9)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(touch_registers_and_updates),
	    cmocka_unit_test(same_machine),
	    cmocka_unit_test(storage_near),
	    cmocka_unit_test(expiry),
	    cmocka_unit_test(registry_is_bounded),
	    cmocka_unit_test(reachability_changes_are_reported_once),
	    cmocka_unit_test(orphan_memo),
	    cmocka_unit_test(fault_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

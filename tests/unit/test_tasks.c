/* The outbox's kind table: every resource kind msg.h knows has a row with every
 * callback, and each instance action of the bus schema has a row in the state table
 * the instance kind applies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/backup_tasks.h"
#include "scheduler/instance_tasks.h"
#include "scheduler/tasks.h"
#include "scheduler/vmstate.h"
#include "scheduler/volume_tasks.h"

static void every_kind_has_a_full_row(void **state)
{
	for (int k = 0; k < MSG_RES_KIND_COUNT; k++) {
		const struct task_kind *t = tasks_kind((enum msg_res_kind)k);
		assert_non_null(t);
		assert_int_equal(t->kind, k);
		assert_non_null(t->dispatch);
		assert_non_null(t->resend);
		assert_non_null(t->on_result);
		assert_non_null(t->on_deadline);
		assert_non_null(t->on_event);
		assert_non_null(t->reconcile);
	}
	assert_null(tasks_kind(MSG_RES_KIND_COUNT));
	assert_null(tasks_kind((enum msg_res_kind) - 1));
	assert_ptr_equal(tasks_kind(MSG_RES_INSTANCE), &instance_tasks);
}

/* Where a backup create reads an in-use volume: a server of the storage host's machine
 * has the copy made first on its compute host; a server without a host yet (no QEMU
 * writes the volume), a server of another machine, no server, or a named snapshot: the
 * storage host alone (review s12 L1: a server without a host failed the backup). A
 * snapshot or clone of a plugged volume is routed by volume_copy_on_compute. */
static void backup_copy_goes_first_to_the_plugging_server(void **state)
{
	const char *srv = "0e0e14d7-17f7-4fad-be23-47a5e32e154c";
	const char *snap = "a2eab385-8995-4aa6-b986-55b531d1e82b";
	assert_true(backup_copy_first("", srv, "node1", "node1-storage"));
	assert_false(backup_copy_first("", srv, "", "node1-storage"));
	assert_false(backup_copy_first("", srv, "node2", "node1-storage"));
	assert_false(backup_copy_first("", srv, "node1", "node12-storage"));
	assert_false(backup_copy_first("", "", "", "node1-storage"));
	assert_false(backup_copy_first(snap, srv, "node1", "node1-storage"));
	assert_true(volume_copy_on_compute(srv, "node1", "node1-storage"));
	assert_false(volume_copy_on_compute(srv, "node2", "node1-storage"));
	assert_false(volume_copy_on_compute("", "node1", "node1-storage"));
}

static void every_instance_action_has_a_state_row(void **state)
{
	static const char *const actions[] = {
	    TASK_SPAWN,       TASK_DELETE, TASK_START,   TASK_STOP,    TASK_REBOOT,
	    TASK_HARD_REBOOT, TASK_PAUSE,  TASK_UNPAUSE, TASK_SUSPEND, TASK_RESUME};
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		assert_true(msg_res_action_valid(MSG_RES_INSTANCE, actions[i]));
		assert_non_null(vmstate_action_find(actions[i]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_kind_has_a_full_row),
	    cmocka_unit_test(every_instance_action_has_a_state_row),
	    cmocka_unit_test(backup_copy_goes_first_to_the_plugging_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

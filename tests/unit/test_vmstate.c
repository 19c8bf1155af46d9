/* Scheduler instance-state tables: every task action's end state and failure
 * policy, the power-state mapping, and the reconcile rule (docs/internals.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/vmstate.h"
#include "msg.h"

static void expect_state(const struct vmstate *s, const char *status, const char *vm_state,
                         int power)
{
	assert_non_null(s);
	assert_string_equal(s->status, status);
	assert_string_equal(s->vm_state, vm_state);
	assert_int_equal(s->power, power);
}

static void every_action_has_a_row(void **state)
{
	static const struct {
		const char *action, *status, *vm_state;
		int power;
		enum vmstate_on_failure fail;
	} want[] = {
	    {TASK_SPAWN, "ACTIVE", "active", 1, VMSTATE_FAIL_ERROR},
	    {TASK_DELETE, "DELETED", "deleted", 0, VMSTATE_FAIL_ERROR},
	    {TASK_START, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	    {TASK_STOP, "SHUTOFF", "stopped", 4, VMSTATE_FAIL_KEEP},
	    {TASK_REBOOT, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	    {TASK_HARD_REBOOT, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	    {TASK_PAUSE, "PAUSED", "paused", 3, VMSTATE_FAIL_KEEP},
	    {TASK_UNPAUSE, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	    {TASK_SUSPEND, "SUSPENDED", "suspended", 7, VMSTATE_FAIL_KEEP},
	    {TASK_RESUME, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	    {TASK_REBUILD, "ACTIVE", "active", 1, VMSTATE_FAIL_ERROR},
	    /* a snapshot keeps the guest as it was, done or not */
	    {TASK_SNAPSHOT, "ACTIVE", "active", 1, VMSTATE_FAIL_KEEP},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct vmstate_action *a = vmstate_action_find(want[i].action);
		assert_non_null(a);
		assert_true(msg_action_valid(want[i].action));
		expect_state(&a->ok, want[i].status, want[i].vm_state, want[i].power);
		assert_int_equal(a->on_failure, want[i].fail);
	}
	assert_null(vmstate_action_find("migrate"));
	assert_null(vmstate_action_find(""));
	assert_null(vmstate_action_find(NULL));
}

static void power_states(void **state)
{
	expect_state(vmstate_from_power(VM_RUNNING), "ACTIVE", "active", POWER_RUNNING);
	expect_state(vmstate_from_power(VM_SHUTOFF), "SHUTOFF", "stopped", POWER_SHUTDOWN);
	expect_state(vmstate_from_power(VM_PAUSED), "PAUSED", "paused", POWER_PAUSED);
	expect_state(vmstate_from_power(VM_SUSPENDED), "SUSPENDED", "suspended", POWER_SUSPENDED);
	expect_state(vmstate_from_power(VM_ERROR), "ERROR", "error", POWER_CRASHED);
	expect_state(vmstate_from_power(VM_DELETED), "ERROR", "error", POWER_NOSTATE);
	assert_null(vmstate_from_power("blue"));
	assert_null(vmstate_from_power(NULL));
}

static const struct vmstate active = {"ACTIVE", "active", POWER_RUNNING};
static const struct vmstate shutoff = {"SHUTOFF", "stopped", POWER_SHUTDOWN};
static const struct vmstate build = {"BUILD", "building", POWER_NOSTATE};
static const struct vmstate error_running = {"ERROR", "error", POWER_RUNNING};

static void reported_power_state_wins(void **state)
{
	struct vmstate out;
	enum vmstate_fault f;
	assert_int_equal(vmstate_reconcile(&active, VM_SHUTOFF, &out, &f), 1);
	expect_state(&out, "SHUTOFF", "stopped", POWER_SHUTDOWN);
	assert_int_equal(f, VMSTATE_FAULT_NONE);
	assert_int_equal(vmstate_reconcile(&shutoff, VM_RUNNING, &out, &f), 1);
	expect_state(&out, "ACTIVE", "active", POWER_RUNNING);
	assert_int_equal(vmstate_reconcile(&active, VM_PAUSED, &out, &f), 1);
	expect_state(&out, "PAUSED", "paused", POWER_PAUSED);
	/* a BUILD instance without a task that runs is ACTIVE */
	assert_int_equal(vmstate_reconcile(&build, VM_RUNNING, &out, &f), 1);
	expect_state(&out, "ACTIVE", "active", POWER_RUNNING);
}

static void agreement_changes_nothing(void **state)
{
	struct vmstate out;
	enum vmstate_fault f;
	assert_int_equal(vmstate_reconcile(&active, VM_RUNNING, &out, &f), 0);
	assert_int_equal(vmstate_reconcile(&shutoff, VM_SHUTOFF, &out, &f), 0);
	assert_int_equal(f, VMSTATE_FAULT_NONE);
}

static void missing_instance_vanished(void **state)
{
	struct vmstate out;
	enum vmstate_fault f;
	assert_int_equal(vmstate_reconcile(&active, NULL, &out, &f), 1);
	expect_state(&out, "ERROR", "error", POWER_NOSTATE);
	assert_int_equal(f, VMSTATE_FAULT_VANISHED);
	assert_int_equal(vmstate_reconcile(&shutoff, VM_DELETED, &out, &f), 1);
	expect_state(&out, "ERROR", "error", POWER_NOSTATE);
	assert_int_equal(f, VMSTATE_FAULT_VANISHED);
}

static void crashed_instance(void **state)
{
	struct vmstate out;
	enum vmstate_fault f;
	assert_int_equal(vmstate_reconcile(&active, VM_ERROR, &out, &f), 1);
	expect_state(&out, "ERROR", "error", POWER_CRASHED);
	assert_int_equal(f, VMSTATE_FAULT_CRASHED);
}

static void error_is_sticky(void **state)
{
	struct vmstate out;
	enum vmstate_fault f;
	assert_int_equal(vmstate_reconcile(&error_running, VM_RUNNING, &out, &f), 0);
	assert_int_equal(vmstate_reconcile(&error_running, VM_SHUTOFF, &out, &f), 1);
	expect_state(&out, "ERROR", "error", POWER_SHUTDOWN);
	assert_int_equal(f, VMSTATE_FAULT_NONE);
	assert_int_equal(vmstate_reconcile(&error_running, NULL, &out, &f), 1);
	expect_state(&out, "ERROR", "error", POWER_NOSTATE);
	assert_int_equal(f, VMSTATE_FAULT_NONE); /* the first fault is kept */
	const struct vmstate gone = {"ERROR", "error", POWER_NOSTATE};
	assert_int_equal(vmstate_reconcile(&gone, NULL, &out, &f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(every_action_has_a_row),
	    cmocka_unit_test(power_states),
	    cmocka_unit_test(reported_power_state_wins),
	    cmocka_unit_test(agreement_changes_nothing),
	    cmocka_unit_test(missing_instance_vanished),
	    cmocka_unit_test(crashed_instance),
	    cmocka_unit_test(error_is_sticky),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

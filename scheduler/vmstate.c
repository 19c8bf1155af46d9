/* The instance state tables. Adding an action or a power state is adding a row. */
#include "vmstate.h"

#include <stddef.h>
#include <string.h>

#include "msg.h"

#define ACTIVE                                                                                     \
	{                                                                                          \
		"ACTIVE", "active", POWER_RUNNING                                                  \
	}

/* Failed spawn and delete leave nothing trustworthy behind, so the instance goes to
 * ERROR (as the state table says). A failed power action leaves the guest where it
 * was, as Nova does: the instance keeps its state, task_state is cleared and the
 * agent's error is kept in fault_message. */
static const struct vmstate_action actions[] = {
    {TASK_SPAWN, ACTIVE, VMSTATE_FAIL_ERROR},
    {TASK_DELETE, {"DELETED", "deleted", POWER_NOSTATE}, VMSTATE_FAIL_ERROR},
    {TASK_START, ACTIVE, VMSTATE_FAIL_KEEP},
    {TASK_STOP, {"SHUTOFF", "stopped", POWER_SHUTDOWN}, VMSTATE_FAIL_KEEP},
    {TASK_REBOOT, ACTIVE, VMSTATE_FAIL_KEEP},
    {TASK_HARD_REBOOT, ACTIVE, VMSTATE_FAIL_KEEP},
    {TASK_PAUSE, {"PAUSED", "paused", POWER_PAUSED}, VMSTATE_FAIL_KEEP},
    {TASK_UNPAUSE, ACTIVE, VMSTATE_FAIL_KEEP},
    {TASK_SUSPEND, {"SUSPENDED", "suspended", POWER_SUSPENDED}, VMSTATE_FAIL_KEEP},
    {TASK_RESUME, ACTIVE, VMSTATE_FAIL_KEEP},
    /* success: what the agent reports (a stopped server stays SHUTOFF, as in Nova) */
    {TASK_REBUILD, ACTIVE, VMSTATE_FAIL_ERROR},
    /* success: what the agent reports (the guest keeps its power state) */
    {TASK_SNAPSHOT, ACTIVE, VMSTATE_FAIL_KEEP},
    /* interface attach/detach: success is what the agent reports (a stopped server
     * only has its NIC list updated); a failure leaves the guest as it was */
    {TASK_NICS, ACTIVE, VMSTATE_FAIL_KEEP},
};

struct power_row {
	const char *reported;
	struct vmstate state;
	enum vmstate_fault fault;
};

static const struct power_row powers[] = {
    {VM_RUNNING, ACTIVE, VMSTATE_FAULT_NONE},
    {VM_SHUTOFF, {"SHUTOFF", "stopped", POWER_SHUTDOWN}, VMSTATE_FAULT_NONE},
    {VM_PAUSED, {"PAUSED", "paused", POWER_PAUSED}, VMSTATE_FAULT_NONE},
    {VM_SUSPENDED, {"SUSPENDED", "suspended", POWER_SUSPENDED}, VMSTATE_FAULT_NONE},
    {VM_ERROR, {"ERROR", "error", POWER_CRASHED}, VMSTATE_FAULT_CRASHED},
    {VM_DELETED, {"ERROR", "error", POWER_NOSTATE}, VMSTATE_FAULT_VANISHED},
};

const struct vmstate_action *vmstate_action_find(const char *action)
{
	for (size_t i = 0; action && i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(actions[i].action, action))
			return &actions[i];
	return NULL;
}

static const struct power_row *power_find(const char *reported)
{
	for (size_t i = 0; reported && i < sizeof(powers) / sizeof(powers[0]); i++)
		if (!strcmp(powers[i].reported, reported))
			return &powers[i];
	return NULL;
}

const struct vmstate *vmstate_from_power(const char *reported)
{
	const struct power_row *p = power_find(reported);
	return p ? &p->state : NULL;
}

static int same(const struct vmstate *a, const struct vmstate *b)
{
	return a->power == b->power && !strcmp(a->status, b->status) &&
	       !strcmp(a->vm_state, b->vm_state);
}

int vmstate_reconcile(const struct vmstate *cur, const char *reported, struct vmstate *out,
                      enum vmstate_fault *fault)
{
	/* Not listed is the same as listed as gone. */
	const struct power_row *p = power_find(reported ? reported : VM_DELETED);
	if (!p)
		p = power_find(VM_DELETED);
	*out = p->state;
	*fault = p->fault;
	if (!strcmp(cur->status, "ERROR")) {
		*out = *cur;
		out->power = p->state.power;
		*fault = VMSTATE_FAULT_NONE;
	}
	return !same(cur, out);
}

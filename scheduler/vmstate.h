/* Nova's instance states as nubo-scheduler writes them (docs/internals.md,
 * "Instance states"), as tables: the state after each successful task action, the
 * state matching each power state an agent reports, and the reconcile rule. Pure. */
#ifndef NUBO_SCHED_VMSTATE_H
#define NUBO_SCHED_VMSTATE_H

/* Nova power_state codes. */
#define POWER_NOSTATE 0
#define POWER_RUNNING 1
#define POWER_PAUSED 3
#define POWER_SHUTDOWN 4
#define POWER_CRASHED 6
#define POWER_SUSPENDED 7

#define VMSTATE_STATUS_MAX 16 /* longest status or vm_state plus NUL */

struct vmstate {
	const char *status;   /* "ACTIVE", "SHUTOFF", ...; borrowed */
	const char *vm_state; /* "active", "stopped", ...; borrowed */
	int power;            /* POWER_* */
};

/* What a failed task does to its instance. */
enum vmstate_on_failure {
	VMSTATE_FAIL_ERROR, /* ERROR, fault_message = the agent's error */
	VMSTATE_FAIL_KEEP,  /* previous state kept (the reported power state still wins),
	                       task_state cleared, fault_message = the agent's error */
};

struct vmstate_action {
	const char *action; /* TASK_* */
	struct vmstate ok;  /* state after success */
	enum vmstate_on_failure on_failure;
};

/* The row for a TASK_* action, or NULL for an unknown one. */
const struct vmstate_action *vmstate_action_find(const char *action);

/* The state matching a power state an agent reports (VM_*): running -> ACTIVE,
 * shutoff -> SHUTOFF, paused -> PAUSED, suspended -> SUSPENDED, error -> ERROR
 * (crashed), deleted -> ERROR (vanished). NULL for anything else. */
const struct vmstate *vmstate_from_power(const char *reported);

/* Why reconcile puts an instance into ERROR. */
enum vmstate_fault {
	VMSTATE_FAULT_NONE,
	VMSTATE_FAULT_VANISHED, /* the host does not run it (any more) */
	VMSTATE_FAULT_CRASHED,  /* the host reports it in its error state */
};

/* The reconcile rule for an instance without an open task. cur is its row,
 * reported what its host says (a VM_* state; NULL when the host does not list it).
 * The reported power state wins, except that an instance in ERROR stays in ERROR
 * (only its power state follows) until a task moves it. Writes the state the row
 * must take into out (borrowed strings) and the fault to record into *fault, and
 * returns 1; returns 0 when the row already says the right thing. */
int vmstate_reconcile(const struct vmstate *cur, const char *reported, struct vmstate *out,
                      enum vmstate_fault *fault);

#endif

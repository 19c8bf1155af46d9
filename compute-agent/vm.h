/* Instances on this host and the drivers that run them. A struct vm is one directory
 * <state_dir>/instances/<id>/ plus what the agent knows of it (power state, QEMU pid).
 * A driver is a table of task actions; the QEMU driver (vm.c) runs real guests, the
 * fake driver (vm_fake.c) only records transitions, for controller tests.
 *
 * Threading: actions run in worker threads, one at a time per instance; the main
 * thread reads a vm's state for heartbeats and runs the driver's check. state and pid
 * are therefore read and written only through vm_get()/vm_set() (one lock). */
#ifndef NUBO_VM_H
#define NUBO_VM_H
#include <stddef.h>
#include <sys/types.h>

#include "compute_conf.h"
#include "image_cache.h"
#include "msg.h"
#include "priv.h"

/* What actions need besides the instance; read-only while workers run. */
struct vm_ctx {
	const struct compute_conf *conf;
	const char *accel; /* "kvm" or "tcg" */
	struct image_cache *images;
	char *instances_dir; /* <state_dir>/instances */
	char *tmp_dir;       /* <state_dir>/tmp */
	struct priv *priv;   /* the privileged helper (QEMU start, signals); NULL = none */
};

struct vm {
	char id[UUID_STR_LEN];
	char *dir; /* <state_dir>/instances/<id> */
	/* guarded by the vm lock: */
	char state[MSG_STATE_MAX]; /* a VM_* power state; "" while unknown (first spawn) */
	pid_t pid;                 /* QEMU pid, 0 when none */
};

/* New record for instance id (state unknown). Returns owned. */
struct vm *vm_new(const struct vm_ctx *ctx, const char *id);
void vm_free(struct vm *vm);
/* Copies the state into state (MSG_STATE_MAX bytes) and returns the pid. */
pid_t vm_get(struct vm *vm, char state[MSG_STATE_MAX]);
void vm_set(struct vm *vm, const char *state, pid_t pid);
/* Writes <vm dir>/<name> into buf. Returns buf. */
char *vm_path(const struct vm *vm, const char *name, char *buf, size_t len);

/* One task action: brings vm to the action's end state. Returns 0 (vm state set) or
 * a negative errno with err (vm state set to what the instance is now). */
typedef int (*vm_action_fn)(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                            char *err, size_t errlen);

struct vm_action {
	const char *action; /* a TASK_* word */
	vm_action_fn fn;
};

struct vm_driver {
	const char *name;
	const struct vm_action *actions;
	size_t n_actions;
	/* Learns the state of an existing instance directory after an agent restart
	 * (re-attach). Sets vm state; 0 or a negative errno when the dir is no instance. */
	int (*attach)(const struct vm_ctx *ctx, struct vm *vm);
	/* Main-thread liveness check between tasks; must not block. Returns 1 when the
	 * instance changed state by itself (vm state updated, why filled), else 0. */
	int (*check)(const struct vm_ctx *ctx, struct vm *vm, char *why, size_t whylen);
};

extern const struct vm_driver vm_driver_qemu;
extern const struct vm_driver vm_driver_fake;

/* The driver called name ("qemu", "fake"), or NULL. */
const struct vm_driver *vm_driver_find(const char *name);
/* The row of driver d for action, or NULL. */
const struct vm_action *vm_driver_action(const struct vm_driver *d, const char *action);

/* Runs task t on vm with driver d and fills r (a MSG_RESULT body; r->error owned).
 * Used by the worker threads. */
void vm_run_task(const struct vm_driver *d, const struct vm_ctx *ctx, struct vm *vm,
                 const struct msg_task *t, struct msg_result *r);

#endif

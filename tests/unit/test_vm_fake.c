/* The fake driver through vm_run_task (the worker's entry point): every action's
 * transition, idempotent repeats, refused transitions, re-attach, the power-off hook,
 * and spec.json round trips through the bus schema. Also the driver tables. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "compute-agent/vm.h"
#include "compute-agent/vm_snapshot.h"
#include "compute-agent/vm_spec.h"
#include "log.h"

#define ID "5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

struct fixture {
	char dir[64];
	struct compute_conf conf;
	struct vm_ctx ctx;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/nubo-test-fake.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->ctx.conf = &f->conf;
	f->ctx.accel = "tcg";
	f->ctx.instances_dir = f->dir;
	f->ctx.tmp_dir = f->dir;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	fs_remove_tree(f->dir);
	free(f);
	return 0;
}

static struct msg_task task(const char *action, const char *name)
{
	struct msg_task t;
	memset(&t, 0, sizeof(t));
	uuid_generate_str(t.task_id);
	strcpy(t.resource_id, ID);
	strcpy(t.action, action);
	t.p.spawn.name = (char *)name;
	t.p.spawn.vcpus = 1;
	t.p.spawn.ram_mb = 64;
	return t;
}

/* Runs action; checks ok and the end state; returns nothing. */
static void run(struct fixture *f, struct vm *vm, const char *action, int ok, const char *state)
{
	struct msg_task t = task(action, "vm-1");
	struct msg_result r;
	vm_run_task(&vm_driver_fake, &f->ctx, vm, &t, &r);
	if (r.ok != ok || strcmp(r.state, state))
		fprintf(stderr, "%s: ok=%d state=%s error=%s\n", action, r.ok, r.state,
		        r.error ? r.error : "");
	assert_int_equal(r.ok, ok);
	assert_string_equal(r.state, state);
	assert_string_equal(r.task_id, t.task_id);
	assert_string_equal(r.resource_id, ID);
	if (ok)
		assert_null(r.error);
	else
		assert_non_null(r.error);
	free(r.error);
}

static void lifecycle(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = vm_new(&f->ctx, ID);
	run(f, vm, TASK_STOP, 0, VM_DELETED); /* not on this host */
	run(f, vm, TASK_SPAWN, 1, VM_RUNNING);
	run(f, vm, TASK_SPAWN, 1, VM_RUNNING); /* repeated */
	run(f, vm, TASK_PAUSE, 1, VM_PAUSED);
	run(f, vm, TASK_PAUSE, 1, VM_PAUSED);
	run(f, vm, TASK_UNPAUSE, 1, VM_RUNNING);
	run(f, vm, TASK_SUSPEND, 1, VM_SUSPENDED);
	run(f, vm, TASK_PAUSE, 0, VM_SUSPENDED);
	run(f, vm, TASK_RESUME, 1, VM_RUNNING);
	run(f, vm, TASK_REBOOT, 1, VM_RUNNING);
	run(f, vm, TASK_STOP, 1, VM_SHUTOFF);
	run(f, vm, TASK_STOP, 1, VM_SHUTOFF);
	run(f, vm, TASK_PAUSE, 0, VM_SHUTOFF);
	run(f, vm, TASK_SUSPEND, 0, VM_SHUTOFF);
	run(f, vm, TASK_START, 1, VM_RUNNING);
	run(f, vm, TASK_HARD_REBOOT, 1, VM_RUNNING);
	run(f, vm, TASK_REBUILD, 1, VM_RUNNING);
	run(f, vm, TASK_STOP, 1, VM_SHUTOFF);
	run(f, vm, TASK_REBUILD, 1, VM_SHUTOFF); /* a stopped server stays stopped */
	run(f, vm, TASK_START, 1, VM_RUNNING);

	/* a new agent re-attaches from the directory */
	struct vm *again = vm_new(&f->ctx, ID);
	assert_int_equal(vm_driver_fake.attach(&f->ctx, again), 0);
	char st[MSG_STATE_MAX];
	vm_get(again, st);
	assert_string_equal(st, VM_RUNNING);
	vm_free(again);

	/* the guest powers itself off: check reports it once */
	char why[128], path[256];
	assert_int_equal(vm_driver_fake.check(&f->ctx, vm, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/fake.poweroff", vm->dir);
	assert_int_equal(fs_write_atomic(path, "", 0, 0600), 0);
	assert_int_equal(vm_driver_fake.check(&f->ctx, vm, why, sizeof(why)), 1);
	vm_get(vm, st);
	assert_string_equal(st, VM_SHUTOFF);
	assert_int_equal(vm_driver_fake.check(&f->ctx, vm, why, sizeof(why)), 0);

	/* the console log recorded the actions */
	snprintf(path, sizeof(path), "%s/console.log", vm->dir);
	char *con = fs_read(path, 1 << 20, NULL);
	assert_non_null(con);
	assert_non_null(strstr(con, "fake: spawn absent -> running"));
	assert_non_null(strstr(con, "fake: guest powered off"));
	free(con);

	run(f, vm, TASK_DELETE, 1, VM_DELETED);
	assert_false(fs_exists(vm->dir));
	run(f, vm, TASK_DELETE, 1, VM_DELETED);
	struct vm *gone = vm_new(&f->ctx, ID);
	assert_int_equal(vm_driver_fake.attach(&f->ctx, gone), -ENOENT);
	vm_free(gone);
	vm_free(vm);
}

static void spawn_failure_hook(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = vm_new(&f->ctx, ID);
	struct msg_task t = task(TASK_SPAWN, "fake-error-1");
	struct msg_result r;
	vm_run_task(&vm_driver_fake, &f->ctx, vm, &t, &r);
	assert_false(r.ok);
	assert_string_equal(r.state, VM_ERROR);
	assert_non_null(strstr(r.error, "fake spawn failure"));
	free(r.error);
	run(f, vm, TASK_STOP, 1, VM_SHUTOFF); /* an instance in error can be stopped */
	run(f, vm, TASK_DELETE, 1, VM_DELETED);
	vm_free(vm);
}

static void spec_round_trip(void **state)
{
	struct fixture *f = *state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/spec.json", f->dir);
	struct msg_task t = task(TASK_SPAWN, "web \"1\"");
	t.p.spawn.user_data = (char *)"IyEvYmluL3NoCg==";
	t.p.spawn.disk_gb = 10;
	t.p.spawn.key_name = (char *)"k";
	t.p.spawn.public_key = (char *)"ssh-ed25519 AAAA k@h";
	assert_int_equal(vm_spec_save(path, &t), 0);
	struct msg m;
	assert_int_equal(vm_spec_load(path, &m, err, sizeof(err)), 0);
	assert_int_equal(m.kind, MSG_TASK);
	assert_string_equal(m.u.task.resource_id, ID);
	assert_string_equal(m.u.task.p.spawn.name, "web \"1\"");
	assert_string_equal(m.u.task.p.spawn.user_data, "IyEvYmluL3NoCg==");
	assert_string_equal(m.u.task.p.spawn.public_key, "ssh-ed25519 AAAA k@h");
	assert_int_equal(m.u.task.p.spawn.vcpus, 1);
	assert_int_equal(m.u.task.p.spawn.ram_mb, 64);
	assert_int_equal(m.u.task.p.spawn.disk_gb, 10);
	msg_release(&m);
	/* a tampered spec is refused by the schema, a missing one is -ENOENT */
	assert_int_equal(fs_write_atomic(path, "{\"task_id\": 1}", 14, 0600), 0);
	assert_int_equal(vm_spec_load(path, &m, err, sizeof(err)), -EINVAL);
	assert_int_equal(fs_write_atomic(path, "[1,2]", 5, 0600), 0);
	assert_int_equal(vm_spec_load(path, &m, err, sizeof(err)), -EINVAL);
	unlink(path);
	assert_int_equal(vm_spec_load(path, &m, err, sizeof(err)), -ENOENT);
}

static void driver_tables(void **state)
{
	static const char *const actions[] = {
	    TASK_SPAWN, TASK_DELETE,  TASK_START,   TASK_STOP,   TASK_REBOOT, TASK_HARD_REBOOT,
	    TASK_PAUSE, TASK_UNPAUSE, TASK_SUSPEND, TASK_RESUME, TASK_REBUILD};
	assert_ptr_equal(vm_driver_find("qemu"), &vm_driver_qemu);
	assert_ptr_equal(vm_driver_find("fake"), &vm_driver_fake);
	assert_null(vm_driver_find("xen"));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		assert_non_null(vm_driver_action(&vm_driver_qemu, actions[i]));
		assert_non_null(vm_driver_action(&vm_driver_fake, actions[i]));
		assert_true(msg_action_valid(actions[i]));
	}
	assert_null(vm_driver_action(&vm_driver_qemu, "migrate"));
}

static int mark_there(struct vm *vm)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/snapshot.stopped", vm->dir);
	return access(path, F_OK) == 0;
}

static void mark_put(struct vm *vm)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/snapshot.stopped", vm->dir);
	assert_int_equal(fs_write_atomic(path, "", 0, 0600), 0);
}

/* Review s7 M3: the mark a snapshot whose resume failed leaves is dropped by the
 * user's next power action, so a later pause of theirs is not taken for the
 * snapshot's and resumed at the agent's restart; a snapshot task keeps it. */
static void snapshot_mark_forgotten(void **state)
{
	struct fixture *f = *state;
	struct vm *vm = vm_new(&f->ctx, ID);
	run(f, vm, TASK_SPAWN, 1, VM_RUNNING);
	run(f, vm, TASK_PAUSE, 1, VM_PAUSED);
	mark_put(vm);
	struct msg_task t = task(TASK_SNAPSHOT, "vm-1");
	struct msg_result r;
	vm_run_task(&vm_driver_fake, &f->ctx, vm, &t, &r);
	free(r.error);
	assert_true(mark_there(vm));
	run(f, vm, TASK_UNPAUSE, 1, VM_RUNNING);
	assert_false(mark_there(vm));
	run(f, vm, TASK_PAUSE, 1, VM_PAUSED);
	char st[MSG_STATE_MAX] = VM_PAUSED;
	vm_snapshot_reattach(vm, st); /* no mark: the user's pause stays */
	assert_string_equal(st, VM_PAUSED);
	mark_put(vm);
	run(f, vm, TASK_STOP, 1, VM_SHUTOFF);
	assert_false(mark_there(vm));
	vm_free(vm);
}

int main(void)
{
	log_init("test", LOG_LVL_ERR);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(snapshot_mark_forgotten, setup, teardown),
	    cmocka_unit_test_setup_teardown(spawn_failure_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(spec_round_trip, setup, teardown),
	    cmocka_unit_test(driver_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

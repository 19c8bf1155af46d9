/* The fake driver ([compute] driver = fake): no QEMU, each action is a row of a
 * transition table applied to a state file, so the scheduler and API can be tested
 * on any machine. It keeps spec.json, fake.state and a console.log line per action
 * in the instance directory, so agent restarts behave as with real guests.
 * Test hooks: an instance whose name starts with "fake-error" fails to spawn; a file
 * "fake.poweroff" dropped into a running instance's directory makes it power off by
 * itself (reported as an event). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "configdrive.h"
#include "fsutil.h"
#include "vm.h"
#include "vm_spec.h"
#include "xalloc.h"

enum {
	S_RUNNING = 1 << 0,
	S_PAUSED = 1 << 1,
	S_SUSPENDED = 1 << 2,
	S_SHUTOFF = 1 << 3,
	S_ERROR = 1 << 4,
	S_NONE = 1 << 5, /* no instance directory */
	S_ANY = 0x3f,
	S_UP = S_RUNNING | S_PAUSED | S_SUSPENDED,
};

struct fake_row {
	const char *action;
	unsigned from; /* states the action accepts */
	const char *to;
};

static const struct fake_row fake_rows[] = {
    {TASK_SPAWN, S_ANY, VM_RUNNING},
    {TASK_DELETE, S_ANY, VM_DELETED},
    {TASK_START, S_UP | S_SHUTOFF | S_ERROR, VM_RUNNING},
    {TASK_STOP, S_UP | S_SHUTOFF | S_ERROR, VM_SHUTOFF},
    {TASK_REBOOT, S_UP | S_SHUTOFF, VM_RUNNING},
    {TASK_HARD_REBOOT, S_UP | S_SHUTOFF | S_ERROR, VM_RUNNING},
    {TASK_PAUSE, S_RUNNING | S_PAUSED, VM_PAUSED},
    {TASK_UNPAUSE, S_RUNNING | S_PAUSED, VM_RUNNING},
    {TASK_SUSPEND, S_UP, VM_SUSPENDED},
    {TASK_RESUME, S_UP, VM_RUNNING},
    {TASK_REBUILD, S_UP | S_SHUTOFF | S_ERROR, VM_RUNNING}, /* shut off stays off */
    {TASK_NICS, S_UP | S_SHUTOFF, ""},                      /* "": the state stays */
};

static const struct {
	const char *state;
	unsigned bit;
} state_bits[] = {
    {VM_RUNNING, S_RUNNING}, {VM_PAUSED, S_PAUSED}, {VM_SUSPENDED, S_SUSPENDED},
    {VM_SHUTOFF, S_SHUTOFF}, {VM_ERROR, S_ERROR},
};

static unsigned state_bit(const char *state)
{
	for (size_t i = 0; i < sizeof(state_bits) / sizeof(state_bits[0]); i++)
		if (!strcmp(state_bits[i].state, state))
			return state_bits[i].bit;
	return S_NONE;
}

/* State stored on disk, "" when the instance does not exist. */
static void fake_state_read(const struct vm *vm, char state[MSG_STATE_MAX])
{
	char path[4096];
	char *text = fs_read(vm_path(vm, "fake.state", path, sizeof(path)), 64, NULL);
	state[0] = '\0';
	if (text) {
		text[strcspn(text, "\n")] = '\0';
		if (msg_state_valid(text))
			strlcpy_checked(state, text, MSG_STATE_MAX);
	}
	free(text);
}

static int fake_state_write(const struct vm *vm, const char *state)
{
	char path[4096], line[64];
	int n = snprintf(line, sizeof(line), "%s\n", state);
	return fs_write_atomic(vm_path(vm, "fake.state", path, sizeof(path)), line, (size_t)n,
	                       0600);
}

static void fake_console(const struct vm *vm, const char *text)
{
	char path[4096];
	FILE *f = fopen(vm_path(vm, "console.log", path, sizeof(path)), "ae");
	if (f) {
		fprintf(f, "fake: %s\n", text);
		fclose(f);
	}
}

static int fake_act(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                    size_t errlen)
{
	const struct fake_row *row = NULL;
	char cur[MSG_STATE_MAX], path[4096];
	for (size_t i = 0; i < sizeof(fake_rows) / sizeof(fake_rows[0]); i++)
		if (!strcmp(fake_rows[i].action, t->action))
			row = &fake_rows[i];
	if (!row)
		return -ENOTSUP;
	if (ctx->conf->fake_delay_ms)
		usleep((useconds_t)ctx->conf->fake_delay_ms * 1000);
	fake_state_read(vm, cur);
	unsigned bit = cur[0] ? state_bit(cur) : S_NONE;
	if (!(row->from & bit)) {
		snprintf(err, errlen, "%s is not possible in state %s", t->action,
		         cur[0] ? cur : "absent");
		vm_set(vm, cur[0] ? cur : VM_DELETED, 0);
		return bit == S_NONE ? -ENOENT : -EINVAL;
	}
	if (!strcmp(row->to, VM_DELETED)) {
		int rc = fs_remove_tree(vm->dir);
		vm_set(vm, rc < 0 ? VM_ERROR : VM_DELETED, 0);
		if (rc < 0)
			snprintf(err, errlen, "removing %s: %s", vm->dir, strerror(-rc));
		return rc;
	}
	if (!strcmp(t->action, TASK_SPAWN) && bit != S_NONE && bit != S_ERROR) {
		vm_set(vm, cur, 0); /* a repeated spawn */
		return 0;
	}
	const char *to = row->to;
	if (!to[0])
		to = cur;
	if (!strcmp(t->action, TASK_REBUILD) && bit == S_SHUTOFF)
		to = VM_SHUTOFF;
	if (!strcmp(t->action, TASK_SPAWN) || !strcmp(t->action, TASK_REBUILD)) {
		/* the same input checks as the QEMU driver, so controller tests see them */
		if (t->p.spawn.user_data && *t->p.spawn.user_data) {
			unsigned char *ud = NULL;
			size_t udlen;
			int bad =
			    configdrive_user_data(t->p.spawn.user_data, &ud, &udlen, err, errlen);
			free(ud);
			if (bad < 0) {
				vm_set(vm, VM_ERROR, 0);
				return bad;
			}
		}
		int rc = fs_mkdir_p(vm->dir, 0700);
		if (rc == 0)
			rc = vm_spec_save(vm_path(vm, "spec.json", path, sizeof(path)), t);
		if (rc == 0 && t->p.spawn.name && !strncmp(t->p.spawn.name, "fake-error", 10)) {
			snprintf(err, errlen, "fake spawn failure requested by the instance name");
			fake_state_write(vm, VM_ERROR);
			vm_set(vm, VM_ERROR, 0);
			return -EIO;
		}
		if (rc < 0) {
			snprintf(err, errlen, "instance directory: %s", strerror(-rc));
			vm_set(vm, VM_ERROR, 0);
			return rc;
		}
	}
	int rc = fake_state_write(vm, to);
	if (rc < 0) {
		snprintf(err, errlen, "fake.state: %s", strerror(-rc));
		vm_set(vm, cur, 0);
		return rc;
	}
	char line[128];
	snprintf(line, sizeof(line), "%s %s -> %s", t->action, cur[0] ? cur : "absent", to);
	fake_console(vm, line);
	vm_set(vm, to, 0);
	return 0;
}

static int fake_attach(const struct vm_ctx *ctx, struct vm *vm)
{
	char state[MSG_STATE_MAX], path[4096];
	if (!fs_exists(vm_path(vm, "spec.json", path, sizeof(path))))
		return -ENOENT;
	fake_state_read(vm, state);
	vm_set(vm, state[0] ? state : VM_ERROR, 0);
	return 0;
}

static int fake_check(const struct vm_ctx *ctx, struct vm *vm, char *why, size_t whylen)
{
	char path[4096], state[MSG_STATE_MAX];
	vm_get(vm, state);
	if (strcmp(state, VM_RUNNING) ||
	    unlink(vm_path(vm, "fake.poweroff", path, sizeof(path))) < 0)
		return 0;
	fake_state_write(vm, VM_SHUTOFF);
	fake_console(vm, "guest powered off");
	vm_set(vm, VM_SHUTOFF, 0);
	snprintf(why, whylen, "the guest powered off");
	return 1;
}

#define FAKE_ROW(a)                                                                                \
	{                                                                                          \
		a, fake_act                                                                        \
	}
static const struct vm_action fake_actions[] = {
    FAKE_ROW(TASK_SPAWN),  FAKE_ROW(TASK_DELETE),  FAKE_ROW(TASK_START),
    FAKE_ROW(TASK_STOP),   FAKE_ROW(TASK_REBOOT),  FAKE_ROW(TASK_HARD_REBOOT),
    FAKE_ROW(TASK_PAUSE),  FAKE_ROW(TASK_UNPAUSE), FAKE_ROW(TASK_SUSPEND),
    FAKE_ROW(TASK_RESUME), FAKE_ROW(TASK_REBUILD), FAKE_ROW(TASK_NICS),
};

const struct vm_driver vm_driver_fake = {
    .name = "fake",
    .actions = fake_actions,
    .n_actions = sizeof(fake_actions) / sizeof(fake_actions[0]),
    .attach = fake_attach,
    .check = fake_check,
};

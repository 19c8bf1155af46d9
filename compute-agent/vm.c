/* The QEMU driver: one QEMU per instance, started by the privileged helper as the
 * unprivileged QEMU user in its own session (so it survives the agent) with its files
 * as inherited descriptors, controlled over QMP; every action is idempotent towards
 * its end state.
 *
 * Behaviour choices, documented once here:
 * - A guest that powers itself off ends its QEMU (no -no-shutdown, exit status 0); the
 *   main thread's check notices the pid is gone and reports the instance shutoff. A
 *   QEMU that ends otherwise (a signal, a non-zero status) crashed: the instance is
 *   reported in error with what happened and the last console lines, kept in the
 *   "error" file until it boots again.
 * - suspend saves the guest's memory and device state to memory.state (QEMU
 *   migration to a file descriptor, vm_save.c) and ends QEMU, so a suspended
 *   instance holds no host RAM and survives an agent or host restart; resume (or
 *   start) restores it. Should the save fail, suspend falls back to stopping the
 *   vCPUs and marking the instance suspended (memory kept in QEMU). stop, reboot
 *   and hard_reboot of a suspended instance discard the saved state (cold boot). A
 *   restore that fails boots the guest from its disk, with a warning.
 * - A failed spawn leaves the directory with an "error" file holding the reason, and
 *   the instance is reported in state error until it is deleted or spawned again. */
#include "vm.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "configdrive.h"
#include "fsutil.h"
#include "log.h"
#include "overlay.h"
#include "proc.h"
#include "qemu_argv.h"
#include "qemu_img.h"
#include "qmp.h"
#include "util.h"
#include "vm_iface.h"
#include "vm_priv.h"
#include "vm_save.h"
#include "vm_snapshot.h"
#include "vm_spec.h"
#include "vm_volume.h"
#include "xalloc.h"

#define QMP_TIMEOUT_MS 5000
#define LAUNCH_TIMEOUT_MS 60000 /* until QEMU answers on its monitor */
#define QUIT_WAIT_MS 3000
#define KILL_WAIT_MS 5000
#define POLL_MS 100

/* Files of an instance directory. */
#define F_SPEC "spec.json"
#define F_DISK "disk.qcow2"
#define F_CONFIG "config.iso"
#define F_QMP "qmp.sock"
#define F_CONSOLE "console.log"
#define F_PID "qemu.pid"
#define F_QEMU_LOG "qemu.log"   /* QEMU's own stdout/stderr */
#define F_SUSPENDED "suspended" /* in-memory suspend (fallback): vCPUs stopped */
#define F_MEMORY "memory.state" /* saved suspend: guest state on disk, no QEMU */
#define F_ERROR "error"
#define F_BASE OVERLAY_BASE /* hard link of the cached base image (overlay.h) */

static pthread_mutex_t vm_lock = PTHREAD_MUTEX_INITIALIZER;

struct vm *vm_new(const struct vm_ctx *ctx, const char *id)
{
	struct vm *vm = xcalloc(1, sizeof(*vm));
	strlcpy_checked(vm->id, id, sizeof(vm->id));
	vm->dir = xasprintf("%s/%s", ctx->instances_dir, id);
	return vm;
}

void vm_free(struct vm *vm)
{
	if (!vm)
		return;
	free(vm->dir);
	free(vm);
}

pid_t vm_get(struct vm *vm, char state[MSG_STATE_MAX])
{
	pthread_mutex_lock(&vm_lock);
	memcpy(state, vm->state, MSG_STATE_MAX);
	pid_t pid = vm->pid;
	pthread_mutex_unlock(&vm_lock);
	return pid;
}

void vm_set(struct vm *vm, const char *state, pid_t pid)
{
	pthread_mutex_lock(&vm_lock);
	strlcpy_checked(vm->state, state, sizeof(vm->state));
	vm->pid = pid;
	pthread_mutex_unlock(&vm_lock);
}

char *vm_path(const struct vm *vm, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", vm->dir, name);
	return buf;
}

/* ---- QEMU process ------------------------------------------------------------ */

static int qemu_alive(const struct vm *vm, pid_t pid)
{
	return pid > 0 && proc_alive(pid, vm->id);
}

static pid_t qemu_pid_read(const struct vm *vm)
{
	char path[4096];
	char *text = fs_read(vm_path(vm, F_PID, path, sizeof(path)), 64, NULL);
	long pid = text ? strtol(text, NULL, 10) : 0;
	free(text);
	return pid > 0 && pid < (1L << 22) ? (pid_t)pid : 0;
}

/* The pid of this instance's QEMU when it runs, else 0. */
static pid_t qemu_running(const struct vm *vm)
{
	pid_t pid = qemu_pid_read(vm);
	return qemu_alive(vm, pid) ? pid : 0;
}

static int qemu_wait_gone(const struct vm *vm, pid_t pid, int ms)
{
	int64_t deadline = time_mono_ms() + ms;
	while (qemu_alive(vm, pid)) {
		if (time_mono_ms() >= deadline)
			return -ETIMEDOUT;
		usleep(POLL_MS * 1000);
	}
	return 0;
}

/* Ends QEMU now: "quit" over QMP, then SIGKILL. 0, or -EBUSY when it survives. */
static int qemu_kill(const struct vm_ctx *ctx, const struct vm *vm, pid_t pid, char *err,
                     size_t errlen)
{
	char path[4096], why[256];
	if (!qemu_alive(vm, pid))
		return 0;
	int rc = qmp_call(vm_path(vm, F_QMP, path, sizeof(path)), "quit", NULL, NULL,
	                  QMP_TIMEOUT_MS, why, sizeof(why));
	if ((rc == 0 || rc == -ECONNRESET) && qemu_wait_gone(vm, pid, QUIT_WAIT_MS) == 0)
		return 0;
	if (ctx->priv)
		rc = vm_priv_qemu_signal(ctx->priv, vm->id, pid, SIGKILL, why, sizeof(why));
	else
		rc = kill(pid, SIGKILL) < 0 ? -errno : 0;
	if (rc < 0 && rc != -ESRCH)
		log_warn("instance %s: SIGKILL to QEMU pid %d: %s", vm->id, (int)pid, why);
	if (qemu_wait_gone(vm, pid, KILL_WAIT_MS) == 0)
		return 0;
	snprintf(err, errlen, "QEMU (pid %d) does not exit", (int)pid);
	return -EBUSY;
}

/* QEMU run states (query-status) and the power state each one means. */
static const struct {
	const char *qemu;
	const char *state;
} status_map[] = {
    {"running", VM_RUNNING},       {"paused", VM_PAUSED},    {"suspended", VM_PAUSED},
    {"prelaunch", VM_PAUSED},      {"inmigrate", VM_PAUSED}, {"postmigrate", VM_PAUSED},
    {"finish-migrate", VM_PAUSED}, {"save-vm", VM_PAUSED},   {"restore-vm", VM_PAUSED},
    {"debug", VM_PAUSED},          {"watchdog", VM_PAUSED},  {"colo", VM_RUNNING},
    {"shutdown", VM_SHUTOFF},      {"io-error", VM_ERROR},   {"internal-error", VM_ERROR},
    {"guest-panicked", VM_ERROR},
};

static const char *status_to_state(const char *qemu_status)
{
	for (size_t i = 0; i < sizeof(status_map) / sizeof(status_map[0]); i++)
		if (!strcmp(status_map[i].qemu, qemu_status))
			return status_map[i].state;
	return VM_ERROR;
}

/* Power state of a running QEMU: query-status, and the suspended marker over a pause. */
static int qemu_state(const struct vm *vm, char state[MSG_STATE_MAX], char *err, size_t errlen)
{
	char path[4096], status[64];
	int rc = qmp_query_status(vm_path(vm, F_QMP, path, sizeof(path)), status, sizeof(status),
	                          QMP_TIMEOUT_MS, err, errlen);
	if (rc < 0)
		return rc;
	const char *s = status_to_state(status);
	if (!strcmp(s, VM_PAUSED) && fs_exists(vm_path(vm, F_SUSPENDED, path, sizeof(path))))
		s = VM_SUSPENDED;
	strlcpy_checked(state, s, MSG_STATE_MAX);
	return 0;
}

static int qmp_simple(const struct vm *vm, const char *cmd, char *err, size_t errlen)
{
	char path[4096];
	return qmp_call(vm_path(vm, F_QMP, path, sizeof(path)), cmd, NULL, NULL, QMP_TIMEOUT_MS,
	                err, errlen);
}

static void marker_clear(const struct vm *vm, const char *name)
{
	char path[4096];
	unlink(vm_path(vm, name, path, sizeof(path)));
}

static int marker_set(const struct vm *vm, const char *name, const char *text)
{
	char path[4096];
	return fs_write_atomic(vm_path(vm, name, path, sizeof(path)), text, strlen(text), 0600);
}

/* The power state of an instance without a QEMU: suspended when its memory is saved,
 * error after a failed spawn, else shutoff. */
static const char *down_state(const struct vm *vm)
{
	char path[4096];
	if (fs_exists(vm_path(vm, F_MEMORY, path, sizeof(path))))
		return VM_SUSPENDED;
	if (fs_exists(vm_path(vm, F_ERROR, path, sizeof(path))))
		return VM_ERROR;
	return VM_SHUTOFF;
}

/* A save or restore gets 30 s plus 20 ms per MiB of guest RAM. */
static int save_timeout_ms(int ram_mb)
{
	return 30000 + 20 * ram_mb;
}

/* The last lines of an instance file (at most max bytes, printable), into out. */
static void file_tail(const struct vm *vm, const char *name, size_t max, char *out, size_t outlen)
{
	char path[4096];
	out[0] = '\0';
	long long size = fs_size(vm_path(vm, name, path, sizeof(path)));
	FILE *f = size > 0 ? fopen(path, "re") : NULL;
	if (!f)
		return;
	if (max >= outlen)
		max = outlen - 1;
	if ((long long)max > size)
		max = (size_t)size;
	if (fseeko(f, size - (off_t)max, SEEK_SET) == 0) {
		size_t n = fread(out, 1, max, f);
		out[n] = '\0';
		while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
			out[--n] = '\0';
		/* start at a line boundary, unless that leaves nothing */
		char *nl = strchr(out, '\n');
		if (nl && size > (long long)max && nl[1])
			memmove(out, nl + 1, strlen(nl + 1) + 1);
		msg_sanitize_text(out, strlen(out));
		/* one line: carriage returns dropped, newlines shown as '|' */
		char *o = out;
		for (const char *c = out; *c; c++)
			if (*c != '\r')
				*o++ = *c == '\n' ? '|' : *c;
		*o = '\0';
	}
	fclose(f);
}

/* How a QEMU ended, from its wait status, into out. Returns 1 when that was a crash
 * (a signal, a non-zero status), 0 for a clean exit (the guest powered off). */
static int qemu_end_text(int status, char *out, size_t outlen)
{
	if (WIFSIGNALED(status)) {
		snprintf(out, outlen, "QEMU was killed by signal %d (%s)", WTERMSIG(status),
		         strsignal(WTERMSIG(status)));
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
		snprintf(out, outlen, "QEMU exited with status %d", WEXITSTATUS(status));
		return 1;
	}
	snprintf(out, outlen, "the guest powered off");
	return 0;
}

/* Waits until a just started QEMU answers on its monitor (or, with incoming, waits
 * for its saved state) and fills state. On failure err says why, with QEMU's own last
 * words and how it ended when it did. */
static int qemu_wait_ready(const struct vm_ctx *ctx, struct vm *vm, pid_t pid,
                           char state[MSG_STATE_MAX], char *err, size_t errlen)
{
	char why[256] = "", end[128] = "", words[512];
	int64_t deadline = time_mono_ms() + LAUNCH_TIMEOUT_MS;
	int status;
	for (;;) {
		if (!qemu_alive(vm, pid))
			break;
		if (qemu_state(vm, state, why, sizeof(why)) == 0)
			return 0;
		if (time_mono_ms() >= deadline) {
			snprintf(err, errlen,
			         "QEMU did not start: its monitor did not answer in %d s "
			         "(%s)",
			         LAUNCH_TIMEOUT_MS / 1000, why);
			return -ETIMEDOUT;
		}
		usleep(POLL_MS * 1000);
	}
	for (int i = 0; i < 100; i++) { /* the helper reaps it in a moment */
		int rc = vm_priv_qemu_status(ctx->priv, vm->id, pid, &status);
		if (rc == 1) {
			qemu_end_text(status, end, sizeof(end));
			break;
		}
		if (rc < 0)
			break;
		usleep(10 * 1000);
	}
	file_tail(vm, F_QEMU_LOG, 300, words, sizeof(words));
	snprintf(err, errlen, "QEMU did not start%s%s%s%s", end[0] ? " (" : "", end,
	         end[0] ? ")" : "", words[0] ? ": " : "");
	size_t used = strlen(err);
	if (words[0] && used < errlen)
		snprintf(err + used, errlen - used, "%s", words);
	return -EIO;
}

/* The root disk of a server booting from a volume, into req: the pool file of this
 * machine's storage agent, or the NBD export of another machine's (its key written
 * for QEMU to read at start, removed by the caller once QEMU runs). */
static int root_volume_prepare(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *spec,
                               struct vm_priv_start *req, char *err, size_t errlen)
{
	const struct msg_spawn *p = &spec->p.spawn;
	char dir[4096];
	snprintf(req->volume_id, sizeof(req->volume_id), "%s", p->boot_volume_id);
	if (p->nbd_port <= 0)
		return vm_volume_local(ctx, p->boot_volume_id, p->boot_volume_host, err, errlen);
	if (!p->nbd_host[0] || !uuid_is_valid(p->attachment_id) ||
	    strlen(p->psk) != MSG_PSK_LEN - 1) {
		snprintf(err, errlen, "the boot volume's NBD export has no address or key");
		return -EINVAL;
	}
	int rc = vm_volume_psk_dir_make(vm_path(vm, VM_PRIV_PSK_DIR, dir, sizeof(dir)),
	                                p->attachment_id, p->psk);
	if (rc < 0) {
		snprintf(err, errlen, "the boot volume's key file: %s", strerror(-rc));
		return rc;
	}
	snprintf(req->nbd_host, sizeof(req->nbd_host), "%s", p->nbd_host);
	req->nbd_port = p->nbd_port;
	snprintf(req->attachment_id, sizeof(req->attachment_id), "%s", p->attachment_id);
	return 0;
}

/* Makes <vm dir>/base a hard link of the cached image p names (downloaded when no
 * cache entry serves it) and fills info. 0 or a negative errno with err. */
static int base_link(const struct vm_ctx *ctx, const struct vm *vm, const struct msg_spawn *p,
                     struct image_info *info, char *err, size_t errlen)
{
	char base[4096];
	int fetched = 0;
	const struct image_ref img = {.id = p->image_id,
	                              .url = p->image_url,
	                              .sha512 = p->image_hash,
	                              .md5 = p->image_checksum,
	                              .format = p->image_format};
	int rc = image_cache_link(ctx->images, &img, vm_path(vm, F_BASE, base, sizeof(base)), info,
	                          &fetched, err, errlen);
	if (rc == 0 && fetched)
		log_info("instance %s: image %s downloaded into the base image cache", vm->id,
		         p->image_id);
	return rc;
}

/* The base of an instance about to start (no QEMU has its disk open), into info: its
 * own link, or, for a disk made before instances had one (its header names the
 * cache's file by path), a link made now and the disk pointed at it. */
static int base_ready(const struct vm_ctx *ctx, const struct vm *vm, const struct msg_spawn *p,
                      struct image_info *info, char *err, size_t errlen)
{
	char base[4096], disk[4096];
	if (!fs_exists(vm_path(vm, F_BASE, base, sizeof(base)))) {
		int rc = base_link(ctx, vm, p, info, err, errlen);
		if (rc == 0)
			rc = overlay_rebase(vm_path(vm, F_DISK, disk, sizeof(disk)), F_BASE,
			                    info->format, err, errlen);
		return rc;
	}
	/* checked as its disk_format when it was cached: the driver of that format */
	const char *drv = qemu_img_driver(p->image_format);
	if (drv) {
		strlcpy_checked(info->format, drv, sizeof(info->format));
		return 0;
	}
	struct qemu_img_info q;
	int rc = qemu_img_check(base, NULL, &q, err, errlen);
	if (rc == 0)
		strlcpy_checked(info->format, q.format, sizeof(info->format));
	return rc;
}

/* An instance made before instances had their own base link, found at agent start:
 * its disk's header names <state_dir>/images/<image id>, the old cache's file. That
 * file gets the link now, so the cache sees it in use and never evicts the name the
 * header still points at (createImage's qemu-img follows it) while the instance
 * lives. Best effort: base_ready makes the link at the next start anyway. */
static void base_adopt(const struct vm_ctx *ctx, const struct vm *vm)
{
	char path[4096], base[4096], old[4096], why[256];
	struct msg spec;
	if (fs_exists(vm_path(vm, F_BASE, base, sizeof(base))) ||
	    vm_spec_load(vm_path(vm, F_SPEC, path, sizeof(path)), &spec, why, sizeof(why)) < 0)
		return;
	const struct msg_spawn *p = &spec.u.task.p.spawn;
	snprintf(old, sizeof(old), "%s/images/%s", ctx->conf->state_dir, p->image_id);
	if (!p->boot_volume_id[0] && uuid_is_valid(p->image_id) && fs_exists(old)) {
		if (link(old, base) == 0)
			log_info("instance %s: base image linked from the old cache's %s", vm->id,
			         p->image_id);
		else
			log_warn("instance %s: link of the base image %s: %s", vm->id, old,
			         strerror(errno));
	}
	msg_release(&spec);
}

/* Starts QEMU for spec (disk already in place) through the privileged helper and
 * waits until it runs (or, with incoming, until it waits for the saved state). */
static int qemu_launch(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *spec,
                       int incoming, char *err, size_t errlen)
{
	char disk[4096], pidtext[32], state[MSG_STATE_MAX];
	struct image_info info = {0};
	struct vm_priv_start req = {.vcpus = spec->p.spawn.vcpus,
	                            .ram_mb = spec->p.spawn.ram_mb,
	                            .incoming = incoming,
	                            .disk_qos = spec->p.spawn.disk_qos};
	int rc = 0;
	pid_t pid = 0;
	int64_t t0 = time_mono_ms();

	const char *volume = spec->p.spawn.boot_volume_id;
	if (!volume[0] && !fs_exists(vm_path(vm, F_DISK, disk, sizeof(disk)))) {
		snprintf(err, errlen, "instance disk is missing");
		rc = -ENOENT;
		goto out;
	}
	if (!ctx->priv) {
		snprintf(err, errlen, "no privileged helper to start QEMU with");
		rc = -EPERM;
		goto out;
	}
	snprintf(req.id, sizeof(req.id), "%s", vm->id);
	if (volume[0]) { /* the volume is the root disk: no image, no overlay */
		rc = root_volume_prepare(ctx, vm, spec, &req, err, errlen);
		if (rc < 0)
			goto out;
		goto named;
	}
	/* the overlay's base: the instance's own link of the cached image */
	rc = base_ready(ctx, vm, &spec->p.spawn, &info, err, errlen);
	if (rc < 0)
		goto out;
	snprintf(req.image_id, sizeof(req.image_id), "%s", spec->p.spawn.image_id);
	if (strlcpy_checked(req.base_format, info.format, sizeof(req.base_format)) < 0) {
		snprintf(err, errlen, "base image format %.16s", info.format);
		rc = -EINVAL;
		goto out;
	}
named:
	snprintf(req.accel, sizeof(req.accel), "%s", ctx->accel);
	if (vm_nics_from_spawn(&spec->p.spawn, &req.nics) < 0) {
		snprintf(err, errlen, "more than %d NICs", VM_NICS_MAX);
		rc = -E2BIG;
		goto out;
	}
	snprintf(req.name, sizeof(req.name), "%s", spec->p.spawn.name ? spec->p.spawn.name : "");
	msg_sanitize_text(req.name, strlen(req.name));
	for (char *c = req.name; *c; c++)
		if (*c == '\n' || *c == '\r' || *c == '\t')
			*c = ' ';
	marker_clear(vm, F_PID);
	marker_clear(vm, F_SUSPENDED);
	pid = vm_priv_qemu_start(ctx->priv, &req, err, errlen);
	if (pid < 0) {
		rc = pid;
		pid = 0;
		goto out;
	}
	/* the pid file lets a restarted agent find its QEMU again */
	snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
	rc = marker_set(vm, F_PID, pidtext);
	if (rc < 0) {
		snprintf(err, errlen, "qemu.pid: %s", strerror(-rc));
		goto out;
	}
	rc = qemu_wait_ready(ctx, vm, pid, state, err, errlen);
	if (rc < 0)
		goto out;
	marker_clear(vm, F_ERROR); /* it runs: an earlier crash is history */
	vm_set(vm, state, pid);
	log_info("instance %s: QEMU pid %d %s in %lld ms (%s)", vm->id, (int)pid, state,
	         (long long)(time_mono_ms() - t0), ctx->accel);
out:
	if (rc < 0 && pid > 0) {
		char why[256];
		qemu_kill(ctx, vm, pid, why, sizeof(why));
	}
	fs_remove_tree(vm_path(vm, VM_PRIV_PSK_DIR, disk, sizeof(disk))); /* read at start */
	return rc;
}

/* Records that the instance is gone from this host: err says so, vm is DELETED.
 * Returns -ENOENT. */
static int vm_not_here(struct vm *vm, char *err, size_t errlen)
{
	snprintf(err, errlen, "instance is not on this host");
	vm_set(vm, VM_DELETED, 0);
	return -ENOENT;
}

/* 0 while the instance's directory exists, else vm_not_here(). */
static int vm_here(struct vm *vm, char *err, size_t errlen)
{
	return fs_exists(vm->dir) ? 0 : vm_not_here(vm, err, errlen);
}

/* Loads spec.json; a missing one means the instance is not on this host. */
static int spec_load(struct vm *vm, struct msg *spec, char *err, size_t errlen)
{
	char path[4096];
	int rc = vm_spec_load(vm_path(vm, F_SPEC, path, sizeof(path)), spec, err, errlen);
	return rc == -ENOENT ? vm_not_here(vm, err, errlen) : rc;
}

/* ---- actions ------------------------------------------------------------------- */

/* Boots the instance from its disk (cold), discarding any saved memory. */
static int vm_boot(const struct vm_ctx *ctx, struct vm *vm, char *err, size_t errlen)
{
	struct msg spec;
	int rc = spec_load(vm, &spec, err, errlen);
	if (rc < 0)
		return rc;
	marker_clear(vm, F_MEMORY);
	rc = qemu_launch(ctx, vm, &spec.u.task, 0, err, errlen);
	if (rc < 0)
		vm_set(vm, down_state(vm), 0);
	msg_release(&spec);
	return rc;
}

/* Brings a saved (suspended) instance back: a QEMU waiting for incoming state, fed
 * memory.state. A restore that fails falls back to a cold boot. */
static int vm_restore(const struct vm_ctx *ctx, struct vm *vm, char *err, size_t errlen)
{
	char qmp[4096], mem[4096], why[512];
	struct msg spec;
	int64_t t0 = time_mono_ms();
	int rc = spec_load(vm, &spec, err, errlen);
	if (rc < 0)
		return rc;
	rc = qemu_launch(ctx, vm, &spec.u.task, 1, why, sizeof(why));
	if (rc == 0)
		rc = vm_restore_from_file(
		    vm_path(vm, F_QMP, qmp, sizeof(qmp)), vm_path(vm, F_MEMORY, mem, sizeof(mem)),
		    save_timeout_ms(spec.u.task.p.spawn.ram_mb), why, sizeof(why));
	msg_release(&spec);
	if (rc == 0) {
		char state[MSG_STATE_MAX];
		pid_t pid = qemu_pid_read(vm);
		if (qemu_state(vm, state, why, sizeof(why)) < 0)
			strcpy(state, VM_RUNNING);
		marker_clear(vm, F_MEMORY);
		vm_set(vm, state, pid);
		log_info("instance %s: restored from saved memory in %lld ms", vm->id,
		         (long long)(time_mono_ms() - t0));
		return 0;
	}
	log_warn("instance %s: restoring saved memory failed (%s); booting from disk", vm->id, why);
	pid_t pid = qemu_pid_read(vm);
	if (pid && qemu_kill(ctx, vm, pid, err, errlen) < 0)
		return -EBUSY;
	return vm_boot(ctx, vm, err, errlen);
}

static int spawn_prepare(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                         char *err, size_t errlen)
{
	char path[4096], disk[4096], base[4096];
	struct image_info info = {0};
	int rc;

	if (t->p.spawn.vcpus < 1 || t->p.spawn.ram_mb < 16) {
		snprintf(err, errlen, "spawn needs vcpus >= 1 and ram_mb >= 16");
		return -EINVAL;
	}
	if (t->p.spawn.user_data &&
	    *t->p.spawn.user_data) { /* refuse bad input before any download */
		unsigned char *ud = NULL;
		size_t udlen;
		rc = configdrive_user_data(t->p.spawn.user_data, &ud, &udlen, err, errlen);
		free(ud);
		if (rc < 0)
			return rc;
	}
	rc = fs_mkdir_p(vm->dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "instance directory: %s", strerror(-rc));
		return rc;
	}
	rc = vm_spec_save(vm_path(vm, F_SPEC, path, sizeof(path)), t);
	if (rc < 0) {
		snprintf(err, errlen, "spec.json: %s", strerror(-rc));
		return rc;
	}
	vm_path(vm, F_DISK, disk, sizeof(disk));
	if (t->p.spawn.boot_volume_id[0]) {
		/* booted from a volume of this machine's pool or another's export: nothing
		 * to fetch or make */
		rc = t->p.spawn.nbd_port > 0
		         ? 0
		         : vm_volume_local(ctx, t->p.spawn.boot_volume_id,
		                           t->p.spawn.boot_volume_host, err, errlen);
		if (rc < 0)
			return rc;
	} else if (!fs_exists(disk)) {
		rc = base_link(ctx, vm, &t->p.spawn, &info, err, errlen);
		if (rc < 0)
			return rc;
		long long want = (long long)t->p.spawn.disk_gb << 30;
		if (want > 0 && info.virtual_size > want) { /* the API refuses it too */
			snprintf(err, errlen,
			         "image virtual size %lld exceeds the flavor's root disk",
			         info.virtual_size);
			return -EFBIG;
		}
		rc = overlay_create(vm_path(vm, F_BASE, base, sizeof(base)), F_BASE, info.format,
		                    disk, want > info.virtual_size ? want : 0, err, errlen);
		if (rc < 0)
			return rc;
	}
	/* Nova's rule: a config drive when the user asked for one; and always for a
	 * server without a Network API port (a user-mode NIC reaches no metadata service) */
	vm_path(vm, F_CONFIG, path, sizeof(path));
	if ((t->p.spawn.config_drive || t->p.spawn.n_nics == 0) && !fs_exists(path)) {
		struct configdrive_meta m = {
		    .uuid = vm->id,
		    .name = t->p.spawn.name,
		    .hostname = t->p.spawn.hostname,
		    .az = ctx->conf->az,
		    .key_name = t->p.spawn.key_name,
		    .public_key = t->p.spawn.public_key,
		    .nics = t->p.spawn.nics,
		    .n_nics = t->p.spawn.n_nics,
		};
		rc = configdrive_build(&m, t->p.spawn.user_data, path, ctx->tmp_dir, err, errlen);
	}
	return rc;
}

static int act_spawn(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                     size_t errlen)
{
	char state[MSG_STATE_MAX], why[256], path[4096];
	pid_t pid = qemu_running(vm);
	if (pid) {
		/* a repeated spawn: it already runs (never start a second QEMU on the disk) */
		if (qemu_state(vm, state, why, sizeof(why)) < 0)
			strcpy(state, VM_RUNNING);
		vm_set(vm, state, pid);
		return 0;
	}
	if (fs_exists(vm_path(vm, F_MEMORY, path, sizeof(path)))) {
		vm_set(vm, VM_SUSPENDED, 0); /* a repeated spawn of a suspended instance */
		return 0;
	}
	marker_clear(vm, F_ERROR);
	int rc = spawn_prepare(ctx, vm, t, err, errlen);
	if (rc == 0)
		rc = qemu_launch(ctx, vm, t, 0, err, errlen);
	if (rc < 0) {
		if (fs_exists(vm->dir))
			marker_set(vm, F_ERROR, err);
		vm_set(vm, VM_ERROR, 0);
	}
	return rc;
}

static int act_delete(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                      size_t errlen)
{
	pid_t pid = qemu_pid_read(vm);
	int rc = qemu_kill(ctx, vm, pid, err, errlen);
	if (rc < 0)
		return rc;
	rc = fs_remove_tree(vm->dir);
	if (rc < 0) {
		snprintf(err, errlen, "removing %s: %s", vm->dir, strerror(-rc));
		vm_set(vm, VM_ERROR, 0);
		return rc;
	}
	vm_set(vm, VM_DELETED, 0);
	if (ctx->images)
		image_cache_evict(ctx->images); /* its base no longer holds a cache entry */
	return 0;
}

static int act_start(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                     size_t errlen)
{
	char path[4096];
	pid_t pid = qemu_running(vm);
	if (!pid && fs_exists(vm_path(vm, F_MEMORY, path, sizeof(path))))
		return vm_restore(ctx, vm, err, errlen);
	if (!pid)
		return vm_boot(ctx, vm, err, errlen);
	/* running already, or paused/suspended: the end state of start is running */
	int rc = qmp_simple(vm, "cont", err, errlen);
	if (rc == 0) {
		marker_clear(vm, F_SUSPENDED);
		vm_set(vm, VM_RUNNING, pid);
	}
	return rc;
}

static int act_stop(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                    size_t errlen)
{
	char state[MSG_STATE_MAX], why[256];
	if (vm_here(vm, err, errlen) < 0)
		return -ENOENT;
	pid_t pid = qemu_running(vm);
	if (pid && qemu_state(vm, state, why, sizeof(why)) == 0 && !strcmp(state, VM_RUNNING) &&
	    ctx->conf->stop_timeout > 0) {
		/* ACPI power button; a guest that ignores it is ended after stop_timeout */
		if (qmp_simple(vm, "system_powerdown", why, sizeof(why)) == 0 &&
		    qemu_wait_gone(vm, pid, ctx->conf->stop_timeout * 1000) == 0)
			pid = 0;
		else
			log_info("instance %s: guest did not power off within %d s, ending QEMU",
			         vm->id, ctx->conf->stop_timeout);
	}
	if (pid) {
		int rc = qemu_kill(ctx, vm, pid, err, errlen);
		if (rc < 0)
			return rc;
	}
	marker_clear(vm, F_SUSPENDED);
	marker_clear(vm, F_MEMORY); /* stopping a suspended instance discards its memory */
	vm_set(vm, VM_SHUTOFF, 0);
	return 0;
}

static int act_reboot(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                      size_t errlen)
{
	pid_t pid = qemu_running(vm);
	if (!pid)
		return vm_boot(ctx, vm, err, errlen);
	int rc = qmp_simple(vm, "system_reset", err, errlen);
	if (rc == 0)
		rc = qmp_simple(vm, "cont", err, errlen); /* a paused guest runs after reboot */
	if (rc == 0) {
		marker_clear(vm, F_SUSPENDED);
		vm_set(vm, VM_RUNNING, pid);
	}
	return rc;
}

static int act_hard_reboot(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                           char *err, size_t errlen)
{
	pid_t pid = qemu_running(vm);
	if (pid) {
		int rc = qemu_kill(ctx, vm, pid, err, errlen);
		if (rc < 0)
			return rc;
	}
	return vm_boot(ctx, vm, err, errlen);
}

/* rebuild: the guest is ended, its root disk and config drive are made again from
 * the task's (new) image, name, key and user data, and it boots, unless it was shut
 * off (Nova leaves a stopped server stopped after a rebuild). The id, directory and
 * console log stay. */
static int act_rebuild(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                       size_t errlen)
{
	char state[MSG_STATE_MAX], path[4096];
	if (vm_here(vm, err, errlen) < 0)
		return -ENOENT;
	vm_get(vm, state);
	int was_off = !strcmp(state, VM_SHUTOFF);
	pid_t pid = qemu_pid_read(vm);
	int rc = qemu_kill(ctx, vm, pid, err, errlen);
	if (rc < 0)
		return rc;
	static const char *const stale[] = {F_DISK,      F_BASE, F_CONFIG, F_MEMORY,
	                                    F_SUSPENDED, F_PID,  F_ERROR};
	for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++)
		if (unlink(vm_path(vm, stale[i], path, sizeof(path))) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "removing %s: %s", stale[i], strerror(errno));
			vm_set(vm, VM_ERROR, 0);
			return -errno;
		}
	rc = spawn_prepare(ctx, vm, t, err, errlen);
	if (rc == 0 && was_off) {
		vm_set(vm, VM_SHUTOFF, 0);
		return 0;
	}
	if (rc == 0)
		rc = qemu_launch(ctx, vm, t, 0, err, errlen);
	if (rc < 0) {
		marker_set(vm, F_ERROR, err);
		vm_set(vm, VM_ERROR, 0);
	}
	return rc;
}

/* pause and unpause (and the in-memory suspend fallback): one QMP command on a
 * running QEMU, and the suspended marker. */
struct run_change {
	const char *cmd;   /* "stop" or "cont" */
	int suspended;     /* marker after the change */
	const char *state; /* end state */
};

static int vm_change(const struct vm_ctx *ctx, struct vm *vm, const struct run_change *c, char *err,
                     size_t errlen)
{
	if (vm_here(vm, err, errlen) < 0)
		return -ENOENT;
	pid_t pid = qemu_running(vm);
	if (!pid) {
		snprintf(err, errlen, "instance is not running");
		vm_set(vm, down_state(vm), 0);
		return -EINVAL;
	}
	int rc = qmp_simple(vm, c->cmd, err, errlen);
	if (rc == 0 && c->suspended)
		rc = marker_set(vm, F_SUSPENDED, "stopped vCPUs, memory kept in QEMU\n");
	else if (rc == 0)
		marker_clear(vm, F_SUSPENDED);
	if (rc == 0) {
		vm_set(vm, c->state, pid);
	} else {
		char state[MSG_STATE_MAX], why[256];
		if (qemu_state(vm, state, why, sizeof(why)) == 0)
			vm_set(vm, state, pid);
	}
	return rc;
}

static const struct run_change change_pause = {"stop", 0, VM_PAUSED};
static const struct run_change change_unpause = {"cont", 0, VM_RUNNING};
static const struct run_change change_suspend_in_memory = {"stop", 1, VM_SUSPENDED};

static int act_pause(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                     size_t errlen)
{
	return vm_change(ctx, vm, &change_pause, err, errlen);
}

static int act_unpause(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                       size_t errlen)
{
	return vm_change(ctx, vm, &change_unpause, err, errlen);
}

static int act_suspend(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                       size_t errlen)
{
	char qmp[4096], mem[4096], why[512];
	struct msg spec;
	vm_path(vm, F_MEMORY, mem, sizeof(mem));
	pid_t pid = qemu_running(vm);
	if (!pid && fs_exists(mem)) {
		vm_set(vm, VM_SUSPENDED, 0); /* suspended already */
		return 0;
	}
	if (!pid || spec_load(vm, &spec, why, sizeof(why)) < 0)
		return vm_change(ctx, vm, &change_suspend_in_memory, err, errlen); /* says why */
	int64_t t0 = time_mono_ms();
	int rc = vm_save_to_file(vm_path(vm, F_QMP, qmp, sizeof(qmp)), mem,
	                         save_timeout_ms(spec.u.task.p.spawn.ram_mb), why, sizeof(why));
	msg_release(&spec);
	if (rc == 0) {
		rc = qemu_kill(ctx, vm, pid, err, errlen);
		if (rc < 0) {
			unlink(mem); /* QEMU still runs: the saved copy would go stale */
			return rc;
		}
		marker_clear(vm, F_SUSPENDED);
		vm_set(vm, VM_SUSPENDED, 0);
		log_info("instance %s: memory saved in %lld ms (%lld MiB on disk)", vm->id,
		         (long long)(time_mono_ms() - t0), fs_size(mem) >> 20);
		return 0;
	}
	log_warn("instance %s: saving memory failed (%s); suspending in memory", vm->id, why);
	return vm_change(ctx, vm, &change_suspend_in_memory, err, errlen);
}

/* resume: the end state is running, from a saved or an in-memory suspend (or from a
 * pause); exactly what start does. */
static int act_resume(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                      size_t errlen)
{
	if (vm_here(vm, err, errlen) < 0)
		return -ENOENT;
	return act_start(ctx, vm, t, err, errlen);
}

/* ---- re-attach and liveness -------------------------------------------------- */

static int qemu_attach(const struct vm_ctx *ctx, struct vm *vm)
{
	char path[4096], state[MSG_STATE_MAX], why[256];
	if (!fs_exists(vm_path(vm, F_SPEC, path, sizeof(path))))
		return -ENOENT;
	base_adopt(ctx, vm);
	pid_t pid = qemu_running(vm);
	if (!pid) {
		vm_set(vm, down_state(vm), 0);
		return 0;
	}
	if (qemu_state(vm, state, why, sizeof(why)) < 0) {
		log_warn("instance %s: QEMU pid %d runs but its monitor does not answer (%s)",
		         vm->id, (int)pid, why);
		strcpy(state, VM_RUNNING);
	}
	vm_snapshot_reattach(vm, state);
	vm_set(vm, state, pid);
	log_info("instance %s: re-attached to QEMU pid %d (%s)", vm->id, (int)pid, state);
	return 0;
}

/* Why a QEMU that was seen running is gone, into why. Returns the state the
 * instance is in now: shutoff after a clean guest power-off, error after a crash
 * (recorded in the error file, so it outlives an agent restart). */
static const char *qemu_gone(const struct vm_ctx *ctx, struct vm *vm, pid_t pid, char *why,
                             size_t whylen)
{
	char end[160], con[600], words[300];
	int status = 0, rc = -ESRCH;
	/* gone from /proc's view, so the helper has reaped it by the time it answers;
	 * still, a moment's grace costs nothing */
	for (int i = 0; ctx->priv && i < 100; i++) {
		rc = vm_priv_qemu_status(ctx->priv, vm->id, pid, &status);
		if (rc != 0)
			break;
		usleep(10 * 1000);
	}
	if (rc != 1) {
		/* an earlier agent's QEMU: its exit status went to init */
		snprintf(why, whylen,
		         "QEMU exited (the guest powered off, or QEMU died; its exit "
		         "status is unknown to this agent)");
		return VM_SHUTOFF;
	}
	if (!qemu_end_text(status, end, sizeof(end))) {
		snprintf(why, whylen, "%s", end);
		return VM_SHUTOFF;
	}
	file_tail(vm, F_QEMU_LOG, 200, words, sizeof(words));
	file_tail(vm, F_CONSOLE, 400, con, sizeof(con));
	snprintf(why, whylen, "%s%s%s; last console lines: %s", end, words[0] ? ": " : "", words,
	         con[0] ? con : "(none)");
	marker_set(vm, F_ERROR, why);
	return VM_ERROR;
}

static int qemu_check(const struct vm_ctx *ctx, struct vm *vm, char *why, size_t whylen)
{
	char state[MSG_STATE_MAX];
	pid_t pid = vm_get(vm, state);
	if (!pid || qemu_alive(vm, pid))
		return 0;
	if (strcmp(state, VM_RUNNING) && strcmp(state, VM_PAUSED) && strcmp(state, VM_SUSPENDED))
		return 0;
	marker_clear(vm, F_SUSPENDED);
	vm_set(vm, qemu_gone(ctx, vm, pid, why, whylen), 0);
	return 1;
}

static const struct vm_action qemu_actions[] = {
    {TASK_SPAWN, act_spawn},   {TASK_DELETE, act_delete},   {TASK_START, act_start},
    {TASK_STOP, act_stop},     {TASK_REBOOT, act_reboot},   {TASK_HARD_REBOOT, act_hard_reboot},
    {TASK_PAUSE, act_pause},   {TASK_UNPAUSE, act_unpause}, {TASK_SUSPEND, act_suspend},
    {TASK_RESUME, act_resume}, {TASK_REBUILD, act_rebuild}, {TASK_SNAPSHOT, vm_snapshot_run},
    {TASK_NICS, vm_iface_act},
};

const struct vm_driver vm_driver_qemu = {
    .name = "qemu",
    .actions = qemu_actions,
    .n_actions = sizeof(qemu_actions) / sizeof(qemu_actions[0]),
    .attach = qemu_attach,
    .check = qemu_check,
};

/* ---- driver table and task runner --------------------------------------------- */

static const struct vm_driver *const drivers[] = {&vm_driver_qemu, &vm_driver_fake};

const struct vm_driver *vm_driver_find(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (!strcmp(drivers[i]->name, name))
			return drivers[i];
	return NULL;
}

const struct vm_action *vm_driver_action(const struct vm_driver *d, const char *action)
{
	for (size_t i = 0; i < d->n_actions; i++)
		if (!strcmp(d->actions[i].action, action))
			return &d->actions[i];
	return NULL;
}

void vm_run_task(const struct vm_driver *d, const struct vm_ctx *ctx, struct vm *vm,
                 const struct msg_task *t, struct msg_result *r)
{
	char err[1024] = "", state[MSG_STATE_MAX];
	int64_t t0 = time_mono_ms();
	int rc;

	memset(r, 0, sizeof(*r));
	strcpy(r->task_id, t->task_id);
	strcpy(r->resource_id, t->resource_id);
	const struct vm_action *a = vm_driver_action(d, t->action);
	if (strcmp(t->action, TASK_SNAPSHOT) && strcmp(t->action, TASK_NICS))
		vm_snapshot_forget(vm); /* a power action: a stopped guest is the user's now */
	if (a) {
		rc = a->fn(ctx, vm, t, err, sizeof(err));
	} else {
		snprintf(err, sizeof(err), "action %s is not supported by the %s driver", t->action,
		         d->name);
		rc = -ENOTSUP;
	}
	vm_get(vm, state);
	strcpy(r->state, state[0] ? state : VM_ERROR);
	r->ok = rc == 0;
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		msg_sanitize_text(err, strlen(err));
		r->error = xstrdup(err);
		log_warn("instance %s: %s failed after %lld ms: %s (state %s)", vm->id, t->action,
		         (long long)(time_mono_ms() - t0), err, r->state);
	} else {
		log_info("instance %s: %s done in %lld ms (state %s)", vm->id, t->action,
		         (long long)(time_mono_ms() - t0), r->state);
	}
}

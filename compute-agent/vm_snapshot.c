/* Instance snapshot: copy the root disk consistently, upload it, resume the guest. */
#include "vm_snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_client.h"
#include "log.h"
#include "util.h"
#include "proc.h"
#include "qmp.h"
#include "xalloc.h"

#define SNAP_DISK "disk.qcow2"
#define SNAP_QMP "qmp.sock"
#define SNAP_STOPPED "snapshot.stopped" /* there while a snapshot holds the guest stopped */
#define SNAP_QMP_TIMEOUT_MS 10000
/* the copy of a whole root disk: minutes for large ones; the guest waits meanwhile */
#define SNAP_CONVERT_TIMEOUT_MS (30 * 60 * 1000)

void vm_snapshot_argv(const char *disk, const char *disk_fmt, const char *out, const char *out_fmt,
                      const char *argv[VM_SNAPSHOT_ARGC])
{
	const char *const v[] = {"qemu-img", "convert", "-U", "-q", "-f", disk_fmt,
	                         "-O",       out_fmt,   disk, out,  NULL};
	memset(argv, 0, sizeof(const char *) * VM_SNAPSHOT_ARGC);
	memcpy(argv, v, sizeof(v));
}

int vm_snapshot_copy(struct vm *vm, const char *disk, const char *disk_fmt, const char *out,
                     const char *out_fmt, char *err, size_t errlen)
{
	char qmp[4096], mark[4096], state[MSG_STATE_MAX], why[512] = "", text[1024] = "";
	const char *argv[VM_SNAPSHOT_ARGC];
	vm_path(vm, SNAP_QMP, qmp, sizeof(qmp));
	vm_path(vm, SNAP_STOPPED, mark, sizeof(mark));
	pid_t pid = vm_get(vm, state);
	int stopped = 0;
	int64_t t0 = time_mono_ms();
	if (pid && !strcmp(state, VM_RUNNING)) {
		/* marked first: an agent that dies before its cont leaves the mark, and the
		 * next one resumes the guest (vm_snapshot_reattach, or this task again) */
		int m = open(mark, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (m < 0) {
			snprintf(err, errlen, "snapshot: %s: %s", SNAP_STOPPED, strerror(errno));
			return -errno;
		}
		close(m);
		int rc = qmp_call(qmp, "stop", NULL, NULL, SNAP_QMP_TIMEOUT_MS, why, sizeof(why));
		if (rc < 0) {
			unlink(mark);
			snprintf(err, errlen, "snapshot: stop the guest: %s", why);
			return rc;
		}
		stopped = 1;
	} else if (pid && !strcmp(state, VM_PAUSED) && access(mark, F_OK) == 0) {
		stopped = 1; /* an earlier run stopped it and died: this one resumes it */
	}
	vm_snapshot_argv(disk, disk_fmt, out, out_fmt, argv);
	unlink(out);
	int st = proc_run(argv, SNAP_CONVERT_TIMEOUT_MS, text, sizeof(text));
	int rc = 0;
	if (st != 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(err, errlen, "snapshot: qemu-img convert failed: %.300s",
		         st == -ETIMEDOUT ? "timed out" : text);
		rc = -EIO;
	}
	if (stopped &&
	    qmp_call(qmp, "cont", NULL, NULL, SNAP_QMP_TIMEOUT_MS, why, sizeof(why)) < 0) {
		if (rc == 0)
			snprintf(err, errlen, "snapshot: resume the guest: %s", why);
		vm_set(vm, VM_PAUSED, pid); /* what it is now: the scheduler shows it */
		rc = -EIO;
	} else if (stopped) {
		unlink(mark);
		vm_set(vm, VM_RUNNING, pid);
		log_info("instance %s: guest stopped for %lld ms by a disk copy", vm->id,
		         (long long)(time_mono_ms() - t0));
	}
	return rc;
}

void vm_snapshot_reattach(struct vm *vm, char state[MSG_STATE_MAX])
{
	char mark[4096], qmp[4096], why[256];
	vm_path(vm, SNAP_STOPPED, mark, sizeof(mark));
	if (strcmp(state, VM_PAUSED) || access(mark, F_OK) < 0)
		return;
	if (qmp_call(vm_path(vm, SNAP_QMP, qmp, sizeof(qmp)), "cont", NULL, NULL,
	             SNAP_QMP_TIMEOUT_MS, why, sizeof(why)) < 0)
		return; /* stays paused and marked: the snapshot's next run resumes it */
	unlink(mark);
	strlcpy_checked(state, VM_RUNNING, MSG_STATE_MAX);
}

void vm_snapshot_forget(struct vm *vm)
{
	char mark[4096];
	unlink(vm_path(vm, SNAP_STOPPED, mark, sizeof(mark)));
}

/* qemu-img convert of vm's root disk into out. */
static int snapshot_copy(struct vm *vm, const char *out, char *err, size_t errlen)
{
	char disk[4096];
	vm_path(vm, SNAP_DISK, disk, sizeof(disk));
	if (access(disk, R_OK) < 0) {
		snprintf(err, errlen, "instance has no local root disk to snapshot");
		return -ENOENT;
	}
	return vm_snapshot_copy(vm, disk, "qcow2", out, "qcow2", err, errlen);
}

static int snapshot_upload(const struct vm_ctx *ctx, const struct msg_snapshot *p, const char *path,
                           char *err, size_t errlen)
{
	char why[512] = "";
	long status = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "snapshot: open copy: %s", strerror(errno));
		return -errno;
	}
	char *key = xasprintf("X-Nubo-Agent-Key: %s", ctx->conf->agent_key);
	const char *const headers[] = {key, NULL};
	const struct http_put put = {p->upload_url, headers, 0, 0};
	int rc = http_client_put_fd(&put, fd, &status, why, sizeof(why));
	memset(key, 0, strlen(key));
	free(key);
	close(fd);
	if (rc < 0)
		snprintf(err, errlen, "snapshot: upload of image %s: %s", p->image_id, why);
	return rc;
}

int vm_snapshot_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                    size_t errlen)
{
	const struct msg_snapshot *p = &t->p.snapshot;
	if (!p->upload_url || !p->image_id[0]) {
		snprintf(err, errlen, "snapshot: no image to upload to");
		return -EINVAL;
	}
	char *out = xasprintf("%s/snapshot-%s.qcow2", ctx->tmp_dir, p->image_id);
	int rc = snapshot_copy(vm, out, err, errlen);
	if (rc == 0)
		rc = snapshot_upload(ctx, p, out, err, errlen);
	unlink(out);
	free(out);
	return rc;
}

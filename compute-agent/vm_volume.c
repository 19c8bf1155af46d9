/* Volume attach and detach over QMP, and snapshots of plugged volumes (see vm_volume.h). */
#include "vm_volume.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "compute_conf.h"
#include "conf.h"
#include "fsutil.h"
#include "log.h"
#include "qmp.h"
#include "vm_snapshot.h"
#include "xalloc.h"

#define CMD_TIMEOUT_MS 5000
#define UNPLUG_TIMEOUT_MS 60000 /* a TCG guest takes its time to let a disk go */
#define NBD_RECONNECT_S 30      /* an NBD client waits this long for a restarted export */

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void vm_volume_names(const char *volume_id, char node[32], char dev[32])
{
	char hex[31];
	size_t n = 0;
	for (const char *p = volume_id; *p && n < 30; p++)
		if (*p != '-')
			hex[n++] = *p;
	hex[n] = 0;
	snprintf(node, 32, "v%s", hex);
	snprintf(dev, 32, "d%s", hex);
}

void vm_volume_creds_name(const char *volume_id, char creds[32])
{
	char node[32], dev[32];
	vm_volume_names(volume_id, node, dev);
	snprintf(creds, 32, "t%s", node + 1);
}

json_t *vm_volume_psk_object_args(const char *creds, const char *dir, const char *username)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s}", "qom-type", "tls-creds-psk", "id", creds,
	                 "endpoint", "client", "dir", dir, "username", username);
}

json_t *vm_volume_nbd_blockdev_args(const char *node, const char *host, int port,
                                    const char *export_name, const char *creds)
{
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:s},s:s,s:s,s:i}", "driver", "nbd", "node-name",
	                 node, "server", "type", "inet", "host", host, "port", portstr, "export",
	                 export_name, "tls-creds", creds, "reconnect-delay", NBD_RECONNECT_S);
}

const char *vm_volume_pool_dir(const struct conf *c)
{
	return c ? conf_get(c, "storage", "state_dir", "/var/lib/nubo/storage")
	         : "/var/lib/nubo/storage";
}

int vm_volume_local(const struct vm_ctx *ctx, const char *volume_id, const char *storage_host,
                    char *err, size_t errlen)
{
	const struct conf *c = ctx->conf->raw;
	char mine[MSG_HOST_MAX + 16];
	snprintf(mine, sizeof(mine), "%s-storage", ctx->conf->host);
	const char *local = c ? conf_get(c, "storage", "host", mine) : mine;
	if (strcmp(local, storage_host)) {
		snprintf(err, errlen,
		         "volume %s is on storage host %s, not on this machine (%s): its "
		         "pool file is not here",
		         volume_id, storage_host, local);
		return -EXDEV;
	}
	return 0;
}

/* The pool file of the volume of t when its storage host is this machine's storage
 * agent; NULL with err otherwise. */
static char *volume_file(const struct vm_ctx *ctx, const struct msg_task *t, char *err,
                         size_t errlen)
{
	if (vm_volume_local(ctx, t->resource_id, t->p.attach.storage_host, err, errlen) < 0)
		return NULL;
	return xasprintf("%s/volumes/%s.qcow2", vm_volume_pool_dir(ctx->conf->raw), t->resource_id);
}

/* 1 when QEMU has the device dev, 0 when not, < 0 on a QMP failure. */
static int device_present(struct qmp *q, const char *dev, char *err, size_t errlen)
{
	char path[64];
	snprintf(path, sizeof(path), "/machine/peripheral/%s", dev);
	json_t *args = json_pack("{s:s}", "path", path);
	char why[256];
	int rc = qmp_exec(q, "qom-list", args, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
	json_decref(args);
	if (rc == 0)
		return 1;
	if (rc == -EIO) /* DeviceNotFound */
		return 0;
	snprintf(err, errlen, "qom-list: %s", why);
	return rc;
}

/* The fdset QEMU holds for node (its "opaque" is the node name), or -1. */
static int fdset_of(struct qmp *q, const char *node)
{
	json_t *ret = NULL;
	char why[256];
	int id = -1;
	if (qmp_exec(q, "query-fdsets", NULL, &ret, CMD_TIMEOUT_MS, why, sizeof(why)) < 0)
		return -1;
	size_t i;
	json_t *set;
	json_array_foreach(ret, i, set)
	{
		json_t *fds = json_object_get(set, "fds"), *fd;
		size_t j;
		json_array_foreach(fds, j, fd)
		{
			const char *op = json_string_value(json_object_get(fd, "opaque"));
			if (op && !strcmp(op, node))
				id = (int)json_integer_value(json_object_get(set, "fdset-id"));
		}
	}
	json_decref(ret);
	return id;
}

/* Runs cmd with args (consumed). 0 or a negative errno with err. */
static int qmp_do(struct qmp *q, const char *cmd, json_t *args, char *err, size_t errlen)
{
	int rc = qmp_exec(q, cmd, args, NULL, CMD_TIMEOUT_MS, err, errlen);
	json_decref(args);
	return rc;
}

/* Runs cmd with args (consumed), its failure ignored: a clean-up step. */
static void qmp_try(struct qmp *q, const char *cmd, json_t *args)
{
	char why[256];
	qmp_exec(q, cmd, args, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
	json_decref(args);
}

/* Hands fd to QEMU as a descriptor set of its choosing marked opaque (so a detach finds
 * it). Returns the set's id, with the descriptor's number in QEMU's process in *qemu_fd
 * when non-NULL, or a negative errno with err. */
static int fd_give(struct qmp *q, int fd, const char *opaque, int *qemu_fd, char *err,
                   size_t errlen)
{
	json_t *ret = NULL, *args = json_pack("{s:s}", "opaque", opaque);
	int rc = qmp_exec_fd(q, "add-fd", args, fd, &ret, CMD_TIMEOUT_MS, err, errlen);
	json_decref(args);
	if (rc == 0) {
		rc = (int)json_integer_value(json_object_get(ret, "fdset-id"));
		if (qemu_fd)
			*qemu_fd = (int)json_integer_value(json_object_get(ret, "fd"));
	}
	json_decref(ret);
	return rc;
}

/* Block node node on the pool file of t's volume (this machine's storage agent),
 * handed to QEMU as a descriptor set. 0 or a negative errno with err. */
static int node_add_file(const struct vm_ctx *ctx, struct qmp *q, const struct msg_task *t,
                         const char *node, char *err, size_t errlen)
{
	char *file = NULL;
	int fd = -1, rc;
	if (!(file = volume_file(ctx, t, err, errlen))) {
		rc = -EXDEV;
		goto out;
	}
	fd = open(file, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		rc = fd < 0 ? -errno : -EPERM;
		snprintf(err, errlen, "volume %s: %s", t->resource_id,
		         fd < 0 ? strerror(errno) : "not a regular single-link file");
		goto out;
	}
	int set = fd_give(q, fd, node, NULL, err, errlen);
	if (set < 0) {
		rc = set;
		goto out;
	}
	char fdpath[32];
	snprintf(fdpath, sizeof(fdpath), "/dev/fdset/%d", set);
	rc = qmp_do(q, "blockdev-add",
	            json_pack("{s:s,s:s,s:{s:s,s:s}}", "driver", "qcow2", "node-name", node, "file",
	                      "driver", "file", "filename", fdpath),
	            err, errlen);
	if (rc < 0)
		qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
out:
	if (fd >= 0)
		close(fd);
	free(file);
	return rc;
}

/* Writes the TLS key file QEMU reads for p: <dir>/keys.psk holding "<identity>:<key>".
 * QEMU runs under a uid of its own and reaches the directory only through the
 * descriptor it is handed (the instance directory above is the worker's, 0700), so the
 * file is readable and the directory searchable by others; it lives only while the
 * credentials object is made. 0 or a negative errno. */
static int psk_dir_make(const char *dir, const struct msg_attach *p)
{
	char line[UUID_STR_LEN + MSG_PSK_LEN + 2];
	char *path = xasprintf("%s/keys.psk", dir);
	int rc = 0, fd = -1;
	fs_remove_tree(dir);
	if (mkdir(dir, 0700) < 0 || chmod(dir, 0711) < 0) {
		rc = -errno;
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	snprintf(line, sizeof(line), "%s:%s\n", p->attachment_id, p->psk);
	if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line) ||
	    fchmod(fd, 0644) < 0)
		rc = errno ? -errno : -EIO;
out:
	explicit_bzero(line, sizeof(line));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Block node node on the NBD export the attach payload of t names, through the TLS-PSK
 * client object creds. 0 or a negative errno with err. */
static int node_add_nbd(struct vm *vm, struct qmp *q, const struct msg_task *t, const char *node,
                        const char *creds, char *err, size_t errlen)
{
	const struct msg_attach *p = &t->p.attach;
	char dir[4096], sub[64], kdir[64];
	int dfd = -1, set = -1, rc;
	if (!p->nbd_host[0] || !uuid_is_valid(p->attachment_id) ||
	    strlen(p->psk) != MSG_PSK_LEN - 1) {
		snprintf(err, errlen, "the attach names an NBD export without its address or key");
		return -EINVAL;
	}
	snprintf(sub, sizeof(sub), "psk-%s", node);
	vm_path(vm, sub, dir, sizeof(dir));
	if ((rc = psk_dir_make(dir, p)) < 0 ||
	    (dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		rc = rc < 0 ? rc : -errno;
		snprintf(err, errlen, "the export's key file: %s", strerror(-rc));
		goto out;
	}
	int qfd = -1;
	if ((rc = set = fd_give(q, dfd, sub, &qfd, err, errlen)) < 0)
		goto out;
	/* QEMU reads the key once, when the object is made */
	snprintf(kdir, sizeof(kdir), "/proc/self/fd/%d", qfd);
	if ((rc = qmp_do(q, "object-add", vm_volume_psk_object_args(creds, kdir, p->attachment_id),
	                 err, errlen)) < 0)
		goto out;
	rc = qmp_do(
	    q, "blockdev-add",
	    vm_volume_nbd_blockdev_args(node, p->nbd_host, p->nbd_port, t->resource_id, creds), err,
	    errlen);
	if (rc < 0)
		qmp_try(q, "object-del", json_pack("{s:s}", "id", creds));
out:
	if (set >= 0)
		qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
	if (dfd >= 0)
		close(dfd);
	fs_remove_tree(dir);
	return rc;
}

static int attach(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                  size_t errlen)
{
	char node[32], dev[32], creds[32], qpath[4096];
	struct qmp *q = NULL;
	int nbd = t->p.attach.nbd_port > 0, rc;
	vm_volume_names(t->resource_id, node, dev);
	vm_volume_creds_name(t->resource_id, creds);
	q = qmp_open(vm_path(vm, "qmp.sock", qpath, sizeof(qpath)), CMD_TIMEOUT_MS, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	if ((rc = device_present(q, dev, err, errlen)) != 0) {
		rc = rc > 0 ? 0 : rc; /* attached by an earlier run of this task */
		goto out;
	}
	/* what an earlier run that stopped half-way may have left */
	qmp_try(q, "blockdev-del", json_pack("{s:s}", "node-name", node));
	qmp_try(q, "object-del", json_pack("{s:s}", "id", creds));
	rc = nbd ? node_add_nbd(vm, q, t, node, creds, err, errlen)
	         : node_add_file(ctx, q, t, node, err, errlen);
	if (rc < 0)
		goto out;
	/* a scsi-hd on the instance's virtio-scsi controller (qemu_argv.c): its unplug is
	 * immediate, where a virtio-blk PCI device waits for the guest's ACPI eject, which
	 * a guest still booting never gives */
	rc = qmp_do(q, "device_add",
	            json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver", "scsi-hd", "id", dev, "bus",
	                      "scsi0.0", "drive", node, "serial", t->resource_id),
	            err, errlen);
	if (rc < 0) {
		qmp_try(q, "blockdev-del", json_pack("{s:s}", "node-name", node));
		if (nbd)
			qmp_try(q, "object-del", json_pack("{s:s}", "id", creds));
		int set = nbd ? -1 : fdset_of(q, node);
		if (set >= 0)
			qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
	}
out:
	qmp_close(q);
	return rc;
}

static int detach(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                  size_t errlen)
{
	char node[32], dev[32], creds[32], qpath[4096];
	json_t *args;
	int rc;
	vm_volume_names(t->resource_id, node, dev);
	vm_volume_creds_name(t->resource_id, creds);
	struct qmp *q =
	    qmp_open(vm_path(vm, "qmp.sock", qpath, sizeof(qpath)), CMD_TIMEOUT_MS, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	rc = device_present(q, dev, err, errlen);
	if (rc > 0) {
		args = json_pack("{s:s}", "id", dev);
		rc = qmp_exec(q, "device_del", args, NULL, CMD_TIMEOUT_MS, err, errlen);
		json_decref(args);
		/* a SCSI disk leaves at once (DEVICE_DELETED, seen as the device leaving
		 * the QOM tree); the wait is for a virtio-blk disk of an older attach */
		long long deadline = now_us() + UNPLUG_TIMEOUT_MS * 1000LL;
		while (rc == 0) {
			int present = device_present(q, dev, err, errlen);
			if (present <= 0) {
				rc = present;
				break;
			}
			if (now_us() > deadline) {
				snprintf(err, errlen,
				         "the guest did not release the disk within %d s",
				         UNPLUG_TIMEOUT_MS / 1000);
				rc = -ETIMEDOUT;
				break;
			}
			usleep(100000);
		}
	}
	if (rc == 0) {
		/* absent already (an earlier run got this far, or a local volume has no
		 * credentials object): fine */
		qmp_try(q, "blockdev-del", json_pack("{s:s}", "node-name", node));
		qmp_try(q, "object-del", json_pack("{s:s}", "id", creds));
		int set = fdset_of(q, node);
		if (set >= 0)
			qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
	}
	qmp_close(q);
	return rc;
}

void vm_volume_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                   struct msg_result *r)
{
	char err[1024] = "", state[MSG_STATE_MAX];
	int att = !strcmp(t->action, TASK_ATTACH), rc;
	long long t0 = now_us();
	memset(r, 0, sizeof(*r));
	strcpy(r->task_id, t->task_id);
	strcpy(r->resource_id, t->resource_id);
	r->resource_kind = MSG_RES_ATTACHMENT;
	vm_get(vm, state);
	if (!strcmp(ctx->conf->driver, "fake")) {
		rc = 0; /* the fake hypervisor has no guest to plug into */
	} else if (strcmp(state, VM_RUNNING) && strcmp(state, VM_PAUSED)) {
		snprintf(err, sizeof(err),
		         "instance %s is %s: volumes are hot-plugged into a "
		         "running guest only",
		         vm->id, state[0] ? state : "not ready");
		rc = -EBUSY;
	} else {
		rc = att ? attach(ctx, vm, t, err, sizeof(err))
		         : detach(ctx, vm, t, err, sizeof(err));
	}
	long long us = now_us() - t0;
	r->ok = rc == 0;
	snprintf(r->state, sizeof(r->state), "%s",
	         rc == 0 ? (att ? ATT_ATTACHED : ATT_DETACHED) : VOL_ERROR);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		msg_sanitize_text(err, strlen(err));
		r->error = xstrdup(err);
		log_warn("instance %s: %s of volume %s failed after %lld us: %s", vm->id, t->action,
		         t->resource_id, us, err);
	} else {
		/* bench/volume.sh reads these lines: the agent's time for the attach */
		log_info("instance %s: %s of volume %s done in %lld us", vm->id, t->action,
		         t->resource_id, us);
	}
}

/* The copy of volume_id's pool file into snapshots/<snapshot_id>.qcow2 of the same
 * pool, made in tmp/ and renamed into place durably. */
static int snapshot_make(const struct vm_ctx *ctx, struct vm *vm, const char *volume_id,
                         const char *snapshot_id, char *err, size_t errlen)
{
	const char *pool = vm_volume_pool_dir(ctx->conf->raw);
	char *src = xasprintf("%s/volumes/%s.qcow2", pool, volume_id);
	char *tmp = xasprintf("%s/tmp/%s.qcow2", pool, snapshot_id);
	char *dst = xasprintf("%s/snapshots/%s.qcow2", pool, snapshot_id);
	char *dir = xasprintf("%s/snapshots", pool);
	int rc = 0, fd;
	if (access(dst, F_OK) == 0) /* made by an earlier run of this task */
		goto out;
	if ((rc = vm_snapshot_copy(vm, src, tmp, err, errlen)) < 0)
		goto out;
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	if (rename(tmp, dst) < 0) {
		rc = -errno;
		snprintf(err, errlen, "snapshot: rename into the pool: %s", strerror(errno));
		goto out;
	}
	fs_sync_dir(dir);
out:
	if (rc < 0)
		unlink(tmp);
	free(src);
	free(tmp);
	free(dst);
	free(dir);
	return rc;
}

void vm_volume_snapshot_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                            struct msg_result *r)
{
	const struct msg_snap_create *p = &t->p.snap_create;
	char err[1024] = "";
	long long t0 = now_us();
	int rc;
	memset(r, 0, sizeof(*r));
	strcpy(r->task_id, t->task_id);
	strcpy(r->resource_id, t->resource_id);
	r->resource_kind = MSG_RES_SNAPSHOT;
	if (strcmp(t->action, TASK_CREATE) || !p->instance_id[0] || !p->storage_host[0]) {
		snprintf(err, sizeof(err),
		         "a compute agent makes only snapshots of plugged volumes");
		rc = -EINVAL;
	} else if ((rc = vm_volume_local(ctx, p->volume_id, p->storage_host, err, sizeof(err))) ==
	           0) {
		rc = snapshot_make(ctx, vm, p->volume_id, t->resource_id, err, sizeof(err));
	}
	long long us = now_us() - t0;
	r->ok = rc == 0;
	snprintf(r->state, sizeof(r->state), "%s", rc == 0 ? VOL_AVAILABLE : VOL_ERROR);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, sizeof(err), "%s", strerror(-rc));
		msg_sanitize_text(err, strlen(err));
		r->error = xstrdup(err);
		log_warn("instance %s: snapshot %s of volume %s failed after %lld us: %s", vm->id,
		         t->resource_id, p->volume_id, us, err);
	} else {
		log_info("instance %s: snapshot %s of volume %s done in %lld us", vm->id,
		         t->resource_id, p->volume_id, us);
	}
}

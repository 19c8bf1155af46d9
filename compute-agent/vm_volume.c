/* Volume attach and detach over QMP, and snapshots and clones of plugged volumes (see
 * vm_volume.h). */
#include "vm_volume.h"

#include <dirent.h>
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
#include "lvm.h"
#include "proc.h"
#include "qemu_argv.h"
#include "qemu_img.h"
#include "volfile.h"
#include "qmp.h"
#include "vm_snapshot.h"
#include "xalloc.h"

#define CMD_TIMEOUT_MS 5000
#define UNPLUG_TIMEOUT_MS 60000 /* a TCG guest takes its time to let a disk go */
#define SNAP_RESIZE_TIMEOUT_MS 60000
#define NODE_DEL_TIMEOUT_MS 5000

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void vm_volume_names(const char *volume_id, struct vm_volume_ids *ids)
{
	char hex[31];
	size_t n = 0;
	for (const char *p = volume_id; *p && n < 30; p++)
		if (*p != '-')
			hex[n++] = *p;
	hex[n] = 0;
	snprintf(ids->node, sizeof(ids->node), "v%s", hex);
	snprintf(ids->dev, sizeof(ids->dev), "d%s", hex);
	snprintf(ids->throttle, sizeof(ids->throttle), "t%s", hex);
	snprintf(ids->group, sizeof(ids->group), "g%s", hex);
	snprintf(ids->creds, sizeof(ids->creds), "k%s", hex);
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
	                 export_name, "tls-creds", creds, "reconnect-delay", QEMU_NBD_RECONNECT_S);
}

const char *vm_volume_pool_dir(const struct conf *c)
{
	return c ? conf_get(c, "storage", "state_dir", "/var/lib/nubo/storage")
	         : "/var/lib/nubo/storage";
}

const char *vm_volume_group(const struct conf *c)
{
	return c && !strcmp(conf_get(c, "storage", "backend", "file"), "lvm")
	           ? conf_get(c, "storage", "volume_group", "")
	           : NULL;
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
 * agent, and its format in *fmt: the file of the file pool, <id>.qcow2 or <id>.raw
 * (common/volfile.h), or the raw LV /dev/VG/vol-<id> of an LVM pool ([storage] backend =
 * lvm); NULL with err otherwise. */
static char *volume_file(const struct vm_ctx *ctx, const struct msg_task *t, const char **fmt,
                         char *err, size_t errlen)
{
	char lv[LVM_LV_MAX], dev[LVM_VG_MAX + LVM_LV_MAX + 8];
	const char *vg = vm_volume_group(ctx->conf->raw);
	if (vm_volume_local(ctx, t->resource_id, t->p.attach.storage_host, err, errlen) < 0)
		return NULL;
	*fmt = "raw";
	if (!vg)
		return volfile_find(vm_volume_pool_dir(ctx->conf->raw), "volumes", t->resource_id,
		                    "qcow2", fmt);
	if (lvm_lv_name(LVM_VOLUME, t->resource_id, lv) < 0 ||
	    lvm_dev_path(vg, lv, dev, sizeof(dev)) < 0) {
		snprintf(err, errlen, "volume %s: no LV name in volume group %s", t->resource_id,
		         vg);
		return NULL;
	}
	return xstrdup(dev);
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

/* blockdev-del of node, waiting while QEMU still holds it: a device that just left the
 * QOM tree lets its drive go when its last reference does (a guest's SCSI request in
 * flight), a moment later. 0 when the node is gone or never was, else < 0 with err. */
static int node_del(struct qmp *q, const char *node, char *err, size_t errlen)
{
	long long deadline = now_us() + NODE_DEL_TIMEOUT_MS * 1000LL;
	for (;;) {
		json_t *args = json_pack("{s:s}", "node-name", node);
		int rc = qmp_exec(q, "blockdev-del", args, NULL, CMD_TIMEOUT_MS, err, errlen);
		json_decref(args);
		if (rc == 0 || (rc == -EIO && strstr(err, "find node")))
			return 0;
		if (rc != -EIO || now_us() > deadline)
			return rc;
		usleep(10000);
	}
}

/* Removes the volume's block nodes, throttle group, TLS credentials and descriptor set
 * from QEMU, those
 * that are there: after its device left, or what a failed or interrupted attach left
 * behind (a repeated attach would otherwise find its node names taken). 0, or < 0 with
 * err when a node stays (QEMU keeps the volume's file open). */
static int nodes_remove(struct qmp *q, const struct vm_volume_ids *ids, char *err, size_t errlen)
{
	int rc = node_del(q, ids->throttle, err, errlen);
	if (rc == 0)
		rc = node_del(q, ids->node, err, errlen);
	if (rc < 0)
		return rc;
	qmp_try(q, "object-del", json_pack("{s:s}", "id", ids->group));
	qmp_try(q, "object-del", json_pack("{s:s}", "id", ids->creds));
	int set = fdset_of(q, ids->node);
	if (set >= 0)
		qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
	return 0;
}

/* With limits, a throttle-group and a throttle node above the volume's node; writes
 * the node the device is to use into drive. 0 or < 0 with err. */
static int throttle_add(struct qmp *q, const struct vm_volume_ids *ids, const struct disk_qos *qos,
                        const char **drive, char *err, size_t errlen)
{
	*drive = ids->node;
	if (!disk_qos_any(qos))
		return 0;
	int rc = qmp_do(q, "object-add",
	                json_pack("{s:s,s:s,s:o}", "qom-type", "throttle-group", "id", ids->group,
	                          "limits", disk_qos_qemu_limits(qos)),
	                err, errlen);
	if (rc == 0)
		rc = qmp_do(q, "blockdev-add",
		            json_pack("{s:s,s:s,s:s,s:s}", "driver", "throttle", "node-name",
		                      ids->throttle, "throttle-group", ids->group, "file",
		                      ids->node),
		            err, errlen);
	if (rc == 0)
		*drive = ids->throttle;
	return rc;
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
	const char *fmt = "qcow2";
	int fd = -1, rc;
	if (!(file = volume_file(ctx, t, &fmt, err, errlen))) {
		rc = -EXDEV;
		goto out;
	}
	/* an LV is reached through lvm's /dev/VG/LV symlink (a root-owned directory) and
	 * must be a block device; a pool file (qcow2 or raw) is a plain single-link file,
	 * never a link */
	int lv = vm_volume_group(ctx->conf->raw) != NULL;
	fd = open(file, O_RDWR | O_CLOEXEC | (lv ? 0 : O_NOFOLLOW));
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 ||
	    (lv ? !S_ISBLK(st.st_mode) : !S_ISREG(st.st_mode) || st.st_nlink != 1)) {
		rc = fd < 0 ? -errno : -EPERM;
		snprintf(err, errlen, "volume %s: %s", t->resource_id,
		         fd < 0 ? strerror(errno)
		         : lv   ? "not a block device"
		                : "not a regular single-link file");
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
	            json_pack("{s:s,s:s,s:{s:s,s:s}}", "driver", fmt, "node-name", node, "file",
	                      "driver", qemu_img_path_protocol(fmt, file), "filename", fdpath),
	            err, errlen);
	if (rc < 0)
		qmp_try(q, "remove-fd", json_pack("{s:i}", "fdset-id", set));
out:
	if (fd >= 0)
		close(fd);
	free(file);
	return rc;
}

int vm_volume_psk_dir_make(const char *dir, const char *identity, const char *key)
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
	snprintf(line, sizeof(line), "%s:%s\n", identity, key);
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

int vm_volume_psk_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, "psk-", 4))
			continue;
		char *path = xasprintf("%s/%s", dir, de->d_name);
		if (fs_remove_tree(path) == 0)
			n++;
		free(path);
	}
	closedir(d);
	return n;
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
	if ((rc = vm_volume_psk_dir_make(dir, p->attachment_id, p->psk)) < 0 ||
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
	char qpath[4096];
	struct vm_volume_ids ids;
	struct qmp *q = NULL;
	int nbd = t->p.attach.nbd_port > 0, rc;
	vm_volume_names(t->resource_id, &ids);
	q = qmp_open(vm_path(vm, "qmp.sock", qpath, sizeof(qpath)), CMD_TIMEOUT_MS, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	if ((rc = device_present(q, ids.dev, err, errlen)) != 0) {
		rc = rc > 0 ? 0 : rc; /* attached by an earlier run of this task */
		goto out;
	}
	/* an interrupted run's leftovers: a local volume's descriptor set came first, so
	 * one query tells on the common path; an NBD volume's are looked for each time */
	if ((nbd || fdset_of(q, ids.node) >= 0) && (rc = nodes_remove(q, &ids, err, errlen)) < 0)
		goto out;
	rc = nbd ? node_add_nbd(vm, q, t, ids.node, ids.creds, err, errlen)
	         : node_add_file(ctx, q, t, ids.node, err, errlen);
	const char *drive = ids.node;
	if (rc == 0)
		rc = throttle_add(q, &ids, &t->p.attach.qos, &drive, err, errlen);
	/* a scsi-hd on the instance's virtio-scsi controller (qemu_argv.c): its unplug is
	 * immediate, where a virtio-blk PCI device waits for the guest's ACPI eject, which
	 * a guest still booting never gives */
	if (rc == 0)
		rc = qmp_do(q, "device_add",
		            json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver", "scsi-hd", "id", ids.dev,
		                      "bus", "scsi0.0", "drive", drive, "serial", t->resource_id),
		            err, errlen);
	if (rc < 0) {
		char why[256];
		nodes_remove(q, &ids, why, sizeof(why));
	}
out:
	qmp_close(q);
	return rc;
}

static int detach(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                  size_t errlen)
{
	char qpath[4096];
	struct vm_volume_ids ids;
	json_t *args;
	int rc;
	vm_volume_names(t->resource_id, &ids);
	struct qmp *q =
	    qmp_open(vm_path(vm, "qmp.sock", qpath, sizeof(qpath)), CMD_TIMEOUT_MS, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	rc = device_present(q, ids.dev, err, errlen);
	if (rc > 0) {
		args = json_pack("{s:s}", "id", ids.dev);
		rc = qmp_exec(q, "device_del", args, NULL, CMD_TIMEOUT_MS, err, errlen);
		json_decref(args);
		/* a SCSI disk leaves at once (DEVICE_DELETED, seen as the device leaving
		 * the QOM tree); the wait is for a virtio-blk disk of an older attach */
		long long deadline = now_us() + UNPLUG_TIMEOUT_MS * 1000LL;
		while (rc == 0) {
			int present = device_present(q, ids.dev, err, errlen);
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
	if (rc == 0) /* absent already (an earlier run got this far): fine */
		rc = nodes_remove(q, &ids, err, errlen);
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

/* The copy of volume_id's pool file (<id>.qcow2 or <id>.raw, read with its format) into
 * <dir>/<id>.EXT of the same pool (dir: "snapshots", "volumes" or VOLFILE_COPIES, a
 * backup's point-in-time copy, made as <id>.EXT.part there; EXT the pool's [storage]
 * volume_format, as the storage agent makes them), made in tmp/ with the guest paused,
 * grown to size_bytes when that is not 0, and renamed into place durably. */
static int copy_make(const struct vm_ctx *ctx, struct vm *vm, const char *volume_id,
                     const char *dir_name, const char *id, uint64_t size_bytes, char *err,
                     size_t errlen)
{
	const struct conf *c = ctx->conf->raw;
	const char *pool = vm_volume_pool_dir(c), *src_fmt, *fmt;
	const char *new_fmt = c ? conf_get(c, "storage", "volume_format", "qcow2") : "qcow2";
	if (!volfile_format_ok(new_fmt))
		new_fmt = "qcow2"; /* nubo-storage refuses to start with it: nothing to copy to */
	char *src = volfile_find(pool, "volumes", volume_id, new_fmt, &src_fmt);
	char *dst = volfile_find(pool, dir_name, id, new_fmt, &fmt);
	/* a backup's copy is made beside its place (<id>.EXT.part), where the storage agent
	 * lists it and drops it once its task is over, whatever became of this agent */
	char *tmp = !strcmp(dir_name, VOLFILE_COPIES) ? xasprintf("%s%s", dst, VOLFILE_PART)
	                                              : xasprintf("%s/tmp/%s.%s", pool, id, fmt);
	char *dir = xasprintf("%s/%s", pool, dir_name);
	int rc = 0, fd;
	if (vm_volume_group(c)) {
		snprintf(err, errlen,
		         "copying an in-use volume of an LVM pool is not supported: detach it "
		         "first");
		rc = -ENOTSUP;
		goto out;
	}
	if (access(dst, F_OK) == 0) /* made by an earlier run of this task */
		goto out;
	if ((rc = vm_snapshot_copy(vm, src, src_fmt, tmp, fmt, err, errlen)) < 0)
		goto out;
	if (size_bytes) { /* the guest runs on meanwhile: the copy is done */
		struct qemu_img_argv a;
		char text[512] = "";
		int st = qemu_img_argv_resize(&a, tmp, fmt, size_bytes) < 0
		             ? -EINVAL
		             : proc_run(a.v, SNAP_RESIZE_TIMEOUT_MS, text, sizeof(text));
		if (st != 0) {
			text[strcspn(text, "\n")] = '\0';
			snprintf(err, errlen, "clone: qemu-img resize failed: %.300s", text);
			rc = -EIO;
			goto out;
		}
	}
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	if (rename(tmp, dst) < 0) {
		rc = -errno;
		snprintf(err, errlen, "copy: rename into the pool: %s", strerror(errno));
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

/* Fills r for the copy task t of kind (a snapshot or a volume), rc its outcome, and
 * logs it (what, the source volume, the time). */
static void copy_result(const struct vm *vm, const struct msg_task *t, enum msg_res_kind kind,
                        const char *what, const char *volume_id, int rc, const char *why,
                        long long us, struct msg_result *r)
{
	char err[1024];
	memset(r, 0, sizeof(*r));
	strcpy(r->task_id, t->task_id);
	strcpy(r->resource_id, t->resource_id);
	r->resource_kind = kind;
	r->ok = rc == 0;
	snprintf(r->state, sizeof(r->state), "%s", rc == 0 ? VOL_AVAILABLE : VOL_ERROR);
	if (rc < 0) {
		snprintf(err, sizeof(err), "%s", why[0] ? why : strerror(-rc));
		msg_sanitize_text(err, strlen(err));
		r->error = xstrdup(err);
		log_warn("instance %s: %s %s of volume %s failed after %lld us: %s", vm->id, what,
		         t->resource_id, volume_id, us, err);
	} else {
		log_info("instance %s: %s %s of volume %s done in %lld us", vm->id, what,
		         t->resource_id, volume_id, us);
	}
}

void vm_volume_snapshot_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                            struct msg_result *r)
{
	const struct msg_snap_create *p = &t->p.snap_create;
	char err[1024] = "";
	long long t0 = now_us();
	int rc;
	if (strcmp(t->action, TASK_CREATE) || !p->instance_id[0] || !p->storage_host[0]) {
		snprintf(err, sizeof(err),
		         "a compute agent makes only snapshots of plugged volumes");
		rc = -EINVAL;
	} else if ((rc = vm_volume_local(ctx, p->volume_id, p->storage_host, err, sizeof(err))) ==
	           0) {
		rc = copy_make(ctx, vm, p->volume_id, "snapshots", t->resource_id, 0, err,
		               sizeof(err));
	}
	copy_result(vm, t, MSG_RES_SNAPSHOT, "snapshot", p->volume_id, rc, err, now_us() - t0, r);
}

void vm_volume_backup_copy_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                               struct msg_result *r)
{
	const struct msg_snap_create *p = &t->p.snap_create;
	char err[1024] = "";
	long long t0 = now_us();
	int rc;
	if (strcmp(t->action, TASK_BACKUP_COPY) || !p->instance_id[0] || !p->storage_host[0]) {
		snprintf(err, sizeof(err),
		         "a compute agent makes only the copies of plugged volumes backups read");
		rc = -EINVAL;
	} else if ((rc = vm_volume_local(ctx, p->volume_id, p->storage_host, err, sizeof(err))) ==
	           0) {
		rc = copy_make(ctx, vm, p->volume_id, VOLFILE_COPIES, t->resource_id, 0, err,
		               sizeof(err));
	}
	copy_result(vm, t, MSG_RES_BACKUP, "backup copy", p->volume_id, rc, err, now_us() - t0, r);
}

void vm_volume_clone_run(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t,
                         struct msg_result *r)
{
	const struct msg_vol_create *p = &t->p.vol_create;
	char err[1024] = "";
	long long t0 = now_us();
	int rc;
	if (strcmp(t->action, TASK_CREATE) || strcmp(p->source, "volume") || !p->instance_id[0] ||
	    !p->storage_host[0] || p->size_gb <= 0) {
		snprintf(err, sizeof(err), "a compute agent makes only clones of plugged volumes");
		rc = -EINVAL;
	} else if ((rc = vm_volume_local(ctx, p->source_id, p->storage_host, err, sizeof(err))) ==
	           0) {
		rc = copy_make(ctx, vm, p->source_id, "volumes", t->resource_id,
		               (uint64_t)p->size_gb << 30, err, sizeof(err));
	}
	copy_result(vm, t, MSG_RES_VOLUME, "clone", p->source_id, rc, err, now_us() - t0, r);
}

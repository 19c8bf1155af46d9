/* The compute agent's rows of the privileged helper's whitelist, and the worker's
 * calls to them (see vm_priv.h). The run functions execute as root: every argument
 * was checked by the row's check, every path is opened beneath the state directory
 * with no symlink followed, and every file must belong to the worker. */
#include "vm_priv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "lvm.h"
#include "qemu_argv.h"
#include "volfile.h"

#define INST_DIR "instances"
#define BASE_FILE "base" /* the instance's link of its cached base image (overlay.h) */

/* ---- checks ------------------------------------------------------------------------ */

static int accel_ok(const char *a)
{
	return !strcmp(a, "kvm") || !strcmp(a, "tcg");
}

static int start_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct vm_priv_start *s = req;
	if (!priv_str_ok(s->id, sizeof(s->id)) || !uuid_is_valid(s->id)) {
		snprintf(err, errlen, "bad instance id");
		return -EINVAL;
	}
	if (!priv_str_ok(s->image_id, sizeof(s->image_id)) ||
	    (s->image_id[0] && !uuid_is_valid(s->image_id))) {
		snprintf(err, errlen, "bad image id");
		return -EINVAL;
	}
	if (!priv_str_ok(s->volume_id, sizeof(s->volume_id)) ||
	    (s->volume_id[0] && (!uuid_is_valid(s->volume_id) || s->image_id[0]))) {
		snprintf(err, errlen, "bad boot volume id (or a volume and an image)");
		return -EINVAL;
	}
	struct in_addr ip;
	if (!priv_str_ok(s->nbd_host, sizeof(s->nbd_host)) ||
	    !priv_str_ok(s->attachment_id, sizeof(s->attachment_id)) || s->nbd_port < 0 ||
	    s->nbd_port > 65535 ||
	    (s->nbd_port && (!s->volume_id[0] || !uuid_is_valid(s->attachment_id) ||
	                     inet_pton(AF_INET, s->nbd_host, &ip) != 1))) {
		snprintf(err, errlen, "bad NBD export of the boot volume");
		return -EINVAL;
	}
	if (!priv_str_ok(s->base_format, sizeof(s->base_format)) ||
	    (s->image_id[0] && strcmp(s->base_format, "qcow2") && strcmp(s->base_format, "raw"))) {
		snprintf(err, errlen, "bad base image format");
		return -EINVAL;
	}
	if (!priv_str_ok(s->accel, sizeof(s->accel)) || !accel_ok(s->accel)) {
		snprintf(err, errlen, "bad accelerator");
		return -EINVAL;
	}
	if (!priv_str_ok(s->name, sizeof(s->name))) {
		snprintf(err, errlen, "bad name");
		return -EINVAL;
	}
	for (const unsigned char *c = (const unsigned char *)s->name; *c; c++)
		if (*c < 0x20 || *c == 0x7f) {
			snprintf(err, errlen, "control character in the name");
			return -EINVAL;
		}
	if (s->vcpus < 1 || s->vcpus > 1024 || s->ram_mb < 16 || s->ram_mb > (1 << 24) ||
	    (s->incoming != 0 && s->incoming != 1)) {
		snprintf(err, errlen, "vcpus, ram or incoming out of range");
		return -EINVAL;
	}
	char why[256];
	if (disk_qos_check(&s->disk_qos, DISK_QOS_CINDER, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "disk limits: %s", why);
		return -EINVAL;
	}
	return vm_nics_check(&s->nics, err, errlen);
}

static int signal_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct vm_priv_signal *s = req;
	if (!priv_str_ok(s->id, sizeof(s->id)) || !uuid_is_valid(s->id) || s->pid <= 1) {
		snprintf(err, errlen, "bad instance id or pid");
		return -EINVAL;
	}
	if (s->sig != SIGTERM && s->sig != SIGKILL) {
		snprintf(err, errlen, "signal %d is not allowed", (int)s->sig);
		return -EPERM;
	}
	return 0;
}

/* ---- files ------------------------------------------------------------------------- */

/* fd must be a regular file owned by the worker (never a link to a file of someone
 * else: the owner check holds whatever the hard-link policy of the host). */
static int file_is_workers(const struct priv_helper *h, int fd, const char *what, char *err,
                           size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != priv_worker_uid(h) ||
	    st.st_nlink != 1) {
		snprintf(err, errlen, "%s is not a plain file of the agent", what);
		return -EPERM;
	}
	return 0;
}

/* Opens the instance's base image read-only: a regular file of the worker, which may
 * have other links (the image cache's name for it and the bases of other instances of
 * that image are one file, common/image_cache.h); the owner check still keeps out
 * anyone else's file. QEMU only reads it. */
static int base_open(const struct priv_helper *h, int dirfd, char *err, size_t errlen)
{
	struct stat st;
	int fd = priv_openat(dirfd, BASE_FILE, O_RDONLY, 0);
	if (fd < 0) {
		snprintf(err, errlen, "base image: %s", strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != priv_worker_uid(h)) {
		snprintf(err, errlen, "the base image is not a file of the agent");
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Opens name in the instance directory; a created file is given to the worker. */
static int inst_open(const struct priv_helper *h, int dirfd, const char *name, int flags, char *err,
                     size_t errlen)
{
	int fd = priv_openat(dirfd, name, flags, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(-fd));
		return fd;
	}
	struct stat st;
	if ((flags & O_CREAT) && fstat(fd, &st) == 0 && st.st_uid == 0 && st.st_size == 0 &&
	    fchown(fd, priv_worker_uid(h), priv_worker_gid(h)) < 0) {
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
		close(fd);
		return -EPERM;
	}
	int rc = file_is_workers(h, fd, name, err, errlen);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* Opens the directory of the root disk's NBD key (VM_PRIV_PSK_DIR, the worker's, not
 * a symlink) in the instance directory, for QEMU to read keys.psk through. */
static int key_dir_open(const struct priv_helper *h, int dirfd, char *err, size_t errlen)
{
	struct stat st;
	int fd = priv_openat(dirfd, VM_PRIV_PSK_DIR, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		snprintf(err, errlen, "the boot volume's key: %s", strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != priv_worker_uid(h)) {
		snprintf(err, errlen, "the boot volume's key directory is not the agent's");
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Opens the LV of boot volume id in LVM group vg read-write: /dev/VG/vol-<id> (names
 * checked, the path lvm's own, under root's /dev), a block device the storage agent's
 * helper gave to the agent's user (so no other block device of the host passes).
 * Returns the fd or < 0. */
static int pool_lv_open(const struct priv_helper *h, const char *vg, const char *id, char *err,
                        size_t errlen)
{
	char lv[LVM_LV_MAX], path[LVM_VG_MAX + LVM_LV_MAX + 8];
	struct stat st;
	if (lvm_lv_name(LVM_VOLUME, id, lv) < 0 || lvm_dev_path(vg, lv, path, sizeof(path)) < 0) {
		snprintf(err, errlen, "boot volume %s: not an LV name", id);
		return -EINVAL;
	}
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "boot volume %s: %s", id, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_uid != priv_worker_uid(h)) {
		snprintf(err, errlen, "boot volume %s: not a block device of the pool", id);
		close(fd);
		return -EPERM;
	}
	return fd;
}

/* Opens the pool file of boot volume id read-write: <pool_dir>/volumes/<id>.qcow2 or
 * <id>.raw (common/volfile.h; its format to *fmt, *regular 1), resolved beneath the pool
 * with no symlink followed, a plain single-link file of the agent's user (the storage
 * agent's, the same daemon user); an LVM pool's LV: *fmt "raw", *regular 0. Returns the
 * fd or < 0. */
static int pool_volume_open(const struct priv_helper *h, const char *id, const char **fmt,
                            int *regular, char *err, size_t errlen)
{
	const struct vm_priv_ctx *ctx = priv_data(h);
	char rel[PRIV_PATH_MAX];
	*fmt = "raw";
	*regular = 0;
	if (ctx->volume_group)
		return pool_lv_open(h, ctx->volume_group, id, err, errlen);
	if (!ctx->pool_dir || ctx->pool_dir[0] != '/') {
		snprintf(err, errlen, "no storage pool on this machine to boot volume %s from", id);
		return -ENOENT;
	}
	int pool = open(ctx->pool_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (pool < 0) {
		int e = errno;
		snprintf(err, errlen, "storage pool %s: %s", ctx->pool_dir, strerror(e));
		return -e;
	}
	int fd = -ENOENT;
	for (size_t i = 0; fd == -ENOENT && volfile_format_at(i); i++) {
		*fmt = volfile_format_at(i);
		snprintf(rel, sizeof(rel), "volumes/%s.%s", id, *fmt);
		fd = priv_openat(pool, rel, O_RDWR, 0);
	}
	*regular = 1;
	close(pool);
	if (fd < 0) {
		snprintf(err, errlen, "boot volume %s: %s", id, strerror(-fd));
		return fd;
	}
	int rc = file_is_workers(h, fd, "the boot volume", err, errlen);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

/* A listening QMP socket at <instance dir>/qmp.sock that the worker may connect to
 * (created with the worker's fsuid/fsgid; the helper's umask keeps others out). Bound through the
 * directory's descriptor, so no path outside it is resolved. */
static int qmp_listen(const struct priv_helper *h, int dirfd, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	if (unlinkat(dirfd, "qmp.sock", 0) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "qmp.sock: %s", strerror(errno));
		goto fail;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/qmp.sock", dirfd);
	/* the socket is born the worker's: a chown by name afterwards would follow
	 * whatever the worker put in that name meanwhile */
	setfsgid(priv_worker_gid(h));
	setfsuid(priv_worker_uid(h));
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = errno;
	setfsuid(0);
	setfsgid(0);
	if (rc < 0 || listen(fd, 8) < 0) {
		snprintf(err, errlen, "qmp.sock: %s", strerror(rc < 0 ? e : errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -EIO;
}

/* Which instance each tap was handed to, in this helper process (vm_nics.h). */
static struct vm_tap_owners tap_owners;

static int inst_exists(struct priv_helper *h, const char *id)
{
	char rel[PRIV_PATH_MAX];
	snprintf(rel, sizeof(rel), INST_DIR "/%s", id);
	int fd = priv_open(h, rel, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* vm_tap_alive_fn: a tap is gone only when the kernel says it has no such device
 * (any other failure to look keeps its entry, and so its owner's claim). */
static int tap_alive(const char *tap, void *arg)
{
	(void)arg;
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/sys/class/net/%s", tap);
	return stat(path, &st) == 0 || errno != ENOENT;
}

/* tap := id's, counting only the taps that still exist (review s7 M1: a detached
 * tap counted against its instance for good); when the table is still full, it is
 * first emptied of deleted instances. */
static int tap_owners_give(struct priv_helper *h, const char *id, const char *tap)
{
	int rc = vm_tap_owners_give(&tap_owners, id, tap, tap_alive, NULL);
	if (rc != -ENOSPC || tap_owners.n < VM_TAP_OWNERS_MAX)
		return rc;
	for (int j = tap_owners.n - 1; j >= 0; j--)
		if (j < tap_owners.n && !inst_exists(h, tap_owners.e[j].id))
			vm_tap_owners_drop(&tap_owners, tap_owners.e[j].id);
	return vm_tap_owners_give(&tap_owners, id, tap, tap_alive, NULL);
}

/* ---- runs ---------------------------------------------------------------------------- */

static int start_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct vm_priv_start *s = req;
	const struct vm_priv_ctx *ctx = priv_data(h);
	char rel[PRIV_PATH_MAX];
	/* what QEMU inherits, in this order, as fds 3, 4, ... */
	enum { F_DISK, F_BASE, F_CONFIG, F_CONSOLE, F_QMP, F_N };
	int fds[F_N] = {-1, -1, -1, -1, -1}, child[F_N], n = 0;
	int dirfd = -1, logfd = -1, rc = 0;
	int nicfd[VM_NICS_MAX], n_nicfd = 0;
	struct qemu_nic qnics[VM_NICS_MAX];
	char **argv = NULL;
	const char *boot_fmt =
	    NULL; /* a boot volume of this machine: its format (pool_volume_open) */
	int boot_regular = 0;
	struct stat st;

	if (priv_tag_running(h, s->id, 2000)) {
		snprintf(rep->err, sizeof(rep->err), "a QEMU of this instance runs already");
		return -EBUSY;
	}
	snprintf(rel, sizeof(rel), INST_DIR "/%s", s->id);
	dirfd = priv_open(h, rel, O_RDONLY | O_DIRECTORY, 0);
	if (dirfd < 0) {
		snprintf(rep->err, sizeof(rep->err), "instance directory: %s", strerror(-dirfd));
		return dirfd;
	}
	if (fstat(dirfd, &st) < 0 || st.st_uid != priv_worker_uid(h)) {
		snprintf(rep->err, sizeof(rep->err), "instance directory is not the agent's");
		rc = -EPERM;
		goto out;
	}
	fds[F_DISK] = s->nbd_port ? key_dir_open(h, dirfd, rep->err, sizeof(rep->err))
	              : s->volume_id[0]
	                  ? pool_volume_open(h, s->volume_id, &boot_fmt, &boot_regular, rep->err,
	                                     sizeof(rep->err))
	                  : inst_open(h, dirfd, "disk.qcow2", O_RDWR, rep->err, sizeof(rep->err));
	if (fds[F_DISK] < 0) {
		rc = fds[F_DISK];
		goto out;
	}
	if (s->image_id[0] && (fds[F_BASE] = base_open(h, dirfd, rep->err, sizeof(rep->err))) < 0) {
		rc = fds[F_BASE];
		goto out;
	}
	fds[F_CONFIG] = inst_open(h, dirfd, "config.iso", O_RDONLY, rep->err, sizeof(rep->err));
	if (fds[F_CONFIG] == -ENOENT) {
		fds[F_CONFIG] = -1; /* no config drive */
	} else if (fds[F_CONFIG] < 0) {
		rc = fds[F_CONFIG];
		goto out;
	}
	if ((fds[F_CONSOLE] = inst_open(h, dirfd, "console.log", O_WRONLY | O_APPEND | O_CREAT,
	                                rep->err, sizeof(rep->err))) < 0 ||
	    (logfd = inst_open(h, dirfd, "qemu.log", O_WRONLY | O_APPEND | O_CREAT, rep->err,
	                       sizeof(rep->err))) < 0) {
		rc = fds[F_CONSOLE] < 0 ? fds[F_CONSOLE] : logfd;
		goto out;
	}
	if ((fds[F_QMP] = qmp_listen(h, dirfd, rep->err, sizeof(rep->err))) < 0) {
		rc = fds[F_QMP];
		goto out;
	}
	for (; n_nicfd < s->nics.n; n_nicfd++)
		if ((nicfd[n_nicfd] = vm_nics_open_tap(s->nics.nic[n_nicfd].tap, rep->err,
		                                       sizeof(rep->err))) < 0) {
			rc = nicfd[n_nicfd];
			goto out;
		}
	/* number them as QEMU will see them */
	int order[F_N + VM_NICS_MAX];
	for (int i = 0; i < F_N; i++)
		if (fds[i] >= 0) {
			order[n] = fds[i];
			child[i] = 3 + n++;
		} else {
			child[i] = -1;
		}
	for (int i = 0; i < n_nicfd; i++) {
		order[n] = nicfd[i];
		qnics[i].fd = 3 + n++;
		snprintf(qnics[i].mac, sizeof(qnics[i].mac), "%s", s->nics.nic[i].mac);
	}
	struct qemu_def d = {
	    .qemu = ctx->qemu,
	    .id = s->id,
	    .name = s->name,
	    .accel = s->accel,
	    .vcpus = s->vcpus,
	    .ram_mb = s->ram_mb,
	    .fd_disk = child[F_DISK],
	    /* a volume of this machine: its file's format (an LV is raw); a volume over NBD
	     * has no format of its own here */
	    .disk_format = s->volume_id[0] && !s->nbd_port ? boot_fmt : NULL,
	    .disk_regular = s->volume_id[0] && !s->nbd_port && boot_regular,
	    .disk_serial = s->volume_id[0] ? s->volume_id : NULL,
	    .fd_base = child[F_BASE],
	    .base_format = s->base_format,
	    .fd_config = child[F_CONFIG],
	    .fd_console = child[F_CONSOLE],
	    .fd_qmp = child[F_QMP],
	    .incoming = s->incoming,
	    .disk_qos = &s->disk_qos,
	    .nbd_host = s->nbd_port ? s->nbd_host : NULL,
	    .nbd_port = s->nbd_port,
	    .nbd_user = s->attachment_id,
	    .nics = qnics,
	    .n_nics = n_nicfd,
	};
	argv = qemu_argv_new(&d);
	if (!argv) {
		snprintf(rep->err, sizeof(rep->err), "invalid instance definition");
		rc = -EINVAL;
		goto out;
	}
	struct priv_spawn sp = {
	    .argv = (const char *const *)argv,
	    .user = ctx->qemu_user,
	    .uid_base = ctx->qemu_uid_base,
	    .uid_count = ctx->qemu_uid_count,
	    .fds = order,
	    .n_fds = n,
	    .out_fd = logfd,
	    .cwd_fd = dirfd, /* what the exact matcher recognises it by */
	    .tag = s->id,
	};
	pid_t pid = priv_spawn(h, &sp, rep->err, sizeof(rep->err));
	if (pid < 0) {
		rc = pid;
		goto out;
	}
	vm_tap_owners_drop(&tap_owners, s->id); /* its taps := this start's */
	for (int i = 0; i < s->nics.n; i++)
		tap_owners_give(h, s->id, s->nics.nic[i].tap);
	int32_t p32 = pid;
	memcpy(rep->data, &p32, sizeof(p32));
	rep->len = sizeof(p32);
out:
	qemu_argv_free(argv);
	while (n_nicfd > 0)
		if (nicfd[--n_nicfd] >= 0)
			close(nicfd[n_nicfd]);
	for (int i = 0; i < F_N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (logfd >= 0)
		close(logfd);
	if (dirfd >= 0)
		close(dirfd);
	return rc;
}

int vm_priv_is_qemu_of(pid_t pid, const char *id, int inst_dirfd)
{
	char path[64], buf[8192];
	struct stat cwd, inst;
	int match = 0;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	int procfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return 0;
	if (fstatat(procfd, "cwd", &cwd, 0) < 0 || fstat(inst_dirfd, &inst) < 0 ||
	    cwd.st_dev != inst.st_dev || cwd.st_ino != inst.st_ino)
		goto out;
	int fd = openat(procfd, "cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		goto out;
	buf[n] = '\0';
	for (const char *a = buf; a < buf + n; a += strlen(a) + 1) {
		const char *next = a + strlen(a) + 1;
		if (!strcmp(a, "-uuid") && next < buf + n && !strcmp(next, id))
			match = 1;
	}
out:
	close(procfd);
	return match;
}

static int signal_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct vm_priv_signal *s = req;
	char rel[PRIV_PATH_MAX];
	int rc = 0;
	/* a pidfd pins the process: the checks and the signal reach the same one */
	int pidfd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (pidfd < 0) {
		snprintf(rep->err, sizeof(rep->err), "pid %d: %s", (int)s->pid, strerror(errno));
		return -ESRCH;
	}
	snprintf(rel, sizeof(rel), INST_DIR "/%s", s->id);
	int dirfd = priv_open(h, rel, O_RDONLY | O_DIRECTORY, 0);
	if (!priv_child_running(h, s->pid, s->id) &&
	    (dirfd < 0 || !vm_priv_is_qemu_of(s->pid, s->id, dirfd))) {
		snprintf(rep->err, sizeof(rep->err), "pid %d is not a QEMU of instance %s",
		         (int)s->pid, s->id);
		rc = -EPERM;
	} else if (syscall(SYS_pidfd_send_signal, pidfd, s->sig, NULL, 0) < 0) {
		rc = -errno;
		snprintf(rep->err, sizeof(rep->err), "kill %d: %s", (int)s->pid, strerror(errno));
	}
	if (dirfd >= 0)
		close(dirfd);
	close(pidfd);
	return rc;
}

static int tap_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct vm_priv_tap *t = req;
	if (!priv_str_ok(t->id, sizeof(t->id)) || !uuid_is_valid(t->id) || t->nics.n != 1 ||
	    t->pid <= 1) {
		snprintf(err, errlen, "bad instance id, pid or NIC count");
		return -EINVAL;
	}
	return vm_nics_check(&t->nics, err, errlen);
}

/* The fd goes to the worker, not to a QEMU: only for an instance whose QEMU runs
 * (pid checked as for a signal), and never a tap handed to another instance that
 * still exists and whose QEMU is not running (a shut-off server's persistent tap);
 * a tap a running QEMU holds answers EBUSY, one it let go of (detached) may move. */
static int tap_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct vm_priv_tap *t = req;
	const char *tap = t->nics.nic[0].tap;
	char rel[PRIV_PATH_MAX];
	snprintf(rel, sizeof(rel), INST_DIR "/%s", t->id);
	int dirfd = priv_open(h, rel, O_RDONLY | O_DIRECTORY, 0);
	int ours = priv_child_running(h, t->pid, t->id) ||
	           (dirfd >= 0 && vm_priv_is_qemu_of(t->pid, t->id, dirfd));
	if (dirfd >= 0)
		close(dirfd);
	if (!ours) {
		snprintf(rep->err, sizeof(rep->err), "pid %d is not a QEMU of instance %s",
		         (int)t->pid, t->id);
		return -EPERM;
	}
	const char *owner = vm_tap_owners_of(&tap_owners, tap);
	if (owner && strcmp(owner, t->id) && inst_exists(h, owner) &&
	    !priv_tag_running(h, owner, 0)) {
		snprintf(rep->err, sizeof(rep->err), "tap %s belongs to instance %s", tap, owner);
		return -EPERM;
	}
	if (tap_owners_give(h, t->id, tap) < 0) {
		snprintf(rep->err, sizeof(rep->err),
		         "instance %s has %d taps already, or this host %d", t->id, VM_NICS_MAX,
		         VM_TAP_OWNERS_MAX);
		return -ENOSPC;
	}
	int fd = vm_nics_open_tap(tap, rep->err, sizeof(rep->err));
	if (fd < 0)
		return fd;
	rep->fds[0] = fd;
	rep->n_fds = 1;
	return 0;
}

const struct priv_op vm_priv_ops[] = {
    {VM_PRIV_QEMU_START, "qemu_start", sizeof(struct vm_priv_start), start_check, start_run},
    {VM_PRIV_QEMU_SIGNAL, "qemu_signal", sizeof(struct vm_priv_signal), signal_check, signal_run},
    {VM_PRIV_TAP_OPEN, "tap_open", sizeof(struct vm_priv_tap), tap_check, tap_run},
};
const size_t vm_priv_n_ops = sizeof(vm_priv_ops) / sizeof(vm_priv_ops[0]);

/* ---- worker side ----------------------------------------------------------------- */

pid_t vm_priv_qemu_start(struct priv *p, const struct vm_priv_start *s, char *err, size_t errlen)
{
	int32_t pid = 0;
	size_t got = 0;
	int rc = priv_call(p, VM_PRIV_QEMU_START, s, sizeof(*s), &pid, sizeof(pid), &got, NULL, 0,
	                   NULL, err, errlen);
	if (rc < 0)
		return rc;
	if (got != sizeof(pid) || pid <= 0) {
		snprintf(err, errlen, "privileged helper: no pid");
		return -EPROTO;
	}
	return pid;
}

int vm_priv_qemu_signal(struct priv *p, const char *id, pid_t pid, int sig, char *err,
                        size_t errlen)
{
	struct vm_priv_signal s = {.pid = pid, .sig = sig};
	snprintf(s.id, sizeof(s.id), "%s", id);
	return priv_call(p, VM_PRIV_QEMU_SIGNAL, &s, sizeof(s), NULL, 0, NULL, NULL, 0, NULL, err,
	                 errlen);
}

int vm_priv_tap_open(struct priv *p, const char *id, pid_t pid, const struct vm_priv_nic *nic,
                     char *err, size_t errlen)
{
	struct vm_priv_tap t = {.nics = {.n = 1}};
	t.pid = pid;
	snprintf(t.id, sizeof(t.id), "%s", id);
	t.nics.nic[0] = *nic;
	int fd = -1, n_fds = 0;
	int rc = priv_call(p, VM_PRIV_TAP_OPEN, &t, sizeof(t), NULL, 0, NULL, &fd, 1, &n_fds, err,
	                   errlen);
	if (rc < 0)
		return rc;
	if (n_fds != 1 || fd < 0) {
		snprintf(err, errlen, "privileged helper: no tap descriptor");
		return -EPROTO;
	}
	return fd;
}

int vm_priv_qemu_status(struct priv *p, const char *id, pid_t pid, int *status)
{
	struct priv_child_req r = {.pid = pid};
	struct priv_child_status st;
	size_t got = 0;
	char err[PRIV_ERR_MAX];
	snprintf(r.tag, sizeof(r.tag), "%s", id);
	int rc = priv_call(p, PRIV_CHILD_STATUS, &r, sizeof(r), &st, sizeof(st), &got, NULL, 0,
	                   NULL, err, sizeof(err));
	if (rc < 0)
		return rc;
	if (got != sizeof(st))
		return -EPROTO;
	if (st.state == PRIV_CHILD_RUNNING)
		return 0;
	*status = st.status;
	return 1;
}

/* nubo-compute: the per-host compute agent. Started as root, it forks its privileged
 * helper (vm_priv.c's whitelist: start and signal QEMU) and runs as DAEMON_USER;
 * the command line is every daemon's (common/daemon.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compute_agent.h"
#include "compute_conf.h"
#include "daemon.h"
#include "fsutil.h"
#include "log.h"
#include "priv.h"
#include "vm_priv.h"
#include "vm_volume.h"
#include "xalloc.h"

struct compute_main {
	struct compute_conf cc;
	struct vm_priv_ctx pctx;
	struct priv *priv;
};

static int compute_conf_load_cb(const struct conf *c, void **cfg, char *summary, size_t slen,
                                char *err, size_t errlen)
{
	struct compute_main *m = xcalloc(1, sizeof(*m));
	*cfg = m;
	int rc = compute_conf_load(&m->cc, c, err, errlen);
	if (rc == 0)
		snprintf(summary, slen, "host %s, driver %s, accel %s", m->cc.host, m->cc.driver,
		         accel_mode_name(m->cc.accel));
	return rc;
}

static void compute_conf_free_cb(void *cfg)
{
	struct compute_main *m = cfg;
	compute_conf_release(&m->cc);
	free(m);
}

static void helper_report(int level, const char *msg)
{
	log_msg((enum log_level)level, "%s", msg);
}

static uid_t convert_uid;
static gid_t convert_gid;

static int convert_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return lchown(path, convert_uid, convert_gid) < 0 ? -1 : 0;
}

/* A state directory of an agent that ran as root (before the privilege split) is
 * given to the worker's user, once. Depth first: while a directory is still root's, no
 * unprivileged process can swap what it holds for a symlink. */
static int state_dir_convert(const char *dir, const struct passwd *pw, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(dir, &st) < 0 || st.st_uid != 0)
		return 0;
	convert_uid = pw->pw_uid;
	convert_gid = pw->pw_gid;
	if (nftw(dir, convert_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0) {
		snprintf(err, errlen, "%s: giving it to %s: %s", dir, DAEMON_USER, strerror(errno));
		return -errno;
	}
	log_info("%s: given to %s (it was root's)", dir, DAEMON_USER);
	return 0;
}

/* The state directory and its first level belong to the worker's user (created when
 * missing); opened without following a symlink. */
static int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
	static const char *const subdirs[] = {".", "instances", "images", "tmp"};
	struct passwd *pw = getpwnam(DAEMON_USER);
	int rc = fs_mkdir_p(dir, 0700);
	if (!pw || rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, pw ? strerror(-rc) : "no user " DAEMON_USER);
		return pw ? rc : -ENOENT;
	}
	if ((rc = state_dir_convert(dir, pw, err, errlen)) < 0)
		return rc;
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -errno;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (mkdirat(top, subdirs[i], 0700) < 0 && errno != EEXIST)
			rc = -errno;
		int fd = openat(top, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fchown(fd, pw->pw_uid, pw->pw_gid) < 0 || fchmod(fd, 0700) < 0)
			rc = -errno;
		if (fd >= 0)
			close(fd);
		if (rc < 0) {
			snprintf(err, errlen, "%s/%s: %s", dir, subdirs[i], strerror(-rc));
			break;
		}
	}
	close(top);
	return rc;
}

static int compute_setup(void *cfg, char *err, size_t errlen)
{
	struct compute_main *m = cfg;
	int rc = state_dir_prepare(m->cc.state_dir, err, errlen);
	if (rc < 0)
		return rc;
	m->pctx.qemu = m->cc.qemu;
	m->pctx.qemu_user = VM_PRIV_QEMU_USER;
	m->pctx.qemu_uid_base = (unsigned)m->cc.qemu_uid_base;
	m->pctx.qemu_uid_count = (unsigned)m->cc.qemu_uid_count;
	m->pctx.pool_dir = vm_volume_pool_dir(m->cc.raw); /* boot volumes */
	m->pctx.volume_group = vm_volume_group(m->cc.raw);
	static struct priv_conf pc;
	pc.ops = vm_priv_ops;
	pc.n_ops = vm_priv_n_ops;
	pc.state_dir = m->cc.state_dir;
	pc.user = DAEMON_USER;
	pc.data = &m->pctx;
	pc.report = helper_report;
	m->priv = priv_start(&pc, err, errlen);
	if (!m->priv)
		return -EIO;
	if (m->cc.qemu_uid_count)
		log_info("privileged helper pid %d (each QEMU runs under a uid of its own in "
		         "%d..%d, with the groups of %s)",
		         (int)priv_pid(m->priv), m->cc.qemu_uid_base,
		         m->cc.qemu_uid_base + m->cc.qemu_uid_count - 1, VM_PRIV_QEMU_USER);
	else
		log_info("privileged helper pid %d (QEMU runs as %s)", (int)priv_pid(m->priv),
		         VM_PRIV_QEMU_USER);
	return 0;
}

static int compute_run(void *cfg, volatile sig_atomic_t *stop)
{
	struct compute_main *m = cfg;
	char err[512];
	int rc = 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct compute_agent *a = compute_agent_new(&m->cc, m->priv, err, sizeof(err));
	if (!a)
		log_err("%s", err);
	else
		rc = compute_agent_run(a, stop) < 0 ? 1 : 0;
	compute_agent_free(a);
	curl_global_cleanup();
	return rc;
}

static void compute_teardown(void *cfg)
{
	struct compute_main *m = cfg;
	priv_free(m->priv);
	m->priv = NULL;
}

static const struct daemon_def compute_daemon = {
    .name = "nubo-compute",
    .conf_load = compute_conf_load_cb,
    .conf_free = compute_conf_free_cb,
    .setup = compute_setup,
    .run = compute_run,
    .teardown = compute_teardown,
};

int main(int argc, char **argv)
{
	return daemon_main(&compute_daemon, argc, argv);
}

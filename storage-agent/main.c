/* nubo-storage: the per-host storage agent. Started as root, it makes its pool
 * directory the worker's, forks the privileged helper (with the LVM rows of
 * lvm_priv.h when [storage] backend = lvm: the group is the helper's, fixed here) and
 * runs as DAEMON_USER; the command line is every
 * daemon's (common/daemon.h). */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "fsutil.h"
#include "http_client.h"
#include "log.h"
#include "lvm_priv.h"
#include "priv.h"
#include "storage_agent.h"
#include "xalloc.h"

struct storage_main {
	struct storage_conf sc;
	struct priv *priv;
};

static int conf_load_cb(const struct conf *c, void **cfg, char *summary, size_t slen, char *err,
                        size_t errlen)
{
	struct storage_main *m = xcalloc(1, sizeof(*m));
	*cfg = m;
	int rc = storage_conf_load(&m->sc, c, err, errlen);
	if (rc == 0)
		snprintf(summary, slen, "host %s, pool %s", m->sc.host, m->sc.state_dir);
	return rc;
}

static void conf_free_cb(void *cfg)
{
	struct storage_main *m = cfg;
	storage_conf_release(&m->sc);
	free(m);
}

static void helper_report(int level, const char *msg)
{
	log_msg((enum log_level)level, "%s", msg);
}

/* The pool directory belongs to the worker's user, 0700 (created when missing;
 * opened without following a symlink). */
static int pool_dir_prepare(const char *dir, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(DAEMON_USER);
	int rc = fs_mkdir_p(dir, 0700);
	if (!pw || rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, pw ? strerror(-rc) : "no user " DAEMON_USER);
		return pw ? rc : -ENOENT;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, pw->pw_uid, pw->pw_gid) < 0 || fchmod(fd, 0700) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

static int storage_setup(void *cfg, char *err, size_t errlen)
{
	struct storage_main *m = cfg;
	int rc = pool_dir_prepare(m->sc.state_dir, err, errlen);
	if (rc < 0)
		return rc;
	static struct priv_conf pc;
	int lvm = m->sc.volume_group[0] != 0;
	pc.ops = lvm ? lvm_priv_ops : NULL;
	pc.n_ops = lvm ? lvm_priv_n_ops : 0;
	pc.state_dir = m->sc.state_dir;
	pc.user = DAEMON_USER;
	pc.data = lvm ? m->sc.volume_group : NULL;
	pc.report = helper_report;
	m->priv = priv_start(&pc, err, errlen);
	if (!m->priv)
		return -EIO;
	m->sc.priv = m->priv;
	log_info("privileged helper pid %d", (int)priv_pid(m->priv));
	return 0;
}

static int storage_run(void *cfg, volatile sig_atomic_t *stop)
{
	struct storage_main *m = cfg;
	char err[512];
	int rc = 1;
	if (http_client_init() < 0) {
		log_err("libcurl could not start");
		return 1;
	}
	struct storage_agent *a = storage_agent_new(&m->sc, err, sizeof(err));
	if (!a)
		log_err("%s", err);
	else
		rc = storage_agent_run(a, stop) < 0 ? 1 : 0;
	storage_agent_free(a);
	curl_global_cleanup();
	return rc;
}

static void storage_teardown(void *cfg)
{
	struct storage_main *m = cfg;
	priv_free(m->priv);
	m->priv = NULL;
}

static const struct daemon_def storage_daemon = {
    .name = "nubo-storage",
    .conf_load = conf_load_cb,
    .conf_free = conf_free_cb,
    .setup = storage_setup,
    .run = storage_run,
    .teardown = storage_teardown,
};

int main(int argc, char **argv)
{
	return daemon_main(&storage_daemon, argc, argv);
}

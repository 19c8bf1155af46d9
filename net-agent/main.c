/* nubo-net: the per-host network agent. Started as root, it forks its privileged
 * helper (net_priv.c's whitelist: links, namespaces, addresses, routes, FDB entries,
 * nft tables, dnsmasq) and runs as DAEMON_USER; the command line is every daemon's
 * (common/daemon.h). */
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
#include "net_agent.h"
#include "net_priv.h"
#include "priv.h"
#include "xalloc.h"

struct net_main {
	struct net_conf nc;
	struct net_priv_ctx pctx;
	struct priv *priv;
};

static int net_conf_load_cb(const struct conf *c, void **cfg, char *summary, size_t slen, char *err,
                            size_t errlen)
{
	struct net_main *m = xcalloc(1, sizeof(*m));
	*cfg = m;
	int rc = net_conf_load(&m->nc, c, err, errlen);
	if (rc == 0)
		snprintf(summary, slen, "host %s, prefix %s, %s, %s", m->nc.bus_host,
		         m->nc.host.prefix, m->nc.host.seg == NET_SEG_VLAN ? "vlan" : "vxlan",
		         m->nc.desired_file[0] ? "standalone" : "bus");
	return rc;
}

static void net_conf_free_cb(void *cfg)
{
	struct net_main *m = cfg;
	net_conf_release(&m->nc);
	free(m);
}

static void helper_report(int level, const char *msg)
{
	log_msg((enum log_level)level, "%s", msg);
}

/* The state directory belongs to the worker's user (created when missing). */
static int state_dir_prepare(const char *dir, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(DAEMON_USER);
	int rc = fs_mkdir_p(dir, 0700);
	if (!pw || rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, pw ? strerror(-rc) : "no user " DAEMON_USER);
		return pw ? rc : -ENOENT;
	}
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, pw->pw_uid, pw->pw_gid) < 0 || fchmod(fd, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	close(fd);
	return 0;
}

static int net_setup(void *cfg, char *err, size_t errlen)
{
	struct net_main *m = cfg;
	int rc = state_dir_prepare(m->nc.host.state_dir, err, errlen);
	if (rc < 0)
		return rc;
	m->pctx.prefix = m->nc.host.prefix;
	m->pctx.ext_bridge = m->nc.host.ext_bridge;
	m->pctx.tap_user = m->nc.host.tap_user;
	m->pctx.dhcp_user = m->nc.host.dhcp_user;
	m->pctx.state_dir = m->nc.host.state_dir;
	static struct priv_conf pc;
	pc.ops = net_priv_ops;
	pc.n_ops = net_priv_n_ops;
	pc.state_dir = m->nc.host.state_dir;
	pc.user = DAEMON_USER;
	pc.data = &m->pctx;
	pc.report = helper_report;
	m->priv = priv_start(&pc, err, errlen);
	if (!m->priv)
		return -EIO;
	log_info("privileged helper pid %d", (int)priv_pid(m->priv));
	return 0;
}

static int net_run(void *cfg, volatile sig_atomic_t *stop)
{
	struct net_main *m = cfg;
	if (!m->priv) {
		log_err("nubo-net needs its privileged helper: start it as root (it drops to %s)",
		        DAEMON_USER);
		return 1;
	}
	if (http_client_init() < 0) {
		log_err("libcurl: cannot initialise");
		return 1;
	}
	return net_agent_run(&m->nc, m->priv, stop);
}

static void net_teardown(void *cfg)
{
	struct net_main *m = cfg;
	priv_free(m->priv);
	m->priv = NULL;
}

static const struct daemon_def net_daemon = {
    .name = "nubo-net",
    .conf_load = net_conf_load_cb,
    .conf_free = net_conf_free_cb,
    .setup = net_setup,
    .run = net_run,
    .teardown = net_teardown,
};

int main(int argc, char **argv)
{
	return daemon_main(&net_daemon, argc, argv);
}

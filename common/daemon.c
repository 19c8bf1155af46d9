/* The one main() of every daemon (see daemon.h). The only file of common/ that logs:
 * it is the daemon's edge. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void signals_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: blocking waits return at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int usage(const struct daemon_def *d)
{
	fprintf(stderr, "usage: %s [-c CONF] [-n] [-d] [-p PIDFILE]\n", d->name);
	return 2;
}

/* Writes our pid to path (replacing what was there). 0 or a negative errno. */
static int pidfile_write(const char *path)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n", (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	int rc = write(fd, text, (size_t)n) == n ? 0 : -EIO;
	close(fd);
	return rc;
}

int daemon_main(const struct daemon_def *d, int argc, char **argv)
{
	const char *path = DAEMON_CONF_DEFAULT, *pidfile = NULL;
	int check = 0, debug = 0, opt, rc = 1, set_up = 0;
	char err[512] = "", summary[256] = "";
	struct conf *c = NULL;
	void *cfg = NULL;

	while ((opt = getopt(argc, argv, "c:ndp:")) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'n')
			check = 1;
		else if (opt == 'd')
			debug = 1;
		else if (opt == 'p')
			pidfile = optarg;
		else
			return usage(d);
	}
	if (optind != argc)
		return usage(d);
	log_init(d->name, debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	c = conf_load(path, err, sizeof(err));
	if (!c) {
		if (check)
			printf("# %s: cannot load the configuration: %s\n", d->name, err);
		else
			log_err("cannot load the configuration: %s", err);
		return 1;
	}
	int crc = d->conf_load(c, &cfg, summary, sizeof(summary), err, sizeof(err));
	if (check) {
		conf_dump(c, stdout);
		if (crc == 0)
			printf("# %s: configuration complete (%s)\n", d->name, summary);
		else
			printf("# %s: configuration incomplete: %s\n", d->name, err);
		rc = crc == 0 ? 0 : 1;
		goto out;
	}
	if (crc < 0) {
		log_err("%s: %s", path, err);
		goto out;
	}
	signals_setup();
	if (pidfile && (rc = pidfile_write(pidfile)) < 0) {
		log_err("pid file %s: %s", pidfile, strerror(-rc));
		rc = 1;
		goto out;
	}
	rc = 1;
	if (geteuid() == 0) {
		if (d->setup && d->setup(cfg, err, sizeof(err)) < 0) {
			log_err("%s", err);
			goto out;
		}
		set_up = 1;
		if (priv_drop(DAEMON_USER, err, sizeof(err)) < 0) {
			log_err("%s", err);
			goto out;
		}
		log_info("running as user %s", DAEMON_USER);
	}
	rc = d->run(cfg, &stop_requested);
	log_info("exiting");
out:
	if (set_up && d->teardown)
		d->teardown(cfg);
	if (pidfile && !check)
		unlink(pidfile); /* best effort: the directory may be root's */
	if (cfg)
		d->conf_free(cfg);
	conf_free(c);
	return rc;
}

/* nubo-scheduler: the controller. Registers agents, places instances, dispatches the
 * task outbox to agents and records their results and reports in PostgreSQL. */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "sched.h"
#include "settings.h"

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	stop_requested = 1;
}

static int usage(void)
{
	fputs("usage: nubo-scheduler [-c CONF] [-n] [-d]\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = "/etc/nubo/nubo.conf";
	int check = 0, debug = 0, opt, rc = 1;
	char err[512];
	struct conf *conf = NULL;
	struct sched *s = NULL;
	struct settings cfg;

	while ((opt = getopt(argc, argv, "c:nd")) != -1) {
		if (opt == 'c')
			path = optarg;
		else if (opt == 'n')
			check = 1;
		else if (opt == 'd')
			debug = 1;
		else
			return usage();
	}
	if (optind != argc)
		return usage();
	log_init("nubo-scheduler", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (sodium_init() < 0) {
		fputs("nubo-scheduler: libsodium failed to initialise\n", stderr);
		return 1;
	}
	conf = conf_load(path, err, sizeof(err));
	if (!conf) {
		fprintf(stderr, "nubo-scheduler: %s\n", err);
		return 1;
	}
	int bad = settings_load(conf, &cfg, err, sizeof(err));
	if (check) {
		conf_dump(conf, stdout);
		if (bad)
			fprintf(stderr, "nubo-scheduler: %s: %s\n", path, err);
		rc = bad ? 1 : 0;
		goto out;
	}
	if (bad) {
		log_err("%s: %s", path, err);
		goto out;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop; /* no SA_RESTART: zmq_poll and sleep return at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = sched_new(&cfg, err, sizeof(err));
	if (!s) {
		log_err("%s", err);
		goto out;
	}
	log_info("starting");
	rc = sched_run(s, &stop_requested) < 0 ? 1 : 0;
	log_info("stopping");
out:
	sched_free(s);
	conf_free(conf);
	return rc;
}

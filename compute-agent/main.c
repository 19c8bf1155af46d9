/* nubo-compute: the per-host compute agent. Options: -c CONF (default
 * /etc/nubo/nubo.conf), -n check the configuration, print it and exit, -d debug logs. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "compute_agent.h"
#include "compute_conf.h"
#include "conf.h"
#include "log.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: nubo-compute [-c CONF] [-n] [-d]\n");
}

static void signals_setup(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns at once */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	const char *path = "/etc/nubo/nubo.conf";
	int check = 0, debug = 0, opt, rc = 1;
	char err[512];
	struct conf *c = NULL;
	struct compute_conf cc = {0};
	struct compute_agent *a = NULL;

	while ((opt = getopt(argc, argv, "c:nd")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = 1;
			break;
		case 'd':
			debug = 1;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	log_init("nubo-compute", debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	c = conf_load(path, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "nubo-compute: %s\n", err);
		goto out;
	}
	int crc = compute_conf_load(&cc, c, err, sizeof(err));
	if (check) {
		conf_dump(c, stdout);
		if (crc == 0)
			printf("# nubo-compute: configuration complete (host %s, driver %s, accel "
			       "%s)\n",
			       cc.host, cc.driver, accel_mode_name(cc.accel));
		else
			printf("# nubo-compute: configuration incomplete: %s\n", err);
		rc = crc == 0 ? 0 : 1;
		goto out;
	}
	if (crc < 0) {
		log_err("%s: %s", path, err);
		goto out;
	}
	/* QEMUs we start outlive their -daemonize parent: become their reaper, so an
	 * exited one is collected instead of lingering as a zombie */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	signals_setup();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	a = compute_agent_new(&cc, err, sizeof(err));
	if (!a) {
		log_err("%s", err);
		goto cleanup;
	}
	rc = compute_agent_run(a, &stop_requested) < 0 ? 1 : 0;
	log_info("exiting");
cleanup:
	compute_agent_free(a);
	curl_global_cleanup();
out:
	compute_conf_release(&cc);
	conf_free(c);
	return rc;
}

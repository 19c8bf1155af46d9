/* What every nubo daemon's main() shares: the command line (-c CONF, -n, -d, -p
 * PIDFILE), loading nubo.conf, logging to stderr, stop signals, a pid file and the
 * drop from root to the unprivileged DAEMON_USER, with one -n output format for all.
 * A daemon is a struct daemon_def and a one-line main() calling daemon_main().
 *
 * Order: parse the command line; load the configuration and the daemon's settings
 * (-n prints them and exits here); as root only: setup (e.g. fork the privileged
 * helper, prepare directories); drop to DAEMON_USER; run until a stop signal;
 * teardown. A daemon started as a non-root user keeps that user. */
#ifndef NUBO_DAEMON_H
#define NUBO_DAEMON_H
#include <signal.h>
#include <stddef.h>

#include "conf.h"

#define DAEMON_USER "nubo"
#define DAEMON_CONF_DEFAULT "/etc/nubo/nubo.conf"

struct daemon_def {
	const char *name; /* "nubo-compute": logs, usage, -n */
	/* Parses the daemon's sections of c (borrowed; it outlives *cfg) into *cfg
	 * (owned, freed by conf_free). Returns 0 with a one-line summary of what it will
	 * run (for -n), or -EINVAL with the first problem in err; *cfg is set (and
	 * freed) either way. */
	int (*conf_load)(const struct conf *c, void **cfg, char *summary, size_t slen, char *err,
	                 size_t errlen);
	void (*conf_free)(void *cfg);
	/* Optional: root-only preparation before the drop, called only when started as
	 * root. 0 or a negative errno with err. */
	int (*setup)(void *cfg, char *err, size_t errlen);
	/* The daemon, unprivileged; returns when *stop is set. Returns the exit status. */
	int (*run)(void *cfg, volatile sig_atomic_t *stop);
	/* Optional: releases what setup made (after run, or when the drop failed). */
	void (*teardown)(void *cfg);
};

/* Runs d with the process's arguments. Returns the exit status for main(): 0, 1 on
 * failure (or an incomplete configuration with -n), 2 on a usage error.
 * -n prints every "section.key = value" (secrets masked), then one line
 * "# NAME: configuration complete (SUMMARY)" or "# NAME: configuration incomplete:
 * WHY" (or "...: cannot load the configuration: WHY"), all on stdout. */
int daemon_main(const struct daemon_def *d, int argc, char **argv);

#endif

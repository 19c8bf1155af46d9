/* nubo-scheduler: the controller. Registers agents, places instances, dispatches the
 * task outbox to agents and records their results and reports in PostgreSQL. The
 * command line, signals and the drop to nubo are every daemon's (common/daemon.h). */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "daemon.h"
#include "log.h"
#include "sched.h"
#include "settings.h"
#include "xalloc.h"

static int sched_conf_load(const struct conf *c, void **cfg, char *summary, size_t slen, char *err,
                           size_t errlen)
{
	struct settings *s = xcalloc(1, sizeof(*s));
	*cfg = s;
	int rc = settings_load(c, s, err, errlen);
	if (rc == 0)
		snprintf(summary, slen, "bus %s, wake %s", s->scheduler_bind, s->wake_bind);
	return rc < 0 ? rc : 0;
}

static int sched_main_run(void *cfg, volatile sig_atomic_t *stop)
{
	char err[512];
	if (sodium_init() < 0) {
		log_err("libsodium failed to initialise");
		return 1;
	}
	struct sched *s = sched_new(cfg, err, sizeof(err));
	if (!s) {
		log_err("%s", err);
		return 1;
	}
	log_info("starting");
	int rc = sched_run(s, stop) < 0 ? 1 : 0;
	log_info("stopping");
	sched_free(s);
	return rc;
}

static const struct daemon_def sched_daemon = {
    .name = "nubo-scheduler",
    .conf_load = sched_conf_load,
    .conf_free = free,
    .run = sched_main_run,
};

int main(int argc, char **argv)
{
	return daemon_main(&sched_daemon, argc, argv);
}

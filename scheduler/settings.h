/* The scheduler's view of nubo.conf: every key it reads, with its default and its
 * bounds, parsed and checked once at start (and by -n). */
#ifndef NUBO_SCHED_SETTINGS_H
#define NUBO_SCHED_SETTINGS_H
#include <stddef.h>

#include "conf.h"

#define SETTINGS_BINDS_MAX 4 /* endpoints of [bus] scheduler_bind */

struct settings {
	const struct conf *conf;    /* the file itself, for common/ helpers (CURVE keys) */
	const char *conninfo;       /* [database] conninfo */
	const char *scheduler_bind; /* [bus] ROUTER the agents connect to: endpoints,
	                             * comma-separated (at most SETTINGS_BINDS_MAX) */
	const char *wake_bind;      /* [bus] PULL nubo-api pushes wakes to: loopback or
	                               ipc:// only (anyone reaching it can wake the loop) */
	const char *internal_url;   /* [api] base of the image URLs agents fetch */
	const char *curve_secret;   /* [bus] curve_server_secret: "" = plain links */
	double cpu_ratio, ram_ratio, disk_ratio; /* [scheduler] *_allocation_ratio */
	long agent_timeout;                      /* s of silence after which an agent is down */
	long task_retry;                         /* s after which a dispatched task is sent again */
	long heartbeat_interval;                 /* [compute] s between agent heartbeats */
	long spawn_deadline;                     /* s after its creation a spawn task fails */
	long task_deadline;                      /* the same for every other task */
	/* the same for a server snapshot or a volume upload to an image: the agents allow
	 * their copy 30 min (vm_snapshot.c, pool_upload.c) and then upload it */
	long image_task_deadline;
	long host_down_after; /* s of silence after which a host is gone: deletes of
	                         its instances complete without it */
};

/* Fills out from c (strings are borrowed from c, which must outlive out), applying
 * defaults for absent keys. Returns 0, or -EINVAL with "section.key: why" in err for
 * a value that does not parse or is out of bounds. */
int settings_load(const struct conf *c, struct settings *out, char *err, size_t errlen);

/* Milliseconds after start during which a spawn that fits no host stays pending,
 * because agents have not all said hello to this scheduler yet. */
long settings_placement_hold_ms(const struct settings *s);
/* Seconds a task must have been closed before reconcile trusts a host report about
 * its instance: a report composed before the task finished may arrive after it. */
long settings_reconcile_settle_s(const struct settings *s);

#endif

/* The compute agent's settings: the [compute] and [bus] keys of nubo.conf parsed once,
 * validated, and held in a typed struct that every other file of the agent reads. */
#ifndef NUBO_COMPUTE_CONF_H
#define NUBO_COMPUTE_CONF_H
#include <stddef.h>

#include "conf.h"
#include "msg.h"

enum accel_mode { ACCEL_AUTO, ACCEL_KVM, ACCEL_TCG };

struct compute_conf {
	char host[MSG_HOST_MAX]; /* routing id and host name the scheduler knows */
	char az[MSG_HOST_MAX];   /* availability zone reported in hello */
	char *state_dir;         /* absolute; instances/, images/, tmp/ below it */
	char *scheduler_url;     /* [bus] scheduler_url */
	char *agent_key;         /* [bus] agent_key; a secret, never logged */
	char *qemu;              /* QEMU binary (PATH lookup) */
	char *driver;            /* "qemu" or "fake" */
	enum accel_mode accel;
	int vcpus, ram_mb, disk_gb;  /* capacity offered; 0 = measure the host */
	int heartbeat_interval;      /* seconds */
	long long max_image_bytes;   /* largest base image the agent downloads */
	long long image_cache_bytes; /* [compute] image_cache_max_mb: the base image cache's
	                                bound (common/image_cache.h) */
	int stop_timeout;            /* seconds a guest gets to power off on stop */
	int max_workers;             /* tasks running at once (one per instance) */
	int fake_delay_ms;           /* fake driver: time each action takes */
	int qemu_uid_base;           /* each QEMU runs under a uid of its own from */
	int qemu_uid_count;          /* [base, base + count); count 0 = nubo-qemu's uid */
	const struct conf *raw;      /* borrowed: the whole file (CURVE keys for bus_secure) */
};

/* Fills cc from c (defaults for absent keys). Returns 0, or -EINVAL with the first
 * problem in err; cc is then still released safely by compute_conf_release. */
int compute_conf_load(struct compute_conf *cc, const struct conf *c, char *err, size_t errlen);
/* Frees what cc owns and zeroes it. Accepts a zeroed struct. */
void compute_conf_release(struct compute_conf *cc);
/* "auto", "kvm", "tcg". */
const char *accel_mode_name(enum accel_mode m);

#endif

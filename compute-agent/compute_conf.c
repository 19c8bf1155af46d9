/* Parsing and validation of the compute agent's part of nubo.conf. */
#include "compute_conf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_cache.h"
#include "lvm.h"
#include "volfile.h"
#include "xalloc.h"

/* The QMP socket path must fit sockaddr_un.sun_path (108 bytes):
 * <state_dir>/instances/<36-char uuid>/qmp.sock adds 55 bytes. */
#define STATE_DIR_MAX 50

static const char *const accel_names[] = {
    [ACCEL_AUTO] = "auto", [ACCEL_KVM] = "kvm", [ACCEL_TCG] = "tcg"};

const char *accel_mode_name(enum accel_mode m)
{
	return (unsigned)m < sizeof(accel_names) / sizeof(accel_names[0]) ? accel_names[m] : "?";
}

/* Same charset the bus uses for a word field (host, az). */
static int word_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

struct int_key {
	const char *key;
	size_t off;
	long def, min, max;
};

#define CC(member) offsetof(struct compute_conf, member)
static const struct int_key int_keys[] = {
    {"vcpus", CC(vcpus), 0, 0, 1 << 20},
    {"ram_mb", CC(ram_mb), 0, 0, 1 << 30},
    {"disk_gb", CC(disk_gb), 0, 0, 1 << 30},
    {"heartbeat_interval", CC(heartbeat_interval), 2, 1, 3600},
    {"stop_timeout", CC(stop_timeout), 10, 0, 3600},
    {"max_workers", CC(max_workers), 4, 1, 256},
    {"fake_delay_ms", CC(fake_delay_ms), 0, 0, 600000},
    {"qemu_uid_base", CC(qemu_uid_base), 2000000000, 1000, 2147483647L - 65536},
    {"qemu_uid_count", CC(qemu_uid_count), 65536, 0, 65536},
};

int compute_conf_load(struct compute_conf *cc, const struct conf *c, char *err, size_t errlen)
{
	memset(cc, 0, sizeof(*cc));
	cc->raw = c;
	const char *host = conf_get(c, "compute", "host", "");
	const char *az = conf_get(c, "compute", "az", "nova");
	const char *accel = conf_get(c, "compute", "accel", "auto");

	cc->state_dir = xstrdup(conf_get(c, "compute", "state_dir", "/var/lib/nubo/compute"));
	cc->scheduler_url = xstrdup(conf_get(c, "bus", "scheduler_url", "tcp://127.0.0.1:5570"));
	cc->agent_key = xstrdup(conf_get(c, "bus", "agent_key", ""));
	cc->qemu = xstrdup(conf_get(c, "compute", "qemu", "qemu-system-x86_64"));
	cc->driver = xstrdup(conf_get(c, "compute", "driver", "qemu"));

	if (!word_ok(host) || strlcpy_checked(cc->host, host, sizeof(cc->host)) < 0) {
		snprintf(err, errlen, "compute.host must be 1-%d characters of [A-Za-z0-9_.-]",
		         MSG_HOST_MAX - 1);
		return -EINVAL;
	}
	if (!word_ok(az) || strlcpy_checked(cc->az, az, sizeof(cc->az)) < 0) {
		snprintf(err, errlen, "compute.az must be 1-%d characters of [A-Za-z0-9_.-]",
		         MSG_HOST_MAX - 1);
		return -EINVAL;
	}
	if (cc->state_dir[0] != '/' || strlen(cc->state_dir) > STATE_DIR_MAX ||
	    strchr(cc->state_dir, ',')) {
		snprintf(err, errlen,
		         "compute.state_dir must be an absolute path of at most %d characters "
		         "without ',' (QMP socket paths must fit a unix socket address)",
		         STATE_DIR_MAX);
		return -EINVAL;
	}
	size_t i;
	for (i = 0; i < sizeof(accel_names) / sizeof(accel_names[0]); i++)
		if (!strcmp(accel, accel_names[i]))
			break;
	if (i == sizeof(accel_names) / sizeof(accel_names[0])) {
		snprintf(err, errlen, "compute.accel must be auto, kvm or tcg");
		return -EINVAL;
	}
	cc->accel = (enum accel_mode)i;
	if (strcmp(cc->driver, "qemu") && strcmp(cc->driver, "fake")) {
		snprintf(err, errlen, "compute.driver must be qemu or fake");
		return -EINVAL;
	}
	if (!cc->scheduler_url[0]) {
		snprintf(err, errlen, "bus.scheduler_url is required");
		return -EINVAL;
	}
	if (!cc->agent_key[0]) {
		snprintf(err, errlen, "bus.agent_key is required (image downloads present it)");
		return -EINVAL;
	}
	if (!cc->qemu[0]) {
		snprintf(err, errlen, "compute.qemu must name the QEMU binary");
		return -EINVAL;
	}
	for (i = 0; i < sizeof(int_keys) / sizeof(int_keys[0]); i++) {
		const struct int_key *k = &int_keys[i];
		const char *raw = conf_get(c, "compute", k->key, NULL);
		long v = k->def;
		if (raw && *raw) {
			char *end;
			errno = 0;
			v = strtol(raw, &end, 10);
			if (errno || *end) {
				snprintf(err, errlen, "compute.%s: not an integer", k->key);
				return -EINVAL;
			}
		}
		if (v < k->min || v > k->max) {
			snprintf(err, errlen, "compute.%s must be between %ld and %ld", k->key,
			         k->min, k->max);
			return -EINVAL;
		}
		*(int *)((char *)cc + k->off) = (int)v;
	}
	long max_mb = conf_get_long(c, "compute", "max_image_mb",
	                            conf_get_long(c, "api", "max_image_mb", 10240));
	if (max_mb < 1 || max_mb > (1L << 24)) {
		snprintf(err, errlen, "compute.max_image_mb must be between 1 and %ld", 1L << 24);
		return -EINVAL;
	}
	cc->max_image_bytes = (long long)max_mb << 20;
	long cache_mb = conf_get_long(c, "compute", "image_cache_max_mb", IMAGE_CACHE_DEFAULT_MB);
	if (cache_mb < 0 || cache_mb > (1L << 30)) {
		snprintf(err, errlen, "compute.image_cache_max_mb must be between 0 and %ld",
		         1L << 30);
		return -EINVAL;
	}
	cc->image_cache_bytes = (long long)cache_mb << 20;
	/* boot volumes of this machine's own pool: the same check as nubo-storage's */
	char vg[LVM_VG_MAX];
	if (lvm_conf_check(conf_get(c, "storage", "backend", "file"),
	                   conf_get(c, "storage", "volume_group", ""), vg, err, errlen) < 0)
		return -EINVAL;
	/* the format of the in-use copies this agent makes in that pool, as nubo-storage's */
	if (!volfile_format_ok(conf_get(c, "storage", "volume_format", "qcow2"))) {
		snprintf(err, errlen, "storage.volume_format must be qcow2 or raw");
		return -EINVAL;
	}
	return 0;
}

void compute_conf_release(struct compute_conf *cc)
{
	free(cc->state_dir);
	free(cc->scheduler_url);
	free(cc->agent_key);
	free(cc->qemu);
	free(cc->driver);
	memset(cc, 0, sizeof(*cc));
}

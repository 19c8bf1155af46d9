/* nubo-storage's driver: one record per volume or snapshot with a task in flight (the
 * runtime runs one task at a time per record), the pool's operations as the action
 * table, and hellos that list the pool. */
#include "storage_agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include "agent.h"
#include "backup.h"
#include "export.h"
#include "export_copy.h"
#include "image_cache.h"
#include "log.h"
#include "pool.h"
#include "pool_upload.h"
#include "volfile.h"
#include "xalloc.h"

struct rec {
	enum msg_res_kind kind;
	char id[UUID_STR_LEN];
	struct rec *next;
};

struct storage_agent {
	const struct storage_conf *conf;
	struct pool pool;
	struct exports *exports;
	int swept;        /* copies an earlier run left in export daemons, removed at start */
	struct rec *recs; /* main thread only */
	struct agent_conf aconf;
	struct agent *agent;
};

/* ---- conf ---- */

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

static long conf_long(const struct conf *c, const char *key, long def, long min, long max, int *bad)
{
	const char *raw = conf_get(c, "storage", key, NULL);
	if (!raw || !*raw)
		return def;
	char *end;
	errno = 0;
	long v = strtol(raw, &end, 10);
	if (errno || *end || v < min || v > max)
		*bad = 1;
	return v;
}

int storage_conf_load(struct storage_conf *sc, const struct conf *c, char *err, size_t errlen)
{
	memset(sc, 0, sizeof(*sc));
	sc->raw = c;
	char defhost[MSG_HOST_MAX + 16];
	snprintf(defhost, sizeof(defhost), "%s-storage", conf_get(c, "compute", "host", ""));
	const char *host = conf_get(c, "storage", "host", defhost);
	const char *az = conf_get(c, "storage", "az", conf_get(c, "compute", "az", "nova"));
	sc->state_dir = xstrdup(conf_get(c, "storage", "state_dir", "/var/lib/nubo/storage"));
	sc->scheduler_url = xstrdup(conf_get(c, "bus", "scheduler_url", "tcp://127.0.0.1:5570"));
	sc->agent_key = xstrdup(conf_get(c, "bus", "agent_key", ""));
	int bad = 0;
	sc->heartbeat_interval =
	    (int)conf_long(c, "heartbeat_interval",
	                   atol(conf_get(c, "compute", "heartbeat_interval", "2")) > 0
	                       ? atol(conf_get(c, "compute", "heartbeat_interval", "2"))
	                       : 2,
	                   1, 3600, &bad);
	sc->max_workers = (int)conf_long(c, "max_workers", 2, 1, 64, &bad);
	sc->max_image_bytes = (long long)conf_long(c, "max_image_mb", 10240, 1, 1 << 24, &bad)
	                      << 20;
	sc->image_cache_bytes =
	    (long long)conf_long(c, "image_cache_max_mb", IMAGE_CACHE_DEFAULT_MB, 0, 1L << 30, &bad)
	    << 20;
	sc->export_port_min = (int)conf_long(c, "export_port_min", 10809, 1, 65535, &bad);
	sc->export_port_max = (int)conf_long(c, "export_port_max", 11008, 1, 65535, &bad);
	const char *tunnel = conf_get(c, "net", "tunnel_ip", "");
	const char *addr =
	    conf_get(c, "storage", "export_address", tunnel[0] ? tunnel : "127.0.0.1");
	struct in_addr in;
	if (strlen(addr) >= sizeof(sc->export_address) || inet_pton(AF_INET, addr, &in) != 1) {
		snprintf(err, errlen,
		         "storage.export_address (or net.tunnel_ip) must be a dotted IPv4 address");
		return -EINVAL;
	}
	snprintf(sc->export_address, sizeof(sc->export_address), "%s", addr);
	if (sc->export_port_min > sc->export_port_max)
		bad = 1;
	if (!word_ok(host) || strlen(host) >= sizeof(sc->host) || !strcmp(host, "-storage")) {
		snprintf(err, errlen,
		         "storage.host (or compute.host) must be 1-%d characters of [A-Za-z0-9_.-]",
		         MSG_HOST_MAX - 1);
		return -EINVAL;
	}
	snprintf(sc->host, sizeof(sc->host), "%s", host);
	if (!word_ok(az) || strlen(az) >= sizeof(sc->az)) {
		snprintf(err, errlen, "storage.az must be 1-%d characters of [A-Za-z0-9_.-]",
		         MSG_HOST_MAX - 1);
		return -EINVAL;
	}
	snprintf(sc->az, sizeof(sc->az), "%s", az);
	/* not under /dev/: QEMU is given what is there as a block device (an LV) */
	if (sc->state_dir[0] != '/' || strlen(sc->state_dir) > 200 ||
	    !strncmp(sc->state_dir, "/dev/", 5)) {
		snprintf(err, errlen,
		         "storage.state_dir must be an absolute path of at most 200 "
		         "characters, not under /dev/");
		return -EINVAL;
	}
	if (bad) {
		snprintf(err, errlen,
		         "storage.heartbeat_interval, max_workers, max_image_mb, "
		         "image_cache_max_mb or export_port_min/max: not an integer in range");
		return -EINVAL;
	}
	const char *vf = conf_get(c, "storage", "volume_format", "qcow2");
	if (!volfile_format_ok(vf)) {
		snprintf(err, errlen, "storage.volume_format must be qcow2 or raw");
		return -EINVAL;
	}
	snprintf(sc->volume_format, sizeof(sc->volume_format), "%s", vf);
	if (lvm_conf_check(conf_get(c, "storage", "backend", "file"),
	                   conf_get(c, "storage", "volume_group", ""), sc->volume_group, err,
	                   errlen) < 0)
		return -EINVAL;
	if (!sc->scheduler_url[0]) {
		snprintf(err, errlen, "bus.scheduler_url is required");
		return -EINVAL;
	}
	if (!sc->agent_key[0]) {
		snprintf(err, errlen, "bus.agent_key is required (image downloads present it)");
		return -EINVAL;
	}
	return 0;
}

void storage_conf_release(struct storage_conf *sc)
{
	free(sc->state_dir);
	free(sc->scheduler_url);
	if (sc->agent_key)
		memset(sc->agent_key, 0, strlen(sc->agent_key));
	free(sc->agent_key);
	memset(sc, 0, sizeof(*sc));
}

/* ---- actions ---- */

/* An action: runs t, fills what its result carries beyond the state (a backup's object
 * count, an export's address) into r. 0, or a negative errno with err. */
typedef int (*action_fn)(struct storage_agent *a, const struct msg_task *t, struct msg_result *r,
                         char *err, size_t errlen);

static int act_volume_create(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	return pool_volume_create(&a->pool, t->resource_id, &t->p.vol_create, err, errlen);
}

static int act_volume_extend(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	return pool_volume_extend(&a->pool, t->resource_id, t->p.vol_extend.size_gb, err, errlen);
}

static int act_volume_delete(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	/* an export left of it (its stop was lost) goes with it */
	exports_stop(a->exports, t->resource_id, "", err, errlen);
	return pool_remove(&a->pool, POOL_VOLUME, t->resource_id, err, errlen);
}

static int act_snapshot_create(struct storage_agent *a, const struct msg_task *t,
                               struct msg_result *r, char *err, size_t errlen)
{
	return pool_snapshot_create(&a->pool, t->resource_id, t->p.snap_create.volume_id, err,
	                            errlen);
}

static int act_snapshot_delete(struct storage_agent *a, const struct msg_task *t,
                               struct msg_result *r, char *err, size_t errlen)
{
	return pool_remove(&a->pool, POOL_SNAPSHOT, t->resource_id, err, errlen);
}

static int act_volume_upload(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	return pool_volume_upload(&a->pool, t->resource_id, &t->p.snapshot, err, errlen);
}

static int act_backup_create(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	return backup_create(&a->pool, t->resource_id, &t->p.backup, &r->count, err, errlen);
}

static int act_backup_restore(struct storage_agent *a, const struct msg_task *t,
                              struct msg_result *r, char *err, size_t errlen)
{
	return backup_restore(&a->pool, t->resource_id, &t->p.backup, err, errlen);
}

static int act_backup_delete(struct storage_agent *a, const struct msg_task *t,
                             struct msg_result *r, char *err, size_t errlen)
{
	return backup_delete(&a->pool, t->resource_id, &t->p.backup, err, errlen);
}

/* The point-in-time copy a backup create of an in-use volume left (its task is over:
 * the scheduler saw it listed without one). */
static int act_backup_drop(struct storage_agent *a, const struct msg_task *t, struct msg_result *r,
                           char *err, size_t errlen)
{
	return pool_copy_drop(&a->pool, t->resource_id, err, errlen);
}

/* The first hop of an attach across machines: serve the volume over NBD. */
static int act_export_start(struct storage_agent *a, const struct msg_task *t, struct msg_result *r,
                            char *err, size_t errlen)
{
	const struct msg_attach *p = &t->p.attach;
	return exports_start(a->exports, t->resource_id, p->attachment_id, p->psk, r->export_host,
	                     &r->export_port, err, errlen);
}

/* After a detach (or for an export no attachment wants): stop serving it. */
static int act_export_stop(struct storage_agent *a, const struct msg_task *t, struct msg_result *r,
                           char *err, size_t errlen)
{
	return exports_stop(a->exports, t->resource_id, t->p.attach.attachment_id, err, errlen);
}

static const struct action {
	enum msg_res_kind kind;
	const char *action;
	action_fn fn;
	const char *ok_state;
} actions[] = {
    {MSG_RES_VOLUME, TASK_CREATE, act_volume_create, VOL_AVAILABLE},
    {MSG_RES_VOLUME, TASK_EXTEND, act_volume_extend, VOL_AVAILABLE},
    {MSG_RES_VOLUME, TASK_DELETE, act_volume_delete, VOL_DELETED},
    {MSG_RES_VOLUME, TASK_UPLOAD, act_volume_upload, VOL_AVAILABLE},
    {MSG_RES_SNAPSHOT, TASK_CREATE, act_snapshot_create, VOL_AVAILABLE},
    {MSG_RES_SNAPSHOT, TASK_DELETE, act_snapshot_delete, VOL_DELETED},
    {MSG_RES_BACKUP, TASK_CREATE, act_backup_create, VOL_AVAILABLE},
    {MSG_RES_BACKUP, TASK_RESTORE, act_backup_restore, VOL_AVAILABLE},
    {MSG_RES_BACKUP, TASK_DELETE, act_backup_delete, VOL_DELETED},
    {MSG_RES_BACKUP, TASK_BACKUP_DROP, act_backup_drop, VOL_DELETED},
    {MSG_RES_ATTACHMENT, TASK_ATTACH, act_export_start, ATT_ATTACHED},
    {MSG_RES_ATTACHMENT, TASK_DETACH, act_export_stop, ATT_DETACHED},
};

static const struct action *action_find(enum msg_res_kind kind, const char *name)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (actions[i].kind == kind && !strcmp(actions[i].action, name))
			return &actions[i];
	return NULL;
}

/* The pool's copy of a volume another machine's server has plugged: its NBD export's
 * daemon holds the file or LV, and copies it (export_copy.h). */
static int live_copy(void *arg, const char *volume_id, const char *id, const char *out,
                     const char *format, char *err, size_t errlen)
{
	struct storage_agent *a = arg;
	return export_copy(a->exports, volume_id, id, out, format, err, errlen);
}

/* ---- the driver ---- */

static void *drv_resource(void *drv, const struct msg_task *t, char *err, size_t errlen)
{
	struct storage_agent *a = drv;
	if (!action_find(t->resource_kind, t->action)) {
		snprintf(err, errlen, "a storage agent does not %s a %s", t->action,
		         msg_res_kind_name(t->resource_kind));
		return NULL;
	}
	for (struct rec *r = a->recs; r; r = r->next)
		if (r->kind == t->resource_kind && !strcmp(r->id, t->resource_id))
			return r;
	struct rec *r = xcalloc(1, sizeof(*r));
	r->kind = t->resource_kind;
	snprintf(r->id, sizeof(r->id), "%s", t->resource_id);
	r->next = a->recs;
	a->recs = r;
	return r;
}

static long long now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void drv_run(void *drv, void *res, const struct msg_task *t, struct msg_result *r)
{
	struct storage_agent *a = drv;
	const struct action *act = action_find(t->resource_kind, t->action);
	char err[1024] = "";
	long long t0 = now_us();
	int rc = act->fn(a, t, r, err, sizeof(err));
	long long us = now_us() - t0;
	r->ok = rc == 0;
	snprintf(r->state, sizeof(r->state), "%s", rc == 0 ? act->ok_state : VOL_ERROR);
	if (rc < 0) {
		msg_sanitize_text(err, strlen(err));
		r->error = xstrdup(err);
		log_warn("%s %s: %s failed after %lld us: %s", msg_res_kind_name(t->resource_kind),
		         t->resource_id, t->action, us, err);
	} else {
		/* bench/volume.sh reads these lines: the agent's own time for the task */
		log_info("%s %s: %s done in %lld us", msg_res_kind_name(t->resource_kind),
		         t->resource_id, t->action, us);
	}
}

static void drv_done(void *drv, void *res, const struct msg_result *r, int queued)
{
	struct storage_agent *a = drv;
	if (queued)
		return;
	for (struct rec **pp = &a->recs; *pp; pp = &(*pp)->next)
		if (*pp == res) {
			*pp = (*pp)->next;
			free(res);
			return;
		}
}

static void drv_report(void *drv, struct msg_hello *h)
{
	struct storage_agent *a = drv;
	pool_space(&a->pool, &h->cap.storage.total_gb, &h->cap.storage.free_gb);
	h->resources = xcalloc(MSG_MAX_RESOURCES, sizeof(*h->resources));
	/* what the scheduler acts on first (the exports it keeps, the copies it drops), so a
	 * pool of more than MSG_MAX_RESOURCES volumes cuts only the volumes' list short */
	h->n_resources = exports_list(a->exports, h->resources, MSG_MAX_RESOURCES);
	h->n_resources += pool_copies_list(&a->pool, h->resources + h->n_resources,
	                                   MSG_MAX_RESOURCES - h->n_resources);
	h->n_resources +=
	    pool_list(&a->pool, h->resources + h->n_resources, MSG_MAX_RESOURCES - h->n_resources);
}

static void drv_tick(void *drv, struct agent *ag)
{
	struct storage_agent *a = drv;
	char err[1024] = "";
	int n = exports_check(a->exports, err, sizeof(err));
	if (n > 0)
		log_warn("%d NBD export daemon(s) had died: started again", n);
	else if (err[0])
		log_warn("an NBD export daemon had died and could not start again: %s", err);
}

static const struct agent_driver storage_driver = {
    .kind = MSG_AGENT_STORAGE,
    .resource = drv_resource,
    .run = drv_run,
    .done = drv_done,
    .report = drv_report,
    .tick = drv_tick,
};

struct storage_agent *storage_agent_new(const struct storage_conf *conf, char *err, size_t errlen)
{
	struct storage_agent *a = xcalloc(1, sizeof(*a));
	char note[2048] = "";
	a->conf = conf;
	if (pool_open(&a->pool, conf->state_dir, conf->agent_key, conf->max_image_bytes,
	              conf->image_cache_bytes, err, errlen) < 0 ||
	    (conf->volume_group[0] && pool_use_lvm(&a->pool, conf->volume_group, conf->priv, note,
	                                           sizeof(note), err, errlen) < 0)) {
		storage_agent_free(a);
		return NULL;
	}
	pool_set_format(&a->pool, conf->volume_format[0] ? conf->volume_format : "qcow2");
	if (note[0])
		log_warn("volume group %s: %s", conf->volume_group, note);
	a->exports = exports_open(&a->pool, conf->export_address, conf->export_port_min,
	                          conf->export_port_max, err, errlen);
	if (!a->exports) {
		storage_agent_free(a);
		return NULL;
	}
	a->pool.live_copy = live_copy;
	a->pool.live_arg = a;
	a->swept = export_copy_sweep(a->exports, EXPORT_SWEEP_BUDGET_MS);
	if (a->swept > 0)
		pool_lvm_tidy(&a->pool); /* a swept copy's tmp LV was held open by its daemon */
	a->aconf = (struct agent_conf){
	    .host = conf->host,
	    .az = conf->az,
	    .scheduler_url = conf->scheduler_url,
	    .raw = conf->raw,
	    .state_dir = conf->state_dir,
	    .heartbeat_interval = conf->heartbeat_interval,
	    .max_workers = conf->max_workers,
	};
	return a;
}

int storage_agent_run(struct storage_agent *a, volatile sig_atomic_t *stop)
{
	char err[512];
	struct msg_resource *have = xcalloc(MSG_MAX_RESOURCES, sizeof(*have));
	int n = pool_list(&a->pool, have, MSG_MAX_RESOURCES), nvol = 0, total, avail;
	for (int i = 0; i < n; i++)
		nvol += have[i].kind == MSG_RES_VOLUME;
	free(have);
	pool_space(&a->pool, &total, &avail);
	log_info("host %s, pool %s%s%s: %d volumes, %d snapshots, %d of %d GiB free, scheduler "
	         "%s, NBD exports on %s:%d-%d",
	         a->conf->host, a->conf->state_dir, a->pool.vg ? ", LVM volume group " : "",
	         a->pool.vg ? a->pool.vg : "", nvol, n - nvol, avail, total, a->conf->scheduler_url,
	         a->conf->export_address, a->conf->export_port_min, a->conf->export_port_max);
	if (a->swept > 0)
		log_warn("%d copies an earlier run left in NBD export daemons: removed", a->swept);
	a->agent = agent_new(&a->aconf, &storage_driver, a, err, sizeof(err));
	if (!a->agent) {
		log_err("%s", err);
		return -EIO;
	}
	return agent_run(a->agent, stop);
}

void storage_agent_free(struct storage_agent *a)
{
	if (!a)
		return;
	if (agent_busy(a->agent))
		return; /* detached workers still use a; the process is about to exit */
	agent_free(a->agent);
	while (a->recs) {
		struct rec *r = a->recs;
		a->recs = r->next;
		free(r);
	}
	exports_free(a->exports);
	pool_close(&a->pool);
	free(a);
}

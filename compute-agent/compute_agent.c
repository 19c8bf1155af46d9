/* nubo-compute as a driver of the agent runtime (common/agent.h): instances are its
 * resources, vm.c's driver tables its action handlers, and its tick runs the liveness
 * checks and sends console output. The slot list is touched by the main thread only;
 * workers see their struct vm and the read-only vm_ctx. */
#include "compute_agent.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "accel.h"
#include "agent.h"
#include "console_tail.h"
#include "fsutil.h"
#include "host_facts.h"
#include "log.h"
#include "util.h"
#include "vm.h"
#include "vm_volume.h"
#include "xalloc.h"

#define CONSOLE_CHUNKS 4 /* console messages per instance per tick */

/* An instance as the main thread tracks it. */
struct slot {
	struct vm *vm;
	/* lanes that hold it: its own and its attachments' and plugged volumes' snapshots',
	 * clones' and backups' copies' (each runs beside the instance's own). Freed only when
	 * the last one is done. */
	int lanes;
	/* held while a task of the instance or a snapshot of a volume plugged into it runs:
	 * a snapshot stops and resumes the guest, so it must not overlap a power action or
	 * another snapshot (attachments only talk QMP and need not wait) */
	pthread_mutex_t run;
	struct console_tail con;
	struct slot *next;
};

struct compute_agent {
	const struct compute_conf *conf;
	const struct vm_driver *drv;
	struct vm_ctx ctx;
	char accel[8];
	int vcpus, ram_mb, disk_gb;
	struct slot *slots;
	char *conbuf;
	struct agent_conf aconf;
	struct agent *agent;
};

/* ---- slots ------------------------------------------------------------------- */

static struct slot *slot_find(struct compute_agent *a, const char *id)
{
	for (struct slot *s = a->slots; s; s = s->next)
		if (!strcmp(s->vm->id, id))
			return s;
	return NULL;
}

static struct slot *slot_add(struct compute_agent *a, struct vm *vm)
{
	struct slot *s = xcalloc(1, sizeof(*s));
	s->vm = vm;
	pthread_mutex_init(&s->run, NULL);
	console_tail_init(&s->con);
	s->next = a->slots;
	a->slots = s;
	return s;
}

static void slot_remove(struct compute_agent *a, struct slot *s)
{
	for (struct slot **pp = &a->slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	pthread_mutex_destroy(&s->run);
	vm_free(s->vm);
	free(s);
}

/* ---- the driver ------------------------------------------------------------------ */

/* An attachment task works on its instance's QEMU (the slot); the runtime gives it a
 * lane of its own (kind attachment, the volume's id), so it may run beside one of the
 * instance's own tasks, each over its own QMP connection. */
static void *attachment_resource(struct compute_agent *a, const struct msg_task *t, char *err,
                                 size_t errlen)
{
	struct slot *s = slot_find(a, t->p.attach.instance_id);
	if (!s) {
		snprintf(err, errlen, "instance %s is not on this host", t->p.attach.instance_id);
		return NULL;
	}
	s->lanes++;
	return s;
}

/* The slot of the instance a copy of a plugged volume (a snapshot, a clone) is made
 * in, with one more lane; NULL (err) when the instance is not here. */
static void *copy_resource(struct compute_agent *a, const char *instance_id, char *err,
                           size_t errlen)
{
	struct slot *s = slot_find(a, instance_id);
	if (!s) {
		snprintf(err, errlen, "instance %s is not on this host", instance_id);
		return NULL;
	}
	s->lanes++;
	return s;
}

static void *drv_resource(void *drv, const struct msg_task *t, char *err, size_t errlen)
{
	struct compute_agent *a = drv;
	if (t->resource_kind == MSG_RES_ATTACHMENT) /* volumes: queued with their instance */
		return attachment_resource(a, t, err, errlen);
	if (t->resource_kind == MSG_RES_SNAPSHOT) /* of a volume plugged into an instance */
		return copy_resource(a, t->p.snap_create.instance_id, err, errlen);
	if (t->resource_kind == MSG_RES_VOLUME) /* a clone of a plugged volume */
		return copy_resource(a, t->p.vol_create.instance_id, err, errlen);
	if (t->resource_kind == MSG_RES_BACKUP && !strcmp(t->action, TASK_BACKUP_COPY))
		return copy_resource(a, t->p.snap_create.instance_id, err, errlen);
	if (t->resource_kind != MSG_RES_INSTANCE) {
		snprintf(err, errlen, "a compute agent runs no %s",
		         msg_res_kind_name(t->resource_kind));
		return NULL;
	}
	struct slot *s = slot_find(a, t->resource_id);
	if (!s)
		s = slot_add(a, vm_new(&a->ctx, t->resource_id));
	s->lanes++;
	return s;
}

static void drv_run(void *drv, void *res, const struct msg_task *t, struct msg_result *r)
{
	struct compute_agent *a = drv;
	struct slot *s = res;
	if (t->resource_kind == MSG_RES_ATTACHMENT) {
		vm_volume_run(&a->ctx, s->vm, t, r);
		return;
	}
	pthread_mutex_lock(&s->run);
	if (t->resource_kind == MSG_RES_SNAPSHOT)
		vm_volume_snapshot_run(&a->ctx, s->vm, t, r);
	else if (t->resource_kind == MSG_RES_VOLUME)
		vm_volume_clone_run(&a->ctx, s->vm, t, r);
	else if (t->resource_kind == MSG_RES_BACKUP)
		vm_volume_backup_copy_run(&a->ctx, s->vm, t, r);
	else
		vm_run_task(a->drv, &a->ctx, s->vm, t, r);
	pthread_mutex_unlock(&s->run);
}

static void drv_done(void *drv, void *res, const struct msg_result *r, int queued)
{
	struct compute_agent *a = drv;
	struct slot *s = res;
	char state[MSG_STATE_MAX];
	if (queued)
		return;
	if (--s->lanes > 0) /* another lane still works on this instance */
		return;
	vm_get(s->vm, state);
	if (!strcmp(state, VM_DELETED))
		slot_remove(a, s);
}

static void drv_report(void *drv, struct msg_hello *h)
{
	struct compute_agent *a = drv;
	snprintf(h->cap.compute.accel, sizeof(h->cap.compute.accel), "%s", a->accel);
	h->cap.compute.vcpus = a->vcpus;
	h->cap.compute.ram_mb = a->ram_mb;
	h->cap.compute.disk_gb = a->disk_gb;
	h->cap.compute.uptime_s = host_uptime_s();
	size_t n = 0;
	for (struct slot *s = a->slots; s; s = s->next)
		n++;
	h->resources = xcalloc(n ? n : 1, sizeof(*h->resources));
	for (struct slot *s = a->slots; s && h->n_resources < MSG_MAX_RESOURCES; s = s->next) {
		char state[MSG_STATE_MAX];
		vm_get(s->vm, state);
		/* unknown while a first spawn runs; the scheduler knows the open task */
		if (!state[0] || !strcmp(state, VM_DELETED))
			continue;
		h->resources[h->n_resources].kind = MSG_RES_INSTANCE;
		strcpy(h->resources[h->n_resources].id, s->vm->id);
		strcpy(h->resources[h->n_resources].state, state);
		h->n_resources++;
	}
}

static void send_event(struct compute_agent *a, struct vm *vm, const char *why)
{
	struct msg m;
	msg_init(&m, MSG_EVENT);
	m.u.event.resource_kind = MSG_RES_INSTANCE;
	strcpy(m.u.event.resource_id, vm->id);
	vm_get(vm, m.u.event.state);
	m.u.event.reason = xstrdup(why);
	msg_sanitize_text(m.u.event.reason, strlen(m.u.event.reason));
	log_info("instance %s: %s, now %s", vm->id, why, m.u.event.state);
	agent_send(a->agent, &m);
	msg_release(&m);
}

/* Sends what the instance's serial console wrote since the last tick. */
static void send_console(struct compute_agent *a, struct slot *s)
{
	char path[4096];
	vm_path(s->vm, "console.log", path, sizeof(path));
	for (int i = 0; i < CONSOLE_CHUNKS; i++) {
		int reset = 0;
		ssize_t n = console_tail_read(&s->con, path, a->conbuf, MSG_CONSOLE_MAX, &reset);
		if (n <= 0)
			break;
		struct msg m;
		msg_init(&m, MSG_CONSOLE);
		strcpy(m.u.console.instance_id, s->vm->id);
		m.u.console.reset = reset;
		m.u.console.data = xstrndup(a->conbuf, (size_t)n);
		agent_send(a->agent, &m);
		msg_release(&m);
	}
}

/* Liveness checks and console tails, once per tick. */
static void drv_tick(void *drv, struct agent *ag)
{
	struct compute_agent *a = drv;
	for (struct slot *s = a->slots; s; s = s->next) {
		char why[1024];
		if (!s->lanes && a->drv->check(&a->ctx, s->vm, why, sizeof(why)))
			send_event(a, s->vm, why);
		send_console(a, s);
	}
}

static const struct agent_driver compute_driver = {
    .kind = MSG_AGENT_COMPUTE,
    .resource = drv_resource,
    .run = drv_run,
    .done = drv_done,
    .report = drv_report,
    .tick = drv_tick,
};

/* ---- setup --------------------------------------------------------------------- */

static void capacity_measure(struct compute_agent *a)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	struct statvfs vfs;
	a->vcpus = a->conf->vcpus ? a->conf->vcpus : (int)(cpus > 0 ? cpus : 1);
	a->ram_mb =
	    a->conf->ram_mb ? a->conf->ram_mb : (int)((long long)pages * psize / (1024 * 1024));
	if (a->conf->disk_gb)
		a->disk_gb = a->conf->disk_gb;
	else if (statvfs(a->conf->state_dir, &vfs) == 0)
		a->disk_gb = (int)((unsigned long long)vfs.f_blocks * vfs.f_frsize >> 30);
}

/* Re-attaches to every instance directory under instances/. */
static void instances_scan(struct compute_agent *a)
{
	DIR *d = opendir(a->ctx.instances_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!uuid_is_valid(e->d_name))
			continue;
		struct vm *vm = vm_new(&a->ctx, e->d_name);
		if (a->drv->attach(&a->ctx, vm) < 0) {
			log_warn("ignoring %s: not an instance (no spec.json)", vm->dir);
			vm_free(vm);
			continue;
		}
		/* no attach or start runs yet: a key file left now is a dead agent's */
		int stale = vm_volume_psk_sweep(vm->dir);
		if (stale > 0)
			log_warn(
			    "instance %s: removed %d NBD key file director%s a dead agent left",
			    vm->id, stale, stale == 1 ? "y" : "ies");
		char state[MSG_STATE_MAX];
		vm_get(vm, state);
		log_info("instance %s: %s", vm->id, state);
		slot_add(a, vm);
	}
	closedir(d);
}

struct compute_agent *compute_agent_new(const struct compute_conf *conf, struct priv *priv,
                                        char *err, size_t errlen)
{
	struct compute_agent *a = xcalloc(1, sizeof(*a));
	a->conf = conf;
	a->conbuf = xmalloc(MSG_CONSOLE_MAX + 1);
	a->drv = vm_driver_find(conf->driver);
	a->ctx.conf = conf;
	a->ctx.priv = priv;
	a->ctx.instances_dir = xasprintf("%s/instances", conf->state_dir);
	a->ctx.tmp_dir = xasprintf("%s/tmp", conf->state_dir);
	char *images = xasprintf("%s/images", conf->state_dir);
	int rc;

	if (!a->drv) {
		snprintf(err, errlen, "unknown driver %s", conf->driver);
		goto fail;
	}
	if (!priv && !strcmp(a->drv->name, "qemu")) {
		snprintf(err, errlen,
		         "the qemu driver needs the privileged helper: start "
		         "nubo-compute as root (it drops to %s itself)",
		         "nubo");
		goto fail;
	}
	/* tmp/ holds only scratch files of this agent (config drive trees, the probe):
	 * whatever an earlier run left there is garbage */
	fs_remove_tree(a->ctx.tmp_dir);
	if ((rc = fs_mkdir_p(a->ctx.instances_dir, 0700)) < 0 ||
	    (rc = fs_mkdir_p(a->ctx.tmp_dir, 0700)) < 0) {
		snprintf(err, errlen, "%s: %s", conf->state_dir, strerror(-rc));
		goto fail;
	}
	const struct image_cache_conf icc = {
	    .dir = images,
	    .agent_key = conf->agent_key,
	    .user_agent = "nubo-compute",
	    .max_image_bytes = conf->max_image_bytes,
	    .max_cache_bytes = conf->image_cache_bytes,
	};
	a->ctx.images = image_cache_new(&icc, err, errlen);
	if (!a->ctx.images)
		goto fail;
	if (!strcmp(a->drv->name, "qemu"))
		strcpy(a->accel, accel_choose(conf->accel, conf->qemu, a->ctx.tmp_dir));
	else
		strcpy(a->accel, "tcg"); /* nothing is accelerated; the bus wants a word */
	a->ctx.accel = a->accel;
	capacity_measure(a);
	instances_scan(a);
	a->aconf = (struct agent_conf){
	    .host = conf->host,
	    .az = conf->az,
	    .scheduler_url = conf->scheduler_url,
	    .raw = conf->raw,
	    .state_dir = conf->state_dir,
	    .heartbeat_interval = conf->heartbeat_interval,
	    .max_workers = conf->max_workers,
	};
	free(images);
	return a;
fail:
	free(images);
	compute_agent_free(a);
	return NULL;
}

int compute_agent_run(struct compute_agent *a, volatile sig_atomic_t *stop)
{
	char err[512];
	a->agent = agent_new(&a->aconf, &compute_driver, a, err, sizeof(err));
	if (!a->agent) {
		log_err("%s", err);
		return -EIO;
	}
	log_info("host %s (%s, %d vCPUs, %d MiB, %d GiB), scheduler %s, driver %s", a->conf->host,
	         a->accel, a->vcpus, a->ram_mb, a->disk_gb, a->conf->scheduler_url, a->drv->name);
	return agent_run(a->agent, stop);
}

void compute_agent_free(struct compute_agent *a)
{
	if (!a)
		return;
	if (agent_busy(a->agent))
		return; /* detached workers still use a; the process is about to exit */
	agent_free(a->agent);
	while (a->slots)
		slot_remove(a, a->slots);
	image_cache_free(a->ctx.images);
	free(a->ctx.instances_dir);
	free(a->ctx.tmp_dir);
	free(a->conbuf);
	free(a);
}

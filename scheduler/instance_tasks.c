/* Instance tasks: the instance row is locked beside the task, spawns are placed, and
 * every outcome (result, give-up, deadline, host gone) moves the instance per the
 * state table (vmstate.h). */
#include "instance_tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctx.h"
#include "db.h"
#include "host_zone.h"
#include "hostname.h"
#include "image_tasks.h"
#include "instance.h"
#include "instance_volumes.h"
#include "log.h"
#include "netstate.h"
#include "placement.h"
#include "reconcile.h"
#include "sched_group.h"
#include "task_qos.h"
#include "vmstate.h"
#include "volume_tasks.h"
#include "xalloc.h"

#define WHY_MAX 1024

/* The instance row of a task. */
struct inst {
	char host[MSG_HOST_MAX]; /* instances.host; "" until placed */
	int deleted;
	char status[VMSTATE_STATUS_MAX], vm_state[VMSTATE_STATUS_MAX];
	int power;
	char az[MSG_HOST_MAX];
	int vcpus, ram_mb, disk_gb;
	const struct vmstate_action *act;
};

/* Loads and locks the instance of t (SKIP LOCKED when skip). Returns 1, 0 when it is
 * locked by someone else, -ENOENT when there is no such instance, -EIO (err set). */
static int inst_load(PGconn *c, const struct task *t, int skip, struct inst *i, char *err,
                     size_t errlen)
{
	memset(i, 0, sizeof(*i));
	static const char sql[] = "SELECT coalesce(host, ''), deleted, status, vm_state,"
	                          " power_state, az, vcpus, ram_mb, disk_gb FROM instances"
	                          " WHERE id = $1 FOR UPDATE";
	static const char sql_skip[] = "SELECT coalesce(host, ''), deleted, status, vm_state,"
	                               " power_state, az, vcpus, ram_mb, disk_gb FROM instances"
	                               " WHERE id = $1 FOR UPDATE SKIP LOCKED";
	const char *params[] = {t->resource_id};
	PGresult *r = db_query(c, skip ? sql_skip : sql, 1, params, err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = PQntuples(r) == 1;
	if (!rc) {
		PQclear(r);
		r = db_query(c, "SELECT 1 FROM instances WHERE id = $1", 1, params, err, errlen,
		             NULL);
		if (!r)
			return -EIO;
		rc = PQntuples(r) == 1 ? 0 : -ENOENT;
		goto out;
	}
	i->act = vmstate_action_find(t->action);
	if (strlcpy_checked(i->host, db_val(r, 0, 0), sizeof(i->host)) < 0 ||
	    strlcpy_checked(i->az, db_val(r, 0, 5), sizeof(i->az)) < 0 || !i->act) {
		snprintf(err, errlen, "instance %s: host or zone name too long", t->resource_id);
		rc = -EIO;
		goto out;
	}
	i->deleted = !strcmp(db_val(r, 0, 1), "t");
	snprintf(i->status, sizeof(i->status), "%s", db_val(r, 0, 2));
	snprintf(i->vm_state, sizeof(i->vm_state), "%s", db_val(r, 0, 3));
	i->power = (int)db_long(r, 0, 4, 0);
	i->vcpus = (int)db_long(r, 0, 6, 0);
	i->ram_mb = (int)db_long(r, 0, 7, 0);
	i->disk_gb = (int)db_long(r, 0, 8, 0);
out:
	PQclear(r);
	return rc;
}

/* Closes t (tasks_mark) and finishes the instance-action event waiting for it (the
 * API wrote it with the task): result Success or Error, the error as its traceback,
 * the host it ran on. */
static int inst_mark(PGconn *c, const struct task *t, const char *status, const char *error,
                     char *err, size_t errlen)
{
	if (tasks_mark(c, t->id, status, error, err, errlen) < 0 ||
	    image_task_close(c, t, err, errlen) < 0)
		return -EIO;
	const char *params[] = {t->id, status, error, t->host};
	return db_exec(
	           c,
	           "UPDATE instance_action_events SET finish_time = now(), result = CASE"
	           " WHEN $2::text = 'done' THEN 'Success' ELSE 'Error' END, traceback = $3::text,"
	           " host = nullif($4::text, '') WHERE task_id = $1 AND finish_time IS NULL",
	           4, params, err, errlen) < 0
	           ? -EIO
	           : 0;
}

/* Moves the instance of t per the state table: success takes the action's end
 * state; a failure of spawn/delete is ERROR with the error as fault (power state as
 * reported), a failure of a power action keeps the state unless the reported power
 * state says otherwise. task_state is cleared either way. */
static int inst_apply(const struct task *t, const struct inst *i, PGconn *c, int ok,
                      const char *reported, const char *error, char *err, size_t errlen)
{
	const struct vmstate_action *a = i->act;
	if (ok && instance_volumes_replug(c, t->resource_id, a->action, reported, err, errlen) < 0)
		return -EIO;
	if (ok && !strcmp(a->action, TASK_DELETE))
		return instance_mark_deleted(c, t->resource_id, err, errlen);
	const struct vmstate *now = reported && *reported ? vmstate_from_power(reported) : NULL;
	if (ok &&
	    (!strcmp(a->action, TASK_REBUILD) || !strcmp(a->action, TASK_SNAPSHOT) ||
	     !strcmp(a->action, TASK_NICS)) &&
	    now)
		return instance_set_state(c, t->resource_id, now, 1, NULL, err, errlen);
	if (ok)
		return instance_set_state(c, t->resource_id, &a->ok, 1, NULL, err, errlen);
	char fault[WHY_MAX];
	if (error && *error)
		snprintf(fault, sizeof(fault), "%s", error);
	else
		snprintf(fault, sizeof(fault), "%s failed on host %s", a->action,
		         t->host[0] ? t->host : "(none)");
	const struct vmstate *rep = reported && *reported ? vmstate_from_power(reported) : NULL;
	if (a->on_failure == VMSTATE_FAIL_ERROR) {
		struct vmstate st = {"ERROR", "error", rep ? rep->power : POWER_NOSTATE};
		return instance_set_state(c, t->resource_id, &st, 1, fault, err, errlen);
	}
	struct vmstate cur = {i->status, i->vm_state, i->power}, next = cur;
	enum vmstate_fault unused;
	if (rep)
		vmstate_reconcile(&cur, reported, &next, &unused);
	return instance_set_state(c, t->resource_id, &next, 1, fault, err, errlen);
}

/* Closes t and moves its instance, unless the instance is deleted or no longer on
 * the host the task went to (a delete of a stray copy must not touch the row). */
static int inst_finish(const struct task *t, const struct inst *i, PGconn *c, int ok,
                       const char *reported, const char *error, char *err, size_t errlen)
{
	if (inst_mark(c, t, ok ? "done" : "failed", ok ? NULL : error, err, errlen) < 0)
		return -EIO;
	if (i->deleted || !t->host[0] || strcmp(t->host, i->host))
		return 0;
	return inst_apply(t, i, c, ok, reported, error, err, errlen) < 0 ? -EIO : 0;
}

/* Fails t before it reached any host: the task and (per the table) its instance. */
static int inst_fail_early(struct sched *s, const struct task *t, const struct inst *i, PGconn *c,
                           const char *why)
{
	char err[512];
	log_warn("task %s (%s of instance %s) failed: %s", t->id, t->action, t->resource_id, why);
	if (inst_mark(c, t, "failed", why, err, sizeof(err)) < 0 ||
	    (!i->deleted && inst_apply(t, i, c, 0, NULL, why, err, sizeof(err)) < 0)) {
		sched_db_error(s, c, "tasks: record failure", err);
		return -EIO;
	}
	return 0;
}

/* Deletes the instance of t without its host, which has been gone longer than
 * [scheduler] host_down_after: the row is DELETED (so its quota is free) and the
 * agent's orphan reconcile removes what is left if the host comes back. */
static int inst_delete_locally(struct sched *s, const struct task *t, PGconn *c, const char *host)
{
	char err[512], note[256];
	snprintf(note, sizeof(note), "host %s is down: deleted without it", host);
	if (instance_mark_deleted(c, t->resource_id, err, sizeof(err)) < 0 ||
	    inst_mark(c, t, "done", note, err, sizeof(err)) < 0) {
		sched_db_error(s, c, "tasks: delete on a gone host", err);
		return -EIO;
	}
	log_warn("task %s: instance %s: %s", t->id, t->resource_id, note);
	return 0;
}

/* Fills the spawn payload of m from the instance and image rows. Returns 0, -EIO
 * (err set) or -EINVAL with why set for a spawn that can never be sent. */
static int inst_spawn_payload(struct sched *s, const struct task *t, const struct inst *i,
                              PGconn *c, struct msg *m, char *err, size_t errlen)
{
	struct msg_spawn *k = &m->u.task.p.spawn;
	PGresult *r = db_query(c,
	                       "SELECT i.name, i.image_id, i.key_name, i.public_key, i.user_data,"
	                       " im.checksum, im.disk_format, im.status, i.config_drive,"
	                       " CASE WHEN im.os_hash_algo = 'sha512' THEN im.os_hash_value END"
	                       " FROM instances i"
	                       " LEFT JOIN images im ON im.id = i.image_id WHERE i.id = $1",
	                       1, (const char *const[]){t->resource_id}, err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = instance_volumes_boot(c, t->resource_id, k->boot_volume_id, k->boot_volume_host,
	                               err, errlen);
	const char *image = db_val(r, 0, 1), *status = db_val(r, 0, 7);
	if (rc < 0)
		goto out;
	rc = -EINVAL;
	if (k->boot_volume_id[0] && PQntuples(r) == 1) /* no image: the volume is the disk */
		goto named;
	if (PQntuples(r) != 1 || !image ||
	    strlcpy_checked(k->image_id, image, sizeof(k->image_id)) < 0 || !uuid_is_valid(image)) {
		snprintf(err, errlen, "image id of instance %s is not a UUID", t->resource_id);
		goto out;
	}
	if (!status || strcmp(status, "active")) {
		snprintf(err, errlen, "image %s is not available (%s)", image,
		         status ? status : "not found");
		goto out;
	}
named:;
	char hostname[HOSTNAME_MAX];
	const char *base = s->cfg->internal_url;
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	hostname_from_name(db_val(r, 0, 0), t->resource_id, hostname);
	/* the API shows it (OS-EXT-SRV-ATTR:hostname at 2.3) */
	if (db_exec(c, "UPDATE instances SET hostname = $2 WHERE id = $1", 2,
	            (const char *const[]){t->resource_id, hostname}, err, errlen) < 0) {
		rc = -EIO;
		goto out;
	}
	k->name = xstrdup(db_val(r, 0, 0));
	k->hostname = xstrdup(hostname);
	k->vcpus = i->vcpus;
	k->ram_mb = i->ram_mb;
	k->disk_gb = i->disk_gb;
	if (!k->boot_volume_id[0]) {
		k->image_url = xasprintf("%.*s/image/v2/images/%s/file", (int)blen, base, image);
		k->image_checksum = xstrdup(db_val(r, 0, 5));
		k->image_hash = xstrdup(db_val(r, 0, 9)); /* the image cache's key */
		k->image_format = xstrdup(db_val(r, 0, 6));
	}
	k->key_name = xstrdup(db_val(r, 0, 2));
	k->public_key = xstrdup(db_val(r, 0, 3));
	k->user_data = xstrdup(db_val(r, 0, 4));
	k->config_drive = db_val(r, 0, 8) && db_val(r, 0, 8)[0] == 't';
	/* the root disk's limits, as Nova's: the flavor's quota:disk_* for a disk of the
	 * instance's own, the volume type's front-end QoS for a volume */
	rc = k->boot_volume_id[0] ? task_qos_volume(c, k->boot_volume_id, &k->disk_qos, err, errlen)
	                          : task_qos_instance(c, t->resource_id, &k->disk_qos, err, errlen);
	if (rc < 0)
		goto out;
	rc = netstate_spawn_nics(c, t->resource_id, k, err, errlen);
out:
	PQclear(r);
	return rc;
}

/* Builds and sends t to host; a task that can never be sent fails instead. */
static int inst_send(struct sched *s, const struct task *t, const struct inst *i, PGconn *c,
                     const char *host)
{
	char err[WHY_MAX];
	struct msg m;
	int rc = 0;
	tasks_msg_init(&m, t);
	if (!strcmp(t->action, TASK_SPAWN) || !strcmp(t->action, TASK_REBUILD))
		rc = inst_spawn_payload(s, t, i, c, &m, err, sizeof(err));
	else if (!strcmp(t->action, TASK_SNAPSHOT))
		rc = image_task_payload(s, t, c, &m, err, sizeof(err));
	else if (!strcmp(t->action, TASK_NICS)) /* the NICs now; its host's nubo-net syncs */
		rc = netstate_spawn_nics(c, t->resource_id, &m.u.task.p.spawn, err, sizeof(err));
	int wait = 0; /* a root disk of another machine: its export first */
	if (rc == 0 && (!strcmp(t->action, TASK_SPAWN) || !strcmp(t->action, TASK_REBUILD)) &&
	    (rc = attachment_boot_export(s, c, t->id, host, &m.u.task.p.spawn, err, sizeof(err))) >
	        0) {
		wait = 1;
		rc = 0;
	}
	char *text = rc == 0 ? msg_encode(&m) : NULL;
	if (rc == 0 && !text) {
		snprintf(err, sizeof(err),
		         "the task breaks a bus message bound (name, key, user "
		         "data or image URL too long)");
		rc = -EINVAL;
	}
	free(text);
	if (rc == -EINVAL)
		rc = inst_fail_early(s, t, i, c, err);
	else if (rc == -EAGAIN)
		; /* its boot volume is still being made: next pass */
	else if (rc < 0)
		sched_db_error(s, c, "tasks: read task fields", err);
	else if (!wait) /* else it stays pending: the attach task's result kicks it */
		rc = tasks_send(s, c, t, host, &m);
	explicit_bzero(m.u.task.p.spawn.psk, sizeof(m.u.task.p.spawn.psk));
	msg_release(&m);
	return rc;
}

/* Where the instance's root disk is or will be: a compute host on that machine is
 * "local" (placement's volume-local weigher). */
struct locality {
	const char *vol_host; /* the boot volume's storage host; NULL or "" when none */
	int new_gb;           /* no volume yet: a host whose machine's storage agent has this much
	                       * free is local (0: none is) */
};

static int inst_local(const struct sched *s, const char *compute, const struct locality *l)
{
	if (l->vol_host && l->vol_host[0])
		return agents_same_machine(compute, l->vol_host);
	return l->new_gb > 0 && agents_storage_near(&s->agents, compute, l->new_gb);
}

/* Chooses a host for the instance i, id (under its server group's policy, the hosts
 * local to its root disk ranked first). Returns 0 with the host (and its zone)
 * written, -ENOSPC with why written, or -EIO. */
static int inst_place(struct sched *s, const char *id, const struct inst *i, PGconn *c,
                      const struct locality *loc, char *host, char *az, char *why, size_t whylen)
{
	char err[512];
	int rc = -EIO;
	struct sched_group grp = {0};
	size_t n = s->agents.n;
	struct placement_host *hosts = xcalloc(n ? n : 1, sizeof(*hosts));
	PGresult *zones = NULL;
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT host, sum(vcpus), sum(ram_mb), sum(disk_gb) FROM instances"
	                  " WHERE NOT deleted AND host IS NOT NULL GROUP BY host");
	if (!r) {
		sched_db_error(s, c, "tasks: sum usage", err);
		goto out;
	}
	int grouped = sched_group_load(c, id, &grp, err, sizeof(err));
	if (grouped < 0) {
		sched_db_error(s, c, "tasks: server group", err);
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		const struct agent *g = &s->agents.v[k];
		/* only compute agents run instances */
		hosts[k] = (struct placement_host){
		    g->host,  g->az,     g->up && g->kind == MSG_AGENT_COMPUTE,
		    g->vcpus, g->ram_mb, g->disk_gb,
		    0,        0,         0};
		hosts[k].local = g->kind == MSG_AGENT_COMPUTE && inst_local(s, g->host, loc);
		for (int j = 0; j < PQntuples(r); j++)
			if (!strcmp(db_val(r, j, 0), g->host)) {
				hosts[k].used_vcpus = db_long(r, j, 1, 0);
				hosts[k].used_ram_mb = db_long(r, j, 2, 0);
				hosts[k].used_disk_gb = db_long(r, j, 3, 0);
			}
	}
	if (!(zones = host_zone_apply(c, hosts, n, err, sizeof err))) { /* aggregates' zones */
		sched_db_error(s, c, "tasks: host zones", err);
		goto out;
	}
	const struct placement_ratios ratios = {s->cfg->cpu_ratio, s->cfg->ram_ratio,
	                                        s->cfg->disk_ratio};
	const struct placement_request req = {i->vcpus, i->ram_mb, i->disk_gb, i->az};
	int k = placement_choose_grouped(hosts, n, &ratios, &req, grouped ? &grp.pg : NULL, why,
	                                 whylen);
	if (k < 0) {
		rc = -ENOSPC;
		goto out;
	}
	snprintf(host, MSG_HOST_MAX, "%s", hosts[k].name);
	snprintf(az, MSG_HOST_MAX, "%s", hosts[k].az);
	rc = 0;
out:
	sched_group_release(&grp);
	PQclear(r);
	PQclear(zones);
	free(hosts);
	return rc;
}

/* The instance's boot volume, if it boots from one, is available and still its own:
 * 0 (with its storage host in vhost, "" when it boots from an image); -EAGAIN while it is being
 * made; 1 when it cannot be and the task was failed (recorded: the dispatch is over); -EIO on a
 * database error (logged). */
static int inst_boot_volume_ready(struct sched *s, const struct task *t, struct inst *i, PGconn *c,
                                  char vhost[MSG_HOST_MAX])
{
	char vol[UUID_STR_LEN], err[512];
	vhost[0] = '\0';
	int vrc = instance_volumes_boot(c, t->resource_id, vol, vhost, err, sizeof(err));
	if (vrc == -EIO) {
		sched_db_error(s, c, "tasks: boot volume", err);
		return -EIO;
	}
	if (vrc == -EINVAL) {
		int rc = inst_fail_early(s, t, i, c, err);
		return rc < 0 ? rc : 1;
	}
	return vrc == -EAGAIN ? -EAGAIN : 0;
}

static int dispatch_spawn(struct sched *s, const struct task *t, struct inst *i, PGconn *c)
{
	char host[MSG_HOST_MAX], az[MSG_HOST_MAX], why[PLACEMENT_REASON_MAX], err[512];
	char vhost[MSG_HOST_MAX];
	if (i->deleted)
		return inst_fail_early(s, t, i, c, "instance was deleted before it was built");
	/* a boot volume still being made: placed and sent once it is available */
	int vrc = inst_boot_volume_ready(s, t, i, c, vhost);
	if (vrc != 0)
		return vrc > 0 ? 0 : vrc;
	if (i->host[0]) { /* placed before (by hand, or an older scheduler) */
		if (!agents_is_up(&s->agents, i->host))
			return -EAGAIN;
		return inst_send(s, t, i, c, i->host);
	}
	const struct locality loc = {vhost, 0};
	int rc = inst_place(s, t->resource_id, i, c, &loc, host, az, why, sizeof(why));
	if (rc == -ENOSPC)
		return sched_placement_on_hold(s) ? -EAGAIN : inst_fail_early(s, t, i, c, why);
	if (rc < 0)
		return rc;
	if (DBX(c, err, sizeof err,
	        "UPDATE instances SET host = $2, az = CASE WHEN $4::boolean THEN $3 ELSE az END,"
	        " task_state = 'spawning', updated_at = now() WHERE id = $1",
	        t->resource_id, host, az, placement_az_any(i->az) ? "true" : "false") < 0) {
		sched_db_error(s, c, "tasks: place instance", err);
		return -EIO;
	}
	snprintf(i->host, sizeof(i->host), "%s", host);
	log_info("instance %s (%d vCPUs, %d MB, %d GB) placed on %s", t->resource_id, i->vcpus,
	         i->ram_mb, i->disk_gb, host);
	return inst_send(s, t, i, c, host);
}

static int dispatch_delete(struct sched *s, const struct task *t, struct inst *i, PGconn *c)
{
	char err[512];
	const char *target = t->host[0] ? t->host : i->host;
	if (!*target) { /* never placed: nothing runs anywhere */
		if (instance_mark_deleted(c, t->resource_id, err, sizeof(err)) < 0 ||
		    inst_mark(c, t, "done", NULL, err, sizeof(err)) < 0) {
			sched_db_error(s, c, "tasks: delete unplaced instance", err);
			return -EIO;
		}
		log_info("task %s: instance %s was never placed: deleted", t->id, t->resource_id);
		return 0;
	}
	if (!agents_is_up(&s->agents, target)) {
		int gone = tasks_host_gone(s, c, target);
		if (gone < 0)
			return gone;
		return gone ? inst_delete_locally(s, t, c, target) : -EAGAIN;
	}
	return inst_send(s, t, i, c, target);
}

/* start, stop, reboot, pause, ...: to the host the instance is on. */
static int dispatch_power(struct sched *s, const struct task *t, struct inst *i, PGconn *c)
{
	const char *target = t->host[0] ? t->host : i->host;
	if (i->deleted)
		return inst_fail_early(s, t, i, c, "instance is deleted");
	if (!*target)
		return inst_fail_early(s, t, i, c, "instance has no host");
	if (!agents_is_up(&s->agents, target))
		return -EAGAIN;
	/* a QEMU started anew opens the boot volume again: it must still be this
	 * instance's (review bfv 1: detached, deleted or given to another project) */
	if (instance_volumes_restarts(t->action)) {
		char vhost[MSG_HOST_MAX];
		int vrc = inst_boot_volume_ready(s, t, i, c, vhost);
		if (vrc != 0)
			return vrc > 0 ? 0 : vrc;
	}
	return inst_send(s, t, i, c, target);
}

int instance_place_preview(struct sched *s, PGconn *c, const char *id, int new_gb,
                           char host[MSG_HOST_MAX])
{
	char err[512], az[MSG_HOST_MAX], why[PLACEMENT_REASON_MAX];
	struct inst i;
	memset(&i, 0, sizeof(i));
	host[0] = '\0';
	/* no lock: the caller holds the volume's row, and a spawn locks the instance first */
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT az, vcpus, ram_mb, disk_gb FROM instances WHERE id = $1"
	                  " AND NOT deleted AND host IS NULL",
	                  id);
	if (!r) {
		sched_db_error(s, c, "tasks: instance to place", err);
		return -EIO;
	}
	int rc = 0;
	if (PQntuples(r) != 1 || strlcpy_checked(i.az, db_val(r, 0, 0), sizeof(i.az)) < 0)
		goto out;
	i.vcpus = (int)db_long(r, 0, 1, 0);
	i.ram_mb = (int)db_long(r, 0, 2, 0);
	i.disk_gb = (int)db_long(r, 0, 3, 0);
	const struct locality loc = {NULL, new_gb};
	rc = inst_place(s, id, &i, c, &loc, host, az, why, sizeof(why));
	if (rc == -ENOSPC) {
		host[0] = '\0';
		rc = 0;
	} else if (rc == 0) {
		rc = 1;
	}
out:
	PQclear(r);
	return rc;
}

static const struct dispatcher {
	const char *action;
	int (*dispatch)(struct sched *, const struct task *, struct inst *, PGconn *);
} dispatchers[] = {
    {TASK_SPAWN, dispatch_spawn},   {TASK_DELETE, dispatch_delete},
    {TASK_START, dispatch_power},   {TASK_STOP, dispatch_power},
    {TASK_REBOOT, dispatch_power},  {TASK_HARD_REBOOT, dispatch_power},
    {TASK_PAUSE, dispatch_power},   {TASK_UNPAUSE, dispatch_power},
    {TASK_SUSPEND, dispatch_power}, {TASK_RESUME, dispatch_power},
    {TASK_REBUILD, dispatch_power}, {TASK_SNAPSHOT, dispatch_power},
    {TASK_NICS, dispatch_power},
};

/* Loads the instance of t for a step; closes t when it has none. Returns 1 loaded,
 * or what the step returns. */
static int inst_for_step(struct sched *s, PGconn *c, const struct task *t, int skip, struct inst *i)
{
	char err[512];
	int rc = inst_load(c, t, skip, i, err, sizeof(err));
	if (rc == 0)
		return -EAGAIN; /* nubo-api holds the row: next pass */
	if (rc == -ENOENT) {
		log_warn("task %s: instance %s does not exist: failed", t->id, t->resource_id);
		rc = inst_mark(c, t, "failed", "instance does not exist", err, sizeof(err));
		if (rc < 0)
			sched_db_error(s, c, "tasks: fail orphan task", err);
		return rc < 0 ? -EIO : 0;
	}
	if (rc < 0)
		sched_db_error(s, c, "tasks: load instance", err);
	return rc;
}

static int inst_dispatch(struct sched *s, PGconn *c, const struct task *t)
{
	struct inst i;
	int rc = inst_for_step(s, c, t, 1, &i);
	if (rc != 1)
		return rc;
	for (size_t k = 0; k < sizeof(dispatchers) / sizeof(dispatchers[0]); k++)
		if (!strcmp(dispatchers[k].action, t->action))
			return dispatchers[k].dispatch(s, t, &i, c);
	return inst_fail_early(s, t, &i, c, "action not dispatched");
}

static int inst_resend(struct sched *s, PGconn *c, const struct task *t)
{
	char err[WHY_MAX];
	struct inst i;
	int rc = inst_for_step(s, c, t, 1, &i);
	if (rc != 1)
		return rc;
	if (!t->host[0]) {
		rc = inst_mark(c, t, "failed", "dispatched to no host", err, sizeof(err));
	} else if (!agents_is_up(&s->agents, t->host)) {
		if (strcmp(t->action, TASK_DELETE))
			return -EAGAIN; /* sent again once the host is back */
		int gone = tasks_host_gone(s, c, t->host);
		if (gone <= 0)
			return gone < 0 ? gone : -EAGAIN;
		return inst_delete_locally(s, t, c, t->host);
	} else if (i.deleted && strcmp(t->action, TASK_DELETE)) {
		/* a delete overtook it: sending it again could bring the guest back */
		rc = inst_mark(c, t, "failed", "instance was deleted", err, sizeof(err));
	} else { /* until its deadline (tasks_deadlines), which alone gives up on it */
		log_info("task %s: no result from %s: sending again", t->id, t->host);
		return inst_send(s, t, &i, c, t->host);
	}
	if (rc < 0)
		sched_db_error(s, c, "tasks: close unanswered task", err);
	return rc < 0 ? -EIO : 0;
}

static int inst_on_result(struct sched *s, PGconn *c, const struct task *t,
                          const struct msg_result *r)
{
	char err[512];
	struct inst i;
	int ok = r->ok || image_task_landed(c, t);
	const char *error = r->ok || !ok ? r->error : NULL;
	int rc = inst_load(c, t, 0, &i, err, sizeof(err));
	if (rc == -ENOENT)
		rc = inst_mark(c, t, ok ? "done" : "failed", error, err, sizeof(err));
	else if (rc > 0) {
		/* a deleted server's boot volume of another machine: its export stops
		 * (read before inst_finish releases the volume) */
		if (ok && !i.deleted && !strcmp(t->action, TASK_DELETE) && !strcmp(t->host, i.host))
			rc = attachment_boot_export_stop(s, c, t->resource_id, t->host, err,
			                                 sizeof(err));
		if (rc >= 0)
			rc = inst_finish(t, &i, c, ok, r->state, error, err, sizeof(err));
	}
	if (rc < 0) {
		sched_db_error(s, c, "result: record", err);
		return -EIO;
	}
	return 0;
}

static int inst_on_deadline(struct sched *s, PGconn *c, const struct task *t, const char *why)
{
	char err[512];
	struct inst i;
	int rc = inst_for_step(s, c, t, 1, &i);
	if (rc != 1)
		return rc;
	const char *target = t->host[0] ? t->host : i.host;
	/* delete wins: a delete whose host is gone completes without it */
	if (!strcmp(t->action, TASK_DELETE) && *target && !agents_is_up(&s->agents, target)) {
		int gone = tasks_host_gone(s, c, target);
		if (gone < 0)
			return gone;
		if (gone)
			return inst_delete_locally(s, t, c, target);
	}
	if (inst_mark(c, t, "failed", why, err, sizeof(err)) < 0 ||
	    (!i.deleted && inst_apply(t, &i, c, 0, NULL, why, err, sizeof(err)) < 0)) {
		sched_db_error(s, c, "tasks: record deadline", err);
		return -EIO;
	}
	return 0;
}

static int inst_on_event(struct sched *s, const char *host, const struct msg_event *e)
{
	return reconcile_on_event(s, host, e);
}

const struct task_kind instance_tasks = {
    .kind = MSG_RES_INSTANCE,
    .dispatch = inst_dispatch,
    .resend = inst_resend,
    .on_result = inst_on_result,
    .on_deadline = inst_on_deadline,
    .on_event = inst_on_event,
    .reconcile = reconcile_host,
};

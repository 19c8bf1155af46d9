/* The outbox. Each task is handled in its own transaction that locks the task and
 * its instance row (SKIP LOCKED: a row nubo-api holds is simply tried next pass).
 * The bus message goes out before COMMIT: when it cannot be sent the transaction
 * rolls back and the task stays pending; when COMMIT fails after a send, the task is
 * sent again later and the agent, idempotent by task id, answers it once more. */
#include "tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "db.h"
#include "hostname.h"
#include "instance.h"
#include "log.h"
#include "placement.h"
#include "sched.h"
#include "vmstate.h"
#include "xalloc.h"

#define OUTBOX_BATCH 64	 /* pending tasks fetched per query */
#define OUTBOX_BUDGET 256 /* pending tasks examined per pass */
#define RETRY_BATCH 64	 /* dispatched tasks re-sent per tick */
#define WHY_MAX 1024

/* A task row joined with its instance row, as the locking queries return it. */
struct task {
	char id[UUID_STR_LEN];
	char action[MSG_STATE_MAX];
	char instance_id[UUID_STR_LEN];
	char host[MSG_HOST_MAX]; /* tasks.host; "" until dispatched */
	char status[16];
	int attempts;
	char inst_host[MSG_HOST_MAX]; /* instances.host; "" until placed */
	int deleted;
	char inst_status[VMSTATE_STATUS_MAX], inst_vm_state[VMSTATE_STATUS_MAX];
	int power;
	char az[MSG_HOST_MAX];
	int vcpus, ram_mb, disk_gb;
	const struct vmstate_action *act;
};

#define TASK_SELECT                                                                              \
	"SELECT t.id, t.action, t.instance_id, t.host, t.attempts, t.status, i.host, i.deleted," \
	" i.status, i.vm_state, i.power_state, i.az, i.vcpus, i.ram_mb, i.disk_gb"              \
	" FROM tasks t JOIN instances i ON i.id = t.instance_id WHERE t.id = $1"
static const char sql_lock_pending[] =
	TASK_SELECT " AND t.status = 'pending' FOR UPDATE OF t, i SKIP LOCKED";
static const char sql_lock_dispatched[] =
	TASK_SELECT " AND t.status = 'dispatched' FOR UPDATE OF t, i SKIP LOCKED";
static const char sql_lock_any[] = TASK_SELECT " FOR UPDATE OF t, i";

/* Copies a cell into a fixed buffer; -EINVAL when it does not fit. */
static int cell(const PGresult *r, int col, char *dst, size_t n)
{
	const char *v = db_val(r, 0, col);
	return strlcpy_checked(dst, v ? v : "", n);
}

/* Loads and locks task id with sql. Returns 1, 0 when there is no such (unlocked)
 * row, -EIO (err set) or -EINVAL (why set) for a row no agent could be sent. */
static int task_load(PGconn *c, const char *sql, const char *id, struct task *t, char *err,
		     size_t errlen)
{
	memset(t, 0, sizeof(*t));
	PGresult *r = db_query(c, sql, 1, (const char *const[]){id}, err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = PQntuples(r) == 1;
	if (!rc)
		goto out;
	if (cell(r, 0, t->id, sizeof(t->id)) < 0 || cell(r, 2, t->instance_id,
							   sizeof(t->instance_id)) < 0 ||
	    !uuid_is_valid(t->id) || !uuid_is_valid(t->instance_id)) {
		snprintf(err, errlen, "task or instance id is not a UUID");
		rc = -EINVAL;
		goto out;
	}
	if (cell(r, 1, t->action, sizeof(t->action)) < 0 ||
	    !(t->act = vmstate_action_find(t->action))) {
		snprintf(err, errlen, "unknown action \"%.32s\"", db_val(r, 0, 1));
		rc = -EINVAL;
		goto out;
	}
	if (cell(r, 3, t->host, sizeof(t->host)) < 0 ||
	    cell(r, 6, t->inst_host, sizeof(t->inst_host)) < 0 ||
	    cell(r, 11, t->az, sizeof(t->az)) < 0) {
		snprintf(err, errlen, "host or zone name too long");
		rc = -EINVAL;
		goto out;
	}
	cell(r, 5, t->status, sizeof(t->status));
	cell(r, 8, t->inst_status, sizeof(t->inst_status));
	cell(r, 9, t->inst_vm_state, sizeof(t->inst_vm_state));
	t->attempts = (int)db_long(r, 0, 4, 0);
	t->deleted = !strcmp(db_val(r, 0, 7), "t");
	t->power = (int)db_long(r, 0, 10, 0);
	t->vcpus = (int)db_long(r, 0, 12, 0);
	t->ram_mb = (int)db_long(r, 0, 13, 0);
	t->disk_gb = (int)db_long(r, 0, 14, 0);
out:
	PQclear(r);
	return rc;
}

/* Closes task id as status ("done"/"failed") with error (may be NULL). */
static int task_mark(PGconn *c, const char *id, const char *status, const char *error,
		     char *err, size_t errlen)
{
	static const char sql[] = "UPDATE tasks SET status = $2, error = $3, updated_at = now()"
				  " WHERE id = $1";
	const char *params[] = {id, status, error};
	return db_exec(c, sql, 3, params, err, errlen);
}

/* Moves the instance of t per the state table: success takes the action's end
 * state; a failure of spawn/delete is ERROR with the error as fault (power state as
 * reported), a failure of a power action keeps the state unless the reported power
 * state says otherwise. task_state is cleared either way. */
static int task_apply(const struct task *t, PGconn *c, int ok, const char *reported,
		      const char *error, char *err, size_t errlen)
{
	const struct vmstate_action *a = t->act;
	if (ok && !strcmp(a->action, TASK_DELETE))
		return instance_mark_deleted(c, t->instance_id, err, errlen);
	if (ok)
		return instance_set_state(c, t->instance_id, &a->ok, 1, NULL, err, errlen);
	char fault[WHY_MAX];
	if (error && *error)
		snprintf(fault, sizeof(fault), "%s", error);
	else
		snprintf(fault, sizeof(fault), "%s failed on host %s", a->action,
			 t->host[0] ? t->host : "(none)");
	const struct vmstate *rep = reported && *reported ? vmstate_from_power(reported) : NULL;
	if (a->on_failure == VMSTATE_FAIL_ERROR) {
		struct vmstate st = {"ERROR", "error", rep ? rep->power : POWER_NOSTATE};
		return instance_set_state(c, t->instance_id, &st, 1, fault, err, errlen);
	}
	struct vmstate cur = {t->inst_status, t->inst_vm_state, t->power}, next = cur;
	enum vmstate_fault unused;
	if (rep)
		vmstate_reconcile(&cur, reported, &next, &unused);
	return instance_set_state(c, t->instance_id, &next, 1, fault, err, errlen);
}

/* Closes t and moves its instance, unless the instance is deleted or no longer on
 * the host the task went to (a delete of a stray copy must not touch the row). */
static int task_finish(const struct task *t, PGconn *c, int ok, const char *reported,
		       const char *error, char *err, size_t errlen)
{
	if (task_mark(c, t->id, ok ? "done" : "failed", ok ? NULL : error, err, errlen) < 0)
		return -EIO;
	if (t->deleted || !t->host[0] || strcmp(t->host, t->inst_host))
		return 0;
	return task_apply(t, c, ok, reported, error, err, errlen) < 0 ? -EIO : 0;
}

/* Fails t before it reached any host: the task and (per the table) its instance. */
static int task_fail_early(struct sched *s, const struct task *t, PGconn *c, const char *why)
{
	char err[512];
	log_warn("task %s (%s of instance %s) failed: %s", t->id, t->action, t->instance_id,
		 why);
	if (task_mark(c, t->id, "failed", why, err, sizeof(err)) < 0 ||
	    (!t->deleted && task_apply(t, c, 0, NULL, why, err, sizeof(err)) < 0)) {
		sched_db_error(s, c, "tasks: record failure", err);
		return -EIO;
	}
	return 0;
}

/* Fills the spawn fields of m from the instance and image rows. Returns 0, -EIO
 * (err set) or -EINVAL with why set for a spawn that can never be sent. */
static int task_spawn_fields(struct sched *s, const struct task *t, PGconn *c, struct msg *m,
			     char *err, size_t errlen)
{
	struct msg_task *k = &m->u.task;
	PGresult *r = db_query(c,
			       "SELECT i.name, i.image_id, i.key_name, i.public_key, i.user_data,"
			       " im.checksum, im.disk_format, im.status FROM instances i"
			       " LEFT JOIN images im ON im.id = i.image_id WHERE i.id = $1",
			       1, (const char *const[]){t->instance_id}, err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = -EINVAL;
	const char *image = db_val(r, 0, 1), *status = db_val(r, 0, 7);
	if (PQntuples(r) != 1 || !image || strlcpy_checked(k->p.spawn.image_id, image,
							    sizeof(k->p.spawn.image_id)) < 0 ||
	    !uuid_is_valid(image)) {
		snprintf(err, errlen, "image id of instance %s is not a UUID", t->instance_id);
		goto out;
	}
	if (!status || strcmp(status, "active")) {
		snprintf(err, errlen, "image %s is not available (%s)", image,
			 status ? status : "not found");
		goto out;
	}
	char hostname[HOSTNAME_MAX];
	const char *base = s->cfg->internal_url;
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	hostname_from_name(db_val(r, 0, 0), t->instance_id, hostname);
	k->p.spawn.name = xstrdup(db_val(r, 0, 0));
	k->p.spawn.hostname = xstrdup(hostname);
	k->p.spawn.vcpus = t->vcpus;
	k->p.spawn.ram_mb = t->ram_mb;
	k->p.spawn.disk_gb = t->disk_gb;
	k->p.spawn.image_url = xasprintf("%.*s/image/v2/images/%s/file", (int)blen, base, image);
	k->p.spawn.image_checksum = xstrdup(db_val(r, 0, 5));
	k->p.spawn.image_format = xstrdup(db_val(r, 0, 6));
	k->p.spawn.key_name = xstrdup(db_val(r, 0, 2));
	k->p.spawn.public_key = xstrdup(db_val(r, 0, 3));
	k->p.spawn.user_data = xstrdup(db_val(r, 0, 4));
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* Builds the task message for t into m (caller releases). Returns 0, -EIO (err set)
 * or -EINVAL with the reason in err when the task can never be sent. */
static int task_message(struct sched *s, const struct task *t, PGconn *c, struct msg *m,
			char *err, size_t errlen)
{
	msg_task_init(m, t->id, t->action, MSG_RES_INSTANCE, t->instance_id);
	if (!strcmp(t->action, TASK_SPAWN)) {
		int rc = task_spawn_fields(s, t, c, m, err, errlen);
		if (rc < 0)
			return rc;
	}
	char *text = msg_encode(m);
	if (!text) {
		snprintf(err, errlen, "the task breaks a bus message bound (name, key, user data "
				      "or image URL too long)");
		return -EINVAL;
	}
	free(text);
	return 0;
}

/* Marks t dispatched to host (attempts + 1) and sends m. Returns 0, -EIO, or
 * -EAGAIN when the agent cannot be reached now (the caller rolls back). */
static int task_send(struct sched *s, const struct task *t, PGconn *c, const char *host,
		     const struct msg *m)
{
	char err[512];
	if (DBX(c, err, sizeof err,
		"UPDATE tasks SET host = $2, status = 'dispatched', attempts = attempts + 1,"
		" updated_at = now() WHERE id = $1",
		t->id, host) < 0) {
		sched_db_error(s, c, "tasks: mark dispatched", err);
		return -EIO;
	}
	int rc = bus_send(s->router, host, m);
	if (rc < 0) {
		if (agents_mark_reachable(&s->agents, host, 0))
			log_warn("agent %s cannot be reached (%s): its tasks wait", host,
				 strerror(-rc));
		return -EAGAIN;
	}
	if (agents_mark_reachable(&s->agents, host, 1))
		log_info("agent %s can be reached again", host);
	log_info("task %s: %s of instance %s sent to %s (attempt %d)", t->id, t->action,
		 t->instance_id, host, t->attempts + 1);
	return 0;
}

/* Builds and sends t to host; a task that can never be sent fails instead. */
static int task_dispatch_to(struct sched *s, const struct task *t, PGconn *c,
			    const char *host)
{
	char err[WHY_MAX];
	struct msg m;
	int rc = task_message(s, t, c, &m, err, sizeof(err));
	if (rc == -EINVAL)
		rc = task_fail_early(s, t, c, err);
	else if (rc < 0)
		sched_db_error(s, c, "tasks: read task fields", err);
	else
		rc = task_send(s, t, c, host, &m);
	msg_release(&m);
	return rc;
}

/* Chooses a host for t's instance. Returns 0 with the host (and its zone) written,
 * -ENOSPC with why written, or -EIO. */
static int task_place(struct sched *s, const struct task *t, PGconn *c, char *host, char *az,
		      char *why, size_t whylen)
{
	char err[512];
	int rc = -EIO;
	size_t n = s->agents.n;
	struct placement_host *hosts = xcalloc(n, sizeof(*hosts));
	PGresult *r = DBQ(c, err, sizeof err,
			  "SELECT host, sum(vcpus), sum(ram_mb), sum(disk_gb) FROM instances"
			  " WHERE NOT deleted AND host IS NOT NULL GROUP BY host");
	if (!r) {
		sched_db_error(s, c, "tasks: sum usage", err);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct agent *g = &s->agents.v[i];
		hosts[i] = (struct placement_host){g->host, g->az, g->up, g->vcpus, g->ram_mb,
						   g->disk_gb, 0, 0, 0};
		for (int j = 0; j < PQntuples(r); j++)
			if (!strcmp(db_val(r, j, 0), g->host)) {
				hosts[i].used_vcpus = db_long(r, j, 1, 0);
				hosts[i].used_ram_mb = db_long(r, j, 2, 0);
				hosts[i].used_disk_gb = db_long(r, j, 3, 0);
			}
	}
	const struct placement_ratios ratios = {s->cfg->cpu_ratio, s->cfg->ram_ratio,
						s->cfg->disk_ratio};
	const struct placement_request req = {t->vcpus, t->ram_mb, t->disk_gb, t->az};
	int k = placement_choose(hosts, n, &ratios, &req, why, whylen);
	if (k < 0) {
		rc = -ENOSPC;
		goto out;
	}
	snprintf(host, MSG_HOST_MAX, "%s", hosts[k].name);
	snprintf(az, MSG_HOST_MAX, "%s", hosts[k].az);
	rc = 0;
out:
	PQclear(r);
	free(hosts);
	return rc;
}

static int dispatch_spawn(struct sched *s, struct task *t, PGconn *c)
{
	char host[MSG_HOST_MAX], az[MSG_HOST_MAX], why[PLACEMENT_REASON_MAX], err[512];
	if (t->deleted)
		return task_fail_early(s, t, c, "instance was deleted before it was built");
	if (t->inst_host[0]) { /* placed before (by hand, or an older scheduler) */
		if (!agents_is_up(&s->agents, t->inst_host))
			return -EAGAIN;
		return task_dispatch_to(s, t, c, t->inst_host);
	}
	int rc = task_place(s, t, c, host, az, why, sizeof(why));
	if (rc == -ENOSPC)
		return sched_placement_on_hold(s) ? -EAGAIN : task_fail_early(s, t, c, why);
	if (rc < 0)
		return rc;
	if (DBX(c, err, sizeof err,
		"UPDATE instances SET host = $2, az = CASE WHEN $4::boolean THEN $3 ELSE az END,"
		" task_state = 'spawning', updated_at = now() WHERE id = $1",
		t->instance_id, host, az, placement_az_any(t->az) ? "true" : "false") < 0) {
		sched_db_error(s, c, "tasks: place instance", err);
		return -EIO;
	}
	snprintf(t->inst_host, sizeof(t->inst_host), "%s", host);
	log_info("instance %s (%d vCPUs, %d MB, %d GB) placed on %s", t->instance_id, t->vcpus,
		 t->ram_mb, t->disk_gb, host);
	return task_dispatch_to(s, t, c, host);
}

static int dispatch_delete(struct sched *s, struct task *t, PGconn *c)
{
	char err[512];
	const char *target = t->host[0] ? t->host : t->inst_host;
	if (!*target) { /* never placed: nothing runs anywhere */
		if (instance_mark_deleted(c, t->instance_id, err, sizeof(err)) < 0 ||
		    task_mark(c, t->id, "done", NULL, err, sizeof(err)) < 0) {
			sched_db_error(s, c, "tasks: delete unplaced instance", err);
			return -EIO;
		}
		log_info("task %s: instance %s was never placed: deleted", t->id, t->instance_id);
		return 0;
	}
	if (!agents_is_up(&s->agents, target))
		return -EAGAIN;
	return task_dispatch_to(s, t, c, target);
}

/* start, stop, reboot, pause, ...: to the host the instance is on. */
static int dispatch_power(struct sched *s, struct task *t, PGconn *c)
{
	const char *target = t->host[0] ? t->host : t->inst_host;
	if (t->deleted)
		return task_fail_early(s, t, c, "instance is deleted");
	if (!*target)
		return task_fail_early(s, t, c, "instance has no host");
	if (!agents_is_up(&s->agents, target))
		return -EAGAIN;
	return task_dispatch_to(s, t, c, target);
}

static const struct dispatcher {
	const char *action;
	int (*dispatch)(struct sched *, struct task *, PGconn *);
} dispatchers[] = {
	{TASK_SPAWN, dispatch_spawn},	{TASK_DELETE, dispatch_delete},
	{TASK_START, dispatch_power},	{TASK_STOP, dispatch_power},
	{TASK_REBOOT, dispatch_power},	{TASK_HARD_REBOOT, dispatch_power},
	{TASK_PAUSE, dispatch_power},	{TASK_UNPAUSE, dispatch_power},
	{TASK_SUSPEND, dispatch_power}, {TASK_RESUME, dispatch_power},
};

static const struct dispatcher *dispatcher_find(const char *action)
{
	for (size_t i = 0; i < sizeof(dispatchers) / sizeof(dispatchers[0]); i++)
		if (!strcmp(dispatchers[i].action, action))
			return &dispatchers[i];
	return NULL;
}

/* Ends the transaction of one task: COMMIT when rc is 0, else ROLLBACK. */
static void task_end(struct sched *s, PGconn *c, int rc)
{
	if (rc < 0) {
		db_rollback(c);
		return;
	}
	if (db_commit(c) < 0)
		sched_db_error(s, c, "tasks: commit", PQerrorMessage(c));
}

/* One pending task, in its own transaction. */
static void task_dispatch_one(struct sched *s, PGconn *c, const char *id)
{
	char err[512], why[512];
	struct task t;
	if (!uuid_is_valid(id)) {
		log_warn("task \"%.40s\": id is not a UUID: failed", id);
		if (DBX(c, err, sizeof err,
			"UPDATE tasks SET status = 'failed', error = 'task id is not a UUID',"
			" updated_at = now() WHERE id = $1",
			id) < 0)
			sched_db_error(s, c, "tasks: fail malformed task", err);
		return;
	}
	if (db_begin(c) < 0) {
		sched_db_error(s, c, "tasks: begin", PQerrorMessage(c));
		return;
	}
	int rc = task_load(c, sql_lock_pending, id, &t, why, sizeof(why));
	if (rc == -EINVAL) {
		log_warn("task %s: %s: failed", id, why);
		rc = task_mark(c, id, "failed", why, err, sizeof(err));
		if (rc < 0)
			sched_db_error(s, c, "tasks: fail malformed task", err);
	} else if (rc < 0) {
		sched_db_error(s, c, "tasks: load", why);
	} else if (rc == 0) {
		rc = -EAGAIN; /* taken, locked or closed meanwhile */
	} else {
		const struct dispatcher *d = dispatcher_find(t.action);
		rc = d ? d->dispatch(s, &t, c) : task_fail_early(s, &t, c, "action not dispatched");
	}
	task_end(s, c, rc);
}

void tasks_run(struct sched *s)
{
	char err[512], batch[16];
	int examined = 0;
	snprintf(batch, sizeof(batch), "%d", OUTBOX_BATCH);
	s->kick = 0;
	PGconn *c = sched_db(s);
	while (examined < OUTBOX_BUDGET) {
		PGresult *r = DBQ(
			c, err, sizeof err,
			"SELECT t.id, t.created_at FROM tasks t WHERE t.status = 'pending'"
			" AND (t.created_at, t.id) > ($1::timestamptz, $2::text)"
			" AND (t.action = 'delete' OR NOT EXISTS (SELECT 1 FROM tasks o"
			"  WHERE o.instance_id = t.instance_id"
			"  AND o.status IN ('pending', 'dispatched')"
			"  AND (o.created_at, o.id) < (t.created_at, t.id)))"
			" ORDER BY t.created_at, t.id LIMIT $3::int",
			s->cursor_at, s->cursor_id, batch);
		if (!r) {
			sched_db_error(s, c, "tasks: list pending", err);
			break;
		}
		int n = PQntuples(r);
		for (int i = 0; i < n; i++, examined++) {
			snprintf(s->cursor_id, sizeof(s->cursor_id), "%s", db_val(r, i, 0));
			snprintf(s->cursor_at, sizeof(s->cursor_at), "%s", db_val(r, i, 1));
			task_dispatch_one(s, c, db_val(r, i, 0));
		}
		PQclear(r);
		if (n < OUTBOX_BATCH) { /* reached the newest: the next pass starts over */
			snprintf(s->cursor_at, sizeof(s->cursor_at), "-infinity");
			s->cursor_id[0] = '\0';
			break;
		}
	}
	sched_db_done(s, c);
}

/* One dispatched task without a result, in its own transaction. */
static void task_retry_one(struct sched *s, PGconn *c, const char *id)
{
	char err[WHY_MAX], why[512];
	struct task t;
	if (db_begin(c) < 0) {
		sched_db_error(s, c, "tasks: begin", PQerrorMessage(c));
		return;
	}
	int rc = task_load(c, sql_lock_dispatched, id, &t, why, sizeof(why));
	if (rc < 0 && rc != -EINVAL) {
		sched_db_error(s, c, "tasks: load", why);
	} else if (rc == 0) {
		rc = -EAGAIN;
	} else if (rc == -EINVAL || !t.host[0]) {
		rc = task_mark(c, id, "failed", rc == -EINVAL ? why : "dispatched to no host", err,
			       sizeof(err));
		if (rc < 0)
			sched_db_error(s, c, "tasks: fail malformed task", err);
	} else if (!agents_is_up(&s->agents, t.host)) {
		rc = -EAGAIN; /* sent again once the host is back */
	} else if (t.deleted && strcmp(t.action, TASK_DELETE)) {
		/* a delete overtook it: sending it again could bring the guest back */
		rc = task_mark(c, id, "failed", "instance was deleted", err, sizeof(err));
		if (rc < 0)
			sched_db_error(s, c, "tasks: close overtaken task", err);
	} else if (t.attempts >= TASK_MAX_ATTEMPTS) {
		snprintf(why, sizeof(why), "no result from host %s after %d attempts", t.host,
			 t.attempts);
		log_warn("task %s (%s of instance %s): %s", t.id, t.action, t.instance_id, why);
		rc = task_finish(&t, c, 0, NULL, why, err, sizeof(err));
		if (rc < 0)
			sched_db_error(s, c, "tasks: give up", err);
	} else {
		log_info("task %s: no result from %s: sending again", t.id, t.host);
		rc = task_dispatch_to(s, &t, c, t.host);
	}
	task_end(s, c, rc);
}

void tasks_retry(struct sched *s)
{
	char err[512], retry[16], batch[16];
	snprintf(retry, sizeof(retry), "%ld", s->cfg->task_retry);
	snprintf(batch, sizeof(batch), "%d", RETRY_BATCH);
	PGconn *c = sched_db(s);
	PGresult *r = DBQ(c, err, sizeof err,
			  "SELECT id FROM tasks WHERE status = 'dispatched'"
			  " AND (updated_at < now() - $1::int * interval '1 second'"
			  "  OR updated_at < $2::timestamptz)"
			  " ORDER BY updated_at LIMIT $3::int",
			  retry, s->started_at, batch);
	if (!r) {
		sched_db_error(s, c, "tasks: list dispatched", err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++)
		task_retry_one(s, c, db_val(r, i, 0));
	PQclear(r);
out:
	sched_db_done(s, c);
}

int tasks_on_result(struct sched *s, const char *peer, struct msg *m)
{
	const struct msg_result *res = &m->u.result;
	char err[512];
	struct task t;
	PGconn *c = sched_db(s);
	int rc = db_begin(c);
	if (rc < 0) {
		sched_db_error(s, c, "result: begin", PQerrorMessage(c));
		goto out;
	}
	rc = task_load(c, sql_lock_any, res->task_id, &t, err, sizeof(err));
	if (rc < 0 && rc != -EINVAL) {
		sched_db_error(s, c, "result: load task", err);
		goto out;
	}
	if (rc <= 0) {
		log_debug("result for task %s from %s: no such task (a delete of an unknown "
			  "instance, or a malformed row): ignored",
			  res->task_id, peer);
		rc = 0;
		goto out;
	}
	rc = 0;
	if (strcmp(t.instance_id, res->resource_id) || strcmp(t.host, peer)) {
		log_warn("result for task %s (instance %s) from %s, but the task is for instance "
			 "%s on %s: ignored",
			 t.id, res->resource_id, peer, t.instance_id,
			 t.host[0] ? t.host : "no host");
		goto out;
	}
	if (strcmp(t.status, "pending") && strcmp(t.status, "dispatched")) {
		log_debug("result for task %s from %s: already %s", t.id, peer, t.status);
		goto out;
	}
	rc = task_finish(&t, c, res->ok, res->state, res->error, err, sizeof(err));
	if (rc < 0) {
		sched_db_error(s, c, "result: record", err);
		goto out;
	}
	if (db_commit(c) < 0) {
		sched_db_error(s, c, "result: commit", PQerrorMessage(c));
		rc = -EIO;
		goto out;
	}
	log_info("task %s: %s of instance %s on %s %s%s%s", t.id, t.action, t.instance_id, peer,
		 res->ok ? "done" : "failed", res->ok || !res->error ? "" : ": ",
		 res->ok || !res->error ? "" : res->error);
	s->kick = 1; /* the instance's next task may go now */
out:
	sched_db_done(s, c); /* rolls back whatever is still open */
	return rc;
}

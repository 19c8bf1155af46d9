/* The generic outbox. Each task is handled in its own transaction that locks the task
 * row (SKIP LOCKED: a row nubo-api holds is simply tried next pass); its kind locks
 * the resource row it needs. The bus message goes out before COMMIT: when it cannot
 * be sent the transaction rolls back and the task stays as it was; when COMMIT fails
 * after a send, the task is sent again later and the agent, idempotent by task id,
 * answers it once more. */
#include "tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "ctx.h"
#include "db.h"
#include "instance_tasks.h"
#include "netstate.h"
#include "volume_tasks.h"
#include "backup_tasks.h"
#include "log.h"
#include "xalloc.h"

#define OUTBOX_BATCH 64   /* pending tasks fetched per query */
#define OUTBOX_BUDGET 256 /* pending tasks examined per pass */
#define RETRY_BATCH 64    /* dispatched tasks re-sent per tick */
#define DEADLINE_BATCH 64 /* overdue tasks closed per tick */

static const struct task_kind *const kinds[MSG_RES_KIND_COUNT] = {
    [MSG_RES_INSTANCE] = &instance_tasks,     [MSG_RES_NETHOST] = &netstate_tasks,
    [MSG_RES_VOLUME] = &volume_tasks,         [MSG_RES_SNAPSHOT] = &snapshot_tasks,
    [MSG_RES_ATTACHMENT] = &attachment_tasks, [MSG_RES_BACKUP] = &backup_tasks,
};

const struct task_kind *tasks_kind(enum msg_res_kind kind)
{
	return (unsigned)kind < MSG_RES_KIND_COUNT ? kinds[kind] : NULL;
}

#define TASK_SELECT                                                                                \
	"SELECT id, action, resource_kind, resource_id, coalesce(host, ''), status, attempts,"     \
	" extract(epoch FROM now() - created_at)::bigint, coalesce(request_id, '')"                \
	" FROM tasks WHERE id = $1"
static const char sql_lock_pending[] = TASK_SELECT " AND status = 'pending' FOR UPDATE SKIP LOCKED";
static const char sql_lock_dispatched[] =
    TASK_SELECT " AND status = 'dispatched' FOR UPDATE SKIP LOCKED";
static const char sql_lock_open[] =
    TASK_SELECT " AND status IN ('pending', 'dispatched') FOR UPDATE SKIP LOCKED";
static const char sql_lock_any[] = TASK_SELECT " FOR UPDATE";

/* Copies a cell into a fixed buffer; -EINVAL when it does not fit. */
static int cell(const PGresult *r, int col, char *dst, size_t n)
{
	const char *v = db_val(r, 0, col);
	return strlcpy_checked(dst, v ? v : "", n);
}

/* Loads and locks task id with sql. Returns 1, 0 when there is no such (unlocked)
 * row, -EIO (err set) or -EINVAL (err set) for a row no agent could be sent. */
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
	rc = -EINVAL;
	int kind = msg_res_kind_parse(db_val(r, 0, 2));
	if (cell(r, 0, t->id, sizeof(t->id)) < 0 || !uuid_is_valid(t->id) ||
	    cell(r, 3, t->resource_id, sizeof(t->resource_id)) < 0 ||
	    !uuid_is_valid(t->resource_id)) {
		snprintf(err, errlen, "task or resource id is not a UUID");
		goto out;
	}
	if (kind < 0 || !tasks_kind((enum msg_res_kind)kind)) {
		snprintf(err, errlen, "unknown resource kind \"%.32s\"", db_val(r, 0, 2));
		goto out;
	}
	t->kind = (enum msg_res_kind)kind;
	if (cell(r, 1, t->action, sizeof(t->action)) < 0 ||
	    !msg_res_action_valid(t->kind, t->action)) {
		snprintf(err, errlen, "unknown action \"%.32s\"", db_val(r, 0, 1));
		goto out;
	}
	if (cell(r, 4, t->host, sizeof(t->host)) < 0) {
		snprintf(err, errlen, "host name too long");
		goto out;
	}
	cell(r, 5, t->status, sizeof(t->status));
	t->attempts = (int)db_long(r, 0, 6, 0);
	t->age_s = db_long(r, 0, 7, 0);
	if (cell(r, 8, t->request_id, sizeof(t->request_id)) < 0 ||
	    (t->request_id[0] && !request_id_is_valid(t->request_id)))
		t->request_id[0] = '\0'; /* only a trace: the task goes on without it */
	rc = 1;
out:
	PQclear(r);
	return rc;
}

int tasks_mark(PGconn *c, const char *id, const char *status, const char *error, char *err,
               size_t errlen)
{
	static const char sql[] = "UPDATE tasks SET status = $2, error = $3, updated_at = now()"
	                          " WHERE id = $1";
	const char *params[] = {id, status, error};
	return db_exec(c, sql, 3, params, err, errlen);
}

void tasks_msg_init(struct msg *m, const struct task *t)
{
	msg_task_init(m, t->id, t->action, t->kind, t->resource_id);
	memcpy(m->req, t->request_id, sizeof(m->req));
}

int tasks_send(struct sched *s, PGconn *c, const struct task *t, const char *host,
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
	log_info("task %s: %s of %s %s sent to %s (attempt %d)", t->id, t->action,
	         msg_res_kind_name(t->kind), t->resource_id, host, t->attempts + 1);
	return 0;
}

int tasks_host_gone(struct sched *s, PGconn *c, const char *host)
{
	char err[512], secs[16];
	if (agents_is_up(&s->agents, host))
		return 0;
	/* The agents table is not kept fresh while the scheduler is down: give every
	 * agent time to say hello to this scheduler before calling its host gone. */
	if (time_mono_ms() - s->started_ms < (int64_t)s->cfg->agent_timeout * 1000)
		return 0;
	snprintf(secs, sizeof(secs), "%ld", s->cfg->host_down_after);
	PGresult *r =
	    DBQ(c, err, sizeof err,
	        "SELECT coalesce(bool_and(last_seen < now() - $2::int * interval '1 second'),"
	        " true) FROM agents WHERE host = $1",
	        host, secs);
	if (!r) {
		sched_db_error(s, c, "tasks: host state", err);
		return -EIO;
	}
	int gone = !strcmp(db_val(r, 0, 0), "t");
	PQclear(r);
	return gone;
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

/* Fails a row that no kind can handle (malformed); logs it. */
static int task_fail_malformed(struct sched *s, PGconn *c, const char *id, const char *why)
{
	char err[512];
	log_warn("task %s: %s: failed", id, why);
	int rc = tasks_mark(c, id, "failed", why, err, sizeof(err));
	if (rc < 0)
		sched_db_error(s, c, "tasks: fail malformed task", err);
	return rc < 0 ? -EIO : 0;
}

enum step { STEP_DISPATCH, STEP_RESEND };

/* One task in its own transaction, locked with sql, handed to its kind's step. */
static void task_step(struct sched *s, PGconn *c, const char *sql, const char *id, enum step st)
{
	char why[512];
	struct task t;
	if (!uuid_is_valid(id)) {
		char err[512];
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
	int rc = task_load(c, sql, id, &t, why, sizeof(why));
	if (rc == -EINVAL) {
		rc = task_fail_malformed(s, c, id, why);
	} else if (rc < 0) {
		sched_db_error(s, c, "tasks: load", why);
	} else if (rc == 0) {
		rc = -EAGAIN; /* taken, locked or closed meanwhile */
	} else {
		const struct task_kind *k = tasks_kind(t.kind);
		log_set_request(t.request_id[0] ? t.request_id : NULL);
		rc = st == STEP_DISPATCH ? k->dispatch(s, c, &t) : k->resend(s, c, &t);
	}
	task_end(s, c, rc);
	log_set_request(NULL);
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
		    "  WHERE o.resource_kind = t.resource_kind AND o.resource_id = t.resource_id"
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
			task_step(s, c, sql_lock_pending, db_val(r, i, 0), STEP_DISPATCH);
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
		task_step(s, c, sql_lock_dispatched, db_val(r, i, 0), STEP_RESEND);
	PQclear(r);
out:
	sched_db_done(s, c);
}

void tasks_resend_host(struct sched *s, const char *host)
{
	char err[512];
	PGconn *c = sched_db(s);
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT id FROM tasks WHERE status = 'dispatched' AND host = $1"
	                  " ORDER BY created_at, id",
	                  host);
	if (!r) {
		sched_db_error(s, c, "tasks: list dispatched of host", err);
		goto out;
	}
	if (PQntuples(r) > 0)
		log_info("agent %s said hello: sending its %d unanswered tasks again", host,
		         PQntuples(r));
	for (int i = 0; i < PQntuples(r); i++)
		task_step(s, c, sql_lock_dispatched, db_val(r, i, 0), STEP_RESEND);
	PQclear(r);
out:
	sched_db_done(s, c);
}

/* One overdue task in its own transaction. */
static void task_overdue(struct sched *s, PGconn *c, const char *id)
{
	char why[512];
	struct task t;
	if (db_begin(c) < 0) {
		sched_db_error(s, c, "tasks: begin", PQerrorMessage(c));
		return;
	}
	int rc = task_load(c, sql_lock_open, id, &t, why, sizeof(why));
	if (rc == -EINVAL) {
		rc = task_fail_malformed(s, c, id, why);
	} else if (rc < 0) {
		sched_db_error(s, c, "tasks: load", why);
	} else if (rc == 0) {
		rc = -EAGAIN;
	} else {
		log_set_request(t.request_id[0] ? t.request_id : NULL);
		snprintf(why, sizeof(why), "%s of %s %s %s%s timed out after %ld s", t.action,
		         msg_res_kind_name(t.kind), t.resource_id, t.host[0] ? "on host " : "",
		         t.host[0] ? t.host : "before it reached a host", t.age_s);
		log_warn("task %s: %s", t.id, why);
		rc = tasks_kind(t.kind)->on_deadline(s, c, &t, why);
		if (rc == 0)
			s->kick = 1;
	}
	task_end(s, c, rc);
	log_set_request(NULL);
}

void tasks_deadlines(struct sched *s)
{
	char err[512], spawn[16], other[16], batch[16], image[16];
	snprintf(spawn, sizeof(spawn), "%ld", s->cfg->spawn_deadline);
	snprintf(other, sizeof(other), "%ld", s->cfg->task_deadline);
	snprintf(image, sizeof(image), "%ld", s->cfg->image_task_deadline);
	snprintf(batch, sizeof(batch), "%d", DEADLINE_BATCH);
	PGconn *c = sched_db(s);
	if (DBX(c, err, sizeof err,
	        "UPDATE tasks SET deadline = created_at + CASE WHEN action = 'spawn' THEN $1::int"
	        " WHEN action IN ($4, $5) THEN $3::int"
	        " ELSE $2::int END * interval '1 second'"
	        " WHERE deadline IS NULL AND status IN ('pending', 'dispatched')",
	        spawn, other, image, TASK_SNAPSHOT, TASK_UPLOAD) < 0) {
		sched_db_error(s, c, "tasks: stamp deadlines", err);
		goto out;
	}
	/* Deadlines that passed while this scheduler was down wait until its agents had
	 * time to say hello and answer what was re-sent to them. */
	if (time_mono_ms() - s->started_ms < (int64_t)s->cfg->agent_timeout * 1000)
		goto out;
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT id FROM tasks WHERE status IN ('pending', 'dispatched')"
	                  " AND deadline < now() ORDER BY deadline LIMIT $1::int",
	                  batch);
	if (!r) {
		sched_db_error(s, c, "tasks: list overdue", err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++)
		task_overdue(s, c, db_val(r, i, 0));
	PQclear(r);
out:
	sched_db_done(s, c);
}

/* Tells peer its result of task_id is recorded (or never will be). */
static void task_ack(struct sched *s, const char *peer, const char *task_id)
{
	struct msg a;
	msg_ack_init(&a, task_id);
	int rc = bus_send(s->router, peer, &a);
	if (rc < 0)
		log_debug("ack of task %s to %s: %s", task_id, peer, strerror(-rc));
	msg_release(&a);
}

int tasks_on_result(struct sched *s, const char *peer, struct msg *m)
{
	const struct msg_result *res = &m->u.result;
	char err[512];
	struct task t;
	PGconn *c = sched_db(s);
	log_set_request(m->req[0] ? m->req : NULL);
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
		          "resource, or a malformed row): ignored",
		          res->task_id, peer);
		rc = 0;
		goto ack;
	}
	rc = 0;
	if (t.kind != res->resource_kind || strcmp(t.resource_id, res->resource_id) ||
	    strcmp(t.host, peer)) {
		log_warn("result for task %s (%s %s) from %s, but the task is for %s %s on %s: "
		         "ignored",
		         t.id, msg_res_kind_name(res->resource_kind), res->resource_id, peer,
		         msg_res_kind_name(t.kind), t.resource_id, t.host[0] ? t.host : "no host");
		goto ack;
	}
	if (strcmp(t.status, "pending") && strcmp(t.status, "dispatched")) {
		log_debug("result for task %s from %s: already %s", t.id, peer, t.status);
		goto ack;
	}
	rc = tasks_kind(t.kind)->on_result(s, c, &t, res);
	if (rc < 0)
		goto out;
	if (db_commit(c) < 0) {
		sched_db_error(s, c, "result: commit", PQerrorMessage(c));
		rc = -EIO;
		goto out;
	}
	log_info("task %s: %s of %s %s on %s %s%s%s", t.id, t.action, msg_res_kind_name(t.kind),
	         t.resource_id, peer, res->ok ? "done" : "failed",
	         res->ok || !res->error ? "" : ": ", res->ok || !res->error ? "" : res->error);
	s->kick = 1; /* the resource's next task may go now */
ack:
	task_ack(s, peer, res->task_id);
out:
	sched_db_done(s, c); /* rolls back whatever is still open */
	log_set_request(NULL);
	return rc;
}

int tasks_on_event(struct sched *s, const char *peer, struct msg *m)
{
	const struct task_kind *k = tasks_kind(m->u.event.resource_kind);
	if (!k) {
		log_warn("event from %s for a resource kind this scheduler does not run: ignored",
		         peer);
		return -EINVAL;
	}
	return k->on_event(s, peer, &m->u.event);
}

void tasks_reconcile_host(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
	for (int i = 0; i < MSG_RES_KIND_COUNT; i++)
		if (kinds[i] && msg_res_kind_agent((enum msg_res_kind)i) == h->agent_kind)
			kinds[i]->reconcile(s, c, host, h);
}

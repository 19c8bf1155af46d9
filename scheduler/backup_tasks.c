/* Volume backup tasks: the backup row is locked beside the task; a result, a deadline
 * or a host that is gone moves it (and a restore's target volume). A create of a volume
 * a server of the same machine has plugged is one task in two hops (backup_tasks.h). */
#include "backup_tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "ctx.h"
#include "db.h"
#include "log.h"
#include "reconcile.h"
#include "volume_tasks.h"
#include "xalloc.h"

#define COPY_DROP_QUIET_MS 10000 /* a drop of one leftover copy goes at most this often */

/* The row of a backup task, locked, with what its task needs. */
struct brow {
	char status[32];
	char volume_id[UUID_STR_LEN], parent_id[UUID_STR_LEN], restore_id[UUID_STR_LEN];
	char snapshot_id[UUID_STR_LEN];
	char data_id[UUID_STR_LEN]; /* an imported record's objects ("": its own) */
	char container[MSG_HOST_MAX];
	char vol_host[MSG_HOST_MAX];     /* the backed-up volume's storage host */
	char restore_host[MSG_HOST_MAX]; /* the restore target's ("" unplaced) */
	int restore_size_gb;
	/* the server Compute has plugged the volume into ("" none) and its compute host */
	char instance_id[UUID_STR_LEN];
	char instance_host[MSG_HOST_MAX];
	/* a create's first hop (the task's payload): the server whose compute host was sent
	 * the point-in-time copy ("" none), and whether the copy is made */
	char copy_instance[UUID_STR_LEN];
	int copied;
};

/* Loads and locks the row of t. 1, 0 when there is none, -EIO. */
static int brow_load(struct sched *s, PGconn *c, const struct task *t, struct brow *b)
{
	char err[512];
	memset(b, 0, sizeof(*b));
	PGresult *r =
	    DBQ(c, err, sizeof err,
	        "SELECT b.status, b.volume_id, coalesce(b.parent_id, ''),"
	        " coalesce(b.restore_volume_id, ''), b.container, coalesce(v.host, ''),"
	        " coalesce(rv.host, ''), coalesce(rv.size_gb, 0), coalesce(b.snapshot_id, ''),"
	        " coalesce(b.data_id, ''),"
	        " CASE WHEN v.attach_compute AND NOT i.deleted THEN i.id::text ELSE '' END,"
	        " coalesce(i.host, ''),"
	        " coalesce((SELECT payload->>'copy_instance' FROM tasks WHERE id = $2), ''),"
	        " coalesce((SELECT payload->>'copied' FROM tasks WHERE id = $2), 'false')"
	        " FROM volume_backups b LEFT JOIN volumes v ON v.id = b.volume_id"
	        " LEFT JOIN volumes rv ON rv.id = b.restore_volume_id"
	        " LEFT JOIN instances i ON i.id = v.attached_server"
	        " WHERE b.id = $1 FOR UPDATE OF b",
	        t->resource_id, t->id);
	if (!r) {
		sched_db_error(s, c, "backup tasks: load", err);
		return -EIO;
	}
	int n = PQntuples(r);
	if (n == 1) {
		snprintf(b->status, sizeof(b->status), "%s", db_val(r, 0, 0));
		snprintf(b->volume_id, sizeof(b->volume_id), "%s", db_val(r, 0, 1));
		snprintf(b->parent_id, sizeof(b->parent_id), "%s", db_val(r, 0, 2));
		snprintf(b->restore_id, sizeof(b->restore_id), "%s", db_val(r, 0, 3));
		snprintf(b->container, sizeof(b->container), "%s", db_val(r, 0, 4));
		snprintf(b->vol_host, sizeof(b->vol_host), "%s", db_val(r, 0, 5));
		snprintf(b->restore_host, sizeof(b->restore_host), "%s", db_val(r, 0, 6));
		b->restore_size_gb = (int)db_long(r, 0, 7, 0);
		snprintf(b->snapshot_id, sizeof(b->snapshot_id), "%s", db_val(r, 0, 8));
		snprintf(b->data_id, sizeof(b->data_id), "%s", db_val(r, 0, 9));
		snprintf(b->instance_id, sizeof(b->instance_id), "%s", db_val(r, 0, 10));
		snprintf(b->instance_host, sizeof(b->instance_host), "%s",
		         b->instance_id[0] ? db_val(r, 0, 11) : "");
		snprintf(b->copy_instance, sizeof(b->copy_instance), "%s", db_val(r, 0, 12));
		b->copied = !strcmp(db_val(r, 0, 13), "true");
	}
	PQclear(r);
	return n == 1;
}

static int is(const struct task *t, const char *action)
{
	return !strcmp(t->action, action);
}

/* Closes t and moves its row (and a restore's volume): status, or the row removed when
 * status is NULL. count > 0 is the object count the agent reported. */
/* The token minted for task id is needed no more: revoked (by its hash, as nubo-api
 * keeps tokens) and out of the task's payload, whatever became of the backup's row
 * (review s8 H2: it stayed valid for hours, and in the row when the backup was gone).
 * >= 0, or -1 with err. */
static int bk_token_drop(PGconn *c, const char *task_id, char *err, size_t errlen)
{
	return DBX(c, err, errlen,
	           "WITH old AS (SELECT payload->>'token' AS tok FROM tasks WHERE id = $1),"
	           " gone AS (UPDATE tokens SET revoked = true WHERE hash IN (SELECT"
	           " encode(sha256(convert_to(tok, 'UTF8')), 'hex') FROM old WHERE tok IS NOT"
	           " NULL) RETURNING 1)"
	           " UPDATE tasks SET payload = payload - 'token' WHERE id = $1 AND payload ?"
	           " 'token'",
	           task_id);
}

static int brow_close(struct sched *s, PGconn *c, const struct task *t, const struct brow *b,
                      int ok, const char *status, const char *fault, int count)
{
	char err[512], cnt[16];
	snprintf(cnt, sizeof(cnt), "%d", count);
	int rc = 0;
	if (!status)
		rc = DBX(c, err, sizeof err, "DELETE FROM volume_backups WHERE id = $1",
		         t->resource_id);
	else
		rc =
		    DBX(c, err, sizeof err,
		        "UPDATE volume_backups SET status = $2, fail_reason = CASE WHEN $3::text IS"
		        " NULL THEN fail_reason ELSE $3 END, object_count = CASE WHEN $4::int > 0"
		        " THEN $4::int ELSE object_count END, restore_volume_id = NULL,"
		        " updated_at = now() WHERE id = $1",
		        t->resource_id, status, ok ? NULL : fault, cnt);
	if (rc >= 0 && is(t, TASK_RESTORE) && b->restore_id[0])
		rc = DBX(c, err, sizeof err,
		         "UPDATE volumes SET status = $2, fault = coalesce($3, fault),"
		         " updated_at = now() WHERE id = $1 AND status = 'restoring-backup'",
		         b->restore_id, ok ? "available" : "error_restoring", ok ? NULL : fault);
	if (rc >= 0)
		rc = bk_token_drop(c, t->id, err, sizeof(err));
	if (rc < 0 || tasks_mark(c, t->id, ok ? "done" : "failed", fault, err, sizeof(err)) < 0) {
		sched_db_error(s, c, "backup tasks: close", err);
		return -EIO;
	}
	log_info("task %s: %s backup %s: %s%s%s", t->id, t->action, t->resource_id,
	         status ? status : "removed", fault ? ": " : "", fault ? fault : "");
	return 0;
}

/* What an action's failure leaves, as Cinder names it. */
static const char *fail_status(const struct task *t)
{
	if (is(t, TASK_DELETE))
		return "error_deleting";
	if (is(t, TASK_RESTORE)) /* Cinder: the backup is as it was */
		return "available";
	return "error";
}

/* Where t runs ("" when nowhere yet); a restore's unplaced volume is placed here. */
static int brow_host(struct sched *s, PGconn *c, const struct task *t, struct brow *b, char *host,
                     size_t n)
{
	char err[512];
	host[0] = '\0';
	if (is(t, TASK_CREATE)) {
		snprintf(host, n, "%s", b->vol_host);
	} else if (is(t, TASK_DELETE)) {
		if (volume_place(s, 0, host, n) < 0)
			host[0] = '\0';
	} else if (b->restore_host[0]) {
		snprintf(host, n, "%s", b->restore_host);
	} else if (b->restore_id[0] && volume_place(s, b->restore_size_gb, host, n) == 0) {
		if (volume_placed(s, c, b->restore_id, host, err, sizeof(err)) < 0) {
			sched_db_error(s, c, "backup tasks: place", err);
			return -EIO;
		}
		snprintf(b->restore_host, sizeof(b->restore_host), "%s", host);
		log_info("volume %s (%d GB, restore of backup %s) placed on %s", b->restore_id,
		         b->restore_size_gb, t->resource_id, host);
	}
	return 0;
}

/* Fills m's payload from b and the task row's payload (token, swift_url, force). */
static int brow_payload(struct sched *s, PGconn *c, const struct task *t, const struct brow *b,
                        struct msg *m, char *err, size_t errlen)
{
	struct msg_backup *p = &m->u.task.p.backup;
	PGresult *r = DBQ(c, err, errlen,
	                  "SELECT coalesce(payload->>'token', ''), coalesce(payload->>'swift_url',"
	                  " ''), coalesce(payload->>'force', 'false') FROM tasks WHERE id = $1",
	                  t->id);
	if (!r)
		return -EIO;
	int rc = -EINVAL;
	if (PQntuples(r) == 1 && db_val(r, 0, 0)[0] && db_val(r, 0, 1)[0]) {
		p->token = xstrdup(db_val(r, 0, 0));
		p->swift_url = xstrdup(db_val(r, 0, 1));
		p->force = !strcmp(db_val(r, 0, 2), "true");
		rc = 0;
	} else {
		snprintf(err, errlen, "%s task %s carries no object store credentials", t->action,
		         t->id);
	}
	PQclear(r);
	snprintf(p->volume_id, sizeof(p->volume_id), "%s",
	         is(t, TASK_RESTORE) ? b->restore_id : b->volume_id);
	snprintf(p->parent_id, sizeof(p->parent_id), "%s", b->parent_id);
	if (is(t, TASK_CREATE))
		snprintf(p->snapshot_id, sizeof(p->snapshot_id), "%s", b->snapshot_id);
	else
		snprintf(p->data_id, sizeof(p->data_id), "%s", b->data_id);
	snprintf(p->container, sizeof(p->container), "%s", b->container);
	p->size_gb = b->restore_size_gb;
	p->copied = is(t, TASK_CREATE) && b->copied;
	return rc;
}

int backup_copy_first(const char *snapshot_id, const char *instance_id, const char *instance_host,
                      const char *storage_host)
{
	/* a server with no compute host has no QEMU writing the volume: read it directly */
	return !snapshot_id[0] && instance_host[0] &&
	       volume_copy_on_compute(instance_id, instance_host, storage_host);
}

/* 1 when create t is in its first hop: the point-in-time copy is to be made (or is being
 * made) on the plugging server's compute host. */
static int bk_in_copy_hop(const struct task *t, const struct brow *b)
{
	return is(t, TASK_CREATE) && !b->copied &&
	       (b->copy_instance[0] ||
	        backup_copy_first(b->snapshot_id, b->instance_id, b->instance_host, b->vol_host));
}

/* Sends the first hop of create t: the copy, to the compute host of the server the volume
 * is plugged into, which gets the volume, the server and the storage host, and no
 * credentials. The server is kept in the task's payload at the first send, so a re-send
 * names the one the first went to. */
static int bk_copy_send(struct sched *s, PGconn *c, const struct task *t, struct brow *b)
{
	struct msg m;
	char err[512];
	const char *host = b->copy_instance[0] && t->host[0] ? t->host : b->instance_host;
	if (!host[0])
		return brow_close(s, c, t, b, 0, fail_status(t),
		                  "the server the volume is attached to has no compute host", 0);
	if (!agents_is_up(&s->agents, host))
		return -EAGAIN;
	if (!b->copy_instance[0]) {
		if (DBX(c, err, sizeof err,
		        "UPDATE tasks SET payload = coalesce(payload, '{}'::jsonb) ||"
		        " jsonb_build_object('copy_instance', $2::text) WHERE id = $1",
		        t->id, b->instance_id) < 0) {
			sched_db_error(s, c, "backup tasks: copy", err);
			return -EIO;
		}
		snprintf(b->copy_instance, sizeof(b->copy_instance), "%s", b->instance_id);
	}
	tasks_msg_init(&m, t);
	snprintf(m.u.task.action, sizeof(m.u.task.action), "%s", TASK_BACKUP_COPY);
	struct msg_snap_create *p = &m.u.task.p.snap_create;
	snprintf(p->volume_id, sizeof(p->volume_id), "%s", b->volume_id);
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", b->copy_instance);
	snprintf(p->storage_host, sizeof(p->storage_host), "%s", b->vol_host);
	int rc = tasks_send(s, c, t, host, &m);
	msg_release(&m);
	return rc;
}

/* The compute host answered create t's first hop: on success the task goes back to
 * pending for its second, to the storage host (which reads the copy). */
static int bk_copied(struct sched *s, PGconn *c, const struct task *t, const struct brow *b,
                     const struct msg_result *r)
{
	char err[512], why[1024];
	if (!r->ok) {
		snprintf(why, sizeof(why), "the point-in-time copy of volume %s failed: %s",
		         b->volume_id, r->error ? r->error : "no reason given");
		return brow_close(s, c, t, b, 0, fail_status(t), why, 0);
	}
	/* the copy paused the server the volume was plugged into at the first send: a volume
	 * unplugged from it meanwhile (and perhaps plugged into another that wrote it during
	 * the copy) has no point-in-time copy (review s12 M1) */
	if (strcmp(b->instance_id, b->copy_instance)) {
		snprintf(why, sizeof(why),
		         "volume %s was detached from server %s during the backup's copy: back it "
		         "up again",
		         b->volume_id, b->copy_instance);
		return brow_close(s, c, t, b, 0, fail_status(t), why, 0);
	}
	if (DBX(c, err, sizeof err,
	        /* no host until the second hop is sent: a copy result the compute host sends
	         * again (an ack lost on a reconnect) is then no longer the task's answer */
	        "UPDATE tasks SET status = 'pending', host = NULL,"
	        " payload = coalesce(payload, '{}'::jsonb) ||"
	        " jsonb_build_object('copied', true), updated_at = now() WHERE id = $1",
	        t->id) < 0) {
		sched_db_error(s, c, "backup tasks: copied", err);
		return -EIO;
	}
	log_info("task %s: backup %s: volume %s copied on %s; on to %s", t->id, t->resource_id,
	         b->volume_id, t->host, b->vol_host);
	return 0;
}

static int bk_send(struct sched *s, PGconn *c, const struct task *t, int resend)
{
	struct brow b;
	struct msg m;
	char err[512], host[MSG_HOST_MAX];
	int rc = brow_load(s, c, t, &b);
	if (rc < 0)
		return rc;
	if (rc == 0) { /* the row is gone: a delete has nothing left to do */
		int del = is(t, TASK_DELETE);
		return bk_token_drop(c, t->id, err, sizeof(err)) < 0 ||
		               tasks_mark(c, t->id, del ? "done" : "failed",
		                          del ? NULL : "it was deleted", err, sizeof(err)) < 0
		           ? -EIO
		           : 0;
	}
	if (bk_in_copy_hop(t, &b))
		return bk_copy_send(s, c, t, &b);
	if (resend && t->host[0])
		snprintf(host, sizeof(host), "%s", t->host);
	else if ((rc = brow_host(s, c, t, &b, host, sizeof(host))) < 0)
		return rc;
	if (!host[0]) {
		if (is(t, TASK_CREATE) || sched_placement_on_hold(s))
			return b.vol_host[0] || !is(t, TASK_CREATE)
			           ? -EAGAIN
			           : brow_close(s, c, t, &b, 0, fail_status(t),
			                        "the volume has no storage host", 0);
		return -EAGAIN; /* no storage host up: the deadline ends the wait */
	}
	if (!agents_is_up(&s->agents, host))
		return -EAGAIN;
	tasks_msg_init(&m, t);
	if (brow_payload(s, c, t, &b, &m, err, sizeof(err)) < 0) {
		msg_release(&m);
		return brow_close(s, c, t, &b, 0, fail_status(t), err, 0);
	}
	rc = tasks_send(s, c, t, host, &m);
	msg_release(&m);
	return rc;
}

static int bk_dispatch(struct sched *s, PGconn *c, const struct task *t)
{
	return bk_send(s, c, t, 0);
}

static int bk_resend(struct sched *s, PGconn *c, const struct task *t)
{
	return bk_send(s, c, t, 1);
}

static int bk_on_result(struct sched *s, PGconn *c, const struct task *t,
                        const struct msg_result *r)
{
	struct brow b;
	char err[512];
	int rc = brow_load(s, c, t, &b);
	if (rc <= 0)
		return rc < 0 ? rc
		              : (bk_token_drop(c, t->id, err, sizeof(err)) < 0 ||
		                         tasks_mark(c, t->id, r->ok ? "done" : "failed", r->error,
		                                    err, sizeof(err)) < 0
		                     ? -EIO
		                     : 0);
	if (is(t, TASK_CREATE) && b.copy_instance[0] && !b.copied)
		return bk_copied(s, c, t, &b, r);
	if (!r->ok)
		return brow_close(s, c, t, &b, 0, fail_status(t), r->error ? r->error : "failed",
		                  0);
	if (is(t, TASK_DELETE))
		return brow_close(s, c, t, &b, 1, NULL, NULL, 0);
	return brow_close(s, c, t, &b, 1, "available", NULL, r->count);
}

static int bk_on_deadline(struct sched *s, PGconn *c, const struct task *t, const char *why)
{
	struct brow b;
	char err[512];
	int rc = brow_load(s, c, t, &b);
	if (rc <= 0)
		return rc < 0 ? rc
		              : (bk_token_drop(c, t->id, err, sizeof(err)) < 0 ||
		                         tasks_mark(c, t->id, "failed", why, err, sizeof(err)) < 0
		                     ? -EIO
		                     : 0);
	return brow_close(s, c, t, &b, 0, fail_status(t), why, 0);
}

static int bk_on_event(struct sched *s, const char *host, const struct msg_event *e)
{
	return 0; /* backups change only through tasks */
}

/* Tells storage host host to remove the point-in-time copy of backup_id: a task with no
 * row (its result is acknowledged and dropped), repeated by the heartbeat while the copy
 * is still listed. */
static void copy_drop_send(struct sched *s, const char *host, const char *backup_id)
{
	struct msg m;
	char task_id[UUID_STR_LEN];
	if (!orphan_memo_claim(&s->orphans, host, backup_id, time_mono_ms(), COPY_DROP_QUIET_MS))
		return;
	uuid_generate_str(task_id);
	msg_task_init(&m, task_id, TASK_BACKUP_DROP, MSG_RES_BACKUP, backup_id);
	int rc = bus_send(s->router, host, &m);
	if (rc < 0)
		log_warn("point-in-time copy for backup %s on %s: sending its drop failed: %s",
		         backup_id, host, strerror(-rc));
	else
		log_info("point-in-time copy for backup %s on %s: no task reads it: drop sent "
		         "(task %s)",
		         backup_id, host, task_id);
	msg_release(&m);
}

/* A storage host lists the point-in-time copies in its pool (resources of kind backup):
 * one whose backup has no open task is left over (the task ended on a failure, a
 * deadline or a delete while or after the copy was made, or an agent died with it) and
 * goes. So nothing of a backup's copy outlives its task, whatever restarted when. */
static void bk_reconcile(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
	char err[512];
	for (int i = 0; i < h->n_resources; i++) {
		const struct msg_resource *e = &h->resources[i];
		if (e->kind != MSG_RES_BACKUP)
			continue;
		int n =
		    DBX(c, err, sizeof err,
		        "SELECT 1 FROM tasks WHERE resource_kind = 'backup' AND resource_id = $1"
		        " AND status IN ('pending', 'dispatched')",
		        e->id);
		if (n < 0) {
			sched_db_error(s, c, "backup tasks: copies", err);
			return;
		}
		if (n == 0)
			copy_drop_send(s, host, e->id);
	}
}

const struct task_kind backup_tasks = {
    .kind = MSG_RES_BACKUP,
    .dispatch = bk_dispatch,
    .resend = bk_resend,
    .on_result = bk_on_result,
    .on_deadline = bk_on_deadline,
    .on_event = bk_on_event,
    .reconcile = bk_reconcile,
};

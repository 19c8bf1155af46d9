/* Reconciliation of a host's report against the database. The host is the truth for
 * power states; the database is the truth for which instances should exist. An
 * instance with an open task is left to that task's result, and one whose task
 * closed moments ago is left alone too: a report composed before the task finished
 * may arrive after its result. */
#include "reconcile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "db.h"
#include "instance.h"
#include "log.h"
#include "ctx.h"
#include "outbox.h"
#include "xalloc.h"

#define RECONCILE_MAX_ROWS 4096 /* instances of one host examined per report */

int orphan_memo_claim(struct orphan_memo *m, const char *host, const char *id, int64_t now_ms,
                      int64_t quiet_ms)
{
	for (int i = 0; i < ORPHAN_MEMO_MAX; i++) {
		if (strcmp(m->e[i].host, host) || strcmp(m->e[i].id, id))
			continue;
		if (now_ms - m->e[i].sent_ms < quiet_ms)
			return 0;
		m->e[i].sent_ms = now_ms;
		return 1;
	}
	int i = m->next;
	m->next = (m->next + 1) % ORPHAN_MEMO_MAX;
	snprintf(m->e[i].host, sizeof(m->e[i].host), "%s", host);
	snprintf(m->e[i].id, sizeof(m->e[i].id), "%s", id);
	m->e[i].sent_ms = now_ms;
	return 1;
}

void reconcile_fault_text(enum vmstate_fault fault, const char *host, const char *reason, char *out,
                          size_t outlen)
{
	const char *what = fault == VMSTATE_FAULT_CRASHED ? "instance failed on host"
	                                                  : "instance vanished from host";
	snprintf(out, outlen, "%s %s%s%s", what, host, reason && *reason ? ": " : "",
	         reason && *reason ? reason : "");
}

static int vm_cmp(const void *a, const void *b)
{
	return strcmp(((const struct msg_resource *)a)->id, ((const struct msg_resource *)b)->id);
}

/* Moves instance id from cur to what the host reports; logs the change. */
static void reconcile_apply(struct sched *s, PGconn *c, const char *host, const char *id,
                            const struct vmstate *cur, const char *reported, const char *reason)
{
	struct vmstate next;
	enum vmstate_fault fault;
	char err[512], text[1024];
	if (!vmstate_reconcile(cur, reported, &next, &fault))
		return;
	if (fault != VMSTATE_FAULT_NONE)
		reconcile_fault_text(fault, host, reason, text, sizeof(text));
	if (instance_set_state(c, id, &next, 0, fault != VMSTATE_FAULT_NONE ? text : NULL, err,
	                       sizeof(err)) < 0) {
		sched_db_error(s, c, "reconcile: update instance", err);
		return;
	}
	log_info("instance %s on %s: %s/%d -> %s/%d (host reports %s)", id, host, cur->status,
	         cur->power, next.status, next.power, reported ? reported : "nothing");
}

/* Step 1: every settled instance the database places on host. */
static void reconcile_expected(struct sched *s, PGconn *c, const char *host,
                               const struct msg_resource *vms, int n_vms, const char *settle)
{
	char err[512], limit[16];
	snprintf(limit, sizeof(limit), "%d", RECONCILE_MAX_ROWS);
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT i.id, i.status, i.vm_state, i.power_state FROM instances i"
	                  " WHERE i.host = $1 AND NOT i.deleted"
	                  " AND NOT EXISTS (SELECT 1 FROM tasks t"
	                  "  WHERE t.resource_kind = 'instance' AND t.resource_id = i.id AND "
	                  "(t.status IN ('pending', 'dispatched')"
	                  "  OR t.updated_at > now() - $2::int * interval '1 second'))"
	                  " ORDER BY i.id LIMIT $3::int",
	                  host, settle, limit);
	if (!r) {
		sched_db_error(s, c, "reconcile: list instances", err);
		return;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct msg_resource key;
		const char *id = db_val(r, i, 0);
		if (strlcpy_checked(key.id, id, sizeof(key.id)) < 0)
			continue; /* not an id any agent can report */
		const struct msg_resource *vm =
		    bsearch(&key, vms, (size_t)n_vms, sizeof(*vms), vm_cmp);
		struct vmstate cur = {db_val(r, i, 1), db_val(r, i, 2), (int)db_long(r, i, 3, 0)};
		reconcile_apply(s, c, host, id, &cur, vm ? vm->state : NULL, NULL);
	}
	PQclear(r);
}

/* A delete for an instance the database never had: no task row can reference it. */
static void reconcile_send_delete(struct sched *s, const char *host, const char *id)
{
	struct msg t;
	char task_id[UUID_STR_LEN];
	if (!orphan_memo_claim(&s->orphans, host, id, time_mono_ms(),
	                       (int64_t)s->cfg->task_retry * 1000))
		return;
	uuid_generate_str(task_id);
	msg_task_init(&t, task_id, TASK_DELETE, MSG_RES_INSTANCE, id);
	int rc = bus_send(s->router, host, &t);
	if (rc < 0)
		log_warn("instance %s on %s is unknown; sending delete failed: %s", id, host,
		         strerror(-rc));
	else
		log_info("instance %s on %s is unknown: sent delete task %s", id, host,
		         t.u.task.task_id);
	msg_release(&t);
}

/* Step 2: instances the host runs that should not run there. */
static void reconcile_unexpected(struct sched *s, PGconn *c, const char *host,
                                 const struct msg_resource *vms, int n_vms, const char *settle)
{
	char err[512];
	PGresult *r = NULL;
	char *seen = xcalloc((size_t)n_vms, 1);
	/* The ids are validated UUIDs, so a plain array literal is safe to build. */
	char *list = xmalloc((size_t)n_vms * UUID_STR_LEN + 3);
	size_t pos = 0;
	list[pos++] = '{';
	for (int i = 0; i < n_vms; i++) {
		if (!strcmp(vms[i].state, VM_DELETED)) {
			seen[i] = 1; /* not running: nothing to undo */
			continue;
		}
		if (pos > 1)
			list[pos++] = ',';
		memcpy(list + pos, vms[i].id, strlen(vms[i].id));
		pos += strlen(vms[i].id);
	}
	list[pos++] = '}';
	list[pos] = '\0';
	if (pos == 2)
		goto out;
	r = DBQ(c, err, sizeof err,
	        "SELECT i.id, i.host, i.deleted, EXISTS (SELECT 1 FROM tasks t"
	        "  WHERE t.resource_kind = 'instance' AND t.resource_id = i.id AND (t.host IS NULL "
	        "OR t.host = $2)"
	        "  AND (t.status IN ('pending', 'dispatched')"
	        "  OR t.updated_at > now() - $3::int * interval '1 second'))"
	        " FROM instances i WHERE i.id = ANY($1::text[])",
	        list, host, settle);
	if (!r) {
		sched_db_error(s, c, "reconcile: look up reported instances", err);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		struct msg_resource key;
		const char *id = db_val(r, i, 0), *where = db_val(r, i, 1);
		int deleted = !strcmp(db_val(r, i, 2), "t"), busy = !strcmp(db_val(r, i, 3), "t");
		if (strlcpy_checked(key.id, id, sizeof(key.id)) < 0)
			continue;
		const struct msg_resource *vm =
		    bsearch(&key, vms, (size_t)n_vms, sizeof(*vms), vm_cmp);
		if (!vm)
			continue; /* cannot happen: = ANY matches exactly */
		seen[vm - vms] = 1;
		if (busy || (!deleted && where && !strcmp(where, host)))
			continue;
		char task_id[UUID_STR_LEN];
		const struct outbox_task del = {MSG_RES_INSTANCE, id, TASK_DELETE, host, NULL};
		if (outbox_insert(c, &del, task_id, err, sizeof(err)) < 0) {
			sched_db_error(s, c, "reconcile: queue delete", err);
			continue;
		}
		s->kick = 1;
		log_info("instance %s runs on %s but %s: queued delete task %s", id, host,
		         deleted ? "is deleted" : "belongs elsewhere", task_id);
	}
	for (int i = 0; i < n_vms; i++)
		if (!seen[i])
			reconcile_send_delete(s, host, vms[i].id);
out:
	PQclear(r);
	free(list);
	free(seen);
}

void reconcile_host(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
	char settle[16];
	snprintf(settle, sizeof(settle), "%ld", settings_reconcile_settle_s(s->cfg));
	struct msg_resource *vms = xcalloc((size_t)h->n_resources + 1, sizeof(*vms));
	int n = 0;
	for (int i = 0; i < h->n_resources; i++) /* this host's instances only */
		if (h->resources[i].kind == MSG_RES_INSTANCE)
			vms[n++] = h->resources[i];
	qsort(vms, (size_t)n, sizeof(*vms), vm_cmp);
	reconcile_expected(s, c, host, vms, n, settle);
	reconcile_unexpected(s, c, host, vms, n, settle);
	free(vms);
}

int reconcile_on_event(struct sched *s, const char *peer, const struct msg_event *e)
{
	char err[512];
	int rc = 0;
	PGconn *c = sched_db(s);
	PGresult *r = DBQ(
	    c, err, sizeof err,
	    "SELECT i.status, i.vm_state, i.power_state FROM instances i"
	    " WHERE i.id = $1 AND i.host = $2 AND NOT i.deleted AND NOT EXISTS"
	    " (SELECT 1 FROM tasks t WHERE t.resource_kind = 'instance' AND t.resource_id = i.id"
	    "  AND t.status IN ('pending', 'dispatched'))",
	    e->resource_id, peer);
	if (!r) {
		sched_db_error(s, c, "event: look up instance", err);
		rc = -EIO;
		goto out;
	}
	log_info("instance %s on %s: event %s%s%s", e->resource_id, peer, e->state,
	         e->reason ? ": " : "", e->reason ? e->reason : "");
	if (PQntuples(r) == 1) {
		struct vmstate cur = {db_val(r, 0, 0), db_val(r, 0, 1), (int)db_long(r, 0, 2, 0)};
		reconcile_apply(s, c, peer, e->resource_id, &cur, e->state, e->reason);
	} else {
		log_debug("event for %s from %s: not its instance, or a task is open: ignored",
		          e->resource_id, peer);
	}
	PQclear(r);
out:
	sched_db_done(s, c);
	return rc;
}

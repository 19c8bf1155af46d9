/* Volume and snapshot tasks: the row is locked beside the task; a result, a deadline or
 * a host that is gone moves it. */
#include "volume_tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "ctx.h"
#include "db.h"
#include "agents.h"
#include "image_tasks.h"
#include "instance_tasks.h"
#include "log.h"
#include "placement.h"
#include "xalloc.h"

/* The row of a volume or snapshot task, locked. */
struct vrow {
	char host[MSG_HOST_MAX];
	char status[32];
	int size_gb, new_size_gb;
	char source[16];
	char source_id[UUID_STR_LEN];
	char volume_id[UUID_STR_LEN]; /* snapshots: their volume */
	char image_format[16], image_checksum[64];
	char image_hash[MSG_IMAGE_HASH_MAX + 1]; /* sha512 hex: the image cache's key */
	/* snapshots of a volume Compute has plugged, and volumes copied from one: the server
	 * and its compute host, where the copy is made with the guest paused ("" otherwise) */
	char instance_id[UUID_STR_LEN];
	char instance_host[MSG_HOST_MAX];
};

static int is_snap(const struct task *t)
{
	return t->kind == MSG_RES_SNAPSHOT;
}

static const char *table(const struct task *t)
{
	return is_snap(t) ? "volume_snapshots" : "volumes";
}

/* Loads and locks the row of t. 1, 0 when there is none, -EIO. */
static int vrow_load(struct sched *s, PGconn *c, const struct task *t, struct vrow *v)
{
	char err[512];
	memset(v, 0, sizeof(*v));
	PGresult *r;
	if (is_snap(t))
		r = DBQ(c, err, sizeof err,
		        "SELECT coalesce(sn.host, v.host, ''), sn.status, sn.size_gb, 0, '', '',"
		        " sn.volume_id, '', '', CASE WHEN v.attach_compute AND NOT i.deleted"
		        " THEN i.id::text ELSE '' END, coalesce(i.host, ''), ''"
		        " FROM volume_snapshots sn JOIN volumes v ON v.id = sn.volume_id"
		        " LEFT JOIN instances i ON i.id = v.attached_server"
		        " WHERE sn.id = $1 FOR UPDATE OF sn",
		        t->resource_id);
	else
		r = DBQ(
		    c, err, sizeof err,
		    "SELECT coalesce(v.host, ''), v.status, v.size_gb, coalesce(v.new_size_gb, 0),"
		    " CASE WHEN v.source_volid IS NOT NULL THEN 'volume'"
		    "  WHEN v.snapshot_id IS NOT NULL THEN 'snapshot'"
		    "  WHEN v.image_id IS NOT NULL THEN 'image' ELSE '' END,"
		    " coalesce(v.source_volid, v.snapshot_id, v.image_id, ''), '',"
		    " coalesce(im.disk_format, ''), coalesce(im.checksum, ''),"
		    " CASE WHEN src.attach_compute AND NOT i.deleted THEN i.id::text ELSE '' END,"
		    " coalesce(i.host, ''),"
		    " CASE WHEN im.os_hash_algo = 'sha512' THEN im.os_hash_value ELSE '' END"
		    " FROM volumes v LEFT JOIN images im ON im.id = v.image_id"
		    " LEFT JOIN volumes src ON src.id = v.source_volid"
		    " LEFT JOIN instances i ON i.id = src.attached_server"
		    " WHERE v.id = $1 FOR UPDATE OF v",
		    t->resource_id);
	if (!r) {
		sched_db_error(s, c, "volume tasks: load", err);
		return -EIO;
	}
	int n = PQntuples(r);
	if (n == 1) {
		snprintf(v->host, sizeof(v->host), "%s", db_val(r, 0, 0));
		snprintf(v->status, sizeof(v->status), "%s", db_val(r, 0, 1));
		v->size_gb = (int)db_long(r, 0, 2, 0);
		v->new_size_gb = (int)db_long(r, 0, 3, 0);
		snprintf(v->source, sizeof(v->source), "%s", db_val(r, 0, 4));
		snprintf(v->source_id, sizeof(v->source_id), "%s", db_val(r, 0, 5));
		snprintf(v->volume_id, sizeof(v->volume_id), "%s", db_val(r, 0, 6));
		snprintf(v->image_format, sizeof(v->image_format), "%s", db_val(r, 0, 7));
		snprintf(v->image_checksum, sizeof(v->image_checksum), "%s", db_val(r, 0, 8));
		snprintf(v->image_hash, sizeof(v->image_hash), "%s", db_val(r, 0, 11));
		snprintf(v->instance_id, sizeof(v->instance_id), "%s", db_val(r, 0, 9));
		snprintf(v->instance_host, sizeof(v->instance_host), "%s",
		         v->instance_id[0] ? db_val(r, 0, 10) : "");
	}
	PQclear(r);
	return n == 1;
}

/* The host where a copy of source (a volume or a snapshot) must be made: its own. */
static int source_host(struct sched *s, PGconn *c, const struct vrow *v, char *host, size_t n)
{
	char err[512];
	PGresult *r = DBQ(c, err, sizeof err,
	                  !strcmp(v->source, "volume")
	                      ? "SELECT coalesce(host, '') FROM volumes WHERE id = $1"
	                      : "SELECT coalesce(host, '') FROM volume_snapshots WHERE id = $1",
	                  v->source_id);
	if (!r) {
		sched_db_error(s, c, "volume tasks: source host", err);
		return -EIO;
	}
	snprintf(host, n, "%s", PQntuples(r) == 1 ? db_val(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

int volume_place_near(const struct sched *s, int size_gb, const char *az, const char *near,
                      int local_only, char *host, size_t n, char *why, size_t whylen)
{
	size_t m = 0;
	struct placement_store *st = xcalloc(s->agents.n ? s->agents.n : 1, sizeof(*st));
	for (size_t i = 0; i < s->agents.n; i++) {
		const struct agent *g = &s->agents.v[i];
		if (g->kind != MSG_AGENT_STORAGE)
			continue;
		st[m++] = (struct placement_store){
		    g->host, g->up && !g->unreachable, g->disk_gb,
		    near && near[0] && agents_same_machine(near, g->host), g->az};
	}
	const struct placement_store_request q = {size_gb, az, local_only};
	int k = placement_store_choose(st, m, &q, why, whylen);
	if (k >= 0)
		snprintf(host, n, "%s", st[k].name);
	free(st);
	return k < 0 ? -ENOSPC : 0;
}

int volume_placed(const struct sched *s, PGconn *c, const char *volume_id, const char *host,
                  char *err, size_t errlen)
{
	const struct agent *g = agents_find(&s->agents, host);
	return DBX(c, err, errlen,
	           "UPDATE volumes SET host = $2, az = coalesce($3, az) WHERE id = $1", volume_id,
	           host, g ? g->az : NULL);
}

int volume_place(const struct sched *s, int size_gb, char *host, size_t n)
{
	char why[PLACEMENT_REASON_MAX];
	return volume_place_near(s, size_gb, NULL, NULL, 0, host, n, why, sizeof(why));
}

/* How long a root volume Compute makes for a server waits for the server's row (its
 * create commits just after the volume's): a create that failed leaves none. */
#define BOOT_SERVER_WAIT_S 30

/* The machine a new volume of t should be near, into near ("" when none):
 * - under the local_to_instance hint (its create task's payload), that server's compute
 *   host, and *strict is set (Cinder's InstanceLocalityFilter: there or nowhere);
 * - a root volume made for a server (attached to it, or named by the create's
 *   boot_server: Compute makes the volume just before the server's row): the server's
 *   host, or, while the server is unplaced (its spawn waits for this volume), where
 *   it would be placed with the machines that also have room for the volume first, so
 *   that both land on one machine.
 * 0; 1 when the hint cannot be met, with why; -EAGAIN while the server named by
 * boot_server is not yet there; -EIO (logged). */
static int vol_near(struct sched *s, PGconn *c, const struct task *t, const struct vrow *v,
                    char near[MSG_HOST_MAX], int *strict, char *why, size_t whylen)
{
	char err[512];
	near[0] = '\0';
	*strict = 0;
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT coalesce(t.payload->>'local_to_instance', ''),"
	                  " coalesce(v.attached_server, t.payload->>'boot_server', ''),"
	                  " v.project_id FROM volumes v JOIN tasks t ON t.id = $2"
	                  " WHERE v.id = $1",
	                  t->resource_id, t->id);
	if (!r) {
		sched_db_error(s, c, "volume tasks: locality", err);
		return -EIO;
	}
	char server[UUID_STR_LEN] = "", project[MSG_HOST_MAX] = "";
	int hint = 0;
	if (PQntuples(r) == 1) {
		hint = db_val(r, 0, 0)[0] != '\0';
		snprintf(server, sizeof(server), "%s", hint ? db_val(r, 0, 0) : db_val(r, 0, 1));
		snprintf(project, sizeof(project), "%s", db_val(r, 0, 2));
	}
	PQclear(r);
	if (!server[0])
		return 0;
	/* a preference only for a server of the volume's own project */
	r = DBQ(c, err, sizeof err,
	        "SELECT coalesce(host, ''), deleted FROM instances WHERE id = $1 AND"
	        " ($2 OR project_id = $3)",
	        server, hint ? "true" : "false", project);
	if (!r) {
		sched_db_error(s, c, "volume tasks: locality", err);
		return -EIO;
	}
	int exists = PQntuples(r) == 1;
	int found = exists && db_val(r, 0, 1)[0] != 't';
	snprintf(near, MSG_HOST_MAX, "%s", found ? db_val(r, 0, 0) : "");
	PQclear(r);
	if (hint) {
		*strict = 1;
		if (!found)
			snprintf(why, whylen, "local_to_instance: server %s is not found", server);
		else if (!near[0])
			snprintf(why, whylen, "local_to_instance: server %s has no host yet",
			         server);
		return near[0] ? 0 : 1;
	}
	if (!exists && !strcmp(v->status, "creating") && t->age_s < BOOT_SERVER_WAIT_S)
		return -EAGAIN; /* the server's create has not committed yet */
	if (found && !near[0] && instance_place_preview(s, c, server, v->size_gb, near) < 0)
		return -EIO;
	return 0;
}

/* The zone the create task t asks for (its payload's availability_zone, which nubo-api
 * checked against the storage hosts' zones) into az, "" for any zone. 0 or -EIO. */
static int vol_zone(struct sched *s, PGconn *c, const struct task *t, char az[MSG_HOST_MAX])
{
	char err[512];
	PGresult *r = DBQ(c, err, sizeof err,
	                  "SELECT coalesce(payload->>'availability_zone', '') FROM tasks"
	                  " WHERE id = $1",
	                  t->id);
	if (!r) {
		sched_db_error(s, c, "volume tasks: zone", err);
		return -EIO;
	}
	snprintf(az, MSG_HOST_MAX, "%s", PQntuples(r) == 1 ? db_val(r, 0, 0) : "");
	PQclear(r);
	return 0;
}

/* Closes t and moves its row: status, or the row removed when status is NULL. */
static int vrow_close(struct sched *s, PGconn *c, const struct task *t, int ok, const char *status,
                      const char *fault)
{
	char err[512], sql[256];
	int rc;
	if (!status) {
		snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE id = $1", table(t));
		rc = DBX(c, err, sizeof err, sql, t->resource_id);
	} else if (!is_snap(t) && !strcmp(t->action, TASK_EXTEND) && ok) {
		rc = DBX(c, err, sizeof err,
		         "UPDATE volumes SET status = $2, size_gb = greatest(size_gb,"
		         " coalesce(new_size_gb, size_gb)), new_size_gb = NULL, updated_at = now()"
		         " WHERE id = $1",
		         t->resource_id, status);
	} else {
		snprintf(
		    sql, sizeof(sql),
		    "UPDATE %s SET status = $2, fault = coalesce($3, fault), updated_at = now()"
		    " WHERE id = $1",
		    table(t));
		rc = DBX(c, err, sizeof err, sql, t->resource_id, status, fault);
	}
	if (rc < 0 || tasks_mark(c, t->id, ok ? "done" : "failed", fault, err, sizeof(err)) < 0 ||
	    image_task_close(c, t, err, sizeof(err)) < 0) {
		sched_db_error(s, c, "volume tasks: close", err);
		return -EIO;
	}
	log_info("task %s: %s %s %s: %s%s%s", t->id, t->action, msg_res_kind_name(t->kind),
	         t->resource_id, status ? status : "removed", fault ? ": " : "",
	         fault ? fault : "");
	return 0;
}

/* What an action's failure leaves, as Cinder names it. */
static const char *fail_status(const struct task *t)
{
	if (!strcmp(t->action, TASK_DELETE))
		return "error_deleting";
	if (!strcmp(t->action, TASK_EXTEND))
		return "error_extending";
	if (!strcmp(t->action, TASK_UPLOAD)) /* Cinder: the volume is as it was */
		return "available";
	return "error";
}

/* 1 when t copies a volume a server of the same machine has plugged (a snapshot of it,
 * or a volume cloned from it): its QEMU holds the pool file, so the copy is made on the
 * server's compute host with the guest paused. A volume a server of another machine has
 * plugged is served to it over NBD: its storage host copies it through the export's
 * daemon (storage-agent/export_copy.h), so the task goes there as for any volume. A
 * server without a host yet is routed here too (and refused by task_host). */
int volume_copy_on_compute(const char *instance_id, const char *instance_host,
                           const char *storage_host)
{
	return instance_id[0] &&
	       (!instance_host[0] || bus_peer_same_host(instance_host, storage_host));
}

static int copy_in_guest(const struct task *t, const struct vrow *v)
{
	return !strcmp(t->action, TASK_CREATE) &&
	       volume_copy_on_compute(v->instance_id, v->instance_host, v->host);
}

/* Where t runs: the row's storage host, or the compute host of a plugged volume's
 * server ("" when that server has none). */
static const char *task_host(const struct task *t, const struct vrow *v)
{
	return copy_in_guest(t, v) ? v->instance_host : v->host;
}

static int vol_payload(struct sched *s, const struct task *t, const struct vrow *v, struct msg *m)
{
	if (is_snap(t)) {
		struct msg_snap_create *k = &m->u.task.p.snap_create;
		if (!strcmp(t->action, TASK_CREATE))
			snprintf(k->volume_id, sizeof(k->volume_id), "%s", v->volume_id);
		if (copy_in_guest(t, v)) {
			snprintf(k->instance_id, sizeof(k->instance_id), "%s", v->instance_id);
			snprintf(k->storage_host, sizeof(k->storage_host), "%s", v->host);
		}
		return 0;
	}
	if (!strcmp(t->action, TASK_EXTEND)) {
		m->u.task.p.vol_extend.size_gb = v->new_size_gb > 0 ? v->new_size_gb : v->size_gb;
	} else if (!strcmp(t->action, TASK_CREATE)) {
		struct msg_vol_create *k = &m->u.task.p.vol_create;
		k->size_gb = v->size_gb;
		snprintf(k->source, sizeof(k->source), "%s", v->source);
		snprintf(k->source_id, sizeof(k->source_id), "%s", v->source_id);
		if (copy_in_guest(t, v)) {
			snprintf(k->instance_id, sizeof(k->instance_id), "%s", v->instance_id);
			snprintf(k->storage_host, sizeof(k->storage_host), "%s", v->host);
		}
		if (!strcmp(v->source, "image")) {
			const char *base = s->cfg->internal_url;
			size_t blen = strlen(base);
			while (blen > 0 && base[blen - 1] == '/')
				blen--;
			k->image_url = xasprintf("%.*s/image/v2/images/%s/file", (int)blen, base,
			                         v->source_id);
			k->image_checksum = xstrdup(v->image_checksum);
			k->image_hash = xstrdup(v->image_hash);
			k->image_format = xstrdup(v->image_format);
		}
	}
	return 0;
}

static int vol_send(struct sched *s, PGconn *c, const struct task *t, const struct vrow *v,
                    const char *host)
{
	struct msg m;
	char err[512];
	tasks_msg_init(&m, t);
	vol_payload(s, t, v, &m);
	if (!is_snap(t) && !strcmp(t->action, TASK_UPLOAD) &&
	    image_task_payload(s, t, c, &m, err, sizeof(err)) < 0) {
		msg_release(&m);
		return vrow_close(s, c, t, 0, fail_status(t), err);
	}
	int rc = tasks_send(s, c, t, host, &m);
	msg_release(&m);
	return rc;
}

/* 1 while snapshots of volume_id remain (a cascade delete's own tasks remove them and
 * their files first: the volume's row going would take theirs along, and a snapshot task
 * not yet sent would then find no row and leave its file behind), 0 when none, -EIO. */
static int snapshots_remain(struct sched *s, PGconn *c, const char *volume_id)
{
	char err[512];
	int n = DBX(c, err, sizeof err,
	            "SELECT 1 FROM volume_snapshots WHERE volume_id = $1 LIMIT 1", volume_id);
	if (n < 0) {
		sched_db_error(s, c, "volume tasks: snapshots", err);
		return -EIO;
	}
	return n > 0;
}

static int vol_dispatch(struct sched *s, PGconn *c, const struct task *t)
{
	struct vrow v;
	char err[512], host[MSG_HOST_MAX];
	int rc = vrow_load(s, c, t, &v);
	if (rc < 0)
		return rc;
	if (rc == 0) { /* the row is gone: a delete has nothing left to do */
		int del = !strcmp(t->action, TASK_DELETE);
		if (tasks_mark(c, t->id, del ? "done" : "failed", del ? NULL : "it was deleted",
		               err, sizeof(err)) < 0) {
			sched_db_error(s, c, "volume tasks: close", err);
			return -EIO;
		}
		return 0;
	}
	if (!strcmp(t->action, TASK_DELETE)) {
		if (!is_snap(t) && (rc = snapshots_remain(s, c, t->resource_id)) != 0)
			return rc < 0 ? rc : -EAGAIN; /* the deadline ends a wait that never ends */
		if (!v.host[0])                       /* never placed: no host holds a byte of it */
			return vrow_close(s, c, t, 1, NULL, NULL);
		if (!agents_is_up(&s->agents, v.host)) {
			int gone = tasks_host_gone(s, c, v.host);
			if (gone <= 0)
				return gone < 0 ? gone : -EAGAIN;
			return vrow_close(s, c, t, 1, NULL, NULL);
		}
		return vol_send(s, c, t, &v, v.host);
	}
	if (!v.host[0] && !strcmp(t->action, TASK_CREATE)) {
		char near[MSG_HOST_MAX] = "", why[PLACEMENT_REASON_MAX + 64] = "", fault[1024];
		char az[MSG_HOST_MAX] = "";
		int strict = 0;
		if (!is_snap(t) && (rc = vol_zone(s, c, t, az)) < 0)
			return rc;
		if (!is_snap(t) &&
		    (rc = vol_near(s, c, t, &v, near, &strict, why, sizeof(why))) != 0) {
			if (rc < 0) /* -EAGAIN: its server's row is not there yet */
				return rc;
			snprintf(fault, sizeof(fault), "No valid backend was found. %s", why);
			return vrow_close(s, c, t, 0, "error", fault);
		}
		if (!is_snap(t) && (!strcmp(v.source, "volume") || !strcmp(v.source, "snapshot"))) {
			if ((rc = source_host(s, c, &v, host, sizeof(host))) < 0)
				return rc;
			if (strict && host[0] && !agents_same_machine(near, host)) {
				snprintf(fault, sizeof(fault),
				         "No valid backend was found. local_to_instance: a copy is "
				         "made on its source's storage host %s, not on %s",
				         host, near);
				return vrow_close(s, c, t, 0, "error", fault);
			}
		} else if (volume_place_near(s, v.size_gb, az, near, strict, host, sizeof(host),
		                             why, sizeof(why)) < 0) {
			if (sched_placement_on_hold(s))
				return -EAGAIN;
			snprintf(fault, sizeof(fault), "No valid backend was found. %s%s",
			         strict ? "local_to_instance: " : "", why);
			return vrow_close(s, c, t, 0, "error", fault);
		}
		if (!host[0])
			return vrow_close(s, c, t, 0, "error", "the source has no storage host");
		int placed = is_snap(t)
		                 ? DBX(c, err, sizeof err,
		                       "UPDATE volume_snapshots SET host = $2 WHERE id = $1",
		                       t->resource_id, host)
		                 : volume_placed(s, c, t->resource_id, host, err, sizeof(err));
		if (placed < 0) {
			sched_db_error(s, c, "volume tasks: place", err);
			return -EIO;
		}
		snprintf(v.host, sizeof(v.host), "%s", host);
		log_info("%s %s (%d GB) placed on %s%s%s", msg_res_kind_name(t->kind),
		         t->resource_id, v.size_gb, host, near[0] ? ", near " : "", near);
	}
	if (!v.host[0])
		return vrow_close(s, c, t, 0, fail_status(t), "it has no storage host");
	if (!task_host(t, &v)[0])
		return vrow_close(s, c, t, 0, fail_status(t),
		                  "the server the volume is attached to has no compute host");
	if (!agents_is_up(&s->agents, task_host(t, &v)))
		return -EAGAIN;
	return vol_send(s, c, t, &v, task_host(t, &v));
}

static int vol_resend(struct sched *s, PGconn *c, const struct task *t)
{
	struct vrow v;
	int rc = vrow_load(s, c, t, &v);
	if (rc <= 0)
		return rc < 0 ? rc : vol_dispatch(s, c, t);
	const char *host = t->host[0] ? t->host : task_host(t, &v);
	if (!agents_is_up(&s->agents, host))
		return -EAGAIN;
	return vol_send(s, c, t, &v, host);
}

static int vol_on_result(struct sched *s, PGconn *c, const struct task *t,
                         const struct msg_result *r)
{
	struct vrow v;
	int rc = vrow_load(s, c, t, &v);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		char err[512];
		if (tasks_mark(c, t->id, r->ok ? "done" : "failed", r->error, err, sizeof(err)) < 0)
			return -EIO;
		return 0;
	}
	/* a record marked deleting meanwhile (a server's delete_on_termination, a failed
	 * server create) stays deleting: its queued delete follows this task */
	int doomed = strcmp(t->action, TASK_DELETE) && !strcmp(v.status, "deleting");
	if (!r->ok)
		return vrow_close(s, c, t, 0, doomed ? "deleting" : fail_status(t),
		                  r->error ? r->error : "failed");
	if (!strcmp(t->action, TASK_DELETE))
		return vrow_close(s, c, t, 1, NULL, NULL);
	return vrow_close(s, c, t, 1, doomed ? "deleting" : "available", NULL);
}

static int vol_on_deadline(struct sched *s, PGconn *c, const struct task *t, const char *why)
{
	struct vrow v;
	int rc = vrow_load(s, c, t, &v);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		char err[512];
		return tasks_mark(c, t->id, "failed", why, err, sizeof(err)) < 0 ? -EIO : 0;
	}
	int doomed = strcmp(t->action, TASK_DELETE) && !strcmp(v.status, "deleting");
	return vrow_close(s, c, t, 0, doomed ? "deleting" : fail_status(t), why);
}

static int vol_on_event(struct sched *s, const char *host, const struct msg_event *e)
{
	return 0; /* volumes change only through tasks */
}

/* Volumes change only through tasks, which are re-sent after a hello; what the host
 * lists is logged by it at start (no reconciliation of files removed by hand yet). Its
 * NBD exports are checked against the attachments (attachment_tasks.c). */
static void vol_reconcile(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
	attachment_exports_reconcile(s, c, host, h);
}

static void snap_reconcile(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
}

const struct task_kind volume_tasks = {
    .kind = MSG_RES_VOLUME,
    .dispatch = vol_dispatch,
    .resend = vol_resend,
    .on_result = vol_on_result,
    .on_deadline = vol_on_deadline,
    .on_event = vol_on_event,
    .reconcile = vol_reconcile,
};

const struct task_kind snapshot_tasks = {
    .kind = MSG_RES_SNAPSHOT,
    .dispatch = vol_dispatch,
    .resend = vol_resend,
    .on_result = vol_on_result,
    .on_deadline = vol_on_deadline,
    .on_event = vol_on_event,
    .reconcile = snap_reconcile,
};

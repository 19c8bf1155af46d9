/* Attachment tasks (the resource id is the volume's): a volume goes into a server on the
 * server's compute host. When the volume's storage host is another machine the attach
 * is one task in two hops: first to the storage host, which serves the volume over NBD
 * (one export per attachment, TLS-PSK with the attachment id as identity and a key
 * derived here from [identity] credential_key, so it is never stored) and answers with
 * the export's address and port (kept in the task row's payload); then to the compute
 * host with all of it. A detach goes to the compute host; once the disk is out, the
 * storage host is told to stop the export. What a storage host still exports for a
 * volume no longer attached is stopped from its heartbeat. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cred_seal.h"
#include "ctx.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "reconcile.h"
#include "settings.h"
#include "task_qos.h"
#include "volume_tasks.h"
#include "xalloc.h"

#define EXPORT_STOP_QUIET_MS 10000 /* a stop for one export goes at most this often */

/* The volume (locked), its server and both hosts, as an attachment task needs them. */
struct arow {
	char status[32];
	char server[UUID_STR_LEN];
	char attachment[UUID_STR_LEN];
	char ihost[MSG_HOST_MAX]; /* the server's compute host ("" when it has none) */
	char vhost[MSG_HOST_MAX]; /* the volume's storage host */
	char nbd_host[MSG_ADDR_MAX];
	int nbd_port; /* the export the storage host answered for this task (0: none yet) */
};

/* Loads the volume of t (locked) and what t's row holds of its export. 1, 0 when the
 * volume is gone, -EIO. */
static int att_load(struct sched *s, PGconn *c, const struct task *t, struct arow *a)
{
	char err[512];
	memset(a, 0, sizeof(*a));
	PGresult *r =
	    DBQ(c, err, sizeof err,
	        "SELECT v.status, coalesce(v.attached_server, ''), coalesce(i.host, ''),"
	        " coalesce(v.host, ''), coalesce(i.deleted, true),"
	        " coalesce(v.attachment_id, ''),"
	        " coalesce((SELECT payload->>'export_host' FROM tasks WHERE id = $2), ''),"
	        " coalesce((SELECT payload->>'export_port' FROM tasks WHERE id = $2), '0')"
	        " FROM volumes v LEFT JOIN instances i ON i.id = v.attached_server"
	        " WHERE v.id = $1 FOR UPDATE OF v",
	        t->resource_id, t->id);
	if (!r) {
		sched_db_error(s, c, "attachment tasks: load", err);
		return -EIO;
	}
	int n = PQntuples(r);
	if (n == 1) {
		snprintf(a->status, sizeof(a->status), "%s", db_val(r, 0, 0));
		snprintf(a->server, sizeof(a->server), "%s", db_val(r, 0, 1));
		/* a deleted instance holds nothing: its host is no one's to ask */
		snprintf(a->ihost, sizeof(a->ihost), "%s",
		         db_val(r, 0, 4)[0] == 't' ? "" : db_val(r, 0, 2));
		snprintf(a->vhost, sizeof(a->vhost), "%s", db_val(r, 0, 3));
		snprintf(a->attachment, sizeof(a->attachment), "%s", db_val(r, 0, 5));
		snprintf(a->nbd_host, sizeof(a->nbd_host), "%s", db_val(r, 0, 6));
		a->nbd_port = (int)db_long(r, 0, 7, 0);
	}
	PQclear(r);
	return n == 1;
}

/* 1 when the volume's storage agent is on another machine than the server's compute
 * agent: a storage agent of the same machine is "<compute host>-storage" (nubo-storage's
 * default name, the one that shares the machine's bus key; the compute agent checks
 * its own [storage] host again before it opens a pool file). */
static int att_remote(const struct arow *a)
{
	if (!a->vhost[0] || !strcmp(a->vhost, "-"))
		return 0;
	return !bus_peer_same_host(a->ihost, a->vhost);
}

/* The export key of attachment: derived from [identity] credential_key. 0, or -ENOKEY
 * with err when the key is not configured. */
static int att_psk(const struct sched *s, const char *attachment, char psk[MSG_PSK_LEN], char *err,
                   size_t errlen)
{
	uint8_t key[CRED_KEY_BYTES];
	if (cred_key_parse(conf_get(s->cfg->conf, "identity", "credential_key", NULL), key) < 0) {
		snprintf(err, errlen,
		         "attaching across hosts needs [identity] credential_key (the NBD "
		         "export's key is derived from it)");
		return -ENOKEY;
	}
	cred_derive_hex(key, "nbd-psk", attachment, psk);
	memset(key, 0, sizeof(key));
	return 0;
}

/* Closes t and moves the volume: attached (in-use) or detached (available, its
 * attachment cleared), with the fault when it failed. */
static int att_close(struct sched *s, PGconn *c, const struct task *t, int ok, int attached,
                     const char *fault)
{
	char err[512];
	int rc = attached ? DBX(c, err, sizeof err,
	                        "UPDATE volumes SET status = 'in-use', fault = coalesce($2, fault),"
	                        " updated_at = now() WHERE id = $1",
	                        t->resource_id, fault)
	                  : DBX(c, err, sizeof err,
	                        "UPDATE volumes SET status = 'available', attached_server = NULL,"
	                        " attachment_id = NULL, attach_device = NULL,"
	                        " delete_on_termination = false, fault = coalesce($2,"
	                        " fault), updated_at = now() WHERE id = $1",
	                        t->resource_id, fault);
	if (rc < 0 || tasks_mark(c, t->id, ok ? "done" : "failed", fault, err, sizeof(err)) < 0) {
		sched_db_error(s, c, "attachment tasks: close", err);
		return -EIO;
	}
	log_info("task %s: %s of volume %s: %s%s%s", t->id, t->action, t->resource_id,
	         attached ? "in-use" : "available", fault ? ": " : "", fault ? fault : "");
	return 0;
}

/* Tells storage host vhost to stop its export of volume_id (of attachment, or any
 * when ""): a task with no row (its result is acknowledged and dropped), repeated by
 * the heartbeat check while the export is still listed. */
static void export_stop_send(struct sched *s, const char *vhost, const char *volume_id,
                             const char *attachment)
{
	struct msg m;
	char task_id[UUID_STR_LEN];
	if (!orphan_memo_claim(&s->orphans, vhost, volume_id, time_mono_ms(),
	                       attachment[0] ? 0 : EXPORT_STOP_QUIET_MS))
		return;
	uuid_generate_str(task_id);
	msg_task_init(&m, task_id, TASK_DETACH, MSG_RES_ATTACHMENT, volume_id);
	struct msg_attach *p = &m.u.task.p.attach;
	snprintf(p->storage_host, sizeof(p->storage_host), "%s", vhost);
	snprintf(p->attachment_id, sizeof(p->attachment_id), "%s", attachment);
	int rc = bus_send(s->router, vhost, &m);
	if (rc < 0)
		log_warn("export of volume %s on %s: sending its stop failed: %s", volume_id, vhost,
		         strerror(-rc));
	else
		log_info("export of volume %s on %s: stop sent (task %s)", volume_id, vhost,
		         task_id);
	msg_release(&m);
}

/* att_close for a volume leaving its server: the export goes too. */
static int att_close_detached(struct sched *s, PGconn *c, const struct task *t,
                              const struct arow *a, int ok, const char *fault)
{
	int rc = att_close(s, c, t, ok, 0, fault);
	if (rc == 0 && a->attachment[0] && a->ihost[0] && att_remote(a))
		export_stop_send(s, a->vhost, t->resource_id, a->attachment);
	return rc;
}

/* 1 when t's volume is the root disk server boots from, 0 when not, -EIO. */
static int att_is_root(struct sched *s, PGconn *c, const struct task *t, const char *server)
{
	char err[512];
	PGresult *r =
	    DBQ(c, err, sizeof err, "SELECT 1 FROM instances WHERE id = $1 AND boot_volume_id = $2",
	        server, t->resource_id);
	if (!r) {
		sched_db_error(s, c, "attachment tasks: root", err);
		return -EIO;
	}
	int n = PQntuples(r);
	PQclear(r);
	return n > 0;
}

/* The export of a root disk failed or timed out: the volume stays the server's (its
 * spawn fails reading this task) and what the storage host may serve goes. */
static int att_close_root(struct sched *s, PGconn *c, const struct task *t, const struct arow *a,
                          const char *fault)
{
	int rc = att_close(s, c, t, 0, 1, fault);
	if (rc == 0 && a->attachment[0] && att_remote(a))
		export_stop_send(s, a->vhost, t->resource_id, a->attachment);
	return rc;
}

static int att_dispatch(struct sched *s, PGconn *c, const struct task *t)
{
	struct arow a;
	char err[512];
	int att = !strcmp(t->action, TASK_ATTACH);
	int rc = att_load(s, c, t, &a);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return tasks_mark(c, t->id, "failed", "the volume was deleted", err, sizeof(err)) <
		               0
		           ? -EIO
		           : 0;
	if (!a.server[0] || !a.ihost[0]) /* the instance is gone: nothing holds the volume */
		return att_close(s, c, t, !att, 0, att ? "the instance is gone" : NULL);
	if (!att) { /* the root disk stays in its guest: the API refuses this too */
		rc = att_is_root(s, c, t, a.server);
		if (rc != 0)
			return rc < 0 ? rc
			              : att_close(s, c, t, 0, 1,
			                          "the server's root disk is not detached");
	}
	int remote = att_remote(&a);
	if (att && !remote) { /* a root disk of the same machine: its QEMU opens the file */
		rc = att_is_root(s, c, t, a.server);
		if (rc != 0)
			return rc < 0 ? rc : att_close(s, c, t, 1, 1, NULL);
	}
	/* an attach across machines goes first to the storage host, for the export */
	const char *host = att && remote && !a.nbd_port ? a.vhost : a.ihost;
	if (!agents_is_up(&s->agents, host))
		return -EAGAIN;
	struct msg m;
	tasks_msg_init(&m, t);
	struct msg_attach *p = &m.u.task.p.attach;
	snprintf(p->instance_id, sizeof(p->instance_id), "%s", a.server);
	snprintf(p->storage_host, sizeof(p->storage_host), "%s", a.vhost[0] ? a.vhost : "-");
	if (att && remote) {
		if (!a.attachment[0]) {
			msg_release(&m);
			return att_close(s, c, t, 0, 0, "the attachment has no id");
		}
		if ((rc = att_psk(s, a.attachment, p->psk, err, sizeof(err))) < 0) {
			msg_release(&m);
			return att_close(s, c, t, 0, 0, err);
		}
		snprintf(p->attachment_id, sizeof(p->attachment_id), "%s", a.attachment);
		snprintf(p->nbd_host, sizeof(p->nbd_host), "%s", a.nbd_host);
		p->nbd_port = a.nbd_port;
	}
	/* the volume type's I/O limits, for the compute host (a storage host ignores them) */
	rc = att ? task_qos_volume(c, t->resource_id, &p->qos, err, sizeof(err)) : 0;
	if (rc == -EINVAL) /* limits QEMU would refuse: the attach cannot succeed */
		rc = att_close(s, c, t, 0, 0, err);
	else if (rc < 0)
		sched_db_error(s, c, "attachment tasks: volume QoS", err);
	else
		rc = tasks_send(s, c, t, host, &m);
	memset(p->psk, 0, sizeof(p->psk));
	msg_release(&m);
	return rc;
}

/* The storage host answered the first hop of an attach: the export's address goes into
 * the task's payload and the task back to pending, for its second hop. */
static int att_exported(struct sched *s, PGconn *c, const struct task *t, const struct arow *a,
                        const struct msg_result *r)
{
	char err[512], port[16];
	int root = att_is_root(s, c, t, a->server);
	if (root < 0)
		return root;
	if (!r->ok || !r->export_host[0] || r->export_port <= 0) {
		char why[1024];
		snprintf(why, sizeof(why), "the storage host could not export the volume: %s",
		         r->error ? r->error : "no address in its answer");
		return root ? att_close_root(s, c, t, a, why)
		            : att_close_detached(s, c, t, a, 0, why);
	}
	snprintf(port, sizeof(port), "%d", r->export_port);
	/* a root disk's export is the whole task: the spawn reads it from the row
	 * (attachment_boot_export), named by the attachment it serves */
	if (DBX(c, err, sizeof err,
	        "UPDATE tasks SET status = CASE WHEN $5::boolean THEN status ELSE 'pending' END,"
	        " payload = coalesce(payload, '{}'::jsonb) || jsonb_build_object("
	        "'export_host', $2::text, 'export_port', $3::int, 'export_attachment', $4::text),"
	        " updated_at = now() WHERE id = $1",
	        t->id, r->export_host, port, a->attachment, root ? "true" : "false") < 0) {
		sched_db_error(s, c, "attachment tasks: export", err);
		return -EIO;
	}
	if (root) {
		log_info("task %s: boot volume %s exported by %s at %s:%d for %s", t->id,
		         t->resource_id, a->vhost, r->export_host, r->export_port, a->ihost);
		return att_close(s, c, t, 1, 1, NULL);
	}
	log_info("task %s: volume %s exported by %s at %s:%d; on to %s", t->id, t->resource_id,
	         a->vhost, r->export_host, r->export_port, a->ihost);
	return 0;
}

static int att_on_result(struct sched *s, PGconn *c, const struct task *t,
                         const struct msg_result *r)
{
	struct arow a;
	char err[512];
	int rc = att_load(s, c, t, &a);
	if (rc <= 0)
		return rc < 0 ? rc
		              : (tasks_mark(c, t->id, r->ok ? "done" : "failed", r->error, err,
		                            sizeof(err)) < 0
		                     ? -EIO
		                     : 0);
	int att = !strcmp(t->action, TASK_ATTACH);
	if (att && a.vhost[0] && !strcmp(t->host, a.vhost))
		return att_exported(s, c, t, &a, r);
	const char *fault = r->ok ? NULL : (r->error ? r->error : "failed");
	/* attach ok or detach failed: in-use; attach failed or detach ok: available */
	if (att == r->ok)
		return att_close(s, c, t, r->ok, 1, fault);
	return att_close_detached(s, c, t, &a, r->ok, fault);
}

static int att_on_deadline(struct sched *s, PGconn *c, const struct task *t, const char *why)
{
	struct arow a;
	char err[512];
	int rc = att_load(s, c, t, &a);
	if (rc <= 0)
		return rc < 0
		           ? rc
		           : (tasks_mark(c, t->id, "failed", why, err, sizeof(err)) < 0 ? -EIO : 0);
	if (strcmp(t->action, TASK_ATTACH))
		return att_close(s, c, t, 0, 1, why);
	rc = a.server[0] ? att_is_root(s, c, t, a.server) : 0;
	if (rc < 0)
		return rc;
	return rc ? att_close_root(s, c, t, &a, why) : att_close_detached(s, c, t, &a, 0, why);
}

static int att_on_event(struct sched *s, const char *host, const struct msg_event *e)
{
	return 0; /* attachments change only through tasks */
}

static void att_reconcile(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h)
{
}

int attachment_boot_export(struct sched *s, PGconn *c, const char *task_id, const char *host,
                           struct msg_spawn *k, char *err, size_t errlen)
{
	char vhost[MSG_HOST_MAX];
	snprintf(vhost, sizeof(vhost), "%s", k->boot_volume_host);
	if (!k->boot_volume_id[0] || !vhost[0] || !strcmp(vhost, "-") ||
	    bus_peer_same_host(host, vhost))
		return 0;
	/* the latest attach of the volume: the export it answered (for the attachment the
	 * volume has now), still under way, or failed since this task was made */
	PGresult *r = DBQ(c, err, errlen,
	                  "SELECT coalesce(v.attachment_id, ''), coalesce(t.status, ''),"
	                  " coalesce(t.payload->>'export_host', ''),"
	                  " coalesce(t.payload->>'export_port', '0'),"
	                  " coalesce(t.payload->>'export_attachment', ''), coalesce(t.error, ''),"
	                  " coalesce(t.created_at >= (SELECT created_at FROM tasks WHERE id ="
	                  " $2), false)"
	                  " FROM volumes v LEFT JOIN LATERAL (SELECT * FROM tasks o WHERE"
	                  " o.resource_kind = 'attachment' AND o.resource_id = v.id AND"
	                  " o.action = 'attach' ORDER BY o.created_at DESC LIMIT 1) t ON true"
	                  " WHERE v.id = $1",
	                  k->boot_volume_id, task_id);
	if (!r)
		return -EIO;
	int rc = 0;
	if (PQntuples(r) != 1 || !db_val(r, 0, 0)[0]) {
		snprintf(err, errlen, "boot volume %s has no attachment to export",
		         k->boot_volume_id);
		rc = -EINVAL;
		goto out;
	}
	const char *attachment = db_val(r, 0, 0), *status = db_val(r, 0, 1);
	int port = (int)db_long(r, 0, 3, 0), ours = db_val(r, 0, 6)[0] == 't';
	if (!strcmp(status, "pending") || !strcmp(status, "dispatched")) {
		rc = 1; /* the export is being made */
	} else if (!strcmp(status, "failed") && ours) {
		snprintf(err, errlen, "boot volume %s: %s", k->boot_volume_id, db_val(r, 0, 5));
		rc = -EINVAL;
	} else if (!strcmp(status, "done") && port > 0 && !strcmp(db_val(r, 0, 4), attachment)) {
		snprintf(k->nbd_host, sizeof(k->nbd_host), "%s", db_val(r, 0, 2));
		k->nbd_port = port;
		snprintf(k->attachment_id, sizeof(k->attachment_id), "%s", attachment);
		rc = att_psk(s, attachment, k->psk, err, errlen);
		rc = rc < 0 ? -EINVAL : 0;
	} else { /* none yet for this attachment: the storage host is asked (one hop) */
		struct outbox_task o = {
		    MSG_RES_ATTACHMENT, k->boot_volume_id, TASK_ATTACH, NULL, NULL, NULL};
		rc = outbox_insert(c, &o, NULL, err, errlen) < 0 ? -EIO : 1;
		if (rc == 1)
			log_info("task %s: boot volume %s is on %s: its export is asked for",
			         task_id, k->boot_volume_id, vhost);
	}
out:
	PQclear(r);
	return rc;
}

int attachment_boot_export_stop(struct sched *s, PGconn *c, const char *instance_id,
                                const char *host, char *err, size_t errlen)
{
	PGresult *r = DBQ(c, err, errlen,
	                  "SELECT v.id, coalesce(v.host, ''), v.attachment_id FROM instances i"
	                  " JOIN volumes v ON v.id = i.boot_volume_id AND v.attached_server = i.id"
	                  " WHERE i.id = $1 AND v.attachment_id IS NOT NULL",
	                  instance_id);
	if (!r)
		return -EIO;
	if (PQntuples(r) == 1 && db_val(r, 0, 1)[0] && strcmp(db_val(r, 0, 1), "-") &&
	    !bus_peer_same_host(host, db_val(r, 0, 1)))
		export_stop_send(s, db_val(r, 0, 1), db_val(r, 0, 0), db_val(r, 0, 2));
	PQclear(r);
	return 0;
}

void attachment_exports_reconcile(struct sched *s, PGconn *c, const char *host,
                                  const struct msg_hello *h)
{
	char err[512];
	for (int i = 0; i < h->n_resources; i++) {
		const struct msg_resource *e = &h->resources[i];
		if (e->kind != MSG_RES_ATTACHMENT)
			continue;
		/* wanted while the volume is this host's and attached to a server on another
		 * machine, or an attach or detach of it is under way (its export may be
		 * answering just now); not for a server on this machine, which opens the
		 * file itself and would find it locked by a stale export (review s9 L1) */
		int n =
		    DBX(c, err, sizeof err,
		        "SELECT 1 FROM volumes v LEFT JOIN instances i ON i.id = v.attached_server"
		        " WHERE v.id = $1 AND v.host = $2 AND coalesce(i.host, '') || '-storage'"
		        " <> $2 AND (v.attachment_id IS NOT NULL AND v.status IN ('attaching',"
		        " 'in-use', 'detaching') OR EXISTS (SELECT 1 FROM tasks t WHERE"
		        " t.resource_kind = 'attachment' AND t.resource_id = v.id AND t.status IN"
		        " ('pending', 'dispatched')))",
		        e->id, host);
		if (n < 0) {
			sched_db_error(s, c, "attachment tasks: exports", err);
			return;
		}
		if (n == 0)
			export_stop_send(s, host, e->id, "");
	}
}

const struct task_kind attachment_tasks = {
    .kind = MSG_RES_ATTACHMENT,
    .dispatch = att_dispatch,
    .resend = att_dispatch,
    .on_result = att_on_result,
    .on_deadline = att_on_deadline,
    .on_event = att_on_event,
    .reconcile = att_reconcile,
};

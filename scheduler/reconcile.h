/* Reconciliation: what a host reports (hello/heartbeat, event) against what the
 * database expects (docs/internals.md, "Task flow" step 5). */
#ifndef NUBO_SCHED_RECONCILE_H
#define NUBO_SCHED_RECONCILE_H
#include <libpq-fe.h>
#include <stdint.h>

#include "msg.h"
#include "vmstate.h"

#define ORPHAN_MEMO_MAX 128

/* Deletes sent for instances the database never had (no task row can exist for
 * them), so a host that keeps reporting one is not sent a delete every heartbeat. */
struct orphan_memo {
	struct {
		char host[MSG_HOST_MAX];
		char id[UUID_STR_LEN];
		int64_t sent_ms;
	} e[ORPHAN_MEMO_MAX];
	int next;
};

/* Returns 1 and records (host, id) at now_ms unless a delete went to that pair less
 * than quiet_ms ago (then 0). Pure. */
int orphan_memo_claim(struct orphan_memo *m, const char *host, const char *id, int64_t now_ms,
                      int64_t quiet_ms);

struct sched;
struct msg;
/* Reconciles the instances of host against its report h: for each instance of the
 * host without an open (or just closed) task the reported power state wins, one the
 * host does not run goes to ERROR; an instance the host runs that the database has
 * deleted, never had, or placed elsewhere gets a delete. Errors are logged. */
void reconcile_host(struct sched *s, PGconn *c, const char *host, const struct msg_hello *h);
/* An instance event from peer: applies the reported state of one of its instances
 * by the same rule; an error state's reason becomes the fault. Returns 0 or a
 * negative errno (already logged). */
int reconcile_on_event(struct sched *s, const char *peer, const struct msg_event *e);
/* Writes the fault_message for an instance reconcile puts into ERROR, e.g.
 * "instance vanished from host node1"; reason (may be NULL) is appended. */
void reconcile_fault_text(enum vmstate_fault fault, const char *host, const char *reason, char *out,
                          size_t outlen);

#endif

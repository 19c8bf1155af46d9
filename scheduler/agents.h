/* The registry of agents (of every kind): who said hello, what each offers, who is up. The
 * registry itself is pure (unit-tested); agents_on_hello/agents_tick mirror it into
 * the agents table and drive reconciliation. The compute capacity fields are zero
 * for agents of other kinds. */
#ifndef NUBO_SCHED_AGENTS_H
#define NUBO_SCHED_AGENTS_H
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define AGENTS_MAX 1024

struct agent {
	char host[MSG_HOST_MAX];
	enum msg_agent_kind kind;
	char az[MSG_HOST_MAX];
	char accel[8];
	int vcpus, ram_mb, disk_gb;
	int64_t last_seen_ms; /* CLOCK_MONOTONIC */
	int up;
	int unreachable; /* the last send to it failed */
};

struct agents {
	struct agent *v; /* owned, n entries */
	size_t n;
};

/* Releases what a owns; a is left empty and may be reused. */
void agents_release(struct agents *a);
/* Records a hello/heartbeat from h->host at now_ms (capacity, az; an empty az is
 * "nova"). Returns 1 when the host was not up before (new, or back), 0 when it was,
 * or -ENOSPC when AGENTS_MAX hosts are already known. */
int agents_touch(struct agents *a, const struct msg_hello *h, int64_t now_ms);
/* The entry for host, or NULL. */
const struct agent *agents_find(const struct agents *a, const char *host);
/* 1 when the agents named compute and storage run on one machine: the same name, or
 * storage is compute's own storage agent ("<compute>-storage", bus_peer_same_host).
 * Pure. */
int agents_same_machine(const char *compute, const char *storage);
/* 1 when a storage agent on compute's machine is up, reachable and has size_gb free
 * (where a volume made for a server placed on compute is local to it). */
int agents_storage_near(const struct agents *a, const char *compute, int size_gb);
/* 1 when host is known and up. */
int agents_is_up(const struct agents *a, const char *host);
/* Records whether the last send to host went through. Returns 1 when that differs
 * from what was recorded before (so a caller logs a change once), else 0. */
int agents_mark_reachable(struct agents *a, const char *host, int reachable);
/* Marks down every up agent silent for more than timeout_ms, calling down(host, arg)
 * for each (may be NULL). Returns how many went down. */
int agents_expire(struct agents *a, int64_t now_ms, int64_t timeout_ms,
                  void (*down)(const char *host, void *arg), void *arg);

struct sched;
struct msg;
/* Bus handler for hello and heartbeat from peer: checks the host name is the peer's
 * routing id, updates the registry and the agents row, then reconciles the host's
 * resources; after a hello it re-sends the host's unanswered tasks at once. Returns 0
 * or a negative errno (already logged). */
int agents_on_hello(struct sched *s, const char *peer, struct msg *m);
/* Per tick: marks agents down (registry and table) after [scheduler] agent_timeout. */
void agents_tick(struct sched *s);

#endif

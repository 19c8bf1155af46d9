/* The agent registry (a small array: hosts are few and looked up by name) and its
 * mirror in the agents table. */
#include "agents.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "db.h"
#include "log.h"
#include "ctx.h"
#include "tasks.h"
#include "xalloc.h"

void agents_release(struct agents *a)
{
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static struct agent *agent_lookup(const struct agents *a, const char *host)
{
	for (size_t i = 0; i < a->n; i++)
		if (!strcmp(a->v[i].host, host))
			return &a->v[i];
	return NULL;
}

const struct agent *agents_find(const struct agents *a, const char *host)
{
	return host ? agent_lookup(a, host) : NULL;
}

int agents_same_machine(const char *compute, const char *storage)
{
	return !strcmp(compute, storage) || bus_peer_same_host(compute, storage);
}

int agents_storage_near(const struct agents *a, const char *compute, int size_gb)
{
	for (size_t i = 0; i < a->n; i++) {
		const struct agent *g = &a->v[i];
		if (g->kind == MSG_AGENT_STORAGE && g->up && !g->unreachable &&
		    g->disk_gb >= size_gb && agents_same_machine(compute, g->host))
			return 1;
	}
	return 0;
}

int agents_is_up(const struct agents *a, const char *host)
{
	const struct agent *g = agents_find(a, host);
	return g && g->up;
}

int agents_touch(struct agents *a, const struct msg_hello *h, int64_t now_ms)
{
	struct agent *g = agent_lookup(a, h->host);
	if (!g) {
		if (a->n >= AGENTS_MAX)
			return -ENOSPC;
		a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
		g = &a->v[a->n++];
		memset(g, 0, sizeof(*g));
		snprintf(g->host, sizeof(g->host), "%s", h->host);
	}
	int was_up = g->up;
	snprintf(g->az, sizeof(g->az), "%s", h->az[0] ? h->az : "nova");
	g->kind = h->agent_kind;
	if (h->agent_kind == MSG_AGENT_STORAGE) { /* its free pool space stands as disk */
		snprintf(g->accel, sizeof(g->accel), "-");
		g->vcpus = g->ram_mb = 0;
		g->disk_gb = h->cap.storage.free_gb;
	} else {
		snprintf(g->accel, sizeof(g->accel), "%s", h->cap.compute.accel);
		g->vcpus = h->cap.compute.vcpus;
		g->ram_mb = h->cap.compute.ram_mb;
		g->disk_gb = h->cap.compute.disk_gb;
	}
	g->last_seen_ms = now_ms;
	g->up = 1;
	return !was_up;
}

int agents_mark_reachable(struct agents *a, const char *host, int reachable)
{
	struct agent *g = agent_lookup(a, host);
	if (!g || g->unreachable == !reachable)
		return 0;
	g->unreachable = !reachable;
	return 1;
}

int agents_expire(struct agents *a, int64_t now_ms, int64_t timeout_ms,
                  void (*down)(const char *host, void *arg), void *arg)
{
	int n = 0;
	for (size_t i = 0; i < a->n; i++) {
		struct agent *g = &a->v[i];
		if (!g->up || now_ms - g->last_seen_ms <= timeout_ms)
			continue;
		g->up = 0;
		n++;
		if (down)
			down(g->host, arg);
	}
	return n;
}

int agents_on_hello(struct sched *s, const char *peer, struct msg *m)
{
	const struct msg_hello *h = &m->u.hello;
	char err[512];
	if (strcmp(h->host, peer)) {
		log_warn("%s from peer \"%s\" names host \"%s\": ignored", msg_kind_name(m->kind),
		         peer, h->host);
		return -EPERM;
	}
	int fresh = agents_touch(&s->agents, h, time_mono_ms());
	if (fresh < 0) {
		log_warn("agent %s: registry full (%d hosts): ignored", h->host, AGENTS_MAX);
		return fresh;
	}
	const struct agent *g = agents_find(&s->agents, h->host);
	if (fresh || m->kind == MSG_HELLO)
		log_info("agent %s is up (%s): %s, az %s, %d vCPUs, %d MB RAM, %d GB disk, %d "
		         "instances",
		         h->host, msg_kind_name(m->kind), g->accel, g->az, g->vcpus, g->ram_mb,
		         g->disk_gb, h->n_resources);
	if (fresh)
		s->kick = 1; /* tasks held for this host can go now */

	char vcpus[16], ram[16], disk[16];
	snprintf(vcpus, sizeof(vcpus), "%d", g->vcpus);
	snprintf(ram, sizeof(ram), "%d", g->ram_mb);
	snprintf(disk, sizeof(disk), "%d", g->disk_gb);
	PGconn *c = sched_db(s);
	char up[16]; /* the host's uptime: compute agents only (0: not reported) */
	snprintf(up, sizeof(up), "%d",
	         h->agent_kind == MSG_AGENT_COMPUTE ? h->cap.compute.uptime_s : 0);
	int rc = DBX(c, err, sizeof err,
	             "INSERT INTO agents (host, accel, az, vcpus, ram_mb, disk_gb, state,"
	             " last_seen, kind, booted_at)"
	             " VALUES ($1, $2, $3, $4::int, $5::int, $6::int, 'up', now(), $7,"
	             " CASE WHEN $8::int > 0 THEN now() - $8::int * interval '1 second' END)"
	             " ON CONFLICT (host) DO UPDATE SET accel = EXCLUDED.accel, az = EXCLUDED.az,"
	             " kind = EXCLUDED.kind,"
	             " vcpus = EXCLUDED.vcpus, ram_mb = EXCLUDED.ram_mb,"
	             " disk_gb = EXCLUDED.disk_gb,"
	             " state = 'up', last_seen = now(), booted_at = EXCLUDED.booted_at",
	             g->host, g->accel, g->az, vcpus, ram, disk, msg_agent_kind_name(g->kind), up);
	if (rc < 0)
		sched_db_error(s, c, "agents: record heartbeat", err);
	else
		tasks_reconcile_host(s, c, h->host, h);
	sched_db_done(s, c);
	/* A hello follows an agent (re)start or reconnect: what it was sent may be lost
	 * (it re-sends results it holds), so unanswered tasks go again now, not after
	 * [scheduler] task_retry. */
	if (rc >= 0 && m->kind == MSG_HELLO)
		tasks_resend_host(s, h->host);
	return rc < 0 ? rc : 0;
}

static void agent_down_log(const char *host, void *arg)
{
	const struct sched *s = arg;
	log_warn("agent %s is down: no heartbeat for %ld s", host, s->cfg->agent_timeout);
}

void agents_tick(struct sched *s)
{
	char err[512], secs[16];
	agents_expire(&s->agents, time_mono_ms(), (int64_t)s->cfg->agent_timeout * 1000,
	              agent_down_log, s);
	snprintf(secs, sizeof(secs), "%ld", s->cfg->agent_timeout);
	PGconn *c = sched_db(s);
	PGresult *r = DBQ(c, err, sizeof err,
	                  "UPDATE agents SET state = 'down' WHERE state = 'up'"
	                  " AND last_seen < now() - $1::int * interval '1 second' RETURNING host",
	                  secs);
	if (!r) {
		sched_db_error(s, c, "agents: mark down", err);
		goto out;
	}
	/* Hosts this scheduler never heard from were not logged by the registry. */
	for (int i = 0; i < PQntuples(r); i++)
		if (!agents_find(&s->agents, db_val(r, i, 0)))
			log_warn("agent %s is down: not heard from since the scheduler started",
			         db_val(r, i, 0));
	PQclear(r);
out:
	sched_db_done(s, c);
}

/* The scheduler's loop: one thread polls the agents' ROUTER and the wake PULL with a
 * 1 s tick. Agent messages go through a handler table by kind; every tick expires
 * silent agents, re-sends unanswered tasks and scans the outbox (a wake or a result
 * scans it at once). */
#include "sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "console.h"
#include "db.h"
#include "log.h"
#include "service_row.h"
#include "tasks.h"
#include "xalloc.h"

#define TICK_MS 1000
#define ROUTER_BURST 256 /* agent messages handled before the tick gets a chance */
#define WAKE_BURST 1024
#define DB_RETRY_S 2

static const struct handler {
	enum msg_kind kind;
	int (*handle)(struct sched *, const char *peer, struct msg *);
} router_handlers[] = {
    {MSG_HELLO, agents_on_hello}, {MSG_HEARTBEAT, agents_on_hello}, {MSG_RESULT, tasks_on_result},
    {MSG_EVENT, tasks_on_event},  {MSG_CONSOLE, console_on_msg},
};

static int sock_opt_int(void *sock, int opt, int v)
{
	return zmq_setsockopt(sock, opt, &v, sizeof(v));
}

/* A socket bound to endpoint (or to each of a comma-separated list of them) with the
 * options every scheduler socket carries. */
static void *sched_bind(struct sched *s, int type, const char *endpoint, char *err, size_t errlen)
{
	char one[256];
	snprintf(one, sizeof(one), "%s", endpoint);
	void *sock = zmq_socket(s->zctx, type);
	int64_t max = MSG_MAX_BYTES + 1024; /* a peer sending more is disconnected */
	if (!sock || sock_opt_int(sock, ZMQ_LINGER, 0) < 0 ||
	    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max)) < 0)
		goto fail;
	/* Unreachable agents make sends fail (the task stays pending) instead of
	 * vanishing; a restarted agent takes its routing id over from its dead self. */
	if (type == ZMQ_ROUTER && (sock_opt_int(sock, ZMQ_ROUTER_MANDATORY, 1) < 0 ||
	                           sock_opt_int(sock, ZMQ_ROUTER_HANDOVER, 1) < 0))
		goto fail;
	/* Agent links are CURVE-encrypted when a server key is configured. */
	int rc = type == ZMQ_ROUTER ? bus_secure_server(s->zctx, sock, s->cfg->conf) : 0;
	if (rc < 0) {
		snprintf(err, errlen, "CURVE on %s: %s", endpoint, strerror(-rc));
		zmq_close(sock);
		return NULL;
	}
	/* endpoint: one, or a comma-separated list (settings.c checked each) */
	for (const char *p = endpoint; *p;) {
		size_t len = strcspn(p, ",");
		snprintf(one, sizeof(one), "%.*s", (int)len, p);
		if (zmq_bind(sock, one) < 0)
			goto fail;
		p += len + (p[len] == ',');
	}
	return sock;
fail:
	snprintf(err, errlen, "bind %s: %s", one, zmq_strerror(errno));
	if (sock)
		zmq_close(sock);
	return NULL;
}

struct sched *sched_new(const struct settings *cfg, char *err, size_t errlen)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	s->cfg = cfg;
	snprintf(s->cursor_at, sizeof(s->cursor_at), "-infinity");
	s->zctx = zmq_ctx_new();
	if (!s->zctx) {
		snprintf(err, errlen, "zmq_ctx_new: %s", zmq_strerror(errno));
		goto fail;
	}
	s->router = sched_bind(s, ZMQ_ROUTER, cfg->scheduler_bind, err, errlen);
	if (!s->router)
		goto fail;
	s->pull = sched_bind(s, ZMQ_PULL, cfg->wake_bind, err, errlen);
	if (!s->pull)
		goto fail;
	return s;
fail:
	sched_free(s);
	return NULL;
}

void sched_free(struct sched *s)
{
	if (!s)
		return;
	if (s->router)
		zmq_close(s->router);
	if (s->pull)
		zmq_close(s->pull);
	bus_secure_stop();
	if (s->zctx)
		zmq_ctx_term(s->zctx);
	db_pool_free(s->pool);
	agents_release(&s->agents);
	free(s);
}

/* Connects (retrying until *stop), migrates, reads the database clock. */
static int sched_connect(struct sched *s, volatile sig_atomic_t *stop)
{
	char err[512];
	int logged = 0, rc = -EIO;
	while (!*stop && !s->pool) {
		s->pool = db_pool_new(s->cfg->conninfo, 1, err, sizeof(err));
		if (s->pool)
			break;
		err[strcspn(err, "\n")] = '\0';
		if (!logged++)
			log_warn("%s; retrying every %d s", err, DB_RETRY_S);
		sleep(DB_RETRY_S); /* a signal cuts it short */
	}
	if (*stop)
		return 0;
	PGconn *c = db_acquire(s->pool);
	int version = db_migrate(c, err, sizeof(err));
	if (version < 0) {
		err[strcspn(err, "\n")] = '\0';
		log_err("database schema: %s", err);
		goto out;
	}
	PGresult *r = DBQ(c, err, sizeof err, "SELECT now()");
	if (!r) {
		log_err("database clock: %s", err);
		goto out;
	}
	snprintf(s->started_at, sizeof(s->started_at), "%s", db_val(r, 0, 0));
	PQclear(r);
	if (service_row_register(c, s->cfg->agent_timeout, err, sizeof(err)) <
	    0) /* os-hosts lists it */
		log_warn("control_services: %s", err);
	log_info("database schema version %d", version);
	rc = 0;
out:
	db_release(s->pool, c);
	return rc;
}

static const struct handler *handler_find(enum msg_kind kind)
{
	for (size_t i = 0; i < sizeof(router_handlers) / sizeof(router_handlers[0]); i++)
		if (router_handlers[i].kind == kind)
			return &router_handlers[i];
	return NULL;
}

/* Handles up to ROUTER_BURST waiting agent messages. */
static void sched_drain_router(struct sched *s)
{
	for (int i = 0; i < ROUTER_BURST; i++) {
		char peer[MSG_HOST_MAX] = "", err[256];
		struct msg m;
		int rc =
		    bus_recv(s->router, peer, sizeof(peer), &m, ZMQ_DONTWAIT, err, sizeof(err));
		if (rc == -EINVAL || rc == -E2BIG || rc == -EPERM) {
			log_warn("bus: bad message from \"%s\": %s", peer, err);
			continue;
		}
		if (rc < 0)
			return; /* -EAGAIN: drained */
		const struct handler *h = handler_find(m.kind);
		if (h)
			h->handle(s, peer, &m);
		else
			log_warn("bus: unexpected %s from \"%s\": ignored", msg_kind_name(m.kind),
			         peer);
		msg_release(&m);
	}
}

/* Consumes waiting wakes; any wake asks for an outbox scan. */
static void sched_drain_wakes(struct sched *s)
{
	for (int i = 0; i < WAKE_BURST; i++) {
		char err[256];
		struct msg m;
		int rc = bus_recv(s->pull, NULL, 0, &m, ZMQ_DONTWAIT, err, sizeof(err));
		if (rc == -EINVAL || rc == -E2BIG || rc == -EPERM) {
			log_warn("bus: bad wake message: %s", err);
			continue;
		}
		if (rc < 0)
			return;
		if (m.kind == MSG_WAKE)
			s->kick = 1;
		else
			log_warn("bus: unexpected %s on the wake socket: ignored",
			         msg_kind_name(m.kind));
		msg_release(&m);
	}
}

int sched_run(struct sched *s, volatile sig_atomic_t *stop)
{
	int rc = sched_connect(s, stop);
	if (rc < 0 || *stop)
		return rc;
	s->started_ms = time_mono_ms();
	log_info("agents on %s, wakes on %s", s->cfg->scheduler_bind, s->cfg->wake_bind);
	int64_t next_tick = s->started_ms;
	while (!*stop) {
		int64_t now = time_mono_ms();
		zmq_pollitem_t items[] = {{s->router, 0, ZMQ_POLLIN, 0},
		                          {s->pull, 0, ZMQ_POLLIN, 0}};
		if (zmq_poll(items, 2, next_tick > now ? (long)(next_tick - now) : 0) < 0) {
			if (errno == EINTR)
				continue;
			log_err("zmq_poll: %s", zmq_strerror(errno));
			return -EIO;
		}
		if (items[0].revents & ZMQ_POLLIN)
			sched_drain_router(s);
		if (items[1].revents & ZMQ_POLLIN)
			sched_drain_wakes(s);
		if (time_mono_ms() >= next_tick) {
			next_tick = time_mono_ms() + TICK_MS;
			agents_tick(s);
			service_row_tick(s);
			tasks_retry(s);
			tasks_deadlines(s);
			s->kick = 1;
		}
		if (s->kick)
			tasks_run(s);
	}
	return 0;
}

/* The agent runtime's main thread: bus, per-resource task queues, worker threads,
 * heartbeats, the results store (see agent.h). Only this thread touches the zmq
 * sockets and the lanes; a worker sees its job only. */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "fsutil.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define RECENT_MAX 256  /* results kept in memory to answer a re-sent task */
#define STORED_MAX 4096 /* unacknowledged results loaded at start */
#define TICK_MS 1000    /* the driver's tick */
#define POLL_MAX_MS 500 /* longest sleep, so a stop request is seen quickly */
#define DRAIN_MS 10000  /* on exit, wait this long for running tasks */
#define MONITOR_URL_FMT "inproc://nubo-agent-monitor-%p"

struct lane;

/* One task on its way: queued on its lane, run by a worker, then answered. */
struct job {
	struct agent *a;
	struct lane *lane;
	struct msg task;   /* MSG_TASK, owned */
	struct msg result; /* MSG_RESULT, filled by the worker */
	struct job *next;
};

/* The tasks of one resource: one runs at a time. */
struct lane {
	char id[UUID_STR_LEN];
	enum msg_res_kind kind;
	void *res;                       /* the driver's record */
	struct job *running;             /* the task a worker runs now, or NULL */
	struct job *queue, **queue_tail; /* tasks waiting for it */
	struct lane *next;
};

struct agent {
	const struct agent_conf *conf;
	const struct agent_driver *d;
	void *drv;
	char *results_dir;
	void *zctx, *dealer, *mon;
	char monitor_url[64];
	int handshakes;
	int send_blocked; /* the last send found the queue full */
	struct lane *lanes;
	int workers;
	pthread_mutex_t done_lock;
	struct job *done, **done_tail; /* finished jobs, guarded by done_lock */
	int done_fd;                   /* eventfd: a job finished */
	struct msg recent[RECENT_MAX]; /* results of finished tasks, ring */
	size_t recent_next;
};

/* ---- the results store ----------------------------------------------------------- */

static char *result_path(const char *dir, const char *task_id)
{
	return xasprintf("%s/%s.json", dir, task_id);
}

int agent_result_store(const char *dir, const struct msg *r)
{
	char *text = msg_encode(r);
	if (!text)
		return -EINVAL;
	char *path = result_path(dir, r->u.result.task_id);
	int rc = fs_write_atomic(path, text, strlen(text), 0600);
	free(path);
	free(text);
	return rc;
}

void agent_result_forget(const char *dir, const char *task_id)
{
	if (!uuid_is_valid(task_id))
		return;
	char *path = result_path(dir, task_id);
	unlink(path);
	free(path);
}

int agent_result_load_all(const char *dir, struct msg *out, int max)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < max) {
		char id[UUID_STR_LEN], err[256];
		size_t len = strlen(e->d_name);
		if (len != UUID_STR_LEN - 1 + 5 || strcmp(e->d_name + UUID_STR_LEN - 1, ".json"))
			continue;
		memcpy(id, e->d_name, UUID_STR_LEN - 1);
		id[UUID_STR_LEN - 1] = '\0';
		if (!uuid_is_valid(id))
			continue;
		char *path = result_path(dir, id), *text = fs_read(path, MSG_MAX_BYTES, &len);
		if (text && msg_decode(text, len, &out[n], err, sizeof(err)) == 0 &&
		    out[n].kind == MSG_RESULT && !strcmp(out[n].u.result.task_id, id))
			n++;
		else if (text) /* not a result of ours: it would never be acknowledged */
			unlink(path);
		free(text);
		free(path);
	}
	closedir(d);
	return n;
}

/* ---- sending ------------------------------------------------------------------- */

/* While the scheduler is unreachable zmq queues messages up to its high-water mark
 * and then refuses them; that is logged once, not per message (a lost result is
 * re-sent from the store on reconnect). */
void agent_send(struct agent *a, const struct msg *m)
{
	int rc = bus_send(a->dealer, NULL, m);
	if (rc == -EAGAIN) {
		if (!a->send_blocked)
			log_warn("scheduler unreachable and send queue full: dropping messages");
		a->send_blocked = 1;
		return;
	}
	if (rc < 0) {
		log_warn("send %s: %s", msg_kind_name(m->kind), strerror(-rc));
		return;
	}
	if (a->send_blocked)
		log_info("scheduler reachable again");
	a->send_blocked = 0;
}

static void send_hello(struct agent *a, enum msg_kind kind)
{
	struct msg m;
	msg_init(&m, kind);
	struct msg_hello *h = &m.u.hello;
	snprintf(h->host, sizeof(h->host), "%s", a->conf->host);
	snprintf(h->az, sizeof(h->az), "%s", a->conf->az);
	h->agent_kind = a->d->kind;
	a->d->report(a->drv, h);
	agent_send(a, &m);
	log_debug("%s sent (%d resources)", msg_kind_name(kind), h->n_resources);
	msg_release(&m);
}

/* ---- results in memory ----------------------------------------------------------- */

static const struct msg *recent_find(struct agent *a, const char *task_id)
{
	for (size_t i = 0; i < RECENT_MAX; i++)
		if (a->recent[i].kind == MSG_RESULT &&
		    !strcmp(a->recent[i].u.result.task_id, task_id))
			return &a->recent[i];
	return NULL;
}

/* Keeps r (ownership moves in; r is zeroed). */
static void recent_add(struct agent *a, struct msg *r)
{
	struct msg *slot = &a->recent[a->recent_next];
	msg_release(slot); /* zeroed: kind 0 is MSG_HELLO, which recent_find skips */
	*slot = *r;
	memset(r, 0, sizeof(*r));
	a->recent_next = (a->recent_next + 1) % RECENT_MAX;
}

/* Every result the scheduler has not acknowledged, again (after a reconnect). */
static void results_resend(struct agent *a)
{
	struct msg *all = xcalloc(STORED_MAX, sizeof(*all));
	int n = agent_result_load_all(a->results_dir, all, STORED_MAX);
	for (int i = 0; i < n; i++) {
		agent_send(a, &all[i]);
		msg_release(&all[i]);
	}
	if (n)
		log_info("re-sent %d result(s) the scheduler has not acknowledged", n);
	free(all);
}

/* ---- lanes and workers ---------------------------------------------------------- */

static struct lane *lane_find(struct agent *a, enum msg_res_kind kind, const char *id)
{
	for (struct lane *l = a->lanes; l; l = l->next)
		if (l->kind == kind && !strcmp(l->id, id))
			return l;
	return NULL;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	msg_release(&j->task);
	msg_release(&j->result);
	free(j);
}

static void lane_remove(struct agent *a, struct lane *l)
{
	for (struct lane **pp = &a->lanes; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	while (l->queue) {
		struct job *j = l->queue;
		l->queue = j->next;
		job_free(j);
	}
	free(l);
}

static void *worker_main(void *arg)
{
	struct job *j = arg;
	struct agent *a = j->a;
	const struct msg_task *t = &j->task.u.task;
	log_set_request(j->task.req[0] ? j->task.req : NULL);
	msg_init(&j->result, MSG_RESULT);
	memcpy(j->result.req, j->task.req, sizeof(j->result.req));
	struct msg_result *r = &j->result.u.result;
	snprintf(r->task_id, sizeof(r->task_id), "%s", t->task_id);
	snprintf(r->resource_id, sizeof(r->resource_id), "%s", t->resource_id);
	r->resource_kind = t->resource_kind;
	a->d->run(a->drv, j->lane->res, t, r);
	pthread_mutex_lock(&a->done_lock);
	j->next = NULL;
	*a->done_tail = j;
	a->done_tail = &j->next;
	pthread_mutex_unlock(&a->done_lock);
	uint64_t one = 1;
	if (write(a->done_fd, &one, sizeof(one)) < 0)
		log_err("eventfd write: %s", strerror(errno));
	log_set_request(NULL);
	return NULL;
}

/* Starts workers for idle lanes with queued tasks, up to max_workers. */
static void dispatch(struct agent *a)
{
	for (struct lane *l = a->lanes; l && a->workers < a->conf->max_workers; l = l->next) {
		if (l->running || !l->queue)
			continue;
		struct job *j = l->queue;
		l->queue = j->next;
		if (!l->queue)
			l->queue_tail = &l->queue;
		j->next = NULL;
		l->running = j;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* workers leave SIGTERM/SIGINT/SIGHUP to the main thread */
		sigset_t block, old;
		sigemptyset(&block);
		sigaddset(&block, SIGTERM);
		sigaddset(&block, SIGINT);
		sigaddset(&block, SIGHUP);
		pthread_sigmask(SIG_BLOCK, &block, &old);
		pthread_t th;
		int rc = pthread_create(&th, &attr, worker_main, j);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
		if (rc != 0) {
			log_err("pthread_create: %s; task %s stays queued", strerror(rc),
			        j->task.u.task.task_id);
			l->running = NULL;
			j->next = l->queue;
			l->queue = j;
			if (!j->next)
				l->queue_tail = &j->next;
			return;
		}
		a->workers++;
	}
}

/* Stores, sends and remembers the results of finished jobs. */
static void collect(struct agent *a)
{
	uint64_t n;
	if (read(a->done_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_err("eventfd read: %s", strerror(errno));
	pthread_mutex_lock(&a->done_lock);
	struct job *list = a->done;
	a->done = NULL;
	a->done_tail = &a->done;
	pthread_mutex_unlock(&a->done_lock);
	while (list) {
		struct job *j = list;
		list = j->next;
		struct lane *l = j->lane;
		a->workers--;
		l->running = NULL;
		/* durable before it is sent: an ack can only follow a stored result */
		int rc = agent_result_store(a->results_dir, &j->result);
		if (rc < 0)
			log_warn("task %s: storing its result: %s", j->task.u.task.task_id,
			         strerror(-rc));
		agent_send(a, &j->result);
		a->d->done(a->drv, l->res, &j->result.u.result, l->queue != NULL);
		recent_add(a, &j->result);
		if (!l->queue)
			lane_remove(a, l);
		job_free(j);
	}
	dispatch(a);
}

/* ---- incoming ------------------------------------------------------------------ */

static int task_in_flight(struct agent *a, const char *task_id)
{
	for (struct lane *l = a->lanes; l; l = l->next) {
		if (l->running && !strcmp(l->running->task.u.task.task_id, task_id))
			return 1;
		for (struct job *j = l->queue; j; j = j->next)
			if (!strcmp(j->task.u.task.task_id, task_id))
				return 1;
	}
	return 0;
}

/* Takes ownership of m (a MSG_TASK). */
static void task_take(struct agent *a, struct msg *m)
{
	const struct msg_task *t = &m->u.task;
	char err[256] = "";
	const struct msg *done = recent_find(a, t->task_id);
	if (done) {
		log_info("task %s (%s) repeated: sending its result again", t->task_id, t->action);
		agent_send(a, done);
		msg_release(m);
		return;
	}
	if (task_in_flight(a, t->task_id)) {
		log_info("task %s (%s) repeated while it runs: ignored", t->task_id, t->action);
		msg_release(m);
		return;
	}
	log_info("task %s: %s %s %s", t->task_id, t->action, msg_res_kind_name(t->resource_kind),
	         t->resource_id);
	struct lane *l = lane_find(a, t->resource_kind, t->resource_id);
	if (!l) {
		void *res = a->d->resource(a->drv, t, err, sizeof(err));
		if (!res) {
			log_warn("task %s refused: %s", t->task_id, err);
			struct msg r;
			msg_init(&r, MSG_RESULT);
			memcpy(r.req, m->req, sizeof(r.req));
			snprintf(r.u.result.task_id, sizeof(r.u.result.task_id), "%s", t->task_id);
			snprintf(r.u.result.resource_id, sizeof(r.u.result.resource_id), "%s",
			         t->resource_id);
			r.u.result.resource_kind = t->resource_kind;
			r.u.result.error = xstrdup(err);
			agent_result_store(a->results_dir, &r);
			agent_send(a, &r);
			recent_add(a, &r);
			msg_release(m);
			return;
		}
		l = xcalloc(1, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "%s", t->resource_id);
		l->kind = t->resource_kind;
		l->res = res;
		l->queue_tail = &l->queue;
		l->next = a->lanes;
		a->lanes = l;
	}
	struct job *j = xcalloc(1, sizeof(*j));
	j->a = a;
	j->lane = l;
	j->task = *m; /* ownership moves into the job */
	memset(m, 0, sizeof(*m));
	*l->queue_tail = j;
	l->queue_tail = &j->next;
	dispatch(a);
}

/* task_take with the task's request id on every line it logs. */
static void on_task(struct agent *a, struct msg *m)
{
	char req[REQUEST_ID_LEN];
	memcpy(req, m->req, sizeof(req)); /* m is released on the way */
	log_set_request(req[0] ? req : NULL);
	task_take(a, m);
	log_set_request(NULL);
}

static void on_ack(struct agent *a, const struct msg_ack *ack)
{
	agent_result_forget(a->results_dir, ack->task_id);
	log_debug("result of task %s acknowledged", ack->task_id);
}

static void on_dealer(struct agent *a)
{
	for (;;) {
		struct msg m;
		char err[256];
		int rc = bus_recv(a->dealer, NULL, 0, &m, ZMQ_DONTWAIT, err, sizeof(err));
		if (rc == -EINVAL || rc == -E2BIG) {
			log_warn("bad message from the scheduler: %s", err);
			continue;
		}
		if (rc < 0) /* -EAGAIN: drained; anything else: the socket is going away */
			return;
		if (m.kind == MSG_TASK)
			on_task(a, &m);
		else if (m.kind == MSG_ACK)
			on_ack(a, &m.u.ack);
		else
			log_warn("unexpected %s from the scheduler", msg_kind_name(m.kind));
		msg_release(&m);
	}
}

/* Socket monitor: every completed handshake (first connect, or a reconnect after the
 * scheduler restarted) gets a hello and the unacknowledged results. */
static void on_monitor(struct agent *a)
{
	for (;;) {
		zmq_msg_t f;
		zmq_msg_init(&f);
		if (zmq_msg_recv(&f, a->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&f);
			return;
		}
		uint16_t event = 0;
		if (zmq_msg_size(&f) >= 6)
			memcpy(&event, zmq_msg_data(&f), sizeof(event));
		int more = zmq_msg_more(&f);
		zmq_msg_close(&f);
		while (more) { /* the endpoint frame */
			zmq_msg_init(&f);
			if (zmq_msg_recv(&f, a->mon, 0) < 0)
				more = 0;
			else
				more = zmq_msg_more(&f);
			zmq_msg_close(&f);
		}
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			log_info("connected to the scheduler at %s", a->conf->scheduler_url);
			if (a->handshakes++)
				send_hello(a, MSG_HELLO);
			results_resend(a);
		} else if (event == ZMQ_EVENT_DISCONNECTED) {
			log_warn("scheduler connection lost; reconnecting");
		}
	}
}

/* ---- setup and loop ------------------------------------------------------------- */

struct agent *agent_new(const struct agent_conf *conf, const struct agent_driver *d, void *drv,
                        char *err, size_t errlen)
{
	struct agent *a = xcalloc(1, sizeof(*a));
	a->conf = conf;
	a->d = d;
	a->drv = drv;
	a->done_fd = -1;
	a->done_tail = &a->done;
	pthread_mutex_init(&a->done_lock, NULL);
	a->results_dir = xasprintf("%s/results", conf->state_dir);
	snprintf(a->monitor_url, sizeof(a->monitor_url), MONITOR_URL_FMT, (void *)a);
	int rc = fs_mkdir_p(a->results_dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", a->results_dir, strerror(-rc));
		goto fail;
	}
	a->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->done_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* results stored by an earlier run answer its repeated tasks too */
	struct msg *all = xcalloc(RECENT_MAX, sizeof(*all));
	int n = agent_result_load_all(a->results_dir, all, RECENT_MAX);
	for (int i = 0; i < n; i++)
		recent_add(a, &all[i]);
	free(all);
	return a;
fail:
	agent_free(a);
	return NULL;
}

static int bus_open(struct agent *a)
{
	int linger = 1000, ivl = 2000, timeout = 6000, reconnect = 500, reconnect_max = 5000;
	a->zctx = zmq_ctx_new();
	a->dealer = zmq_socket(a->zctx, ZMQ_DEALER);
	a->mon = zmq_socket(a->zctx, ZMQ_PAIR);
	if (!a->dealer || !a->mon)
		return -errno;
	zmq_setsockopt(a->dealer, ZMQ_ROUTING_ID, a->conf->host, strlen(a->conf->host));
	zmq_setsockopt(a->dealer, ZMQ_LINGER, &linger, sizeof(linger));
	/* ZMTP heartbeats notice a scheduler host that vanished without a FIN */
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof(timeout));
	zmq_setsockopt(a->dealer, ZMQ_HEARTBEAT_TTL, &timeout, sizeof(timeout));
	zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL, &reconnect, sizeof(reconnect));
	zmq_setsockopt(a->dealer, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof(reconnect_max));
	int rc = bus_secure_client(a->dealer, a->conf->raw);
	if (rc < 0) {
		log_err("bus: CURVE keys in [bus] are invalid");
		return rc;
	}
	if (zmq_socket_monitor(a->dealer, a->monitor_url,
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) < 0 ||
	    zmq_connect(a->mon, a->monitor_url) < 0)
		return -errno;
	if (zmq_connect(a->dealer, a->conf->scheduler_url) < 0)
		return -errno;
	return 0;
}

int agent_run(struct agent *a, volatile sig_atomic_t *stop)
{
	int rc = bus_open(a);
	if (rc < 0) {
		log_err("bus %s: %s", a->conf->scheduler_url, zmq_strerror(-rc));
		return rc;
	}
	send_hello(a, MSG_HELLO);
	int64_t hb_ms = (int64_t)a->conf->heartbeat_interval * 1000;
	int64_t next_hb = time_mono_ms() + hb_ms, next_tick = time_mono_ms();
	int64_t drain_until = 0;

	for (;;) {
		if (*stop && !drain_until) {
			log_info("stopping; %d task(s) still running", a->workers);
			drain_until = time_mono_ms() + DRAIN_MS;
		}
		if (drain_until && (a->workers == 0 || time_mono_ms() >= drain_until))
			break;
		int64_t now = time_mono_ms();
		int64_t wait = (next_hb < next_tick ? next_hb : next_tick) - now;
		if (wait > POLL_MAX_MS)
			wait = POLL_MAX_MS;
		if (wait < 0)
			wait = 0;
		zmq_pollitem_t items[] = {
		    {a->dealer, 0, ZMQ_POLLIN, 0},
		    {a->mon, 0, ZMQ_POLLIN, 0},
		    {NULL, a->done_fd, ZMQ_POLLIN, 0},
		};
		if (zmq_poll(items, 3, (long)wait) < 0 && errno != EINTR) {
			log_err("zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		if (items[0].revents & ZMQ_POLLIN && !drain_until)
			on_dealer(a);
		if (items[1].revents & ZMQ_POLLIN)
			on_monitor(a);
		if (items[2].revents & ZMQ_POLLIN)
			collect(a);
		now = time_mono_ms();
		if (now >= next_tick) {
			a->d->tick(a->drv, a);
			next_tick = now + TICK_MS;
		}
		if (now >= next_hb) {
			/* hello means "(re)started or reconnected": the scheduler re-sends
			 * every unanswered task of a hello's host at once (and counts the
			 * send), so a periodic one would re-send long tasks every time */
			send_hello(a, MSG_HEARTBEAT);
			next_hb = now + hb_ms;
		}
	}
	if (a->workers)
		log_warn("exiting with %d task(s) unfinished; the scheduler will re-send them",
		         a->workers);
	return 0;
}

int agent_busy(const struct agent *a)
{
	return a ? a->workers : 0;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	if (a->workers) {
		/* detached workers still use a; leaving it allocated is the safe choice as
		 * the process is about to exit */
		return;
	}
	if (a->dealer)
		zmq_socket_monitor(a->dealer, NULL, 0);
	if (a->mon)
		zmq_close(a->mon);
	if (a->dealer)
		zmq_close(a->dealer);
	if (a->zctx)
		zmq_ctx_term(a->zctx);
	while (a->lanes)
		lane_remove(a, a->lanes);
	for (size_t i = 0; i < RECENT_MAX; i++)
		msg_release(&a->recent[i]);
	if (a->done_fd >= 0)
		close(a->done_fd);
	pthread_mutex_destroy(&a->done_lock);
	free(a->results_dir);
	free(a);
}

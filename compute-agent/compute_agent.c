/* The main thread of nubo-compute: bus, task queues, worker threads, heartbeats,
 * console tails and liveness checks. Only this thread touches the zmq sockets and the
 * slot list; workers see their job and the read-only vm_ctx. */
#include "compute_agent.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zmq.h>

#include "accel.h"
#include "bus.h"
#include "console_tail.h"
#include "fsutil.h"
#include "log.h"
#include "util.h"
#include "vm.h"
#include "xalloc.h"

#define RECENT_MAX 256   /* results kept to answer a re-sent task */
#define TICK_MS 1000     /* console tails and liveness checks */
#define POLL_MAX_MS 500  /* longest sleep, so a stop request is seen quickly */
#define HELLO_EVERY 30   /* also re-send hello every N heartbeats */
#define CONSOLE_CHUNKS 4 /* console messages per instance per tick */
#define DRAIN_MS 10000   /* on exit, wait this long for running tasks */
#define MONITOR_URL "inproc://nubo-compute-monitor"

struct slot;

/* One task on its way: queued on its slot, run by a worker, then answered. */
struct job {
	struct compute_agent *a;
	struct slot *slot;
	struct msg task;   /* MSG_TASK, owned */
	struct msg result; /* MSG_RESULT, filled by the worker */
	struct job *next;
};

/* An instance as the main thread tracks it. */
struct slot {
	struct vm *vm;
	struct job *running;             /* the task a worker runs now, or NULL */
	struct job *queue, **queue_tail; /* tasks waiting for it */
	struct console_tail con;
	struct slot *next;
};

struct compute_agent {
	const struct compute_conf *conf;
	const struct vm_driver *drv;
	struct vm_ctx ctx;
	char accel[8];
	int vcpus, ram_mb, disk_gb;
	void *zctx, *dealer, *mon;
	int handshakes;
	int send_blocked; /* the last send found the queue full */
	unsigned long beats;
	struct slot *slots;
	int workers;
	pthread_mutex_t done_lock;
	struct job *done, **done_tail; /* finished jobs, guarded by done_lock */
	int done_fd;                   /* eventfd: a job finished */
	struct msg recent[RECENT_MAX]; /* results of finished tasks, ring */
	size_t recent_next;
	char *conbuf;
};

/* ---- slots ------------------------------------------------------------------- */

static struct slot *slot_find(struct compute_agent *a, const char *id)
{
	for (struct slot *s = a->slots; s; s = s->next)
		if (!strcmp(s->vm->id, id))
			return s;
	return NULL;
}

static struct slot *slot_add(struct compute_agent *a, struct vm *vm)
{
	struct slot *s = xcalloc(1, sizeof(*s));
	s->vm = vm;
	s->queue_tail = &s->queue;
	console_tail_init(&s->con);
	s->next = a->slots;
	a->slots = s;
	return s;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	msg_release(&j->task);
	msg_release(&j->result);
	free(j);
}

static void slot_remove(struct compute_agent *a, struct slot *s)
{
	for (struct slot **pp = &a->slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	while (s->queue) {
		struct job *j = s->queue;
		s->queue = j->next;
		job_free(j);
	}
	vm_free(s->vm);
	free(s);
}

/* ---- sending ------------------------------------------------------------------- */

/* Sends m to the scheduler. While it is unreachable zmq queues messages up to its
 * high-water mark and then refuses them; that is logged once, not per message (a
 * lost result is recovered: the scheduler re-sends the task, answered from recent). */
static void send_msg(struct compute_agent *a, const struct msg *m)
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

static void send_hello(struct compute_agent *a, enum msg_kind kind)
{
	struct msg m;
	msg_init(&m, kind);
	struct msg_hello *h = &m.u.hello;
	strcpy(h->host, a->conf->host);
	strcpy(h->cap.compute.accel, a->accel);
	strcpy(h->az, a->conf->az);
	h->cap.compute.vcpus = a->vcpus;
	h->cap.compute.ram_mb = a->ram_mb;
	h->cap.compute.disk_gb = a->disk_gb;
	size_t n = 0;
	for (struct slot *s = a->slots; s; s = s->next)
		n++;
	h->resources = xcalloc(n ? n : 1, sizeof(*h->resources));
	for (struct slot *s = a->slots; s && h->n_resources < MSG_MAX_RESOURCES; s = s->next) {
		char state[MSG_STATE_MAX];
		vm_get(s->vm, state);
		/* unknown while a first spawn runs; the scheduler knows the open task */
		if (!state[0] || !strcmp(state, VM_DELETED))
			continue;
		strcpy(h->resources[h->n_resources].id, s->vm->id);
		strcpy(h->resources[h->n_resources].state, state);
		h->n_resources++;
	}
	send_msg(a, &m);
	log_debug("%s sent (%d instances)", msg_kind_name(kind), h->n_resources);
	msg_release(&m);
}

static void send_event(struct compute_agent *a, struct vm *vm, const char *why)
{
	struct msg m;
	msg_init(&m, MSG_EVENT);
	strcpy(m.u.event.resource_id, vm->id);
	vm_get(vm, m.u.event.state);
	m.u.event.reason = xstrdup(why);
	log_info("instance %s: %s, now %s", vm->id, why, m.u.event.state);
	send_msg(a, &m);
	msg_release(&m);
}

/* Sends what the instance's serial console wrote since the last tick. */
static void send_console(struct compute_agent *a, struct slot *s)
{
	char path[4096];
	vm_path(s->vm, "console.log", path, sizeof(path));
	for (int i = 0; i < CONSOLE_CHUNKS; i++) {
		int reset = 0;
		ssize_t n = console_tail_read(&s->con, path, a->conbuf, MSG_CONSOLE_MAX, &reset);
		if (n <= 0)
			break;
		struct msg m;
		msg_init(&m, MSG_CONSOLE);
		strcpy(m.u.console.instance_id, s->vm->id);
		m.u.console.reset = reset;
		m.u.console.data = xstrndup(a->conbuf, (size_t)n);
		send_msg(a, &m);
		msg_release(&m);
	}
}

/* ---- results ring -------------------------------------------------------------- */

static const struct msg *recent_find(struct compute_agent *a, const char *task_id)
{
	for (size_t i = 0; i < RECENT_MAX; i++)
		if (a->recent[i].kind == MSG_RESULT &&
		    !strcmp(a->recent[i].u.result.task_id, task_id))
			return &a->recent[i];
	return NULL;
}

static void recent_add(struct compute_agent *a, const struct msg *r)
{
	struct msg *slot = &a->recent[a->recent_next];
	msg_release(slot); /* zeroed: kind 0 is MSG_HELLO, which recent_find skips */
	*slot = *r;
	slot->u.result.error = xstrdup(r->u.result.error);
	a->recent_next = (a->recent_next + 1) % RECENT_MAX;
}

/* ---- workers ------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
	struct job *j = arg;
	struct compute_agent *a = j->a;
	msg_init(&j->result, MSG_RESULT);
	vm_run_task(a->drv, &a->ctx, j->slot->vm, &j->task.u.task, &j->result.u.result);
	pthread_mutex_lock(&a->done_lock);
	j->next = NULL;
	*a->done_tail = j;
	a->done_tail = &j->next;
	pthread_mutex_unlock(&a->done_lock);
	uint64_t one = 1;
	if (write(a->done_fd, &one, sizeof(one)) < 0)
		log_err("eventfd write: %s", strerror(errno));
	return NULL;
}

/* Starts workers for idle instances with queued tasks, up to max_workers. */
static void dispatch(struct compute_agent *a)
{
	for (struct slot *s = a->slots; s && a->workers < a->conf->max_workers; s = s->next) {
		if (s->running || !s->queue)
			continue;
		struct job *j = s->queue;
		s->queue = j->next;
		if (!s->queue)
			s->queue_tail = &s->queue;
		j->next = NULL;
		s->running = j;
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
			s->running = NULL;
			j->next = s->queue;
			s->queue = j;
			if (!j->next)
				s->queue_tail = &j->next;
			return;
		}
		a->workers++;
	}
}

/* Sends the results of finished jobs and frees them. */
static void collect(struct compute_agent *a)
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
		struct slot *s = j->slot;
		a->workers--;
		s->running = NULL;
		send_msg(a, &j->result);
		recent_add(a, &j->result);
		char state[MSG_STATE_MAX];
		vm_get(s->vm, state);
		if (!strcmp(state, VM_DELETED) && !s->queue)
			slot_remove(a, s);
		job_free(j);
	}
	dispatch(a);
}

/* ---- incoming ------------------------------------------------------------------ */

static int task_in_flight(struct compute_agent *a, const char *task_id)
{
	for (struct slot *s = a->slots; s; s = s->next) {
		if (s->running && !strcmp(s->running->task.u.task.task_id, task_id))
			return 1;
		for (struct job *j = s->queue; j; j = j->next)
			if (!strcmp(j->task.u.task.task_id, task_id))
				return 1;
	}
	return 0;
}

/* Takes ownership of m (a MSG_TASK). */
static void on_task(struct compute_agent *a, struct msg *m)
{
	const struct msg_task *t = &m->u.task;
	const struct msg *done = recent_find(a, t->task_id);
	if (done) {
		log_info("task %s (%s) repeated: sending its result again", t->task_id, t->action);
		send_msg(a, done);
		msg_release(m);
		return;
	}
	if (task_in_flight(a, t->task_id)) {
		log_info("task %s (%s) repeated while it runs: ignored", t->task_id, t->action);
		msg_release(m);
		return;
	}
	log_info("task %s: %s instance %s", t->task_id, t->action, t->resource_id);
	struct slot *s = slot_find(a, t->resource_id);
	if (!s)
		s = slot_add(a, vm_new(&a->ctx, t->resource_id));
	struct job *j = xcalloc(1, sizeof(*j));
	j->a = a;
	j->slot = s;
	j->task = *m; /* ownership moves into the job */
	memset(m, 0, sizeof(*m));
	*s->queue_tail = j;
	s->queue_tail = &j->next;
	dispatch(a);
}

static void on_dealer(struct compute_agent *a)
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
		else
			log_warn("unexpected %s from the scheduler", msg_kind_name(m.kind));
		msg_release(&m);
	}
}

/* Socket monitor: every completed handshake (first connect, or a reconnect after the
 * scheduler restarted) is answered with a hello. */
static void on_monitor(struct compute_agent *a)
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
		} else if (event == ZMQ_EVENT_DISCONNECTED) {
			log_warn("scheduler connection lost; reconnecting");
		}
	}
}

/* Liveness checks and console tails, once per tick. */
static void tick(struct compute_agent *a)
{
	for (struct slot *s = a->slots; s; s = s->next) {
		char why[256];
		if (!s->running && a->drv->check(&a->ctx, s->vm, why, sizeof(why)))
			send_event(a, s->vm, why);
		send_console(a, s);
	}
}

/* ---- setup --------------------------------------------------------------------- */

static void capacity_measure(struct compute_agent *a)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	struct statvfs vfs;
	a->vcpus = a->conf->vcpus ? a->conf->vcpus : (int)(cpus > 0 ? cpus : 1);
	a->ram_mb =
	    a->conf->ram_mb ? a->conf->ram_mb : (int)((long long)pages * psize / (1024 * 1024));
	if (a->conf->disk_gb)
		a->disk_gb = a->conf->disk_gb;
	else if (statvfs(a->conf->state_dir, &vfs) == 0)
		a->disk_gb = (int)((unsigned long long)vfs.f_blocks * vfs.f_frsize >> 30);
}

/* Re-attaches to every instance directory under instances/. */
static void instances_scan(struct compute_agent *a)
{
	DIR *d = opendir(a->ctx.instances_dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!uuid_is_valid(e->d_name))
			continue;
		struct vm *vm = vm_new(&a->ctx, e->d_name);
		if (a->drv->attach(&a->ctx, vm) < 0) {
			log_warn("ignoring %s: not an instance (no spec.json)", vm->dir);
			vm_free(vm);
			continue;
		}
		char state[MSG_STATE_MAX];
		vm_get(vm, state);
		log_info("instance %s: %s", vm->id, state);
		slot_add(a, vm);
	}
	closedir(d);
}

struct compute_agent *compute_agent_new(const struct compute_conf *conf, struct priv *priv,
                                        char *err, size_t errlen)
{
	struct compute_agent *a = xcalloc(1, sizeof(*a));
	a->conf = conf;
	a->done_fd = -1;
	a->done_tail = &a->done;
	pthread_mutex_init(&a->done_lock, NULL);
	a->conbuf = xmalloc(MSG_CONSOLE_MAX + 1);
	a->drv = vm_driver_find(conf->driver);
	a->ctx.conf = conf;
	a->ctx.priv = priv;
	a->ctx.instances_dir = xasprintf("%s/instances", conf->state_dir);
	a->ctx.tmp_dir = xasprintf("%s/tmp", conf->state_dir);
	char *images = xasprintf("%s/images", conf->state_dir);
	int rc;

	if (!a->drv) {
		snprintf(err, errlen, "unknown driver %s", conf->driver);
		goto fail;
	}
	if (!priv && !strcmp(a->drv->name, "qemu")) {
		snprintf(err, errlen,
		         "the qemu driver needs the privileged helper: start "
		         "nubo-compute as root (it drops to %s itself)",
		         "nubo");
		goto fail;
	}
	/* tmp/ holds only scratch files of this agent (config drive trees, the probe):
	 * whatever an earlier run left there is garbage */
	fs_remove_tree(a->ctx.tmp_dir);
	if ((rc = fs_mkdir_p(a->ctx.instances_dir, 0700)) < 0 ||
	    (rc = fs_mkdir_p(a->ctx.tmp_dir, 0700)) < 0) {
		snprintf(err, errlen, "%s: %s", conf->state_dir, strerror(-rc));
		goto fail;
	}
	a->ctx.images =
	    image_cache_new(images, conf->agent_key, conf->max_image_bytes, err, errlen);
	if (!a->ctx.images)
		goto fail;
	a->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->done_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	if (!strcmp(a->drv->name, "qemu"))
		strcpy(a->accel, accel_choose(conf->accel, conf->qemu, a->ctx.tmp_dir));
	else
		strcpy(a->accel, "tcg"); /* nothing is accelerated; the bus wants a word */
	a->ctx.accel = a->accel;
	capacity_measure(a);
	instances_scan(a);
	free(images);
	return a;
fail:
	free(images);
	compute_agent_free(a);
	return NULL;
}

static int bus_open(struct compute_agent *a)
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
	if (zmq_socket_monitor(a->dealer, MONITOR_URL,
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED) < 0 ||
	    zmq_connect(a->mon, MONITOR_URL) < 0)
		return -errno;
	if (zmq_connect(a->dealer, a->conf->scheduler_url) < 0)
		return -errno;
	return 0;
}

int compute_agent_run(struct compute_agent *a, volatile sig_atomic_t *stop)
{
	int rc = bus_open(a);
	if (rc < 0) {
		log_err("bus %s: %s", a->conf->scheduler_url, zmq_strerror(-rc));
		return rc;
	}
	log_info("host %s (%s, %d vCPUs, %d MiB, %d GiB), scheduler %s, driver %s", a->conf->host,
	         a->accel, a->vcpus, a->ram_mb, a->disk_gb, a->conf->scheduler_url, a->drv->name);
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
			tick(a);
			next_tick = now + TICK_MS;
		}
		if (now >= next_hb) {
			send_hello(a, ++a->beats % HELLO_EVERY ? MSG_HEARTBEAT : MSG_HELLO);
			next_hb = now + hb_ms;
		}
	}
	if (a->workers)
		log_warn("exiting with %d task(s) unfinished; the scheduler will re-send them",
		         a->workers);
	return 0;
}

void compute_agent_free(struct compute_agent *a)
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
	while (a->slots)
		slot_remove(a, a->slots);
	for (size_t i = 0; i < RECENT_MAX; i++)
		msg_release(&a->recent[i]);
	if (a->done_fd >= 0)
		close(a->done_fd);
	image_cache_free(a->ctx.images);
	free(a->ctx.instances_dir);
	free(a->ctx.tmp_dir);
	pthread_mutex_destroy(&a->done_lock);
	free(a->conbuf);
	free(a);
}

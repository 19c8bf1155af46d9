/* NBD exports served by qemu-storage-daemon (see export.h). */
#include "export.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "pool.h"
#include "proc.h"
#include "qemu_img.h"
#include "util.h"
#include "xalloc.h"

#define START_WAIT_MS 10000   /* until the daemon listens */
#define START_POLL_MS 10      /* its start takes 40-190 ms: a finer poll answers sooner */
#define STOP_WAIT_MS 5000     /* after SIGTERM, before SIGKILL */
#define RESTART_QUIET_MS 5000 /* a dead daemon is started again at most this often */

struct export
{
	char volume_id[UUID_STR_LEN];
	char attachment[UUID_STR_LEN];
	int port;
	pid_t pid;
	int64_t restarted; /* time_mono_ms() of its last spawn: a clock step changes nothing */
	/* a start or stop of its daemon is under way outside the lock (they wait seconds):
	 * a start or stop of the same export waits on idle, the check skips it, and the
	 * list (the heartbeat) goes on (review s9 L2) */
	int busy;
	/* exports_check started its daemon again at this time_mono_ms() and has not yet seen it
	 * listen (0: not so): the check runs on the agent's main loop, beside the
	 * heartbeat, so it never waits for a daemon */
	int64_t starting;
	/* a copy holds its daemon's monitor (one client at a time): another take of it
	 * waits on idle; a start or stop does not wait for it (a detach fails the copy) */
	int copying;
};

struct exports {
	char *pool; /* pool, vols, address and the port range never change after exports_open */
	const struct pool *vols; /* where a volume's file or device is (borrowed) */
	char address[MSG_ADDR_MAX];
	int port_min, port_max;
	pthread_mutex_t lock; /* over e, n and each row's fields; held for no wait */
	pthread_cond_t idle;  /* signalled when a row stops being busy or copying (monotonic) */
	int monitor_wait_ms;  /* how long a copy waits for another's monitor */
	struct export e[EXPORT_MAX];
	int n;
};

/* ---- argv (pure) ---------------------------------------------------------------- */

static int has_comma(const char *s)
{
	return strchr(s, ',') != NULL;
}

char **export_argv_new(const struct export_def *d)
{
	struct in_addr in;
	if (!d->volume_file || !d->psk_dir || !d->address || !d->name || d->volume_file[0] != '/' ||
	    d->psk_dir[0] != '/' || has_comma(d->volume_file) || has_comma(d->psk_dir) ||
	    inet_pton(AF_INET, d->address, &in) != 1 || d->port < 1 || d->port > 65535 ||
	    !uuid_is_valid(d->name) || !qemu_img_path_protocol(d->volume_format, d->volume_file))
		return NULL;
	if (d->monitor && (d->monitor[0] != '/' || has_comma(d->monitor) ||
	                   strlen(d->monitor) >= EXPORT_MONITOR_MAX))
		return NULL;
	char **v = xcalloc(16, sizeof(*v));
	int n = 0;
	v[n++] = xstrdup("qemu-storage-daemon");
	/* first: the daemon takes its options in order, so once the NBD port listens (what
	 * a start waits for) the monitor's socket is there too; not waiting for a client */
	if (d->monitor) {
		v[n++] = xstrdup("--chardev");
		v[n++] = xasprintf("socket,id=mon0,path=%s,server=on,wait=off", d->monitor);
		v[n++] = xstrdup("--monitor");
		v[n++] = xstrdup("chardev=mon0");
	}
	v[n++] = xstrdup("--blockdev");
	v[n++] =
	    xasprintf("driver=%s,node-name=file0,filename=%s",
	              qemu_img_path_protocol(d->volume_format, d->volume_file), d->volume_file);
	v[n++] = xstrdup("--blockdev");
	v[n++] = xasprintf("driver=%s,node-name=vol0,file=file0",
	                   d->volume_format ? d->volume_format : "qcow2");
	v[n++] = xstrdup("--object");
	v[n++] = xasprintf("tls-creds-psk,id=tls0,endpoint=server,dir=%s", d->psk_dir);
	v[n++] = xstrdup("--nbd-server");
	v[n++] = xasprintf("addr.type=inet,addr.host=%s,addr.port=%d,tls-creds=tls0", d->address,
	                   d->port);
	v[n++] = xstrdup("--export");
	v[n++] = xasprintf("type=nbd,id=exp0,node-name=vol0,name=%s,writable=on", d->name);
	return v;
}

void export_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

/* ---- files ------------------------------------------------------------------------ */

static char *state_path(const struct exports *x, const char *vid)
{
	return xasprintf("%s/exports/%s.json", x->pool, vid);
}

static char *psk_dir(const struct exports *x, const char *vid)
{
	return xasprintf("%s/exports/%s", x->pool, vid);
}

static int state_save(const struct exports *x, const struct export *e)
{
	json_t *j = json_pack("{s:s,s:i,s:i}", "attachment_id", e->attachment, "port", e->port,
	                      "pid", (int)e->pid);
	char *text = json_dumps(j, JSON_COMPACT);
	char *path = state_path(x, e->volume_id);
	int rc = fs_write_atomic(path, text, strlen(text), 0600);
	free(path);
	free(text);
	json_decref(j);
	return rc;
}

/* RFC 7919's ffdhe2048 group, the published constant TLS 1.3 also names: the daemon
 * reads it as dh-params.pem beside keys.psk. Without that file QEMU's server-side TLS
 * credentials generate new 2048-bit DH parameters at every start: 0.8 to 9 s of CPU
 * per export on a loaded host, the most of an attach's time over NBD (issue 9). */
static const char dh_params_pem[] =
    "-----BEGIN DH PARAMETERS-----\n"
    "MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz\n"
    "+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a\n"
    "87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7\n"
    "YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi\n"
    "7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD\n"
    "ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==\n"
    "-----END DH PARAMETERS-----\n";

/* Writes the daemon's key file: "<attachment>:<psk>" in a 0700 directory. */
static int psk_save(const struct exports *x, const char *vid, const char *attachment,
                    const char *psk)
{
	char *dir = psk_dir(x, vid), *path = xasprintf("%s/keys.psk", dir);
	char line[UUID_STR_LEN + MSG_PSK_LEN + 2];
	snprintf(line, sizeof(line), "%s:%s\n", attachment, psk);
	int rc = fs_mkdir_p(dir, 0700);
	if (rc == 0)
		rc = fs_write_atomic(path, line, strlen(line), 0600);
	explicit_bzero(line, sizeof(line));
	free(path);
	free(dir);
	return rc;
}

/* The monitor socket of the export of vid, or NULL when its path would not fit a unix
 * socket address (a very long pool path): that export is served without one. */
static char *monitor_path(const struct exports *x, const char *vid)
{
	char *path = xasprintf("%s/exports/%s/qmp.sock", x->pool, vid);
	if (strlen(path) < EXPORT_MONITOR_MAX)
		return path;
	free(path);
	return NULL;
}

static void files_remove(const struct exports *x, const char *vid)
{
	char *path = state_path(x, vid), *dir = psk_dir(x, vid);
	char *log = xasprintf("%s/exports/%s.log", x->pool, vid);
	fs_remove_tree(dir);
	unlink(path);
	unlink(log);
	free(log);
	free(path);
	free(dir);
}

/* ---- the daemons ------------------------------------------------------------------ */

/* 1 when e's daemon runs: a child of ours that has not exited (it may not have exec'd
 * yet; one that exited is reaped here), or an adopted process whose command line names
 * the export (pid reuse guard). */
static int daemon_alive(const struct exports *x, const struct export *e)
{
	if (e->pid <= 0)
		return 0;
	int st;
	pid_t w = waitpid(e->pid, &st, WNOHANG);
	if (w == e->pid)
		return 0;
	if (w == 0)
		return 1;
	char needle[UUID_STR_LEN + 16];
	snprintf(needle, sizeof(needle), "exports/%s", e->volume_id);
	return proc_alive(e->pid, needle);
}

static void daemon_stop(const struct exports *x, struct export *e)
{
	if (!daemon_alive(x, e))
		return;
	kill(e->pid, SIGTERM);
	for (int waited = 0; waited < STOP_WAIT_MS; waited += 50) {
		usleep(50000);
		if (!daemon_alive(x, e))
			return;
	}
	kill(e->pid, SIGKILL);
	for (int waited = 0; waited < STOP_WAIT_MS && daemon_alive(x, e); waited += 50)
		usleep(50000);
}

/* 1 when something accepts TCP connections on address:port. */
static int port_listening(const char *address, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, address, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* 1 when address:port can be bound now. */
static int port_free(const char *address, int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, address, &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0)
		return 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	int ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* Starts e's daemon, without waiting for it to listen. 0, or a negative errno with err. */
static int daemon_spawn(struct exports *x, struct export *e, char *err, size_t errlen)
{
	const char *fmt;
	char *vol = pool_locate(x->vols, POOL_VOLUME, e->volume_id, &fmt);
	char *dir = psk_dir(x, e->volume_id);
	char *log = xasprintf("%s/exports/%s.log", x->pool, e->volume_id);
	char *mon = monitor_path(x, e->volume_id);
	struct export_def d = {.volume_file = vol,
	                       .psk_dir = dir,
	                       .address = x->address,
	                       .port = e->port,
	                       .name = e->volume_id,
	                       .volume_format = fmt,
	                       .monitor = mon};
	char **argv = export_argv_new(&d);
	int rc = 0;
	if (!argv) {
		snprintf(err, errlen, "export of %s: the pool path or the address is unusable",
		         e->volume_id);
		rc = -EINVAL;
		goto out;
	}
	if (access(vol, F_OK) < 0) {
		rc = -ENOENT;
		snprintf(err, errlen, "volume %s: no such file in the pool", e->volume_id);
		goto out;
	}
	/* in daemon_spawn, not psk_save: an adopted export started again gets it too */
	char *dh = xasprintf("%s/dh-params.pem", dir);
	rc = fs_write_atomic(dh, dh_params_pem, strlen(dh_params_pem), 0600);
	free(dh);
	if (rc < 0) {
		snprintf(err, errlen, "export DH parameters file: %s", strerror(-rc));
		goto out;
	}
	unlink(log);
	if (mon)
		unlink(mon); /* a dead daemon's: the new one binds it again */
	e->pid = proc_spawn((const char *const *)argv, log);
	if (e->pid < 0) {
		rc = e->pid;
		e->pid = 0;
		snprintf(err, errlen, "qemu-storage-daemon: %s", strerror(-rc));
		goto out;
	}
	e->restarted = time_mono_ms();
	/* saved at once, not once it listens: an agent that dies meanwhile leaves a state
	 * its successor adopts (or stops), never an orphan serving with an old key */
	if ((rc = state_save(x, e)) < 0) {
		snprintf(err, errlen, "export state file: %s", strerror(-rc));
		kill(e->pid, SIGKILL); /* our child, not yet serving: gone at once, no wait */
		waitpid(e->pid, NULL, 0);
		e->pid = 0;
	}
out:
	export_argv_free(argv);
	free(vol);
	free(dir);
	free(log);
	free(mon);
	return rc;
}

/* e's daemon exited before it listened: its own words into err. */
static void daemon_exited(const struct exports *x, struct export *e, char *err, size_t errlen)
{
	char *log = xasprintf("%s/exports/%s.log", x->pool, e->volume_id);
	char words[512] = "";
	fs_read_into(log, words, sizeof(words));
	msg_sanitize_text(words, strlen(words));
	snprintf(err, errlen, "qemu-storage-daemon exited: %s",
	         words[0] ? words : "no reason given");
	e->pid = 0;
	free(log);
}

/* Starts e's daemon and waits until it listens. 0, or a negative errno with err (the
 * daemon's own words when it exited). */
static int daemon_start(struct exports *x, struct export *e, char *err, size_t errlen)
{
	int rc = daemon_spawn(x, e, err, errlen);
	for (int waited = 0; rc == 0; waited += START_POLL_MS) {
		if (!daemon_alive(x, e)) {
			daemon_exited(x, e, err, errlen);
			return -EIO;
		}
		if (port_listening(x->address, e->port))
			break;
		if (waited >= START_WAIT_MS) {
			snprintf(err, errlen,
			         "qemu-storage-daemon did not listen on %s:%d within %d s",
			         x->address, e->port, START_WAIT_MS / 1000);
			daemon_stop(x, e);
			e->pid = 0;
			return -ETIMEDOUT;
		}
		usleep(START_POLL_MS * 1000);
	}
	return rc;
}

/* ---- the table ---------------------------------------------------------------------- */

static struct export *find(struct exports *x, const char *vid)
{
	for (int i = 0; i < x->n; i++)
		if (!strcmp(x->e[i].volume_id, vid))
			return &x->e[i];
	return NULL;
}

static void drop(struct exports *x, struct export *e)
{
	*e = x->e[--x->n];
}

/* Under the lock: the row of vid once no start or stop of it is under way (waits,
 * releasing the lock meanwhile), or NULL. Rows move when one is dropped: a pointer
 * holds only until the lock is released. */
static struct export *find_idle(struct exports *x, const char *vid)
{
	struct export *e;
	while ((e = find(x, vid)) && e->busy)
		pthread_cond_wait(&x->idle, &x->lock);
	return e;
}

/* Under the lock: the row of vid, done with (its start or stop is over), updated from
 * c (the copy worked on outside the lock), or dropped when gone. */
static void settle(struct exports *x, const struct export *c, int gone)
{
	struct export *e = find(x, c->volume_id);
	if (e && gone) {
		drop(x, e);
	} else if (e) {
		e->pid = c->pid;
		e->restarted = c->restarted;
		e->busy = 0;
	}
	pthread_cond_broadcast(&x->idle);
}

/* Stops the daemon of the row e (under the lock; it is dropped): its files go, with
 * the lock released while the daemon dies. */
static void stop_unlocked(struct exports *x, struct export *e)
{
	struct export c = *e;
	e->busy = 1;
	pthread_mutex_unlock(&x->lock);
	daemon_stop(x, &c);
	files_remove(x, c.volume_id);
	pthread_mutex_lock(&x->lock);
	settle(x, &c, 1);
}

/* The lowest port of the range no export holds and nothing else has bound, or -EADDRINUSE. */
static int port_pick(struct exports *x)
{
	for (int p = x->port_min; p <= x->port_max; p++) {
		int taken = 0;
		for (int i = 0; i < x->n && !taken; i++)
			taken = x->e[i].port == p;
		if (!taken && port_free(x->address, p))
			return p;
	}
	return -EADDRINUSE;
}

/* Loads exports/<vid>.json into a new row; adopts its daemon or starts it again. */
static void adopt(struct exports *x, const char *vid)
{
	char *path = state_path(x, vid);
	json_t *j = json_load_file(path, 0, NULL);
	const char *att = json_string_value(json_object_get(j, "attachment_id"));
	int port = (int)json_integer_value(json_object_get(j, "port"));
	char err[512];
	if (!att || !uuid_is_valid(att) || port < 1 || port > 65535 || x->n >= EXPORT_MAX) {
		files_remove(x, vid); /* not one of ours, or no room: nothing can use it */
		goto out;
	}
	struct export *e = &x->e[x->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->volume_id, sizeof(e->volume_id), "%s", vid);
	snprintf(e->attachment, sizeof(e->attachment), "%s", att);
	e->port = port;
	e->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	if (!daemon_alive(x, e)) {
		e->pid = 0;
		if (daemon_start(x, e, err, sizeof(err)) == 0)
			state_save(x, e);
		/* else: exports_check tries again; the scheduler stops it if unwanted */
	} else if (!port_listening(x->address, e->port)) {
		/* spawned by an agent that died before it listened (its state is saved at
		 * once): exports_check watches it come up, or kills it after 10 s */
		e->starting = time_mono_ms();
	}
out:
	json_decref(j);
	free(path);
}

struct exports *exports_open(const struct pool *vols, const char *address, int port_min,
                             int port_max, char *err, size_t errlen)
{
	struct in_addr in;
	const char *pool_dir = vols->dir;
	if (inet_pton(AF_INET, address, &in) != 1 || port_min < 1 || port_max > 65535 ||
	    port_min > port_max) {
		snprintf(err, errlen, "storage.export_address or export ports: not usable");
		return NULL;
	}
	struct exports *x = xcalloc(1, sizeof(*x));
	x->pool = xstrdup(pool_dir);
	x->vols = vols;
	snprintf(x->address, sizeof(x->address), "%s", address);
	x->port_min = port_min;
	x->port_max = port_max;
	pthread_mutex_init(&x->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->idle, &ca);
	pthread_condattr_destroy(&ca);
	x->monitor_wait_ms = EXPORT_MONITOR_WAIT_MS;
	char *dir = xasprintf("%s/exports", pool_dir);
	int rc = fs_mkdir_p(dir, 0700);
	DIR *d = rc == 0 ? opendir(dir) : NULL;
	if (!d) {
		snprintf(err, errlen, "%s: %s", dir, strerror(rc < 0 ? -rc : errno));
		free(dir);
		exports_free(x);
		return NULL;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		char vid[UUID_STR_LEN];
		if (n != UUID_STR_LEN - 1 + 5 || strcmp(de->d_name + UUID_STR_LEN - 1, ".json"))
			continue;
		snprintf(vid, sizeof(vid), "%.*s", UUID_STR_LEN - 1, de->d_name);
		if (uuid_is_valid(vid))
			adopt(x, vid);
	}
	closedir(d);
	free(dir);
	return x;
}

/* Under the lock, for exports_check: how the daemon exports_check started again for
 * e is doing. 1 when it listens now (its state saved), 0 while it may yet, -1 when it
 * failed (exited, or did not listen within START_WAIT_MS: killed), with err. */
static int check_starting(struct exports *x, struct export *e, int64_t now, char *err,
                          size_t errlen)
{
	if (!daemon_alive(x, e)) {
		daemon_exited(x, e, err, errlen);
		e->starting = 0;
		return -1;
	}
	if (port_listening(x->address, e->port)) {
		e->starting = 0;
		state_save(x, e);
		return 1;
	}
	if (now - e->starting < START_WAIT_MS)
		return 0;
	/* it never listened, so no client has written through it: no need to wait */
	snprintf(err, errlen, "qemu-storage-daemon did not listen on %s:%d within %d s", x->address,
	         e->port, START_WAIT_MS / 1000);
	kill(e->pid, SIGKILL);
	e->starting = 0;
	return -1;
}

int exports_start(struct exports *x, const char *volume_id, const char *attachment, const char *psk,
                  char *host, int *port, char *err, size_t errlen)
{
	int rc = 0;
	if (!uuid_is_valid(volume_id) || !uuid_is_valid(attachment) || !psk ||
	    strlen(psk) != MSG_PSK_LEN - 1 || strspn(psk, "0123456789abcdef") != MSG_PSK_LEN - 1) {
		snprintf(err, errlen, "an export needs a volume id, an attachment id and a key");
		return -EINVAL;
	}
	pthread_mutex_lock(&x->lock);
	struct export *e = find_idle(x, volume_id);
	char why[512];
	/* one exports_check started again: when it listens by now it is kept (a client may
	 * already be connected to it again), not made again */
	if (e && e->starting)
		check_starting(x, e, time_mono_ms(), why, sizeof(why));
	if (e && !strcmp(e->attachment, attachment) && daemon_alive(x, e) && !e->starting) {
		snprintf(host, MSG_ADDR_MAX, "%s", x->address); /* an earlier run of this task */
		*port = e->port;
		goto out;
	}
	if (e) /* another attachment's, or dead: made again */
		stop_unlocked(x, e);
	if ((e = find(x, volume_id))) { /* another start of it came first meanwhile */
		pthread_mutex_unlock(&x->lock);
		return exports_start(x, volume_id, attachment, psk, host, port, err, errlen);
	}
	if (x->n >= EXPORT_MAX) {
		snprintf(err, errlen, "this storage host serves %d exports already", EXPORT_MAX);
		rc = -ENOSPC;
		goto out;
	}
	int p = port_pick(x);
	if (p < 0) {
		snprintf(err, errlen, "no free port in %d-%d on %s", x->port_min, x->port_max,
		         x->address);
		rc = p;
		goto out;
	}
	/* the row holds its port and stays busy while its daemon starts, unlocked */
	e = &x->e[x->n++];
	memset(e, 0, sizeof(*e));
	snprintf(e->volume_id, sizeof(e->volume_id), "%s", volume_id);
	snprintf(e->attachment, sizeof(e->attachment), "%s", attachment);
	e->port = p;
	e->busy = 1;
	struct export c = *e;
	pthread_mutex_unlock(&x->lock);
	if ((rc = psk_save(x, volume_id, attachment, psk)) < 0) {
		snprintf(err, errlen, "export key file: %s", strerror(-rc));
	} else if ((rc = daemon_start(x, &c, err, errlen)) == 0 && (rc = state_save(x, &c)) < 0) {
		snprintf(err, errlen, "export state file: %s", strerror(-rc));
		daemon_stop(x, &c);
	}
	if (rc < 0)
		files_remove(x, volume_id);
	pthread_mutex_lock(&x->lock);
	settle(x, &c, rc < 0);
	if (rc == 0) {
		snprintf(host, MSG_ADDR_MAX, "%s", x->address);
		*port = c.port;
	}
out:
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int exports_stop(struct exports *x, const char *volume_id, const char *attachment, char *err,
                 size_t errlen)
{
	pthread_mutex_lock(&x->lock);
	struct export *e = find_idle(x, volume_id);
	if (e && (!attachment[0] || !strcmp(e->attachment, attachment)))
		stop_unlocked(x, e);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

int exports_monitor_take(struct exports *x, const char *volume_id, char *monitor, size_t n)
{
	int rc = 0;
	pthread_mutex_lock(&x->lock);
	struct export *e;
	/* the wait releases the lock: the heartbeat's list and other exports go on; it is
	 * bounded, so that copies of one volume cannot hold every task worker */
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += x->monitor_wait_ms / 1000;
	until.tv_nsec += (long)(x->monitor_wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	int timed_out = 0;
	while ((e = find(x, volume_id)) && (e->busy || e->copying) && !timed_out)
		timed_out = pthread_cond_timedwait(&x->idle, &x->lock, &until) == ETIMEDOUT;
	char *mon = e ? monitor_path(x, volume_id) : NULL;
	if (!e)
		rc = 0;
	else if (e->busy || e->copying)
		rc = -EBUSY;
	else if (e->starting || !daemon_alive(x, e)) /* exports_check brings it up again */
		rc = -ESRCH;
	else if (!mon || access(mon, F_OK) < 0) /* a daemon an older agent started */
		rc = -ENOTSUP;
	else if (strlcpy_checked(monitor, mon, n) < 0)
		rc = -ENOTSUP;
	else
		rc = e->copying = 1;
	pthread_mutex_unlock(&x->lock);
	free(mon);
	return rc;
}

void exports_set_monitor_wait(struct exports *x, int ms)
{
	pthread_mutex_lock(&x->lock);
	x->monitor_wait_ms = ms;
	pthread_mutex_unlock(&x->lock);
}

void exports_monitor_give(struct exports *x, const char *volume_id)
{
	pthread_mutex_lock(&x->lock);
	struct export *e = find(x, volume_id);
	if (e)
		e->copying = 0;
	pthread_cond_broadcast(&x->idle);
	pthread_mutex_unlock(&x->lock);
}

int exports_list(struct exports *x, struct msg_resource *out, int max)
{
	int n = 0;
	pthread_mutex_lock(&x->lock);
	for (int i = 0; i < x->n && n < max; i++, n++) {
		out[n].kind = MSG_RES_ATTACHMENT;
		snprintf(out[n].id, sizeof(out[n].id), "%s", x->e[i].volume_id);
		snprintf(out[n].state, sizeof(out[n].state), "%s", ATT_ATTACHED);
	}
	pthread_mutex_unlock(&x->lock);
	return n;
}

int exports_check(struct exports *x, char *err, size_t errlen)
{
	int n = 0;
	int64_t now = time_mono_ms();
	pthread_mutex_lock(&x->lock);
	for (int i = 0; i < x->n; i++) {
		struct export *e = &x->e[i];
		if (e->busy)
			continue;
		if (e->starting) {
			if (check_starting(x, e, now, err, errlen) > 0)
				n++;
			continue;
		}
		if (daemon_alive(x, e) || now - e->restarted < RESTART_QUIET_MS)
			continue;
		e->restarted = now;
		if (daemon_spawn(x, e, err, errlen) == 0)
			e->starting = now;
	}
	pthread_mutex_unlock(&x->lock);
	return n;
}

void exports_free(struct exports *x)
{
	if (!x)
		return;
	pthread_cond_destroy(&x->idle);
	pthread_mutex_destroy(&x->lock);
	free(x->pool);
	free(x);
}

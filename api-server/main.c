/* nubo-api: the HTTP front door (Identity, Compute, Image APIs). Writes desired state
 * to PostgreSQL and wakes the scheduler over ZeroMQ. */
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "api.h"
#include "http.h"
#include "http_client.h"
#include "identity/revocation.h"
#include "image/image_store.h"
#include "log.h"
#include "msg.h"
#include "bus.h"
#include "daemon.h"
#include "gate.h"
#include "xalloc.h"

static char *trimmed(const char *s)
{
	char *t = xstrdup(s);
	size_t n = strlen(t);
	while (n > 0 && t[n - 1] == '/')
		t[--n] = '\0';
	return t;
}

/* An upload interrupted by a crash leaves its temp file; nothing refers to it. */
static void remove_stale_uploads(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".upload-", 8)) {
			char *p = xasprintf("%s/%s", dir, e->d_name);
			unlink(p);
			free(p);
		}
	closedir(d);
}

/* The database pool, once PostgreSQL answers: a database that is down or still starting
 * is waited for (1 s doubling to 30 s, one log line per try) instead of exiting, so the
 * API comes up by itself when the database does. NULL only when asked to stop. */
static struct db_pool *db_wait(struct api *api, int *version, volatile sig_atomic_t *stop)
{
	long threads = conf_get_long(api->conf, "api", "threads", 8);
	const char *conninfo = conf_get(api->conf, "database", "conninfo", "");
	int size = (int)conf_get_long(api->conf, "database", "pool_size", threads + 2);
	unsigned delay = 1;
	char err[512];
	while (!*stop) {
		struct db_pool *pool = db_pool_new(conninfo, size, err, sizeof(err));
		if (pool) {
			PGconn *db = db_acquire(pool);
			*version = db_migrate(db, err, sizeof(err));
			int reachable = PQstatus(db) == CONNECTION_OK;
			db_release(pool, db);
			if (*version >= 0)
				return pool;
			db_pool_free(pool);
			if (reachable) { /* the schema itself failed: waiting will not help */
				log_err("schema: %s", err);
				return NULL;
			}
		}
		log_warn("waiting for the database (retry in %us): %s", delay, err);
		sleep(delay);
		delay = delay < 16 ? delay * 2 : 30;
	}
	return NULL;
}

/* What main() hands between the daemon's steps. */
struct api_main {
	struct api api;
	char *public_url, *internal_url;
};

static int api_conf_load(const struct conf *c, void **cfg, char *summary, size_t slen, char *err,
                         size_t errlen)
{
	struct api_main *m = xcalloc(1, sizeof(*m));
	struct api *api = &m->api;
	*cfg = m;
	api->conf = c;
	m->public_url = trimmed(conf_get(c, "api", "public_url", "http://127.0.0.1:8080"));
	m->internal_url = trimmed(conf_get(c, "api", "internal_url", m->public_url));
	api->public_url = m->public_url;
	api->internal_url = m->internal_url;
	api->region = conf_get(c, "api", "region", "RegionOne");
	api->image_dir = conf_get(c, "api", "image_dir", "/var/lib/nubo/images");
	const char *store = conf_get(c, "image", "store", "file");
	api->image_store = image_store_by_name(store);
	if (!api->image_store) {
		snprintf(err, errlen, "[image] store = %s: not file or swift", store);
		return -EINVAL;
	}
	api->agent_key = conf_get(c, "bus", "agent_key", NULL);
	api->dashboard_dir = conf_get(c, "api", "dashboard_dir", NULL);
	api->token_ttl = conf_get_long(c, "api", "token_ttl", 3600);
	api->db_wait_ms = conf_get_long(c, "database", "acquire_timeout_ms", 5000);
	api->max_image_mb = conf_get_long(c, "api", "max_image_mb", 10240);
	if (!conf_get(c, "database", "conninfo", NULL) || !api->agent_key) {
		snprintf(err, errlen, "need [database] conninfo and [bus] agent_key");
		return -EINVAL;
	}
	snprintf(summary, slen, "port %ld, public url %s", conf_get_long(c, "api", "port", 8080),
	         api->public_url);
	return 0;
}

static void api_conf_free(void *cfg)
{
	struct api_main *m = cfg;
	free(m->public_url);
	free(m->internal_url);
	free(m);
}

static int api_run(void *cfg, volatile sig_atomic_t *stop)
{
	struct api_main *m = cfg;
	struct api *api = &m->api;
	int rc = 1, v = 0;
	if (sodium_init() < 0) {
		log_err("libsodium init failed");
		return 1;
	}
	if (http_client_init() < 0) { /* the swift image store's client */
		log_err("libcurl init failed");
		return 1;
	}
	mkdir(api->image_dir, 0750);
	remove_stale_uploads(api->image_dir);
	api->db = db_wait(api, &v, stop);
	if (!api->db) {
		rc = *stop ? 0 : 1;
		goto out;
	}
	/* Bodies up to 4 MiB (a 1,000-server list, Nova's page limit, is 1.4 MB) stay in
	 * the heap: an mmap per body cost its page faults, zeroing and munmap's TLB
	 * flush every time, 85% of nubo-api's CPU for a 1,000-server list (perf; 10 ms
	 * -> 1.8 ms per request, RSS 32 MB after bench/api.sh). Larger ones come from
	 * mmap and go back to the system when freed: glibc's default raises the mmap
	 * threshold after the first free of such a block, after which the heap keeps
	 * every burst's peak. */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
	/* argon2id takes a core and 64 MiB for ~0.2 s: more at once than cores only
	 * adds latency and memory; a burst past the line is told to retry (503) */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	cores = cores < 1 ? 1 : cores;
	api->pwhash = gate_new((int)conf_get_long(api->conf, "api", "password_hashes", cores),
	                       (int)conf_get_long(api->conf, "api", "password_queue", 8 * cores));
	long tcs = conf_get_long(api->conf, "api", "token_cache_size", 4096);
	if (tcs > 0) {
		api->tokens = token_cache_new((unsigned)(tcs < 1 << 20 ? tcs : 1 << 20));
		api->revocation =
		    revocation_start(conf_get(api->conf, "database", "conninfo", ""), api->tokens);
	}
	/* reads of rarely changed tables (flavors) served from memory (issue 6) */
	if (conf_get_long(api->conf, "api", "result_cache", 1))
		db_cache_follow(conf_get(api->conf, "database", "conninfo", ""));
	api->zctx = zmq_ctx_new();
	api->wake = zmq_socket(api->zctx, ZMQ_PUSH);
	int zero = 0, hwm = 100;
	zmq_setsockopt(api->wake, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(api->wake, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_connect(api->wake, conf_get(api->conf, "bus", "wake_url", "tcp://127.0.0.1:5571"));
	pthread_mutex_init(&api->wake_lock, NULL);
	if (http_start(api) < 0) {
		log_err("cannot listen on port %ld", conf_get_long(api->conf, "api", "port", 8080));
		goto out;
	}
	log_info("listening on %s:%ld, schema v%d, public url %s",
	         conf_get(api->conf, "api", "listen_address", "0.0.0.0"),
	         conf_get_long(api->conf, "api", "port", 8080), v, api->public_url);
	while (!*stop)
		pause();
	log_info("stopping");
	http_stop();
	rc = 0;
out:
	if (api->wake)
		zmq_close(api->wake);
	if (api->zctx)
		zmq_ctx_term(api->zctx);
	revocation_stop(api->revocation);
	db_cache_stop();
	gate_free(api->pwhash);
	token_cache_free(api->tokens);
	db_pool_free(api->db);
	return rc;
}

static const struct daemon_def api_daemon = {
    .name = "nubo-api",
    .conf_load = api_conf_load,
    .conf_free = api_conf_free,
    .run = api_run,
};

int main(int argc, char **argv)
{
	return daemon_main(&api_daemon, argc, argv);
}

/* nubo-objproxy: configuration, the store, the HTTP front and its front ends. */
#include "proxy_main.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "expirer.h"
#include "http_client.h"
#include "log.h"
#include "objauth.h"
#include "store_impl.h"
#include "s3.h"
#include "swift.h"
#include "xalloc.h"

/* The front ends in match order: the S3 front end's row goes before Swift's. */
static const struct px_frontend *const frontends[] = {
    &s3_frontend,
    &swift_frontend,
};

struct objproxy_conf {
	const struct conf *conf;
	const char *listen, *ring_file, *spool_dir, *conninfo;
	long port, token_ttl, max_connections, pool_size;
	struct expirer_conf expire;
	char *identity_url;
};

static int objproxy_conf_load(const struct conf *c, void **cfg, char *summary, size_t slen,
                              char *err, size_t errlen)
{
	struct objproxy_conf *o = xcalloc(1, sizeof(*o));
	*cfg = o;
	o->conf = c;
	o->listen = conf_get(c, "objstore", "proxy_listen", "127.0.0.1");
	o->port = conf_get_long(c, "objstore", "proxy_port", 8090);
	o->ring_file = conf_get(c, "objstore", "ring_file", "/etc/nubo/object.ring");
	o->spool_dir = conf_get(c, "objstore", "spool_dir", "/var/lib/nubo/objspool");
	o->token_ttl = conf_get_long(c, "objstore", "token_cache_seconds", 60);
	o->max_connections = conf_get_long(c, "objstore", "max_connections", 512);
	o->pool_size = conf_get_long(c, "objstore", "db_pool_size", 16);
	o->expire.interval = conf_get_long(c, "objstore", "expire_interval", 10);
	o->expire.batch = conf_get_long(c, "objstore", "expire_batch", 100);
	o->expire.per_sec = conf_get_long(c, "objstore", "expire_per_sec", 100);
	o->conninfo = conf_get(c, "database", "conninfo", NULL);
	const char *api = conf_get(c, "api", "internal_url",
	                           conf_get(c, "api", "public_url", "http://127.0.0.1:8080"));
	size_t n = strlen(api);
	while (n > 0 && api[n - 1] == '/')
		n--;
	o->identity_url = xasprintf("%.*s/identity", (int)n, api);
	if (!o->conninfo) {
		snprintf(err, errlen, "need [database] conninfo");
		return -EINVAL;
	}
	if (o->port < 1 || o->port > 65535 || o->token_ttl < 0 || o->token_ttl > 3600 ||
	    o->max_connections < 1 || o->pool_size < 1 || o->pool_size > 256) {
		snprintf(err, errlen,
		         "[objstore] proxy_port, token_cache_seconds, max_connections or "
		         "db_pool_size out of range");
		return -EINVAL;
	}
	if (o->expire.interval < 1 || o->expire.interval > 86400 || o->expire.batch < 1 ||
	    o->expire.batch > STORE_EXPIRING_MAX || o->expire.per_sec < 1) {
		snprintf(err, errlen,
		         "[objstore] expire_interval (1..86400), expire_batch (1..%d) or "
		         "expire_per_sec (>= 1) out of range",
		         STORE_EXPIRING_MAX);
		return -EINVAL;
	}
	snprintf(summary, slen, "port %ld, ring %s, identity %s", o->port, o->ring_file,
	         o->identity_url);
	return 0;
}

static void objproxy_conf_free(void *cfg)
{
	struct objproxy_conf *o = cfg;
	if (o)
		free(o->identity_url);
	free(o);
}

static void access_log(struct px_req *r, int status)
{
	char peer[64];
	px_peer(r, peer, sizeof(peer));
	log_info("[%s] %s %s %s %d", px_trans_id(r), peer, px_method(r), px_raw_path(r), status);
}

static int objproxy_run(void *vcfg, volatile sig_atomic_t *stop)
{
	struct objproxy_conf *o = vcfg;
	char err[512];
	int rc = 1;
	struct db_pool *db = NULL;
	struct store *st = NULL;
	struct objauth *auth = NULL;
	struct px_server *srv = NULL;
	struct expirer *expirer = NULL;
	if (http_client_init() < 0) {
		log_err("libcurl init failed");
		return 1;
	}
	unsigned delay = 1;
	while (!*stop && !(db = db_pool_new(o->conninfo, (int)o->pool_size, err, sizeof(err)))) {
		log_warn("waiting for the database (retry in %us): %s", delay, err);
		sleep(delay);
		delay = delay < 16 ? delay * 2 : 30;
	}
	if (!db)
		return 0;
	PGconn *c = db_acquire(db);
	int v = db_migrate(c, err, sizeof(err));
	db_release(db, c);
	if (v < 0) {
		log_err("schema: %s", err);
		goto out;
	}
	struct store_config sc = {.ring_file = o->ring_file, .db = db, .spool_dir = o->spool_dir};
	delay = 1;
	while (!*stop && !(st = store_open(&sc, err, sizeof(err)))) {
		log_warn("waiting for the ring (retry in %us): %s", delay, err);
		sleep(delay);
		delay = delay < 16 ? delay * 2 : 30;
	}
	if (!st) {
		rc = 0;
		goto out;
	}
	auth = objauth_new(o->identity_url, o->token_ttl);
	swift_set_auth(auth);
	if (s3_frontend_init(o->conf, db, err, sizeof(err)) < 0)
		log_warn("S3 off: %s", err);
	srv = px_server_start(o->listen, (unsigned)o->port, st, frontends,
	                      sizeof(frontends) / sizeof(frontends[0]),
	                      (unsigned)o->max_connections, access_log);
	if (!srv) {
		log_err("cannot listen on %s:%ld", o->listen, o->port);
		goto out;
	}
	log_info("listening on %s:%ld (schema %d, identity %s)", o->listen, o->port, v,
	         o->identity_url);
	expirer = expirer_start(st, &o->expire);
	while (!*stop)
		pause();
	rc = 0;
out:
	expirer_stop(expirer);
	px_server_stop(srv);
	s3_frontend_fini();
	store_close(st);
	objauth_free(auth);
	db_pool_free(db);
	return rc;
}

const struct daemon_def objproxy_daemon = {
    .name = "nubo-objproxy",
    .conf_load = objproxy_conf_load,
    .conf_free = objproxy_conf_free,
    .run = objproxy_run,
};

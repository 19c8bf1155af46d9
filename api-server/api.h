/* The nubo-api process context shared by every handler: configuration, the database
 * pool and the scheduler wake socket. One instance, built by main.c. */
#ifndef NUBO_API_H
#define NUBO_API_H
#include <pthread.h>

#include "conf.h"
#include "db.h"

struct gate;
struct token_cache;
struct revocation;
struct image_store_ops;

struct api {
	const struct conf *conf;
	struct db_pool *db;
	struct token_cache *tokens;    /* validated tokens; NULL when [api] token_cache_size = 0 */
	struct revocation *revocation; /* follows revocation events into tokens */
	struct gate *pwhash;           /* argon2id runs: as many as cores, a short line */
	void *zctx;
	void *wake; /* PUSH to the scheduler; guarded by wake_lock */
	pthread_mutex_t wake_lock;
	const char *public_url;   /* no trailing slash */
	const char *internal_url; /* no trailing slash */
	const char *region;
	const char *image_dir;
	const struct image_store_ops *image_store; /* [image] store */
	const char *agent_key;
	const char *dashboard_dir;
	long token_ttl;
	long db_wait_ms; /* [database] acquire_timeout_ms: longest wait for a connection */
	long max_image_mb;
};

/* Tells the scheduler that new tasks wait in the outbox. Never blocks, never fails
 * visibly: the scheduler also polls. */
void api_wake_scheduler(struct api *api);

#endif

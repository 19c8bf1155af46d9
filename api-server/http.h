/* nubo-api on the shared HTTP layer (common/httpd.h): who the caller is, the state the
 * OpenStack hooks keep per request, one hook set per API family (its error shape, the
 * Compute microversions, Keystone tokens, the route's policy), and the server's start.
 * Handlers see r->ctx->api, r->ctx->auth and r->ctx->db. */
#ifndef NUBO_HTTP_H
#define NUBO_HTTP_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "httpd.h"
#include "util.h"

#define HTTP_MAX_BODY (1 << 20) /* JSON bodies; larger → 413 */

/* Role bits of the caller in the token's project. */
enum { ROLE_READER = 1, ROLE_MEMBER = 2, ROLE_ADMIN = 4 };
#define TOKEN_ROLE_LIST_MAX 640 /* struct auth's role_list: about 8 roles */

struct auth {
	int valid;
	char token_hash[65];
	char user_id[UUID_STR_LEN];
	char user_name[256];
	char project_id[UUID_STR_LEN];
	char project_name[256];
	unsigned roles;      /* ROLE_* bits */
	char expires_at[32]; /* Keystone format */
	char issued_at[32];
	/* identity (issue 7): the user's domain, a domain scope (project_id empty), the
	 * project's domain, how the token was first proved ("password", "password,totp"),
	 * and the application credential it came from (empty: none) */
	char user_domain_id[UUID_STR_LEN];
	char user_domain_name[65];
	char domain_id[UUID_STR_LEN];
	char domain_name[65];
	char project_domain_id[UUID_STR_LEN];
	char project_domain_name[65];
	char methods[64];
	char app_cred_id[UUID_STR_LEN];
	int app_cred_unrestricted;
	int system; /* a system-scoped token (identity: OS system scope) */
	/* the roles the token carries, implied ones included (and only those the
	 * application credential has, for its tokens): "id:name,id:name" */
	char role_list[TOKEN_ROLE_LIST_MAX];
	int agent; /* request carries a valid X-Nubo-Agent-Key (image downloads only) */
};

/* Route flags of nubo-api: an agent key may stand in for a token; a token limited to
 * the object store (common/objtoken.h) may validate itself (the object store's proxy
 * asks Keystone so). */
enum { ROUTE_AGENT_OK = HTTPD_APP_FLAG, ROUTE_SELF_TOKEN_OK = HTTPD_APP_FLAG << 1 };

/* What nubo-api's hooks keep per request (completes common/httpd.h's struct). */
struct req_ctx {
	struct api *api;
	struct auth auth;
	PGconn *db;             /* borrowed while a phase of the request runs */
	int mv_major, mv_minor; /* negotiated compute microversion */
};

/* The hook sets of the API families: error shape, microversions, authentication. */
extern const struct httpd_hooks identity_hooks; /* Keystone's {"error": {...}} */
extern const struct httpd_hooks compute_hooks;  /* Nova's {"itemNotFound": {...}} */
extern const struct httpd_hooks image_hooks;    /* Glance: as Keystone */
extern const struct httpd_hooks network_hooks;  /* Neutron's {"NeutronError": {...}} */
extern const struct httpd_hooks volume_hooks;   /* Cinder's {"itemNotFound": {...}} */

/* Answers a failed database statement: 503 with Retry-After when the database is
 * unreachable, else 500. Logs err once with the request id. */
void resp_db_error(struct req *r, struct resp *w, const char *err);

/* The tail of a handler that queued outbox tasks: commits r's transaction, wakes the
 * scheduler and answers status with body (taken; NULL: no body). A failed commit is
 * answered as resp_db_error ("commit failed"), body dropped, and returns -EIO. */
int resp_commit_wake(struct req *r, struct resp *w, int status, json_t *body);

/* Runs the server on [api] listen_address:port until http_stop(). 0 or -errno. */
int http_start(struct api *api);
void http_stop(void);

#endif

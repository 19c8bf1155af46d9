/* nubo-api's hooks on the shared HTTP layer: per-request state (database connection,
 * caller), Keystone token and agent-key authentication, the typed policy, Compute
 * microversions, and the error body each OpenStack service's clients expect. */
#include "http.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/microversion.h"
#include "volume/volume_version.h"
#include "identity/revocation.h"
#include "identity/token.h"
#include "log.h"
#include "policy.h"
#include "routes.h"
#include "xalloc.h"

#define RETRY_AFTER "5" /* seconds a client should wait while the database is away */

static struct httpd *server;

/* ---- error shapes ---- */

static const struct {
	int code;
	const char *nova_key;
} nova_keys[] = {
    {400, "badRequest"},         {401, "unauthorized"},   {403, "forbidden"},
    {404, "itemNotFound"},       {405, "notAllowed"},     {406, "notAcceptable"},
    {409, "conflictingRequest"}, {413, "overLimit"},      {415, "badMediaType"},
    {500, "computeFault"},       {501, "notImplemented"}, {503, "serviceUnavailable"},
};

static const char *nova_key(int status)
{
	for (size_t i = 0; i < sizeof(nova_keys) / sizeof(nova_keys[0]); i++)
		if (nova_keys[i].code == status)
			return nova_keys[i].nova_key;
	return status < 500 ? "badRequest" : "computeFault";
}

/* 401s tell the client where to get a token, as Keystone's middleware does. */
static void unauthorized_header(struct req *r, struct resp *w, int status)
{
	if (status == 401 && r->app) {
		const struct api *api = r->app;
		char *v = xasprintf("Keystone uri=\"%s/identity\"", api->public_url);
		resp_header(w, "WWW-Authenticate", v);
		free(v);
	}
}

/* Keystone and Glance: {"error": {"code", "title", "message"}}. */
static void render_keystone(struct req *r, struct resp *w, int status, const char *type,
                            const char *msg)
{
	const char *title = httpd_status_title(status);
	json_t *body =
	    json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "title", title, "message", msg);
	if (!body) /* msg echoed bytes that are not UTF-8, or was cut inside a character */
		body = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "title", title,
		                 "message", title);
	resp_json(w, status, body);
	unauthorized_header(r, w, status);
}

/* Nova: {"<fault key>": {"code", "message"}}. */
static void render_nova(struct req *r, struct resp *w, int status, const char *type,
                        const char *msg)
{
	const char *key = nova_key(status);
	json_t *body = json_pack("{s:{s:i,s:s}}", key, "code", status, "message", msg);
	if (!body)
		body = json_pack("{s:{s:i,s:s}}", key, "code", status, "message",
		                 httpd_status_title(status));
	resp_json(w, status, body);
	unauthorized_header(r, w, status);
}

/* Neutron: {"NeutronError": {"type", "message", "detail"}}. */
static void render_neutron(struct req *r, struct resp *w, int status, const char *type,
                           const char *msg)
{
	if (!type) /* Neutron names the fault class; without one, the HTTP reason */
		type = httpd_status_title(status);
	json_t *body = json_pack("{s:{s:s,s:s,s:s}}", "NeutronError", "type", type, "message", msg,
	                         "detail", "");
	if (!body)
		body = json_pack("{s:{s:s,s:s,s:s}}", "NeutronError", "type",
		                 httpd_status_title(status), "message", httpd_status_title(status),
		                 "detail", "");
	resp_json(w, status, body);
	unauthorized_header(r, w, status);
}

/* ---- per-request state ---- */

static int ctx_begin(struct req *r, struct resp *w)
{
	r->ctx = xcalloc(1, sizeof(*r->ctx));
	r->ctx->api = r->app;
	r->ctx->mv_major = 2;
	r->ctx->mv_minor = 1;
	return 0;
}

static void ctx_end(struct req *r)
{
	free(r->ctx);
	r->ctx = NULL;
}

static int ctx_enter(struct req *r, struct resp *w)
{
	log_set_requests(r->id, r->global_id[0] ? r->global_id : NULL);
	/* every connection busy for this long: the database is the bottleneck, and
	 * queueing more requests behind it only makes all of them late */
	r->ctx->db = db_acquire_timed(r->ctx->api->db, r->ctx->api->db_wait_ms);
	if (!r->ctx->db) {
		resp_error(r, w, 503, "The service is busy; retry later.");
		resp_header(w, "Retry-After", "1");
		log_set_request(NULL);
		return -EAGAIN;
	}
	return 0;
}

static void ctx_leave(struct req *r)
{
	/* A write may have revoked tokens (the database's triggers recorded it): apply
	 * that here, before the answer leaves, so this process's next request sees it
	 * without waiting for the notification its follower gets. */
	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD") && r->ctx->db)
		revocation_catch_up(r->ctx->api->revocation, r->ctx->db);
	db_release(r->ctx->api->db, r->ctx->db);
	r->ctx->db = NULL;
	log_set_request(NULL);
}

/* The path for a log line: the client's bytes, no control characters. */
static void url_for_log(const struct req *r, char *out, size_t n)
{
	snprintf(out, n, "%s", r->url ? r->url : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
}

static void answer_unavailable(struct req *r, struct resp *w, const char *err)
{
	char url[256];
	url_for_log(r, url, sizeof(url));
	log_err("%s %s: database unavailable: %s", r->method, url, err);
	resp_error(r, w, 503, "The service is temporarily unavailable; retry later.");
	resp_header(w, "Retry-After", RETRY_AFTER);
}

void resp_db_error(struct req *r, struct resp *w, const char *err)
{
	if (r->ctx && r->ctx->db && PQstatus(r->ctx->db) != CONNECTION_OK) {
		answer_unavailable(r, w, err);
		return;
	}
	char url[256];
	url_for_log(r, url, sizeof(url));
	log_err("%s %s: database: %s", r->method, url, err);
	resp_error(r, w, 500, "internal error");
}

int resp_commit_wake(struct req *r, struct resp *w, int status, json_t *body)
{
	if (db_commit(r->ctx->db) < 0) {
		json_decref(body);
		resp_db_error(r, w, "commit failed");
		return -EIO;
	}
	api_wake_scheduler(r->ctx->api);
	if (body)
		resp_json(w, status, body);
	else
		resp_empty(w, status);
	return 0;
}

/* ---- authentication and policy ---- */

static int authenticate(struct req *r, struct resp *w)
{
	struct req_ctx *c = r->ctx;
	if (r->route->policy == POL_PUBLIC) /* nobody needs to be known: no lookup */
		return 0;
	const char *key = req_header(r, "X-Nubo-Agent-Key");
	if (key && c->api->agent_key && strlen(key) == strlen(c->api->agent_key) &&
	    sodium_memcmp(key, c->api->agent_key, strlen(key)) == 0) {
		c->auth.agent = 1;
		return 0;
	}
	const char *tok = req_header(r, "X-Auth-Token");
	if (!tok || !*tok || strlen(tok) >= 512)
		return 0;
	char err[256] = "";
	if (token_validate(c->db, c->api->tokens, tok, &c->auth, err, sizeof(err)) == -EIO) {
		answer_unavailable(r, w, err);
		return -EAGAIN;
	}
	/* a token a storage agent holds for a backup opens the object store, not us */
	if (c->auth.valid &&
	    policy_token_limit_check(tok, req_header(r, "X-Subject-Token"), r->route->flags) < 0) {
		resp_error(r, w, 403, "This token is limited to the object store.");
		return -EACCES;
	}
	return 0;
}

static int authorize(struct req *r, struct resp *w)
{
	struct req_ctx *c = r->ctx;
	if (c->auth.agent && (r->route->flags & ROUTE_AGENT_OK))
		return 0;
	int pc = policy_check(r->route->policy, &c->auth);
	if (pc == -EPERM) {
		resp_error(r, w, 401, "The request you have made requires authentication.");
		return pc;
	}
	if (pc < 0) {
		const char *name = policy_name(r->route->policy);
		resp_error(r, w, 403, "Policy doesn't allow %s to be performed.",
		           name ? name : "this operation");
		return pc;
	}
	return 0;
}

/* Compute: the microversion asked for (compute/microversion.h) must be one we serve
 * (else Nova's 400 or 406); handlers read it from r->ctx->mv_minor, and every answer
 * says which one it is. */
static int compute_begin(struct req *r, struct resp *w)
{
	char msg[256], hdr[32];
	int minor = 1;
	ctx_begin(r, w);
	resp_header(w, "x-compute-request-id", r->id); /* Nova's name, beside the common one */
	resp_header(w, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
	int rc = microversion_parse(req_header(r, "OpenStack-API-Version"),
	                            req_header(r, "X-OpenStack-Nova-API-Version"), &minor, msg,
	                            sizeof(msg));
	if (rc < 0) {
		resp_error(r, w, rc == -ERANGE ? 406 : 400, "%s", msg);
		return rc;
	}
	r->ctx->mv_minor = minor;
	snprintf(hdr, sizeof(hdr), "2.%d", minor);
	resp_header(w, "X-OpenStack-Nova-API-Version", hdr);
	snprintf(hdr, sizeof(hdr), "compute 2.%d", minor);
	resp_header(w, "OpenStack-API-Version", hdr);
	return 0;
}

const struct httpd_hooks identity_hooks = {
    .begin = ctx_begin,
    .end = ctx_end,
    .enter = ctx_enter,
    .leave = ctx_leave,
    .authenticate = authenticate,
    .authorize = authorize,
    .render_error = render_keystone,
};

const struct httpd_hooks compute_hooks = {
    .begin = compute_begin,
    .end = ctx_end,
    .enter = ctx_enter,
    .leave = ctx_leave,
    .authenticate = authenticate,
    .authorize = authorize,
    .render_error = render_nova,
};

const struct httpd_hooks image_hooks = {
    .begin = ctx_begin,
    .end = ctx_end,
    .enter = ctx_enter,
    .leave = ctx_leave,
    .authenticate = authenticate,
    .authorize = authorize,
    .render_error = render_keystone,
};

const struct httpd_hooks network_hooks = {
    .begin = ctx_begin,
    .end = ctx_end,
    .enter = ctx_enter,
    .leave = ctx_leave,
    .authenticate = authenticate,
    .authorize = authorize,
    .render_error = render_neutron,
};

/* Cinder: Nova's shape, and an overLimit carries "retryAfter" as Cinder's does. */
static void render_cinder(struct req *r, struct resp *w, int status, const char *type,
                          const char *msg)
{
	render_nova(r, w, status, type, msg);
	json_t *inner = status == 413 && w->json ? json_object_get(w->json, "overLimit") : NULL;
	if (inner)
		json_object_set_new(inner, "retryAfter", json_string("0"));
}

/* Block Storage: the volume microversion asked for (volume/volume_version.h) must be one
 * we serve (else 400 or 406); every answer says which one it is. */
static int volume_begin(struct req *r, struct resp *w)
{
	char msg[256], hdr[32];
	int minor = 0;
	ctx_begin(r, w);
	resp_header(w, "Vary", "OpenStack-API-Version");
	int rc =
	    volume_version_parse(req_header(r, "OpenStack-API-Version"), &minor, msg, sizeof(msg));
	if (rc < 0) {
		resp_error(r, w, rc == -ERANGE ? 406 : 400, "%s", msg);
		return rc;
	}
	r->ctx->mv_major = 3;
	r->ctx->mv_minor = minor;
	snprintf(hdr, sizeof(hdr), "volume 3.%d", minor);
	resp_header(w, "OpenStack-API-Version", hdr);
	return 0;
}

const struct httpd_hooks volume_hooks = {
    .begin = volume_begin,
    .end = ctx_end,
    .enter = ctx_enter,
    .leave = ctx_leave,
    .authenticate = authenticate,
    .authorize = authorize,
    .render_error = render_cinder,
};

/* Outside every route (404, 405, a NUL in the path): the Keystone shape. */
static const struct httpd_hooks fallback_hooks = {.render_error = render_keystone};

static void on_answer(struct req *r, int status)
{
	char url[256];
	url_for_log(r, url, sizeof(url));
	log_debug("%s %s %s -> %d", r->id, r->method ? r->method : "?", url, status);
}

static struct httpd_config config;

int http_start(struct api *api)
{
	const struct conf *cf = api->conf;
	config = (struct httpd_config){
	    .listen_address = conf_get(cf, "api", "listen_address", "0.0.0.0"),
	    .port = (unsigned)conf_get_long(cf, "api", "port", 8080),
	    .threads = (unsigned)conf_get_long(cf, "api", "threads", 8),
	    .max_connections = (unsigned)conf_get_long(cf, "api", "max_connections", 1000),
	    .max_connections_per_ip =
	        (unsigned)conf_get_long(cf, "api", "max_connections_per_ip", 64),
	    .idle_timeout = (unsigned)conf_get_long(cf, "api", "idle_timeout", 15),
	    .header_timeout = (unsigned)conf_get_long(cf, "api", "header_timeout", 10),
	    .max_body = HTTP_MAX_BODY,
	    .max_stream = (uint64_t)api->max_image_mb << 20,
	    .stream_dir = api->image_dir,
	    .request_id_header = "x-openstack-request-id",
	    .tables = routes_all,
	    .ntables = routes_count,
	    .fallback = &fallback_hooks,
	    .app = api,
	    .on_answer = on_answer,
	};
	int err = 0;
	server = httpd_start(&config, &err);
	return server ? 0 : err;
}

void http_stop(void)
{
	httpd_stop(server);
	server = NULL;
}

/* One HTTP layer for every Nubo API, on libmicrohttpd: static route tables, bounded JSON
 * bodies and streamed bodies, request ids, connection limits and timeouts, and per-table
 * hooks for what differs between APIs (authentication, policy, the error shape). Nothing
 * in here knows Keystone, Nova or Glance; the application completes struct req_ctx with
 * the per-request state its hooks keep (a database connection, the caller's identity).
 * Handlers fill a struct resp; they never touch MHD. This file never logs. */
#ifndef NUBO_HTTPD_H
#define NUBO_HTTPD_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define HTTPD_MAX_PARAMS 4                  /* captured {} path segments */
#define HTTPD_ADDRS_MAX 4                   /* listen addresses */
#define HTTPD_MAX_HEADERS 8                 /* response headers a request may add */
#define HTTPD_REQUEST_ID_LEN REQUEST_ID_LEN /* "req-" + UUID + NUL */

/* Completed by the application (api-server/http.h): what its hooks keep per request. */
struct req_ctx;
struct httpd;
struct httpd_table;
struct httpd_route;

struct req {
	const char *method;
	const char *url;                      /* path as received, URL-decoded */
	const char *params[HTTPD_MAX_PARAMS]; /* captured {} segments */
	int nparams;
	const char *body; /* NUL-terminated, body_len bytes (not for HTTPD_STREAM_BODY) */
	size_t body_len;
	json_t *json;            /* parsed body or NULL (borrowed) */
	const char *upload_path; /* HTTPD_STREAM_BODY: temp file holding the body */
	uint64_t upload_len;
	char id[HTTPD_REQUEST_ID_LEN]; /* request id, also sent back in a header */
	/* the global request id another service sent (X-OpenStack-Request-ID, when it
	 * is a well-formed "req-<uuid>"), else "" */
	char global_id[HTTPD_REQUEST_ID_LEN];
	const struct httpd_table *table;
	const struct httpd_route *route;
	struct httpd *server; /* the server answering r */
	void *app;            /* httpd_config.app */
	struct req_ctx *ctx;  /* set by the table's begin hook */
	void *conn;           /* MHD connection (httpd.c only) */
};

struct resp {
	int status;
	json_t *json; /* owned; serialised as the body */
	char *text;   /* owned raw body when json is NULL */
	size_t text_len;
	const char *content_type;
	int fd; /* file body (owned; closed after sending), -1 when unused */
	uint64_t fd_len;
	char *hname[HTTPD_MAX_HEADERS], *hval[HTTPD_MAX_HEADERS];
	int nheaders;
};

typedef void (*httpd_handler_fn)(struct req *r, struct resp *w);

/* Route flags; bits from HTTPD_APP_FLAG up are the application's (its hooks read them). */
enum {
	HTTPD_STREAM_BODY = 1, /* body goes to a temp file (req->upload_path), not memory */
	HTTPD_RAW_BODY = 2,    /* body is not JSON: kept in memory but not parsed */
	HTTPD_APP_FLAG = 1 << 8,
};

struct httpd_route {
	const char *method;  /* "GET", "POST", ... ("HEAD" is served by GET routes) */
	const char *pattern; /* "/compute/v2.1/servers/{}"; "{}" captures one segment */
	httpd_handler_fn fn;
	unsigned policy; /* meaning defined by the table's authorize hook */
	unsigned flags;
	/* HTTPD_STREAM_BODY only, optional: runs after authorize and before a byte of the
	 * body is stored; returns 0 when this caller may send it, else a negative errno
	 * after answering w. The body is then read and dropped and fn never runs. */
	int (*may_stream)(struct req *r, struct resp *w);
};

/* What differs between APIs. Every hook is optional. Hooks that answer fill w (with
 * resp_error) and return a negative errno; the request then ends with that answer. */
struct httpd_hooks {
	/* First, once a route matched: set r->ctx and any header every answer carries
	 * (e.g. a negotiated API version). */
	int (*begin)(struct req *r, struct resp *w);
	/* Last, always when begin ran (even when it failed): release r->ctx. */
	void (*end)(struct req *r);
	/* Around each phase that runs code (the checks before the body, then the handler):
	 * borrow and return what the phase needs (a database connection). */
	int (*enter)(struct req *r, struct resp *w);
	void (*leave)(struct req *r);
	/* Identifies the caller from the request's credentials (absent credentials are not
	 * an error: authorize decides). 0, or a negative errno after answering w (503 when
	 * the identity store is unreachable). It runs before the body is read, so that a
	 * refused caller's body is never stored; an authenticator that also signs the body
	 * (SigV4's payload hash) checks that part in enter of the handler phase, the first
	 * call where r->body is set. */
	int (*authenticate)(struct req *r, struct resp *w);
	/* Applies r->route->policy: 0, or a negative errno after answering w (401/403). */
	int (*authorize)(struct req *r, struct resp *w);
	/* Fills w with an error body in this API's shape. type is a machine-readable error
	 * name (e.g. Neutron's "NetworkNotFound") or NULL; msg is UTF-8 or arbitrary bytes
	 * (the renderer must cope). Without it the body is {"error": {code, title, message}}. */
	void (*render_error)(struct req *r, struct resp *w, int status, const char *type,
	                     const char *msg);
};

struct httpd_table {
	const struct httpd_route *routes;
	size_t n;
	const struct httpd_hooks *hooks;
};
#define HTTPD_TABLE(name, arr, hooksp)                                                             \
	const struct httpd_table name = {arr, sizeof(arr) / sizeof(arr[0]), hooksp}

struct httpd_config {
	const char *listen_address; /* IPv4 literals, comma-separated, at most HTTPD_ADDRS_MAX */
	unsigned port;
	unsigned threads;
	unsigned max_connections;        /* all clients, shared by the addresses */
	unsigned max_connections_per_ip; /* one client address */
	unsigned idle_timeout;           /* seconds without a byte before a connection ends */
	unsigned header_timeout;         /* seconds from connection (or the end of the last
	                                  * request) to the end of the next request's headers */
	size_t max_body;                 /* JSON/raw bodies; larger is 413 */
	uint64_t max_stream;             /* streamed bodies; larger is 413 */
	const char *stream_dir;          /* where streamed bodies are stored */
	const char *request_id_header;   /* e.g. "x-openstack-request-id" */
	const struct httpd_table *const *tables; /* searched in order */
	size_t ntables;
	const struct httpd_hooks *fallback; /* error shape of 400/404/405 outside a route */
	void *app;                          /* req->app */
	/* Called after every answer (access log; may log: it is the application's). */
	void (*on_answer)(struct req *r, int status);
};

/* Starts serving cfg (which must outlive the server; tables too) on internal threads,
 * one listener per listen address (all on one port: the first's when cfg->port is 0).
 * Returns the server, or NULL with -errno in *err (-EINVAL: a bad address list). */
struct httpd *httpd_start(const struct httpd_config *cfg, int *err);
/* Stops serving and frees h (NULL is fine). */
void httpd_stop(struct httpd *h);
/* The port h listens on (useful with port 0). */
unsigned httpd_port(const struct httpd *h);

/* Query-string value of key (URL-decoded, borrowed) or NULL. */
const char *req_query(struct req *r, const char *key);
/* Every value of key in the query string, in order ("fields=id&fields=name"), at most
 * max of them into out (borrowed). Returns how many. */
int req_query_all(struct req *r, const char *key, const char **out, int max);
/* Every key=value of the query string, in order, at most max of them into keys and
 * vals (borrowed; a key without a value has a NULL value). Returns how many there are
 * in all, which may be more than max. */
int req_query_pairs(struct req *r, const char **keys, const char **vals, int max);
/* 1 when the query string names key, with a value or without one ("?effective" alone,
 * for which req_query answers NULL), else 0. */
int req_query_has(struct req *r, const char *key);
/* Request header value (borrowed) or NULL. */
const char *req_header(struct req *r, const char *name);
/* The id that follows r into other services (the bus, the agents' logs): the global
 * id the caller sent, else r's own. */
const char *req_trace_id(const struct req *r);
/* The client's address as text into out (INET6_ADDRSTRLEN is enough). */
void req_peer(struct req *r, char *out, size_t n);

/* Response helpers. resp_json steals j. */
void resp_json(struct resp *w, int status, json_t *j);
/* Sends the JSON text written into jw (its buffer is taken; jw is empty after). */
struct jsonw;
void resp_json_text(struct resp *w, int status, struct jsonw *jw);
void resp_empty(struct resp *w, int status);
/* Adds a header (copied); silently drops it past HTTPD_MAX_HEADERS. */
void resp_header(struct resp *w, const char *name, const char *value);
/* An error in the shape of r's table (render_error hook), status 400..599. */
void resp_error(struct req *r, struct resp *w, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same with a machine-readable type (Neutron's "type", S3's "Code"). */
void resp_error_typed(struct req *r, struct resp *w, int status, const char *type, const char *msg);
/* Adds a header to an MHD response, 0 or -EINVAL (MHD refused it). An empty value
 * (Swift keeps and returns "X-Object-Meta-K: ") is sent as one space: libmicrohttpd
 * 0.9.75 refuses "", and HTTP strips the whitespace around a field value (RFC 9110
 * 5.5), so every client reads "". For the layers that build MHD responses themselves
 * (the object store's proxy and servers). */
struct MHD_Response;
int httpd_mhd_header(struct MHD_Response *mr, const char *name, const char *value);
/* The standard reason phrase of status ("Not Found"), "Error" when unknown. */
const char *httpd_status_title(int status);

/* Pure: matches url against pattern, filling params (pointers into scratch, which must
 * be a writable copy of url). Returns 1 on match. A trailing slash on the url matches
 * only patterns of at most two segments (service and version documents). */
int httpd_route_match(const char *pattern, char *scratch, const char *params[], int *nparams);

#endif

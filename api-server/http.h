/* The HTTP layer of nubo-api: libmicrohttpd glue, a route table per resource, body
 * limits, authentication and policy before any handler runs, and the error body shape
 * each OpenStack service's clients expect. Handlers fill a struct resp; they never
 * touch MHD. */
#ifndef NUBO_HTTP_H
#define NUBO_HTTP_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "util.h"

#define HTTP_MAX_BODY (1 << 20) /* JSON bodies; larger → 413 */
#define HTTP_MAX_PARAMS 4	/* captured {} path segments */
#define HTTP_MAX_HEADERS 8

/* Which API a route belongs to: decides the error body shape. */
enum svc { SVC_NONE, SVC_IDENTITY, SVC_COMPUTE, SVC_IMAGE, SVC_VOLUME, SVC_NETWORK, SVC_EC2 };

/* Role bits of the caller in the token's project. */
enum { ROLE_READER = 1, ROLE_MEMBER = 2, ROLE_ADMIN = 4 };

struct auth {
	int valid;
	char token_hash[65];
	char user_id[UUID_STR_LEN];
	char user_name[256];
	char project_id[UUID_STR_LEN];
	char project_name[256];
	unsigned roles;	   /* ROLE_* bits */
	char expires_at[32]; /* Keystone format */
	char issued_at[32];
	int agent; /* request carries a valid X-Nubo-Agent-Key (image downloads only) */
};

/* Route flags. */
enum {
	ROUTE_STREAM_BODY = 1, /* body goes to a temp file (req->upload_path), not memory */
	ROUTE_RAW_BODY = 2,    /* body is not JSON: don't parse it */
	ROUTE_AGENT_OK = 4,    /* an agent key may stand in for a token */
};

struct req {
	struct api *api;
	const char *method;
	const char *url;	/* path as received */
	enum svc svc;
	const char *params[HTTP_MAX_PARAMS]; /* captured {} segments, URL-decoded */
	int nparams;
	const char *body; /* NUL-terminated, body_len bytes (not for ROUTE_STREAM_BODY) */
	size_t body_len;
	json_t *json;		/* parsed body or NULL (borrowed) */
	const char *upload_path; /* ROUTE_STREAM_BODY: temp file holding the body */
	uint64_t upload_len;
	struct auth auth;
	PGconn *db;			/* borrowed for the request */
	int mv_major, mv_minor; /* negotiated compute microversion */
	void *conn;		/* MHD connection (http.c only) */
};

struct resp {
	int status;
	json_t *json; /* owned; serialised as the body */
	char *text;   /* owned raw body when json is NULL */
	size_t text_len;
	const char *content_type;
	int fd; /* file body (owned; closed after sending), -1 when unused */
	uint64_t fd_len;
	char *hname[HTTP_MAX_HEADERS], *hval[HTTP_MAX_HEADERS];
	int nheaders;
};

typedef void (*handler_fn)(struct req *r, struct resp *w);

struct route {
	const char *method;  /* "GET", "POST", ... ("HEAD" is served by GET routes) */
	const char *pattern; /* "/compute/v2.1/servers/{}"; "{}" captures one segment */
	handler_fn fn;
	const char *policy; /* rule name in policy.c's table */
	enum svc svc;
	unsigned flags;
	/* ROUTE_STREAM_BODY only, optional: runs before a byte of the body is stored and
	 * returns 0 when this caller may send it, else -ENOENT (404) or -EACCES (403); the
	 * body is then read and dropped and the handler never runs. */
	int (*may_stream)(struct req *r);
};

/* Each resource file exports its table through one of these. */
struct route_table {
	const struct route *routes;
	size_t n;
};
#define ROUTE_TABLE(name, arr) const struct route_table name = {arr, sizeof(arr) / sizeof(arr[0])}

/* Query-string value of key (URL-decoded, borrowed) or NULL. */
const char *req_query(struct req *r, const char *key);
/* Request header value (borrowed) or NULL. */
const char *req_header(struct req *r, const char *name);

/* Response helpers. resp_json steals j. */
void resp_json(struct resp *w, int status, json_t *j);
void resp_empty(struct resp *w, int status);
void resp_header(struct resp *w, const char *name, const char *value);
/* The error body in the shape of r->svc's clients, status 400..599. */
void resp_error(struct req *r, struct resp *w, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Neutron-style error with a type, e.g. "NetworkNotFound". */
void resp_error_typed(struct req *r, struct resp *w, int status, const char *type,
		      const char *msg);
/* 500 for a database failure; logs err once. */
void resp_db_error(struct req *r, struct resp *w, const char *err);

/* Runs the server on [api] listen_address:port until http_stop(). 0 or -errno. */
int http_start(struct api *api);
void http_stop(void);

/* Pure: matches url against pattern, filling params (pointers into scratch, which must
 * be a writable copy of url). Returns 1 on match. */
int route_match(const char *pattern, char *scratch, const char *params[], int *nparams);

#endif

/* libmicrohttpd glue: request accumulation with bounds, routing through the resource
 * tables, authentication and policy, database borrowing and response building. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "routes.h"
#include "identity/token.h"
#include "xalloc.h"

struct conn_state {
	const struct route *route;
	int path_matched; /* some route had this path (405 rather than 404) */
	char *scratch;	  /* writable copy of the path; params point into it */
	const char *params[HTTP_MAX_PARAMS];
	int nparams;
	char *body;
	size_t len, cap;
	int too_big;
	int upload_fd;
	char *upload_path;
	uint64_t upload_len;
	int upload_err;
	int upload_denied; /* streamed body from a caller the policy refuses: not stored;
			    * < 0 when the route's may_stream refused (the answer's errno) */
};

static struct MHD_Daemon *daemon_handle;

struct status_row {
	int code;
	const char *title;
	const char *nova_key;
};

static const struct status_row statuses[] = {
	{400, "Bad Request", "badRequest"},
	{401, "Unauthorized", "unauthorized"},
	{403, "Forbidden", "forbidden"},
	{404, "Not Found", "itemNotFound"},
	{405, "Method Not Allowed", "notAllowed"},
	{406, "Not Acceptable", "notAcceptable"},
	{409, "Conflict", "conflictingRequest"},
	{413, "Request Entity Too Large", "overLimit"},
	{415, "Unsupported Media Type", "badMediaType"},
	{500, "Internal Server Error", "computeFault"},
	{501, "Not Implemented", "notImplemented"},
	{503, "Service Unavailable", "serviceUnavailable"},
};

static const struct status_row *status_find(int code)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == code)
			return &statuses[i];
	return &statuses[0];
}

void resp_json(struct resp *w, int status, json_t *j)
{
	json_decref(w->json);
	w->status = status;
	w->json = j;
}

void resp_empty(struct resp *w, int status)
{
	json_decref(w->json);
	w->json = NULL;
	w->status = status;
}

void resp_header(struct resp *w, const char *name, const char *value)
{
	if (w->nheaders == HTTP_MAX_HEADERS)
		return;
	w->hname[w->nheaders] = xstrdup(name);
	w->hval[w->nheaders] = xstrdup(value);
	w->nheaders++;
}

static json_t *error_body(enum svc svc, int status, const char *msg)
{
	const struct status_row *s = status_find(status);
	switch (svc) {
	case SVC_COMPUTE:
	case SVC_VOLUME:
		return json_pack("{s:{s:i,s:s}}", s->nova_key, "code", status, "message", msg);
	case SVC_NETWORK:
		return json_pack("{s:{s:s,s:s,s:s}}", "NeutronError", "type", s->title, "message",
				 msg, "detail", "");
	default:
		return json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "title", s->title,
				 "message", msg);
	}
}

void resp_error(struct req *r, struct resp *w, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *body = error_body(r->svc, status, msg);
	if (!body) /* msg echoed bytes that are not UTF-8, or was cut inside a character */
		body = error_body(r->svc, status, status_find(status)->title);
	resp_json(w, status, body);
}

void resp_error_typed(struct req *r, struct resp *w, int status, const char *type,
		      const char *msg)
{
	if (r->svc != SVC_NETWORK) {
		resp_error(r, w, status, "%s", msg);
		return;
	}
	resp_json(w, status,
		  json_pack("{s:{s:s,s:s,s:s}}", "NeutronError", "type", type, "message", msg,
			    "detail", ""));
}

void resp_db_error(struct req *r, struct resp *w, const char *err)
{
	char url[256];
	snprintf(url, sizeof(url), "%s", r->url);
	for (char *p = url; *p; p++) /* the path is the client's: no forged log lines */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	log_err("%s %s: database: %s", r->method, url, err);
	resp_error(r, w, 500, "internal error");
}

const char *req_query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

int route_match(const char *pattern, char *scratch, const char *params[], int *nparams)
{
	const char *p = pattern;
	char *u = scratch;
	int n = 0;
	while (*p && *u) {
		if (p[0] == '{' && p[1] == '}') {
			char *end = strchr(u, '/');
			if (end == u || n == HTTP_MAX_PARAMS)
				return 0;
			params[n++] = u;
			if (!end) {
				u += strlen(u);
			} else {
				*end = '\0'; /* the caller re-copies scratch for each try */
				u = end + 1;
				p += 2;
				if (*p != '/')
					return 0;
				p++;
				continue;
			}
			p += 2;
			continue;
		}
		if (*p != *u)
			return 0;
		p++;
		u++;
	}
	/* tolerate one trailing slash on the URL */
	if (*u == '/' && u[1] == '\0')
		u++;
	if (*p || *u)
		return 0;
	*nparams = n;
	return 1;
}

static void find_route(struct conn_state *st, const char *method, const char *url)
{
	const char *m = strcmp(method, "HEAD") ? method : "GET";
	size_t ulen = strlen(url);
	for (size_t t = 0; t < routes_count; t++) {
		const struct route_table *tab = routes_all[t];
		for (size_t i = 0; i < tab->n; i++) {
			const struct route *rt = &tab->routes[i];
			memcpy(st->scratch, url, ulen + 1);
			int np = 0;
			if (!route_match(rt->pattern, st->scratch, st->params, &np))
				continue;
			st->path_matched = 1;
			if (strcmp(rt->method, m))
				continue;
			st->route = rt;
			st->nparams = np;
			return;
		}
	}
	/* leave scratch matching nothing in particular */
	memcpy(st->scratch, url, ulen + 1);
}

static void negotiate_microversion(struct req *r, struct resp *w)
{
	r->mv_major = 2;
	r->mv_minor = 1;
	if (r->svc != SVC_COMPUTE)
		return;
	resp_header(w, "X-OpenStack-Nova-API-Version", "2.1");
	resp_header(w, "OpenStack-API-Version", "compute 2.1");
	resp_header(w, "Vary", "OpenStack-API-Version, X-OpenStack-Nova-API-Version");
}

/* 0 when the requested compute microversion is one we serve, else -EINVAL. */
static int microversion_ok(struct req *r)
{
	if (r->svc != SVC_COMPUTE)
		return 0;
	const char *v = req_header(r, "X-OpenStack-Nova-API-Version");
	char buf[64];
	const char *h = req_header(r, "OpenStack-API-Version");
	if (h && !strncmp(h, "compute ", 8)) {
		snprintf(buf, sizeof(buf), "%s", h + 8);
		v = buf;
	}
	if (!v || !strcmp(v, "2.1") || !strcmp(v, "latest") || !strcmp(v, "2.0"))
		return 0;
	return -EINVAL;
}

static void authenticate(struct req *r)
{
	if (r->svc == SVC_NONE)
		return;
	const char *key = req_header(r, "X-Nubo-Agent-Key");
	if (key && r->api->agent_key && strlen(key) == strlen(r->api->agent_key) &&
	    sodium_memcmp(key, r->api->agent_key, strlen(key)) == 0) {
		r->auth.agent = 1;
		return;
	}
	const char *tok = req_header(r, "X-Auth-Token");
	if (tok && *tok && strlen(tok) < 512)
		token_validate(r->db, tok, &r->auth);
}

static void dispatch(struct conn_state *st, struct req *r, struct resp *w)
{
	const struct route *rt = st->route;
	r->svc = rt->svc;
	negotiate_microversion(r, w);
	if (microversion_ok(r) < 0) {
		resp_error(r, w, 406, "Version is not supported by the API (max 2.1)");
		return;
	}
	if (st->too_big) {
		resp_error(r, w, 413, "request body exceeds the size limit");
		return;
	}
	if (st->upload_err) {
		resp_error(r, w, 500, "could not store the upload");
		return;
	}
	for (int i = 0; i < r->nparams; i++) {
		/* ids and names are UTF-8 text; other bytes name nothing we could hold */
		json_t *s = json_string(r->params[i]);
		if (!s) {
			resp_error(r, w, 404, "no such resource");
			return;
		}
		json_decref(s);
	}
	r->db = db_acquire(r->api->db);
	authenticate(r);
	if (!(r->auth.agent && (rt->flags & ROUTE_AGENT_OK))) {
		int pc = policy_check(rt->policy, &r->auth);
		if (pc == -EPERM) {
			resp_header(w, "WWW-Authenticate", "Keystone uri=\"\"");
			resp_error(r, w, 401, "The request you have made requires authentication.");
			goto out;
		}
		if (pc < 0) {
			resp_error(r, w, 403, "Policy doesn't allow %s to be performed.", rt->policy);
			goto out;
		}
	}
	if (st->upload_denied < 0) { /* the body was dropped unstored */
		if (st->upload_denied == -ENOENT)
			resp_error(r, w, 404, "No image found with ID %s.", r->nparams ? r->params[0] : "");
		else
			resp_error(r, w, 403, "You are not permitted to upload data to this resource.");
		goto out;
	}
	if (!(rt->flags & (ROUTE_RAW_BODY | ROUTE_STREAM_BODY)) && r->body_len > 0) {
		json_error_t jerr;
		r->json = json_loadb(r->body, r->body_len, 0, &jerr);
		if (!r->json) {
			resp_error(r, w, 400, "Malformed request body: %s", jerr.text);
			goto out;
		}
	}
	rt->fn(r, w);
	json_decref(r->json);
	r->json = NULL;
out:
	db_release(r->api->db, r->db);
	r->db = NULL;
}

static struct MHD_Response *build_response(struct resp *w)
{
	struct MHD_Response *mr;
	if (w->fd >= 0) {
		mr = MHD_create_response_from_fd64(w->fd_len, w->fd);
		w->fd = -1; /* MHD closes it */
		if (!w->content_type)
			w->content_type = "application/octet-stream";
	} else if (w->json) {
		char *s = json_dumps(w->json, JSON_COMPACT);
		mr = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
		if (!w->content_type)
			w->content_type = "application/json";
	} else if (w->text) {
		mr = MHD_create_response_from_buffer(w->text_len, w->text, MHD_RESPMEM_MUST_FREE);
		w->text = NULL;
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (w->content_type)
		MHD_add_response_header(mr, "Content-Type", w->content_type);
	for (int i = 0; i < w->nheaders; i++)
		MHD_add_response_header(mr, w->hname[i], w->hval[i]);
	return mr;
}

static void resp_release(struct resp *w)
{
	json_decref(w->json);
	free(w->text);
	if (w->fd >= 0)
		close(w->fd);
	for (int i = 0; i < w->nheaders; i++) {
		free(w->hname[i]);
		free(w->hval[i]);
	}
}

/* Before a streamed body is read: a caller that will get 401/403 anyway, or a declared
 * Content-Length above the limit, must not fill image_dir. dispatch() still answers. */
static void upload_precheck(struct api *api, struct conn_state *st, struct MHD_Connection *conn,
			    const char *method, const char *url)
{
	struct req r = {.api = api, .method = method, .url = url, .conn = conn,
			.svc = st->route->svc};
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl && strtoull(cl, NULL, 10) > (uint64_t)api->max_image_mb << 20)
		st->too_big = 1;
	r.db = db_acquire(api->db);
	authenticate(&r);
	if (!(r.auth.agent && (st->route->flags & ROUTE_AGENT_OK)) &&
	    policy_check(st->route->policy, &r.auth) < 0) {
		st->upload_denied = 1;
	} else if (st->route->may_stream) {
		for (int i = 0; i < st->nparams; i++)
			r.params[i] = st->params[i];
		r.nparams = st->nparams;
		int rc = st->route->may_stream(&r);
		if (rc < 0)
			st->upload_denied = rc;
	}
	db_release(api->db, r.db);
}

static int body_append(struct api *api, struct conn_state *st, const char *data, size_t n)
{
	if (st->route && (st->route->flags & ROUTE_STREAM_BODY)) {
		if (st->upload_denied || st->too_big)
			return 0; /* read and dropped */
		if (st->upload_len + n > (uint64_t)api->max_image_mb << 20) {
			st->too_big = 1;
			return 0;
		}
		if (st->upload_fd < 0 && !st->upload_err) {
			st->upload_path = xasprintf("%s/.upload-XXXXXX", api->image_dir);
			st->upload_fd = mkostemp(st->upload_path, O_CLOEXEC);
			if (st->upload_fd < 0)
				st->upload_err = 1;
		}
		while (n > 0 && st->upload_fd >= 0) {
			ssize_t k = write(st->upload_fd, data, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				st->upload_err = 1;
				return 0;
			}
			data += k;
			n -= (size_t)k;
			st->upload_len += (uint64_t)k;
		}
		return 0;
	}
	if (st->len + n > HTTP_MAX_BODY) {
		st->too_big = 1;
		return 0;
	}
	if (st->len + n + 1 > st->cap) {
		st->cap = (st->len + n + 1) * 2;
		if (st->cap > HTTP_MAX_BODY + 1)
			st->cap = HTTP_MAX_BODY + 1;
		st->body = xrealloc(st->body, st->cap);
	}
	memcpy(st->body + st->len, data, n);
	st->len += n;
	st->body[st->len] = '\0';
	return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct api *api = cls;
	struct conn_state *st = *con_cls;
	if (!st) {
		st = xcalloc(1, sizeof(*st));
		st->upload_fd = -1;
		st->scratch = xmalloc(strlen(url) + 1);
		find_route(st, method, url);
		*con_cls = st;
		if (st->route && (st->route->flags & ROUTE_STREAM_BODY))
			upload_precheck(api, st, conn, method, url);
		return MHD_YES;
	}
	if (*upload_data_size) {
		body_append(api, st, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}

	struct req r = {.api = api, .method = method, .url = url, .conn = conn};
	struct resp w = {.status = 200, .fd = -1};
	if (!st->route) {
		r.svc = SVC_NONE;
		if (st->path_matched)
			resp_error(&r, &w, 405, "method %s not allowed on %s", method, url);
		else
			resp_error(&r, &w, 404, "no such resource: %s", url);
	} else {
		for (int i = 0; i < st->nparams; i++)
			r.params[i] = st->params[i];
		r.nparams = st->nparams;
		r.body = st->body ? st->body : "";
		r.body_len = st->len;
		if (st->upload_fd >= 0) {
			close(st->upload_fd);
			st->upload_fd = -1;
		}
		r.upload_path = st->upload_path;
		r.upload_len = st->upload_len;
		if ((st->route->flags & ROUTE_STREAM_BODY) && !st->upload_path && !st->too_big) {
			/* empty upload: make an empty file so handlers see one shape */
			st->upload_path = xasprintf("%s/.upload-XXXXXX", api->image_dir);
			int fd = mkostemp(st->upload_path, O_CLOEXEC);
			if (fd >= 0)
				close(fd);
			else
				st->upload_err = 1;
			r.upload_path = st->upload_path;
		}
		dispatch(st, &r, &w);
	}
	struct MHD_Response *mr = build_response(&w);
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)w.status, mr);
	MHD_destroy_response(mr);
	log_debug("%s %s -> %d", method, url, w.status);
	resp_release(&w);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct conn_state *st = *con_cls;
	if (!st)
		return;
	if (st->upload_fd >= 0)
		close(st->upload_fd);
	if (st->upload_path) {
		unlink(st->upload_path); /* handlers rename what they keep */
		free(st->upload_path);
	}
	free(st->body);
	free(st->scratch);
	free(st);
	*con_cls = NULL;
}

int http_start(struct api *api)
{
	long port = conf_get_long(api->conf, "api", "port", 8080);
	long threads = conf_get_long(api->conf, "api", "threads", 8);
	const char *addr = conf_get(api->conf, "api", "listen_address", "0.0.0.0");
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		return -EINVAL;
	daemon_handle = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)port,
		NULL, NULL, on_request, api, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
		MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_SOCK_ADDR, &sin,
		MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_CONNECTION_LIMIT, 1000u,
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
	return daemon_handle ? 0 : -EADDRINUSE;
}

void http_stop(void)
{
	if (daemon_handle)
		MHD_stop_daemon(daemon_handle);
	daemon_handle = NULL;
}

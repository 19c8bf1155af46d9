/* libmicrohttpd glue shared by every API: routing through the tables, one request life
 * cycle that calls the table's hooks, bounded and streamed bodies, request ids, and a
 * watchdog that ends connections whose headers do not arrive in time. */
#include "httpd.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "jsonw.h"
#include "util.h"
#include "xalloc.h"

/* One per TCP connection (MHD's socket context): the header deadline the watchdog
 * enforces, and whether the path of the current request held an escaped NUL. */
struct conn_watch {
	int fd;
	int in_request;   /* headers done, request in progress: idle_timeout rules */
	int bad_escape;   /* the request line decoded a %00 */
	int64_t deadline; /* time_mono_ms() by which the next headers must be complete */
	struct conn_watch *prev, *next;
};

struct httpd {
	const struct httpd_config *cfg;
	struct MHD_Daemon *mhd[HTTPD_ADDRS_MAX]; /* one per listen address */
	int n_mhd;
	unsigned port;
	pthread_mutex_t lock; /* guards the watch list and stopping */
	pthread_cond_t wake;
	struct conn_watch *watches;
	pthread_t watchdog;
	int watchdog_running;
	int stopping;
};

/* Per request (MHD's con_cls). */
struct conn_state {
	struct httpd *h;
	struct conn_watch *watch;
	struct req r;
	struct resp w;
	char *scratch; /* writable copy of the path; params point into it */
	int pending;   /* the answer is in w: drop the body, send it at the end */
	int queued;    /* a response went out already */
	int begun;
	char *body;
	size_t len, cap;
	int upload_fd;
	char *upload_path;
	uint64_t upload_len;
	uint64_t seen; /* body bytes received, kept or not */
};

/* Body bytes read and dropped past a route's bound before the connection is ended
 * instead of answered (a declared length over the bound is refused before reading). */
#define HTTPD_DRAIN_MAX ((uint64_t)16 << 20)

static const struct {
	int code;
	const char *title;
} statuses[] = {
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {406, "Not Acceptable"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Request Entity Too Large"},
    {415, "Unsupported Media Type"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {503, "Service Unavailable"},
};

const char *httpd_status_title(int status)
{
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].code == status)
			return statuses[i].title;
	return "Error";
}

/* ---- responses ---- */

void resp_json(struct resp *w, int status, json_t *j)
{
	json_decref(w->json);
	w->status = status;
	w->json = j;
}

void resp_json_text(struct resp *w, int status, struct jsonw *jw)
{
	json_decref(w->json);
	w->json = NULL;
	free(w->text);
	w->text = jsonw_detach(jw, &w->text_len);
	w->content_type = "application/json";
	w->status = status;
}

void resp_empty(struct resp *w, int status)
{
	json_decref(w->json);
	w->json = NULL;
	w->status = status;
}

void resp_header(struct resp *w, const char *name, const char *value)
{
	if (w->nheaders == HTTPD_MAX_HEADERS)
		return;
	w->hname[w->nheaders] = xstrdup(name);
	w->hval[w->nheaders] = xstrdup(value);
	w->nheaders++;
}

static void render_default(struct req *r, struct resp *w, int status, const char *type,
                           const char *msg)
{
	const char *title = httpd_status_title(status);
	json_t *body =
	    json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "title", title, "message", msg);
	if (!body) /* msg was not UTF-8 */
		body = json_pack("{s:{s:i,s:s,s:s}}", "error", "code", status, "title", title,
		                 "message", title);
	resp_json(w, status, body);
}

void resp_error_typed(struct req *r, struct resp *w, int status, const char *type, const char *msg)
{
	/* a previous answer's body and file go: this error replaces them */
	free(w->text);
	w->text = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	w->content_type = NULL;
	const struct httpd_hooks *hk = r->table ? r->table->hooks : NULL;
	if ((!hk || !hk->render_error) && r->server)
		hk = r->server->cfg->fallback;
	if (hk && hk->render_error)
		hk->render_error(r, w, status, type, msg);
	else
		render_default(r, w, status, type, msg);
}

void resp_error(struct req *r, struct resp *w, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	resp_error_typed(r, w, status, NULL, msg);
}

static void resp_release(struct resp *w)
{
	json_decref(w->json);
	w->json = NULL;
	free(w->text);
	w->text = NULL;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	for (int i = 0; i < w->nheaders; i++) {
		free(w->hname[i]);
		free(w->hval[i]);
	}
	w->nheaders = 0;
}

/* ---- requests ---- */

const char *req_query(struct req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

struct query_all {
	const char *key;
	const char **out;
	int max, n;
};

static enum MHD_Result query_all_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
	struct query_all *q = cls;
	if (key && value && !strcmp(key, q->key) && q->n < q->max)
		q->out[q->n++] = value;
	return MHD_YES;
}

int req_query_all(struct req *r, const char *key, const char **out, int max)
{
	struct query_all q = {key, out, max, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_all_visit, &q);
	return q.n;
}

struct query_pairs {
	const char **keys, **vals;
	int max, n;
};

static enum MHD_Result query_pairs_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
	struct query_pairs *q = cls;
	if (!key)
		return MHD_YES;
	if (q->n < q->max) {
		q->keys[q->n] = key;
		q->vals[q->n] = value;
	}
	q->n++;
	return MHD_YES;
}

int req_query_pairs(struct req *r, const char **keys, const char **vals, int max)
{
	struct query_pairs q = {keys, vals, max, 0};
	MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_pairs_visit, &q);
	return q.n;
}

int req_query_has(struct req *r, const char *key)
{
	const char *v = NULL;
	size_t n = 0;
	return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
	                                     &n) == MHD_YES;
}

const char *req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *req_trace_id(const struct req *r)
{
	return r->global_id[0] ? r->global_id : r->id;
}

void req_peer(struct req *r, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
		          (socklen_t)n);
	else if (ci->client_addr->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, out,
		          (socklen_t)n);
}

static int pattern_segments(const char *pattern)
{
	int n = 0;
	for (const char *c = pattern; *c; c++)
		n += *c == '/' && c[1] != '\0';
	return n;
}

int httpd_route_match(const char *pattern, char *scratch, const char *params[], int *nparams)
{
	const char *p = pattern;
	char *u = scratch;
	int n = 0;
	while (*p && *u) {
		if (p[0] == '{' && p[1] == '}') {
			char *end = strchr(u, '/');
			if (end == u || n == HTTPD_MAX_PARAMS)
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
	/* One trailing slash is tolerated on the service and version documents ("/compute/",
	 * "/identity/v3/": at most two segments), as Keystone, Nova and Glance serve them.
	 * Below them "/image/v2/images/" names a resource with an empty id, which does not
	 * exist: no match (404), as upstream answers it, never the collection. */
	if (*u == '/' && u[1] == '\0' && pattern_segments(pattern) <= 2)
		u++;
	if (*p || *u)
		return 0;
	*nparams = n;
	return 1;
}

/* Finds the route of method+url; 1 when found, 0 when no route has this path, -1 when
 * some route has the path but not the method (405). */
static int route_find(struct httpd *h, struct conn_state *st, const char *method, const char *url)
{
	const char *m = strcmp(method, "HEAD") ? method : "GET";
	size_t ulen = strlen(url);
	int path_matched = 0;
	for (size_t t = 0; t < h->cfg->ntables; t++) {
		const struct httpd_table *tab = h->cfg->tables[t];
		for (size_t i = 0; i < tab->n; i++) {
			const struct httpd_route *rt = &tab->routes[i];
			memcpy(st->scratch, url, ulen + 1);
			int np = 0;
			if (!httpd_route_match(rt->pattern, st->scratch, st->r.params, &np))
				continue;
			path_matched = 1;
			if (strcmp(rt->method, m))
				continue;
			st->r.table = tab;
			st->r.route = rt;
			st->r.nparams = np;
			return 1;
		}
	}
	memcpy(st->scratch, url, ulen + 1);
	st->r.nparams = 0;
	return path_matched ? -1 : 0;
}

static const struct httpd_hooks *hooks_of(const struct req *r)
{
	static const struct httpd_hooks none;
	return r->table && r->table->hooks ? r->table->hooks : &none;
}

/* The request's declared body length, or 0 when none or chunked. */
static uint64_t declared_length(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (!cl)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(cl, &end, 10);
	if (errno || end == cl)
		return UINT64_MAX;
	return v;
}

/* How the request says where its body ends, seen over every header line (MHD keeps
 * the first Content-Length and lets chunked win over it). */
struct framing {
	int n_length, lengths_differ, n_te, te_not_chunked;
	const char *length;
};

static enum MHD_Result framing_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
	struct framing *f = cls;
	if (!strcasecmp(key, "Content-Length")) {
		if (f->n_length++ && strcmp(f->length, value))
			f->lengths_differ = 1;
		f->length = value;
	} else if (!strcasecmp(key, "Transfer-Encoding")) {
		f->n_te++;
		if (strcasecmp(value, "chunked"))
			f->te_not_chunked = 1;
	}
	return MHD_YES;
}

/* NULL when the body's end is unambiguous, else why not. A front proxy that reads the
 * framing differently from MHD (the last of two lengths, the length beside chunked)
 * would see another request boundary: such requests are refused and the connection
 * closed (RFC 9112 6.1, 6.3), never served. */
static const char *framing_error(struct MHD_Connection *conn)
{
	struct framing f = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, framing_visit, &f);
	if (f.lengths_differ)
		return "the request has conflicting Content-Length headers";
	if (f.n_te && f.n_length)
		return "the request has both Content-Length and Transfer-Encoding";
	if (f.n_te > 1 || f.te_not_chunked)
		return "the request's Transfer-Encoding is not chunked";
	return NULL;
}

static enum MHD_Result query_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
	int *bad = cls;
	json_t *k = json_string(key), *v = value ? json_string(value) : NULL;
	if (!k || (value && !v))
		*bad = 1;
	json_decref(k);
	json_decref(v);
	return *bad ? MHD_NO : MHD_YES;
}

/* 1 when every query key and value is UTF-8 text: handlers pass them to PostgreSQL,
 * which refuses other bytes (a 500 and an error line per request otherwise). */
static int query_is_text(struct MHD_Connection *conn)
{
	int bad = 0;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_visit, &bad);
	return !bad;
}

static uint64_t body_limit(const struct httpd *h, const struct req *r)
{
	if (r->route && (r->route->flags & HTTPD_STREAM_BODY))
		return h->cfg->max_stream;
	return h->cfg->max_body;
}

/* The checks before a byte of the body is kept: identity, policy, may_stream. */
static void request_precheck(struct conn_state *st)
{
	struct req *r = &st->r;
	const struct httpd_hooks *hk = hooks_of(r);
	for (int i = 0; i < r->nparams; i++) {
		/* ids and names are UTF-8 text; other bytes name nothing we could hold */
		json_t *s = json_string(r->params[i]);
		if (!s) {
			resp_error(r, &st->w, 404, "no such resource");
			st->pending = 1;
			return;
		}
		json_decref(s);
	}
	st->begun = 1;
	if (hk->begin && hk->begin(r, &st->w) < 0) {
		st->pending = 1;
		return;
	}
	if (hk->enter && hk->enter(r, &st->w) < 0) {
		st->pending = 1;
		return;
	}
	if ((hk->authenticate && hk->authenticate(r, &st->w) < 0) ||
	    (hk->authorize && hk->authorize(r, &st->w) < 0) ||
	    (r->route->may_stream && (r->route->flags & HTTPD_STREAM_BODY) &&
	     r->route->may_stream(r, &st->w) < 0))
		st->pending = 1;
	if (hk->leave)
		hk->leave(r);
}

static int upload_open(struct conn_state *st)
{
	st->upload_path = xasprintf("%s/.upload-XXXXXX", st->h->cfg->stream_dir);
	st->upload_fd = mkostemp(st->upload_path, O_CLOEXEC);
	if (st->upload_fd < 0) {
		int e = errno;
		free(st->upload_path);
		st->upload_path = NULL;
		return -e;
	}
	return 0;
}

/* Keeps n more bytes of the body. 0, -EFBIG over the limit, -EIO when it cannot be stored. */
static int body_append(struct conn_state *st, const char *data, size_t n)
{
	uint64_t limit = body_limit(st->h, &st->r);
	if (st->r.route->flags & HTTPD_STREAM_BODY) {
		if (st->upload_len + n > limit)
			return -EFBIG;
		if (st->upload_fd < 0 && upload_open(st) < 0)
			return -EIO;
		while (n > 0) {
			ssize_t k = write(st->upload_fd, data, n);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				return -EIO;
			data += k;
			n -= (size_t)k;
			st->upload_len += (uint64_t)k;
		}
		return 0;
	}
	if (st->len + n > limit)
		return -EFBIG;
	if (st->len + n + 1 > st->cap) {
		st->cap = (st->len + n + 1) * 2;
		if (st->cap > limit + 1)
			st->cap = limit + 1;
		st->body = xrealloc(st->body, st->cap);
	}
	memcpy(st->body + st->len, data, n);
	st->len += n;
	st->body[st->len] = '\0';
	return 0;
}

/* The handler phase: body parsed, then the route's function. */
static void request_dispatch(struct conn_state *st)
{
	struct req *r = &st->r;
	struct resp *w = &st->w;
	const struct httpd_hooks *hk = hooks_of(r);
	if (r->route->flags & HTTPD_STREAM_BODY) {
		if (st->upload_fd < 0 && upload_open(st) < 0) { /* empty upload: same shape */
			resp_error(r, w, 500, "could not store the upload");
			return;
		}
		close(st->upload_fd);
		st->upload_fd = -1;
		r->upload_path = st->upload_path;
		r->upload_len = st->upload_len;
	}
	r->body = st->body ? st->body : "";
	r->body_len = st->len;
	if (hk->enter && hk->enter(r, w) < 0)
		return;
	if (!(r->route->flags & (HTTPD_RAW_BODY | HTTPD_STREAM_BODY)) && r->body_len > 0) {
		json_error_t jerr;
		r->json = json_loadb(r->body, r->body_len, 0, &jerr);
		if (!r->json) {
			resp_error(r, w, 400, "Malformed request body: %s", jerr.text);
			goto out;
		}
	}
	r->route->fn(r, w);
out:
	json_decref(r->json);
	r->json = NULL;
	if (hk->leave)
		hk->leave(r);
}

int httpd_mhd_header(struct MHD_Response *mr, const char *name, const char *value)
{
	return MHD_add_response_header(mr, name, value[0] ? value : " ") == MHD_YES ? 0 : -EINVAL;
}

static struct MHD_Response *response_build(struct conn_state *st)
{
	struct resp *w = &st->w;
	struct MHD_Response *mr;
	if (w->fd >= 0) {
		mr = MHD_create_response_from_fd64(w->fd_len, w->fd);
		w->fd = -1; /* MHD closes it */
		if (!w->content_type)
			w->content_type = "application/octet-stream";
	} else if (w->json) {
		char *s = json_dumps(w->json, JSON_COMPACT);
		if (!s)
			s = xstrdup("{}");
		mr = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
		if (!w->content_type)
			w->content_type = "application/json";
	} else if (w->text) {
		mr = MHD_create_response_from_buffer(w->text_len, w->text, MHD_RESPMEM_MUST_FREE);
		w->text = NULL;
	} else {
		mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!mr)
		return NULL;
	if (w->content_type)
		MHD_add_response_header(mr, "Content-Type", w->content_type);
	for (int i = 0; i < w->nheaders; i++)
		httpd_mhd_header(mr, w->hname[i], w->hval[i]);
	if (st->h->cfg->request_id_header)
		MHD_add_response_header(mr, st->h->cfg->request_id_header, st->r.id);
	return mr;
}

static enum MHD_Result answer(struct conn_state *st, struct MHD_Connection *conn)
{
	st->queued = 1;
	int status = st->w.status;
	struct MHD_Response *mr = response_build(st);
	if (!mr)
		return MHD_NO;
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, mr);
	MHD_destroy_response(mr);
	if (st->h->cfg->on_answer)
		st->h->cfg->on_answer(&st->r, status);
	resp_release(&st->w);
	return ret;
}

static struct conn_watch *watch_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* A refusal decided before the body: a client waiting for "100 Continue" has not
 * sent its body yet, so the answer goes out now and the body never travels; any
 * other client's body is read and dropped, and the answer follows it. */
static enum MHD_Result refuse_early(struct conn_state *st, struct MHD_Connection *conn)
{
	const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
	st->pending = 1;
	if (expect && !strcasecmp(expect, "100-continue"))
		return answer(st, conn);
	return MHD_YES;
}

/* The first call of a request: its headers are all in. */
static enum MHD_Result request_start(struct httpd *h, struct MHD_Connection *conn, const char *url,
                                     const char *method, void **con_cls)
{
	struct conn_state *st = xcalloc(1, sizeof(*st));
	*con_cls = st;
	st->h = h;
	st->upload_fd = -1;
	st->w.status = 200;
	st->w.fd = -1;
	st->r.method = method;
	st->r.url = url;
	st->r.conn = conn;
	st->r.server = h;
	st->r.app = h->cfg->app;
	memcpy(st->r.id, "req-", 4);
	uuid_generate_str(st->r.id + 4);
	/* another service's id, taken in any case and kept in canonical form */
	const char *global = req_header(&st->r, "X-OpenStack-Request-ID");
	if (global && strlen(global) == HTTPD_REQUEST_ID_LEN - 1) {
		for (int i = 0; i < HTTPD_REQUEST_ID_LEN; i++)
			st->r.global_id[i] = (char)tolower((unsigned char)global[i]);
		if (!request_id_is_valid(st->r.global_id))
			st->r.global_id[0] = '\0';
	}
	st->scratch = xmalloc(strlen(url) + 1);
	st->watch = watch_of(conn);
	int escape_ok = 1;
	if (st->watch) {
		pthread_mutex_lock(&h->lock);
		st->watch->in_request = 1;
		escape_ok = !st->watch->bad_escape;
		st->watch->bad_escape = 0;
		pthread_mutex_unlock(&h->lock);
	}
	if (!escape_ok) {
		resp_error(&st->r, &st->w, 400, "the request has a NUL byte in its path or query");
		return refuse_early(st, conn);
	}
	const char *framing = framing_error(conn);
	if (framing) {
		resp_error(&st->r, &st->w, 400, "%s", framing);
		resp_header(&st->w, "Connection", "close");
		return answer(st, conn);
	}
	if (!query_is_text(conn)) {
		resp_error(&st->r, &st->w, 400, "the request's query string is not UTF-8");
		return refuse_early(st, conn);
	}
	int found = route_find(h, st, method, url);
	if (found <= 0) {
		/* the client's path is not echoed: it may hold any byte */
		if (found < 0)
			resp_error(&st->r, &st->w, 405, "method %s not allowed here", method);
		else
			resp_error(&st->r, &st->w, 404, "no such resource");
		return refuse_early(st, conn);
	}
	if (declared_length(conn) > body_limit(h, &st->r)) {
		/* refused before a byte is read; the connection closes after this answer */
		resp_error(&st->r, &st->w, 413, "request body exceeds the size limit");
		return answer(st, conn);
	}
	request_precheck(st);
	return st->pending ? refuse_early(st, conn) : MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct httpd *h = cls;
	struct conn_state *st = *con_cls;
	if (!st)
		return request_start(h, conn, url, method, con_cls);
	if (st->queued) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		/* MHD cannot answer in the middle of a body: an answer decided early waits
		 * for its end, but a body that goes on and on past the bound ends the
		 * connection without one */
		st->seen += n;
		if (st->seen > body_limit(h, &st->r) + HTTPD_DRAIN_MAX)
			return MHD_NO;
		if (st->pending)
			return MHD_YES; /* read and dropped */
		int rc = body_append(st, upload_data, n);
		if (rc == -EFBIG) {
			resp_error(&st->r, &st->w, 413, "request body exceeds the size limit");
			st->pending = 1;
			return MHD_YES;
		}
		if (rc < 0) {
			resp_error(&st->r, &st->w, 500, "could not store the request body");
			st->pending = 1;
		}
		return MHD_YES;
	}
	if (!st->pending)
		request_dispatch(st);
	return answer(st, conn);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct httpd *h = cls;
	struct conn_state *st = *con_cls;
	if (!st)
		return;
	const struct httpd_hooks *hk = hooks_of(&st->r);
	if (st->begun && hk->end)
		hk->end(&st->r);
	if (st->watch) {
		pthread_mutex_lock(&h->lock);
		st->watch->in_request = 0;
		st->watch->deadline = time_mono_ms() + 1000 * (int64_t)(h->cfg->idle_timeout +
		                                                        h->cfg->header_timeout);
		pthread_mutex_unlock(&h->lock);
	}
	resp_release(&st->w);
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

/* ---- connections ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
	struct httpd *h = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct conn_watch *cw = xcalloc(1, sizeof(*cw));
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		cw->fd = ci ? ci->connect_fd : -1;
		cw->deadline = time_mono_ms() + 1000 * (int64_t)h->cfg->header_timeout;
		pthread_mutex_lock(&h->lock);
		cw->next = h->watches;
		if (h->watches)
			h->watches->prev = cw;
		h->watches = cw;
		pthread_mutex_unlock(&h->lock);
		*socket_context = cw;
		return;
	}
	struct conn_watch *cw = *socket_context;
	if (!cw)
		return;
	/* MHD closes the socket after this returns; the watchdog holds the lock while it
	 * touches an fd, so it never shuts down a reused descriptor. */
	pthread_mutex_lock(&h->lock);
	if (cw->prev)
		cw->prev->next = cw->next;
	else
		h->watches = cw->next;
	if (cw->next)
		cw->next->prev = cw->prev;
	pthread_mutex_unlock(&h->lock);
	free(cw);
	*socket_context = NULL;
}

/* Ends connections whose next request's headers are overdue (a client dribbling its
 * headers a byte at a time is never idle long enough for MHD's own timeout). */
static void *watchdog_main(void *arg)
{
	struct httpd *h = arg;
	pthread_mutex_lock(&h->lock);
	while (!h->stopping) {
		int64_t now = time_mono_ms();
		for (struct conn_watch *cw = h->watches; cw; cw = cw->next)
			if (!cw->in_request && cw->fd >= 0 && now > cw->deadline) {
				shutdown(cw->fd, SHUT_RDWR); /* MHD sees the end and closes it */
				cw->deadline = INT64_MAX;
			}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 250 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->wake, &h->lock, &ts);
	}
	pthread_mutex_unlock(&h->lock);
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decoding of the path and the query: an escaped NUL would cut the string
 * short (and /servers/%00 would be /servers/), so it stays escaped and the request is
 * refused with 400. */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	struct httpd *h = cls;
	char *out = s;
	for (char *in = s; *in;) {
		int hi, lo;
		if (in[0] == '%' && (hi = hexval(in[1])) >= 0 && (lo = hexval(in[2])) >= 0) {
			char c = (char)(hi << 4 | lo);
			if (c == '\0') {
				struct conn_watch *cw = watch_of(conn);
				if (cw) {
					pthread_mutex_lock(&h->lock);
					cw->bad_escape = 1;
					pthread_mutex_unlock(&h->lock);
				}
				*out++ = *in++;
				continue;
			}
			*out++ = c;
			in += 3;
			continue;
		}
		*out++ = *in++;
	}
	*out = '\0';
	return (size_t)(out - s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	/* common/ never logs; MHD's own messages (accept failures...) are dropped */
}

/* The addresses of a comma-separated list of IPv4 literals into sin (at most
 * HTTPD_ADDRS_MAX, none twice). Their count, or -EINVAL. */
static int listen_addrs(const char *list, struct sockaddr_in *sin)
{
	int n = 0;
	for (const char *p = list && *list ? list : "0.0.0.0";;) {
		size_t len = strcspn(p, ",");
		char one[INET_ADDRSTRLEN];
		while (len && *p == ' ')
			p++, len--;
		while (len && p[len - 1] == ' ')
			len--;
		if (n == HTTPD_ADDRS_MAX || len == 0 || len >= sizeof(one))
			return -EINVAL;
		memcpy(one, p, len);
		one[len] = '\0';
		sin[n] = (struct sockaddr_in){.sin_family = AF_INET};
		if (inet_pton(AF_INET, one, &sin[n].sin_addr) != 1)
			return -EINVAL;
		for (int i = 0; i < n; i++)
			if (sin[i].sin_addr.s_addr == sin[n].sin_addr.s_addr)
				return -EINVAL;
		n++;
		p += strcspn(p, ",");
		if (!*p)
			return n;
		p++;
	}
}

struct httpd *httpd_start(const struct httpd_config *cfg, int *err)
{
	struct sockaddr_in sin[HTTPD_ADDRS_MAX];
	int n = listen_addrs(cfg->listen_address, sin);
	if (n < 0) {
		*err = n;
		return NULL;
	}
	struct httpd *h = xcalloc(1, sizeof(*h));
	h->cfg = cfg;
	h->port = cfg->port;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->wake, NULL);
	/* the connection limit is the server's, shared by its addresses (a client reaches
	 * one of them: the per-client limit stays whole) */
	unsigned max_conn =
	    cfg->max_connections ? (cfg->max_connections + (unsigned)n - 1) / (unsigned)n : 0;
	for (int i = 0; i < n; i++) {
		sin[i].sin_port = htons((uint16_t)h->port);
		h->mhd[i] = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
		    (uint16_t)h->port, NULL, NULL, on_request, h, MHD_OPTION_NOTIFY_COMPLETED,
		    on_completed, h, MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
		    MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, h, MHD_OPTION_EXTERNAL_LOGGER,
		    on_mhd_log, NULL, MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 1u,
		    MHD_OPTION_SOCK_ADDR, &sin[i], MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
		    MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    cfg->max_connections_per_ip, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
		    MHD_OPTION_END);
		if (!h->mhd[i]) {
			*err = -EADDRINUSE;
			goto fail;
		}
		h->n_mhd = i + 1;
		if (i == 0) { /* port 0: the others take the port the first one got */
			const union MHD_DaemonInfo *di =
			    MHD_get_daemon_info(h->mhd[0], MHD_DAEMON_INFO_BIND_PORT);
			h->port = di ? di->port : cfg->port;
		}
	}
	if (cfg->header_timeout) {
		if (pthread_create(&h->watchdog, NULL, watchdog_main, h) != 0) {
			*err = -EAGAIN;
			goto fail;
		}
		h->watchdog_running = 1;
	}
	return h;
fail:
	httpd_stop(h);
	return NULL;
}

unsigned httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	if (h->watchdog_running) {
		pthread_mutex_lock(&h->lock);
		h->stopping = 1;
		pthread_cond_signal(&h->wake);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->watchdog, NULL);
	}
	for (int i = 0; i < h->n_mhd; i++)
		MHD_stop_daemon(h->mhd[i]);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->wake);
	free(h);
}

/* nubo-objproxy's HTTP front: libmicrohttpd, thread per connection, raw URLs, request
 * bodies handed to the front end as they arrive, answers streamed from the store. */
#include "proxy.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sodium.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "httpd.h"
#include "proxy_main.h"
#include "xalloc.h"

#define PX_MAX_HEADERS 48
#define PX_MAX_QUERY 64
#define PX_INLINE_MAX 16384 /* a GET answer up to this size is read whole first */
#define PX_BLOCK_MAX 65536  /* bytes a GET answer is sent in at most (px_block) */
/* libmicrohttpd's memory per connection (its default: 32 KiB), which holds the read
 * buffer: a PUT body comes in chunks of up to about half of it, and each chunk is one
 * send to every replica. 128 KiB: a quarter of the syscalls per MiB. libmicrohttpd
 * zeroes the pool before each request of a kept-alive connection, so every request
 * pays a 128 KiB memset: a few microseconds (see OBJSRV_CONN_MEMORY) */
#define PX_CONN_MEMORY (128 << 10)

struct px_req {
	struct px_server *srv;
	struct MHD_Connection *conn;
	char *uri; /* as received: path?query */
	char *path;
	const char *query; /* into uri */
	const char *method;
	const struct px_frontend *fe;
	void *state;
	int started, body_stopped, answered;
	char trans_id[PX_TRANS_ID_LEN];
	/* decoded query, parsed on first use */
	int qparsed, nq;
	char *qk[PX_MAX_QUERY], *qv[PX_MAX_QUERY];
	/* the answer */
	int status;
	struct MHD_Response *resp;
	char *hname[PX_MAX_HEADERS], *hval[PX_MAX_HEADERS];
	int nh;
};

struct px_server {
	struct MHD_Daemon *d;
	struct store *store;
	const struct px_frontend *const *fes;
	size_t nfes;
	void (*on_answer)(struct px_req *r, int status);
};

/* ------------------------------------------------------------------ decoding */

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *px_unescape(const char *src, int plus_is_space)
{
	size_t n = strlen(src);
	char *out = xmalloc(n + 1), *p = out;
	for (size_t i = 0; i < n; i++) {
		if (src[i] == '%') {
			int h = -1;
			if (i + 2 < n) {
				int a = hexval((unsigned char)src[i + 1]),
				    b = hexval((unsigned char)src[i + 2]);
				h = a >= 0 && b >= 0 ? a * 16 + b : -1;
			}
			if (h <= 0) { /* a bad escape, or %00 */
				free(out);
				return NULL;
			}
			*p++ = (char)h;
			i += 2;
		} else if (plus_is_space && src[i] == '+')
			*p++ = ' ';
		else
			*p++ = src[i];
	}
	*p = '\0';
	return out;
}

static void px_query_parse(struct px_req *r)
{
	if (r->qparsed)
		return;
	r->qparsed = 1;
	char *copy = xstrdup(r->query), *save = NULL;
	for (char *kv = strtok_r(copy, "&", &save); kv && r->nq < PX_MAX_QUERY;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		if (eq)
			*eq = '\0';
		char *k = px_unescape(kv, 1), *v = px_unescape(eq ? eq + 1 : "", 1);
		if (!k || !v) {
			free(k);
			free(v);
			continue;
		}
		r->qk[r->nq] = k;
		r->qv[r->nq] = v;
		r->nq++;
	}
	free(copy);
}

const char *px_query(struct px_req *r, const char *key)
{
	px_query_parse(r);
	for (int i = 0; i < r->nq; i++)
		if (!strcmp(r->qk[i], key))
			return r->qv[i];
	return NULL;
}

int px_query_has(struct px_req *r, const char *key)
{
	return px_query(r, key) != NULL;
}

/* ------------------------------------------------------------------ accessors */

const char *px_method(const struct px_req *r)
{
	return r->method;
}

const char *px_raw_path(const struct px_req *r)
{
	return r->path;
}

const char *px_raw_query(const struct px_req *r)
{
	return r->query;
}

const char *px_header(const struct px_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

struct each_ctx {
	void (*fn)(void *arg, const char *k, const char *v);
	void *arg;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	struct each_ctx *e = cls;
	e->fn(e->arg, k, v ? v : "");
	return MHD_YES;
}

void px_headers_each(const struct px_req *r, void (*fn)(void *arg, const char *k, const char *v),
                     void *arg)
{
	struct each_ctx e = {fn, arg};
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, each_header, &e);
}

const char *px_trans_id(const struct px_req *r)
{
	return r->trans_id;
}

int64_t px_content_length(const struct px_req *r)
{
	const char *te = px_header(r, "Transfer-Encoding");
	if (te && strcasecmp(te, "identity"))
		return -1;
	const char *cl = px_header(r, "Content-Length");
	if (!cl)
		return -1;
	char *end;
	long long v = strtoll(cl, &end, 10);
	return *end || v < 0 ? -1 : v;
}

void px_peer(const struct px_req *r, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, n, "?");
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, out,
		          (socklen_t)n);
}

void px_set_state(struct px_req *r, void *state)
{
	r->state = state;
}

void *px_state(const struct px_req *r)
{
	return r->state;
}

struct store *px_store(const struct px_req *r)
{
	return r->srv->store;
}

int px_answered(const struct px_req *r)
{
	return r->answered;
}

/* ------------------------------------------------------------------ answers */

void px_add_header(struct px_req *r, const char *name, const char *value)
{
	if (r->nh >= PX_MAX_HEADERS || !value)
		return;
	for (const char *p = value; *p; p++)
		if (*p == '\r' || *p == '\n')
			return;
	r->hname[r->nh] = xstrdup(name);
	r->hval[r->nh] = xstrdup(value);
	r->nh++;
}

static void px_set(struct px_req *r, int status, struct MHD_Response *resp)
{
	if (r->answered) {
		MHD_destroy_response(resp);
		return;
	}
	r->answered = 1;
	r->status = status;
	r->resp = resp;
}

void px_answer(struct px_req *r, int status, const char *content_type, const char *text, size_t len)
{
	struct MHD_Response *resp =
	    MHD_create_response_from_buffer(len, (void *)(text ? text : ""), MHD_RESPMEM_MUST_COPY);
	if (content_type)
		MHD_add_response_header(resp, "Content-Type", content_type);
	px_set(r, status, resp);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

void px_answer_head(struct px_req *r, int status, uint64_t len)
{
	struct MHD_Response *resp =
	    len ? MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL)
	        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	px_set(r, status, resp);
}

static ssize_t get_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	ssize_t k = store_get_read(cls, buf, max);
	if (k == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return k < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : k;
}

static void get_free(void *cls)
{
	store_get_close(cls);
}

/* libmicrohttpd's buffer for a callback answer of len bytes: it is calloc'ed (zeroed)
 * with each answer, so a small object's GET gets a buffer of its size, not 64 KiB. */
static size_t px_block(uint64_t len)
{
	return len < PX_BLOCK_MAX ? (size_t)len : PX_BLOCK_MAX;
}

/* A small object's GET: its bytes are read before the answer is queued, so that
 * libmicrohttpd sends head and body in one write (one segment on the wire instead of
 * two). When the object server fails meanwhile the client gets what a failure while
 * streaming gives it: the head, then the connection closed. */
static void px_answer_small(struct px_req *r, int status, struct store_get *g, uint64_t len)
{
	char *buf = xmalloc((size_t)len);
	size_t have = 0;
	while (have < len) {
		ssize_t k = store_get_read(g, buf + have, (size_t)len - have);
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	store_get_close(g);
	struct MHD_Response *resp =
	    have == len ? MHD_create_response_from_buffer((size_t)len, buf, MHD_RESPMEM_MUST_FREE)
	                : MHD_create_response_from_callback(len, 4096, no_body, NULL, NULL);
	if (have != len)
		free(buf);
	px_set(r, status, resp);
}

void px_answer_get(struct px_req *r, int status, struct store_get *g, uint64_t len)
{
	if (!strcmp(r->method, "HEAD")) {
		store_get_close(g);
		px_answer_head(r, status, len);
		return;
	}
	if (len && len <= PX_INLINE_MAX) {
		px_answer_small(r, status, g, len);
		return;
	}
	struct MHD_Response *resp =
	    len ? MHD_create_response_from_callback(len, px_block(len), get_reader, g, get_free)
	        : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!len)
		store_get_close(g);
	px_set(r, status, resp);
}

struct px_stream {
	ssize_t (*read)(void *cls, void *buf, size_t max);
	void (*close)(void *cls);
	void *cls;
};

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct px_stream *st = cls;
	ssize_t k = st->read(st->cls, buf, max);
	if (k == 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return k < 0 ? MHD_CONTENT_READER_END_WITH_ERROR : k;
}

static void stream_free(void *cls)
{
	struct px_stream *st = cls;
	st->close(st->cls);
	free(st);
}

void px_answer_stream(struct px_req *r, int status, uint64_t len,
                      ssize_t (*read)(void *cls, void *buf, size_t max), void (*close)(void *cls),
                      void *cls)
{
	if (!strcmp(r->method, "HEAD") || !len) {
		close(cls);
		px_answer_head(r, status, len);
		return;
	}
	struct px_stream *st = xmalloc(sizeof(*st));
	*st = (struct px_stream){read, close, cls};
	px_set(
	    r, status,
	    MHD_create_response_from_callback(len, px_block(len), stream_reader, st, stream_free));
}

static enum MHD_Result px_send(struct px_req *r)
{
	if (!r->answered)
		px_answer(r, 500, "text/plain", "no answer\n", 10);
	for (int i = 0; i < r->nh; i++) {
		if (!strcasecmp(r->hname[i], "Content-Type"))
			MHD_del_response_header(r->resp, "Content-Type", NULL);
		httpd_mhd_header(r->resp, r->hname[i], r->hval[i]);
	}
	MHD_add_response_header(r->resp, "X-Trans-Id", r->trans_id);
	MHD_add_response_header(r->resp, "X-Openstack-Request-Id", r->trans_id);
	enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)r->status, r->resp);
	MHD_destroy_response(r->resp);
	r->resp = NULL;
	if (r->srv->on_answer)
		r->srv->on_answer(r, r->status);
	return ret;
}

/* ------------------------------------------------------------------ MHD glue */

/* Random bytes for transaction ids, taken from getrandom a block at a time per thread:
 * a kept-alive connection's thread pays one getrandom per 23 requests, not one each */
#define PX_TX_RANDOM 256
static __thread unsigned char tx_random[PX_TX_RANDOM];
static __thread size_t tx_random_left;

static void px_random(unsigned char *out, size_t n)
{
	if (tx_random_left < n) {
		size_t got = 0;
		while (got < sizeof(tx_random)) {
			ssize_t k = getrandom(tx_random + got, sizeof(tx_random) - got, 0);
			if (k <= 0)
				break; /* (cannot fail on Linux >= 3.17 once seeded) */
			got += (size_t)k;
		}
		tx_random_left = got;
	}
	size_t take = n <= tx_random_left ? n : tx_random_left;
	memcpy(out, tx_random + sizeof(tx_random) - tx_random_left, take);
	memset(out + take, 0, n - take);
	tx_random_left -= take;
}

void px_trans_id_make(char out[PX_TRANS_ID_LEN], time_t now)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[11];
	px_random(rnd, sizeof(rnd));
	/* Swift's form: "tx", 21 hex digits, "-", the time in 10 (Tempest checks) */
	out[0] = 't';
	out[1] = 'x';
	sodium_bin2hex(out + 2, 2 * sizeof(rnd) + 1, rnd, sizeof(rnd)); /* 22: the last goes */
	char *p = out + 2 + 21;
	*p++ = '-';
	unsigned long long t = (unsigned long long)now;
	for (int i = 9; i >= 0; i--, t >>= 4)
		p[i] = hex[t & 15];
	p[10] = '\0';
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct px_req *r = xcalloc(1, sizeof(*r));
	r->srv = cls;
	r->conn = c;
	r->uri = xstrdup(uri);
	char *q = strchr(r->uri, '?');
	r->path = xstrndup(r->uri, q ? (size_t)(q - r->uri) : strlen(r->uri));
	r->query = q ? q + 1 : "";
	px_trans_id_make(r->trans_id, time(NULL));
	return r;
}

static size_t on_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	return strlen(s); /* raw: each front end decodes what it needs */
}

/* The request announces a body (a Content-Length above 0, or chunked). */
static int px_has_body(struct px_req *r)
{
	const char *cl = px_header(r, "Content-Length");
	return px_header(r, "Transfer-Encoding") || (cl && strcmp(cl, "0"));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con)
{
	struct px_server *srv = cls;
	struct px_req *r = *con;
	if (!r)
		return MHD_NO;
	if (!r->started) {
		r->started = 1;
		r->method = method;
		const char *host = px_header(r, "Host");
		for (size_t i = 0; i < srv->nfes && !r->fe; i++)
			if (srv->fes[i]->match(r->path, host ? host : ""))
				r->fe = srv->fes[i];
		if (!r->fe) {
			px_answer(r, 404, "text/plain", "Not Found\n", 10);
			return px_send(r);
		}
		r->fe->begin(r);
		/* a request without a body is answered from the next call: libmicrohttpd
		 * closes the connection after an answer queued on the first one */
		if (r->answered && px_has_body(r))
			return px_send(r);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!r->body_stopped && !r->answered &&
		    r->fe->body(r, upload_data, *upload_data_size))
			r->body_stopped = 1;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->answered && r->resp == NULL)
		return MHD_YES; /* already sent */
	if (!r->answered)
		r->fe->finish(r);
	return px_send(r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con,
                         enum MHD_RequestTerminationCode why)
{
	struct px_req *r = *con;
	if (!r)
		return;
	if (r->fe && r->started && r->fe->end)
		r->fe->end(r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	for (int i = 0; i < r->nh; i++) {
		free(r->hname[i]);
		free(r->hval[i]);
	}
	for (int i = 0; i < r->nq; i++) {
		free(r->qk[i]);
		free(r->qv[i]);
	}
	free(r->uri);
	free(r->path);
	free(r);
	*con = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

struct px_server *px_server_start(const char *addr, unsigned port, struct store *st,
                                  const struct px_frontend *const *fes, size_t nfes,
                                  unsigned max_connections,
                                  void (*on_answer)(struct px_req *r, int status))
{
	struct px_server *srv = xcalloc(1, sizeof(*srv));
	srv->store = st;
	srv->fes = fes;
	srv->nfes = nfes;
	srv->on_answer = on_answer;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		free(srv);
		return NULL;
	}
	srv->d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	        MHD_USE_ERROR_LOG,
	    (uint16_t)port, NULL, NULL, on_request, srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    srv, MHD_OPTION_URI_LOG_CALLBACK, on_uri, srv, MHD_OPTION_UNESCAPE_CALLBACK,
	    on_unescape, srv, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    MHD_OPTION_CONNECTION_LIMIT, max_connections, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log,
	    NULL, MHD_OPTION_THREAD_STACK_SIZE, (size_t)(256 << 10),
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
	    (size_t)PX_CONN_MEMORY, MHD_OPTION_END);
	if (!srv->d) {
		free(srv);
		return NULL;
	}
	return srv;
}

void px_server_stop(struct px_server *srv)
{
	if (!srv)
		return;
	MHD_stop_daemon(srv->d);
	free(srv);
}

int px_status(const struct px_req *r)
{
	return r->status;
}

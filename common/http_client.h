/* A small HTTP client on libcurl for daemons that call our own APIs: a GET into a file
 * descriptor with a size bound and stall timeouts (image downloads by the agents), and
 * one JSON request/response helper (token validation from other daemons, later the
 * object-store proxy). http and https only, no redirects, no signals, no proxies from
 * the environment. Never logs. Header values may hold secrets: they are wiped after
 * use and never appear in err. */
#ifndef NUBO_HTTP_CLIENT_H
#define NUBO_HTTP_CLIENT_H
#include <jansson.h>
#include <stddef.h>

#define HTTP_CLIENT_JSON_MAX (1 << 20) /* largest JSON answer http_client_json reads */

/* Once in main(), before any thread: libcurl's global state. 0 or -EIO. */
int http_client_init(void);

struct http_get {
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	long long max_bytes;        /* a longer body fails with -EFBIG */
	long connect_timeout;       /* seconds; 0 = 10 */
	long stall_time;            /* seconds under 1 KiB/s that fail the transfer; 0 = 60 */
	const char *user_agent;     /* may be NULL */
};

/* GETs g->url into fd (written from its current offset). Returns 0 on a 2xx answer;
 * -EFBIG when the body exceeds g->max_bytes; -EIO for a connection failure, a timeout
 * or an HTTP error status (in *status when not NULL, else 0); the negative errno of a
 * failed write. err says what happened. */
int http_client_get_fd(const struct http_get *g, int fd, long *status, char *err, size_t errlen);

struct http_put {
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	long connect_timeout;       /* seconds; 0 = 10 */
	long stall_time;            /* seconds under 1 KiB/s that fail the transfer; 0 = 60 */
	long long offset, length;   /* only length bytes from offset (length 0: the whole file) */
};

/* PUTs the whole content of the regular file open on fd (from offset 0, its size
 * from fstat), or the part p->offset and p->length say (which must lie inside it), to
 * p->url as application/octet-stream. Returns 0 on a 2xx answer; -EIO
 * for a connection failure, a timeout or an HTTP error status (in *status when not
 * NULL, else 0), with err saying which. The answer body is discarded. */
int http_client_put_fd(const struct http_put *p, int fd, long *status, char *err, size_t errlen);

struct http_json {
	const char *method; /* "GET", "POST", ... */
	const char *url;
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const json_t *body;         /* sent as application/json when not NULL (a PUT or POST
	                             * without one sends an empty body: Content-Length: 0) */
	long timeout;               /* seconds for the whole exchange; 0 = 30 */
	const char *want_header;    /* a response header to return (e.g. X-Subject-Token) */
};

struct http_json_answer {
	long status;
	json_t *json;      /* the parsed body (owned) or NULL when empty or not JSON */
	char header[1024]; /* value of want_header, "" when absent */
};

/* Runs one JSON exchange. Returns 0 when an HTTP answer came (any status: read
 * a->status), with a filled (release with http_client_answer_release); or -EIO
 * (connection, timeout, answer over HTTP_CLIENT_JSON_MAX) with err. */
int http_client_json(const struct http_json *q, struct http_json_answer *a, char *err,
                     size_t errlen);
/* Frees what a holds (its JSON; the captured header is wiped). */
void http_client_answer_release(struct http_json_answer *a);

#endif

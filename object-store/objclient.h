/* The proxy's side of the internal protocol: one HTTP/1.1 exchange with an object server
 * over a plain socket, the request body pushed in pieces as the client's bytes arrive
 * and the answer's body pulled in pieces. Blocking with timeouts; every fd O_CLOEXEC.
 * With oc_pool_enable, connections are kept alive and reused (a process-wide pool). */
#ifndef NUBO_OBJSTORE_OBJCLIENT_H
#define NUBO_OBJSTORE_OBJCLIENT_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define OC_MAX_HEADERS 80

struct oc {
	int fd;
	int chunked; /* the request body is sent chunked */
	int status;  /* of the answer, once read */
	int nh;
	char *hname[OC_MAX_HEADERS], *hval[OC_MAX_HEADERS];
	int64_t body_left; /* answer bytes still to read (-1: until close) */
	int head;          /* a HEAD: the answer has no body whatever its Content-Length */
	int reused;        /* the connection came from the pool */
	int got_answer;    /* a final answer's head was read */
	int req_done;      /* the whole request (head and body) was sent */
	int body_sent;     /* some request body bytes were sent */
	int64_t req_left;  /* sized request body bytes still to send */
	char *req;         /* the request head, kept to resend on a fresh connection */
	size_t req_len;
	char host[64];
	unsigned port;
	int timeout_ms;
	char buf[16384];
	size_t off, have; /* unread answer bytes in buf */
};

/* Makes o an exchange not started (oc_close does nothing to it) without clearing its
 * answer buffer, so that a struct oc costs no 16 KiB memset per request. */
void oc_init(struct oc *o);
/* Connects to host:port and sends "METHOD path" with the headers ("Name: value" lines,
 * NULL-terminated). body_len: -1 for a chunked body, 0 for none, else the
 * Content-Length. expect: send Expect: 100-continue and wait for it (or an early final
 * answer, read into o). Returns 0 (o->status is 100 or the early answer) or -errno. */
int oc_open(struct oc *o, const char *host, unsigned port, const char *method, const char *path,
            const char *const *headers, int64_t body_len, int expect, int timeout_ms);
/* oc_open in two halves, so that a PUT's replicas wait for their 100 Continue at the
 * same time: oc_start connects and sends the request head (never waits for an answer);
 * oc_await_continue then reads the 100 Continue or the early final answer into o.
 * Each returns 0 or -errno. */
int oc_start(struct oc *o, const char *host, unsigned port, const char *method, const char *path,
             const char *const *headers, int64_t body_len, int expect, int timeout_ms);
int oc_await_continue(struct oc *o, int timeout_ms);
/* Sends body bytes (chunk-framed when chunked). 0 or -errno. */
int oc_write(struct oc *o, const void *buf, size_t n);
/* Ends the body (the last chunk) and reads the answer's head. 0 or -errno. */
int oc_finish(struct oc *o);
/* oc_finish in two halves, so that the replicas of a PUT fsync at the same time:
 * oc_end_body sends the last chunk (nothing for a sized body); oc_await_answer reads the
 * final answer's head. Each 0 or -errno. */
int oc_end_body(struct oc *o);
/* oc_end_body with one trailer field ("Name: value", no CRLF; NULL: none) after the last
 * chunk of a chunked body. 0 or -errno. */
int oc_end_body_trailer(struct oc *o, const char *trailer);
#define OC_ANSWER_TIMEOUT_MS 60000 /* an answer after the body: fsyncs may be slow */
int oc_await_answer(struct oc *o);
/* oc_await_answer waiting timeout_ms at most (a PUT's wait past its quorum). */
int oc_await_answer_ms(struct oc *o, int timeout_ms);
/* Which of the n exchanges v[] has answer bytes to read (buffered or on its socket),
 * waiting up to timeout_ms: its index, -ETIMEDOUT or -errno. NULL entries are skipped.
 * A PUT reads its replicas' answers in the order they come. */
int oc_await_any(struct oc *const *v, int n, int timeout_ms);
/* Reads the answer's head (after a request without body). 0 or -errno. */
int oc_read_head(struct oc *o);
/* Reads answer body bytes: > 0, 0 at its end, -errno. */
ssize_t oc_read(struct oc *o, void *buf, size_t max);
/* Answer header value (case-insensitive) or NULL. */
const char *oc_header(const struct oc *o, const char *name);
/* Ends the exchange: the connection goes back to the pool when the pool is on and the
 * exchange ended cleanly (request sent whole, answer read whole, no Connection: close),
 * else it is closed. */
void oc_close(struct oc *o);

/* Turns connection reuse on for this process (the proxy): up to OC_POOL_MAX idle
 * connections, each kept at most OC_POOL_IDLE_S seconds (well under the object
 * server's idle timeout). A pooled connection that the server closed meanwhile is
 * noticed before use; one that breaks before any answer byte (the request was not
 * taken) is replaced by a fresh connection and the request head sent again, which is
 * safe because no request body has been sent by then. */
#define OC_POOL_MAX 256
#define OC_POOL_IDLE_S 10
void oc_pool_enable(void);
/* Closes every idle pooled connection (tests, shutdown). */
void oc_pool_flush(void);

/* Percent-encodes s for a path (keeps unreserved characters and '/') into a new
 * string. Pure. */
char *oc_quote(const char *s);

#endif

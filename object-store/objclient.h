/* The proxy's side of the internal protocol: one HTTP/1.1 exchange with an object server
 * over a plain socket, the request body pushed in pieces as the client's bytes arrive
 * and the answer's body pulled in pieces. Blocking with timeouts; every fd O_CLOEXEC. */
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
	char buf[16384];
	size_t off, have; /* unread answer bytes in buf */
};

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
int oc_await_answer(struct oc *o);
/* Reads the answer's head (after a request without body). 0 or -errno. */
int oc_read_head(struct oc *o);
/* Reads answer body bytes: > 0, 0 at its end, -errno. */
ssize_t oc_read(struct oc *o, void *buf, size_t max);
/* Answer header value (case-insensitive) or NULL. */
const char *oc_header(const struct oc *o, const char *name);
void oc_close(struct oc *o);

/* Percent-encodes s for a path (keeps unreserved characters and '/') into a new
 * string. Pure. */
char *oc_quote(const char *s);

#endif

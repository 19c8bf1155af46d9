/* A small blocking HTTP/1.1 client for the proxy's exchanges with object servers. */
#include "objclient.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xalloc.h"

#define OC_IO_TIMEOUT_MS 30000
#define OC_AWAIT_MAX 8 /* exchanges oc_await_any watches at once (replicas) */

/* ------------------------------------------------------------------ the pool */

struct pooled {
	char host[64];
	unsigned port;
	int fd;
	time_t at; /* when it went idle */
};

static struct {
	pthread_mutex_t mu;
	int on; /* read without the lock (atomic): two fewer lock round trips an exchange */
	int n;
	struct pooled e[OC_POOL_MAX];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

void oc_pool_enable(void)
{
	__atomic_store_n(&pool.on, 1, __ATOMIC_RELEASE);
}

static int pool_is_on(void)
{
	return __atomic_load_n(&pool.on, __ATOMIC_ACQUIRE);
}

void oc_pool_flush(void)
{
	pthread_mutex_lock(&pool.mu);
	for (int i = 0; i < pool.n; i++)
		close(pool.e[i].fd);
	pool.n = 0;
	pthread_mutex_unlock(&pool.mu);
}

/* An idle connection the server has not closed meanwhile: nothing may be readable on it
 * (an EOF, a reset or stray bytes all mean it is not fit for a new request). */
static int pooled_fit(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 0;
}

/* The most recently idled fit connection to host:port, or -1. */
static int pool_take(const char *host, unsigned port)
{
	time_t now = time(NULL);
	for (;;) {
		int fd = -1, fresh = 0;
		pthread_mutex_lock(&pool.mu);
		for (int i = pool.n - 1; i >= 0; i--)
			if (pool.e[i].port == port && !strcmp(pool.e[i].host, host)) {
				fd = pool.e[i].fd;
				fresh = now - pool.e[i].at <= OC_POOL_IDLE_S;
				pool.e[i] = pool.e[--pool.n];
				break;
			}
		pthread_mutex_unlock(&pool.mu);
		if (fd < 0 || (fresh && pooled_fit(fd)))
			return fd;
		close(fd);
	}
}

/* Keeps fd for the next exchange with host:port; drops connections idle too long. */
static void pool_put(const char *host, unsigned port, int fd)
{
	time_t now = time(NULL);
	pthread_mutex_lock(&pool.mu);
	for (int i = pool.n - 1; i >= 0; i--)
		if (now - pool.e[i].at > OC_POOL_IDLE_S) {
			close(pool.e[i].fd);
			pool.e[i] = pool.e[--pool.n];
		}
	if (pool.n < OC_POOL_MAX) {
		struct pooled *e = &pool.e[pool.n++];
		snprintf(e->host, sizeof(e->host), "%s", host);
		e->port = port;
		e->fd = fd;
		e->at = now;
		fd = -1;
	}
	pthread_mutex_unlock(&pool.mu);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------------ exchanges */

static int oc_wait(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int n;
	do
		n = poll(&p, 1, ms);
	while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : n == 0 ? -ETIMEDOUT : -errno;
}

/* Sends the pieces iov[0..n) whole, in one sendmsg where the socket takes them (a
 * chunk's frame and its bytes leave together), waiting while it is full. iov is
 * consumed. 0 or -errno. */
static int send_iov(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t k = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				int rc = oc_wait(fd, POLLOUT, OC_IO_TIMEOUT_MS);
				if (rc < 0)
					return rc;
				continue;
			}
			return -errno;
		}
		while (n > 0 && (size_t)k >= iov->iov_len) {
			k -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + k;
			iov->iov_len -= (size_t)k;
		}
	}
	return 0;
}

static int send_all(int fd, const void *buf, size_t n)
{
	struct iovec v = {.iov_base = (void *)buf, .iov_len = n};
	return send_iov(fd, &v, 1);
}

static ssize_t recv_some(int fd, void *buf, size_t n, int ms)
{
	for (;;) {
		ssize_t k = recv(fd, buf, n, 0);
		if (k >= 0)
			return k;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int rc = oc_wait(fd, POLLIN, ms);
		if (rc < 0)
			return rc;
	}
}

static void oc_clear_headers(struct oc *o)
{
	for (int i = 0; i < o->nh; i++) {
		free(o->hname[i]);
		free(o->hval[i]);
	}
	o->nh = 0;
}

/* Reads one answer head (status line + headers) into o; skips 100 Continue only when
 * skip_continue. */
static int oc_head(struct oc *o, int ms, int skip_continue)
{
	for (;;) {
		char *end;
		while (!(o->have > o->off &&
		         (end = memmem(o->buf + o->off, o->have - o->off, "\r\n\r\n", 4)))) {
			if (o->off > 0) {
				memmove(o->buf, o->buf + o->off, o->have - o->off);
				o->have -= o->off;
				o->off = 0;
			}
			if (o->have >= sizeof(o->buf) - 1)
				return -EPROTO;
			/* nothing buffered: the answer is still to come (a recv now would
			 * almost always be EAGAIN first), so wait for it, then read */
			if (o->have == 0) {
				int rc = oc_wait(o->fd, POLLIN, ms);
				if (rc < 0)
					return rc;
			}
			ssize_t k =
			    recv_some(o->fd, o->buf + o->have, sizeof(o->buf) - 1 - o->have, ms);
			if (k <= 0)
				return k < 0 ? (int)k : -ECONNRESET;
			o->have += (size_t)k;
		}
		*end = '\0';
		char *line = o->buf + o->off;
		o->off = (size_t)(end + 4 - o->buf);
		int major, minor, status;
		if (sscanf(line, "HTTP/%d.%d %d", &major, &minor, &status) != 3)
			return -EPROTO;
		oc_clear_headers(o);
		o->status = status;
		o->body_left = -1;
		char *save = NULL;
		strtok_r(line, "\r\n", &save);
		for (char *h = strtok_r(NULL, "\r\n", &save); h;
		     h = strtok_r(NULL, "\r\n", &save)) {
			char *colon = strchr(h, ':');
			if (!colon || o->nh >= OC_MAX_HEADERS)
				continue;
			*colon = '\0';
			char *v = colon + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			o->hname[o->nh] = xstrdup(h);
			o->hval[o->nh] = xstrdup(v);
			o->nh++;
			if (!strcasecmp(h, "Content-Length"))
				o->body_left = strtoll(v, NULL, 10);
		}
		if (o->head || status == 204 || status == 304 || status < 200)
			o->body_left = 0;
		if (status < 200 && skip_continue)
			continue;
		o->got_answer = status >= 200;
		return 0;
	}
}

/* A fresh connection to o->host:o->port into o->fd. 0 or -errno. */
static int oc_connect(struct oc *o)
{
	o->reused = 0;
	o->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (o->fd < 0)
		return -errno;
	int one = 1;
	setsockopt(o->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
	if (inet_pton(AF_INET, o->host, &sin.sin_addr) != 1)
		return -EINVAL;
	if (connect(o->fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		if (errno != EINPROGRESS)
			return -errno;
		int rc = oc_wait(o->fd, POLLOUT, o->timeout_ms);
		if (rc < 0)
			return rc;
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr)
			return -soerr;
	}
	return 0;
}

/* A pooled connection broke before any answer byte and before any body byte was sent:
 * the server did not take the request. Sends the head again on a fresh connection. */
static int oc_redo(struct oc *o)
{
	close(o->fd);
	o->fd = -1;
	o->have = o->off = 0;
	int rc = oc_connect(o);
	return rc < 0 ? rc : send_all(o->fd, o->req, o->req_len);
}

/* A request that failed with rc on a reused (pooled) connection before any answer byte
 * and before any body byte is sent again on a fresh one: the server had closed the idle
 * connection. Never after a timeout: the server may be slow, not gone, and it would
 * wait twice (review s8 L1). */
static int oc_may_redo(const struct oc *o, int rc)
{
	return o->reused && o->have == 0 && !o->body_sent && rc != -ETIMEDOUT;
}

void oc_init(struct oc *o)
{
	/* all but the 16 KiB answer buffer, whose bytes count only up to o->have */
	memset(o, 0, offsetof(struct oc, buf));
	o->off = o->have = 0;
	o->fd = -1;
}

int oc_start(struct oc *o, const char *host, unsigned port, const char *method, const char *path,
             const char *const *headers, int64_t body_len, int expect, int timeout_ms)
{
	oc_init(o);
	if (strlen(host) >= sizeof(o->host))
		return -EINVAL;
	snprintf(o->host, sizeof(o->host), "%s", host);
	o->port = port;
	o->timeout_ms = timeout_ms;
	o->head = !strcmp(method, "HEAD");
	o->req_left = body_len > 0 ? body_len : 0;
	o->req_done = body_len == 0;
	int pooled = pool_is_on();
	char *q = oc_quote(path);
	size_t cap = 4096 + strlen(q), n = 0;
	for (int i = 0; headers && headers[i]; i++)
		cap += strlen(headers[i]) + 2;
	char *req = xmalloc(cap);
	n += (size_t)snprintf(req + n, cap - n, "%s %s HTTP/1.1\r\nHost: %s:%u\r\n", method, q,
	                      host, port);
	free(q);
	for (int i = 0; headers && headers[i]; i++)
		n += (size_t)snprintf(req + n, cap - n, "%s\r\n", headers[i]);
	if (body_len < 0) {
		o->chunked = 1;
		n += (size_t)snprintf(req + n, cap - n, "Transfer-Encoding: chunked\r\n");
	} else if (body_len > 0 || !strcmp(method, "PUT"))
		n += (size_t)snprintf(req + n, cap - n, "Content-Length: %lld\r\n",
		                      (long long)body_len);
	if (expect)
		n += (size_t)snprintf(req + n, cap - n, "Expect: 100-continue\r\n");
	n += (size_t)snprintf(req + n, cap - n, "%s\r\n", pooled ? "" : "Connection: close\r\n");
	o->req = req;
	o->req_len = n;
	o->fd = pooled ? pool_take(host, port) : -1;
	int rc = 0;
	if (o->fd >= 0)
		o->reused = 1;
	else
		rc = oc_connect(o);
	if (rc == 0)
		rc = send_all(o->fd, req, n);
	if (rc < 0 && oc_may_redo(o, rc))
		rc = oc_redo(o);
	return rc;
}

int oc_await_continue(struct oc *o, int timeout_ms)
{
	int rc = oc_head(o, timeout_ms, 0);
	if (rc < 0 && oc_may_redo(o, rc)) {
		rc = oc_redo(o);
		if (rc == 0)
			rc = oc_head(o, timeout_ms, 0);
	}
	return rc;
}

int oc_open(struct oc *o, const char *host, unsigned port, const char *method, const char *path,
            const char *const *headers, int64_t body_len, int expect, int timeout_ms)
{
	int rc = oc_start(o, host, port, method, path, headers, body_len, expect, timeout_ms);
	if (rc < 0 || !expect)
		return rc;
	return oc_await_continue(o, timeout_ms);
}

int oc_write(struct oc *o, const void *buf, size_t n)
{
	if (n == 0)
		return 0;
	o->body_sent = 1;
	if (!o->chunked) {
		o->req_left -= (int64_t)n;
		o->req_done = o->req_left <= 0;
	}
	if (o->chunked) {
		char h[32];
		int k = snprintf(h, sizeof(h), "%zx\r\n", n);
		struct iovec iov[3] = {{h, (size_t)k}, {(void *)buf, n}, {(void *)"\r\n", 2}};
		return send_iov(o->fd, iov, 3);
	}
	return send_all(o->fd, buf, n);
}

int oc_end_body(struct oc *o)
{
	return oc_end_body_trailer(o, NULL);
}

int oc_end_body_trailer(struct oc *o, const char *trailer)
{
	if (!o->chunked)
		return 0;
	o->body_sent = 1;
	struct iovec iov[3] = {{(void *)"0\r\n", 3},
	                       {(void *)(trailer ? trailer : ""), trailer ? strlen(trailer) : 0},
	                       {(void *)(trailer ? "\r\n\r\n" : "\r\n"), trailer ? 4 : 2}};
	int rc = send_iov(o->fd, iov, 3);
	o->req_done = rc == 0;
	return rc;
}

int oc_await_answer(struct oc *o)
{
	return oc_head(o, OC_ANSWER_TIMEOUT_MS, 1);
}

int oc_await_answer_ms(struct oc *o, int timeout_ms)
{
	return oc_head(o, timeout_ms, 1);
}

int oc_await_any(struct oc *const *v, int n, int timeout_ms)
{
	struct pollfd p[OC_AWAIT_MAX];
	int at[OC_AWAIT_MAX], k = 0;
	for (int i = 0; i < n && k < OC_AWAIT_MAX; i++) {
		if (!v[i])
			continue;
		if (v[i]->have > v[i]->off)
			return i;
		p[k] = (struct pollfd){.fd = v[i]->fd, .events = POLLIN};
		at[k++] = i;
	}
	if (k == 0)
		return -EINVAL;
	int r;
	do
		r = poll(p, (nfds_t)k, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	for (int j = 0; j < k; j++)
		if (p[j].revents)
			return at[j];
	return -ETIMEDOUT;
}

int oc_finish(struct oc *o)
{
	int rc = oc_end_body(o);
	return rc < 0 ? rc : oc_await_answer(o);
}

int oc_read_head(struct oc *o)
{
	int rc = oc_head(o, OC_IO_TIMEOUT_MS, 1);
	if (rc < 0 && oc_may_redo(o, rc)) {
		rc = oc_redo(o);
		if (rc == 0)
			rc = oc_head(o, OC_IO_TIMEOUT_MS, 1);
	}
	return rc;
}

ssize_t oc_read(struct oc *o, void *buf, size_t max)
{
	if (o->body_left == 0)
		return 0;
	if (o->body_left > 0 && (int64_t)max > o->body_left)
		max = (size_t)o->body_left;
	ssize_t k;
	if (o->have > o->off) {
		k = (ssize_t)(o->have - o->off < max ? o->have - o->off : max);
		memcpy(buf, o->buf + o->off, (size_t)k);
		o->off += (size_t)k;
	} else {
		k = recv_some(o->fd, buf, max, OC_IO_TIMEOUT_MS);
		if (k < 0)
			return k;
		if (k == 0)
			return o->body_left > 0 ? -ECONNRESET : 0;
	}
	if (o->body_left > 0)
		o->body_left -= k;
	return k;
}

const char *oc_header(const struct oc *o, const char *name)
{
	for (int i = 0; i < o->nh; i++)
		if (!strcasecmp(o->hname[i], name))
			return o->hval[i];
	return NULL;
}

/* The exchange ended cleanly and the server keeps the connection open. */
static int oc_reusable(const struct oc *o)
{
	const char *conn = oc_header(o, "Connection");
	return o->fd >= 0 && o->req_done && o->got_answer && o->body_left == 0 &&
	       o->have == o->off && !(conn && strcasestr(conn, "close"));
}

void oc_close(struct oc *o)
{
	if (o->fd > 0) { /* 0: a zeroed struct never started */
		if (pool_is_on() && oc_reusable(o))
			pool_put(o->host, o->port, o->fd);
		else
			close(o->fd);
	}
	o->fd = -1;
	oc_clear_headers(o);
	free(o->req);
	o->req = NULL;
}

char *oc_quote(const char *s)
{
	size_t n = strlen(s);
	char *out = xmalloc(n * 3 + 1), *p = out;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/')
			*p++ = (char)c;
		else
			p += sprintf(p, "%%%02X", c);
	}
	*p = '\0';
	return out;
}

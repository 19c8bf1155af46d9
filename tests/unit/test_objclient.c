/* The proxy's connections to the object servers (objclient.h): with the pool on, an
 * exchange that ended cleanly leaves its connection for the next one (one accept for
 * many requests); an answer with Connection: close, a body left unread, a server that
 * closed the idle connection, or one that drops a reused connection without answering
 * never cost a request: each is noticed and a fresh connection made. A fake object
 * server on loopback counts its accepts and answers in the way each test asks. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "object-store/objclient.h"

/* How the fake treats a connection after answering its first request. */
enum after {
	KEEP,      /* keep answering on it */
	CLOSE_HDR, /* answer with Connection: close, then close */
	SILENT,    /* close right after answering (no header saying so) */
	DROP_NEXT, /* take the next request on it, then close without answering */
};

static struct {
	int lfd;
	unsigned port;
	int accepts, requests;
	enum after after;
	pthread_mutex_t mu;
	pthread_t th;
} fk = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* Reads one request head (no bodies in these tests). 1, or 0 at EOF. */
static int read_head(int c)
{
	char buf[4096];
	size_t have = 0;
	while (have < sizeof(buf) - 1) {
		ssize_t k = read(c, buf + have, sizeof(buf) - 1 - have);
		if (k <= 0)
			return 0;
		have += (size_t)k;
		buf[have] = '\0';
		if (strstr(buf, "\r\n\r\n"))
			return 1;
	}
	return 0;
}

static void *serve_conn(void *arg)
{
	int c = (int)(intptr_t)arg;
	pthread_mutex_lock(&fk.mu);
	enum after after = fk.after;
	pthread_mutex_unlock(&fk.mu);
	for (int n = 0; read_head(c); n++) {
		if (after == DROP_NEXT && n == 1)
			break;
		pthread_mutex_lock(&fk.mu);
		fk.requests++;
		pthread_mutex_unlock(&fk.mu);
		const char *ans = after == CLOSE_HDR
		                      ? "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
		                        "Connection: close\r\n\r\nhello"
		                      : "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
		if (write(c, ans, strlen(ans)) != (ssize_t)strlen(ans))
			break;
		if (after == CLOSE_HDR || after == SILENT)
			break;
	}
	close(c);
	return NULL;
}

static void *fake_main(void *arg)
{
	for (;;) {
		int c = accept(fk.lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		pthread_mutex_lock(&fk.mu);
		fk.accepts++;
		pthread_mutex_unlock(&fk.mu);
		pthread_t t;
		pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)c);
		pthread_detach(t);
	}
}

static int setup(void **state)
{
	fk.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET};
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t sl = sizeof(sin);
	if (bind(fk.lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fk.lfd, 16) < 0 ||
	    getsockname(fk.lfd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	fk.port = ntohs(sin.sin_port);
	pthread_create(&fk.th, NULL, fake_main, NULL);
	oc_pool_enable();
	return 0;
}

static int teardown(void **state)
{
	oc_pool_flush();
	shutdown(fk.lfd, SHUT_RDWR);
	close(fk.lfd);
	pthread_join(fk.th, NULL);
	return 0;
}

static void reset(enum after after)
{
	oc_pool_flush();
	pthread_mutex_lock(&fk.mu);
	fk.accepts = fk.requests = 0;
	fk.after = after;
	pthread_mutex_unlock(&fk.mu);
}

static int accepts(void)
{
	pthread_mutex_lock(&fk.mu);
	int n = fk.accepts;
	pthread_mutex_unlock(&fk.mu);
	return n;
}

/* One GET; read_body: read the answer's body whole. Asserts a 200. */
static void get(int read_body)
{
	struct oc o;
	assert_int_equal(oc_open(&o, "127.0.0.1", fk.port, "GET", "/d1/0/a/c/o", NULL, 0, 0, 2000),
	                 0);
	assert_int_equal(oc_read_head(&o), 0);
	assert_int_equal(o.status, 200);
	if (read_body) {
		char buf[16];
		assert_int_equal(oc_read(&o, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "hello", 5);
		assert_int_equal(oc_read(&o, buf, sizeof(buf)), 0);
	}
	oc_close(&o);
}

static void test_reuse(void **state)
{
	reset(KEEP);
	for (int i = 0; i < 5; i++)
		get(1);
	assert_int_equal(accepts(), 1);
}

static void test_close_header(void **state)
{
	reset(CLOSE_HDR);
	for (int i = 0; i < 3; i++)
		get(1);
	assert_int_equal(accepts(), 3);
}

static void test_unread_body_not_reused(void **state)
{
	reset(KEEP);
	get(0); /* the body's bytes are still on the connection: never reused */
	get(1);
	assert_int_equal(accepts(), 2);
}

static void test_server_closed_idle(void **state)
{
	reset(SILENT);
	get(1);
	usleep(50 * 1000); /* the fake's FIN arrives */
	get(1);
	assert_int_equal(accepts(), 2);
}

static void test_dropped_reused_is_retried(void **state)
{
	reset(DROP_NEXT);
	get(1);
	get(1); /* the pooled connection takes it and closes: a fresh one answers */
	assert_int_equal(accepts(), 2);
	pthread_mutex_lock(&fk.mu);
	assert_int_equal(fk.requests, 2);
	pthread_mutex_unlock(&fk.mu);
}

/* oc_await_any: the exchange with bytes to read, whichever it is (a PUT reads its
 * replicas' answers in the order they come); bytes already buffered count at once. */
static void test_await_any(void **state)
{
	int a[2], b[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b), 0);
	struct oc x, y;
	oc_init(&x);
	oc_init(&y);
	x.fd = a[0];
	y.fd = b[0];
	struct oc *v[3] = {&x, NULL, &y};
	assert_int_equal(oc_await_any(v, 3, 50), -ETIMEDOUT);
	assert_int_equal(write(b[1], "H", 1), 1);
	assert_int_equal(oc_await_any(v, 3, 2000), 2);
	v[2] = NULL; /* answered: no longer awaited */
	assert_int_equal(oc_await_any(v, 3, 50), -ETIMEDOUT);
	x.have = 4; /* an answer's bytes already read into its buffer */
	assert_int_equal(oc_await_any(v, 3, 2000), 0);
	v[0] = NULL;
	assert_int_equal(oc_await_any(v, 3, 50), -EINVAL);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
}

/* A chunked body leaves framed exactly, each chunk (its size line, bytes and CRLF) in
 * one sendmsg as far as the socket takes it (a small send buffer makes it take part of
 * one: the rest follows), and the last chunk carries the trailer when one is given. */
struct sink {
	int fd;
	char *buf;
	size_t have, cap;
};

static void *sink_main(void *arg)
{
	struct sink *k = arg;
	for (;;) {
		if (k->have == k->cap) {
			k->cap *= 2;
			k->buf = realloc(k->buf, k->cap);
		}
		ssize_t n = read(k->fd, k->buf + k->have, k->cap - k->have);
		if (n <= 0)
			return NULL;
		k->have += (size_t)n;
	}
}

static void chunked_round(const char *trailer, const char *tail)
{
	int sp[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
	int small = 4096;
	setsockopt(sp[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	fcntl(sp[0], F_SETFL, O_NONBLOCK); /* as the proxy's sockets: partial sends */
	struct sink k = {.fd = sp[1], .cap = 4096};
	k.buf = malloc(k.cap);
	pthread_t t;
	pthread_create(&t, NULL, sink_main, &k);
	struct oc x;
	oc_init(&x);
	x.fd = sp[0];
	x.chunked = 1;
	size_t big = 300000;
	char *body = malloc(big);
	for (size_t i = 0; i < big; i++)
		body[i] = (char)(i * 7);
	assert_int_equal(oc_write(&x, body, big), 0);
	assert_int_equal(oc_write(&x, "xyz", 3), 0);
	assert_int_equal(trailer ? oc_end_body_trailer(&x, trailer) : oc_end_body(&x), 0);
	assert_true(x.req_done);
	shutdown(sp[0], SHUT_WR);
	pthread_join(t, NULL);
	const char *head = "493e0\r\n"; /* 300000 */
	size_t at = 0;
	assert_memory_equal(k.buf, head, strlen(head));
	at += strlen(head);
	assert_memory_equal(k.buf + at, body, big);
	at += big;
	const char *rest = "\r\n3\r\nxyz\r\n";
	assert_memory_equal(k.buf + at, rest, strlen(rest));
	at += strlen(rest);
	assert_int_equal(k.have - at, strlen(tail));
	assert_memory_equal(k.buf + at, tail, strlen(tail));
	close(sp[0]);
	close(sp[1]);
	free(body);
	free(k.buf);
}

static void test_chunked_body_and_trailer(void **state)
{
	chunked_round(NULL, "0\r\n\r\n");
	chunked_round("X-Backend-Etag: 0123", "0\r\nX-Backend-Etag: 0123\r\n\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reuse),
	    cmocka_unit_test(test_close_header),
	    cmocka_unit_test(test_unread_body_not_reused),
	    cmocka_unit_test(test_server_closed_idle),
	    cmocka_unit_test(test_dropped_reused_is_retried),
	    cmocka_unit_test(test_await_any),
	    cmocka_unit_test(test_chunked_body_and_trailer),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* Reads through the store (review finding 11): a GET or HEAD asks the first primary that
 * has the object, not every replica; a 404 makes it ask the next one; X-Newest asks all
 * of them and keeps the newest version; an expiry's tombstones follow the expiring
 * version. Three fake object servers on loopback count the requests they get; the ring
 * is a real one saved to a file. */
#include <arpa/inet.h>
#include <dirent.h>
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

#include "object-store/ring.h"
#include "object-store/store_impl.h"

#define ACCOUNT "AUTH_p1"
#define CONTAINER "c"
#define OBJECT "o"

/* One fake object server: answers every request with status and X-Timestamp ts. */
struct fake {
	int lfd;
	unsigned port;
	int status;
	char ts[STORE_TS_LEN];
	int requests;
	int reads;                         /* GET and HEAD requests */
	char deleted_at[STORE_TS_LEN + 8]; /* X-Timestamp of the last DELETE */
	pthread_mutex_t mu;
	pthread_t th;
};

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		int c = accept(f->lfd, NULL, NULL);
		if (c < 0)
			return NULL;
		char buf[8192];
		size_t have = 0;
		while (have < sizeof(buf) - 1) {
			ssize_t k = read(c, buf + have, sizeof(buf) - 1 - have);
			if (k <= 0)
				break;
			have += (size_t)k;
			buf[have] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		pthread_mutex_lock(&f->mu);
		f->requests++;
		f->reads += !strncmp(buf, "GET ", 4) || !strncmp(buf, "HEAD ", 5);
		const char *xt = strstr(buf, "\r\nX-Timestamp: ");
		if (!strncmp(buf, "DELETE ", 7) && xt)
			sscanf(xt + 15, "%16s", f->deleted_at);
		int st = f->status;
		char ts[STORE_TS_LEN];
		memcpy(ts, f->ts, sizeof(ts));
		pthread_mutex_unlock(&f->mu);
		char ans[512];
		int n = st != 200 && st != 404
		            ? snprintf(ans, sizeof(ans),
		                       "HTTP/1.1 %d Other\r\nX-Backend-Timestamp: %s\r\n"
		                       "Content-Length: 0\r\nConnection: close\r\n\r\n",
		                       st, ts)
		        : st == 404 ? snprintf(ans, sizeof(ans),
		                               "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
		                               "Connection: close\r\n\r\n")
		                    : snprintf(ans, sizeof(ans),
		                               "HTTP/1.1 200 OK\r\nX-Timestamp: %s\r\n"
		                               "Etag: 0123456789abcdef0123456789abcdef\r\n"
		                               "X-Object-Size: 0\r\nContent-Length: 0\r\n"
		                               "Connection: close\r\n\r\n",
		                               ts);
		if (write(c, ans, (size_t)n) != n)
			fprintf(stderr, "fake: short write\n");
		close(c);
	}
}

static struct fake fakes[3];
static struct store *st;
static int first_primary; /* index into fakes of the object's first primary */
static char ring_path[64] = "/tmp/test_store_read.XXXXXX";
static char spool[64] = "/tmp/test_store_read_spool.XXXXXX";

static int setup(void **state)
{
	struct ring *r = ring_new(4, 3);
	for (int i = 0; i < 3; i++) {
		struct fake *f = &fakes[i];
		f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in sin = {.sin_family = AF_INET};
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		socklen_t sl = sizeof(sin);
		if (bind(f->lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    listen(f->lfd, 16) < 0 || getsockname(f->lfd, (struct sockaddr *)&sin, &sl) < 0)
			return -1;
		f->port = ntohs(sin.sin_port);
		pthread_mutex_init(&f->mu, NULL);
		pthread_create(&f->th, NULL, fake_main, f);
		char name[16];
		snprintf(name, sizeof(name), "d%d", i + 1);
		ring_add_dev(r, i + 1, 100, "127.0.0.1", f->port, name);
	}
	ring_rebalance(r);
	int ids[3];
	ring_primaries(r, ring_part(r, ACCOUNT, CONTAINER, OBJECT), ids);
	first_primary = ids[0];
	int fd = mkstemp(ring_path);
	close(fd);
	if (ring_save(r, ring_path) < 0)
		return -1;
	ring_free(r);
	if (!mkdtemp(spool))
		return -1;
	struct store_config cfg = {
	    .ring_file = ring_path, .db = NULL, .spool_dir = spool, .connect_timeout_ms = 2000};
	char err[256];
	st = store_open(&cfg, err, sizeof(err));
	return st ? 0 : -1;
}

static int teardown(void **state)
{
	store_close(st);
	for (int i = 0; i < 3; i++) {
		shutdown(fakes[i].lfd, SHUT_RDWR);
		close(fakes[i].lfd);
		pthread_join(fakes[i].th, NULL);
	}
	unlink(ring_path);
	DIR *d = opendir(spool); /* the spooled listing updates of the expiry test */
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			char p[384];
			snprintf(p, sizeof(p), "%s/%s", spool, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(spool);
	return 0;
}

static void answers(int s0, const char *t0, int s1, const char *t1, int s2, const char *t2)
{
	int s[3] = {s0, s1, s2};
	const char *t[3] = {t0, t1, t2};
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&fakes[i].mu);
		fakes[i].status = s[i];
		snprintf(fakes[i].ts, sizeof(fakes[i].ts), "%s", t[i]);
		fakes[i].requests = 0;
		fakes[i].reads = 0;
		fakes[i].deleted_at[0] = '\0';
		pthread_mutex_unlock(&fakes[i].mu);
	}
}

static int requests(void)
{
	int n = 0;
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&fakes[i].mu);
		n += fakes[i].requests;
		pthread_mutex_unlock(&fakes[i].mu);
	}
	return n;
}

static void head_asks_one_replica(void **state)
{
	answers(200, "0000000001.00000", 200, "0000000001.00000", 200, "0000000001.00000");
	struct store_meta m;
	assert_int_equal(store_head(st, ACCOUNT, CONTAINER, OBJECT, &m), STORE_OK);
	store_meta_release(&m);
	assert_int_equal(requests(), 1);
	assert_int_equal(fakes[first_primary].requests, 1);
	/* a GET likewise */
	answers(200, "0000000001.00000", 200, "0000000001.00000", 200, "0000000001.00000");
	uint64_t off, len;
	struct store_get *g;
	assert_int_equal(store_get_open(st, ACCOUNT, CONTAINER, OBJECT, 0, -1, &m, &off, &len, &g),
	                 STORE_OK);
	store_meta_release(&m);
	store_get_close(g);
	assert_int_equal(requests(), 1);
}

static void a_404_asks_the_next(void **state)
{
	answers(200, "0000000002.00000", 200, "0000000002.00000", 200, "0000000002.00000");
	pthread_mutex_lock(&fakes[first_primary].mu);
	fakes[first_primary].status = 404; /* it missed the write */
	pthread_mutex_unlock(&fakes[first_primary].mu);
	struct store_meta m;
	assert_int_equal(store_head(st, ACCOUNT, CONTAINER, OBJECT, &m), STORE_OK);
	assert_string_equal(m.timestamp, "0000000002.00000");
	store_meta_release(&m);
	assert_int_equal(requests(), 2);
	/* nobody has it: every primary was asked */
	answers(404, "", 404, "", 404, "");
	assert_int_equal(store_head(st, ACCOUNT, CONTAINER, OBJECT, &m), STORE_NOT_FOUND);
	assert_int_equal(requests(), 3);
}

static void newest_asks_all_and_keeps_the_newest(void **state)
{
	const char *ts[3];
	for (int i = 0; i < 3; i++)
		ts[i] = i == first_primary             ? "0000000003.00000"
		        : i == (first_primary + 1) % 3 ? "0000000009.00000"
		                                       : "0000000004.00000";
	answers(200, ts[0], 200, ts[1], 200, ts[2]);
	struct store_meta m;
	/* without X-Newest the first primary's (stale) answer is served, as Swift does */
	assert_int_equal(store_head(st, ACCOUNT, CONTAINER, OBJECT, &m), STORE_OK);
	assert_string_equal(m.timestamp, "0000000003.00000");
	store_meta_release(&m);
	assert_int_equal(requests(), 1);
	answers(200, ts[0], 200, ts[1], 200, ts[2]);
	assert_int_equal(store_head_newest(st, ACCOUNT, CONTAINER, OBJECT, &m), STORE_OK);
	assert_string_equal(m.timestamp, "0000000009.00000");
	store_meta_release(&m);
	assert_int_equal(requests(), 3);
}

static int reads(void)
{
	int n = 0;
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&fakes[i].mu);
		n += fakes[i].reads;
		pthread_mutex_unlock(&fakes[i].mu);
	}
	return n;
}

/* review s6 5: the store's own read-then-write steps (a POST rewrites the object from
 * its current version; a copy reads its source) read the newest version from every
 * replica, never the first primary's alone, which may have missed the last write. The
 * rewrite itself fails here (the fakes take no PUT): only the reads are counted. */
static void rewrites_read_the_newest(void **state)
{
	answers(200, "0000000005.00000", 200, "0000000005.00000", 200, "0000000005.00000");
	pthread_mutex_lock(&fakes[first_primary].mu);
	snprintf(fakes[first_primary].ts, sizeof(fakes[first_primary].ts), "0000000001.00000");
	pthread_mutex_unlock(&fakes[first_primary].mu);
	(void)store_post(st, ACCOUNT, CONTAINER, OBJECT, NULL, 0, NULL);
	assert_true(reads() >= 3);
	for (int i = 0; i < 3; i++)
		assert_true(fakes[i].reads >= 1);
}

/* Expiry: the tombstones are written one step after the expiring version, not at the
 * time now, so a replica holding a newer version refuses them (409: counted as done) and
 * that version survives; a timestamp that is not one is refused before any replica is
 * asked. (The listing row goes to the spool: this store has no database.) */
static void expire_tombstones_follow_the_version(void **state)
{
	answers(204, "", 204, "", 204, "");
	assert_int_equal(store_expire(st, ACCOUNT, CONTAINER, OBJECT, "0000000007.99999"),
	                 STORE_OK);
	for (int i = 0; i < 3; i++)
		assert_string_equal(fakes[i].deleted_at, "0000000008.00000");
	/* overwritten everywhere after the expiry was scheduled: nothing deleted */
	answers(409, "0000000009.00000", 409, "0000000009.00000", 409, "0000000009.00000");
	assert_int_equal(store_expire(st, ACCOUNT, CONTAINER, OBJECT, "0000000007.99999"),
	                 STORE_NOT_FOUND);
	/* one replica short of a quorum answering: the row stays for the next pass */
	answers(204, "", 500, "", 500, "");
	assert_int_equal(store_expire(st, ACCOUNT, CONTAINER, OBJECT, "0000000007.99999"),
	                 STORE_UNAVAILABLE);
	answers(204, "", 204, "", 204, "");
	assert_int_equal(store_expire(st, ACCOUNT, CONTAINER, OBJECT, "7.5"), STORE_BAD_REQUEST);
	assert_int_equal(requests(), 0);
}

/* review s12 L4: what an object server's answer to a PUT counts as. A 400 is the
 * client's only when the object server says so (its metadata does not fit); any other
 * 4xx (a missing trailer, a bad length) is a protocol fault between proxy and object
 * server, which fails that replica (503 without a quorum), never the client's 400. */
static void put_answers_map_to_votes(void **state)
{
	static const struct {
		int status, client_fault;
		enum store_put_vote vote;
	} cases[] = {
	    {201, 0, STORE_VOTE_STORED},   {409, 0, STORE_VOTE_SUPERSEDED},
	    {422, 0, STORE_VOTE_MISMATCH}, {400, 1, STORE_VOTE_REFUSED},
	    {400, 0, STORE_VOTE_FAULT},    {499, 0, STORE_VOTE_FAULT},
	    {404, 0, STORE_VOTE_FAULT},    {507, 0, STORE_VOTE_FAILED},
	    {500, 0, STORE_VOTE_FAILED},   {503, 0, STORE_VOTE_FAILED},
	    {0, 0, STORE_VOTE_FAILED},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(store_put_vote(cases[i].status, cases[i].client_fault),
		                 cases[i].vote);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(head_asks_one_replica),
	    cmocka_unit_test(a_404_asks_the_next),
	    cmocka_unit_test(newest_asks_all_and_keeps_the_newest),
	    cmocka_unit_test(rewrites_read_the_newest),
	    cmocka_unit_test(expire_tombstones_follow_the_version),
	    cmocka_unit_test(put_answers_map_to_votes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

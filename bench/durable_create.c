/* bench/durable_create.c: durable 4 KiB creates per second on a file system, made as
 * nubo-objserver makes a new object, so that a group commit of the object servers'
 * fsyncs can be judged on the disk at hand before it is built (issue 10).
 *
 *   cc -O2 -pthread -o /tmp/durable_create bench/durable_create.c
 *   /tmp/durable_create DIR MODE THREADS SECONDS
 *
 * Each of THREADS writers loops: a temp file in DIR/tmp (header + 4 KiB), a new hash
 * directory under DIR/objects/<n>, then
 *   MODE 0 (as the object server): fsync(file), rename into the directory, fsync(dir),
 *          fsync(parent), by the writer itself;
 *   MODE 1: rename, then hand the file over to one committer thread, which takes all
 *          waiting writers at once and issues one syncfs(2) for them;
 *   MODE 2: as 1, but the committer fsyncs each file of the batch, then each
 *          directory;
 *   MODE 3 (a per-device append log instead of a file per object, not what the object
 *          server does): the same bytes written at the writer's own offset of one
 *          preallocated file, DIR/log (1 GiB, reused from its start when full), then
 *          fdatasync(2) by the writer. Crash-safe for the record once fdatasync
 *          returned; what a log would also need (an index, compaction) is not measured.
 * (Modes 1 and 2 rename before the sync, which is not crash-safe: they only measure
 * what the syncs cost.) Prints creates/s and the committer's batches. DIR is made and
 * left behind (remove it). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_THREADS 64

static const char *root;
static int mode;
static atomic_long done;
static atomic_int stop;
static int log_fd = -1;      /* MODE 3 */
static atomic_long log_off;  /* MODE 3: the next record's offset */
#define LOG_BYTES (1L << 30) /* MODE 3's preallocated log */

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, synced;
	int fd[MAX_THREADS], dir[MAX_THREADS], n;
	long asked, finished, batches;
	int writers_done; /* the committer ends once they are and nothing waits */
} q = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER,
       .synced = PTHREAD_COND_INITIALIZER};

static void sync_path(const char *path)
{
	int d = open(path, O_RDONLY | O_DIRECTORY);
	if (d >= 0) {
		fsync(d);
		close(d);
	}
}

static void *writer(void *arg)
{
	long id = (long)arg;
	static const char body[4096 + 1024];
	for (long n = 0; !atomic_load(&stop); n++) {
		if (mode == 3) {
			long off = atomic_fetch_add(&log_off, (long)sizeof(body)) %
			           (LOG_BYTES / (long)sizeof(body) * (long)sizeof(body));
			if (pwrite(log_fd, body, sizeof(body), off) != (ssize_t)sizeof(body) ||
			    fdatasync(log_fd) < 0) {
				perror("log");
				exit(1);
			}
			atomic_fetch_add(&done, 1);
			continue;
		}
		char tmp[512], parent[512], dir[600], final[700];
		snprintf(tmp, sizeof(tmp), "%s/tmp/t%ld-%ld", root, id, n);
		snprintf(parent, sizeof(parent), "%s/objects/%ld", root, (id * 7919 + n) % 997);
		snprintf(dir, sizeof(dir), "%s/h%ld-%ld", parent, id, n);
		snprintf(final, sizeof(final), "%s/x.data", dir);
		mkdir(parent, 0750);
		if (mkdir(dir, 0750) < 0)
			return NULL;
		int fd = open(tmp, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 || pwrite(fd, body, sizeof(body), 0) != (ssize_t)sizeof(body)) {
			perror(tmp);
			exit(1);
		}
		if (mode == 0) {
			fsync(fd);
			rename(tmp, final);
			sync_path(dir);
			sync_path(parent);
		} else {
			rename(tmp, final);
			int d = open(dir, O_RDONLY | O_DIRECTORY);
			pthread_mutex_lock(&q.mu);
			q.fd[q.n] = fd;
			q.dir[q.n] = d;
			q.n++;
			long mine = ++q.asked;
			pthread_cond_signal(&q.work);
			while (q.finished < mine)
				pthread_cond_wait(&q.synced, &q.mu);
			pthread_mutex_unlock(&q.mu);
			close(d);
		}
		close(fd);
		atomic_fetch_add(&done, 1);
	}
	return NULL;
}

static void *committer(void *arg)
{
	int fd[MAX_THREADS], dir[MAX_THREADS];
	pthread_mutex_lock(&q.mu);
	while (!q.writers_done || q.n) {
		while (!q.n && !q.writers_done)
			pthread_cond_wait(&q.work, &q.mu);
		int n = q.n;
		long upto = q.asked;
		memcpy(fd, q.fd, sizeof(int) * (size_t)n);
		memcpy(dir, q.dir, sizeof(int) * (size_t)n);
		q.n = 0;
		pthread_mutex_unlock(&q.mu);
		if (n && mode == 1)
			syncfs(fd[0]);
		for (int i = 0; n && mode == 2 && i < n; i++)
			fsync(fd[i]);
		for (int i = 0; n && mode == 2 && i < n; i++)
			fsync(dir[i]);
		pthread_mutex_lock(&q.mu);
		q.batches += n > 0;
		q.finished = upto;
		pthread_cond_broadcast(&q.synced);
	}
	pthread_mutex_unlock(&q.mu);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s DIR MODE(0|1|2|3) THREADS SECONDS\n", argv[0]);
		return 2;
	}
	root = argv[1];
	mode = atoi(argv[2]);
	int threads = atoi(argv[3]), secs = atoi(argv[4]);
	if (mode < 0 || mode > 3 || threads < 1 || threads > MAX_THREADS || secs < 1) {
		fprintf(stderr, "%s: MODE 0..3, THREADS 1..%d, SECONDS >= 1\n", argv[0],
		        MAX_THREADS);
		return 2;
	}
	char p[512];
	mkdir(root, 0750);
	snprintf(p, sizeof(p), "%s/tmp", root);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/objects", root);
	mkdir(p, 0750);
	if (mode == 3) {
		snprintf(p, sizeof(p), "%s/log", root);
		log_fd = open(p, O_CREAT | O_RDWR | O_CLOEXEC, 0640);
		if (log_fd < 0 || fallocate(log_fd, 0, 0, LOG_BYTES) < 0 || fsync(log_fd) < 0) {
			perror(p);
			return 1;
		}
	}
	pthread_t t[MAX_THREADS], c;
	if (mode == 1 || mode == 2)
		pthread_create(&c, NULL, committer, NULL);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	sleep((unsigned)secs);
	atomic_store(&stop, 1);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	if (mode == 1 || mode == 2) {
		pthread_mutex_lock(&q.mu);
		q.writers_done = 1;
		pthread_cond_signal(&q.work);
		pthread_mutex_unlock(&q.mu);
		pthread_join(c, NULL);
	}
	printf("mode=%d threads=%d creates_per_s=%.1f batches=%ld\n", mode, threads,
	       (double)atomic_load(&done) / secs, q.batches);
	return 0;
}

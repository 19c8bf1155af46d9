/* Group commit of a device's syncs (see syncgroup.h): a leader/follower round around the
 * sync numbers of struct syncgen, one mutex and one condition variable. */
#include "syncgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "xalloc.h"

uint64_t syncgen_ticket(const struct syncgen *g)
{
	return g->begun + 1;
}

enum syncgen_turn syncgen_turn(struct syncgen *g, uint64_t ticket)
{
	if (g->ended >= ticket)
		return SYNCGEN_COVERED;
	if (g->ended < g->begun)
		return SYNCGEN_WAIT;
	g->begun++; /* >= ticket: tickets are at most begun + 1 when taken */
	return SYNCGEN_LEAD;
}

void syncgen_end(struct syncgen *g, int rc)
{
	g->ended = g->begun;
	if (rc < 0)
		g->failed = g->ended;
}

int syncgen_result(const struct syncgen *g, uint64_t ticket)
{
	return g->failed >= ticket ? -EIO : 0;
}

struct syncgroup {
	int fd; /* the directory: syncfs's file system, and the fsync that flushes */
	pthread_mutex_t mu;
	pthread_cond_t ended;
	struct syncgen gen;
};

struct syncgroup *syncgroup_new(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	struct syncgroup *g = xcalloc(1, sizeof(*g));
	g->fd = fd;
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->ended, NULL);
	return g;
}

/* One sync of the file system. syncfs writes every dirty page and inode and then the
 * block device's buffers (directory blocks, inode tables), but on ext4 without a journal
 * it flushes the device's write cache before that last write-out: the fsync after it
 * issues the flush that makes those durable too (ext4 flushes on every fsync there). */
static int syncgroup_run(struct syncgroup *g)
{
	if (syncfs(g->fd) < 0 || fsync(g->fd) < 0)
		return -errno;
	return 0;
}

int syncgroup_sync(struct syncgroup *g)
{
	pthread_mutex_lock(&g->mu);
	uint64_t ticket = syncgen_ticket(&g->gen);
	enum syncgen_turn t;
	while ((t = syncgen_turn(&g->gen, ticket)) != SYNCGEN_COVERED) {
		if (t == SYNCGEN_WAIT) {
			pthread_cond_wait(&g->ended, &g->mu);
			continue;
		}
		pthread_mutex_unlock(&g->mu);
		int rc = syncgroup_run(g);
		pthread_mutex_lock(&g->mu);
		syncgen_end(&g->gen, rc);
		pthread_cond_broadcast(&g->ended);
	}
	int rc = syncgen_result(&g->gen, ticket);
	pthread_mutex_unlock(&g->mu);
	return rc;
}

void syncgroup_free(struct syncgroup *g)
{
	if (!g)
		return;
	close(g->fd);
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->ended);
	free(g);
}

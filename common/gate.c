/* The bounded gate: a counter pair under one mutex, FIFO enough for a login burst. */
#include "gate.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "xalloc.h"

struct gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int running, waiting; /* limits */
	int inside, queued;   /* now */
};

struct gate *gate_new(int running, int waiting)
{
	struct gate *g = xcalloc(1, sizeof(*g));
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->cond, NULL);
	g->running = running < 1 ? 1 : running;
	g->waiting = waiting < 0 ? 0 : waiting;
	return g;
}

void gate_free(struct gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	pthread_cond_destroy(&g->cond);
	free(g);
}

int gate_enter(struct gate *g)
{
	if (!g)
		return 0;
	pthread_mutex_lock(&g->lock);
	if (g->inside >= g->running) {
		if (g->queued >= g->waiting) {
			pthread_mutex_unlock(&g->lock);
			return -EBUSY;
		}
		g->queued++;
		while (g->inside >= g->running)
			pthread_cond_wait(&g->cond, &g->lock);
		g->queued--;
	}
	g->inside++;
	pthread_mutex_unlock(&g->lock);
	return 0;
}

void gate_leave(struct gate *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->inside--;
	pthread_cond_signal(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

/* Group commit (see batchq.h): a FIFO of waiting callers, each with its own condition
 * variable, and one thread that takes up to max_batch of them at a time. */
#include "batchq.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "xalloc.h"

struct batchq_waiter {
	void *item;
	int rc, done;
	pthread_cond_t cv;
	struct batchq_waiter *next;
};

struct batchq {
	batchq_run_fn run;
	void *ctx;
	int max_batch;
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct batchq_waiter *head, *tail;
	int stop;
	pthread_t thread;
};

static void *batchq_main(void *arg)
{
	struct batchq *q = arg;
	struct batchq_waiter **w = xcalloc((size_t)q->max_batch, sizeof(*w));
	void **items = xcalloc((size_t)q->max_batch, sizeof(*items));
	int *rc = xcalloc((size_t)q->max_batch, sizeof(*rc));
	pthread_mutex_lock(&q->mu);
	for (;;) {
		while (!q->head && !q->stop)
			pthread_cond_wait(&q->work, &q->mu);
		if (!q->head)
			break; /* stopping, nothing left */
		int n = 0;
		while (q->head && n < q->max_batch) {
			w[n] = q->head;
			q->head = q->head->next;
			items[n] = w[n]->item;
			rc[n] = 0;
			n++;
		}
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);
		q->run(q->ctx, items, n, rc);
		pthread_mutex_lock(&q->mu);
		for (int i = 0; i < n; i++) {
			w[i]->rc = rc[i];
			w[i]->done = 1;
			pthread_cond_signal(&w[i]->cv);
		}
	}
	pthread_mutex_unlock(&q->mu);
	free(w);
	free(items);
	free(rc);
	return NULL;
}

struct batchq *batchq_start(batchq_run_fn run, void *ctx, int max_batch)
{
	struct batchq *q = xcalloc(1, sizeof(*q));
	q->run = run;
	q->ctx = ctx;
	q->max_batch = max_batch < 1 ? 1 : max_batch;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->work, NULL);
	if (pthread_create(&q->thread, NULL, batchq_main, q) != 0) {
		pthread_cond_destroy(&q->work);
		pthread_mutex_destroy(&q->mu);
		free(q);
		return NULL;
	}
	return q;
}

int batchq_submit(struct batchq *q, void *item)
{
	struct batchq_waiter w = {.item = item};
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		w.rc = -ESHUTDOWN;
		w.done = 1;
	} else {
		if (q->tail)
			q->tail->next = &w;
		else
			q->head = &w;
		q->tail = &w;
		pthread_cond_signal(&q->work);
	}
	while (!w.done)
		pthread_cond_wait(&w.cv, &q->mu);
	pthread_mutex_unlock(&q->mu);
	pthread_cond_destroy(&w.cv);
	return w.rc;
}

void batchq_stop(struct batchq *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->work);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->thread, NULL);
	pthread_cond_destroy(&q->work);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

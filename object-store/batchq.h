/* Group commit: many threads hand in one item each and wait; one thread runs whatever
 * has queued up as one batch (one transaction, one fsync) and tells each its result.
 * While a batch runs the next one gathers, so batches grow with the load and a lone
 * caller pays one hand-over and no waiting window. */
#ifndef NUBO_OBJSTORE_BATCHQ_H
#define NUBO_OBJSTORE_BATCHQ_H

/* Runs items[0..n) as one batch and stores each item's result (0 or -errno) in rc[i].
 * Called on the queue's own thread, never concurrently with itself. */
typedef void (*batchq_run_fn)(void *ctx, void *const *items, int n, int *rc);

struct batchq;

/* Starts the queue's thread. max_batch (>= 1) bounds the items of one batch (the rest
 * wait for the next). NULL when the thread cannot start. */
struct batchq *batchq_start(batchq_run_fn run, void *ctx, int max_batch);
/* Queues item (borrowed until this returns) and waits until its batch ran. Returns
 * the item's result, or -ESHUTDOWN when the queue is stopping (item not run). */
int batchq_submit(struct batchq *q, void *item);
/* Runs what is queued, stops the thread and frees q. q may be NULL. */
void batchq_stop(struct batchq *q);

#endif

/* Group commit (object-store/batchq.h): every caller gets its own item's result, the
 * callers that arrive while a batch runs share the next one (that is the point: one
 * transaction for many writers), no batch exceeds its bound, and the queue's thread
 * never runs two batches at once. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "object-store/batchq.h"

#define NTHREADS 24
#define MAXB 5

struct rec {
	pthread_mutex_t mu;
	int batches, items, largest, running, overlapped;
};

/* Each item is an int: its result is minus its value; each batch takes a little while,
 * so that the others queue up behind it. */
static void run(void *ctx, void *const *items, int n, int *rc)
{
	struct rec *r = ctx;
	pthread_mutex_lock(&r->mu);
	if (r->running++)
		r->overlapped = 1;
	r->batches++;
	r->items += n;
	if (n > r->largest)
		r->largest = n;
	pthread_mutex_unlock(&r->mu);
	nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
	for (int i = 0; i < n; i++)
		rc[i] = -*(int *)items[i];
	pthread_mutex_lock(&r->mu);
	r->running--;
	pthread_mutex_unlock(&r->mu);
}

struct caller {
	struct batchq *q;
	int value, got;
};

static void *call(void *arg)
{
	struct caller *c = arg;
	c->got = batchq_submit(c->q, &c->value);
	return NULL;
}

static void test_alone_gets_its_result(void **state)
{
	struct rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct batchq *q = batchq_start(run, &r, MAXB);
	assert_non_null(q);
	int v = 7;
	assert_int_equal(batchq_submit(q, &v), -7);
	assert_int_equal(r.batches, 1);
	assert_int_equal(r.largest, 1);
	batchq_stop(q);
	batchq_stop(NULL);
}

static void test_concurrent_callers_share_bounded_batches(void **state)
{
	struct rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct batchq *q = batchq_start(run, &r, MAXB);
	assert_non_null(q);
	pthread_t t[NTHREADS];
	struct caller c[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		c[i] = (struct caller){q, i + 1, 0};
		assert_int_equal(pthread_create(&t[i], NULL, call, &c[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(c[i].got, -(i + 1));
	assert_int_equal(r.items, NTHREADS);
	assert_true(r.largest > 1);     /* callers did share batches */
	assert_true(r.largest <= MAXB); /* and none grew past the bound */
	assert_true(r.batches < NTHREADS);
	assert_false(r.overlapped);
	batchq_stop(q);
}

static void test_bound_of_one_runs_each_alone(void **state)
{
	struct rec r = {.mu = PTHREAD_MUTEX_INITIALIZER};
	struct batchq *q = batchq_start(run, &r, 0); /* below 1: taken as 1 */
	assert_non_null(q);
	pthread_t t[4];
	struct caller c[4];
	for (int i = 0; i < 4; i++) {
		c[i] = (struct caller){q, i + 1, 1};
		assert_int_equal(pthread_create(&t[i], NULL, call, &c[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	batchq_stop(q);
	for (int i = 0; i < 4; i++)
		assert_int_equal(c[i].got, -(i + 1));
	assert_int_equal(r.items, 4);
	assert_int_equal(r.batches, 4);
	assert_int_equal(r.largest, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alone_gets_its_result),
	    cmocka_unit_test(test_concurrent_callers_share_bounded_batches),
	    cmocka_unit_test(test_bound_of_one_runs_each_alone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

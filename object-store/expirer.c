/* The object expirer: a thread of nubo-objproxy, beside the spool replayer, since the
 * proxy is the one object-store process that holds the listing database (the object
 * servers never do) and the quorum DELETE path to the replicas. Each pass walks the
 * listing's expiring index in expiry order and expires each version it finds. */
#include "expirer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store.h"
#include "xalloc.h"

struct expirer {
	struct store *s;
	struct expirer_conf conf;
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	volatile int stop;
};

long expirer_pace_us(long done, long per_sec, long elapsed_us)
{
	if (per_sec < 1)
		per_sec = 1;
	long long due = (long long)done * 1000000 / per_sec;
	return due > elapsed_us ? (long)(due - elapsed_us) : 0;
}

static long now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void pause_us(long us)
{
	struct timespec t = {us / 1000000, (us % 1000000) * 1000};
	nanosleep(&t, NULL);
}

void expirer_pass_run(struct store *s, const struct expirer_conf *conf, int64_t now,
                      const volatile int *stop, struct expirer_pass *out)
{
	memset(out, 0, sizeof(*out));
	struct store_expiring last = {0};
	int have_last = 0;
	long start = now_us(), done = 0;
	while (!*stop) {
		struct store_expiring *x;
		size_t n;
		if (store_expiring_list(s, now, have_last ? &last : NULL, (unsigned)conf->batch, &x,
		                        &n) < 0) {
			out->db_failed = 1;
			break;
		}
		for (size_t i = 0; i < n && !*stop; i++) {
			pause_us(expirer_pace_us(done, conf->per_sec, now_us() - start));
			done++;
			out->due++;
			switch (store_expire(s, x[i].account, x[i].container, x[i].object,
			                     x[i].version)) {
			case STORE_OK:
				out->expired++;
				break;
			case STORE_NOT_FOUND:
				out->gone++;
				break;
			default: /* skipped by the keyset walk; the next pass retries it */
				out->failed++;
				break;
			}
		}
		if (n > 0) { /* go on after the last row read, whatever became of it */
			free(last.account);
			free(last.container);
			free(last.object);
			last = x[n - 1];
			x[n - 1].account = x[n - 1].container = x[n - 1].object = NULL;
			have_last = 1;
		}
		store_expiring_release(x, n);
		if (n < (size_t)conf->batch)
			break;
	}
	free(last.account);
	free(last.container);
	free(last.object);
}

static void *expirer_main(void *arg)
{
	struct expirer *x = arg;
	for (;;) {
		pthread_mutex_lock(&x->mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += x->conf.interval;
		while (!x->stop && pthread_cond_timedwait(&x->cv, &x->mu, &until) == 0)
			;
		int stop = x->stop;
		pthread_mutex_unlock(&x->mu);
		if (stop)
			break;
		struct expirer_pass p;
		long t0 = now_us();
		expirer_pass_run(x->s, &x->conf, (int64_t)time(NULL), &x->stop, &p);
		if (p.due || p.db_failed)
			log_info(
			    "expirer: pass over %ld due objects: %ld expired, %ld already gone, "
			    "%ld left for the next pass%s (%.1f s)",
			    p.due, p.expired, p.gone, p.failed,
			    p.db_failed ? "; the listing database did not answer" : "",
			    (double)(now_us() - t0) / 1e6);
	}
	return NULL;
}

struct expirer *expirer_start(struct store *s, const struct expirer_conf *conf)
{
	if (conf->interval < 1 || conf->batch < 1 || conf->batch > STORE_EXPIRING_MAX ||
	    conf->per_sec < 1)
		return NULL;
	struct expirer *x = xcalloc(1, sizeof(*x));
	x->s = s;
	x->conf = *conf;
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	pthread_create(&x->th, NULL, expirer_main, x);
	return x;
}

void expirer_stop(struct expirer *x)
{
	if (!x)
		return;
	pthread_mutex_lock(&x->mu);
	x->stop = 1;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
	pthread_join(x->th, NULL);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

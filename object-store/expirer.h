/* The object expirer of nubo-objproxy: removes objects past their X-Delete-At as a
 * client DELETE would (tombstones on the replicas, the listing row deleted, so usage
 * drops), never a version written after the one that was to expire. */
#ifndef NUBO_OBJSTORE_EXPIRER_H
#define NUBO_OBJSTORE_EXPIRER_H
#include <stdint.h>

struct store;

struct expirer_conf {
	long interval; /* seconds between passes, >= 1 */
	long batch;    /* rows read per query, 1..STORE_EXPIRING_MAX */
	long per_sec;  /* deletes per second at most, >= 1 */
};

/* What one pass did. */
struct expirer_pass {
	long due;      /* rows found past their expiry */
	long expired;  /* deleted (a replica had the version) */
	long gone;     /* no replica had it any more: only the listing row went */
	long failed;   /* no quorum: left for the next pass */
	int db_failed; /* the database did not answer: the pass stopped */
};

/* Runs one pass now over everything due at `now` (epoch seconds), batch by batch, at
 * most conf->per_sec deletes a second; stops early when *stop becomes nonzero. */
void expirer_pass_run(struct store *s, const struct expirer_conf *conf, int64_t now,
                      const volatile int *stop, struct expirer_pass *out);

/* The pause, in microseconds, before the next delete so that `done` deletes started
 * `elapsed_us` ago keep to per_sec a second (0 when behind). Pure. */
long expirer_pace_us(long done, long per_sec, long elapsed_us);

/* Starts the thread that runs a pass every conf->interval seconds and logs what each
 * pass that found something did. The store is borrowed and must outlive it. NULL when
 * conf is out of range. */
struct expirer *expirer_start(struct store *s, const struct expirer_conf *conf);
/* Stops the thread (within a delete) and frees it. Accepts NULL. */
void expirer_stop(struct expirer *x);

#endif

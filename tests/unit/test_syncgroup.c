/* Group commit of a device's syncs (object-store/syncgroup.h): a writer is covered only
 * by a sync that began after its ticket was taken and has ended; writers that ask while
 * a sync runs share the next one; a failed sync is reported to every writer it covered;
 * and, over random interleavings of many writers, no ticket is ever covered early. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include <cmocka.h>

#include "object-store/syncgroup.h"

static void lone_writer_leads_its_own_sync(void **state)
{
	struct syncgen g = {0};
	uint64_t t = syncgen_ticket(&g);
	assert_int_equal(t, 1);
	assert_int_equal(syncgen_turn(&g, t), SYNCGEN_LEAD);
	assert_int_equal(g.begun, 1);
	assert_int_equal(syncgen_turn(&g, t), SYNCGEN_WAIT); /* its own, still running */
	syncgen_end(&g, 0);
	assert_int_equal(syncgen_turn(&g, t), SYNCGEN_COVERED);
	assert_int_equal(syncgen_result(&g, t), 0);
}

static void writer_during_a_sync_waits_for_the_next(void **state)
{
	struct syncgen g = {0};
	uint64_t a = syncgen_ticket(&g);
	assert_int_equal(syncgen_turn(&g, a), SYNCGEN_LEAD); /* sync 1 runs */
	uint64_t b = syncgen_ticket(&g), c = syncgen_ticket(&g);
	assert_int_equal(b, 2); /* sync 1 began before b's writes ended: it cannot cover b */
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_WAIT);
	assert_int_equal(syncgen_turn(&g, c), SYNCGEN_WAIT);
	syncgen_end(&g, 0);
	assert_int_equal(syncgen_turn(&g, a), SYNCGEN_COVERED);
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_LEAD);
	/* b leads sync 2; c shares it */
	assert_int_equal(syncgen_turn(&g, c), SYNCGEN_WAIT);
	uint64_t d = syncgen_ticket(&g); /* during sync 2: needs sync 3 */
	assert_int_equal(d, 3);
	syncgen_end(&g, 0);
	assert_int_equal(syncgen_turn(&g, c), SYNCGEN_COVERED);
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_COVERED);
	assert_int_equal(syncgen_turn(&g, d), SYNCGEN_LEAD);
	assert_int_equal(g.begun, 3);
}

static void a_sync_begun_by_another_after_the_ticket_covers_it(void **state)
{
	struct syncgen g = {0};
	uint64_t a = syncgen_ticket(&g), b = syncgen_ticket(&g);
	assert_int_equal(syncgen_turn(&g, a), SYNCGEN_LEAD);
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_WAIT);
	syncgen_end(&g, 0);
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_COVERED);
	assert_int_equal(g.begun, 1); /* one sync for both */
}

static void failure_reaches_every_writer_it_covered(void **state)
{
	struct syncgen g = {0};
	uint64_t a = syncgen_ticket(&g);
	assert_int_equal(syncgen_turn(&g, a), SYNCGEN_LEAD);
	syncgen_end(&g, 0);
	uint64_t b = syncgen_ticket(&g), c = syncgen_ticket(&g);
	assert_int_equal(syncgen_turn(&g, b), SYNCGEN_LEAD);
	syncgen_end(&g, -EIO);
	assert_int_equal(syncgen_turn(&g, c), SYNCGEN_COVERED);
	assert_int_equal(syncgen_result(&g, b), -EIO);
	assert_int_equal(syncgen_result(&g, c), -EIO);
	assert_int_equal(syncgen_result(&g, a), -EIO); /* a later failure is never hidden */
	uint64_t d = syncgen_ticket(&g);
	assert_int_equal(syncgen_turn(&g, d), SYNCGEN_LEAD);
	syncgen_end(&g, 0);
	assert_int_equal(syncgen_result(&g, d), 0);
}

/* Random interleavings: each step one writer (in random order) takes a ticket, asks its
 * turn, or, as leader, ends its sync. Every covered writer must have a sync that began
 * after its ticket was taken and has ended; and only one sync runs at a time. */
#define SIM_WRITERS 12
#define SIM_STEPS 200000
static void no_ticket_is_ever_covered_early(void **state)
{
	struct {
		int phase; /* 0 writing, 1 waiting for its turn, 2 leading */
		long asked;
		uint64_t ticket;
	} w[SIM_WRITERS] = {0};
	long begun_at[SIM_STEPS + 2] = {0}; /* sync n began at step begun_at[n] */
	struct syncgen g = {0};
	unsigned seed = 12345;
	long covered = 0, leads = 0;
	for (long step = 1; step <= SIM_STEPS; step++) {
		int i = (int)(rand_r(&seed) % SIM_WRITERS);
		if (w[i].phase == 0) {
			w[i].ticket = syncgen_ticket(&g);
			w[i].asked = step;
			w[i].phase = 1;
		} else if (w[i].phase == 2) {
			syncgen_end(&g, 0);
			w[i].phase = 1;
		} else {
			uint64_t running = g.begun - g.ended;
			enum syncgen_turn t = syncgen_turn(&g, w[i].ticket);
			if (t == SYNCGEN_LEAD) {
				assert_int_equal(running, 0);
				assert_true(g.begun >= w[i].ticket);
				begun_at[g.begun] = step;
				w[i].phase = 2;
				leads++;
			} else if (t == SYNCGEN_COVERED) {
				/* the covering sync is number ticket: begun after the ask, ended */
				assert_true(g.ended >= w[i].ticket);
				assert_true(begun_at[w[i].ticket] > w[i].asked);
				w[i].phase = 0;
				covered++;
			}
		}
	}
	assert_true(covered > 1000);
	assert_true(leads < covered); /* syncs were shared */
}

/* The real thing: threads that each write a file and sync, on a temp directory. */
#define NTHREADS 8
#define ROUNDS 5
static struct syncgroup *group;
static char dir[] = "/tmp/test_syncgroup.XXXXXX";
static void *writer(void *arg)
{
	long id = (long)(intptr_t)arg;
	for (int r = 0; r < ROUNDS; r++) {
		char path[128];
		snprintf(path, sizeof(path), "%s/f%ld-%d", dir, id, r);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0 || write(fd, "x", 1) != 1)
			return (void *)1;
		close(fd);
		if (syncgroup_sync(group) != 0)
			return (void *)1;
		unlink(path);
	}
	return NULL;
}

static void threads_sync_a_real_directory(void **state)
{
	assert_non_null(mkdtemp(dir));
	group = syncgroup_new(dir);
	assert_non_null(group);
	pthread_t t[NTHREADS];
	for (long i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NTHREADS; i++) {
		void *rc;
		pthread_join(t[i], &rc);
		assert_null(rc);
	}
	syncgroup_free(group);
	rmdir(dir);
	errno = 0;
	assert_null(syncgroup_new("/nonexistent/dir"));
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(lone_writer_leads_its_own_sync),
	    cmocka_unit_test(writer_during_a_sync_waits_for_the_next),
	    cmocka_unit_test(a_sync_begun_by_another_after_the_ticket_covers_it),
	    cmocka_unit_test(failure_reaches_every_writer_it_covered),
	    cmocka_unit_test(no_ticket_is_ever_covered_early),
	    cmocka_unit_test(threads_sync_a_real_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The bounded gate: admits `running`, queues `waiting`, refuses the rest with -EBUSY,
 * and a queued caller enters when one leaves. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <unistd.h>

#include <cmocka.h>

#include "gate.h"

static void *enter_leave(void *arg)
{
	struct gate *g = arg;
	long rc = gate_enter(g);
	if (rc == 0)
		gate_leave(g);
	return (void *)rc;
}

static void bounded(void **state)
{
	struct gate *g = gate_new(2, 1);
	assert_int_equal(gate_enter(g), 0);
	assert_int_equal(gate_enter(g), 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, enter_leave, g), 0);
	usleep(100 * 1000); /* the thread now waits in line: the line is full */
	assert_int_equal(gate_enter(g), -EBUSY);
	gate_leave(g); /* lets the queued one in */
	void *rc;
	assert_int_equal(pthread_join(t, &rc), 0);
	assert_int_equal((long)rc, 0);
	assert_int_equal(gate_enter(g), 0);
	gate_leave(g);
	gate_leave(g);
	gate_free(g);
	assert_int_equal(gate_enter(NULL), 0);
	gate_leave(NULL);
	gate_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(bounded)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

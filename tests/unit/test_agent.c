/* The agent runtime's results store: a result written is loaded back identical, an
 * acknowledged one is gone, files that are not results of ours are dropped, and the
 * load is bounded. (The runtime's bus behaviour is driven end to end by
 * tests/agent/harness.py.) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent.h"
#include "fsutil.h"

static char dir[128];

static int setup(void **st)
{
	snprintf(dir, sizeof(dir), "/tmp/nubo-test-agent.%d", (int)getpid());
	fs_remove_tree(dir);
	return fs_mkdir_p(dir, 0700);
}

static int teardown(void **st)
{
	fs_remove_tree(dir);
	return 0;
}

static void result_make(struct msg *m, const char *task, int ok, const char *error)
{
	msg_init(m, MSG_RESULT);
	snprintf(m->u.result.task_id, sizeof(m->u.result.task_id), "%s", task);
	snprintf(m->u.result.resource_id, sizeof(m->u.result.resource_id),
	         "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90");
	m->u.result.resource_kind = MSG_RES_INSTANCE;
	m->u.result.ok = ok;
	snprintf(m->u.result.state, sizeof(m->u.result.state), "%s", ok ? VM_RUNNING : VM_ERROR);
	m->u.result.error = error ? strdup(error) : NULL;
}

static void stored_results_come_back_until_acked(void **st)
{
	const char *t1 = "11111111-1111-4111-8111-111111111111";
	const char *t2 = "22222222-2222-4222-8222-222222222222";
	struct msg a, b, got[4];
	result_make(&a, t1, 1, NULL);
	result_make(&b, t2, 0, "QEMU did not start");
	assert_int_equal(agent_result_store(dir, &a), 0);
	assert_int_equal(agent_result_store(dir, &b), 0);
	assert_int_equal(agent_result_store(dir, &b), 0); /* again: still one file */

	int n = agent_result_load_all(dir, got, 4);
	assert_int_equal(n, 2);
	int seen = 0;
	for (int i = 0; i < n; i++) {
		const struct msg_result *r = &got[i].u.result;
		assert_int_equal(got[i].kind, MSG_RESULT);
		if (!strcmp(r->task_id, t1)) {
			assert_true(r->ok);
			assert_string_equal(r->state, VM_RUNNING);
			seen |= 1;
		} else {
			assert_string_equal(r->task_id, t2);
			assert_false(r->ok);
			assert_string_equal(r->error, "QEMU did not start");
			seen |= 2;
		}
		msg_release(&got[i]);
	}
	assert_int_equal(seen, 3);

	agent_result_forget(dir, t1);
	agent_result_forget(dir, "../../etc/passwd"); /* not a task id: ignored */
	n = agent_result_load_all(dir, got, 4);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].u.result.task_id, t2);
	msg_release(&got[0]);
	msg_release(&a);
	msg_release(&b);
}

static void foreign_files_are_dropped_and_load_is_bounded(void **st)
{
	char p[256];
	struct msg got[2], r;
	const char *bad = "33333333-3333-4333-8333-333333333333";
	snprintf(p, sizeof(p), "%s/%s.json", dir, bad);
	assert_int_equal(fs_write_atomic(p, "{not json", 9, 0600), 0);
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), 0);
	int n = agent_result_load_all(dir, got, 2);
	for (int i = 0; i < n; i++)
		msg_release(&got[i]);
	snprintf(p, sizeof(p), "%s/%s.json", dir, bad);
	assert_false(fs_exists(p)); /* never acknowledged: removed */
	snprintf(p, sizeof(p), "%s/notes.txt", dir);
	assert_true(fs_exists(p)); /* not ours by name: left alone */

	for (int i = 0; i < 5; i++) {
		char id[64];
		snprintf(id, sizeof(id), "4444444%d-4444-4444-8444-444444444444", i);
		result_make(&r, id, 1, NULL);
		assert_int_equal(agent_result_store(dir, &r), 0);
		msg_release(&r);
	}
	n = agent_result_load_all(dir, got, 2);
	assert_int_equal(n, 2);
	for (int i = 0; i < n; i++)
		msg_release(&got[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(stored_results_come_back_until_acked),
	    cmocka_unit_test(foreign_files_are_dropped_and_load_is_bounded),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

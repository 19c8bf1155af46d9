/* outbox_insert refuses, before touching the database, a task the bus schema does not
 * know: an action of another kind, a resource id that is not a UUID, an unknown kind. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "outbox.h"

static const char inst[] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

static int insert(enum msg_res_kind kind, const char *id, const char *action, char *err,
                  size_t errlen)
{
	struct outbox_task t = {kind, id, action, NULL, NULL};
	/* no connection: a refused task must never reach the database */
	return outbox_insert(NULL, &t, NULL, err, errlen);
}

static void refuses_unknown_tasks(void **state)
{
	char err[256];
	assert_int_equal(insert(MSG_RES_INSTANCE, inst, "format_disk", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "format_disk"));
	assert_int_equal(insert(MSG_RES_INSTANCE, inst, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(
	    insert(MSG_RES_INSTANCE, "x'; DROP TABLE tasks", TASK_STOP, err, sizeof(err)), -EINVAL);
	assert_int_equal(insert(MSG_RES_INSTANCE, NULL, TASK_STOP, err, sizeof(err)), -EINVAL);
	assert_int_equal(insert(MSG_RES_KIND_COUNT, inst, TASK_STOP, err, sizeof(err)), -EINVAL);
}

/* the request id goes into the row, the envelope and every log line: a malformed one
 * (from a caller's bug) is refused before the database sees it */
static void refuses_malformed_request_id(void **state)
{
	char err[256];
	static const char *const bad[] = {"",
	                                  "req-",
	                                  "req-x",
	                                  "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
	                                  "req-aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\n",
	                                  "REQ-x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct outbox_task t = {MSG_RES_INSTANCE, inst, TASK_STOP, NULL, NULL, bad[i]};
		assert_int_equal(outbox_insert(NULL, &t, NULL, err, sizeof(err)), -EINVAL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(refuses_unknown_tasks),
	    cmocka_unit_test(refuses_malformed_request_id),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Instance snapshots' pure parts: the qemu-img argv of the compute agent's copy, the
 * snapshot name rule of createImage, the arguments of createImage and createBackup,
 * and the bus payload of a snapshot task (the scheduler's state row for it is in
 * test_vmstate.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/server_image.h"
#include "compute-agent/vm_snapshot.h"
#include "msg.h"
#include "xalloc.h"

static const char task_id[] = "11111111-2222-4333-8444-555555555555";
static const char inst_id[] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
static const char image_id[] = "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee";

static void convert_argv_flattens_with_shared_locks(void **state)
{
	const char *argv[VM_SNAPSHOT_ARGC];
	char joined[1024] = "";
	vm_snapshot_argv("/s/instances/i/disk.qcow2", "qcow2", "/s/tmp/snapshot-x.qcow2", "qcow2",
	                 argv);
	size_t n = 0;
	for (; argv[n]; n++)
		snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s",
		         n ? " " : "", argv[n]);
	assert_true(n < VM_SNAPSHOT_ARGC);
	/* -U: the running QEMU holds the write lock; no -B: the chain is flattened */
	assert_string_equal(joined, "qemu-img convert -U -q -f qcow2 -O qcow2 "
	                            "/s/instances/i/disk.qcow2 /s/tmp/snapshot-x.qcow2");
	/* a raw volume file of a raw pool copied into a qcow2 one (and back) */
	vm_snapshot_argv("/p/volumes/v.raw", "raw", "/p/tmp/c.qcow2", "qcow2", argv);
	assert_string_equal(argv[5], "raw");
	assert_string_equal(argv[7], "qcow2");
	vm_snapshot_argv("/p/volumes/v.qcow2", "qcow2", "/p/tmp/c.raw", "raw", argv);
	assert_string_equal(argv[5], "qcow2");
	assert_string_equal(argv[7], "raw");
	assert_string_equal(argv[8], "/p/volumes/v.qcow2");
	assert_null(argv[10]);
}

static void snapshot_names(void **state)
{
	char big[300];
	memset(big, 'a', sizeof(big));
	big[255] = '\0';
	assert_int_equal(server_image_name_check("vm1-snap"), 0);
	assert_int_equal(server_image_name_check("\xe2\x82\xa1 snap"), 0);
	assert_int_equal(server_image_name_check(big), 0);
	big[255] = 'a';
	big[256] = '\0';
	assert_int_equal(server_image_name_check(big), -EINVAL);
	assert_int_equal(server_image_name_check(""), -EINVAL);
	assert_int_equal(server_image_name_check(NULL), -EINVAL);
	assert_int_equal(server_image_name_check(" lead"), -EINVAL);
	assert_int_equal(server_image_name_check("trail\t"), -EINVAL);
}

static void snapshot_payload_round_trip(void **state)
{
	struct msg m, out;
	char err[256];
	msg_task_init(&m, task_id, TASK_SNAPSHOT, MSG_RES_INSTANCE, inst_id);
	strcpy(m.u.task.p.snapshot.image_id, image_id);
	m.u.task.p.snapshot.upload_url = xstrdup("http://127.0.0.1:9/image/v2/images/x/file");
	char *text = msg_encode(&m);
	assert_non_null(text);
	assert_int_equal(msg_decode(text, strlen(text), &out, err, sizeof(err)), 0);
	assert_string_equal(out.u.task.action, "snapshot");
	assert_string_equal(out.u.task.p.snapshot.image_id, image_id);
	assert_string_equal(out.u.task.p.snapshot.upload_url,
	                    "http://127.0.0.1:9/image/v2/images/x/file");
	assert_true(msg_action_valid(TASK_SNAPSHOT));
	/* a volume upload carries the same payload, with its disk format */
	assert_true(msg_res_action_valid(MSG_RES_VOLUME, TASK_UPLOAD));
	assert_false(msg_res_action_valid(MSG_RES_SNAPSHOT, TASK_UPLOAD));
	free(text);
	msg_release(&out);
	/* without its image the task is refused: the agent could upload nowhere */
	m.u.task.p.snapshot.image_id[0] = '\0';
	text = msg_encode(&m);
	assert_true(!text || msg_decode(text, strlen(text), &out, err, sizeof(err)) == -EINVAL);
	free(text);
	msg_release(&m);
}

/* Nova's create_backup schema: name, backup_type and rotation required, rotation an
 * integer >= 0 or its digits as a string, no other keys; createImage takes no
 * backup keys. */
static void backup_args_as_nova(void **state)
{
	static const struct {
		const char *key, *body;
		int rc;
		long rotation;
	} rows[] = {
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": 2}", 0,
	     2},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": 0}", 0,
	     0},
	    {"createBackup",
	     "{\"name\": \"b1\", \"backup_type\": \"\", \"rotation\": \"3\","
	     " \"metadata\": {\"k\": \"v\"}}",
	     0, 3},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": -1}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": \" 2\"}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": \"+2\"}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": \"\"}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": 1.5}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": true}",
	     -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": \"daily\"}", -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"rotation\": 1}", -EINVAL, 0},
	    {"createBackup", "{\"backup_type\": \"daily\", \"rotation\": 1}", -EINVAL, 0},
	    {"createBackup", "{\"name\": \"b1\", \"backup_type\": 7, \"rotation\": 1}", -EINVAL, 0},
	    {"createBackup", "{\"name\": \" b1\", \"backup_type\": \"daily\", \"rotation\": 1}",
	     -EINVAL, 0},
	    {"createBackup",
	     "{\"name\": \"b1\", \"backup_type\": \"daily\", \"rotation\": 1,"
	     " \"extra\": 1}",
	     -EINVAL, 0},
	    {"createBackup", "[]", -EINVAL, 0},
	    {"createImage", "{\"name\": \"s1\"}", 0, -1},
	    {"createImage", "{\"name\": \"s1\", \"rotation\": 1}", -EINVAL, 0},
	    {"createImage", "{\"name\": \"s1\", \"backup_type\": \"daily\"}", -EINVAL, 0},
	    {"reboot", "{\"name\": \"s1\"}", -EINVAL, 0},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct server_image_arg a;
		char err[512] = "";
		json_t *body = json_loads(rows[i].body, 0, NULL);
		assert_non_null(body);
		int rc = server_image_parse(rows[i].key, body, &a, err, sizeof(err));
		if (rc != rows[i].rc)
			fail_msg("row %zu: %d (%s)", i, rc, err);
		if (rc == 0) {
			assert_int_equal(a.rotation, rows[i].rotation);
			assert_int_equal(a.backup, !strcmp(rows[i].key, "createBackup"));
			assert_true(!a.backup || a.backup_type);
			server_image_arg_release(&a);
		} else {
			assert_true(strstr(err, "Invalid input") || strstr(err, "no such action"));
		}
		json_decref(body);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(convert_argv_flattens_with_shared_locks),
	    cmocka_unit_test(snapshot_names),
	    cmocka_unit_test(snapshot_payload_round_trip),
	    cmocka_unit_test(backup_args_as_nova),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

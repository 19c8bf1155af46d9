/* Volume backups on the bus and in the storage agent: the backup task payload and a
 * result's object count round-trip through msg.c and a malformed one is refused; the
 * qemu-img argv that reads a volume (shared when it is in use). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argv_text.h"
#include "msg.h"
#include "storage-agent/backup.h"

#define BID "a2eab385-8995-4aa6-b986-55b531d1e82b"
#define VID "107e1643-f66b-4e21-a947-3f92ae135815"
#define TID "0e0e14d7-17f7-4fad-be23-47a5e32e154c"

static void roundtrip(struct msg *m, struct msg *out)
{
	char err[256];
	char *s = msg_encode(m);
	assert_non_null(s);
	assert_int_equal(msg_decode(s, strlen(s), out, err, sizeof(err)), 0);
	char *again = msg_encode(out);
	assert_string_equal(s, again);
	free(s);
	free(again);
}

static void test_backup_task(void **state)
{
	struct msg m, o;
	assert_true(msg_res_action_valid(MSG_RES_BACKUP, TASK_RESTORE));
	assert_false(msg_res_action_valid(MSG_RES_BACKUP, TASK_EXTEND));
	assert_int_equal(msg_res_kind_agent(MSG_RES_BACKUP), MSG_AGENT_STORAGE);
	assert_int_equal(msg_res_kind_parse("backup"), MSG_RES_BACKUP);
	msg_task_init(&m, TID, TASK_CREATE, MSG_RES_BACKUP, BID);
	strcpy(m.u.task.p.backup.volume_id, VID);
	strcpy(m.u.task.p.backup.parent_id, TID);
	strcpy(m.u.task.p.backup.container, "volumebackups");
	m.u.task.p.backup.force = 1;
	m.u.task.p.backup.swift_url = strdup("http://127.0.0.1:8080/v1/AUTH_p");
	m.u.task.p.backup.token = strdup("nubosecret");
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.backup.volume_id, VID);
	assert_string_equal(o.u.task.p.backup.parent_id, TID);
	assert_string_equal(o.u.task.p.backup.token, "nubosecret");
	assert_int_equal(o.u.task.p.backup.force, 1);
	msg_release(&o);
	/* a container that is not a word is refused, and so is a task without a token */
	strcpy(m.u.task.p.backup.container, "a/b");
	assert_null(msg_encode(&m));
	strcpy(m.u.task.p.backup.container, "c");
	free(m.u.task.p.backup.token);
	m.u.task.p.backup.token = NULL;
	char *s = msg_encode(&m);
	char err[256];
	if (s) { /* encoded without it: the decoder insists */
		assert_int_equal(msg_decode(s, strlen(s), &o, err, sizeof(err)), -EINVAL);
		free(s);
	}
	msg_release(&m);
}

/* A create's two hops: the copy to the compute host carries the volume, the server and
 * the storage host and no credentials (snap_create's payload); the create that reads
 * the copy says so; the drop of a leftover copy carries nothing. */
static void test_backup_copy_hops(void **state)
{
	struct msg m, o;
	assert_true(msg_res_action_valid(MSG_RES_BACKUP, TASK_BACKUP_COPY));
	assert_true(msg_res_action_valid(MSG_RES_BACKUP, TASK_BACKUP_DROP));
	msg_task_init(&m, TID, TASK_BACKUP_COPY, MSG_RES_BACKUP, BID);
	strcpy(m.u.task.p.snap_create.volume_id, VID);
	strcpy(m.u.task.p.snap_create.instance_id, TID);
	strcpy(m.u.task.p.snap_create.storage_host, "node1-storage");
	char *s = msg_encode(&m);
	assert_non_null(s);
	assert_null(strstr(s, "token"));
	assert_null(strstr(s, "swift_url"));
	free(s);
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.action, TASK_BACKUP_COPY);
	assert_string_equal(o.u.task.p.snap_create.volume_id, VID);
	assert_string_equal(o.u.task.p.snap_create.instance_id, TID);
	assert_string_equal(o.u.task.p.snap_create.storage_host, "node1-storage");
	msg_release(&o);
	msg_release(&m);
	/* without the volume it names: refused */
	msg_task_init(&m, TID, TASK_BACKUP_COPY, MSG_RES_BACKUP, BID);
	s = msg_encode(&m);
	char err[256];
	if (s) {
		assert_int_equal(msg_decode(s, strlen(s), &o, err, sizeof(err)), -EINVAL);
		free(s);
	}
	msg_release(&m);

	msg_task_init(&m, TID, TASK_CREATE, MSG_RES_BACKUP, BID);
	strcpy(m.u.task.p.backup.volume_id, VID);
	strcpy(m.u.task.p.backup.container, "volumebackups");
	m.u.task.p.backup.force = 1;
	m.u.task.p.backup.copied = 1;
	m.u.task.p.backup.swift_url = strdup("http://127.0.0.1:8080/v1/AUTH_p");
	m.u.task.p.backup.token = strdup("nubosecret");
	roundtrip(&m, &o);
	assert_int_equal(o.u.task.p.backup.copied, 1);
	msg_release(&o);
	m.u.task.p.backup.copied = 0; /* the default: the volume's own file */
	roundtrip(&m, &o);
	assert_int_equal(o.u.task.p.backup.copied, 0);
	msg_release(&o);
	msg_release(&m);

	msg_task_init(&m, TID, TASK_BACKUP_DROP, MSG_RES_BACKUP, BID);
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.action, TASK_BACKUP_DROP);
	assert_string_equal(o.u.task.resource_id, BID);
	msg_release(&o);
	msg_release(&m);
}

static void test_result_count(void **state)
{
	struct msg m, o;
	msg_init(&m, MSG_RESULT);
	strcpy(m.u.result.task_id, TID);
	m.u.result.resource_kind = MSG_RES_BACKUP;
	strcpy(m.u.result.resource_id, BID);
	m.u.result.ok = 1;
	strcpy(m.u.result.state, VOL_AVAILABLE);
	m.u.result.count = 4;
	roundtrip(&m, &o);
	assert_int_equal(o.u.result.count, 4);
	msg_release(&o);
	/* an older agent's result (no count) still decodes, with 0 */
	const char *old = "{\"v\":2,\"kind\":\"result\",\"id\":\"" TID "\",\"body\":{\"task_id\":"
	                  "\"" TID "\",\"resource_kind\":\"backup\",\"resource_id\":\"" BID "\","
	                  "\"ok\":true,\"state\":\"available\"}}";
	char err[256];
	assert_int_equal(msg_decode(old, strlen(old), &o, err, sizeof(err)), 0);
	assert_int_equal(o.u.result.count, 0);
	msg_release(&o);
	msg_release(&m);
}

static void test_read_argv(void **state)
{
	const char *argv[BACKUP_ARGV_MAX];
	assert_int_equal(backup_read_argv("/p/volumes/v.qcow2", "qcow2", "/p/tmp/b.raw", 0, argv),
	                 0);
	assert_string_equal(joined(argv),
	                    "qemu-img convert -q -f qcow2 -O raw /p/volumes/v.qcow2 /p/tmp/b.raw");
	assert_int_equal(backup_read_argv("/p/volumes/v.qcow2", "qcow2", "/p/tmp/b.raw", 1, argv),
	                 0);
	assert_string_equal(joined(argv), "qemu-img convert -q -U -f qcow2 -O raw "
	                                  "/p/volumes/v.qcow2 /p/tmp/b.raw");
	/* a relative path could read as an option */
	assert_int_equal(backup_read_argv("-o", "qcow2", "/p/tmp/b.raw", 0, argv), -EINVAL);
	assert_null(argv[0]);
	assert_int_equal(backup_read_argv("/p/v", "qcow2", NULL, 0, argv), -EINVAL);
}

/* Review s8 H1: a manifest rewritten in the tenant's account cannot make a restored
 * volume's disk larger than the volume. */
static void test_size_fits(void **state)
{
	(void)state;
	assert_true(backup_size_fits(1LL << 30, 1));
	assert_true(backup_size_fits(512, 1));
	assert_false(backup_size_fits((1LL << 30) + 512, 1));
	assert_false(backup_size_fits(10995116277760LL, 1));
	assert_false(backup_size_fits(0, 1));
	assert_false(backup_size_fits(-512, 1));
	assert_false(backup_size_fits(1000, 1));
	assert_false(backup_size_fits(512, 0));
	assert_true(backup_size_fits(5LL << 30, 5));
}

/* Review s8 L2: a delete removes only names of the agent's own shape. */
static void test_name_plain(void **state)
{
	(void)state;
	assert_true(backup_name_plain("5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d/chunk-00001"));
	assert_true(backup_name_plain("5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d/manifest"));
	assert_false(backup_name_plain(""));
	assert_false(backup_name_plain("id/a b"));
	assert_false(backup_name_plain("id/x&marker=y"));
	assert_false(backup_name_plain("id/\xc3\xa9"));
	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(backup_name_plain(longname));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_backup_task), cmocka_unit_test(test_result_count),
	    cmocka_unit_test(test_read_argv),   cmocka_unit_test(test_size_fits),
	    cmocka_unit_test(test_name_plain),  cmocka_unit_test(test_backup_copy_hops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Bus envelope: round trips for every kind and rejection of malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "xalloc.h"

static const char task_id[] = "11111111-2222-4333-8444-555555555555";
static const char inst_id[] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";

static void roundtrip_task(void **state)
{
	struct msg m, out;
	char err[256];
	msg_task_init(&m, task_id, TASK_SPAWN, inst_id);
	m.u.task.name = xstrdup("vm1");
	m.u.task.vcpus = 2;
	m.u.task.ram_mb = 512;
	m.u.task.user_data = xstrdup("IyEvYmluL3NoCmVjaG8gaGkK");
	char *text = msg_encode(&m);
	assert_non_null(text);
	assert_int_equal(msg_decode(text, strlen(text), &out, err, sizeof(err)), 0);
	assert_int_equal(out.kind, MSG_TASK);
	assert_string_equal(out.id, m.id);
	assert_string_equal(out.u.task.action, "spawn");
	assert_string_equal(out.u.task.task_id, task_id);
	assert_string_equal(out.u.task.instance_id, inst_id);
	assert_string_equal(out.u.task.name, "vm1");
	assert_int_equal(out.u.task.ram_mb, 512);
	assert_string_equal(out.u.task.user_data, m.u.task.user_data);
	assert_null(out.u.task.public_key);
	free(text);
	msg_release(&m);
	msg_release(&out);
}

static void roundtrip_hello_with_vms(void **state)
{
	struct msg m, out;
	char err[256];
	msg_init(&m, MSG_HEARTBEAT);
	strcpy(m.u.hello.host, "node-1");
	strcpy(m.u.hello.accel, "tcg");
	m.u.hello.vcpus = 2;
	m.u.hello.ram_mb = 24000;
	m.u.hello.disk_gb = 80;
	m.u.hello.n_vms = 2;
	m.u.hello.vms = xcalloc(2, sizeof(struct msg_vm));
	strcpy(m.u.hello.vms[0].id, inst_id);
	strcpy(m.u.hello.vms[0].state, VM_RUNNING);
	strcpy(m.u.hello.vms[1].id, task_id);
	strcpy(m.u.hello.vms[1].state, VM_SHUTOFF);
	char *text = msg_encode(&m);
	assert_int_equal(msg_decode(text, strlen(text), &out, err, sizeof(err)), 0);
	assert_int_equal(out.kind, MSG_HEARTBEAT);
	assert_int_equal(out.u.hello.n_vms, 2);
	assert_string_equal(out.u.hello.vms[1].state, "shutoff");
	free(text);
	msg_release(&m);
	msg_release(&out);
}

static int decode_fails(const char *text)
{
	struct msg out;
	char err[256] = "";
	int rc = msg_decode(text, strlen(text), &out, err, sizeof(err));
	if (rc == 0)
		msg_release(&out);
	else
		assert_true(err[0] != '\0');
	return rc < 0;
}

static void rejects_bad_input(void **state)
{
	assert_true(decode_fails(""));
	assert_true(decode_fails("[]"));
	assert_true(decode_fails("{\"v\":1}"));
	assert_true(decode_fails("{\"v\":2,\"kind\":\"wake\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{}}"));
	assert_true(decode_fails("{\"v\":1,\"kind\":\"nope\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{}}"));
	assert_true(decode_fails("{\"v\":1,\"kind\":\"wake\",\"id\":\"not-a-uuid\",\"body\":{}}"));
	/* missing required field */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"event\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"state\":\"running\"}}"));
	/* unknown state */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"event\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"instance_id\":\"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\",\"state\":\"exploded\"}}"));
	/* wrong type */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"hello\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"host\":\"h\",\"accel\":\"tcg\",\"vcpus\":\"2\",\"ram_mb\":1,\"disk_gb\":1}}"));
	/* host with a slash */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"hello\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"host\":\"a/b\",\"accel\":\"tcg\",\"vcpus\":2,\"ram_mb\":1,\"disk_gb\":1}}"));
	/* negative capacity */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"hello\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"host\":\"h\",\"accel\":\"tcg\",\"vcpus\":-2,\"ram_mb\":1,\"disk_gb\":1}}"));
	/* unknown action */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"task\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{\"task_id\":\"11111111-2222-4333-8444-555555555555\",\"instance_id\":\"11111111-2222-4333-8444-555555555555\",\"action\":\"format_disk\"}}"));
	/* a valid wake passes */
	assert_false(decode_fails("{\"v\":1,\"kind\":\"wake\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":{}}"));
}

static void rejects_oversize(void **state)
{
	size_t n = MSG_MAX_BYTES + 1;
	char *big = xmalloc(n);
	memset(big, ' ', n);
	struct msg out;
	char err[128];
	assert_int_equal(msg_decode(big, n, &out, err, sizeof(err)), -E2BIG);
	free(big);
}

static void encode_refuses_overlong_field(void **state)
{
	struct msg m;
	msg_init(&m, MSG_CONSOLE);
	strcpy(m.u.console.instance_id, inst_id);
	m.u.console.data = xmalloc(MSG_CONSOLE_MAX + 2);
	memset(m.u.console.data, 'x', MSG_CONSOLE_MAX + 1);
	m.u.console.data[MSG_CONSOLE_MAX + 1] = '\0';
	assert_null(msg_encode(&m));
	msg_release(&m);
}

static void sanitize_text(void **state)
{
	char s[] = "ok\x1b[0m\xff\n";
	msg_sanitize_text(s, strlen(s));
	assert_string_equal(s, "ok?[0m?\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(roundtrip_task),
		cmocka_unit_test(roundtrip_hello_with_vms),
		cmocka_unit_test(rejects_bad_input),
		cmocka_unit_test(rejects_oversize),
		cmocka_unit_test(encode_refuses_overlong_field),
		cmocka_unit_test(sanitize_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

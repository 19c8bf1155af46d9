/* What the volume work adds to the wire and the bus: the volume, snapshot and
 * attachment task payloads and the storage hello round-trip through msg.c and are
 * refused when malformed; the QEMU names of a volume's node and device; which peer
 * may speak under a machine's CURVE key. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"
#include "compute-agent/vm_volume.h"
#include "msg.h"

#define VID "a2eab385-8995-4aa6-b986-55b531d1e82b"
#define IID "107e1643-f66b-4e21-a947-3f92ae135815"
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

static void test_volume_create_task(void **state)
{
	struct msg m, o;
	msg_task_init(&m, TID, TASK_CREATE, MSG_RES_VOLUME, VID);
	m.u.task.p.vol_create.size_gb = 2;
	strcpy(m.u.task.p.vol_create.source, "snapshot");
	strcpy(m.u.task.p.vol_create.source_id, IID);
	roundtrip(&m, &o);
	assert_int_equal(o.u.task.resource_kind, MSG_RES_VOLUME);
	assert_int_equal(o.u.task.p.vol_create.size_gb, 2);
	assert_string_equal(o.u.task.p.vol_create.source_id, IID);
	msg_release(&o);
	msg_release(&m);
	/* volumes have no spawn; attachments go to compute agents */
	assert_false(msg_res_action_valid(MSG_RES_VOLUME, TASK_SPAWN));
	assert_true(msg_res_action_valid(MSG_RES_SNAPSHOT, TASK_DELETE));
	assert_false(msg_res_action_valid(MSG_RES_SNAPSHOT, TASK_EXTEND));
	assert_int_equal(msg_res_kind_agent(MSG_RES_VOLUME), MSG_AGENT_STORAGE);
	assert_int_equal(msg_res_kind_agent(MSG_RES_ATTACHMENT), MSG_AGENT_COMPUTE);
	assert_true(msg_res_state_valid(MSG_RES_ATTACHMENT, ATT_ATTACHED));
	assert_false(msg_res_state_valid(MSG_RES_ATTACHMENT, VM_RUNNING));
}

static void test_refused(void **state)
{
	struct msg o;
	char err[256];
	/* extend without its size; attach without its instance; an unknown source word */
	const char *bad[] = {
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"extend\",\"resource_kind\":\"volume\",\"resource_id\":\"" VID
	    "\",\"payload\":{}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"storage_host\":\"h-storage\"}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"create\",\"resource_kind\":\"volume\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"size_gb\":1,\"source\":\"../x\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msg_decode(bad[i], strlen(bad[i]), &o, err, sizeof(err)), -EINVAL);
}

static void test_storage_hello(void **state)
{
	struct msg m, o;
	msg_init(&m, MSG_HELLO);
	strcpy(m.u.hello.host, "node1-storage");
	m.u.hello.agent_kind = MSG_AGENT_STORAGE;
	m.u.hello.cap.storage.total_gb = 100;
	m.u.hello.cap.storage.free_gb = 42;
	roundtrip(&m, &o);
	assert_int_equal(o.u.hello.cap.storage.free_gb, 42);
	assert_int_equal(o.u.hello.agent_kind, MSG_AGENT_STORAGE);
	msg_release(&o);
	msg_release(&m);
}

static void test_attach_task(void **state)
{
	struct msg m, o;
	msg_task_init(&m, TID, TASK_DETACH, MSG_RES_ATTACHMENT, VID);
	strcpy(m.u.task.p.attach.instance_id, IID);
	strcpy(m.u.task.p.attach.storage_host, "node1-storage");
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.attach.instance_id, IID);
	msg_release(&o);
	msg_release(&m);
}

/* a snapshot of a plugged volume names its instance and storage host; one of a volume
 * no server holds names neither (absent on the wire); a bad instance id is refused */
static void test_snap_create_task(void **state)
{
	struct msg m, o;
	char err[256];
	msg_task_init(&m, TID, TASK_CREATE, MSG_RES_SNAPSHOT, IID);
	strcpy(m.u.task.p.snap_create.volume_id, VID);
	strcpy(m.u.task.p.snap_create.instance_id, TID);
	strcpy(m.u.task.p.snap_create.storage_host, "h-storage");
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.snap_create.volume_id, VID);
	assert_string_equal(o.u.task.p.snap_create.instance_id, TID);
	assert_string_equal(o.u.task.p.snap_create.storage_host, "h-storage");
	msg_release(&o);
	m.u.task.p.snap_create.instance_id[0] = 0;
	m.u.task.p.snap_create.storage_host[0] = 0;
	char *wire = msg_encode(&m);
	assert_non_null(wire);
	assert_null(strstr(wire, "instance_id"));
	assert_null(strstr(wire, "storage_host"));
	free(wire);
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.snap_create.instance_id, "");
	msg_release(&o);
	msg_release(&m);
	const char *bad[] = {
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"create\",\"resource_kind\":\"snapshot\",\"resource_id\":\"" IID
	    "\",\"payload\":{\"volume_id\":\"" VID "\",\"instance_id\":\"../x\"}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"create\",\"resource_kind\":\"snapshot\",\"resource_id\":\"" IID
	    "\",\"payload\":{\"volume_id\":\"" VID "\",\"storage_host\":\"a b\"}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msg_decode(bad[i], strlen(bad[i]), &o, err, sizeof(err)), -EINVAL);
}

static void test_qemu_names(void **state)
{
	struct vm_volume_ids ids;
	vm_volume_names(VID, &ids);
	assert_string_equal(ids.node, "va2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.dev, "da2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.throttle, "ta2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.group, "ga2eab38589954aa6b98655b531d1e8");
	assert_true(strlen(ids.node) < 32);
}

static void test_peer_same_host(void **state)
{
	assert_true(bus_peer_same_host("node1", "node1-storage"));
	assert_false(bus_peer_same_host("node1", "node2-storage"));
	assert_false(bus_peer_same_host("node1", "node1-storagex"));
	assert_false(bus_peer_same_host("node1", "node1x-storage"));
	assert_false(bus_peer_same_host("node1", "node"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_volume_create_task), cmocka_unit_test(test_refused),
	    cmocka_unit_test(test_storage_hello),      cmocka_unit_test(test_attach_task),
	    cmocka_unit_test(test_qemu_names),         cmocka_unit_test(test_snap_create_task),
	    cmocka_unit_test(test_peer_same_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

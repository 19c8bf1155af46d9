/* What the volume work adds to the wire and the bus: the volume, snapshot and
 * attachment task payloads and the storage hello round-trip through msg.c and are
 * refused when malformed; the QEMU names of a volume's node and device; which peer
 * may speak under a machine's CURVE key; attaching across hosts: the NBD fields of an
 * attach and of its result, the compute agent's QMP arguments, the storage agent's
 * qemu-storage-daemon argv and the derived export key. */
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
#include "cred_seal.h"
#include "msg.h"
#include "storage-agent/export.h"
#include "storage-agent/export_copy.h"

#define VID "a2eab385-8995-4aa6-b986-55b531d1e82b"
#define IID "107e1643-f66b-4e21-a947-3f92ae135815"
#define TID "0e0e14d7-17f7-4fad-be23-47a5e32e154c"
#define AID "5b4c1a52-63f0-4f4d-9a3a-7f1d2b8e9c10"
#define PSK "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
/* HMAC-SHA256(bytes 0..31, "nbd-psk:" AID), computed with Python's hmac module */
#define EXPECTED_PSK "933a539391bcbbee0ed356524137a8c0f1d53a7d593c7df92ab33f9d27a294c3"

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

/* an attach across hosts carries the attachment id, the key and the export's address;
 * a result carries where the storage host serves it; a key or an address that is not
 * a word is refused */
static void test_attach_nbd(void **state)
{
	struct msg m, o;
	char err[256];
	msg_task_init(&m, TID, TASK_ATTACH, MSG_RES_ATTACHMENT, VID);
	struct msg_attach *p = &m.u.task.p.attach;
	strcpy(p->instance_id, IID);
	strcpy(p->storage_host, "ctl-storage");
	strcpy(p->attachment_id, AID);
	strcpy(p->psk, PSK);
	strcpy(p->nbd_host, "10.253.7.1");
	p->nbd_port = 10809;
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.attach.attachment_id, AID);
	assert_string_equal(o.u.task.p.attach.psk, PSK);
	assert_string_equal(o.u.task.p.attach.nbd_host, "10.253.7.1");
	assert_int_equal(o.u.task.p.attach.nbd_port, 10809);
	msg_release(&o);
	msg_release(&m);

	/* the stop of an export no attachment wants names no instance (nor attachment) */
	msg_task_init(&m, TID, TASK_DETACH, MSG_RES_ATTACHMENT, VID);
	strcpy(m.u.task.p.attach.storage_host, "ctl-storage");
	roundtrip(&m, &o);
	assert_string_equal(o.u.task.p.attach.instance_id, "");
	assert_string_equal(o.u.task.p.attach.attachment_id, "");
	msg_release(&o);
	msg_release(&m);

	msg_init(&m, MSG_RESULT);
	strcpy(m.u.result.task_id, TID);
	m.u.result.resource_kind = MSG_RES_ATTACHMENT;
	strcpy(m.u.result.resource_id, VID);
	m.u.result.ok = 1;
	strcpy(m.u.result.state, ATT_ATTACHED);
	strcpy(m.u.result.export_host, "10.253.7.1");
	m.u.result.export_port = 10810;
	roundtrip(&m, &o);
	assert_string_equal(o.u.result.export_host, "10.253.7.1");
	assert_int_equal(o.u.result.export_port, 10810);
	msg_release(&o);
	msg_release(&m);

	const char *bad[] = {
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"instance_id\":\"" IID "\",\"storage_host\":\"s\",\"psk\":\"a:b\"}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"instance_id\":\"" IID
	    "\",\"storage_host\":\"s\",\"nbd_port\":70000}}}",
	    "{\"v\":2,\"kind\":\"result\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"ok\":true,\"export_host\":\"10.0.0.1,x=y\"}}",
	    /* review s9 L3: a name QEMU would look up, an address without its port or
	     * attachment, a port without its address */
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"instance_id\":\"" IID
	    "\",\"storage_host\":\"s\",\"attachment_id\":\"" AID
	    "\",\"nbd_host\":\"evil.example\",\"nbd_port\":10809}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"instance_id\":\"" IID
	    "\",\"storage_host\":\"s\",\"attachment_id\":\"" AID
	    "\",\"nbd_host\":\"10.253.7.1\"}}}",
	    "{\"v\":2,\"kind\":\"task\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"action\":\"attach\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"payload\":{\"instance_id\":\"" IID
	    "\",\"storage_host\":\"s\",\"nbd_host\":\"10.253.7.1\",\"nbd_port\":10809}}}",
	    "{\"v\":2,\"kind\":\"result\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"ok\":true,\"export_port\":10809}}",
	    "{\"v\":2,\"kind\":\"result\",\"id\":\"" TID "\",\"body\":{\"task_id\":\"" TID
	    "\",\"resource_kind\":\"attachment\",\"resource_id\":\"" VID
	    "\",\"ok\":true,\"export_host\":\"storage1\",\"export_port\":10809}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(msg_decode(bad[i], strlen(bad[i]), &o, err, sizeof(err)), -EINVAL);
}

static void assert_json(json_t *j, const char *want)
{
	char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(got, want);
	free(got);
	json_decref(j);
}

/* the compute agent's QMP arguments of an attach across hosts */
static void test_nbd_qmp_args(void **state)
{
	struct vm_volume_ids ids;
	vm_volume_names(VID, &ids);
	const char *creds = ids.creds;
	assert_string_equal(creds, "ka2eab38589954aa6b98655b531d1e8");
	assert_json(vm_volume_psk_object_args(creds, "/proc/self/fd/12", AID),
	            "{\"dir\":\"/proc/self/fd/12\",\"endpoint\":\"client\",\"id\":\""
	            "ka2eab38589954aa6b98655b531d1e8\",\"qom-type\":\"tls-creds-psk\","
	            "\"username\":\"" AID "\"}");
	assert_json(vm_volume_nbd_blockdev_args("va2eab38589954aa6b98655b531d1e8", "10.253.7.1",
	                                        10809, VID, creds),
	            "{\"driver\":\"nbd\",\"export\":\"" VID
	            "\",\"node-name\":\"va2eab38589954aa6b98655b531d1e8\","
	            "\"reconnect-delay\":30,\"server\":{\"host\":\"10.253.7.1\","
	            "\"port\":\"10809\",\"type\":\"inet\"},\"tls-creds\":\""
	            "ka2eab38589954aa6b98655b531d1e8\"}");
}

/* the storage agent's qemu-storage-daemon argv, exactly; a comma in a path (which
 * would start another option), a bad address, port or name builds nothing */
static void test_export_argv(void **state)
{
	struct export_def d = {"/var/lib/nubo/storage/volumes/" VID ".qcow2",
	                       "/var/lib/nubo/storage/exports/" VID, "10.253.7.1", 10809, VID};
	char **v = export_argv_new(&d);
	const char *want[] = {
	    "qemu-storage-daemon",
	    "--blockdev",
	    "driver=file,node-name=file0,filename=/var/lib/nubo/storage/volumes/" VID ".qcow2",
	    "--blockdev",
	    "driver=qcow2,node-name=vol0,file=file0",
	    "--object",
	    "tls-creds-psk,id=tls0,endpoint=server,dir=/var/lib/nubo/storage/exports/" VID,
	    "--nbd-server",
	    "addr.type=inet,addr.host=10.253.7.1,addr.port=10809,tls-creds=tls0",
	    "--export",
	    "type=nbd,id=exp0,node-name=vol0,name=" VID ",writable=on",
	    NULL,
	};
	assert_non_null(v);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (!want[i]) {
			assert_null(v[i]);
			break;
		}
		assert_string_equal(v[i], want[i]);
	}
	export_argv_free(v);
	/* an LVM pool's volume: a raw block device */
	struct export_def lv = {
	    "/dev/vg0/vol-" VID, "/p/exports/" VID, "10.253.7.1", 10809, VID, "raw"};
	v = export_argv_new(&lv);
	assert_non_null(v);
	/* QEMU's "file" driver refuses a block device: "'file' driver requires ... to be a
	 * regular file" */
	assert_string_equal(v[2], "driver=host_device,node-name=file0,filename=/dev/vg0/vol-" VID);
	assert_string_equal(v[4], "driver=raw,node-name=vol0,file=file0");
	export_argv_free(v);
	struct export_def bad[] = {
	    {"/dev/vg0/vol-" VID, "/p/exports/" VID, "10.253.7.1", 10809, VID, "vmdk"},
	    {"/p,x/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1", 10809, VID},
	    {"/p/volumes/" VID ".qcow2", "/p,/exports/" VID, "10.253.7.1", 10809, VID},
	    {"/p/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1,x", 10809, VID},
	    {"/p/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1", 0, VID},
	    {"/p/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1", 65536, VID},
	    {"/p/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1", 10809, "x,y=z"},
	    {"p/volumes/" VID ".qcow2", "/p/exports/" VID, "10.253.7.1", 10809, VID},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_null(export_argv_new(&bad[i]));
}

/* with a monitor socket the daemon also serves QMP there (the copy of an exported
 * volume goes through it), not waiting for a client; a relative path, a comma or a path
 * too long for a unix socket builds nothing */
static void test_export_argv_monitor(void **state)
{
	const char *mon = "/var/lib/nubo/storage/exports/" VID "/qmp.sock";
	struct export_def d = {.volume_file = "/var/lib/nubo/storage/volumes/" VID ".qcow2",
	                       .psk_dir = "/var/lib/nubo/storage/exports/" VID,
	                       .address = "10.253.7.1",
	                       .port = 10809,
	                       .name = VID,
	                       .monitor = mon};
	char **v = export_argv_new(&d);
	assert_non_null(v);
	/* first, so the socket is there once the port listens (options go in order) */
	assert_string_equal(v[1], "--chardev");
	assert_string_equal(v[2], "socket,id=mon0,path=/var/lib/nubo/storage/exports/" VID
	                          "/qmp.sock,server=on,wait=off");
	assert_string_equal(v[3], "--monitor");
	assert_string_equal(v[4], "chardev=mon0");
	assert_string_equal(v[8], "driver=qcow2,node-name=vol0,file=file0");
	assert_string_equal(v[14], "type=nbd,id=exp0,node-name=vol0,name=" VID ",writable=on");
	assert_null(v[15]);
	export_argv_free(v);
	char longer[EXPORT_MONITOR_MAX + 1];
	memset(longer, 'a', sizeof(longer) - 1);
	longer[0] = '/';
	longer[sizeof(longer) - 1] = 0;
	const char *bad[] = {"exports/qmp.sock", "/p,x/qmp.sock", longer};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.monitor = bad[i];
		assert_null(export_argv_new(&d));
	}
	longer[sizeof(longer) - 2] = 0; /* 107 characters: the most a sun_path holds */
	d.monitor = longer;
	v = export_argv_new(&d);
	assert_non_null(v);
	export_argv_free(v);
	/* an LVM pool's volume has its monitor too: the whole argv, exactly */
	struct export_def lv = {.volume_file = "/dev/vg0/vol-" VID,
	                        .psk_dir = "/p/exports/" VID,
	                        .address = "10.253.7.1",
	                        .port = 10809,
	                        .name = VID,
	                        .volume_format = "raw",
	                        .monitor = "/p/exports/" VID "/qmp.sock"};
	const char *want[] = {
	    "qemu-storage-daemon",
	    "--chardev",
	    "socket,id=mon0,path=/p/exports/" VID "/qmp.sock,server=on,wait=off",
	    "--monitor",
	    "chardev=mon0",
	    "--blockdev",
	    "driver=host_device,node-name=file0,filename=/dev/vg0/vol-" VID,
	    "--blockdev",
	    "driver=raw,node-name=vol0,file=file0",
	    "--object",
	    "tls-creds-psk,id=tls0,endpoint=server,dir=/p/exports/" VID,
	    "--nbd-server",
	    "addr.type=inet,addr.host=10.253.7.1,addr.port=10809,tls-creds=tls0",
	    "--export",
	    "type=nbd,id=exp0,node-name=vol0,name=" VID ",writable=on",
	};
	v = export_argv_new(&lv);
	assert_non_null(v);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_string_equal(v[i], want[i]);
	assert_null(v[sizeof(want) / sizeof(want[0])]);
	export_argv_free(v);
	/* a raw file of a file pool (volume_format = raw): the raw driver on QEMU's file
	 * protocol (host_device refuses a regular file) */
	lv.volume_file = "/p/volumes/" VID ".raw";
	v = export_argv_new(&lv);
	assert_non_null(v);
	assert_string_equal(v[6], "driver=file,node-name=file0,filename=/p/volumes/" VID ".raw");
	assert_string_equal(v[8], "driver=raw,node-name=vol0,file=file0");
	export_argv_free(v);
}

/* the storage agent's QMP arguments of a copy of an exported volume: a qcow2 target
 * node on the new file and a full backup job from the exported node, kept when it ends
 * so its outcome can be read; names from the new resource's id */
static void test_export_copy_args(void **state)
{
	struct export_copy_names n;
	export_copy_names(TID, &n);
	assert_string_equal(n.node, "c0e0e14d717f74fadbe2347a5e32e15");
	assert_string_equal(n.job, "j0e0e14d717f74fadbe2347a5e32e15");
	assert_json(export_copy_target_args(&n, "/p/tmp/" TID ".qcow2", "qcow2", 1 << 30),
	            "{\"driver\":\"qcow2\",\"file\":{\"driver\":\"file\",\"filename\":"
	            "\"/p/tmp/" TID ".qcow2\"},\"node-name\":\"c0e0e14d717f74fadbe2347a5e32e15\"}");
	/* an LVM pool's copy: a raw node of the volume's size on the new LV's device (QEMU's
	 * file driver refuses a block device; the LV may be larger, the job wants equal
	 * sizes) */
	assert_json(export_copy_target_args(&n, "/dev/vg0/tmp-" TID, "raw", 1 << 30),
	            "{\"driver\":\"raw\",\"file\":{\"driver\":\"host_device\",\"filename\":"
	            "\"/dev/vg0/tmp-" TID "\"},\"node-name\":\"c0e0e14d717f74fadbe2347a5e32e15\","
	            "\"size\":1073741824}");
	/* a raw file pool's copy: a raw node on a new file (QEMU's file protocol) */
	assert_json(export_copy_target_args(&n, "/p/tmp/" TID ".raw", "raw", 1 << 30),
	            "{\"driver\":\"raw\",\"file\":{\"driver\":\"file\",\"filename\":"
	            "\"/p/tmp/" TID ".raw\"},\"node-name\":\"c0e0e14d717f74fadbe2347a5e32e15\","
	            "\"size\":1073741824}");
	assert_null(export_copy_target_args(&n, "/p/tmp/x", "vmdk", 1 << 30));
	assert_json(export_copy_backup_args(&n),
	            "{\"auto-dismiss\":false,\"device\":\"vol0\",\"job-id\":"
	            "\"j0e0e14d717f74fadbe2347a5e32e15\",\"sync\":\"full\",\"target\":"
	            "\"c0e0e14d717f74fadbe2347a5e32e15\"}");
}

/* the export key is HMAC-SHA256(key, "nbd-psk:<attachment>"): fixed for a key and an
 * attachment, different for another attachment or another key */
static void test_export_key(void **state)
{
	uint8_t key[CRED_KEY_BYTES], other[CRED_KEY_BYTES];
	char a[65], b[65], c[65];
	for (int i = 0; i < CRED_KEY_BYTES; i++) {
		key[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
	}
	cred_derive_hex(key, "nbd-psk", AID, a);
	assert_string_equal(a, EXPECTED_PSK);
	cred_derive_hex(key, "nbd-psk", TID, b);
	cred_derive_hex(other, "nbd-psk", AID, c);
	assert_int_equal(strlen(a), 64);
	assert_string_not_equal(a, b);
	assert_string_not_equal(a, c);
}

static void test_qemu_names(void **state)
{
	struct vm_volume_ids ids;
	vm_volume_names(VID, &ids);
	assert_string_equal(ids.node, "va2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.dev, "da2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.throttle, "ta2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.group, "ga2eab38589954aa6b98655b531d1e8");
	assert_string_equal(ids.creds, "ka2eab38589954aa6b98655b531d1e8");
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
	    cmocka_unit_test(test_peer_same_host),     cmocka_unit_test(test_attach_nbd),
	    cmocka_unit_test(test_nbd_qmp_args),       cmocka_unit_test(test_export_argv),
	    cmocka_unit_test(test_export_key),         cmocka_unit_test(test_export_argv_monitor),
	    cmocka_unit_test(test_export_copy_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

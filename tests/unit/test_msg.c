/* Bus envelope: round trips for every kind, the per-action payload and per-agent-kind
 * capacity tables, and rejection of malformed input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"
#include "xalloc.h"

static const char task_id[] = "11111111-2222-4333-8444-555555555555";
static const char inst_id[] = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
static const char image_id[] = "bbbbbbbb-bbbb-4ccc-8ddd-eeeeeeeeeeee";

/* Encodes m, decodes it into out (caller releases), and checks that out encodes to
 * the same text: the round trip the fuzzer asserts too. */
static void roundtrip(const struct msg *m, struct msg *out)
{
	char err[256];
	char *text = msg_encode(m);
	assert_non_null(text);
	assert_int_equal(msg_decode(text, strlen(text), out, err, sizeof(err)), 0);
	char *again = msg_encode(out);
	assert_non_null(again);
	assert_string_equal(text, again);
	free(again);
	free(text);
}

static void roundtrip_spawn(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->name = xstrdup("vm1");
	p->vcpus = 2;
	p->ram_mb = 512;
	p->disk_gb = 1;
	strcpy(p->image_id, image_id);
	p->image_url = xstrdup("http://127.0.0.1:8080/image/v2/images/x/file");
	p->user_data = xstrdup("IyEvYmluL3NoCmVjaG8gaGkK");
	roundtrip(&m, &out);
	assert_int_equal(out.kind, MSG_TASK);
	assert_string_equal(out.u.task.action, "spawn");
	assert_string_equal(out.u.task.task_id, task_id);
	assert_int_equal(out.u.task.resource_kind, MSG_RES_INSTANCE);
	assert_string_equal(out.u.task.resource_id, inst_id);
	assert_string_equal(out.u.task.p.spawn.name, "vm1");
	assert_int_equal(out.u.task.p.spawn.ram_mb, 512);
	assert_string_equal(out.u.task.p.spawn.user_data, p->user_data);
	assert_null(out.u.task.p.spawn.public_key);
	msg_release(&m);
	msg_release(&out);
}

/* rebuild carries spawn's payload (the new image); without it, it is refused */
static void roundtrip_rebuild(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_REBUILD, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->name = xstrdup("renamed");
	p->vcpus = 1;
	p->ram_mb = 256;
	strcpy(p->image_id, image_id);
	p->image_url = xstrdup("http://127.0.0.1:8080/image/v2/images/x/file");
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.action, "rebuild");
	assert_string_equal(out.u.task.p.spawn.name, "renamed");
	assert_string_equal(out.u.task.p.spawn.image_id, image_id);
	assert_true(msg_action_valid(TASK_REBUILD));
	msg_release(&m);
	msg_release(&out);
}

/* boot from volume: the volume and its storage host travel in the spawn payload, no
 * image; a host name outside [A-Za-z0-9._-] does not encode */
static void roundtrip_spawn_boot_volume(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->vcpus = 1;
	p->ram_mb = 128;
	strcpy(p->boot_volume_id, image_id);
	strcpy(p->boot_volume_host, "node1-storage");
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.p.spawn.boot_volume_id, image_id);
	assert_string_equal(out.u.task.p.spawn.boot_volume_host, "node1-storage");
	assert_string_equal(out.u.task.p.spawn.image_id, "");
	msg_release(&out);
	strcpy(p->boot_volume_host, "../etc");
	char *text = msg_encode(&m);
	assert_null(text);
	strcpy(p->boot_volume_host, "node1-storage");
	strcpy(p->boot_volume_id, "not-a-uuid");
	assert_null(msg_encode(&m));
	msg_release(&m);
	/* and a peer's bad value is refused on decode */
	char err[256];
	const char *bad = "{\"v\":2,\"kind\":\"task\",\"id\":\""
	                  "11111111-1111-4111-8111-111111111111"
	                  "\",\"body\":{\"task_id\":\"11111111-1111-4111-8111-111111111111\","
	                  "\"resource_kind\":\"instance\",\"resource_id\":\""
	                  "11111111-1111-4111-8111-111111111111\",\"action\":\"spawn\","
	                  "\"payload\":{\"vcpus\":1,\"ram_mb\":64,\"boot_volume_host\":\"a/b\"}}}";
	assert_int_equal(msg_decode(bad, strlen(bad), &out, err, sizeof(err)), -EINVAL);
}

/* a boot volume of another machine: its export (address, port, identity, key)
 * travels in the spawn payload; an address or key that would not be a word does not
 * encode */
static void roundtrip_spawn_boot_volume_nbd(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->vcpus = 1;
	p->ram_mb = 128;
	strcpy(p->boot_volume_id, image_id);
	strcpy(p->boot_volume_host, "node1-storage");
	strcpy(p->nbd_host, "10.20.0.2");
	p->nbd_port = 10809;
	strcpy(p->attachment_id, inst_id);
	memset(p->psk, 'a', MSG_PSK_LEN - 1);
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.p.spawn.nbd_host, "10.20.0.2");
	assert_int_equal(out.u.task.p.spawn.nbd_port, 10809);
	assert_string_equal(out.u.task.p.spawn.attachment_id, inst_id);
	assert_string_equal(out.u.task.p.spawn.psk, p->psk);
	msg_release(&out);
	p->nbd_port = 65536;
	assert_null(msg_encode(&m));
	p->nbd_port = 10809;
	strcpy(p->nbd_host, "1.2.3.4 x");
	assert_null(msg_encode(&m));
	strcpy(p->nbd_host, "10.20.0.2");
	strcpy(p->attachment_id, "not-a-uuid");
	assert_null(msg_encode(&m));
	msg_release(&m);
}

/* a clone of a plugged volume: the server and the storage host travel in the volume
 * create's payload (the task goes to the compute host); a bad host does not encode */
static void roundtrip_volume_clone_in_guest(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_CREATE, MSG_RES_VOLUME, image_id);
	struct msg_vol_create *p = &m.u.task.p.vol_create;
	p->size_gb = 2;
	strcpy(p->source, "volume");
	strcpy(p->source_id, task_id);
	strcpy(p->instance_id, inst_id);
	strcpy(p->storage_host, "node1-storage");
	roundtrip(&m, &out);
	assert_int_equal(out.u.task.p.vol_create.size_gb, 2);
	assert_string_equal(out.u.task.p.vol_create.source_id, task_id);
	assert_string_equal(out.u.task.p.vol_create.instance_id, inst_id);
	assert_string_equal(out.u.task.p.vol_create.storage_host, "node1-storage");
	msg_release(&out);
	strcpy(p->storage_host, "../pool");
	assert_null(msg_encode(&m));
	strcpy(p->storage_host, "");
	strcpy(p->instance_id, "");
	roundtrip(&m, &out); /* the storage agent's own copy: neither */
	assert_string_equal(out.u.task.p.vol_create.instance_id, "");
	msg_release(&out);
	msg_release(&m);
}

/* the image's sha512 (the agents' image cache key) travels beside its md5 in a spawn
 * and in a volume create from an image; longer than a sha512's 128 digits, it neither
 * encodes nor decodes */
static void roundtrip_image_hash(void **state)
{
	char hash[MSG_IMAGE_HASH_MAX + 2];
	memset(hash, 'e', MSG_IMAGE_HASH_MAX);
	hash[MSG_IMAGE_HASH_MAX] = '\0';
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->vcpus = 1;
	p->ram_mb = 128;
	strcpy(p->image_id, image_id);
	p->image_checksum = xstrdup("d41d8cd98f00b204e9800998ecf8427e");
	p->image_hash = xstrdup(hash);
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.p.spawn.image_hash, hash);
	assert_string_equal(out.u.task.p.spawn.image_checksum, p->image_checksum);
	msg_release(&out);
	free(p->image_hash);
	strcat(hash, "e");
	p->image_hash = xstrdup(hash);
	assert_null(msg_encode(&m));
	msg_release(&m);

	msg_task_init(&m, task_id, TASK_CREATE, MSG_RES_VOLUME, inst_id);
	struct msg_vol_create *v = &m.u.task.p.vol_create;
	v->size_gb = 1;
	strcpy(v->source, "image");
	strcpy(v->source_id, image_id);
	hash[MSG_IMAGE_HASH_MAX] = '\0';
	v->image_hash = xstrdup(hash);
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.p.vol_create.image_hash, hash);
	msg_release(&out);
	msg_release(&m);

	/* a peer's overlong one is refused on decode */
	char err[256];
	char *bad = xasprintf("{\"v\":2,\"kind\":\"task\",\"id\":\"%s\",\"body\":{\"task_id\":"
	                      "\"%s\",\"resource_kind\":\"instance\",\"resource_id\":\"%s\","
	                      "\"action\":\"spawn\",\"payload\":{\"vcpus\":1,\"ram_mb\":64,"
	                      "\"image_hash\":\"%se\"}}}",
	                      task_id, task_id, inst_id, hash);
	assert_int_equal(msg_decode(bad, strlen(bad), &out, err, sizeof(err)), -EINVAL);
	free(bad);
}

static void roundtrip_spawn_nics_and_net_sync(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->vcpus = 1;
	p->ram_mb = 64;
	p->n_nics = 1;
	p->nics = xcalloc(1, sizeof(*p->nics));
	strcpy(p->nics[0].port_id, image_id);
	strcpy(p->nics[0].network_id, task_id);
	strcpy(p->nics[0].mac, "fa:16:3e:01:02:03");
	strcpy(p->nics[0].tap, "tapbbbbbbbb-bb");
	p->nics[0].mtu = 1450;
	roundtrip(&m, &out);
	assert_int_equal(out.u.task.p.spawn.n_nics, 1);
	assert_string_equal(out.u.task.p.spawn.nics[0].tap, "tapbbbbbbbb-bb");
	assert_int_equal(out.u.task.p.spawn.nics[0].mtu, 1450);
	assert_string_equal(out.u.task.p.spawn.nics[0].ip, "");
	msg_release(&out);
	/* with its address (the config drive's network_data.json) */
	strcpy(p->nics[0].ip, "10.0.1.5");
	p->nics[0].prefixlen = 24;
	strcpy(p->nics[0].gateway, "10.0.1.1");
	strcpy(p->nics[0].dns[0], "10.0.0.53");
	p->nics[0].n_dns = 1;
	roundtrip(&m, &out);
	assert_string_equal(out.u.task.p.spawn.nics[0].ip, "10.0.1.5");
	assert_int_equal(out.u.task.p.spawn.nics[0].prefixlen, 24);
	assert_string_equal(out.u.task.p.spawn.nics[0].gateway, "10.0.1.1");
	assert_int_equal(out.u.task.p.spawn.nics[0].n_dns, 1);
	assert_string_equal(out.u.task.p.spawn.nics[0].dns[0], "10.0.0.53");
	msg_release(&out);
	/* an address that is not one, a prefix out of range, a gateway without an
	 * address: not encoded */
	strcpy(p->nics[0].dns[0], "10.0.0.353");
	assert_null(msg_encode(&m));
	strcpy(p->nics[0].dns[0], "10.0.0.53");
	p->nics[0].prefixlen = 33;
	assert_null(msg_encode(&m));
	p->nics[0].prefixlen = 24;
	strcpy(p->nics[0].ip, "");
	assert_null(msg_encode(&m));
	strcpy(p->nics[0].ip, "10.0.1.5");
	/* nor decodes: a peer's NIC with an address that is not one */
	char *text = msg_encode(&m), err[256];
	assert_non_null(text);
	char *at = strstr(text, "\"10.0.1.5\"");
	assert_non_null(at);
	memcpy(at, "\"10.0;1.5\"", 10);
	assert_true(msg_decode(text, strlen(text), &out, err, sizeof(err)) < 0);
	msg_release(&out);
	free(text);
	/* a NIC with a bad MTU does not encode */
	p->nics[0].mtu = 10;
	assert_null(msg_encode(&m));
	msg_release(&m);

	msg_task_init(&m, task_id, TASK_NET_SYNC, MSG_RES_NETHOST, inst_id);
	m.u.task.p.net_sync.generation = 7;
	m.u.task.p.net_sync.state = xstrdup("{\"version\":1,\"networks\":[]}");
	roundtrip(&m, &out);
	assert_int_equal(out.u.task.resource_kind, MSG_RES_NETHOST);
	assert_int_equal(out.u.task.p.net_sync.generation, 7);
	assert_string_equal(out.u.task.p.net_sync.state, m.u.task.p.net_sync.state);
	msg_release(&m);
	msg_release(&out);

	msg_init(&m, MSG_HELLO);
	strcpy(m.u.hello.host, "node1");
	m.u.hello.agent_kind = MSG_AGENT_NETWORK;
	strcpy(m.u.hello.cap.network.tunnel_ip, "10.0.0.5");
	m.u.hello.cap.network.vlan = 1;
	roundtrip(&m, &out);
	assert_int_equal(out.u.hello.agent_kind, MSG_AGENT_NETWORK);
	assert_string_equal(out.u.hello.cap.network.tunnel_ip, "10.0.0.5");
	assert_int_equal(out.u.hello.cap.network.vlan, 1);
	msg_release(&m);
	msg_release(&out);
}

static void task_wire_shape(void **state)
{
	struct msg m;
	msg_task_init(&m, task_id, TASK_STOP, MSG_RES_INSTANCE, inst_id);
	char *text = msg_encode(&m);
	assert_non_null(text);
	/* generic envelope; an action without payload sends none */
	assert_non_null(strstr(text, "\"resource_kind\":\"instance\""));
	assert_non_null(strstr(text, "\"resource_id\":\"aaaaaaaa-"));
	assert_null(strstr(text, "payload"));
	free(text);
	msg_release(&m);
}

static void roundtrip_hello_with_resources(void **state)
{
	struct msg m, out;
	msg_init(&m, MSG_HEARTBEAT);
	strcpy(m.u.hello.host, "node-1");
	m.u.hello.agent_kind = MSG_AGENT_COMPUTE;
	strcpy(m.u.hello.cap.compute.accel, "tcg");
	m.u.hello.cap.compute.vcpus = 2;
	m.u.hello.cap.compute.ram_mb = 24000;
	m.u.hello.cap.compute.disk_gb = 80;
	m.u.hello.cap.compute.uptime_s = 3600;
	m.u.hello.n_resources = 2;
	m.u.hello.resources = xcalloc(2, sizeof(struct msg_resource));
	strcpy(m.u.hello.resources[0].id, inst_id);
	strcpy(m.u.hello.resources[0].state, VM_RUNNING);
	strcpy(m.u.hello.resources[1].id, task_id);
	strcpy(m.u.hello.resources[1].state, VM_SHUTOFF);
	roundtrip(&m, &out);
	assert_int_equal(out.kind, MSG_HEARTBEAT);
	assert_int_equal(out.u.hello.agent_kind, MSG_AGENT_COMPUTE);
	assert_int_equal(out.u.hello.cap.compute.ram_mb, 24000);
	assert_int_equal(out.u.hello.cap.compute.uptime_s, 3600);
	assert_string_equal(out.u.hello.cap.compute.accel, "tcg");
	assert_int_equal(out.u.hello.n_resources, 2);
	assert_int_equal(out.u.hello.resources[1].kind, MSG_RES_INSTANCE);
	assert_string_equal(out.u.hello.resources[1].state, "shutoff");
	msg_release(&m);
	msg_release(&out);
}

static void roundtrip_result_event_ack(void **state)
{
	struct msg m, out;
	msg_init(&m, MSG_RESULT);
	strcpy(m.u.result.task_id, task_id);
	strcpy(m.u.result.resource_id, inst_id);
	strcpy(m.u.result.state, VM_SHUTOFF);
	m.u.result.error = xstrdup("guest did not stop");
	roundtrip(&m, &out);
	assert_int_equal(out.u.result.ok, 0);
	assert_string_equal(out.u.result.error, "guest did not stop");
	msg_release(&m);
	msg_release(&out);

	msg_init(&m, MSG_EVENT);
	strcpy(m.u.event.resource_id, inst_id);
	strcpy(m.u.event.state, VM_ERROR);
	m.u.event.reason = xstrdup("QEMU killed by signal 9; console: panic");
	roundtrip(&m, &out);
	assert_string_equal(out.u.event.reason, m.u.event.reason);
	msg_release(&m);
	msg_release(&out);

	msg_ack_init(&m, task_id);
	roundtrip(&m, &out);
	assert_int_equal(out.kind, MSG_ACK);
	assert_string_equal(out.u.ack.task_id, task_id);
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

#define ENV(kind, body)                                                                            \
	"{\"v\":2,\"kind\":\"" kind                                                                \
	"\",\"id\":\"11111111-2222-4333-8444-555555555555\",\"body\":" body "}"
#define UUID1 "\"11111111-2222-4333-8444-555555555555\""
#define CAP "\"capacity\":{\"accel\":\"tcg\",\"vcpus\":2,\"ram_mb\":1,\"disk_gb\":1}"

/* the envelope's request id: sent when set, round-trips, absent when unset, and a
 * malformed one is refused both ways */
static void request_id_in_envelope(void **state)
{
	static const char req[] = "req-0a1b2c3d-0000-4000-8000-00000000abcd";
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_STOP, MSG_RES_INSTANCE, inst_id);
	char *text = msg_encode(&m);
	assert_null(strstr(text, "\"req\""));
	free(text);
	strcpy(m.req, req);
	roundtrip(&m, &out);
	assert_string_equal(out.req, req);
	msg_release(&out);
	strcpy(m.req, "req-not-a-uuid");
	assert_null(msg_encode(&m));
	msg_release(&m);
	char err[128];
	static const char *const bad[] = {
	    "{\"v\":2,\"kind\":\"wake\",\"id\":" UUID1 ",\"req\":7,\"body\":{}}",
	    "{\"v\":2,\"kind\":\"wake\",\"id\":" UUID1 ",\"req\":\"req-\",\"body\":{}}",
	    "{\"v\":2,\"kind\":\"wake\",\"id\":" UUID1 ",\"req\":" UUID1 ",\"body\":{}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		assert_int_equal(msg_decode(bad[i], strlen(bad[i]), &out, err, sizeof(err)),
		                 -EINVAL);
		assert_non_null(strstr(err, "req"));
	}
	const char ok[] = "{\"v\":2,\"kind\":\"wake\",\"id\":" UUID1 ",\"body\":{}}";
	assert_int_equal(msg_decode(ok, strlen(ok), &out, err, sizeof(err)), 0);
	assert_string_equal(out.req, "");
	msg_release(&out);
}

static void rejects_bad_input(void **state)
{
	assert_true(decode_fails(""));
	assert_true(decode_fails("[]"));
	assert_true(decode_fails("{\"v\":2}"));
	/* version 1 (instance-only schema) is refused */
	assert_true(decode_fails("{\"v\":1,\"kind\":\"wake\",\"id\":" UUID1 ",\"body\":{}}"));
	assert_true(decode_fails(ENV("nope", "{}")));
	assert_true(decode_fails("{\"v\":2,\"kind\":\"wake\",\"id\":\"not-a-uuid\",\"body\":{}}"));
	/* missing required field */
	assert_true(
	    decode_fails(ENV("event", "{\"resource_kind\":\"instance\",\"state\":\"running\"}")));
	/* unknown state */
	assert_true(
	    decode_fails(ENV("event", "{\"resource_kind\":\"instance\",\"resource_id\":" UUID1
	                              ",\"state\":\"exploded\"}")));
	/* unknown resource kind */
	assert_true(
	    decode_fails(ENV("event", "{\"resource_kind\":\"toaster\",\"resource_id\":" UUID1
	                              ",\"state\":\"running\"}")));
	/* a result's state must be one of its kind's */
	assert_true(
	    decode_fails(ENV("result", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                               "\"resource_id\":" UUID1 ",\"ok\":true,\"state\":\"x\"}")));
	/* hello: wrong type, slash in host, negative capacity, unknown agent kind, no capacity */
	assert_true(decode_fails(
	    ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\",\"capacity\":"
	                 "{\"accel\":\"tcg\",\"vcpus\":\"2\",\"ram_mb\":1,\"disk_gb\":1}}")));
	assert_true(
	    decode_fails(ENV("hello", "{\"host\":\"a/b\",\"agent_kind\":\"compute\"," CAP "}")));
	assert_true(decode_fails(
	    ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\",\"capacity\":"
	                 "{\"accel\":\"tcg\",\"vcpus\":-2,\"ram_mb\":1,\"disk_gb\":1}}")));
	assert_true(
	    decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"toaster\"," CAP "}")));
	assert_true(decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\"}")));
	/* a required word may not be empty (found by the round-trip fuzzer) */
	assert_true(
	    decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\",\"capacity\":"
	                              "{\"accel\":\"\",\"vcpus\":2,\"ram_mb\":1,\"disk_gb\":1}}")));
	/* a reported resource of an unknown kind or state */
	assert_true(decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\"," CAP
	                                      ",\"resources\":[{\"kind\":\"volume\",\"id\":" UUID1
	                                      ",\"state\":\"running\"}]}")));
	assert_true(decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\"," CAP
	                                      ",\"resources\":[{\"kind\":\"instance\",\"id\":" UUID1
	                                      ",\"state\":\"on\"}]}")));
	assert_false(
	    decode_fails(ENV("hello", "{\"host\":\"h\",\"agent_kind\":\"compute\"," CAP
	                              ",\"resources\":[{\"kind\":\"instance\",\"id\":" UUID1
	                              ",\"state\":\"running\"}]}")));
	/* unknown action */
	assert_true(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"format_disk\"}")));
	/* a spawn needs its payload's required fields */
	assert_true(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"rebuild\"}")));
	assert_true(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"spawn\"}")));
	assert_true(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"spawn\",\"payload\":"
	                             "{\"vcpus\":1,\"disk_gb\":1}}")));
	/* payload of the wrong type */
	assert_true(decode_fails(
	    ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                "\"resource_id\":" UUID1 ",\"action\":\"stop\",\"payload\":[]}")));
	/* a NUL inside a word */
	assert_true(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"stop\\u0000x\"}")));
	/* an ack needs its task id */
	assert_true(decode_fails(ENV("ack", "{}")));
	assert_false(decode_fails(ENV("ack", "{\"task_id\":" UUID1 "}")));
	/* a stop passes, and a valid wake */
	assert_false(
	    decode_fails(ENV("task", "{\"task_id\":" UUID1 ",\"resource_kind\":\"instance\","
	                             "\"resource_id\":" UUID1 ",\"action\":\"stop\"}")));
	assert_false(decode_fails(ENV("wake", "{}")));
}

/* a disk's I/O limits travel as {Cinder's key: integer} in a spawn ("disk_qos") and an
 * attach ("qos"); absent when none; values QEMU would refuse neither encode nor decode */
static void roundtrip_disk_qos(void **state)
{
	struct msg m, out;
	msg_task_init(&m, task_id, TASK_SPAWN, MSG_RES_INSTANCE, inst_id);
	struct msg_spawn *p = &m.u.task.p.spawn;
	p->vcpus = 1;
	p->ram_mb = 128;
	char *text = msg_encode(&m);
	assert_non_null(text);
	assert_null(strstr(text, "disk_qos")); /* no limits: nothing on the wire */
	free(text);
	p->disk_qos.v[DISK_QOS_BPS_TOTAL] = 1048576;
	p->disk_qos.v[DISK_QOS_IOPS_READ] = 100;
	roundtrip(&m, &out);
	text = msg_encode(&m);
	assert_non_null(
	    strstr(text, "\"disk_qos\":{\"total_bytes_sec\":1048576,\"read_iops_sec\":100}"));
	free(text);
	assert_true(out.u.task.p.spawn.disk_qos.v[DISK_QOS_BPS_TOTAL] == 1048576);
	assert_true(out.u.task.p.spawn.disk_qos.v[DISK_QOS_IOPS_READ] == 100);
	msg_release(&out);
	p->disk_qos.v[DISK_QOS_BPS_READ] = 5; /* beside a total: QEMU refuses it */
	assert_null(msg_encode(&m));
	msg_release(&m);

	msg_task_init(&m, task_id, TASK_ATTACH, MSG_RES_ATTACHMENT, image_id);
	strcpy(m.u.task.p.attach.instance_id, inst_id);
	strcpy(m.u.task.p.attach.storage_host, "node1-storage");
	m.u.task.p.attach.qos.v[DISK_QOS_BPS_WRITE] = DISK_QOS_VALUE_MAX;
	roundtrip(&m, &out);
	assert_true(out.u.task.p.attach.qos.v[DISK_QOS_BPS_WRITE] == DISK_QOS_VALUE_MAX);
	msg_release(&out);
	msg_release(&m);

#define ATT(qos)                                                                                   \
	ENV("task",                                                                                \
	    "{\"task_id\":" UUID1 ",\"resource_kind\":\"attachment\",\"resource_id\":" UUID1       \
	    ",\"action\":\"attach\",\"payload\":{\"instance_id\":" UUID1                           \
	    ",\"storage_host\":\"h-storage\",\"qos\":" qos "}}")
	assert_false(decode_fails(ATT("{\"total_iops_sec\":5,\"unknown_key\":\"x\"}")));
	assert_true(decode_fails(ATT("{\"total_iops_sec\":\"5\"}")));
	assert_true(decode_fails(ATT("{\"total_iops_sec\":-5}")));
	assert_true(decode_fails(ATT("{\"total_iops_sec\":1000000000000001}")));
	assert_true(decode_fails(ATT("{\"total_iops_sec\":5,\"read_iops_sec\":1}")));
	assert_true(decode_fails(ATT("{\"read_bytes_sec_max\":5}")));
	assert_true(decode_fails(ATT("[]")));
#undef ATT
}

static void kind_tables(void **state)
{
	assert_int_equal(msg_res_kind_parse("instance"), MSG_RES_INSTANCE);
	assert_int_equal(msg_res_kind_parse("network"), -1);
	assert_int_equal(msg_res_kind_parse(NULL), -1);
	assert_string_equal(msg_res_kind_name(MSG_RES_INSTANCE), "instance");
	assert_string_equal(msg_res_kind_name(MSG_RES_KIND_COUNT), "?");
	assert_int_equal(msg_agent_kind_parse("compute"), MSG_AGENT_COMPUTE);
	assert_int_equal(msg_agent_kind_parse("net"), -1);
	assert_int_equal(msg_res_kind_agent(MSG_RES_INSTANCE), MSG_AGENT_COMPUTE);
	assert_true(msg_res_action_valid(MSG_RES_INSTANCE, TASK_HARD_REBOOT));
	assert_false(msg_res_action_valid(MSG_RES_KIND_COUNT, TASK_SPAWN));
	assert_true(msg_res_state_valid(MSG_RES_INSTANCE, VM_DELETED));
	assert_false(msg_res_state_valid(MSG_RES_INSTANCE, "gone"));
	assert_string_equal(msg_kind_name(MSG_ACK), "ack");
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

static void encode_refuses_bad_task(void **state)
{
	struct msg m;
	msg_task_init(&m, task_id, "format_disk", MSG_RES_INSTANCE, inst_id);
	assert_null(msg_encode(&m));
	msg_release(&m);
	msg_task_init(&m, task_id, TASK_STOP, MSG_RES_INSTANCE, "not-a-uuid");
	assert_null(msg_encode(&m));
	msg_release(&m);
	msg_task_init(&m, task_id, TASK_STOP, MSG_RES_KIND_COUNT, inst_id);
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
	    cmocka_unit_test(roundtrip_spawn),
	    cmocka_unit_test(roundtrip_rebuild),
	    cmocka_unit_test(task_wire_shape),
	    cmocka_unit_test(roundtrip_spawn_nics_and_net_sync),
	    cmocka_unit_test(roundtrip_spawn_boot_volume),
	    cmocka_unit_test(roundtrip_spawn_boot_volume_nbd),
	    cmocka_unit_test(roundtrip_volume_clone_in_guest),
	    cmocka_unit_test(roundtrip_image_hash),
	    cmocka_unit_test(roundtrip_disk_qos),
	    cmocka_unit_test(request_id_in_envelope),
	    cmocka_unit_test(roundtrip_hello_with_resources),
	    cmocka_unit_test(roundtrip_result_event_ack),
	    cmocka_unit_test(rejects_bad_input),
	    cmocka_unit_test(kind_tables),
	    cmocka_unit_test(rejects_oversize),
	    cmocka_unit_test(encode_refuses_overlong_field),
	    cmocka_unit_test(encode_refuses_bad_task),
	    cmocka_unit_test(sanitize_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

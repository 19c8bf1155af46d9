/* Table-driven encoding and validation of bus messages: each kind is a list of field
 * descriptors (name, type, offset, bound), so adding a field is adding a row. The
 * per-action task payloads and the per-agent-kind capacities are field lists too,
 * chosen by a selector once the fields they depend on are decoded. */
#include "msg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

enum field_type {
	F_UUID,      /* char[37], must be a UUID */
	F_WORD,      /* char[N], [A-Za-z0-9_.-], bound N-1 */
	F_STR,       /* char *, UTF-8 without NUL, bound max */
	F_INT,       /* int, 0..max */
	F_BOOL,      /* int 0/1 */
	F_AGENT,     /* enum msg_agent_kind, as its name */
	F_RES,       /* enum msg_res_kind, as its name */
	F_RESOURCES, /* struct msg_resource array with its count at off2, max entries */
	F_VARIANT,   /* a nested object whose field table select() picks */
	F_NICS,      /* struct msg_nic array with its count at off2, max entries */
	F_QOS,       /* struct disk_qos: {Cinder's key: integer}, checked as QEMU does */
};

struct field;
struct field_table {
	const struct field *f;
	size_t n;
};

struct field {
	const char *name;
	enum field_type type;
	size_t off;
	size_t max;
	int required;
	size_t off2;
	/* F_VARIANT: the table for m, or NULL when m's selectors name none */
	const struct field_table *(*select)(const struct msg *m);
};

#define U(kind, member) offsetof(struct msg, u.kind.member)
#define FIXED(kind, member) sizeof(((struct msg *)0)->u.kind.member)
#define TABLE(f)                                                                                   \
	{                                                                                          \
		f, sizeof(f) / sizeof(f[0])                                                        \
	}

/* ---- resource kinds, their states and actions ----------------------------------- */

static const struct field spawn_fields[] = {
    {"name", F_STR, U(task, p.spawn.name), 255, 0, 0, NULL},
    {"hostname", F_STR, U(task, p.spawn.hostname), 255, 0, 0, NULL},
    {"vcpus", F_INT, U(task, p.spawn.vcpus), 1024, 1, 0, NULL},
    {"ram_mb", F_INT, U(task, p.spawn.ram_mb), 1 << 24, 1, 0, NULL},
    {"disk_gb", F_INT, U(task, p.spawn.disk_gb), 1 << 20, 0, 0, NULL},
    {"image_id", F_UUID, U(task, p.spawn.image_id), 0, 0, 0, NULL},
    {"image_url", F_STR, U(task, p.spawn.image_url), 2048, 0, 0, NULL},
    {"image_checksum", F_STR, U(task, p.spawn.image_checksum), 128, 0, 0, NULL},
    {"image_hash", F_STR, U(task, p.spawn.image_hash), MSG_IMAGE_HASH_MAX, 0, 0, NULL},
    {"image_format", F_STR, U(task, p.spawn.image_format), 16, 0, 0, NULL},
    {"key_name", F_STR, U(task, p.spawn.key_name), 255, 0, 0, NULL},
    {"public_key", F_STR, U(task, p.spawn.public_key), 16384, 0, 0, NULL},
    {"user_data", F_STR, U(task, p.spawn.user_data), MSG_USERDATA_MAX, 0, 0, NULL},
    {"config_drive", F_BOOL, U(task, p.spawn.config_drive), 1, 0, 0, NULL},
    {"nics", F_NICS, U(task, p.spawn.nics), MSG_NICS_MAX, 0, U(task, p.spawn.n_nics), NULL},
    {"boot_volume_id", F_UUID, U(task, p.spawn.boot_volume_id), 0, 0, 0, NULL},
    {"boot_volume_host", F_WORD, U(task, p.spawn.boot_volume_host),
     FIXED(task, p.spawn.boot_volume_host), 0, 0, NULL},
    {"disk_qos", F_QOS, U(task, p.spawn.disk_qos), 0, 0, 0, NULL},
    {"nbd_host", F_WORD, U(task, p.spawn.nbd_host), FIXED(task, p.spawn.nbd_host), 0, 0, NULL},
    {"nbd_port", F_INT, U(task, p.spawn.nbd_port), 65535, 0, 0, NULL},
    {"attachment_id", F_UUID, U(task, p.spawn.attachment_id), 0, 0, 0, NULL},
    {"psk", F_WORD, U(task, p.spawn.psk), FIXED(task, p.spawn.psk), 0, 0, NULL},
};

static const struct field net_sync_fields[] = {
    {"generation", F_INT, U(task, p.net_sync.generation), 0x7fffffff, 1, 0, NULL},
    {"state", F_STR, U(task, p.net_sync.state), MSG_NETSTATE_MAX, 1, 0, NULL},
};

static const struct field snapshot_fields[] = {
    {"image_id", F_UUID, U(task, p.snapshot.image_id), 0, 1, 0, NULL},
    {"upload_url", F_STR, U(task, p.snapshot.upload_url), 2048, 1, 0, NULL},
    {"disk_format", F_WORD, U(task, p.snapshot.disk_format), FIXED(task, p.snapshot.disk_format), 0,
     0, NULL},
};

static const struct field nics_fields[] = {
    {"nics", F_NICS, U(task, p.spawn.nics), MSG_NICS_MAX, 0, U(task, p.spawn.n_nics), NULL},
};

static const struct field_table no_payload = {NULL, 0};
static const struct field_table snapshot_payload = TABLE(snapshot_fields);
static const struct field_table spawn_payload = TABLE(spawn_fields);
static const struct field_table net_sync_payload = TABLE(net_sync_fields);
static const struct field_table nics_payload = TABLE(nics_fields);

struct action_desc {
	const char *action;
	const struct field_table *payload;
};

static const struct action_desc instance_actions[] = {
    {TASK_SPAWN, &spawn_payload},   {TASK_DELETE, &no_payload},
    {TASK_START, &no_payload},      {TASK_STOP, &no_payload},
    {TASK_REBOOT, &no_payload},     {TASK_HARD_REBOOT, &no_payload},
    {TASK_PAUSE, &no_payload},      {TASK_UNPAUSE, &no_payload},
    {TASK_SUSPEND, &no_payload},    {TASK_RESUME, &no_payload},
    {TASK_REBUILD, &spawn_payload}, {TASK_SNAPSHOT, &snapshot_payload},
    {TASK_NICS, &nics_payload},
};

static const char *const instance_states[] = {VM_RUNNING, VM_PAUSED,  VM_SUSPENDED,
                                              VM_SHUTOFF, VM_DELETED, VM_ERROR};

static const struct action_desc nethost_actions[] = {
    {TASK_NET_SYNC, &net_sync_payload},
};

static const char *const nethost_states[] = {NET_SYNCED, NET_ERROR};
static const struct field vol_create_fields[] = {
    {"size_gb", F_INT, U(task, p.vol_create.size_gb), 1 << 20, 1, 0, NULL},
    {"source", F_WORD, U(task, p.vol_create.source), FIXED(task, p.vol_create.source), 0, 0, NULL},
    {"source_id", F_UUID, U(task, p.vol_create.source_id), 0, 0, 0, NULL},
    {"image_url", F_STR, U(task, p.vol_create.image_url), 2048, 0, 0, NULL},
    {"image_checksum", F_STR, U(task, p.vol_create.image_checksum), 128, 0, 0, NULL},
    {"image_hash", F_STR, U(task, p.vol_create.image_hash), MSG_IMAGE_HASH_MAX, 0, 0, NULL},
    {"image_format", F_STR, U(task, p.vol_create.image_format), 16, 0, 0, NULL},
    {"instance_id", F_UUID, U(task, p.vol_create.instance_id), 0, 0, 0, NULL},
    {"storage_host", F_WORD, U(task, p.vol_create.storage_host),
     FIXED(task, p.vol_create.storage_host), 0, 0, NULL},
};
static const struct field vol_extend_fields[] = {
    {"size_gb", F_INT, U(task, p.vol_extend.size_gb), 1 << 20, 1, 0, NULL},
};
static const struct field snap_create_fields[] = {
    {"volume_id", F_UUID, U(task, p.snap_create.volume_id), 0, 1, 0, NULL},
    {"instance_id", F_UUID, U(task, p.snap_create.instance_id), 0, 0, 0, NULL},
    {"storage_host", F_WORD, U(task, p.snap_create.storage_host),
     FIXED(task, p.snap_create.storage_host), 0, 0, NULL},
};
static const struct field_table vol_create_payload = TABLE(vol_create_fields);
static const struct field_table vol_extend_payload = TABLE(vol_extend_fields);
static const struct field_table snap_create_payload = TABLE(snap_create_fields);

static const struct action_desc volume_actions[] = {
    {TASK_CREATE, &vol_create_payload},
    {TASK_DELETE, &no_payload},
    {TASK_EXTEND, &vol_extend_payload},
    {TASK_UPLOAD, &snapshot_payload},
};
static const struct action_desc snapshot_actions[] = {
    {TASK_CREATE, &snap_create_payload},
    {TASK_DELETE, &no_payload},
};
static const char *const volume_states[] = {VOL_AVAILABLE, VOL_DELETED, VOL_ERROR};

/* instance_id: an attach names it (check_task); so does a detach to a compute host,
 * but the stop of an export no attachment wants, sent to a storage host by its
 * heartbeat check, names none (a compute host refuses a detach of no instance of its
 * own) */
static const struct field attach_fields[] = {
    {"instance_id", F_UUID, U(task, p.attach.instance_id), 0, 0, 0, NULL},
    {"storage_host", F_WORD, U(task, p.attach.storage_host), FIXED(task, p.attach.storage_host), 1,
     0, NULL},
    {"qos", F_QOS, U(task, p.attach.qos), 0, 0, 0, NULL},
    {"attachment_id", F_UUID, U(task, p.attach.attachment_id), 0, 0, 0, NULL},
    {"psk", F_WORD, U(task, p.attach.psk), FIXED(task, p.attach.psk), 0, 0, NULL},
    {"nbd_host", F_WORD, U(task, p.attach.nbd_host), FIXED(task, p.attach.nbd_host), 0, 0, NULL},
    {"nbd_port", F_INT, U(task, p.attach.nbd_port), 65535, 0, 0, NULL},
};
static const struct field_table attach_payload = TABLE(attach_fields);
static const struct field backup_fields[] = {
    {"volume_id", F_UUID, U(task, p.backup.volume_id), 0, 1, 0, NULL},
    {"parent_id", F_UUID, U(task, p.backup.parent_id), 0, 0, 0, NULL},
    {"snapshot_id", F_UUID, U(task, p.backup.snapshot_id), 0, 0, 0, NULL},
    {"data_id", F_UUID, U(task, p.backup.data_id), 0, 0, 0, NULL},
    {"container", F_WORD, U(task, p.backup.container), FIXED(task, p.backup.container), 1, 0, NULL},
    {"size_gb", F_INT, U(task, p.backup.size_gb), 1 << 20, 0, 0, NULL},
    {"force", F_BOOL, U(task, p.backup.force), 1, 0, 0, NULL},
    {"copied", F_BOOL, U(task, p.backup.copied), 1, 0, 0, NULL},
    {"swift_url", F_STR, U(task, p.backup.swift_url), 2048, 1, 0, NULL},
    {"token", F_STR, U(task, p.backup.token), MSG_BACKUP_TOKEN_MAX, 1, 0, NULL},
};
static const struct field_table backup_payload = TABLE(backup_fields);
static const struct action_desc backup_actions[] = {
    {TASK_CREATE, &backup_payload},
    {TASK_RESTORE, &backup_payload},
    {TASK_DELETE, &backup_payload},
    {TASK_BACKUP_COPY, &snap_create_payload}, /* to a compute host: no credentials */
    {TASK_BACKUP_DROP, &no_payload},
};

static const struct action_desc attachment_actions[] = {
    {TASK_ATTACH, &attach_payload},
    {TASK_DETACH, &attach_payload},
};
static const char *const attachment_states[] = {ATT_ATTACHED, ATT_DETACHED, VOL_ERROR};

static const struct res_desc {
	const char *name;
	enum msg_agent_kind agent;
	const char *const *states;
	size_t nstates;
	const struct action_desc *actions;
	size_t nactions;
} res_kinds[MSG_RES_KIND_COUNT] = {
    [MSG_RES_INSTANCE] = {"instance", MSG_AGENT_COMPUTE, instance_states,
                          sizeof(instance_states) / sizeof(instance_states[0]), instance_actions,
                          sizeof(instance_actions) / sizeof(instance_actions[0])},
    [MSG_RES_NETHOST] = {"nethost", MSG_AGENT_NETWORK, nethost_states,
                         sizeof(nethost_states) / sizeof(nethost_states[0]), nethost_actions,
                         sizeof(nethost_actions) / sizeof(nethost_actions[0])},
    [MSG_RES_VOLUME] = {"volume", MSG_AGENT_STORAGE, volume_states,
                        sizeof(volume_states) / sizeof(volume_states[0]), volume_actions,
                        sizeof(volume_actions) / sizeof(volume_actions[0])},
    [MSG_RES_SNAPSHOT] = {"snapshot", MSG_AGENT_STORAGE, volume_states,
                          sizeof(volume_states) / sizeof(volume_states[0]), snapshot_actions,
                          sizeof(snapshot_actions) / sizeof(snapshot_actions[0])},
    [MSG_RES_ATTACHMENT] = {"attachment", MSG_AGENT_COMPUTE, attachment_states,
                            sizeof(attachment_states) / sizeof(attachment_states[0]),
                            attachment_actions,
                            sizeof(attachment_actions) / sizeof(attachment_actions[0])},
    [MSG_RES_BACKUP] = {"backup", MSG_AGENT_STORAGE, volume_states,
                        sizeof(volume_states) / sizeof(volume_states[0]), backup_actions,
                        sizeof(backup_actions) / sizeof(backup_actions[0])},
};

/* ---- agent kinds and their capacities ------------------------------------------ */

static const struct field compute_cap_fields[] = {
    {"accel", F_WORD, U(hello, cap.compute.accel), FIXED(hello, cap.compute.accel), 1, 0, NULL},
    {"vcpus", F_INT, U(hello, cap.compute.vcpus), 1 << 20, 1, 0, NULL},
    {"ram_mb", F_INT, U(hello, cap.compute.ram_mb), 1 << 30, 1, 0, NULL},
    {"disk_gb", F_INT, U(hello, cap.compute.disk_gb), 1 << 30, 1, 0, NULL},
    {"uptime_s", F_INT, U(hello, cap.compute.uptime_s), 1 << 30, 0, 0, NULL},
};

static const struct field network_cap_fields[] = {
    {"tunnel_ip", F_WORD, U(hello, cap.network.tunnel_ip), FIXED(hello, cap.network.tunnel_ip), 0,
     0, NULL},
    {"vlan", F_BOOL, U(hello, cap.network.vlan), 1, 0, 0, NULL},
};

static const struct field storage_cap_fields[] = {
    {"total_gb", F_INT, U(hello, cap.storage.total_gb), 1 << 30, 1, 0, NULL},
    {"free_gb", F_INT, U(hello, cap.storage.free_gb), 1 << 30, 1, 0, NULL},
};

static const struct agent_desc {
	const char *name;
	struct field_table capacity;
} agent_kinds[MSG_AGENT_KIND_COUNT] = {
    [MSG_AGENT_COMPUTE] = {"compute", TABLE(compute_cap_fields)},
    [MSG_AGENT_NETWORK] = {"network", TABLE(network_cap_fields)},
    [MSG_AGENT_STORAGE] = {"storage", TABLE(storage_cap_fields)},
};

/* ---- message kinds -------------------------------------------------------------- */

static const struct action_desc *action_find(enum msg_res_kind k, const char *action)
{
	if ((unsigned)k >= MSG_RES_KIND_COUNT)
		return NULL;
	const struct res_desc *r = &res_kinds[k];
	for (size_t i = 0; i < r->nactions; i++)
		if (!strcmp(r->actions[i].action, action))
			return &r->actions[i];
	return NULL;
}

static const struct field_table *task_payload(const struct msg *m)
{
	const struct action_desc *a = action_find(m->u.task.resource_kind, m->u.task.action);
	return a ? a->payload : NULL;
}

static const struct field_table *hello_capacity(const struct msg *m)
{
	enum msg_agent_kind k = m->u.hello.agent_kind;
	return (unsigned)k < MSG_AGENT_KIND_COUNT ? &agent_kinds[k].capacity : NULL;
}

static const struct field hello_fields[] = {
    {"host", F_WORD, U(hello, host), FIXED(hello, host), 1, 0, NULL},
    {"az", F_WORD, U(hello, az), FIXED(hello, az), 0, 0, NULL},
    {"agent_kind", F_AGENT, U(hello, agent_kind), 0, 1, 0, NULL},
    {"capacity", F_VARIANT, U(hello, cap), 0, 1, 0, hello_capacity},
    {"resources", F_RESOURCES, U(hello, resources), MSG_MAX_RESOURCES, 0, U(hello, n_resources),
     NULL},
};

static const struct field task_fields[] = {
    {"task_id", F_UUID, U(task, task_id), 0, 1, 0, NULL},
    {"action", F_WORD, U(task, action), FIXED(task, action), 1, 0, NULL},
    {"resource_kind", F_RES, U(task, resource_kind), 0, 1, 0, NULL},
    {"resource_id", F_UUID, U(task, resource_id), 0, 1, 0, NULL},
    {"payload", F_VARIANT, U(task, p), 0, 0, 0, task_payload},
};

static const struct field result_fields[] = {
    {"task_id", F_UUID, U(result, task_id), 0, 1, 0, NULL},
    {"resource_kind", F_RES, U(result, resource_kind), 0, 1, 0, NULL},
    {"resource_id", F_UUID, U(result, resource_id), 0, 1, 0, NULL},
    {"ok", F_BOOL, U(result, ok), 1, 1, 0, NULL},
    {"state", F_WORD, U(result, state), FIXED(result, state), 0, 0, NULL},
    {"error", F_STR, U(result, error), MSG_STR_MAX, 0, 0, NULL},
    {"count", F_INT, U(result, count), 1 << 30, 0, 0, NULL},
    {"export_host", F_WORD, U(result, export_host), FIXED(result, export_host), 0, 0, NULL},
    {"export_port", F_INT, U(result, export_port), 65535, 0, 0, NULL},
};

static const struct field event_fields[] = {
    {"resource_kind", F_RES, U(event, resource_kind), 0, 1, 0, NULL},
    {"resource_id", F_UUID, U(event, resource_id), 0, 1, 0, NULL},
    {"state", F_WORD, U(event, state), FIXED(event, state), 1, 0, NULL},
    {"reason", F_STR, U(event, reason), MSG_STR_MAX, 0, 0, NULL},
};

static const struct field console_fields[] = {
    {"instance_id", F_UUID, U(console, instance_id), 0, 1, 0, NULL},
    {"reset", F_BOOL, U(console, reset), 1, 0, 0, NULL},
    {"data", F_STR, U(console, data), MSG_CONSOLE_MAX, 1, 0, NULL},
};

static const struct field ack_fields[] = {
    {"task_id", F_UUID, U(ack, task_id), 0, 1, 0, NULL},
};

/* 1 when s is an IPv4 dotted quad ("" too when empty_ok). */
static int ipv4_ok(const char *s, int empty_ok)
{
	struct in_addr a;
	return (empty_ok && !*s) || inet_pton(AF_INET, s, &a) == 1;
}

/* 1 when an NBD export's address and port come together (or neither), the address a
 * dotted IPv4 one (QEMU would look a name up). */
static int export_ok(const char *host, int port)
{
	return ipv4_ok(host, 1) && (port > 0) == (host[0] != '\0');
}

/* A check across fields, run after the table decoded them (and before encoding);
 * NULL or the reason. */
static const char *check_task(const struct msg *m)
{
	const struct msg_task *t = &m->u.task;
	if (!task_payload(m))
		return "unknown action for the resource kind";
	if (t->resource_kind != MSG_RES_ATTACHMENT)
		return NULL;
	const struct msg_attach *a = &t->p.attach;
	if (!strcmp(t->action, TASK_ATTACH) && !a->instance_id[0])
		return "an attach names its instance";
	if (!export_ok(a->nbd_host, a->nbd_port) || (a->nbd_port > 0 && !a->attachment_id[0]))
		return "an NBD export is an IPv4 address with a port, for an attachment";
	return NULL;
}

static const char *check_result(const struct msg *m)
{
	const struct msg_result *r = &m->u.result;
	if (r->state[0] && !msg_res_state_valid(r->resource_kind, r->state))
		return "unknown state";
	return export_ok(r->export_host, r->export_port)
	           ? NULL
	           : "an export is an IPv4 address with a port";
}

static const char *check_event(const struct msg *m)
{
	return msg_res_state_valid(m->u.event.resource_kind, m->u.event.state) ? NULL
	                                                                       : "unknown state";
}

static const struct kind_desc {
	const char *name;
	struct field_table body;
	const char *(*check)(const struct msg *m);
} kinds[MSG_KIND_COUNT] = {
    [MSG_HELLO] = {"hello", TABLE(hello_fields), NULL},
    [MSG_HEARTBEAT] = {"heartbeat", TABLE(hello_fields), NULL},
    [MSG_TASK] = {"task", TABLE(task_fields), check_task},
    [MSG_RESULT] = {"result", TABLE(result_fields), check_result},
    [MSG_EVENT] = {"event", TABLE(event_fields), check_event},
    [MSG_CONSOLE] = {"console", TABLE(console_fields), NULL},
    [MSG_WAKE] = {"wake", {NULL, 0}, NULL},
    [MSG_ACK] = {"ack", TABLE(ack_fields), NULL},
};

/* ---- names ---------------------------------------------------------------------- */

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

const char *msg_kind_name(enum msg_kind k)
{
	return (unsigned)k < MSG_KIND_COUNT ? kinds[k].name : "?";
}

const char *msg_agent_kind_name(enum msg_agent_kind k)
{
	return (unsigned)k < MSG_AGENT_KIND_COUNT ? agent_kinds[k].name : "?";
}

int msg_agent_kind_parse(const char *s)
{
	for (int i = 0; s && i < MSG_AGENT_KIND_COUNT; i++)
		if (!strcmp(agent_kinds[i].name, s))
			return i;
	return -1;
}

const char *msg_res_kind_name(enum msg_res_kind k)
{
	return (unsigned)k < MSG_RES_KIND_COUNT ? res_kinds[k].name : "?";
}

int msg_res_kind_parse(const char *s)
{
	for (int i = 0; s && i < MSG_RES_KIND_COUNT; i++)
		if (!strcmp(res_kinds[i].name, s))
			return i;
	return -1;
}

enum msg_agent_kind msg_res_kind_agent(enum msg_res_kind k)
{
	return (unsigned)k < MSG_RES_KIND_COUNT ? res_kinds[k].agent : MSG_AGENT_KIND_COUNT;
}

int msg_res_state_valid(enum msg_res_kind k, const char *s)
{
	if ((unsigned)k >= MSG_RES_KIND_COUNT)
		return 0;
	return in_list(s, res_kinds[k].states, res_kinds[k].nstates);
}

int msg_res_action_valid(enum msg_res_kind k, const char *s)
{
	return s && action_find(k, s) != NULL;
}

int msg_state_valid(const char *s)
{
	return msg_res_state_valid(MSG_RES_INSTANCE, s);
}

int msg_action_valid(const char *s)
{
	return msg_res_action_valid(MSG_RES_INSTANCE, s);
}

/* ---- construction --------------------------------------------------------------- */

void msg_init(struct msg *m, enum msg_kind kind)
{
	memset(m, 0, sizeof(*m));
	m->version = MSG_VERSION;
	m->kind = kind;
	uuid_generate_str(m->id);
}

void msg_task_init(struct msg *m, const char *task_id, const char *action, enum msg_res_kind kind,
                   const char *resource_id)
{
	msg_init(m, MSG_TASK);
	snprintf(m->u.task.task_id, sizeof(m->u.task.task_id), "%s", task_id);
	snprintf(m->u.task.action, sizeof(m->u.task.action), "%s", action);
	m->u.task.resource_kind = kind;
	snprintf(m->u.task.resource_id, sizeof(m->u.task.resource_id), "%s", resource_id);
}

void msg_ack_init(struct msg *m, const char *task_id)
{
	msg_init(m, MSG_ACK);
	snprintf(m->u.ack.task_id, sizeof(m->u.ack.task_id), "%s", task_id);
}

static void table_release(const struct field_table *t, struct msg *m)
{
	for (size_t i = 0; t && i < t->n; i++) {
		const struct field *f = &t->f[i];
		if (f->type == F_STR || f->type == F_RESOURCES || f->type == F_NICS) {
			void **p = (void **)((char *)m + f->off);
			if (f->type == F_STR &&
			    *p) /* a string may be a secret (a backup's token) */
				memset(*p, 0, strlen(*p));
			free(*p);
			*p = NULL;
		} else if (f->type == F_VARIANT) {
			table_release(f->select(m), m);
		}
	}
}

void msg_release(struct msg *m)
{
	if ((unsigned)m->kind < MSG_KIND_COUNT)
		table_release(&kinds[m->kind].body, m);
	explicit_bzero(m, sizeof(*m)); /* the NBD keys (psk) are in the struct itself */
}

void msg_sanitize_text(char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n' || c == '\r' || c == '\t')
			continue;
		if (c < 0x20 || c >= 0x7f)
			s[i] = '?';
	}
}

static int word_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

/* ---- encoding ------------------------------------------------------------------- */

/* "xx:xx:xx:xx:xx:xx", lowercase hex */
static int mac_ok(const char *s)
{
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? s[i] != ':' : !strchr("0123456789abcdef", s[i]) || !s[i])
			return 0;
	return s[17] == '\0';
}

static int nic_ok(const struct msg_nic *n)
{
	if (!uuid_is_valid(n->port_id) || !uuid_is_valid(n->network_id) || !mac_ok(n->mac) ||
	    !n->tap[0] || !word_ok(n->tap) || n->mtu < 68 || n->mtu > 65535)
		return 0;
	if (!ipv4_ok(n->ip, 1) || !ipv4_ok(n->gateway, 1) || n->prefixlen < 0 ||
	    n->prefixlen > 32 || n->n_dns < 0 || n->n_dns > MSG_NIC_DNS_MAX ||
	    (!n->ip[0] && (n->gateway[0] || n->n_dns || n->prefixlen)))
		return 0;
	for (int i = 0; i < n->n_dns; i++)
		if (!ipv4_ok(n->dns[i], 0))
			return 0;
	return 1;
}

/* The JSON array of f's NICs in m (owned), or NULL when one breaks its bound. */
static json_t *encode_nics(const struct field *f, const struct msg *m)
{
	const struct msg_nic *ns = *(struct msg_nic *const *)((const char *)m + f->off);
	int n = *(const int *)((const char *)m + f->off2);
	if (n < 0 || (size_t)n > f->max)
		return NULL;
	json_t *v = json_array();
	for (int j = 0; j < n; j++) {
		if (!nic_ok(&ns[j])) {
			json_decref(v);
			return NULL;
		}
		json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:i}", "port_id", ns[j].port_id,
		                      "network_id", ns[j].network_id, "mac", ns[j].mac, "tap",
		                      ns[j].tap, "mtu", ns[j].mtu);
		if (ns[j].ip[0]) {
			json_t *dns = json_array();
			for (int k = 0; k < ns[j].n_dns; k++)
				json_array_append_new(dns, json_string(ns[j].dns[k]));
			json_object_set_new(e, "ip", json_string(ns[j].ip));
			json_object_set_new(e, "prefixlen", json_integer(ns[j].prefixlen));
			json_object_set_new(e, "gateway", json_string(ns[j].gateway));
			json_object_set_new(e, "dns", dns);
		}
		json_array_append_new(v, e);
	}
	return v;
}

/* The JSON object of the limits q sets (owned), NULL when it sets none; *bad when q
 * breaks QEMU's rules. */
static json_t *encode_qos(const struct disk_qos *q, int *bad)
{
	char why[256];
	*bad = disk_qos_check(q, DISK_QOS_CINDER, why, sizeof(why)) < 0;
	if (*bad || !disk_qos_any(q))
		return NULL;
	json_t *v = json_object();
	for (int l = 0; l < DISK_QOS_COUNT; l++)
		if (q->v[l])
			json_object_set_new(v,
			                    disk_qos_key(DISK_QOS_CINDER, (enum disk_qos_limit)l),
			                    json_integer((json_int_t)q->v[l]));
	return v;
}

/* The JSON object of the fields of t in m (owned), or NULL when one breaks its bound. */
static json_t *encode_table(const struct field_table *t, const struct msg *m)
{
	json_t *obj = json_object();
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->f[i];
		const char *base = (const char *)m + f->off;
		json_t *v = NULL;
		switch (f->type) {
		case F_UUID:
		case F_WORD:
			if (*base && (strlen(base) >= (f->type == F_WORD ? f->max : UUID_STR_LEN) ||
			              (f->type == F_WORD ? !word_ok(base) : !uuid_is_valid(base))))
				goto fail;
			if (*base)
				v = json_string(base);
			break;
		case F_STR: {
			const char *s = *(char *const *)base;
			if (s && strlen(s) > f->max)
				goto fail;
			if (s && !(v = json_string(s))) /* not UTF-8 */
				goto fail;
			break;
		}
		case F_INT:
			if (*(const int *)base < 0 || *(const int *)base > (long)f->max)
				goto fail;
			v = json_integer(*(const int *)base);
			break;
		case F_BOOL:
			v = json_boolean(*(const int *)base);
			break;
		case F_AGENT: {
			enum msg_agent_kind k = *(const enum msg_agent_kind *)base;
			if ((unsigned)k >= MSG_AGENT_KIND_COUNT)
				goto fail;
			v = json_string(agent_kinds[k].name);
			break;
		}
		case F_RES: {
			enum msg_res_kind k = *(const enum msg_res_kind *)base;
			if ((unsigned)k >= MSG_RES_KIND_COUNT)
				goto fail;
			v = json_string(res_kinds[k].name);
			break;
		}
		case F_RESOURCES: {
			const struct msg_resource *rs = *(struct msg_resource *const *)base;
			int n = *(const int *)((const char *)m + f->off2);
			if (n < 0 || (size_t)n > f->max)
				goto fail;
			v = json_array();
			for (int j = 0; j < n; j++) {
				if (!msg_res_state_valid(rs[j].kind, rs[j].state) ||
				    !uuid_is_valid(rs[j].id)) {
					json_decref(v);
					goto fail;
				}
				json_array_append_new(v, json_pack("{s:s,s:s,s:s}", "kind",
				                                   res_kinds[rs[j].kind].name, "id",
				                                   rs[j].id, "state", rs[j].state));
			}
			break;
		}
		case F_NICS:
			if (!(v = encode_nics(f, m)))
				goto fail;
			break;
		case F_QOS: {
			int bad;
			v = encode_qos((const struct disk_qos *)base, &bad);
			if (bad)
				goto fail;
			break;
		}
		case F_VARIANT: {
			const struct field_table *sub = f->select(m);
			if (!sub)
				goto fail;
			if (sub->n && !(v = encode_table(sub, m)))
				goto fail;
			break;
		}
		}
		if (v)
			json_object_set_new(obj, f->name, v);
	}
	return obj;
fail:
	json_decref(obj);
	return NULL;
}

char *msg_encode(const struct msg *m)
{
	if ((unsigned)m->kind >= MSG_KIND_COUNT)
		return NULL;
	const struct kind_desc *k = &kinds[m->kind];
	json_t *body = encode_table(&k->body, m);
	if (!body || (k->check && k->check(m))) {
		json_decref(body);
		return NULL;
	}
	if (m->req[0] && !request_id_is_valid(m->req)) {
		json_decref(body);
		return NULL;
	}
	json_t *env = json_pack("{s:i,s:s,s:s,s:o}", "v", MSG_VERSION, "kind", k->name, "id", m->id,
	                        "body", body);
	if (env && m->req[0])
		json_object_set_new(env, "req", json_string(m->req));
	char *text = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	return text;
}

/* ---- decoding ------------------------------------------------------------------- */

static int decode_table(const struct field_table *t, json_t *obj, struct msg *out, char *err,
                        size_t errlen);

static int decode_resources(const struct field *f, json_t *v, struct msg *out)
{
	if (!json_is_array(v) || json_array_size(v) > f->max)
		return -EINVAL;
	size_t n = json_array_size(v);
	struct msg_resource *rs = xcalloc(n ? n : 1, sizeof(*rs));
	*(struct msg_resource **)((char *)out + f->off) = rs;
	*(int *)((char *)out + f->off2) = (int)n;
	for (size_t j = 0; j < n; j++) {
		json_t *e = json_array_get(v, j);
		int kind = msg_res_kind_parse(json_string_value(json_object_get(e, "kind")));
		const char *id = json_string_value(json_object_get(e, "id"));
		const char *st = json_string_value(json_object_get(e, "state"));
		if (kind < 0 || !id || !st || !uuid_is_valid(id) ||
		    !msg_res_state_valid((enum msg_res_kind)kind, st))
			return -EINVAL;
		rs[j].kind = (enum msg_res_kind)kind;
		strcpy(rs[j].id, id);
		strcpy(rs[j].state, st);
	}
	return 0;
}

/* Copies the string member name of e into dst[cap]; -1 when absent or too long. */
static int copy_member(json_t *e, const char *name, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(e, name));
	if (!s || strlen(s) >= cap)
		return -1;
	strcpy(dst, s);
	return 0;
}

/* A NIC's optional addressing: ip, prefixlen, gateway, dns (nic_ok checks them). */
static int decode_nic_ip(json_t *e, struct msg_nic *n)
{
	json_t *plen = json_object_get(e, "prefixlen"), *dns = json_object_get(e, "dns");
	if (copy_member(e, "ip", n->ip, sizeof(n->ip)) < 0 ||
	    copy_member(e, "gateway", n->gateway, sizeof(n->gateway)) < 0 ||
	    !json_is_integer(plen) || json_integer_value(plen) < 0 ||
	    json_integer_value(plen) > 32 || !json_is_array(dns) ||
	    json_array_size(dns) > MSG_NIC_DNS_MAX)
		return -EINVAL;
	n->prefixlen = (int)json_integer_value(plen);
	for (size_t k = 0; k < json_array_size(dns); k++) {
		const char *d = json_string_value(json_array_get(dns, k));
		if (!d || strlen(d) >= sizeof(n->dns[0]))
			return -EINVAL;
		strcpy(n->dns[n->n_dns++], d);
	}
	return 0;
}

static int decode_nics(const struct field *f, json_t *v, struct msg *out)
{
	if (!json_is_array(v) || json_array_size(v) > f->max)
		return -EINVAL;
	size_t n = json_array_size(v);
	struct msg_nic *ns = xcalloc(n ? n : 1, sizeof(*ns));
	*(struct msg_nic **)((char *)out + f->off) = ns;
	*(int *)((char *)out + f->off2) = (int)n;
	for (size_t j = 0; j < n; j++) {
		json_t *e = json_array_get(v, j);
		json_t *mtu = json_object_get(e, "mtu");
		if (copy_member(e, "port_id", ns[j].port_id, sizeof(ns[j].port_id)) < 0 ||
		    copy_member(e, "network_id", ns[j].network_id, sizeof(ns[j].network_id)) < 0 ||
		    copy_member(e, "mac", ns[j].mac, sizeof(ns[j].mac)) < 0 ||
		    copy_member(e, "tap", ns[j].tap, sizeof(ns[j].tap)) < 0 ||
		    !json_is_integer(mtu) || json_integer_value(mtu) < 68 ||
		    json_integer_value(mtu) > 65535)
			return -EINVAL;
		ns[j].mtu = (int)json_integer_value(mtu);
		if (json_object_get(e, "ip") && decode_nic_ip(e, &ns[j]) < 0)
			return -EINVAL;
		if (!nic_ok(&ns[j]))
			return -EINVAL;
	}
	return 0;
}

/* {Cinder's key: integer} into q: keys that are not limits are ignored (a newer peer's),
 * values must be integers in range and the whole must pass QEMU's rules. */
static int decode_qos(json_t *v, struct disk_qos *q)
{
	char why[256];
	if (!json_is_object(v))
		return -EINVAL;
	for (int l = 0; l < DISK_QOS_COUNT; l++) {
		json_t *x =
		    json_object_get(v, disk_qos_key(DISK_QOS_CINDER, (enum disk_qos_limit)l));
		if (!x)
			continue;
		if (!json_is_integer(x) || json_integer_value(x) < 0 ||
		    json_integer_value(x) > DISK_QOS_VALUE_MAX)
			return -EINVAL;
		q->v[l] = (int64_t)json_integer_value(x);
	}
	return disk_qos_check(q, DISK_QOS_CINDER, why, sizeof(why));
}

static int decode_field(const struct field *f, json_t *v, struct msg *out, char *err, size_t errlen)
{
	char *base = (char *)out + f->off;
	switch (f->type) {
	case F_UUID:
		if (!json_is_string(v) || !uuid_is_valid(json_string_value(v)))
			goto bad;
		strcpy(base, json_string_value(v));
		return 0;
	case F_WORD: {
		if (!json_is_string(v))
			goto bad;
		const char *s = json_string_value(v);
		/* a required word is never empty: "" would encode as absent */
		if (strlen(s) != json_string_length(v) || strlen(s) >= f->max || !word_ok(s) ||
		    (f->required && !*s))
			goto bad;
		strcpy(base, s);
		return 0;
	}
	case F_STR:
		if (!json_is_string(v) || json_string_length(v) > f->max ||
		    strlen(json_string_value(v)) != json_string_length(v))
			goto bad;
		*(char **)base = xstrdup(json_string_value(v));
		return 0;
	case F_INT:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > (json_int_t)f->max)
			goto bad;
		*(int *)base = (int)json_integer_value(v);
		return 0;
	case F_BOOL:
		if (!json_is_boolean(v))
			goto bad;
		*(int *)base = json_is_true(v);
		return 0;
	case F_AGENT: {
		int k = msg_agent_kind_parse(json_string_value(v));
		if (k < 0)
			goto bad;
		*(enum msg_agent_kind *)base = (enum msg_agent_kind)k;
		return 0;
	}
	case F_RES: {
		int k = msg_res_kind_parse(json_string_value(v));
		if (k < 0)
			goto bad;
		*(enum msg_res_kind *)base = (enum msg_res_kind)k;
		return 0;
	}
	case F_RESOURCES:
		if (decode_resources(f, v, out) < 0)
			goto bad;
		return 0;
	case F_NICS:
		if (decode_nics(f, v, out) < 0)
			goto bad;
		return 0;
	case F_QOS:
		if (decode_qos(v, (struct disk_qos *)base) < 0)
			goto bad;
		return 0;
	case F_VARIANT: {
		const struct field_table *sub = f->select(out);
		if (!sub) {
			snprintf(err, errlen, "field \"%s\": no such variant", f->name);
			return -EINVAL;
		}
		if (!json_is_object(v))
			goto bad;
		return decode_table(sub, v, out, err, errlen);
	}
	}
bad:
	snprintf(err, errlen, "field \"%s\": wrong type, length or value", f->name);
	return -EINVAL;
}

/* Decodes the fields of t from obj into out. Selectors (action, kinds) come before
 * the variants they choose in every table, so a variant sees them decoded. */
static int decode_table(const struct field_table *t, json_t *obj, struct msg *out, char *err,
                        size_t errlen)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->f[i];
		json_t *fv = json_object_get(obj, f->name);
		json_t *empty = NULL;
		if (!fv || json_is_null(fv)) {
			if (f->required) {
				snprintf(err, errlen, "field \"%s\" is required", f->name);
				return -EINVAL;
			}
			if (f->type != F_VARIANT)
				continue;
			fv = empty = json_object(); /* the variant's own required fields apply */
		}
		int rc = decode_field(f, fv, out, err, errlen);
		json_decref(empty);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int msg_decode(const void *buf, size_t len, struct msg *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->kind = MSG_WAKE; /* owns nothing, so release is safe at any point */
	if (len > MSG_MAX_BYTES) {
		snprintf(err, errlen, "message of %zu bytes exceeds %d", len, MSG_MAX_BYTES);
		return -E2BIG;
	}
	json_error_t jerr;
	json_t *env = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	int rc = -EINVAL;
	if (!env || !json_is_object(env)) {
		snprintf(err, errlen, "not a JSON object: %s", env ? "wrong type" : jerr.text);
		goto out;
	}
	json_t *v = json_object_get(env, "v");
	const char *kind = json_string_value(json_object_get(env, "kind"));
	const char *id = json_string_value(json_object_get(env, "id"));
	json_t *body = json_object_get(env, "body");
	json_t *req = json_object_get(env, "req");
	if (!json_is_integer(v) || json_integer_value(v) != MSG_VERSION) {
		snprintf(err, errlen, "unsupported envelope version");
		goto out;
	}
	if (!id || !uuid_is_valid(id) || !kind || !json_is_object(body)) {
		snprintf(err, errlen, "envelope needs kind, id and body");
		goto out;
	}
	if (req && !request_id_is_valid(json_string_value(req))) {
		snprintf(err, errlen, "envelope's req is not a request id");
		goto out;
	}
	int k = -1;
	for (int i = 0; i < MSG_KIND_COUNT; i++)
		if (!strcmp(kinds[i].name, kind))
			k = i;
	if (k < 0) {
		snprintf(err, errlen, "unknown kind \"%.32s\"", kind);
		goto out;
	}
	out->version = MSG_VERSION;
	out->kind = (enum msg_kind)k;
	strcpy(out->id, id);
	if (req)
		strcpy(out->req, json_string_value(req));
	if (decode_table(&kinds[k].body, body, out, err, errlen) < 0)
		goto out;
	const char *why = kinds[k].check ? kinds[k].check(out) : NULL;
	if (why) {
		snprintf(err, errlen, "%s", why);
		goto out;
	}
	rc = 0;
out:
	json_decref(env);
	if (rc < 0)
		msg_release(out);
	return rc;
}

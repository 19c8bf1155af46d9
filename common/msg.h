/* The bus schema: every message between nubo-api, nubo-scheduler and the agents is a
 * versioned JSON envelope {"v":2,"kind":"...","id":"<uuid>","req":"req-<uuid>",
 * "body":{...}} whose body is one of the typed structs below. "req" (optional) is the
 * API request a task was written for; results carry their task's, so one grep of it
 * follows a request from nubo-api's log through the scheduler's to the agent's. This header is the
 * one definition of the schema; msg_decode() validates presence, type, length and charset before
 * anyone sees data.
 *
 * The schema is generic over resource kinds: a task names {action, resource kind,
 * resource id} and carries one typed payload per (kind, action); an agent's hello
 * declares its agent kind, that kind's capacities and the resources it runs. Adding
 * a resource kind or an action is adding rows to the tables in msg.c (and members
 * to the payload and capacity unions below). */
#ifndef NUBO_MSG_H
#define NUBO_MSG_H
#include <stddef.h>

#include "disk_qos.h"
#include "util.h"

#define MSG_VERSION 2              /* 2: generic tasks, agent kinds, ack */
#define MSG_MAX_BYTES (512 * 1024) /* a larger frame is refused unread */
#define MSG_MAX_RESOURCES 1024     /* resources listed in one hello/heartbeat */
#define MSG_HOST_MAX 64
#define MSG_STATE_MAX 16             /* a state or action word plus NUL */
#define MSG_STR_MAX 4096             /* default bound of a char * field */
#define MSG_USERDATA_MAX (96 * 1024) /* base64 of Nova's 64 KiB user-data limit */
#define MSG_CONSOLE_MAX (64 * 1024)

enum msg_kind {
	MSG_HELLO,     /* agent -> scheduler: registration: kind, capacity, what runs */
	MSG_HEARTBEAT, /* agent -> scheduler: same body as hello, every few seconds */
	MSG_TASK,      /* scheduler -> agent: do one action on one resource */
	MSG_RESULT,    /* agent -> scheduler: outcome of a task */
	MSG_EVENT,     /* agent -> scheduler: a resource's state seen changing by itself */
	MSG_CONSOLE,   /* agent -> scheduler: new serial console output of an instance */
	MSG_WAKE,      /* api -> scheduler: new rows in the task outbox */
	MSG_ACK,       /* scheduler -> agent: the result of task_id is recorded; the agent
	                  may forget it (it keeps results until acked, across restarts) */
	MSG_KIND_COUNT
};

/* What an agent is. Zero is compute, so a zeroed hello is a compute hello. */
enum msg_agent_kind {
	MSG_AGENT_COMPUTE, /* "compute": runs instances */
	MSG_AGENT_NETWORK, /* "network": nubo-net, converges a host's networking */
	MSG_AGENT_STORAGE, /* "storage": keeps volumes and snapshots in a pool */
	MSG_AGENT_KIND_COUNT
};

/* What a task, result, event or reported resource is about. Zero is instance. */
enum msg_res_kind {
	MSG_RES_INSTANCE,   /* "instance": a VM, agent kind compute */
	MSG_RES_NETHOST,    /* "nethost": a host's whole networking, agent kind network */
	MSG_RES_VOLUME,     /* "volume": a block volume, agent kind storage */
	MSG_RES_SNAPSHOT,   /* "snapshot": a volume snapshot, agent kind storage */
	MSG_RES_ATTACHMENT, /* "attachment": a volume (its id) on an instance, agent kind compute */
	MSG_RES_BACKUP,     /* "backup": a volume backup in the object store, agent kind storage */
	MSG_RES_KIND_COUNT
};

/* Instance power states as agents report them. */
#define VM_RUNNING "running"
#define VM_PAUSED "paused"
#define VM_SUSPENDED "suspended"
#define VM_SHUTOFF "shutoff"
#define VM_DELETED "deleted" /* gone from the host (after delete, or never there) */
#define VM_ERROR "error"

/* One resource an agent runs, as hello/heartbeat lists it. state is one of the
 * states of kind (for instances a VM_* word). */
struct msg_resource {
	enum msg_res_kind kind;
	char id[UUID_STR_LEN];
	char state[MSG_STATE_MAX];
};

/* What a compute agent offers: physical capacity, before allocation ratios. */
struct msg_cap_compute {
	char accel[8]; /* "kvm" or "tcg" */
	int vcpus, ram_mb, disk_gb;
	int uptime_s; /* seconds since the host booted (os-hypervisors uptime); 0: unknown */
};

/* What a network agent offers (docs/netstate.md). */
struct msg_cap_network {
	char tunnel_ip[16]; /* dotted IPv4 other hosts send VXLAN to, "" if none */
	int vlan;           /* 1 when the kernel has 8021q */
};

/* What a storage agent offers: its pool's file system, in GiB. */
struct msg_cap_storage {
	int total_gb, free_gb;
};

struct msg_hello { /* MSG_HELLO and MSG_HEARTBEAT */
	char host[MSG_HOST_MAX];
	char az[MSG_HOST_MAX];
	enum msg_agent_kind agent_kind;
	union { /* chosen by agent_kind; wire: "capacity" */
		struct msg_cap_compute compute;
		struct msg_cap_network network;
		struct msg_cap_storage storage;
	} cap;
	int n_resources;
	struct msg_resource *resources; /* owned, n_resources entries */
};

/* Instance task actions, one word each. */
#define TASK_SPAWN "spawn"
#define TASK_DELETE "delete"
#define TASK_START "start"
#define TASK_STOP "stop"
#define TASK_REBOOT "reboot"
#define TASK_HARD_REBOOT "hard_reboot"
#define TASK_PAUSE "pause"
#define TASK_UNPAUSE "unpause"
#define TASK_SUSPEND "suspend"
#define TASK_RESUME "resume"
#define TASK_REBUILD "rebuild"   /* payload: spawn's (the new image, name, key, user data) */
#define TASK_SNAPSHOT "snapshot" /* payload: msg_snapshot (Nova's createImage) */
/* payload: spawn's "nics" only: every NIC the instance should have now (Nova's
 * os-interface attach/detach); the agent hot-plugs what is missing, unplugs the rest */
#define TASK_NICS "nics"

/* nethost states and its one action (docs/netstate.md). */
#define NET_SYNCED "synced"
#define NET_ERROR "error"
#define TASK_NET_SYNC "net.sync"
#define MSG_NETSTATE_MAX (384 * 1024) /* the document text; escaped it stays < MSG_MAX_BYTES */

/* Payload of net.sync: the host's whole desired state. */
struct msg_net_sync {
	int generation;
	char *state; /* owned; the JSON text of docs/netstate.md's document */
};

/* One NIC of a spawned instance: a Network API port bound to the host. */
#define MSG_NICS_MAX 8
#define MSG_NIC_DNS_MAX 3
struct msg_nic {
	char port_id[UUID_STR_LEN];
	char network_id[UUID_STR_LEN];
	char mac[18]; /* "fa:16:3e:xx:xx:xx" */
	char tap[16]; /* "tap" + port_id[0:11] */
	int mtu;
	/* The port's first IPv4 address and its subnet, for the config drive's
	 * network_data.json (all optional: ip "" = none; gateway "" = none). */
	char ip[16];      /* dotted quad */
	int prefixlen;    /* 0..32, with ip */
	char gateway[16]; /* dotted quad or "" */
	char dns[MSG_NIC_DNS_MAX][16];
	int n_dns;
};

/* Payload of an instance spawn. All char * are owned. */
#define MSG_PSK_LEN 65         /* 64 hex digits (32 bytes) and NUL */
#define MSG_ADDR_MAX 16        /* a dotted IPv4 address and NUL */
#define MSG_IMAGE_HASH_MAX 128 /* image_hash: the hex digits of a sha512 */
struct msg_spawn {
	char *name;
	char *hostname;
	int vcpus, ram_mb, disk_gb;
	char image_id[UUID_STR_LEN];
	char *image_url;      /* where the agent GETs the image bytes (libcurl) */
	char *image_checksum; /* md5 hex of the image bytes, as Glance reports */
	char *image_hash;     /* sha512 hex (Glance's os_hash_value): the image cache's key */
	char *image_format;   /* "qcow2" or "raw" */
	char *key_name;
	char *public_key;
	char *user_data;  /* base64, as the user sent it */
	int config_drive; /* the user asked for a config drive (Nova's config_drive) */
	int n_nics;
	struct msg_nic *nics; /* owned, n_nics entries; none: a user-mode NIC */
	/* boot from volume: the root disk is this volume's pool file on storage agent
	 * boot_volume_host (same machine), and image_* are empty; "" = boot from image */
	char boot_volume_id[UUID_STR_LEN];
	char boot_volume_host[MSG_HOST_MAX];
	/* a boot volume of another machine: its NBD export, as an attach's second hop
	 * names it (msg_attach: address, port, TLS-PSK identity and key; port 0 = the
	 * volume is on this machine) */
	char nbd_host[MSG_ADDR_MAX];
	int nbd_port;
	char attachment_id[UUID_STR_LEN];
	char psk[MSG_PSK_LEN]; /* a secret */
	/* the root disk's I/O limits (wire "disk_qos": {Cinder's key: integer}, absent =
	 * none): the flavor's quota:disk_* extra specs for a disk of the instance's own,
	 * the boot volume type's front-end QoS specs for a volume */
	struct disk_qos disk_qos;
};

/* Volume and snapshot states as storage agents report them. */
#define VOL_AVAILABLE "available"
#define VOL_DELETED "deleted"
#define VOL_ERROR "error"

/* Volume task actions (TASK_DELETE too) and snapshot task actions (TASK_CREATE and
 * TASK_DELETE). */
#define TASK_CREATE "create"
#define TASK_EXTEND "extend"
#define TASK_UPLOAD "upload" /* payload: msg_snapshot (Cinder's os-volume_upload_image) */

/* Payload of a volume create: an empty volume of size_gb, or a copy of a source
 * (source "volume", "snapshot" or "image" with its id) grown to size_gb. */
struct msg_vol_create {
	int size_gb;
	char source[16]; /* "" (empty), "volume", "snapshot", "image" */
	char source_id[UUID_STR_LEN];
	char *image_url;      /* source image: where the agent GETs its bytes */
	char *image_checksum; /* md5 hex of the image bytes */
	char *image_hash;     /* sha512 hex of the image bytes (Glance's os_hash_value) */
	char *image_format;   /* the image's disk_format: "qcow2" or "raw" */
	/* a copy of a volume Compute has plugged (source "volume"): the server and the
	 * volume's storage host; the task then goes to the server's compute host, which
	 * copies with the guest paused ("" otherwise) */
	char instance_id[UUID_STR_LEN];
	char storage_host[MSG_HOST_MAX];
};

/* Attachment states and actions (the resource id is the volume's). */
#define ATT_ATTACHED "attached"
#define ATT_DETACHED "detached"
#define TASK_ATTACH "attach"
#define TASK_DETACH "detach"

/* Payload of an attach or detach: the instance, and the storage agent holding the
 * volume (same machine: its pool file is opened directly). Across machines an attach
 * is two hops of one task (docs/internals.md "Attach across hosts"): first to the
 * storage host, which serves the volume over NBD with TLS-PSK (identity attachment_id,
 * key psk) and answers where (msg_result export_*), then to the compute host with
 * nbd_host and nbd_port set; a detach goes to the compute host, then to the storage
 * host, which stops the export. */
struct msg_attach {
	char instance_id[UUID_STR_LEN]; /* "" only in a detach sent to a storage host */
	char storage_host[MSG_HOST_MAX];
	/* attach: the volume's I/O limits, its type's front-end QoS specs (wire "qos",
	 * as spawn's "disk_qos") */
	struct disk_qos qos;
	char attachment_id[UUID_STR_LEN]; /* across hosts: the export's PSK identity */
	char psk[MSG_PSK_LEN];            /* across hosts: the export's key; a secret */
	char nbd_host[MSG_ADDR_MAX];      /* to the compute host: the export's address */
	int nbd_port;                     /* and port (0: the volume is on this machine) */
};

/* Payload of a volume extend. */
struct msg_vol_extend {
	int size_gb;
};

/* Payload of a snapshot create: the volume it copies. For a volume Compute has plugged
 * into a server, the task goes to the server's compute host instead of the storage
 * host, with instance_id set ("" otherwise) and storage_host the agent whose pool holds
 * the volume (same machine): the guest is paused while its file is copied. */
struct msg_snap_create {
	char volume_id[UUID_STR_LEN];
	char instance_id[UUID_STR_LEN];
	char storage_host[MSG_HOST_MAX];
};

/* Payload of an instance snapshot or a volume upload: copy the disk consistently and
 * PUT it, as disk_format, to upload_url (Image v2 "file" of image_id, a queued snapshot image) with
 * the agent key. */
struct msg_snapshot {
	char image_id[UUID_STR_LEN];
	char *upload_url;    /* owned */
	char disk_format[8]; /* what to upload: "qcow2" (also when "") or "raw" */
};

/* Backup task actions (TASK_CREATE, TASK_DELETE too; states VOL_*). A backup create of a
 * volume a server of the same machine has plugged goes first to that server's compute
 * host as TASK_BACKUP_COPY (payload msg_snap_create: the volume, the server, the storage
 * host): the point-in-time copy <pool>/copies/<backup id>.EXT (common/volfile.h), made
 * with the guest paused as a forced snapshot is; then to the storage host as TASK_CREATE
 * with copied set, which reads that copy (again, when re-sent after a crash). TASK_BACKUP_DROP
 * (no payload) to a storage host removes the copy of a backup whose create is over, done
 * or not (the scheduler sends
 * it for every copy a heartbeat lists without an open task). */
#define TASK_RESTORE "restore"
#define TASK_BACKUP_COPY "copy"
#define TASK_BACKUP_DROP "drop-copy"
#define MSG_BACKUP_TOKEN_MAX 256

/* Payload of a backup create, restore or delete (storage-agent/backup.c, docs/internals.md
 * "Volume backups"). The objects live in the Swift account at swift_url (".../v1/AUTH_<
 * project>"), container container, under "<backup id>/"; token is a Keystone token of
 * the backup's owner scoped to its project, minted for this task by nubo-api. */
struct msg_backup {
	char volume_id[UUID_STR_LEN];   /* create: the volume read; restore: the volume written */
	char parent_id[UUID_STR_LEN];   /* create: the incremental's parent ("" = full) */
	char snapshot_id[UUID_STR_LEN]; /* create: read this snapshot of the volume instead */
	char data_id[UUID_STR_LEN];   /* restore, delete: the objects are this backup's ("": own) */
	char container[MSG_HOST_MAX]; /* [A-Za-z0-9_.-] */
	int size_gb;                  /* restore: the target volume's size */
	int force;                    /* create: the volume is in use (read shared) */
	int copied; /* create: read copies/<backup id>, the compute host's point-in-time copy */
	char *swift_url; /* owned */
	char *token;     /* owned; a secret */
};

struct msg_task {
	char task_id[UUID_STR_LEN];
	char action[MSG_STATE_MAX]; /* valid for resource_kind (TASK_* for instances) */
	enum msg_res_kind resource_kind;
	char resource_id[UUID_STR_LEN];
	union { /* chosen by (resource_kind, action); wire: "payload". An action without
		   a payload leaves it zeroed. */
		struct msg_spawn spawn;             /* instance spawn and rebuild */
		struct msg_net_sync net_sync;       /* nethost net.sync */
		struct msg_vol_create vol_create;   /* volume create */
		struct msg_vol_extend vol_extend;   /* volume extend */
		struct msg_snap_create snap_create; /* snapshot create */
		struct msg_attach attach;           /* attachment attach and detach */
		struct msg_snapshot snapshot;       /* instance snapshot */
		struct msg_backup backup;           /* backup create, restore, delete */
	} p;
};

struct msg_result {
	char task_id[UUID_STR_LEN];
	enum msg_res_kind resource_kind;
	char resource_id[UUID_STR_LEN];
	int ok;                    /* 1 done, 0 failed */
	char state[MSG_STATE_MAX]; /* state after the task ("" = unknown), of resource_kind */
	char *error;               /* owned; why it failed, NULL when ok */
	int count;                 /* backups: objects the backup holds (0: not told) */
	/* a storage host's attach (an NBD export): where it serves the volume */
	char export_host[MSG_ADDR_MAX];
	int export_port;
};

struct msg_event {
	enum msg_res_kind resource_kind;
	char resource_id[UUID_STR_LEN];
	char state[MSG_STATE_MAX]; /* one of resource_kind's states */
	/* owned, may be NULL. Becomes the resource's fault when the state is an error
	 * one: for a crashed QEMU, its exit status or signal and the last console
	 * lines. */
	char *reason;
};

struct msg_console {
	char instance_id[UUID_STR_LEN];
	int reset;  /* 1: data replaces what the controller holds (agent restart, reboot) */
	char *data; /* owned; UTF-8-safe text (agents replace other bytes with '?') */
};

struct msg_ack {
	char task_id[UUID_STR_LEN];
};

struct msg {
	int version;
	enum msg_kind kind;
	char id[UUID_STR_LEN];
	char req[REQUEST_ID_LEN]; /* "req-<uuid>" or "" (envelope "req", optional) */
	union {
		struct msg_hello hello;
		struct msg_task task;
		struct msg_result result;
		struct msg_event event;
		struct msg_console console;
		struct msg_ack ack;
	} u;
};

/* Zeroes m, sets version and kind and a fresh message id. */
void msg_init(struct msg *m, enum msg_kind kind);
/* msg_init(m, MSG_TASK) with the task's id, action and resource copied in; the
 * payload stays zeroed (the caller fills it for actions that have one). */
void msg_task_init(struct msg *m, const char *task_id, const char *action, enum msg_res_kind kind,
                   const char *resource_id);
/* msg_init(m, MSG_ACK) for task_id. */
void msg_ack_init(struct msg *m, const char *task_id);
/* Frees what m owns (not m itself); m is zeroed. Accepts a zeroed msg. */
void msg_release(struct msg *m);
/* Returns the JSON text of m (owned), or NULL when a field breaks its bound or the
 * action is not one of the resource kind's. */
char *msg_encode(const struct msg *m);
/* Parses and validates buf. On success fills out (caller releases) and returns 0;
 * on failure returns -EINVAL (or -E2BIG) with a reason in err and out zeroed.
 * Unknown body members are ignored (a newer peer may add optional ones). */
int msg_decode(const void *buf, size_t len, struct msg *out, char *err, size_t errlen);
/* "hello", "task", ... for logs; "?" when out of range. */
const char *msg_kind_name(enum msg_kind k);

/* "compute", ...; "?" when out of range. */
const char *msg_agent_kind_name(enum msg_agent_kind k);
/* The agent kind named s, or -1. */
int msg_agent_kind_parse(const char *s);
/* "instance", ...; "?" when out of range. */
const char *msg_res_kind_name(enum msg_res_kind k);
/* The resource kind named s, or -1. */
int msg_res_kind_parse(const char *s);
/* The agent kind that runs resources of kind k. */
enum msg_agent_kind msg_res_kind_agent(enum msg_res_kind k);
/* 1 when s is a state of resource kind k, else 0. */
int msg_res_state_valid(enum msg_res_kind k, const char *s);
/* 1 when s is an action on resource kind k, else 0. */
int msg_res_action_valid(enum msg_res_kind k, const char *s);
/* Instance shortcuts: msg_res_state_valid / msg_res_action_valid for
 * MSG_RES_INSTANCE (VM_* states, TASK_* actions). */
int msg_state_valid(const char *s);
int msg_action_valid(const char *s);
/* Replaces bytes that are not printable ASCII, \n, \r or \t with '?', in place. */
void msg_sanitize_text(char *s, size_t len);

#endif

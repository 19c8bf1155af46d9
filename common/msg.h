/* The bus schema: every message between nubo-api, nubo-scheduler and the agents is a
 * versioned JSON envelope {"v":1,"kind":"...","id":"<uuid>","body":{...}} whose body
 * is one of the typed structs below. This header is the one definition of the schema;
 * msg_decode() validates presence, type, length and charset before anyone sees data. */
#ifndef NUBO_MSG_H
#define NUBO_MSG_H
#include <stddef.h>

#include "util.h"

#define MSG_VERSION 1
#define MSG_MAX_BYTES (512 * 1024) /* a larger frame is refused unread */
#define MSG_MAX_VMS 1024	   /* instances listed in one hello/heartbeat */
#define MSG_HOST_MAX 64
#define MSG_STATE_MAX 16
#define MSG_STR_MAX 4096	    /* default bound of a char * field */
#define MSG_USERDATA_MAX (96 * 1024) /* base64 of Nova's 64 KiB user-data limit */
#define MSG_CONSOLE_MAX (64 * 1024)

enum msg_kind {
	MSG_HELLO,     /* agent -> scheduler: registration: capacity and what runs */
	MSG_HEARTBEAT, /* agent -> scheduler: same body as hello, every few seconds */
	MSG_TASK,      /* scheduler -> agent: do one action on one instance */
	MSG_RESULT,    /* agent -> scheduler: outcome of a task */
	MSG_EVENT,     /* agent -> scheduler: instance state seen changing by itself */
	MSG_CONSOLE,   /* agent -> scheduler: new serial console output of an instance */
	MSG_WAKE,      /* api -> scheduler: new rows in the task outbox */
	MSG_KIND_COUNT
};

/* Instance power states as agents report them. */
#define VM_RUNNING "running"
#define VM_PAUSED "paused"
#define VM_SUSPENDED "suspended"
#define VM_SHUTOFF "shutoff"
#define VM_DELETED "deleted" /* gone from the host (after delete, or never there) */
#define VM_ERROR "error"

struct msg_vm {
	char id[UUID_STR_LEN];
	char state[MSG_STATE_MAX];
};

struct msg_hello { /* MSG_HELLO and MSG_HEARTBEAT */
	char host[MSG_HOST_MAX];
	char accel[8]; /* "kvm" or "tcg" */
	char az[MSG_HOST_MAX];
	int vcpus, ram_mb, disk_gb; /* physical capacity the host offers */
	int n_vms;
	struct msg_vm *vms; /* owned, n_vms entries */
};

/* Task actions, one word each. */
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

struct msg_task {
	char task_id[UUID_STR_LEN];
	char action[MSG_STATE_MAX];
	char instance_id[UUID_STR_LEN];
	/* spawn only; NULL/0 for other actions. All char * are owned. */
	char *name;
	char *hostname;
	int vcpus, ram_mb, disk_gb;
	char image_id[UUID_STR_LEN];
	char *image_url;      /* where the agent GETs the image bytes (libcurl) */
	char *image_checksum; /* md5 hex of the image bytes, as Glance reports */
	char *image_format;   /* "qcow2" or "raw" */
	char *key_name;
	char *public_key;
	char *user_data; /* base64, as the user sent it */
};

struct msg_result {
	char task_id[UUID_STR_LEN];
	char instance_id[UUID_STR_LEN];
	int ok;			 /* 1 done, 0 failed */
	char state[MSG_STATE_MAX]; /* power state after the task */
	char *error;		 /* owned; why it failed, NULL when ok */
};

struct msg_event {
	char instance_id[UUID_STR_LEN];
	char state[MSG_STATE_MAX];
	char *reason; /* owned, may be NULL */
};

struct msg_console {
	char instance_id[UUID_STR_LEN];
	int reset;  /* 1: data replaces what the controller holds (agent restart, reboot) */
	char *data; /* owned; UTF-8-safe text (agents replace other bytes with '?') */
};

struct msg {
	int version;
	enum msg_kind kind;
	char id[UUID_STR_LEN];
	union {
		struct msg_hello hello;
		struct msg_task task;
		struct msg_result result;
		struct msg_event event;
		struct msg_console console;
	} u;
};

/* Zeroes m, sets version and kind and a fresh message id. */
void msg_init(struct msg *m, enum msg_kind kind);
/* msg_init(m, MSG_TASK) with the task's id, action (TASK_*) and instance id copied in;
 * the spawn fields stay empty. */
void msg_task_init(struct msg *m, const char *task_id, const char *action,
		   const char *instance_id);
/* Frees what m owns (not m itself); m is zeroed. Accepts a zeroed msg. */
void msg_release(struct msg *m);
/* Returns the JSON text of m (owned), or NULL when a field breaks its bound. */
char *msg_encode(const struct msg *m);
/* Parses and validates buf. On success fills out (caller releases) and returns 0;
 * on failure returns -EINVAL (or -E2BIG) with a reason in err and out zeroed. */
int msg_decode(const void *buf, size_t len, struct msg *out, char *err, size_t errlen);
/* "hello", "task", ... for logs; "?" when out of range. */
const char *msg_kind_name(enum msg_kind k);
/* 1 when s is one of the VM_* states. */
int msg_state_valid(const char *s);
/* 1 when s is one of the TASK_* actions. */
int msg_action_valid(const char *s);
/* Replaces bytes that are not printable ASCII, \n, \r or \t with '?', in place. */
void msg_sanitize_text(char *s, size_t len);

#endif

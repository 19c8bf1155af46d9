/* Table-driven encoding and validation of bus messages: each kind is a list of field
 * descriptors (name, type, offset, bound), so adding a field is adding a row. */
#include "msg.h"

#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

enum field_type {
	F_UUID,	 /* char[37], must be a UUID (or empty when optional) */
	F_WORD,	 /* char[N], [a-z0-9_.-], bound N-1 */
	F_STR,	 /* char *, UTF-8, bound max */
	F_INT,	 /* int, 0..max */
	F_BOOL,	 /* int 0/1 */
	F_VMS,	 /* struct msg_vm array with its count at off2 */
};

struct field {
	const char *name;
	enum field_type type;
	size_t off;
	size_t max;
	int required;
	size_t off2;
};

#define U(kind, member) offsetof(struct msg, u.kind.member)
#define FIXED(kind, member) sizeof(((struct msg *)0)->u.kind.member)

static const struct field hello_fields[] = {
	{"host", F_WORD, U(hello, host), FIXED(hello, host), 1, 0},
	{"accel", F_WORD, U(hello, accel), FIXED(hello, accel), 1, 0},
	{"az", F_WORD, U(hello, az), FIXED(hello, az), 0, 0},
	{"vcpus", F_INT, U(hello, vcpus), 1 << 20, 1, 0},
	{"ram_mb", F_INT, U(hello, ram_mb), 1 << 30, 1, 0},
	{"disk_gb", F_INT, U(hello, disk_gb), 1 << 30, 1, 0},
	{"vms", F_VMS, U(hello, vms), MSG_MAX_VMS, 0, U(hello, n_vms)},
};

static const struct field task_fields[] = {
	{"task_id", F_UUID, U(task, task_id), 0, 1, 0},
	{"action", F_WORD, U(task, action), FIXED(task, action), 1, 0},
	{"instance_id", F_UUID, U(task, instance_id), 0, 1, 0},
	{"name", F_STR, U(task, name), 255, 0, 0},
	{"hostname", F_STR, U(task, hostname), 255, 0, 0},
	{"vcpus", F_INT, U(task, vcpus), 1024, 0, 0},
	{"ram_mb", F_INT, U(task, ram_mb), 1 << 24, 0, 0},
	{"disk_gb", F_INT, U(task, disk_gb), 1 << 20, 0, 0},
	{"image_id", F_UUID, U(task, image_id), 0, 0, 0},
	{"image_url", F_STR, U(task, image_url), 2048, 0, 0},
	{"image_checksum", F_STR, U(task, image_checksum), 128, 0, 0},
	{"image_format", F_STR, U(task, image_format), 16, 0, 0},
	{"key_name", F_STR, U(task, key_name), 255, 0, 0},
	{"public_key", F_STR, U(task, public_key), 16384, 0, 0},
	{"user_data", F_STR, U(task, user_data), MSG_USERDATA_MAX, 0, 0},
};

static const struct field result_fields[] = {
	{"task_id", F_UUID, U(result, task_id), 0, 1, 0},
	{"instance_id", F_UUID, U(result, instance_id), 0, 1, 0},
	{"ok", F_BOOL, U(result, ok), 1, 1, 0},
	{"state", F_WORD, U(result, state), FIXED(result, state), 0, 0},
	{"error", F_STR, U(result, error), MSG_STR_MAX, 0, 0},
};

static const struct field event_fields[] = {
	{"instance_id", F_UUID, U(event, instance_id), 0, 1, 0},
	{"state", F_WORD, U(event, state), FIXED(event, state), 1, 0},
	{"reason", F_STR, U(event, reason), MSG_STR_MAX, 0, 0},
};

static const struct field console_fields[] = {
	{"instance_id", F_UUID, U(console, instance_id), 0, 1, 0},
	{"reset", F_BOOL, U(console, reset), 1, 0, 0},
	{"data", F_STR, U(console, data), MSG_CONSOLE_MAX, 1, 0},
};

struct kind_desc {
	const char *name;
	const struct field *fields;
	size_t nfields;
};

#define KIND(n, f) {n, f, sizeof(f) / sizeof(f[0])}
static const struct kind_desc kinds[MSG_KIND_COUNT] = {
	[MSG_HELLO] = KIND("hello", hello_fields),
	[MSG_HEARTBEAT] = KIND("heartbeat", hello_fields),
	[MSG_TASK] = KIND("task", task_fields),
	[MSG_RESULT] = KIND("result", result_fields),
	[MSG_EVENT] = KIND("event", event_fields),
	[MSG_CONSOLE] = KIND("console", console_fields),
	[MSG_WAKE] = {"wake", NULL, 0},
};

static const char *const vm_states[] = {VM_RUNNING, VM_PAUSED, VM_SUSPENDED,
					VM_SHUTOFF, VM_DELETED, VM_ERROR};
static const char *const task_actions[] = {TASK_SPAWN,	 TASK_DELETE, TASK_START,  TASK_STOP,
					   TASK_REBOOT,	 TASK_HARD_REBOOT, TASK_PAUSE,
					   TASK_UNPAUSE, TASK_SUSPEND, TASK_RESUME};

static int in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

int msg_state_valid(const char *s)
{
	return in_list(s, vm_states, sizeof(vm_states) / sizeof(vm_states[0]));
}

int msg_action_valid(const char *s)
{
	return in_list(s, task_actions, sizeof(task_actions) / sizeof(task_actions[0]));
}

const char *msg_kind_name(enum msg_kind k)
{
	return (unsigned)k < MSG_KIND_COUNT ? kinds[k].name : "?";
}

void msg_init(struct msg *m, enum msg_kind kind)
{
	memset(m, 0, sizeof(*m));
	m->version = MSG_VERSION;
	m->kind = kind;
	uuid_generate_str(m->id);
}

void msg_task_init(struct msg *m, const char *task_id, const char *action,
		   const char *instance_id)
{
	msg_init(m, MSG_TASK);
	snprintf(m->u.task.task_id, sizeof(m->u.task.task_id), "%s", task_id);
	snprintf(m->u.task.action, sizeof(m->u.task.action), "%s", action);
	snprintf(m->u.task.instance_id, sizeof(m->u.task.instance_id), "%s", instance_id);
}

void msg_release(struct msg *m)
{
	if ((unsigned)m->kind < MSG_KIND_COUNT) {
		const struct kind_desc *k = &kinds[m->kind];
		for (size_t i = 0; i < k->nfields; i++) {
			const struct field *f = &k->fields[i];
			if (f->type == F_STR || f->type == F_VMS) {
				void **p = (void **)((char *)m + f->off);
				free(*p);
			}
		}
	}
	memset(m, 0, sizeof(*m));
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
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '_' || *s == '-' || *s == '.'))
			return 0;
	return 1;
}

char *msg_encode(const struct msg *m)
{
	if ((unsigned)m->kind >= MSG_KIND_COUNT)
		return NULL;
	const struct kind_desc *k = &kinds[m->kind];
	json_t *body = json_object();
	for (size_t i = 0; i < k->nfields; i++) {
		const struct field *f = &k->fields[i];
		const char *base = (const char *)m + f->off;
		json_t *v = NULL;
		switch (f->type) {
		case F_UUID:
		case F_WORD:
			if (*base)
				v = json_string(base);
			break;
		case F_STR: {
			const char *s = *(char *const *)base;
			if (s && strlen(s) > f->max)
				goto fail;
			if (s)
				v = json_string(s);
			if (s && !v) /* not UTF-8 */
				goto fail;
			break;
		}
		case F_INT:
			v = json_integer(*(const int *)base);
			break;
		case F_BOOL:
			v = json_boolean(*(const int *)base);
			break;
		case F_VMS: {
			const struct msg_vm *vms = *(struct msg_vm *const *)base;
			int n = *(const int *)((const char *)m + f->off2);
			v = json_array();
			for (int j = 0; j < n; j++)
				json_array_append_new(v, json_pack("{s:s,s:s}", "id", vms[j].id,
								   "state", vms[j].state));
			break;
		}
		}
		if (v)
			json_object_set_new(body, f->name, v);
	}
	json_t *env = json_pack("{s:i,s:s,s:s,s:o}", "v", MSG_VERSION, "kind", k->name, "id",
				m->id, "body", body);
	char *text = json_dumps(env, JSON_COMPACT);
	json_decref(env);
	return text;
fail:
	json_decref(body);
	return NULL;
}

static int decode_field(const struct field *f, json_t *v, struct msg *out, char *err,
			size_t errlen)
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
		if (strlen(s) >= f->max || !word_ok(s))
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
	case F_VMS: {
		if (!json_is_array(v) || json_array_size(v) > f->max)
			goto bad;
		size_t n = json_array_size(v);
		struct msg_vm *vms = xcalloc(n ? n : 1, sizeof(*vms));
		*(struct msg_vm **)base = vms;
		*(int *)((char *)out + f->off2) = (int)n;
		for (size_t j = 0; j < n; j++) {
			json_t *e = json_array_get(v, j);
			const char *id = json_string_value(json_object_get(e, "id"));
			const char *st = json_string_value(json_object_get(e, "state"));
			if (!id || !st || !uuid_is_valid(id) || !msg_state_valid(st))
				goto bad;
			strcpy(vms[j].id, id);
			strcpy(vms[j].state, st);
		}
		return 0;
	}
	}
bad:
	snprintf(err, errlen, "field \"%s\": wrong type, length or value", f->name);
	return -EINVAL;
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
	if (!json_is_integer(v) || json_integer_value(v) != MSG_VERSION) {
		snprintf(err, errlen, "unsupported envelope version");
		goto out;
	}
	if (!id || !uuid_is_valid(id) || !kind || !json_is_object(body)) {
		snprintf(err, errlen, "envelope needs kind, id and body");
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
	for (size_t i = 0; i < kinds[k].nfields; i++) {
		const struct field *f = &kinds[k].fields[i];
		json_t *fv = json_object_get(body, f->name);
		if (!fv || json_is_null(fv)) {
			if (f->required) {
				snprintf(err, errlen, "field \"%s\" is required", f->name);
				goto out;
			}
			continue;
		}
		if (decode_field(f, fv, out, err, errlen) < 0)
			goto out;
	}
	if (out->kind == MSG_TASK && !msg_action_valid(out->u.task.action)) {
		snprintf(err, errlen, "unknown action");
		goto out;
	}
	if (out->kind == MSG_EVENT && !msg_state_valid(out->u.event.state)) {
		snprintf(err, errlen, "unknown state");
		goto out;
	}
	rc = 0;
out:
	json_decref(env);
	if (rc < 0)
		msg_release(out);
	return rc;
}

/* spec.json in and out, through the bus schema's encoder and validator. */
#include "vm_spec.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "xalloc.h"

#define SPEC_MAX (256 * 1024)

int vm_spec_save(const char *path, const struct msg_task *t)
{
	struct msg m;
	msg_init(&m, MSG_TASK);
	m.u.task = *t; /* shallow: m is not released, t keeps ownership */
	char *text = msg_encode(&m);
	if (!text)
		return -EINVAL;
	json_t *env = json_loads(text, 0, NULL);
	explicit_bzero(text, strlen(text)); /* the root disk's NBD key (psk), if any */
	free(text);
	char *body = json_dumps(json_object_get(env, "body"), JSON_INDENT(1) | JSON_SORT_KEYS);
	json_decref(env);
	if (!body)
		return -EINVAL;
	int rc = fs_write_atomic(path, body, strlen(body), 0600);
	explicit_bzero(body, strlen(body));
	free(body);
	return rc;
}

int vm_spec_load(const char *path, struct msg *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t len = 0;
	char *text = fs_read(path, SPEC_MAX, &len);
	if (!text) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return e == ENOENT ? -ENOENT : -EINVAL;
	}
	json_t *body = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	explicit_bzero(text, len); /* the root disk's NBD key (psk), if any */
	free(text);
	if (!json_is_object(body)) {
		json_decref(body);
		snprintf(err, errlen, "%s: not a JSON object", path);
		return -EINVAL;
	}
	char id[UUID_STR_LEN];
	uuid_generate_str(id);
	json_t *envj = json_pack("{s:i,s:s,s:s,s:o}", "v", MSG_VERSION, "kind", "task", "id", id,
	                         "body", body);
	char *env = json_dumps(envj, JSON_COMPACT);
	json_decref(envj);
	char why[256];
	int rc = msg_decode(env, strlen(env), out, why, sizeof(why));
	explicit_bzero(env, strlen(env));
	free(env);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -EINVAL;
	}
	return 0;
}

/* spec.json: the body of an instance's spawn task, kept in its directory so a
 * restarted agent (or a later start) knows what the instance is. It is read back
 * through msg_decode(), so it obeys exactly the bus schema's bounds. */
#ifndef NUBO_VM_SPEC_H
#define NUBO_VM_SPEC_H
#include <stddef.h>

#include "msg.h"

/* Writes the task body t (a spawn) to path atomically, mode 0600 (it can hold
 * user_data). 0 or a negative errno. */
int vm_spec_save(const char *path, const struct msg_task *t);
/* Reads path into out (a MSG_TASK message; caller msg_release()s). 0, or -ENOENT
 * when missing, or -EINVAL with err when it does not validate. */
int vm_spec_load(const char *path, struct msg *out, char *err, size_t errlen);

#endif

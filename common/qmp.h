/* A minimal QMP client: connects to a QEMU monitor's unix socket, negotiates
 * capabilities, executes one command at a time with a deadline and returns its
 * "return" value or its "error"; asynchronous events in between are skipped. */
#ifndef NUBO_QMP_H
#define NUBO_QMP_H
#include <jansson.h>
#include <stddef.h>

struct qmp;

/* Connects to path, reads the greeting and runs qmp_capabilities, all within
 * timeout_ms. Returns an owned connection or NULL with err. */
struct qmp *qmp_open(const char *path, int timeout_ms, char *err, size_t errlen);
/* Executes cmd with args (borrowed, may be NULL). On success returns 0 and, when ret
 * is non-NULL, stores the owned "return" value there. Errors: -EIO for a QMP error
 * reply ("Class: desc" in err), -ETIMEDOUT, -ECONNRESET when QEMU closed the socket
 * (expected after "quit"), -EPROTO for a malformed reply. */
int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms, char *err,
             size_t errlen);
/* Like qmp_exec, and passes fd along with the command (SCM_RIGHTS), as "getfd" and
 * "add-fd" expect. fd stays owned by the caller (QEMU receives a duplicate). */
int qmp_exec_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret, int timeout_ms,
                char *err, size_t errlen);
void qmp_close(struct qmp *q);

/* One-shot: open, exec, close. Same returns as qmp_exec (plus qmp_open's failures as
 * -ECONNREFUSED). */
int qmp_call(const char *path, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
             char *err, size_t errlen);
/* query-status: copies QEMU's run state ("running", "paused", "shutdown", ...) into
 * status. 0 or a negative errno as qmp_call. */
int qmp_query_status(const char *path, char *status, size_t len, int timeout_ms, char *err,
                     size_t errlen);

#endif

/* Migration to/from a file over QMP with fd passing. */
#include "vm_save.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp.h"
#include "util.h"
#include "xalloc.h"

#define FD_NAME "nubo-state"
#define CMD_TIMEOUT_MS 5000
#define POLL_US 50000

/* Polls query-migrate until it completes, fails or the deadline passes. */
static int migrate_wait(struct qmp *q, int64_t deadline, char *err, size_t errlen)
{
	for (;;) {
		json_t *ret = NULL;
		int rc = qmp_exec(q, "query-migrate", NULL, &ret, CMD_TIMEOUT_MS, err, errlen);
		if (rc < 0)
			return rc;
		const char *st = json_string_value(json_object_get(ret, "status"));
		if (st && !strcmp(st, "completed")) {
			json_decref(ret);
			return 0;
		}
		if (st && (!strcmp(st, "failed") || !strcmp(st, "cancelled"))) {
			const char *why = json_string_value(json_object_get(ret, "error-desc"));
			snprintf(err, errlen, "migration %s: %s", st,
			         why ? why : "no reason given");
			json_decref(ret);
			return -EIO;
		}
		json_decref(ret);
		if (time_mono_ms() >= deadline) {
			snprintf(err, errlen, "migration did not finish in time");
			return -ETIMEDOUT;
		}
		usleep(POLL_US);
	}
}

/* Passes fd to QEMU under FD_NAME and runs cmd {"uri": "fd:FD_NAME"}. */
static int migrate_start(struct qmp *q, int fd, const char *cmd, char *err, size_t errlen)
{
	json_t *args = json_pack("{s:s}", "fdname", FD_NAME);
	int rc = qmp_exec_fd(q, "getfd", args, fd, NULL, CMD_TIMEOUT_MS, err, errlen);
	json_decref(args);
	if (rc < 0)
		return rc;
	args = json_pack("{s:s}", "uri", "fd:" FD_NAME);
	rc = qmp_exec(q, cmd, args, NULL, CMD_TIMEOUT_MS, err, errlen);
	json_decref(args);
	return rc;
}

int vm_save_to_file(const char *qmp_path, const char *state_path, int timeout_ms, char *err,
                    size_t errlen)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	char *tmp = xasprintf("%s.tmp", state_path);
	int fd = -1, rc;
	char why[256];
	struct qmp *q = qmp_open(qmp_path, CMD_TIMEOUT_MS, err, errlen);
	if (!q) {
		rc = -ECONNREFUSED;
		goto out;
	}
	rc = qmp_exec(q, "stop", NULL, NULL, CMD_TIMEOUT_MS, err, errlen);
	if (rc < 0)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = migrate_start(q, fd, "migrate", err, errlen);
	if (rc == 0)
		rc = migrate_wait(q, deadline, err, errlen);
	if (rc < 0) {
		qmp_exec(q, "migrate_cancel", NULL, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
		goto out;
	}
	/* QEMU wrote through its own copy of the descriptor; make the bytes durable
	 * before the file takes its final name */
	if (fsync(fd) < 0 || rename(tmp, state_path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", state_path, strerror(errno));
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	qmp_close(q);
	free(tmp);
	return rc;
}

int vm_restore_from_file(const char *qmp_path, const char *state_path, int timeout_ms, char *err,
                         size_t errlen)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	int fd = -1, rc;
	struct qmp *q = qmp_open(qmp_path, CMD_TIMEOUT_MS, err, errlen);
	if (!q) {
		rc = -ECONNREFUSED;
		goto out;
	}
	fd = open(state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", state_path, strerror(errno));
		goto out;
	}
	rc = migrate_start(q, fd, "migrate-incoming", err, errlen);
	if (rc == 0)
		rc = migrate_wait(q, deadline, err, errlen);
	/* the guest was stopped when saved, so it comes back paused */
	if (rc == 0)
		rc = qmp_exec(q, "cont", NULL, NULL, CMD_TIMEOUT_MS, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	qmp_close(q);
	return rc;
}

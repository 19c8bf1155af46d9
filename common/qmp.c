/* QMP over a unix stream socket: newline-delimited JSON, one command in flight. */
#include "qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"
#include "xalloc.h"

#define QMP_LINE_MAX (1 << 20) /* a reply larger than this is refused */

struct qmp {
	int fd;
	char *buf; /* received bytes not yet consumed */
	size_t len, cap;
	unsigned long next_id;
};

/* Waits for q's socket to be ready for events (POLLIN or POLLOUT) until the deadline.
 * 1 when ready, 0 when woken without it (interrupted: try again), or -ETIMEDOUT. */
static int qmp_wait(struct qmp *q, short events, int64_t deadline)
{
	int64_t left = deadline - time_mono_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	struct pollfd p = {.fd = q->fd, .events = events};
	return poll(&p, 1, (int)left) > 0;
}

/* Sends all of s before the deadline; fd (when >= 0) rides with the first byte.
 * 0 or a negative errno. */
static int qmp_write(struct qmp *q, const char *s, size_t n, int fd, int64_t deadline)
{
	while (n) {
		int ready = qmp_wait(q, POLLOUT, deadline);
		if (ready < 0)
			return ready;
		if (!ready)
			continue;
		ssize_t w;
		if (fd >= 0) {
			union {
				struct cmsghdr h;
				char buf[CMSG_SPACE(sizeof(int))];
			} ctl;
			struct iovec iov = {.iov_base = (void *)s, .iov_len = n};
			struct msghdr mh = {.msg_iov = &iov,
			                    .msg_iovlen = 1,
			                    .msg_control = ctl.buf,
			                    .msg_controllen = sizeof(ctl.buf)};
			memset(&ctl, 0, sizeof(ctl));
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof(int));
			w = sendmsg(q->fd, &mh, MSG_NOSIGNAL);
			if (w > 0)
				fd = -1; /* delivered with this chunk */
		} else {
			w = send(q->fd, s, n, MSG_NOSIGNAL);
		}
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return errno == EPIPE ? -ECONNRESET : -errno;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one JSON line (owned, parsed) before the deadline. NULL with *rc set. */
static json_t *qmp_read(struct qmp *q, int64_t deadline, int *rc)
{
	for (;;) {
		char *nl = q->len ? memchr(q->buf, '\n', q->len) : NULL;
		if (nl) {
			size_t linelen = (size_t)(nl - q->buf);
			json_error_t jerr;
			json_t *v = json_loadb(q->buf, linelen, 0, &jerr);
			memmove(q->buf, nl + 1, q->len - linelen - 1);
			q->len -= linelen + 1;
			if (!v || !json_is_object(v)) {
				json_decref(v);
				*rc = -EPROTO;
				return NULL;
			}
			return v;
		}
		if (q->len >= QMP_LINE_MAX) {
			*rc = -EPROTO;
			return NULL;
		}
		int ready = qmp_wait(q, POLLIN, deadline);
		if (ready < 0) {
			*rc = ready;
			return NULL;
		}
		if (!ready)
			continue;
		if (q->cap - q->len < 4096) {
			q->cap = q->cap ? q->cap * 2 : 8192;
			q->buf = xrealloc(q->buf, q->cap);
		}
		ssize_t n = recv(q->fd, q->buf + q->len, q->cap - q->len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			*rc = -errno;
			return NULL;
		}
		if (n == 0) {
			*rc = -ECONNRESET;
			return NULL;
		}
		q->len += (size_t)n;
	}
}

static const char *errno_text(int rc)
{
	switch (rc) {
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNRESET:
		return "QEMU closed the monitor";
	case -EPROTO:
		return "malformed reply";
	default:
		return strerror(-rc);
	}
}

int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms, char *err,
             size_t errlen)
{
	return qmp_exec_fd(q, cmd, args, -1, ret, timeout_ms, err, errlen);
}

int qmp_exec_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret, int timeout_ms,
                char *err, size_t errlen)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	char id[32];
	int rc = 0;
	json_t *req = NULL, *reply = NULL;
	char *text = NULL;

	if (ret)
		*ret = NULL;
	snprintf(id, sizeof(id), "nubo-%lu", q->next_id++);
	req = json_pack("{s:s,s:s}", "execute", cmd, "id", id);
	if (args)
		json_object_set(req, "arguments", args);
	text = json_dumps(req, JSON_COMPACT);
	if (!text) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: cannot encode arguments", cmd);
		goto out;
	}
	size_t tl = strlen(text);
	text = xrealloc(text, tl + 2);
	text[tl] = '\n';
	text[tl + 1] = '\0';
	rc = qmp_write(q, text, tl + 1, fd, deadline);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", cmd, errno_text(rc));
		goto out;
	}
	for (;;) {
		reply = qmp_read(q, deadline, &rc);
		if (!reply) {
			snprintf(err, errlen, "%s: %s", cmd, errno_text(rc));
			goto out;
		}
		const char *rid = json_string_value(json_object_get(reply, "id"));
		if (json_object_get(reply, "event") || !rid || strcmp(rid, id)) {
			json_decref(reply); /* an event, or a late reply to an earlier command */
			reply = NULL;
			continue;
		}
		break;
	}
	json_t *e = json_object_get(reply, "error");
	if (e) {
		snprintf(err, errlen, "%s: %s: %s", cmd,
		         json_string_value(json_object_get(e, "class")) ?: "Error",
		         json_string_value(json_object_get(e, "desc")) ?: "(no description)");
		rc = -EIO;
		goto out;
	}
	json_t *r = json_object_get(reply, "return");
	if (!r) {
		rc = -EPROTO;
		snprintf(err, errlen, "%s: reply without return", cmd);
		goto out;
	}
	if (ret)
		*ret = json_incref(r);
	rc = 0;
out:
	free(text);
	json_decref(req);
	json_decref(reply);
	return rc;
}

struct qmp *qmp_open(const char *path, int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct qmp *q = NULL;
	json_t *greeting = NULL;
	int64_t deadline = time_mono_ms() + timeout_ms;
	int rc = 0;

	if (strlcpy_checked(sa.sun_path, path, sizeof(sa.sun_path)) < 0) {
		snprintf(err, errlen, "QMP socket path too long");
		goto fail;
	}
	q = xcalloc(1, sizeof(*q));
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (q->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		goto fail;
	}
	/* a unix connect completes (or fails) at once; the deadline covers the reads */
	if (connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		snprintf(err, errlen, "connect %s: %s", path, strerror(errno));
		goto fail;
	}
	fcntl(q->fd, F_SETFL, fcntl(q->fd, F_GETFL) | O_NONBLOCK);
	greeting = qmp_read(q, deadline, &rc);
	if (!greeting || !json_object_get(greeting, "QMP")) {
		snprintf(err, errlen, "QMP greeting: %s", greeting ? "unexpected" : errno_text(rc));
		goto fail;
	}
	int64_t left = deadline - time_mono_ms();
	if (qmp_exec(q, "qmp_capabilities", NULL, NULL, left > 0 ? (int)left : 1, err, errlen) < 0)
		goto fail;
	json_decref(greeting);
	return q;
fail:
	json_decref(greeting);
	qmp_close(q);
	return NULL;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	if (q->fd >= 0)
		close(q->fd);
	free(q->buf);
	free(q);
}

int qmp_call(const char *path, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
             char *err, size_t errlen)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	struct qmp *q = qmp_open(path, timeout_ms, err, errlen);
	if (!q)
		return -ECONNREFUSED;
	int64_t left = deadline - time_mono_ms();
	int rc = qmp_exec(q, cmd, args, ret, left > 0 ? (int)left : 1, err, errlen);
	qmp_close(q);
	return rc;
}

int qmp_query_status(const char *path, char *status, size_t len, int timeout_ms, char *err,
                     size_t errlen)
{
	json_t *ret = NULL;
	int rc = qmp_call(path, "query-status", NULL, &ret, timeout_ms, err, errlen);
	if (rc < 0)
		return rc;
	const char *s = json_string_value(json_object_get(ret, "status"));
	if (!s || strlcpy_checked(status, s, len) < 0) {
		snprintf(err, errlen, "query-status: no status in reply");
		rc = -EPROTO;
	}
	json_decref(ret);
	return rc;
}

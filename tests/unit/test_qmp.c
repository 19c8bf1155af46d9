/* The QMP client against a scripted fake monitor on a unix socket: greeting and
 * capabilities, events skipped before a reply, error replies, a silent monitor
 * (timeout), a monitor that closes (as after "quit"), and a descriptor passed with
 * a command (getfd). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmp.h"

/* What the fake monitor does after the handshake, for each command line it reads. */
enum script { S_STATUS_WITH_EVENT, S_ERROR, S_SILENT, S_CLOSE, S_BAD_GREETING, S_GETFD };

struct fake {
	char path[108];
	int lfd;
	enum script script;
	pthread_t th;
	char fd_content[32]; /* S_GETFD: what the passed descriptor's file held */
};

static void say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Reads one line and returns the value of its "id" (a static buffer). */
static const char *read_id(int fd)
{
	static char line[4096], id[64];
	size_t n = 0;
	while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
		n++;
	line[n] = '\0';
	const char *p = strstr(line, "\"id\":\"");
	id[0] = '\0';
	if (p)
		sscanf(p + 6, "%63[^\"]", id);
	return id;
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->lfd, NULL, NULL);
	char buf[512];
	if (fd < 0)
		return NULL;
	if (f->script == S_BAD_GREETING) {
		say(fd, "{\"hello\": 1}\r\n");
		goto done;
	}
	say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": \"%s\"}\r\n", read_id(fd));
	say(fd, buf);
	if (f->script == S_GETFD) {
		/* the command and the descriptor arrive together (SCM_RIGHTS) */
		char line[512] = "", cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {.iov_base = line, .iov_len = sizeof(line) - 1};
		struct msghdr mh = {.msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = cbuf,
		                    .msg_controllen = sizeof(cbuf)};
		ssize_t n = recvmsg(fd, &mh, 0);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (n > 0 && c && c->cmsg_type == SCM_RIGHTS) {
			int passed;
			memcpy(&passed, CMSG_DATA(c), sizeof(int));
			ssize_t r = pread(passed, f->fd_content, sizeof(f->fd_content) - 1, 0);
			if (r > 0)
				f->fd_content[r] = '\0';
			close(passed);
		}
		char id[64] = "";
		const char *p = strstr(line, "\"id\":\"");
		if (p)
			sscanf(p + 6, "%63[^\"]", id);
		snprintf(buf, sizeof(buf), "{\"return\": {}, \"id\": \"%s\"}\r\n", id);
		say(fd, buf);
		goto done;
	}
	const char *id = read_id(fd);
	switch (f->script) {
	case S_STATUS_WITH_EVENT:
		say(fd, "{\"timestamp\": {\"seconds\": 1}, \"event\": \"RESUME\"}\r\n");
		say(fd, "{\"return\": {}, \"id\": \"stale\"}\r\n");
		snprintf(buf, sizeof(buf),
		         "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": "
		         "\"%s\"}\r\n",
		         id);
		/* split across writes: the client must reassemble lines */
		say(fd, "{\"return\": ");
		usleep(20000);
		say(fd, buf + strlen("{\"return\": "));
		break;
	case S_ERROR:
		snprintf(
		    buf, sizeof(buf),
		    "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command nope has "
		    "not been found\"}, \"id\": \"%s\"}\r\n",
		    id);
		say(fd, buf);
		break;
	case S_SILENT:
		usleep(400000);
		break;
	default:
		break;
	}
done:
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, enum script s)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "/tmp/nubo-test-qmp.%d.sock", (int)getpid());
	unlink(f->path);
	f->script = s;
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->th, NULL);
	close(f->lfd);
	unlink(f->path);
}

static void status_skips_events(void **state)
{
	struct fake f;
	char status[32], err[256];
	fake_start(&f, S_STATUS_WITH_EVENT);
	assert_int_equal(qmp_query_status(f.path, status, sizeof(status), 2000, err, sizeof(err)),
	                 0);
	assert_string_equal(status, "paused");
	fake_stop(&f);
}

static void error_reply(void **state)
{
	struct fake f;
	char err[256];
	fake_start(&f, S_ERROR);
	assert_int_equal(qmp_call(f.path, "nope", NULL, NULL, 2000, err, sizeof(err)), -EIO);
	assert_string_equal(err, "nope: CommandNotFound: The command nope has not been found");
	fake_stop(&f);
}

static void silent_monitor_times_out(void **state)
{
	struct fake f;
	char err[256];
	fake_start(&f, S_SILENT);
	assert_int_equal(qmp_call(f.path, "query-status", NULL, NULL, 200, err, sizeof(err)),
	                 -ETIMEDOUT);
	assert_non_null(strstr(err, "timed out"));
	fake_stop(&f);
}

static void closed_monitor(void **state)
{
	struct fake f;
	char err[256];
	fake_start(&f, S_CLOSE);
	assert_int_equal(qmp_call(f.path, "quit", NULL, NULL, 2000, err, sizeof(err)), -ECONNRESET);
	fake_stop(&f);
}

static void bad_greeting_and_no_socket(void **state)
{
	struct fake f;
	char err[256];
	fake_start(&f, S_BAD_GREETING);
	assert_null(qmp_open(f.path, 1000, err, sizeof(err)));
	assert_non_null(strstr(err, "greeting"));
	fake_stop(&f);
	assert_null(qmp_open("/tmp/nubo-test-no-such.sock", 1000, err, sizeof(err)));
	assert_int_equal(
	    qmp_call("/tmp/nubo-test-no-such.sock", "quit", NULL, NULL, 100, err, sizeof(err)),
	    -ECONNREFUSED);
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	assert_null(qmp_open(longpath, 100, err, sizeof(err)));
	qmp_close(NULL);
}

static void passes_a_descriptor(void **state)
{
	struct fake f;
	char err[256], path[] = "/tmp/nubo-test-qmpfd.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "state-bytes", 11), 11);
	fake_start(&f, S_GETFD);
	struct qmp *q = qmp_open(f.path, 2000, err, sizeof(err));
	assert_non_null(q);
	json_t *args = json_pack("{s:s}", "fdname", "x");
	assert_int_equal(qmp_exec_fd(q, "getfd", args, fd, NULL, 2000, err, sizeof(err)), 0);
	json_decref(args);
	qmp_close(q);
	fake_stop(&f);
	assert_string_equal(f.fd_content, "state-bytes");
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_skips_events),        cmocka_unit_test(error_reply),
	    cmocka_unit_test(silent_monitor_times_out),   cmocka_unit_test(closed_monitor),
	    cmocka_unit_test(bad_greeting_and_no_socket), cmocka_unit_test(passes_a_descriptor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

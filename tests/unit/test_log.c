/* log_msg (common/log.c) formats each line on the stack, or on the heap past 2 KiB, and
 * writes it in one write(2): lines come out whole with their prefix and request ids, a
 * long one uncut, lines of concurrent threads unmixed, below the level nothing, and errno
 * is kept for the caller. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "common/log.h"

static char path[64];
static int saved_fd;

/* stderr into a fresh file opened for appending (as the supervisor opens the log) */
static int to_file(void **state)
{
	snprintf(path, sizeof(path), "/tmp/test_log.XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	fd = open(path, O_WRONLY | O_APPEND | O_TRUNC);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_fd = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

static int back(void **state)
{
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	unlink(path);
	return 0;
}

static char *slurp(void)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_lines(void **state)
{
	log_init("nubo-test", LOG_LVL_INFO);
	log_debug("not shown %d", 1);
	errno = EAGAIN;
	log_info("plain %s %d", "line", 7);
	assert_int_equal(errno, EAGAIN);
	log_set_requests("req-a", "req-b");
	log_warn("with ids");
	log_set_request(NULL);
	char big[5000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_err("long %s end", big);
	char *out = slurp();
	assert_null(strstr(out, "not shown"));
	char *l1 = strstr(out, " nubo-test INFO: plain line 7\n");
	assert_non_null(l1);
	assert_non_null(strstr(out, " nubo-test WARN: [req-a req-b] with ids\n"));
	char *l3 = strstr(out, " nubo-test ERROR: long x");
	assert_non_null(l3);
	char *nl = strchr(l3, '\n');
	assert_non_null(nl);
	assert_int_equal(nl - l3, (long)strlen(" nubo-test ERROR: long ") + 4999 + 4);
	assert_memory_equal(nl - 4, " end", 4);
	/* each line starts with the time: 2026-12-08T00:00:00.000Z */
	assert_int_equal(out[4], '-');
	assert_int_equal(out[23], 'Z');
}

static void *writer(void *arg)
{
	char msg[300];
	memset(msg, 'a' + (int)(intptr_t)arg, sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	for (int i = 0; i < 500; i++)
		log_info("%s", msg);
	return NULL;
}

/* 4 threads x 500 lines at once: every line whole, of one letter */
static void test_threads_unmixed(void **state)
{
	pthread_t t[4];
	for (intptr_t i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	char *out = slurp(), *save = NULL;
	int lines = 0;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *m = strstr(l, " INFO: ");
		if (!m || strlen(m + 7) != 299)
			continue;
		m += 7;
		for (int k = 0; k < 299; k++)
			assert_int_equal(m[k], m[0]);
		lines++;
	}
	assert_int_equal(lines, 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_lines, to_file, back),
	    cmocka_unit_test_setup_teardown(test_threads_unmixed, to_file, back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

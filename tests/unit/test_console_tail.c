/* Console tails: first read from the end window with reset, then only new bytes,
 * sanitized; chunks bounded; a backlog larger than the controller keeps skipped with
 * reset; truncation followed; a missing log is quiet. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "compute-agent/console_tail.h"

static char path[64];

static void append(const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static int setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/nubo-test-console.%d", (int)getpid());
	unlink(path);
	return 0;
}

static int teardown(void **state)
{
	unlink(path);
	return 0;
}

static void follows_new_output(void **state)
{
	struct console_tail t;
	char buf[128];
	int reset = -1;
	console_tail_init(&t);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 0); /* no file yet */
	append("boot\n", 5);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 5);
	assert_string_equal(buf, "boot\n");
	assert_int_equal(reset, 1); /* the first chunk replaces what the controller holds */
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 0);
	append("a\x1b[0m\xc3\xa9\0z\r\n", 11);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 11);
	assert_int_equal(reset, 0);
	assert_memory_equal(buf, "a?[0m???z\r\n", 12);
}

static void chunks_are_bounded(void **state)
{
	struct console_tail t;
	char buf[128];
	int reset;
	console_tail_init(&t);
	append("0123456789", 10);
	assert_int_equal(console_tail_read(&t, path, buf, 4, &reset), 4);
	assert_string_equal(buf, "0123");
	assert_int_equal(reset, 1);
	assert_int_equal(console_tail_read(&t, path, buf, 4, &reset), 4);
	assert_string_equal(buf, "4567");
	assert_int_equal(reset, 0);
	assert_int_equal(console_tail_read(&t, path, buf, 4, &reset), 2);
	assert_string_equal(buf, "89");
}

static void starts_near_the_end(void **state)
{
	size_t big = CONSOLE_TAIL_KEEP + 1000;
	char *data = malloc(big);
	memset(data, 'x', big);
	memcpy(data + 1000, "KEEP", 4);
	append(data, big);
	free(data);
	struct console_tail t;
	char *buf = malloc(CONSOLE_TAIL_KEEP + 1);
	int reset;
	console_tail_init(&t);
	ssize_t n = console_tail_read(&t, path, buf, CONSOLE_TAIL_KEEP, &reset);
	assert_int_equal(n, CONSOLE_TAIL_KEEP);
	assert_memory_equal(buf, "KEEP", 4);
	assert_int_equal(reset, 1);
	free(buf);
}

static void skips_a_backlog(void **state)
{
	struct console_tail t;
	char *buf = malloc(CONSOLE_TAIL_KEEP + 1);
	int reset;
	console_tail_init(&t);
	append("old\n", 4);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 4);
	assert_int_equal(reset, 1);
	/* the guest wrote more than the controller keeps since the last read */
	size_t big = CONSOLE_TAIL_KEEP + 10;
	char *data = malloc(big);
	memset(data, 'y', big);
	memcpy(data + 10, "TAIL", 4);
	append(data, big);
	free(data);
	assert_int_equal(console_tail_read(&t, path, buf, CONSOLE_TAIL_KEEP, &reset),
	                 CONSOLE_TAIL_KEEP);
	assert_int_equal(reset, 1);
	assert_memory_equal(buf, "TAIL", 4);
	assert_int_equal(console_tail_read(&t, path, buf, CONSOLE_TAIL_KEEP, &reset), 0);
	free(buf);
}

static void follows_truncation(void **state)
{
	struct console_tail t;
	char buf[128];
	int reset;
	console_tail_init(&t);
	append("first line\n", 11);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 11);
	assert_int_equal(truncate(path, 0), 0);
	append("new\n", 4);
	assert_int_equal(console_tail_read(&t, path, buf, 100, &reset), 4);
	assert_string_equal(buf, "new\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(follows_new_output, setup, teardown),
	    cmocka_unit_test_setup_teardown(chunks_are_bounded, setup, teardown),
	    cmocka_unit_test_setup_teardown(starts_near_the_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(skips_a_backlog, setup, teardown),
	    cmocka_unit_test_setup_teardown(follows_truncation, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

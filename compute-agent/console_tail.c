/* Incremental reads of console logs. */
#include "console_tail.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"

void console_tail_init(struct console_tail *t)
{
	memset(t, 0, sizeof(*t));
	t->reset = 1;
}

ssize_t console_tail_read(struct console_tail *t, const char *path, char *buf, size_t max,
                          int *reset)
{
	struct stat st;
	ssize_t n = 0;
	*reset = 0;
	buf[0] = '\0';
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st) < 0) {
		n = -errno;
		goto out;
	}
	if (st.st_size < t->off)
		t->off = 0; /* truncated behind our back */
	if (st.st_size > CONSOLE_TAIL_LIMIT && truncate(path, 0) == 0) {
		/* a guest writing faster than we send: start over rather than fill the disk */
		t->off = 0;
		t->reset = 1;
		goto out;
	}
	if (st.st_size - t->off > CONSOLE_TAIL_KEEP) {
		/* more unsent than the controller keeps: send only the last window */
		t->off = st.st_size - CONSOLE_TAIL_KEEP;
		t->reset = 1;
	}
	if (st.st_size == t->off) {
		if (st.st_size > CONSOLE_TAIL_ROTATE && truncate(path, 0) == 0)
			t->off = 0;
		goto out;
	}
	do
		n = pread(fd, buf, max, t->off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		n = -errno;
		goto out;
	}
	buf[n] = '\0';
	msg_sanitize_text(buf, (size_t)n);
	t->off += n;
	if (n > 0) {
		*reset = t->reset;
		t->reset = 0;
	}
out:
	close(fd);
	return n;
}

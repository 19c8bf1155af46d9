/* Following an instance's console.log: each read returns the bytes appended since the
 * last one, made safe for the bus (msg_sanitize_text) and bounded per message. The
 * first read after the agent starts begins at most CONSOLE_TAIL_KEEP bytes before the
 * end and is flagged reset, so the controller replaces what it holds; so does a read
 * that finds more than that unsent (a guest writing faster than the agent sends). */
#ifndef NUBO_CONSOLE_TAIL_H
#define NUBO_CONSOLE_TAIL_H
#include <stddef.h>
#include <sys/types.h>

#define CONSOLE_TAIL_KEEP (256 * 1024)        /* what the controller keeps */
#define CONSOLE_TAIL_ROTATE (8 * 1024 * 1024) /* log truncated once sent and this big */
#define CONSOLE_TAIL_LIMIT (32 * 1024 * 1024) /* log truncated even if not all sent */

struct console_tail {
	off_t off; /* next byte to send */
	int reset; /* the next chunk is flagged reset */
};

/* A new tail: the first chunk it returns is flagged reset. */
void console_tail_init(struct console_tail *t);
/* Reads up to max bytes (max < buflen) of new output of path into buf, sanitized and
 * NUL-terminated. Returns the byte count (0: nothing new or no file) and sets *reset
 * for the chunk. A log that shrank (truncated) is followed from its start again. Once
 * everything is sent and the file exceeds CONSOLE_TAIL_ROTATE it is truncated
 * (QEMU appends, so it simply continues at the new end). Returns a negative errno on
 * a read error. */
ssize_t console_tail_read(struct console_tail *t, const char *path, char *buf, size_t max,
                          int *reset);

#endif

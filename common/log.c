/* One-line, timestamped log records on stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_daemon = "nubo";
static enum log_level log_min = LOG_LVL_INFO;
static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static __thread const char *log_request, *log_global;

void log_set_request(const char *id)
{
	log_set_requests(id, NULL);
}

void log_set_requests(const char *id, const char *global)
{
	log_request = id;
	log_global = id ? global : NULL;
}

void log_init(const char *daemon, enum log_level min)
{
	log_daemon = daemon;
	log_min = min;
	setvbuf(stderr, NULL, _IOLBF, 0);
}

/* The line is formatted on the stack (on the heap past 2 KiB) and written with one
 * write(2), without a lock: a write of a line to the log (a file opened for appending,
 * or a pipe for a line up to PIPE_BUF) lands whole, so the lines of concurrent threads
 * never mix. Before, every line took a process-wide mutex and stdio's lock around three
 * formatted writes into stderr's buffer, and nubo-objproxy's threads waited there for
 * each other's access lines. */
void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < log_min)
		return;
	int saved = errno;
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char stack[2048], *line = stack;
	const size_t head_max = 512; /* the time, daemon, level and request ids */
	int h = snprintf(stack, head_max,
	                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
	                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	                 ts.tv_nsec / 1000000, log_daemon, level_names[lvl]);
	if (h >= 0 && (size_t)h < head_max && log_request)
		h += log_global ? snprintf(stack + h, head_max - (size_t)h, "[%s %s] ", log_request,
		                           log_global)
		                : snprintf(stack + h, head_max - (size_t)h, "[%s] ", log_request);
	if (h < 0 || (size_t)h >= head_max)
		h = (int)head_max - 1;
	/* the message after it, and room for the newline */
	size_t room = sizeof(stack) - (size_t)h - 1;
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(stack + h, room, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= room) { /* longer: on the heap, or cut when there is no memory */
		char *big = malloc((size_t)h + (size_t)m + 2);
		if (big) {
			memcpy(big, stack, (size_t)h);
			va_start(ap, fmt);
			vsnprintf(big + h, (size_t)m + 1, fmt, ap);
			va_end(ap);
			line = big;
		} else
			m = (int)room - 1;
	}
	size_t len = (size_t)h + (size_t)m + 1;
	line[len - 1] = '\n';
	for (size_t at = 0; at < len;) {
		ssize_t k = write(STDERR_FILENO, line + at, len - at);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		at += (size_t)k;
	}
	if (line != stack)
		free(line);
	errno = saved;
}

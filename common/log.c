/* One-line, timestamped log records on stderr. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *log_daemon = "nubo";
static enum log_level log_min = LOG_LVL_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
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

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl < log_min)
		return;
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s: ", tm.tm_year + 1900,
	        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	        log_daemon, level_names[lvl]);
	if (log_request && log_global)
		fprintf(stderr, "[%s %s] ", log_request, log_global);
	else if (log_request)
		fprintf(stderr, "[%s] ", log_request);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}

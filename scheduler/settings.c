/* The table of every nubo.conf key nubo-scheduler reads: section, key, type,
 * default and bounds. Adding a setting is adding a row. */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setting_type {
	SET_STR,       /* any non-empty string */
	SET_ZMQ,       /* a ZeroMQ endpoint: tcp:// ipc:// inproc:// */
	SET_ZMQ_LIST,  /* 1 to SETTINGS_BINDS_MAX of them, comma-separated */
	SET_ZMQ_LOCAL, /* the same, but tcp:// only on a loopback address */
	SET_HTTP,      /* an http:// or https:// base URL */
	SET_KEY,       /* empty, or a Z85 CURVE key (40 characters) */
	SET_LONG,
	SET_DOUBLE,
};

struct setting {
	const char *section, *key;
	enum setting_type type;
	size_t off;
	const char *def;
	double min, max; /* numbers only, inclusive; min is exclusive for ratios (> 0) */
};

#define OFF(m) offsetof(struct settings, m)
static const struct setting settings_table[] = {
    {"database", "conninfo", SET_STR, OFF(conninfo),
     "host=/var/lib/nubo/pgrun port=5432 dbname=nubo user=nubo", 0, 0},
    {"bus", "scheduler_bind", SET_ZMQ_LIST, OFF(scheduler_bind), "tcp://0.0.0.0:5570", 0, 0},
    {"bus", "wake_bind", SET_ZMQ_LOCAL, OFF(wake_bind), "tcp://127.0.0.1:5571", 0, 0},
    {"api", "internal_url", SET_HTTP, OFF(internal_url), "http://127.0.0.1:8080", 0, 0},
    {"bus", "curve_server_secret", SET_KEY, OFF(curve_secret), "", 0, 0},
    {"scheduler", "cpu_allocation_ratio", SET_DOUBLE, OFF(cpu_ratio), "16.0", 0, 1000},
    {"scheduler", "ram_allocation_ratio", SET_DOUBLE, OFF(ram_ratio), "1.5", 0, 1000},
    {"scheduler", "disk_allocation_ratio", SET_DOUBLE, OFF(disk_ratio), "1.0", 0, 1000},
    {"scheduler", "agent_timeout", SET_LONG, OFF(agent_timeout), "30", 1, 86400},
    {"scheduler", "task_retry", SET_LONG, OFF(task_retry), "60", 1, 86400},
    {"compute", "heartbeat_interval", SET_LONG, OFF(heartbeat_interval), "2", 1, 3600},
    {"scheduler", "spawn_deadline", SET_LONG, OFF(spawn_deadline), "900", 5, 86400},
    {"scheduler", "task_deadline", SET_LONG, OFF(task_deadline), "600", 5, 86400},
    {"scheduler", "image_task_deadline", SET_LONG, OFF(image_task_deadline), "3600", 5, 86400},
    {"scheduler", "host_down_after", SET_LONG, OFF(host_down_after), "300", 1, 86400 * 30},
};

static int prefixed(const char *s, const char *const *prefixes)
{
	for (; *prefixes; prefixes++)
		if (!strncmp(s, *prefixes, strlen(*prefixes)) && s[strlen(*prefixes)])
			return 1;
	return 0;
}

static const char *const zmq_schemes[] = {"tcp://", "ipc://", "inproc://", NULL};
static const char *const http_schemes[] = {"http://", "https://", NULL};

/* 1 when the host part of a tcp:// endpoint (after the scheme) is a loopback
 * address: 127.x.y.z, [::1] or localhost, followed by :port. */
static int tcp_loopback(const char *hostport)
{
	const char *colon = strrchr(hostport, ':');
	if (!colon)
		return 0;
	size_t n = (size_t)(colon - hostport);
	if ((n == 5 && !strncmp(hostport, "[::1]", 5)) ||
	    (n == 9 && !strncmp(hostport, "localhost", 9)))
		return 1;
	if (n < 9 || n > 15 || strncmp(hostport, "127.", 4))
		return 0;
	int dots = 0;
	for (size_t i = 4; i < n; i++) {
		if (hostport[i] == '.')
			dots++;
		else if (hostport[i] < '0' || hostport[i] > '9')
			return 0;
	}
	return dots == 2;
}

/* Stores one value; returns NULL or the reason it is refused. */
static const char *setting_store(const struct setting *t, const char *v, struct settings *out)
{
	char *base = (char *)out + t->off;
	char *end = NULL;
	switch (t->type) {
	case SET_STR:
		if (!*v)
			return "must not be empty";
		*(const char **)base = v;
		return NULL;
	case SET_ZMQ:
		if (!prefixed(v, zmq_schemes))
			return "must be a tcp://, ipc:// or inproc:// endpoint";
		*(const char **)base = v;
		return NULL;
	case SET_ZMQ_LIST: {
		char one[256];
		int n = 0;
		for (const char *p = v;; p++) {
			size_t len = strcspn(p, ",");
			if (++n > SETTINGS_BINDS_MAX || len >= sizeof(one))
				return "must be at most 4 endpoints, comma-separated";
			memcpy(one, p, len);
			one[len] = '\0';
			if (!prefixed(one, zmq_schemes))
				return "must be tcp://, ipc:// or inproc:// endpoints, "
				       "comma-separated";
			p += len;
			if (!*p)
				break;
		}
		*(const char **)base = v;
		return NULL;
	}
	case SET_ZMQ_LOCAL:
		if (!prefixed(v, zmq_schemes))
			return "must be a tcp://, ipc:// or inproc:// endpoint";
		if (!strncmp(v, "tcp://", 6) && !tcp_loopback(v + 6))
			return "must be ipc:// or tcp:// on a loopback address (127.0.0.0/8, "
			       "[::1])";
		*(const char **)base = v;
		return NULL;
	case SET_HTTP:
		if (!prefixed(v, http_schemes))
			return "must be an http:// or https:// URL";
		*(const char **)base = v;
		return NULL;
	case SET_KEY:
		if (*v && strlen(v) != 40)
			return "must be empty or a 40-character Z85 key";
		*(const char **)base = v;
		return NULL;
	case SET_LONG: {
		errno = 0;
		long n = strtol(v, &end, 10);
		if (errno || end == v || *end)
			return "is not an integer";
		if (n < (long)t->min || n > (long)t->max)
			return "is out of range";
		*(long *)base = n;
		return NULL;
	}
	case SET_DOUBLE: {
		errno = 0;
		double d = strtod(v, &end);
		if (errno || end == v || *end)
			return "is not a number";
		if (!(d > t->min && d <= t->max))
			return "is out of range";
		*(double *)base = d;
		return NULL;
	}
	}
	return "has an unknown type";
}

int settings_load(const struct conf *c, struct settings *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->conf = c;
	for (size_t i = 0; i < sizeof(settings_table) / sizeof(settings_table[0]); i++) {
		const struct setting *t = &settings_table[i];
		const char *v = conf_get(c, t->section, t->key, t->def);
		const char *why = setting_store(t, v, out);
		if (why) {
			if (t->type == SET_LONG || t->type == SET_DOUBLE)
				snprintf(err, errlen, "%s.%s: value %s (%g..%g)", t->section,
				         t->key, why, t->min, t->max);
			else
				snprintf(err, errlen, "%s.%s: value %s", t->section, t->key, why);
			return -EINVAL;
		}
	}
	return 0;
}

long settings_placement_hold_ms(const struct settings *s)
{
	long hold = 3 * s->heartbeat_interval;
	if (hold > s->agent_timeout)
		hold = s->agent_timeout;
	return hold * 1000;
}

long settings_reconcile_settle_s(const struct settings *s)
{
	return 2 * s->heartbeat_interval + 1;
}

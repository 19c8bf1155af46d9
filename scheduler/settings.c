/* The table of every nubo.conf key nubo-scheduler reads: section, key, type,
 * default and bounds. Adding a setting is adding a row. */
#include "settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum setting_type {
	SET_STR,  /* any non-empty string */
	SET_ZMQ,  /* a ZeroMQ endpoint: tcp:// ipc:// inproc:// */
	SET_HTTP, /* an http:// or https:// base URL */
	SET_KEY,  /* empty, or a Z85 CURVE key (40 characters) */
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
	{"bus", "scheduler_bind", SET_ZMQ, OFF(scheduler_bind), "tcp://0.0.0.0:5570", 0, 0},
	{"bus", "wake_bind", SET_ZMQ, OFF(wake_bind), "tcp://127.0.0.1:5571", 0, 0},
	{"api", "internal_url", SET_HTTP, OFF(internal_url), "http://127.0.0.1:8080", 0, 0},
	{"bus", "curve_server_secret", SET_KEY, OFF(curve_secret), "", 0, 0},
	{"scheduler", "cpu_allocation_ratio", SET_DOUBLE, OFF(cpu_ratio), "16.0", 0, 1000},
	{"scheduler", "ram_allocation_ratio", SET_DOUBLE, OFF(ram_ratio), "1.5", 0, 1000},
	{"scheduler", "disk_allocation_ratio", SET_DOUBLE, OFF(disk_ratio), "1.0", 0, 1000},
	{"scheduler", "agent_timeout", SET_LONG, OFF(agent_timeout), "30", 1, 86400},
	{"scheduler", "task_retry", SET_LONG, OFF(task_retry), "60", 1, 86400},
	{"compute", "heartbeat_interval", SET_LONG, OFF(heartbeat_interval), "2", 1, 3600},
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

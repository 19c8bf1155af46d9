/* The nubo.conf parser: a flat array of (section, key, value) triples. */
#include "conf.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

struct conf_entry {
	char *section, *key, *value;
};

struct conf {
	struct conf_entry e[CONF_MAX_ENTRIES];
	size_t n;
};

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.')
			return 0;
	return 1;
}

static void conf_set(struct conf *c, const char *section, const char *key, const char *value)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].section, section) && !strcmp(c->e[i].key, key)) {
			free(c->e[i].value);
			c->e[i].value = xstrdup(value);
			return;
		}
	c->e[c->n].section = xstrdup(section);
	c->e[c->n].key = xstrdup(key);
	c->e[c->n].value = xstrdup(value);
	c->n++;
}

struct conf *conf_parse(const char *text, char *err, size_t errlen)
{
	struct conf *c = xcalloc(1, sizeof(*c));
	char section[128] = "";
	char line[CONF_MAX_LINE];
	int lineno = 0;
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		lineno++;
		if (len >= sizeof(line)) {
			snprintf(err, errlen, "line %d: longer than %d bytes", lineno,
			         CONF_MAX_LINE);
			goto fail;
		}
		memcpy(line, p, len);
		line[len] = '\0';
		p += len + (nl ? 1 : 0);

		char *s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (!close || close[1] != '\0') {
				snprintf(err, errlen, "line %d: malformed section header", lineno);
				goto fail;
			}
			*close = '\0';
			char *name = trim(s + 1);
			/* no '.': conf_dump's "section.key" must name one entry */
			if (!valid_name(name) || strchr(name, '.') ||
			    strlen(name) >= sizeof(section)) {
				snprintf(err, errlen, "line %d: bad section name", lineno);
				goto fail;
			}
			strcpy(section, name);
			continue;
		}
		char *eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "line %d: expected key = value", lineno);
			goto fail;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (!section[0]) {
			snprintf(err, errlen, "line %d: key outside a [section]", lineno);
			goto fail;
		}
		if (!valid_name(key)) {
			snprintf(err, errlen, "line %d: bad key name", lineno);
			goto fail;
		}
		if (c->n == CONF_MAX_ENTRIES) {
			snprintf(err, errlen, "line %d: more than %d entries", lineno,
			         CONF_MAX_ENTRIES);
			goto fail;
		}
		conf_set(c, section, key, value);
	}
	return c;
fail:
	conf_free(c);
	return NULL;
}

struct conf *conf_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 20, n;
	char *buf = xmalloc(cap + 1);
	n = fread(buf, 1, cap + 1, f);
	fclose(f);
	struct conf *c = NULL;
	if (n > cap) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
	} else {
		buf[n] = '\0';
		char perr[256];
		c = conf_parse(buf, perr, sizeof(perr));
		if (!c)
			snprintf(err, errlen, "%s: %s", path, perr);
	}
	free(buf);
	return c;
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].section);
		free(c->e[i].key);
		free(c->e[i].value);
	}
	free(c);
}

const char *conf_get(const struct conf *c, const char *section, const char *key, const char *def)
{
	for (size_t i = 0; c && i < c->n; i++)
		if (!strcmp(c->e[i].section, section) && !strcmp(c->e[i].key, key))
			return c->e[i].value;
	return def;
}

long conf_get_long(const struct conf *c, const char *section, const char *key, long def)
{
	const char *v = conf_get(c, section, key, NULL);
	if (!v || !*v)
		return def;
	char *end;
	errno = 0;
	long r = strtol(v, &end, 10);
	return (errno || *end) ? def : r;
}

double conf_get_double(const struct conf *c, const char *section, const char *key, double def)
{
	const char *v = conf_get(c, section, key, NULL);
	if (!v || !*v)
		return def;
	char *end;
	double r = strtod(v, &end);
	return *end ? def : r;
}

void conf_dump(const struct conf *c, void *file)
{
	FILE *f = file;
	for (size_t i = 0; i < c->n; i++) {
		const char *k = c->e[i].key;
		int secret = strstr(k, "secret") || strstr(k, "password") ||
		             strstr(k, "conninfo") || strstr(k, "_key");
		fprintf(f, "%s.%s = %s\n", c->e[i].section, k, secret ? "***" : c->e[i].value);
	}
}

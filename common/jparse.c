/* JSON field-table parser for request bodies. */
#include "jparse.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xalloc.h"

#define JMAP_KEY_MAX 255
#define JMAP_VALUE_MAX 255

void jstrmap_release(struct jstrmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->vals[i]);
	}
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

json_t *jstrmap_to_json(const struct jstrmap *m)
{
	json_t *o = json_object();
	for (size_t i = 0; i < m->n; i++)
		json_object_set_new(o, m->keys[i], json_string(m->vals[i]));
	return o;
}

/* A member's value as text: strings always; numbers and booleans when scalars. NULL when
 * it is none of those or not text. buf holds a rendered number. */
static const char *map_value(json_t *v, int scalars, char *buf, size_t n)
{
	if (json_is_string(v))
		return strlen(json_string_value(v)) == json_string_length(v) ? json_string_value(v)
		                                                             : NULL;
	if (!scalars)
		return NULL;
	if (json_is_integer(v)) {
		snprintf(buf, n, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (json_is_real(v)) {
		snprintf(buf, n, "%g", json_real_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "True" : "False";
	return NULL;
}

static int parse_map(const struct jfield *f, json_t *v, struct jstrmap *m, char *err, size_t errlen)
{
	const char *k;
	json_t *x;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "%s: must be an object", f->name);
		return -EINVAL;
	}
	if (f->max > 0 && json_object_size(v) > (size_t)f->max) {
		snprintf(err, errlen, "%s: must have at most %ld items", f->name, f->max);
		return -EINVAL;
	}
	size_t cap = json_object_size(v);
	m->keys = xcalloc(cap ? cap : 1, sizeof(char *));
	m->vals = xcalloc(cap ? cap : 1, sizeof(char *));
	json_object_foreach(v, k, x)
	{
		char num[64];
		size_t kl = strlen(k);
		int key_ok = kl > 0 && kl <= JMAP_KEY_MAX;
		for (const unsigned char *p = (const unsigned char *)k; key_ok && *p; p++)
			key_ok = *p >= 0x20 && *p != 0x7f;
		const char *s = map_value(x, f->type == J_SCALARMAP, num, sizeof(num));
		if (!key_ok || !s || strlen(s) > JMAP_VALUE_MAX) {
			snprintf(
			    err, errlen,
			    "%s: keys of 1 to %d printable bytes, values %s of at most %d bytes",
			    f->name, JMAP_KEY_MAX,
			    f->type == J_SCALARMAP ? "strings, numbers or booleans" : "strings",
			    JMAP_VALUE_MAX);
			jstrmap_release(m);
			return -EINVAL;
		}
		m->keys[m->n] = xstrdup(k);
		m->vals[m->n] = xstrdup(s);
		m->n++;
	}
	return 0;
}

static void jstrlist_release(struct jstrlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int parse_list(const struct jfield *f, json_t *v, struct jstrlist *l, char *err,
                      size_t errlen)
{
	size_t i;
	json_t *x;
	if (!json_is_array(v)) {
		snprintf(err, errlen, "%s: must be a list of strings", f->name);
		return -EINVAL;
	}
	if (f->max > 0 && json_array_size(v) > (size_t)f->max) {
		snprintf(err, errlen, "%s: must be a list of at most %ld strings", f->name, f->max);
		return -EINVAL;
	}
	l->items = xcalloc(json_array_size(v) + 1, sizeof(char *));
	json_array_foreach(v, i, x)
	{
		if (!json_is_string(x) || json_string_length(x) == 0 ||
		    json_string_length(x) > JMAP_VALUE_MAX ||
		    strlen(json_string_value(x)) != json_string_length(x)) {
			snprintf(err, errlen, "%s: each item must be a string of 1 to %d bytes",
			         f->name, JMAP_VALUE_MAX);
			jstrlist_release(l);
			return -EINVAL;
		}
		l->items[l->n++] = xstrdup(json_string_value(x));
	}
	return 0;
}

static int parse_one(const struct jfield *f, json_t *v, char *base, char *err, size_t errlen)
{
	switch (f->type) {
	case J_STR_OR_INT:
		if (json_is_integer(v)) {
			*(char **)(base + f->off) =
			    xasprintf("%lld", (long long)json_integer_value(v));
			return 0;
		}
		/* fall through - otherwise it must be a string, as for J_STR */
	case J_STR:
		if (!json_is_string(v) || json_string_length(v) > (size_t)f->max ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen, "%s: must be a string of at most %ld bytes", f->name,
			         f->max);
			return -EINVAL;
		}
		*(char **)(base + f->off) = xstrdup(json_string_value(v));
		return 0;
	case J_UUID:
		if (!json_is_string(v) || !uuid_is_valid(json_string_value(v))) {
			snprintf(err, errlen, "%s: must be a UUID", f->name);
			return -EINVAL;
		}
		strcpy(base + f->off, json_string_value(v));
		return 0;
	case J_INT: {
		long long x;
		if (json_is_integer(v)) {
			x = json_integer_value(v);
		} else if (json_is_string(v) && !(f->flags & JF_STRICT)) {
			/* novaclient sends some numbers as strings */
			char *end;
			const char *s = json_string_value(v);
			errno = 0;
			x = strtoll(s, &end, 10);
			if (!*s || *end || errno) {
				snprintf(err, errlen, "%s: must be an integer", f->name);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "%s: must be an integer", f->name);
			return -EINVAL;
		}
		if (x < f->min || x > f->max) {
			snprintf(err, errlen, "%s: must be between %ld and %ld", f->name, f->min,
			         f->max);
			return -EINVAL;
		}
		*(long *)(base + f->off) = (long)x;
		return 0;
	}
	case J_STRMAP:
	case J_SCALARMAP:
		return parse_map(f, v, (struct jstrmap *)(base + f->off), err, errlen);
	case J_STRLIST:
		return parse_list(f, v, (struct jstrlist *)(base + f->off), err, errlen);
	case J_DOUBLE: {
		double x = 0;
		int ok = 0;
		if (json_is_number(v)) {
			x = json_number_value(v);
			ok = 1;
		} else if (json_is_string(v)) { /* novaclient sends rxtx_factor as a string */
			char *end;
			const char *s = json_string_value(v);
			x = strtod(s, &end);
			ok = *s && !*end;
		}
		if (!ok || !isfinite(x) || x <= 0 || x > FLT_MAX) {
			snprintf(err, errlen, "%s: must be a number greater than 0", f->name);
			return -EINVAL;
		}
		*(double *)(base + f->off) = x;
		return 0;
	}
	case J_BOOL:
		if (json_is_boolean(v)) {
			*(int *)(base + f->off) = json_is_true(v);
			return 0;
		}
		if (json_is_string(v) && !(f->flags & JF_STRICT)) {
			const char *s = json_string_value(v);
			if (!strcasecmp(s, "true") || !strcasecmp(s, "false")) {
				*(int *)(base + f->off) = !strcasecmp(s, "true");
				return 0;
			}
		}
		snprintf(err, errlen, "%s: must be a boolean", f->name);
		return -EINVAL;
	case J_OBJECT:
		if (!json_is_object(v)) {
			snprintf(err, errlen, "%s: must be an object", f->name);
			return -EINVAL;
		}
		*(json_t **)(base + f->off) = v;
		return 0;
	case J_ARRAY:
		if (!json_is_array(v) || (f->max && json_array_size(v) > (size_t)f->max)) {
			snprintf(err, errlen, "%s: must be a list of at most %ld items", f->name,
			         f->max);
			return -EINVAL;
		}
		*(json_t **)(base + f->off) = v;
		return 0;
	}
	return -EINVAL;
}

int jparse(const json_t *obj, const struct jfield *fields, size_t n, void *out, char *err,
           size_t errlen)
{
	if (!json_is_object(obj)) {
		snprintf(err, errlen, "request body must be a JSON object");
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct jfield *f = &fields[i];
		json_t *v = json_object_get(obj, f->name);
		if (!v || (json_is_null(v) && f->nullable)) {
			if (f->required) {
				snprintf(err, errlen, "%s: is required", f->name);
				goto fail;
			}
			continue;
		}
		if (parse_one(f, v, out, err, errlen) < 0)
			goto fail;
	}
	return 0;
fail:
	jparse_release(fields, n, out);
	return -EINVAL;
}

void jparse_release(const struct jfield *fields, size_t n, void *out)
{
	for (size_t i = 0; i < n; i++) {
		if (fields[i].type == J_STR || fields[i].type == J_STR_OR_INT) {
			char **p = (char **)((char *)out + fields[i].off);
			free(*p);
			*p = NULL;
		} else if (fields[i].type == J_STRMAP || fields[i].type == J_SCALARMAP) {
			jstrmap_release((struct jstrmap *)((char *)out + fields[i].off));
		} else if (fields[i].type == J_STRLIST) {
			jstrlist_release((struct jstrlist *)((char *)out + fields[i].off));
		}
	}
}

int jparse_known(const json_t *obj, const struct jfield *fields, size_t n, const char *const *also,
                 char *err, size_t errlen)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		int known = 0;
		for (size_t i = 0; i < n && !known; i++)
			known = !strcmp(fields[i].name, key);
		for (const char *const *a = also; a && *a && !known; a++)
			known = !strcmp(*a, key);
		if (known)
			continue;
		/* the key is the client's: no control bytes, and bounded */
		char shown[65];
		size_t k = 0;
		for (const char *p = key; *p && k < sizeof(shown) - 1; p++)
			shown[k++] = (unsigned char)*p < 0x20 ? '?' : *p;
		shown[k] = '\0';
		snprintf(err, errlen, "Additional properties are not allowed ('%s' was unexpected)",
		         shown);
		return -EINVAL;
	}
	return 0;
}

int jparse_map(const json_t *obj, enum jtype type, long max, const char *name, struct jstrmap *out,
               char *err, size_t errlen)
{
	const struct jfield f = {name, type, 0, 0, max, 1, 0};
	memset(out, 0, sizeof(*out));
	if (type != J_STRMAP && type != J_SCALARMAP)
		return -EINVAL;
	return parse_map(&f, (json_t *)obj, out, err, errlen);
}

int jparse_value(const struct jfield *f, const json_t *v, void *out, char *err, size_t errlen)
{
	if (json_is_null(v) && f->nullable)
		return 1;
	return parse_one(f, (json_t *)v, out, err, errlen);
}

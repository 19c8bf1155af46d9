/* libFuzzer target: request bodies through a field table like the handlers use, and a
 * round trip: the typed struct jparse fills, encoded back to JSON from the same table,
 * must parse to an equal struct; the body itself must survive jansson's encoder.
 * (jparse has no encoder of its own; jparse_encode below is the test's.) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"

struct body {
	char *name, *ref;
	long n;
	int flag;
	char id[37];
	json_t *obj, *list;
};

static const struct jfield fields[] = {
    {"name", J_STR, JF(struct body, name), 0, 255, 1, 0},
    {"ref", J_STR_OR_INT, JF(struct body, ref), 0, 64, 0, 1},
    {"n", J_INT, JF(struct body, n), -5, 5, 0, 0},
    {"flag", J_BOOL, JF(struct body, flag), 0, 0, 0, 1},
    {"id", J_UUID, JF(struct body, id), 0, 0, 0, 1},
    {"obj", J_OBJECT, JF(struct body, obj), 0, 0, 0, 0},
    {"list", J_ARRAY, JF(struct body, list), 0, 8, 0, 0},
};

/* The JSON object a client would send for the struct at base: every field of the
 * table that is set (strings, UUIDs, objects and arrays present; numbers and booleans
 * always). Returns a new reference. */
static json_t *jparse_encode(const struct jfield *f, size_t n, const void *base)
{
	const char *b = base;
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++, f++) {
		const void *p = b + f->off;
		json_t *v = NULL;
		switch (f->type) {
		case J_STR:
		case J_STR_OR_INT:
			if (*(char *const *)p)
				v = json_string(*(char *const *)p);
			break;
		case J_UUID:
			if (*(const char *)p)
				v = json_string(p);
			break;
		case J_INT:
			v = json_integer(*(const long *)p);
			break;
		case J_BOOL:
			v = json_boolean(*(const int *)p);
			break;
		case J_OBJECT:
		case J_ARRAY:
			v = json_incref(*(json_t *const *)p);
			break;
		}
		if (v)
			json_object_set_new(o, f->name, v);
	}
	return o;
}

static int str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static int json_eq(const json_t *a, const json_t *b)
{
	return (!a && !b) || (a && b && json_equal(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct body b = {0}, b2 = {0};
	char err[256];
	if (!j)
		return 0;

	/* what jansson decoded, it encodes and decodes to the same value */
	char *text = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
	json_t *j2 = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
	if (!j2 || !json_equal(j, j2)) {
		fprintf(stderr, "jansson round trip differs: %s\n", text ? text : "(no text)");
		abort();
	}
	free(text);
	json_decref(j2);

	if (jparse(j, fields, JCOUNT(fields), &b, err, sizeof(err)) == 0) {
		json_t *enc = jparse_encode(fields, JCOUNT(fields), &b);
		if (jparse(enc, fields, JCOUNT(fields), &b2, err, sizeof(err)) != 0) {
			char *s = json_dumps(enc, JSON_COMPACT);
			fprintf(stderr, "the encoded struct does not parse (%s): %s\n", err, s);
			abort();
		}
		if (!str_eq(b.name, b2.name) || !str_eq(b.ref, b2.ref) || b.n != b2.n ||
		    b.flag != b2.flag || strcmp(b.id, b2.id) || !json_eq(b.obj, b2.obj) ||
		    !json_eq(b.list, b2.list)) {
			fprintf(stderr, "decode -> encode -> decode differs\n");
			abort();
		}
		jparse_release(fields, JCOUNT(fields), &b2);
		json_decref(enc);
		jparse_release(fields, JCOUNT(fields), &b);
	}
	json_decref(j);
	return 0;
}

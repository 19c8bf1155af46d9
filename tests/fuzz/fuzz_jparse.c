/* libFuzzer target: request bodies through a field table like the handlers use. */
#include <stdint.h>
#include <stdlib.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, 0, NULL);
	struct body b = {0};
	char err[256];
	if (j && jparse(j, fields, JCOUNT(fields), &b, err, sizeof(err)) == 0)
		jparse_release(fields, JCOUNT(fields), &b);
	json_decref(j);
	return 0;
}

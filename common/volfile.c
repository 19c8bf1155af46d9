/* The file pool's names: <pool>/<dir>/<id>.qcow2 or <id>.raw (volfile.h). */
#include "volfile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xalloc.h"

/* The formats a volume file may have, in the order volfile_find looks for them. */
static const char *const formats[] = {"qcow2", "raw"};
#define N_FORMATS (sizeof(formats) / sizeof(formats[0]))

const char *volfile_ext(const char *name, size_t len)
{
	for (size_t i = 0; name && i < N_FORMATS; i++) {
		size_t n = strlen(formats[i]);
		if (len > n + 1 && name[len - n - 1] == '.' &&
		    !memcmp(name + len - n, formats[i], n))
			return formats[i];
	}
	return NULL;
}

const char *volfile_format_at(size_t i)
{
	return i < N_FORMATS ? formats[i] : NULL;
}

int volfile_format_ok(const char *fmt)
{
	for (size_t i = 0; fmt && i < N_FORMATS; i++)
		if (!strcmp(fmt, formats[i]))
			return 1;
	return 0;
}

char *volfile_find(const char *pool, const char *dir, const char *id, const char *new_fmt,
                   const char **fmt)
{
	struct stat st;
	for (size_t i = 0; i < N_FORMATS; i++) {
		char *path = xasprintf("%s/%s/%s.%s", pool, dir, id, formats[i]);
		if (lstat(path, &st) == 0) {
			*fmt = formats[i];
			return path;
		}
		free(path);
	}
	*fmt = new_fmt;
	return xasprintf("%s/%s/%s.%s", pool, dir, id, new_fmt);
}

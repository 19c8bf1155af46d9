/* The choice of an image store backend and the pure parts the backends share. */
#include "image/image_store.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api.h"

static const struct image_store_ops *const backends[] = {&image_store_file, &image_store_swift};

const struct image_store_ops *image_store_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!strcmp(backends[i]->name, name))
			return backends[i];
	return NULL;
}

const struct image_store_ops *image_store_for(const struct req *r)
{
	const struct image_store_ops *s = r->ctx->api->image_store;
	return s ? s : &image_store_file;
}

uint64_t image_store_segments(uint64_t size, uint64_t seg)
{
	if (seg == 0 || size <= seg)
		return 0;
	return size / seg + (size % seg != 0);
}

void image_store_segment_name(const char *id, uint64_t i, char *out, size_t n)
{
	snprintf(out, n, "%s/%08" PRIu64, id, i);
}

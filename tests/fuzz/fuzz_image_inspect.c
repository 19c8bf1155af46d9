/* libFuzzer target: the header inspector that judges uploaded image bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "api-server/image/image_inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_probe p;
	char err[256];
	if (image_inspect(data, size, size, &p, err, sizeof(err)) == 0) {
		image_format_check("qcow2", &p, err, sizeof(err));
		image_format_check("raw", &p, err, sizeof(err));
	}
	return 0;
}

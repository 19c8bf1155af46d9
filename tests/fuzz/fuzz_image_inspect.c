/* libFuzzer target: common/qemu_img.c, which judges image bytes (uploads and agent
 * downloads): the header inspector on the raw bytes, and the parser of qemu-img's
 * JSON on the same bytes as text. Whatever either accepts must be self-consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_img.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image_probe p;
	char err[256];
	if (qemu_img_probe(data, size, size, &p, err, sizeof(err)) == 0) {
		if (p.fmt == IMAGE_FMT_QCOW2 && p.virtual_size > (1ULL << 50))
			abort(); /* an accepted qcow2 never claims more than 1 PiB */
		qemu_img_format_check("qcow2", &p, err, sizeof(err));
		qemu_img_format_check("raw", &p, err, sizeof(err));
	}
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct qemu_img_info info;
	if (qemu_img_info_parse(text, NULL, &info, err, sizeof(err)) == 0 &&
	    (info.virtual_size <= 0 ||
	     (strcmp(info.format, "qcow2") && strcmp(info.format, "raw"))))
		abort();
	free(text);
	return 0;
}

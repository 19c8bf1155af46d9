/* libFuzzer target: nubo.conf text (conf_parse). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	char err[256];
	struct conf *c = conf_parse(text, err, sizeof(err));
	if (c)
		conf_get_long(c, "api", "port", 0);
	conf_free(c);
	free(text);
	return 0;
}

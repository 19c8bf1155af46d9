/* libFuzzer target: bus envelopes from the network (msg_decode, then re-encode). */
#include <stdint.h>
#include <stdlib.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg m;
	char err[256];
	if (msg_decode(data, size, &m, err, sizeof(err)) == 0) {
		free(msg_encode(&m));
		msg_release(&m);
	}
	return 0;
}

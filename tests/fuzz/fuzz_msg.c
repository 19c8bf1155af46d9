/* libFuzzer target: bus envelopes from the network. Whatever msg_decode accepts must
 * encode, and the encoding must decode to a message that encodes identically
 * (decode -> encode -> decode -> encode is stable): the encoder and the validator
 * agree on every bound. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct msg m, again;
	char err[256];
	if (msg_decode(data, size, &m, err, sizeof(err)) != 0)
		return 0;
	char *text = msg_encode(&m);
	if (!text)
		abort(); /* accepted but not encodable */
	if (msg_decode(text, strlen(text), &again, err, sizeof(err)) != 0)
		abort(); /* our own encoding refused */
	char *text2 = msg_encode(&again);
	if (!text2 || strcmp(text, text2))
		abort(); /* the round trip changed the message */
	free(text2);
	free(text);
	msg_release(&again);
	msg_release(&m);
	return 0;
}

/* MD5 (RFC 1321), only because Glance clients check images by it (the "checksum"
 * field and Content-MD5) and the agents check their downloads against that checksum
 * too (common/digest.h reads files). Never use it for anything that needs collision
 * resistance: the image cache is keyed by sha512. */
#ifndef NUBO_MD5_H
#define NUBO_MD5_H
#include <stddef.h>
#include <stdint.h>

struct md5 {
	uint32_t h[4];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, size_t n);
/* Writes the lowercase hex digest into out[33]; m must be re-initialised to reuse. */
void md5_final_hex(struct md5 *m, char out[33]);

#endif

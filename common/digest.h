/* The digests Glance reports of an image's bytes, read once: the md5 ("checksum",
 * kept only because clients check by it: never trust it, md5 collisions can be made)
 * and the sha512 ("os_hash_value" with os_hash_algo "sha512", what the image cache
 * keys and verifies by), with the size. The API computes them on upload, the agents'
 * image cache on download: the one reader of both. */
#ifndef NUBO_DIGEST_H
#define NUBO_DIGEST_H
#include <stddef.h>
#include <stdint.h>

#define DIGEST_MD5_HEX 32     /* hex digits of an md5 */
#define DIGEST_SHA512_HEX 128 /* hex digits of a sha512 */

struct digests {
	uint64_t size;                      /* bytes read */
	char md5[DIGEST_MD5_HEX + 1];       /* lowercase hex */
	char sha512[DIGEST_SHA512_HEX + 1]; /* lowercase hex */
};

/* Reads fd to its end in chunks (never all in memory) into d. 0 or a negative errno. */
int digests_fd(int fd, struct digests *d);
/* The same for the file at path. 0 or a negative errno (open or read). */
int digests_file(const char *path, struct digests *d);
/* 1 when s is exactly digits lowercase hex digits (a digest as Glance shows it). */
int digest_hex_valid(const char *s, size_t digits);

#endif

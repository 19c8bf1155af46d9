/* Image digests (digest.h): common/md5.c and libsodium's sha512 over one read. */
#include "digest.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "md5.h"
#include "xalloc.h"

#define DIGEST_CHUNK (1 << 20)

int digests_fd(int fd, struct digests *d)
{
	struct md5 m;
	crypto_hash_sha512_state sha;
	unsigned char out[crypto_hash_sha512_BYTES];
	uint8_t *buf = xmalloc(DIGEST_CHUNK);
	int rc = 0;
	memset(d, 0, sizeof(*d));
	md5_init(&m);
	crypto_hash_sha512_init(&sha);
	for (;;) {
		ssize_t n = read(fd, buf, DIGEST_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		md5_update(&m, buf, (size_t)n);
		crypto_hash_sha512_update(&sha, buf, (unsigned long long)n);
		d->size += (uint64_t)n;
	}
	md5_final_hex(&m, d->md5);
	crypto_hash_sha512_final(&sha, out);
	sodium_bin2hex(d->sha512, sizeof(d->sha512), out, sizeof(out));
out:
	free(buf);
	return rc;
}

int digests_file(const char *path, struct digests *d)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = digests_fd(fd, d);
	close(fd);
	return rc;
}

int digest_hex_valid(const char *s, size_t digits)
{
	if (!s || strlen(s) != digits)
		return 0;
	for (; *s; s++)
		if (!(*s >= '0' && *s <= '9') && !(*s >= 'a' && *s <= 'f'))
			return 0;
	return 1;
}

/* MD5 per RFC 1321, written from the specification. */
#include "md5.h"

#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

/* The sine-derived constants K[i] = floor(|sin(i+1)| * 2^32). */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static uint32_t rol(uint32_t x, unsigned n)
{
	return (x << n) | (x >> (32 - n));
}

/* The four rounds' functions, in forms with one operation fewer than RFC 1321's. */
#define MD5_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define MD5_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define MD5_H(x, y, z) ((x) ^ (y) ^ (z))
#define MD5_I(x, y, z) ((y) ^ ((x) | ~(z)))
/* One of the 64 steps; the next step takes the registers rotated by one. */
#define MD5_STEP(f, a, b, c, d, x, k, s) (a) = (b) + rol((a) + f((b), (c), (d)) + (x) + (k), (s))

/* The 64 steps written out (a loop choosing the function and the word at each step
 * ran at a fraction of the speed, and every object byte goes through here). */
static void md5_block(uint32_t h[4], const uint8_t *p)
{
	uint32_t w[16];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 |
		       (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
	MD5_STEP(MD5_F, a, b, c, d, w[0], K[0], 7);
	MD5_STEP(MD5_F, d, a, b, c, w[1], K[1], 12);
	MD5_STEP(MD5_F, c, d, a, b, w[2], K[2], 17);
	MD5_STEP(MD5_F, b, c, d, a, w[3], K[3], 22);
	MD5_STEP(MD5_F, a, b, c, d, w[4], K[4], 7);
	MD5_STEP(MD5_F, d, a, b, c, w[5], K[5], 12);
	MD5_STEP(MD5_F, c, d, a, b, w[6], K[6], 17);
	MD5_STEP(MD5_F, b, c, d, a, w[7], K[7], 22);
	MD5_STEP(MD5_F, a, b, c, d, w[8], K[8], 7);
	MD5_STEP(MD5_F, d, a, b, c, w[9], K[9], 12);
	MD5_STEP(MD5_F, c, d, a, b, w[10], K[10], 17);
	MD5_STEP(MD5_F, b, c, d, a, w[11], K[11], 22);
	MD5_STEP(MD5_F, a, b, c, d, w[12], K[12], 7);
	MD5_STEP(MD5_F, d, a, b, c, w[13], K[13], 12);
	MD5_STEP(MD5_F, c, d, a, b, w[14], K[14], 17);
	MD5_STEP(MD5_F, b, c, d, a, w[15], K[15], 22);
	MD5_STEP(MD5_G, a, b, c, d, w[1], K[16], 5);
	MD5_STEP(MD5_G, d, a, b, c, w[6], K[17], 9);
	MD5_STEP(MD5_G, c, d, a, b, w[11], K[18], 14);
	MD5_STEP(MD5_G, b, c, d, a, w[0], K[19], 20);
	MD5_STEP(MD5_G, a, b, c, d, w[5], K[20], 5);
	MD5_STEP(MD5_G, d, a, b, c, w[10], K[21], 9);
	MD5_STEP(MD5_G, c, d, a, b, w[15], K[22], 14);
	MD5_STEP(MD5_G, b, c, d, a, w[4], K[23], 20);
	MD5_STEP(MD5_G, a, b, c, d, w[9], K[24], 5);
	MD5_STEP(MD5_G, d, a, b, c, w[14], K[25], 9);
	MD5_STEP(MD5_G, c, d, a, b, w[3], K[26], 14);
	MD5_STEP(MD5_G, b, c, d, a, w[8], K[27], 20);
	MD5_STEP(MD5_G, a, b, c, d, w[13], K[28], 5);
	MD5_STEP(MD5_G, d, a, b, c, w[2], K[29], 9);
	MD5_STEP(MD5_G, c, d, a, b, w[7], K[30], 14);
	MD5_STEP(MD5_G, b, c, d, a, w[12], K[31], 20);
	MD5_STEP(MD5_H, a, b, c, d, w[5], K[32], 4);
	MD5_STEP(MD5_H, d, a, b, c, w[8], K[33], 11);
	MD5_STEP(MD5_H, c, d, a, b, w[11], K[34], 16);
	MD5_STEP(MD5_H, b, c, d, a, w[14], K[35], 23);
	MD5_STEP(MD5_H, a, b, c, d, w[1], K[36], 4);
	MD5_STEP(MD5_H, d, a, b, c, w[4], K[37], 11);
	MD5_STEP(MD5_H, c, d, a, b, w[7], K[38], 16);
	MD5_STEP(MD5_H, b, c, d, a, w[10], K[39], 23);
	MD5_STEP(MD5_H, a, b, c, d, w[13], K[40], 4);
	MD5_STEP(MD5_H, d, a, b, c, w[0], K[41], 11);
	MD5_STEP(MD5_H, c, d, a, b, w[3], K[42], 16);
	MD5_STEP(MD5_H, b, c, d, a, w[6], K[43], 23);
	MD5_STEP(MD5_H, a, b, c, d, w[9], K[44], 4);
	MD5_STEP(MD5_H, d, a, b, c, w[12], K[45], 11);
	MD5_STEP(MD5_H, c, d, a, b, w[15], K[46], 16);
	MD5_STEP(MD5_H, b, c, d, a, w[2], K[47], 23);
	MD5_STEP(MD5_I, a, b, c, d, w[0], K[48], 6);
	MD5_STEP(MD5_I, d, a, b, c, w[7], K[49], 10);
	MD5_STEP(MD5_I, c, d, a, b, w[14], K[50], 15);
	MD5_STEP(MD5_I, b, c, d, a, w[5], K[51], 21);
	MD5_STEP(MD5_I, a, b, c, d, w[12], K[52], 6);
	MD5_STEP(MD5_I, d, a, b, c, w[3], K[53], 10);
	MD5_STEP(MD5_I, c, d, a, b, w[10], K[54], 15);
	MD5_STEP(MD5_I, b, c, d, a, w[1], K[55], 21);
	MD5_STEP(MD5_I, a, b, c, d, w[8], K[56], 6);
	MD5_STEP(MD5_I, d, a, b, c, w[15], K[57], 10);
	MD5_STEP(MD5_I, c, d, a, b, w[6], K[58], 15);
	MD5_STEP(MD5_I, b, c, d, a, w[13], K[59], 21);
	MD5_STEP(MD5_I, a, b, c, d, w[4], K[60], 6);
	MD5_STEP(MD5_I, d, a, b, c, w[11], K[61], 10);
	MD5_STEP(MD5_I, c, d, a, b, w[2], K[62], 15);
	MD5_STEP(MD5_I, b, c, d, a, w[9], K[63], 21);
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

void md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->len = 0;
}

void md5_update(struct md5 *m, const void *data, size_t n)
{
	const uint8_t *p = data;
	size_t have = (size_t)(m->len % 64);
	m->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;
		memcpy(m->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m->h, m->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m->h, p);
	memcpy(m->buf, p, n);
}

void md5_final_hex(struct md5 *m, char out[33])
{
	uint64_t bits = m->len * 8;
	uint8_t pad[72] = {0x80};
	size_t have = (size_t)(m->len % 64);
	size_t padlen = (have < 56 ? 56 : 120) - have;
	for (int i = 0; i < 8; i++)
		pad[padlen + (size_t)i] = (uint8_t)(bits >> (8 * i));
	md5_update(m, pad, padlen + 8);
	/* no snprintf per byte: the proxy's ring lookup and the object server's path hash
	 * run this on every request */
	unsigned char digest[16];
	for (int i = 0; i < 16; i++)
		digest[i] = (unsigned char)(m->h[i / 4] >> (8 * (i % 4)));
	sodium_bin2hex(out, 33, digest, sizeof(digest));
}

/* MD5 against the RFC 1321 test suite, fed whole and in awkward pieces, and of files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <unistd.h>

#include "digest.h"
#include "md5.h"

static const struct {
	const char *in, *hex;
} vectors[] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

static void test_rfc1321(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		struct md5 m;
		char hex[33];
		md5_init(&m);
		md5_update(&m, vectors[i].in, strlen(vectors[i].in));
		md5_final_hex(&m, hex);
		assert_string_equal(hex, vectors[i].hex);
	}
}

/* Every split point of every vector gives the same digest (buffering across blocks). */
static void test_pieces(void **state)
{
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		size_t n = strlen(vectors[i].in);
		for (size_t cut = 0; cut <= n; cut++) {
			struct md5 m;
			char hex[33];
			md5_init(&m);
			md5_update(&m, vectors[i].in, cut);
			md5_update(&m, vectors[i].in + cut, n - cut);
			md5_final_hex(&m, hex);
			assert_string_equal(hex, vectors[i].hex);
		}
	}
}

/* Lengths around the 56-byte padding boundary and a multi-block input. */
static void test_padding_boundaries(void **state)
{
	static const struct {
		size_t len;
		const char *hex;
	} cases[] = {
	    {55, "ef1772b6dff9a122358552954ad0df65"},
	    {56, "3b0c8ac703f828b04c6c197006d17218"},
	    {64, "014842d480b571495a4a0363793f7367"},
	    {1000000, "7707d6ae4e027c70eea2a935c2296f21"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *buf = malloc(cases[i].len);
		memset(buf, 'a', cases[i].len);
		struct md5 m;
		char hex[33];
		md5_init(&m);
		for (size_t off = 0; off < cases[i].len; off += 4097) {
			size_t take = cases[i].len - off < 4097 ? cases[i].len - off : 4097;
			md5_update(&m, buf + off, take);
		}
		md5_final_hex(&m, hex);
		assert_string_equal(hex, cases[i].hex);
		free(buf);
	}
}

/* A file hashes as its bytes do, across the reader's chunk size, md5 and sha512 in one
 * read (common/digest.c); a missing one fails. */
static void test_file(void **state)
{
	char path[] = "/tmp/nubo-test-md5.XXXXXX", want[33];
	size_t len = 3 * 1000 * 1000 + 1;
	char *buf = malloc(len);
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)(i * 7);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	struct md5 m;
	md5_init(&m);
	md5_update(&m, buf, len);
	md5_final_hex(&m, want);
	unsigned char sha[crypto_hash_sha512_BYTES];
	char sha_hex[DIGEST_SHA512_HEX + 1];
	crypto_hash_sha512(sha, (const unsigned char *)buf, len);
	sodium_bin2hex(sha_hex, sizeof(sha_hex), sha, sizeof(sha));
	struct digests d;
	assert_int_equal(digests_file(path, &d), 0);
	assert_string_equal(d.md5, want);
	assert_string_equal(d.sha512, sha_hex);
	assert_int_equal(d.size, len);
	assert_true(digest_hex_valid(d.sha512, DIGEST_SHA512_HEX));
	assert_true(digest_hex_valid(d.md5, DIGEST_MD5_HEX));
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(digests_file(path, &d), 0);
	assert_string_equal(d.md5, "d41d8cd98f00b204e9800998ecf8427e");
	assert_string_equal(d.sha512,
	                    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	                    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
	assert_int_equal(d.size, 0);
	unlink(path);
	assert_int_equal(digests_file(path, &d), -ENOENT);
	free(buf);
}

/* A digest as Glance shows it: exactly the digits, lowercase hex. */
static void test_hex_valid(void **state)
{
	assert_true(digest_hex_valid("0123456789abcdef0123456789abcdef", DIGEST_MD5_HEX));
	assert_false(digest_hex_valid("0123456789ABCDEF0123456789abcdef", DIGEST_MD5_HEX));
	assert_false(digest_hex_valid("0123456789abcdef0123456789abcdeg", DIGEST_MD5_HEX));
	assert_false(digest_hex_valid("0123456789abcdef0123456789abcde", DIGEST_MD5_HEX));
	assert_false(digest_hex_valid("0123456789abcdef0123456789abcdef", DIGEST_SHA512_HEX));
	assert_false(digest_hex_valid("", DIGEST_MD5_HEX));
	assert_false(digest_hex_valid(NULL, DIGEST_MD5_HEX));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc1321),
	    cmocka_unit_test(test_pieces),
	    cmocka_unit_test(test_padding_boundaries),
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_hex_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

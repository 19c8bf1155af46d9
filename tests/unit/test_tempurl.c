/* Swift temp URLs: SHA-1 and HMAC against published vectors, signatures as swiftclient
 * and Tempest make them (hex SHA-1/SHA-256, "sha512:" base64), hostile signatures and
 * expiry values, Content-Disposition. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdint.h>

#include "object-store/tempurl.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
	sodium_bin2hex(out, 2 * n + 1, b, n);
}

static void test_sha1_vectors(void **state)
{
	unsigned char d[20];
	char h[41];
	tempurl_sha1("abc", 3, d);
	hex(d, 20, h);
	assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	tempurl_sha1("", 0, d);
	hex(d, 20, h);
	assert_string_equal(h, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"; /* 448 bits */
	tempurl_sha1(two, strlen(two), d);
	hex(d, 20, h);
	assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	char *mil = malloc(1000000);
	memset(mil, 'a', 1000000);
	tempurl_sha1(mil, 1000000, d);
	free(mil);
	hex(d, 20, h);
	assert_string_equal(h, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

static void test_hmac_vectors(void **state)
{
	unsigned char mac[TEMPURL_MAX_MAC];
	char h[129];
	/* RFC 2202 test case 1 and 2 */
	char key[20];
	memset(key, 0x0b, 20);
	assert_int_equal(tempurl_hmac(TEMPURL_SHA1, key, 20, "Hi There", 8, mac), 20);
	hex(mac, 20, h);
	assert_string_equal(h, "b617318655057264e28bc0b6fb378c8ef146be00");
	tempurl_hmac(TEMPURL_SHA1, "Jefe", 4, "what do ya want for nothing?", 28, mac);
	hex(mac, 20, h);
	assert_string_equal(h, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	/* a key longer than the block is hashed first */
	char longkey[100];
	memset(longkey, 'k', 100);
	tempurl_hmac(TEMPURL_SHA1, longkey, 100, "msg", 3, mac);
	hex(mac, 20, h);
	assert_string_equal(h, "a3f6e90d792b6ca5ed3bfc556a4aa73d62d7cae4");
	/* RFC 4231 test case 2 */
	assert_int_equal(
	    tempurl_hmac(TEMPURL_SHA256, "Jefe", 4, "what do ya want for nothing?", 28, mac), 32);
	hex(mac, 32, h);
	assert_string_equal(h, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static const char *const keys[] = {NULL, "other", "Meta", NULL};
#define PATH "/v1/AUTH_p/c/o"

static void test_sig_ok(void **state)
{
	/* hex SHA-1 and SHA-256, swiftclient's "sha512:" URL-safe base64 without padding */
	assert_true(tempurl_sig_ok("a33abe4682c2add3364885f27b2aa308cc9b8a26", "GET", 1700000000,
	                           PATH, keys, 4));
	assert_true(
	    tempurl_sig_ok("07c2527d3f13c313ea1c8781fb33ea9355d0dec02697dd15a1daa89b026e2243",
	                   "GET", 1700000000, PATH, keys, 4));
	assert_true(tempurl_sig_ok("sha512:O20DU9-c3Zfgt1Dnz1JBNx1Gc-YHryM2R0ogNwt9S2tGqFtwgX7dWkq_"
	                           "l4PGjNGfRMGKTu_CT8UsKTtf5snQuQ",
	                           "GET", 1700000000, PATH, keys, 4));
	assert_true(
	    tempurl_sig_ok("7ba248127cb2f2bcee3ed832002b1eafa75aaa653df7c98abf57c4bbf842e32c",
	                   "GET", 1700000000, "prefix:/v1/AUTH_p/c/pre", keys, 4));
	/* another method, time, path or key set does not match */
	const char *s256 = "07c2527d3f13c313ea1c8781fb33ea9355d0dec02697dd15a1daa89b026e2243";
	assert_false(tempurl_sig_ok(s256, "PUT", 1700000000, PATH, keys, 4));
	assert_false(tempurl_sig_ok(s256, "GET", 1700000001, PATH, keys, 4));
	assert_false(tempurl_sig_ok(s256, "GET", 1700000000, "/v1/AUTH_p/c/o2", keys, 4));
	assert_false(tempurl_sig_ok(s256, "GET", 1700000000, PATH, keys, 2));
	static const char *const none[] = {NULL, "", NULL, NULL};
	assert_false(tempurl_sig_ok(s256, "GET", 1700000000, PATH, none, 4));
	/* hostile signatures */
	static const char *const bad[] = {
	    "",
	    "zz3abe4682c2add3364885f27b2aa308cc9b8a26",
	    "a33abe4682c2add3364885f27b2aa308cc9b8a2",
	    "sha512:",
	    "sha384:AAAA",
	    "md5:AAAA",
	    ":",
	    "sha1:!!!!",
	    "sha256:B8JSfT8TwxPqHIeB-zPqk1XQ3sAml90VodqomwJuIkM=extra",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(tempurl_sig_ok(bad[i], "GET", 1700000000, PATH, keys, 4));
	char huge[4096];
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	assert_false(tempurl_sig_ok(huge, "GET", 1700000000, PATH, keys, 4));
	memcpy(huge, "sha256:", 7);
	assert_false(tempurl_sig_ok(huge, "GET", 1700000000, PATH, keys, 4));
	assert_false(tempurl_sig_ok(NULL, "GET", 1700000000, PATH, keys, 4));
}

static void test_sig_parse_base64_forms(void **state)
{
	enum tempurl_digest d;
	unsigned char mac[TEMPURL_MAX_MAC];
	size_t n;
	/* the SHA-256 above as standard base64 with padding */
	assert_int_equal(
	    tempurl_sig_parse("sha256:B8JSfT8TwxPqHIeB+zPqk1XQ3sAml90VodqomwJuIkM=", &d, mac, &n),
	    0);
	assert_int_equal(d, TEMPURL_SHA256);
	assert_int_equal(n, 32);
	assert_int_equal(mac[0], 0x07);
	assert_int_equal(mac[31], 0x43);
}

static void test_expires(void **state)
{
	assert_int_equal(tempurl_expires_parse("1700000000"), 1700000000);
	assert_int_equal(tempurl_expires_parse("2023-11-14T22:13:20Z"), 1700000000);
	static const char *const bad[] = {"",
	                                  "-5",
	                                  "12x",
	                                  "1e9",
	                                  " 1700000000",
	                                  "2023-11-14T22:13:20",
	                                  "2023-11-14",
	                                  "99999999999999999999999999999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tempurl_expires_parse(bad[i]), -1);
	assert_int_equal(tempurl_expires_parse(NULL), -1);
}

/* temp_url_ip_range: the MAC covers "ip=<range>" first (swiftclient's generate_temp_url,
 * vector from Python's hmac), and the client must be inside the range */
static void test_ip_range(void **state)
{
	const char *k[] = {"mykey"};
	const char *sig = "9d7de484268d8dcba4f08d41786423a68b7ecf76378b332c7b810bd1f5bfaa62";
	assert_true(tempurl_sig_ok_ip(sig, "127.0.0.1", "GET", 1700000000, "/v1/AUTH_p/c/o", k, 1));
	assert_false(
	    tempurl_sig_ok_ip(sig, "127.0.0.2", "GET", 1700000000, "/v1/AUTH_p/c/o", k, 1));
	assert_false(tempurl_sig_ok(sig, "GET", 1700000000, "/v1/AUTH_p/c/o", k, 1));
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "127.0.0.1"), 1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.2", "127.0.0.1"), 0);
	assert_int_equal(tempurl_ip_in_range("127.3.4.5", "127.0.0.0/8"), 1);
	assert_int_equal(tempurl_ip_in_range("128.0.0.1", "127.0.0.0/8"), 0);
	assert_int_equal(tempurl_ip_in_range("10.1.2.3", "0.0.0.0/0"), 1);
	assert_int_equal(tempurl_ip_in_range("192.168.1.129", "192.168.1.128/25"), 1);
	assert_int_equal(tempurl_ip_in_range("192.168.1.127", "192.168.1.128/25"), 0);
	assert_int_equal(tempurl_ip_in_range("2001:db8::1", "2001:db8::/32"), 1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "2001:db8::/32"), 0);
	/* malformed: host bits set, prefix too long or not a number, not an address */
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "127.0.0.1/8"), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "127.0.0.0/33"), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "127.0.0.0/"), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "127.0.0.0/+8"), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", "localhost"), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", ""), -1);
	assert_int_equal(tempurl_ip_in_range("127.0.0.1", NULL), -1);
	assert_int_equal(tempurl_ip_in_range("?", "127.0.0.0/8"), 0);
}

static void test_disposition(void **state)
{
	char *s = tempurl_disposition(1, NULL, "a/b.txt", 0);
	assert_string_equal(s, "inline");
	free(s);
	s = tempurl_disposition(0, NULL, "dir/sub/b.txt", 0);
	assert_string_equal(s, "attachment; filename=\"b.txt\"; filename*=UTF-8''b.txt");
	free(s);
	s = tempurl_disposition(0, "a \"b\"\xc3\xa9.txt", "o", 1);
	assert_string_equal(s, "attachment; filename=\"a \\\"b\\\"\xc3\xa9.txt\"; "
	                       "filename*=UTF-8''a%20%22b%22%C3%A9.txt");
	free(s);
	s = tempurl_disposition(1, "f", "o", 1);
	assert_string_equal(s, "inline; filename=\"f\"; filename*=UTF-8''f");
	free(s);
	assert_null(tempurl_disposition(0, NULL, "o", 1)); /* the object's own stays */
	/* a line break is encoded, not dropped: the header stays one line */
	s = tempurl_disposition(0, "a\r\nSet-Cookie: x\n.txt", "o", 1);
	assert_string_equal(s, "attachment; filename=\"a%0D%0ASet-Cookie: x%0A.txt\"; "
	                       "filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x%0A.txt");
	free(s);
}

/* Swift: a HEAD may use a URL signed for HEAD, GET, POST or PUT; others their own. */
static void test_sig_methods(void **state)
{
	const char *m[TEMPURL_MAX_SIG_METHODS];
	assert_int_equal(tempurl_sig_methods("HEAD", m), 4);
	assert_string_equal(m[0], "HEAD");
	assert_string_equal(m[1], "GET");
	assert_string_equal(m[2], "POST");
	assert_string_equal(m[3], "PUT");
	assert_int_equal(tempurl_sig_methods("GET", m), 1);
	assert_string_equal(m[0], "GET");
	assert_int_equal(tempurl_sig_methods("DELETE", m), 1);
	assert_string_equal(m[0], "DELETE");
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sha1_vectors), cmocka_unit_test(test_hmac_vectors),
	    cmocka_unit_test(test_sig_ok),       cmocka_unit_test(test_sig_parse_base64_forms),
	    cmocka_unit_test(test_expires),      cmocka_unit_test(test_disposition),
	    cmocka_unit_test(test_ip_range),     cmocka_unit_test(test_sig_methods),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

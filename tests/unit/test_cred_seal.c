/* Credential sealing: round trip, bound to its key and to its row id, tamper-evident,
 * and the key's parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cred_seal.h"

#define KEY_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static void test_round_trip(void **state)
{
	uint8_t key[CRED_KEY_BYTES], other[CRED_KEY_BYTES];
	const char *plain = "{\"access\":\"ak\",\"secret\":\"very-secret\",\"trust_id\":null}";
	char *out = NULL;
	assert_int_equal(sodium_init() >= 0, 1);
	assert_int_equal(cred_key_parse(KEY_HEX, key), 0);
	char *s = cred_seal(key, "id-1", plain);
	assert_true(cred_is_sealed(s));
	assert_null(strstr(s, "very-secret"));
	assert_int_equal(cred_open(key, "id-1", s, &out), 0);
	assert_string_equal(out, plain);
	free(out);
	/* two seals of one text differ (random nonce) */
	char *s2 = cred_seal(key, "id-1", plain);
	assert_string_not_equal(s, s2);
	free(s2);
	/* another row, another key, a flipped byte */
	assert_int_equal(cred_open(key, "id-2", s, &out), -EBADMSG);
	memcpy(other, key, sizeof key);
	other[0] ^= 1;
	assert_int_equal(cred_open(other, "id-1", s, &out), -EBADMSG);
	size_t n = strlen(s);
	s[n - 5] = s[n - 5] == 'A' ? 'B' : 'A';
	assert_int_equal(cred_open(key, "id-1", s, &out), -EBADMSG);
	assert_null(out);
	free(s);
	/* not sealed, or not base64, or too short */
	assert_int_equal(cred_open(key, "id-1", "{\"access\":\"a\"}", &out), -EINVAL);
	assert_int_equal(cred_open(key, "id-1", "ae1:***", &out), -EINVAL);
	assert_int_equal(cred_open(key, "id-1", "ae1:AAAA", &out), -EINVAL);
	/* an empty plaintext seals too */
	s = cred_seal(key, "x", "");
	assert_int_equal(cred_open(key, "x", s, &out), 0);
	assert_string_equal(out, "");
	free(out);
	free(s);
}

static void test_key_parse(void **state)
{
	uint8_t key[CRED_KEY_BYTES];
	assert_int_equal(cred_key_parse(NULL, key), -EINVAL);
	assert_int_equal(cred_key_parse("", key), -EINVAL);
	assert_int_equal(cred_key_parse("0011", key), -EINVAL);
	assert_int_equal(cred_key_parse(KEY_HEX "00", key), -EINVAL);
	char bad[] = KEY_HEX;
	bad[10] = 'g';
	assert_int_equal(cred_key_parse(bad, key), -EINVAL);
	assert_int_equal(cred_key_parse(KEY_HEX, key), 0);
	assert_int_equal(key[31], 0x1f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_key_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

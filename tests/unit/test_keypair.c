/* Key pair pure cores: name rules, public key line checks, and Nova's MD5 fingerprint
 * (expected values printed by `ssh-keygen -l -E md5` for the same keys). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api-server/compute/keypair.h"

static const char ed25519[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOixx4M6DYrihWFFcYF/yjsK4OTWwCzhHXYD1patdMjA "
    "test@nubo";
static const char rsa1024[] =
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDRN1ur+dIH9sXQzVc4Qv+BqijGPoxpjOjdi4q1OEP1JeWzy+"
    "wukjXaPV4F5QvCoV7mfqwsSJ5jbALFBLb8eVFLh0bhg/H1f+cQ84m9cqTLgZMltJdZgboLceMcNWsfEe71WLho1"
    "VC0J1+3LI/0uzAYPk1qAYtHR/K54wZl/GSLVQ== rsa-test";

static void fingerprint_matches_ssh_keygen(void **state)
{
	char fp[KEYPAIR_FP_LEN];
	assert_int_equal(keypair_fingerprint(ed25519, fp), 0);
	assert_string_equal(fp, "3d:01:f4:84:2a:db:63:8e:39:e7:5c:df:4b:55:f0:f9");
	assert_int_equal(keypair_fingerprint(rsa1024, fp), 0);
	assert_string_equal(fp, "43:de:00:af:97:ce:0e:01:57:15:e5:47:ec:53:b9:8e");
	assert_int_equal(strlen(fp), KEYPAIR_FP_LEN - 1);
}

static void fingerprint_ignores_comment(void **state)
{
	char a[KEYPAIR_FP_LEN], b[KEYPAIR_FP_LEN];
	const char *bare =
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOixx4M6DYrihWFFcYF/yjsK4OTWwCzhHXYD1patdMjA";
	assert_int_equal(keypair_fingerprint(ed25519, a), 0);
	assert_int_equal(keypair_fingerprint(bare, b), 0);
	assert_string_equal(a, b);
}

static void fingerprint_rejects_garbage(void **state)
{
	char fp[KEYPAIR_FP_LEN];
	assert_int_equal(keypair_fingerprint("ssh-rsa", fp), -EINVAL);
	assert_int_equal(keypair_fingerprint("ssh-rsa ", fp), -EINVAL);
	assert_int_equal(keypair_fingerprint("ssh-rsa !!!notbase64 c", fp), -EINVAL);
	assert_int_equal(keypair_fingerprint("ssh-rsa AAAA*AAA c", fp), -EINVAL);
	assert_int_equal(keypair_fingerprint("", fp), -EINVAL);
}

static void public_key_parse_trims_and_checks(void **state)
{
	char buf[512];
	snprintf(buf, sizeof(buf), "%s\r\n \n", ed25519);
	assert_int_equal(keypair_public_key_parse(buf), 0);
	assert_string_equal(buf, ed25519);

	snprintf(buf, sizeof(buf), "%s\n%s", ed25519, ed25519); /* two lines */
	assert_int_equal(keypair_public_key_parse(buf), -EINVAL);
	snprintf(buf, sizeof(buf), "ssh-foo AAAA c");
	assert_int_equal(keypair_public_key_parse(buf), -EINVAL);
	snprintf(buf, sizeof(buf), "ssh-rsaAAAA c"); /* no separator */
	assert_int_equal(keypair_public_key_parse(buf), -EINVAL);
	snprintf(buf, sizeof(buf), "-----BEGIN RSA PRIVATE KEY-----");
	assert_int_equal(keypair_public_key_parse(buf), -EINVAL);
	snprintf(buf, sizeof(buf), "  \n");
	assert_int_equal(keypair_public_key_parse(buf), -EINVAL);
	snprintf(buf, sizeof(buf), "ecdsa-sha2-nistp256 AAAA x");
	assert_int_equal(keypair_public_key_parse(buf), 0);

	char *big = malloc(KEYPAIR_KEY_MAX + 16);
	memset(big, 'A', KEYPAIR_KEY_MAX + 15);
	memcpy(big, "ssh-rsa ", 8);
	big[KEYPAIR_KEY_MAX + 15] = '\0';
	assert_int_equal(keypair_public_key_parse(big), -EINVAL);
	free(big);
}

static void names(void **state)
{
	char long_name[KEYPAIR_NAME_MAX + 2];
	assert_true(keypair_name_ok("k1"));
	assert_true(keypair_name_ok("my key_2-x.y@z"));
	assert_false(keypair_name_ok(""));
	assert_false(keypair_name_ok(NULL));
	assert_false(keypair_name_ok(" lead"));
	assert_false(keypair_name_ok("trail "));
	assert_false(keypair_name_ok("a/b"));
	assert_false(keypair_name_ok("a\nb"));
	assert_false(keypair_name_ok("k\xc3\xa9"));
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(keypair_name_ok(long_name));
	long_name[KEYPAIR_NAME_MAX] = '\0';
	assert_true(keypair_name_ok(long_name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fingerprint_matches_ssh_keygen),
	    cmocka_unit_test(fingerprint_ignores_comment),
	    cmocka_unit_test(fingerprint_rejects_garbage),
	    cmocka_unit_test(public_key_parse_trims_and_checks),
	    cmocka_unit_test(names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The form POST's pure parts: its signature (HMAC-SHA1/256/512 over path, redirect,
 * max_file_size, max_file_count and expires; vectors from Python's hmac, as Swift
 * computes them), its integer fields and its redirect Location. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/formpost.h"

static const char *const keys[] = {NULL, "other", "Meta", NULL};
#define PATH "/v1/AUTH_p/c/o"
#define REDIR "http://x/done?a=1"

static void signatures(void **state)
{
	const char *good[] = {
	    "22c7b7aeb5770b6b549e657c2338a28120576dca",
	    "22C7B7AEB5770B6B549E657C2338A28120576DCA",
	    "bf6334873ea8999d7f510b5947b81ab3dcf3efbcde649341156b4a75d6175043",
	    "sha512:13LG7D1G4vZ1gcFJRfPvxClMQpkkDXhxEONciz3FsiioBqvUhyFxeRkV5xsfiNXOs5Nm4/"
	    "CnIyQ1UjLFwg+/+Q==",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(
		    formpost_sig_ok(good[i], PATH, REDIR, "104857600", "10", "1700000000", keys, 4),
		    1);
	const char *sha1 = good[0];
	/* any signed value changed, or no key that signed it: refused */
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH "x", REDIR, "104857600", "10", "1700000000", keys, 4), 0);
	assert_int_equal(formpost_sig_ok(sha1, PATH, "", "104857600", "10", "1700000000", keys, 4),
	                 0);
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH, REDIR, "104857601", "10", "1700000000", keys, 4), 0);
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH, REDIR, "104857600", "11", "1700000000", keys, 4), 0);
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH, REDIR, "104857600", "10", "1700000001", keys, 4), 0);
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH, REDIR, "104857600", "10", "1700000000", keys, 2), 0);
	const char *none[] = {NULL, NULL, NULL, NULL};
	assert_int_equal(
	    formpost_sig_ok(sha1, PATH, REDIR, "104857600", "10", "1700000000", none, 4), 0);
	const char *bad[] = {NULL, "", "22c7b7", "md5:abc", "sha1:!!!", "zz" /* not hex */};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    formpost_sig_ok(bad[i], PATH, REDIR, "104857600", "10", "1700000000", keys, 4),
		    0);
	/* absent fields sign as Swift's defaults: "" and "0" */
	const char *k2[] = {"k2"};
	assert_int_equal(formpost_sig_ok("0b70ce58a48b04c09ec62731d6bfd182d09fc045",
	                                 "/v1/AUTH_p/c/", NULL, NULL, "", NULL, k2, 1),
	                 1);
}

static void integers(void **state)
{
	int bad = 0;
	assert_int_equal(formpost_int("104857600", &bad), 104857600);
	assert_int_equal(formpost_int("-5", &bad), -5);
	assert_int_equal(formpost_int("+7", &bad), 7);
	assert_int_equal(formpost_int("", &bad), 0);
	assert_int_equal(formpost_int(NULL, &bad), 0);
	assert_int_equal(bad, 0);
	const char *no[] = {"1e3", " 1", "1 ", "-", "0x10", "1.5", "9999999999999999999"};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		bad = 0;
		assert_int_equal(formpost_int(no[i], &bad), -1);
		assert_int_equal(bad, 1);
	}
}

static void locations(void **state)
{
	char *l = formpost_location("https://site/done", 201, "");
	assert_string_equal(l, "https://site/done?status=201&message=");
	free(l);
	l = formpost_location("https://site/done?x=1", 400, "max file count exceeded");
	assert_string_equal(
	    l, "https://site/done?x=1&status=400&message=max%20file%20count%20exceeded");
	free(l);
	l = formpost_location("/r", 400, "a&b=<c>");
	assert_string_equal(l, "/r?status=400&message=a%26b%3D%3Cc%3E");
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(signatures),
	    cmocka_unit_test(integers),
	    cmocka_unit_test(locations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

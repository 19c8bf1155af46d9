/* The object server's memory of verified .data files (object-store/verify_cache.h): a
 * file unchanged since its verification is known; a write to it (new ctime or size),
 * another file in its slot, or the passing of VERIFY_CACHE_TTL makes it unknown, so a
 * GET hashes it again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "object-store/verify_cache.h"

static void test_known_until_changed_or_expired(void **state)
{
	char path[] = "/tmp/test_verify_cache.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abcd", 4), 4);
	struct stat st, st2;
	assert_int_equal(fstat(fd, &st), 0);
	struct verify_cache *vc = verify_cache_new(64);
	time_t now = 1000000;
	assert_false(verify_cache_hit(vc, &st, now));
	verify_cache_add(vc, &st, now);
	assert_true(verify_cache_hit(vc, &st, now));
	assert_true(verify_cache_hit(vc, &st, now + VERIFY_CACHE_TTL - 1));
	assert_false(verify_cache_hit(vc, &st, now + VERIFY_CACHE_TTL));
	assert_false(verify_cache_hit(vc, &st, now - 1)); /* the clock went back */
	/* a byte rewritten in place (size unchanged): its ctime moves on */
	struct timespec wait = {0, 20 * 1000 * 1000};
	nanosleep(&wait, NULL);
	assert_int_equal(pwrite(fd, "X", 1, 1), 1);
	assert_int_equal(fstat(fd, &st2), 0);
	assert_int_equal(st2.st_size, st.st_size);
	assert_false(verify_cache_hit(vc, &st2, now));
	/* another file in the same slot */
	verify_cache_add(vc, &st2, now);
	struct stat other = st2;
	other.st_ino += 64;
	assert_false(verify_cache_hit(vc, &other, now));
	verify_cache_add(vc, &other, now);
	assert_true(verify_cache_hit(vc, &other, now));
	assert_false(verify_cache_hit(vc, &st2, now));
	verify_cache_free(vc);
	verify_cache_free(NULL);
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_known_until_changed_or_expired),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

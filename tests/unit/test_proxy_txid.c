/* The proxy's transaction ids (px_trans_id_make): Swift's form, "tx" + 21 hex digits +
 * "-" + the time in 10 hex digits, and random across many ids of one thread (they come
 * from a per-thread block of getrandom bytes, refilled as it runs out). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "object-store/proxy.h"

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void test_form(void **state)
{
	char id[PX_TRANS_ID_LEN];
	px_trans_id_make(id, (time_t)0x6b174252);
	assert_int_equal(strlen(id), 34);
	assert_memory_equal(id, "tx", 2);
	assert_true(is_hex(id + 2, 21));
	assert_int_equal(id[23], '-');
	assert_string_equal(id + 24, "006b174252");
}

/* 1000 ids: more than several refills of the block; none repeats and every digit
 * position takes many values (not a block of zeros after a refill). */
static void test_unique(void **state)
{
	enum { N = 1000 };
	static char ids[N][PX_TRANS_ID_LEN];
	unsigned seen[21] = {0};
	for (int i = 0; i < N; i++) {
		px_trans_id_make(ids[i], (time_t)1800000000);
		assert_true(is_hex(ids[i] + 2, 21));
		for (int k = 0; k < 21; k++)
			seen[k] |= 1u << (unsigned)(strchr("0123456789abcdef", ids[i][2 + k]) -
			                            "0123456789abcdef");
	}
	for (int i = 0; i < N; i++)
		for (int j = i + 1; j < N; j++)
			assert_string_not_equal(ids[i], ids[j]);
	for (int k = 0; k < 21; k++)
		assert_int_equal(seen[k], 0xffff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form),
	    cmocka_unit_test(test_unique),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The accelerator probe: the boot sector's bytes, the decision table and best-of. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "compute-agent/accel.h"

static void sector_layout(void **state)
{
	unsigned char s[ACCEL_PROBE_SECTOR];
	accel_probe_sector(s, 0x01020304u);
	static const unsigned char code[] = {0x66, 0xb9, 0x04, 0x03, 0x02, 0x01, 0x66, 0x49, 0x75,
	                                     0xfc, 0xb0, 0x00, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd};
	assert_memory_equal(s, code, sizeof(code));
	for (size_t i = sizeof(code); i < 510; i++)
		assert_int_equal(s[i], 0);
	assert_int_equal(s[510], 0x55);
	assert_int_equal(s[511], 0xaa);
}

static void decisions(void **state)
{
	static const struct {
		int kvm_ok, kvm_ms, tcg_ok, tcg_ms;
		const char *want;
	} rows[] = {
	    {1, 50, 1, 400, "kvm"},   /* a real KVM host */
	    {1, 400, 1, 400, "kvm"},  /* not slower is enough */
	    {1, 900, 1, 400, "tcg"},  /* nested host where every exit is slow */
	    {0, 3000, 1, 400, "tcg"}, /* KVM never reached the exit port */
	    {1, 900, 0, 0, "kvm"},    /* TCG broken: KVM is what works */
	    {0, 0, 0, 0, "tcg"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct accel_probe k = {.ok = rows[i].kvm_ok, .ms = rows[i].kvm_ms};
		struct accel_probe t = {.ok = rows[i].tcg_ok, .ms = rows[i].tcg_ms};
		assert_string_equal(accel_decide(&k, &t), rows[i].want);
	}
}

static void best_of_runs(void **state)
{
	struct accel_probe best = {0};
	struct accel_probe slow = {.ok = 1, .ms = 300}, fast = {.ok = 1, .ms = 100};
	struct accel_probe failed = {.ok = 0, .ms = 3000, .why = "timeout"};
	accel_probe_best(&best, &slow);
	assert_int_equal(best.ms, 300);
	accel_probe_best(&best, &fast);
	assert_int_equal(best.ms, 100);
	accel_probe_best(&best, &failed);
	assert_true(best.ok);
	assert_int_equal(best.ms, 100);
	struct accel_probe b2 = {0};
	accel_probe_best(&b2, &failed);
	assert_false(b2.ok);
	accel_probe_best(&b2, &slow);
	assert_true(b2.ok);
}

static void configured_modes(void **state)
{
	assert_string_equal(accel_choose(ACCEL_TCG, "qemu-system-x86_64", "/tmp"), "tcg");
	assert_string_equal(accel_choose(ACCEL_KVM, "qemu-system-x86_64", "/tmp"), "kvm");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(sector_layout),
	    cmocka_unit_test(decisions),
	    cmocka_unit_test(best_of_runs),
	    cmocka_unit_test(configured_modes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

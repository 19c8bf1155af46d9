/* Disk I/O limits (common/disk_qos): Nova's and Cinder's keys in, QEMU's throttle-group
 * limits out, and every value or combination QEMU would refuse refused first, table
 * driven. The refusals were checked against QEMU 7.2's object-add of a throttle-group. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "disk_qos.h"

struct qos_case {
	enum disk_qos_dialect d;
	const char *specs;  /* JSON object */
	const char *limits; /* QEMU's limits as JSON text, or NULL: refused */
	const char *why;    /* refused: a piece of the message */
};

static const struct qos_case cases[] = {
    /* Nova's flavor extra specs; other extra specs are not ours */
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"1048576\", \"hw:cpu_policy\": \"x\"}",
     "{\"bps-total\": 1048576}", NULL},
    {DISK_QOS_NOVA,
     "{\"quota:disk_read_bytes_sec\": \"10\", \"quota:disk_write_bytes_sec\": \"20\","
     " \"quota:disk_total_iops_sec\": \"30\", \"quota:disk_total_iops_sec_max\": \"60\","
     " \"quota:disk_size_iops_sec\": \"4096\"}",
     "{\"bps-read\": 10, \"bps-write\": 20, \"iops-total\": 30, \"iops-total-max\": 60,"
     " \"iops-size\": 4096}",
     NULL},
    {DISK_QOS_NOVA, "{}", "{}", NULL},
    /* 0 is "no limit", as in QEMU */
    {DISK_QOS_NOVA, "{\"quota:disk_read_iops_sec\": \"0\"}", "{}", NULL},
    /* Cinder's front-end keys; back-end keys are the storage driver's, not ours */
    {DISK_QOS_CINDER,
     "{\"read_iops_sec\": \"2000\", \"write_iops_sec\": 1000, \"iops_bytes\": \"x\"}",
     "{\"iops-read\": 2000, \"iops-write\": 1000}", NULL},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": \"1000000000000000\"}",
     "{\"bps-total\": 1000000000000000}", NULL},
    /* a dialect's keys only: Cinder's names in a flavor are nothing */
    {DISK_QOS_NOVA, "{\"total_bytes_sec\": \"-5\"}", "{}", NULL},
    /* values: whole numbers 0..10^15, nothing else */
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"-1\"}", NULL, "'-1' is not a whole"},
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"1e6\"}", NULL, "not a whole number"},
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"\"}", NULL, "not a whole number"},
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \" 5\"}", NULL, "not a whole number"},
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"1.5\"}", NULL, "not a whole number"},
    {DISK_QOS_NOVA, "{\"quota:disk_total_bytes_sec\": \"abc\"}", NULL, "not a whole number"},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": \"1000000000000001\"}", NULL,
     "from 0 to 1000000000000000"},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": \"99999999999999999999\"}", NULL,
     "not a whole number"},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": -3}", NULL, "not a whole number"},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": true}", NULL, "not a whole number"},
    /* QEMU: a total and a read or write limit of one kind never together */
    {DISK_QOS_NOVA,
     "{\"quota:disk_total_bytes_sec\": \"100\", \"quota:disk_read_bytes_sec\": \"5\"}", NULL,
     "quota:disk_total_bytes_sec cannot be set together with quota:disk_read_bytes_sec"},
    {DISK_QOS_CINDER, "{\"total_iops_sec\": \"100\", \"write_iops_sec\": \"5\"}", NULL,
     "total_iops_sec cannot be set together"},
    {DISK_QOS_CINDER,
     "{\"read_bytes_sec\": \"100\", \"total_bytes_sec_max\": \"500\", \"read_bytes_sec_max\":"
     " \"200\"}",
     NULL, "total_bytes_sec_max cannot be set together"},
    /* ...but bytes and I/Os are apart: a bytes total beside I/O read/write is fine */
    {DISK_QOS_CINDER,
     "{\"total_bytes_sec\": \"100\", \"read_iops_sec\": \"5\", \"write_iops_sec\": \"6\"}",
     "{\"bps-total\": 100, \"iops-read\": 5, \"iops-write\": 6}", NULL},
    /* bursts need their average and are not below it */
    {DISK_QOS_CINDER, "{\"total_bytes_sec_max\": \"100\"}", NULL,
     "total_bytes_sec_max needs total_bytes_sec"},
    {DISK_QOS_CINDER, "{\"total_bytes_sec\": \"100\", \"total_bytes_sec_max\": \"50\"}", NULL,
     "total_bytes_sec_max cannot be lower than total_bytes_sec"},
    {DISK_QOS_NOVA,
     "{\"quota:disk_read_iops_sec\": \"10\", \"quota:disk_read_iops_sec_max\": \"10\"}",
     "{\"iops-read\": 10, \"iops-read-max\": 10}", NULL},
    /* an I/O size needs an I/O limit */
    {DISK_QOS_NOVA, "{\"quota:disk_size_iops_sec\": \"4096\"}", NULL,
     "quota:disk_size_iops_sec needs an I/O operations limit"},
};

static void test_cases(void **state)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct qos_case *c = &cases[i];
		char err[512] = "";
		struct disk_qos q;
		json_t *specs = json_loads(c->specs, 0, NULL);
		assert_non_null(specs);
		int rc = disk_qos_from_specs(specs, c->d, &q, err, sizeof(err));
		json_decref(specs);
		if (!c->limits) {
			if (rc != -EINVAL || !strstr(err, c->why))
				fail_msg("case %zu (%s): rc %d, err \"%s\"", i, c->specs, rc, err);
			assert_int_equal(disk_qos_any(&q), 0); /* nothing half-read */
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu (%s): refused: %s", i, c->specs, err);
		json_t *got = disk_qos_qemu_limits(&q), *want = json_loads(c->limits, 0, NULL);
		char *text = json_dumps(got, 0);
		if (!json_equal(got, want))
			fail_msg("case %zu: got %s, want %s", i, text, c->limits);
		assert_int_equal(disk_qos_any(&q), json_object_size(want) > 0);
		free(text);
		json_decref(got);
		json_decref(want);
	}
}

static void test_names(void **state)
{
	/* every limit has three names, and each dialect finds its own only */
	for (int l = 0; l < DISK_QOS_COUNT; l++) {
		const char *nova = disk_qos_key(DISK_QOS_NOVA, (enum disk_qos_limit)l);
		const char *cinder = disk_qos_key(DISK_QOS_CINDER, (enum disk_qos_limit)l);
		assert_non_null(disk_qos_qemu_name((enum disk_qos_limit)l));
		assert_int_equal(strncmp(nova, "quota:disk_", 11), 0);
		assert_string_equal(nova + 11, cinder);
		assert_int_equal(disk_qos_find(DISK_QOS_NOVA, nova), l);
		assert_int_equal(disk_qos_find(DISK_QOS_CINDER, cinder), l);
		assert_int_equal(disk_qos_find(DISK_QOS_CINDER, nova), -1);
	}
	assert_null(disk_qos_key(DISK_QOS_NOVA, DISK_QOS_COUNT));
	assert_null(disk_qos_qemu_name(DISK_QOS_COUNT));
	assert_int_equal(disk_qos_find(DISK_QOS_NOVA, NULL), -1);
	assert_string_equal(disk_qos_qemu_name(DISK_QOS_BPS_TOTAL), "bps-total");
	assert_string_equal(disk_qos_key(DISK_QOS_NOVA, DISK_QOS_IOPS_SIZE),
	                    "quota:disk_size_iops_sec");
}

static void test_check_bounds(void **state)
{
	char err[256];
	struct disk_qos q = {{0}};
	q.v[DISK_QOS_IOPS_WRITE] = -1;
	assert_int_equal(disk_qos_check(&q, DISK_QOS_CINDER, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "write_iops_sec"));
	q.v[DISK_QOS_IOPS_WRITE] = DISK_QOS_VALUE_MAX + 1;
	assert_int_equal(disk_qos_check(&q, DISK_QOS_CINDER, err, sizeof(err)), -EINVAL);
	q.v[DISK_QOS_IOPS_WRITE] = DISK_QOS_VALUE_MAX;
	assert_int_equal(disk_qos_check(&q, DISK_QOS_CINDER, err, sizeof(err)), 0);
	int64_t v;
	assert_int_equal(disk_qos_value_parse("0000000000000001", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(disk_qos_value_parse("00000000000000001", &v), -EINVAL);
	assert_int_equal(disk_qos_value_parse(NULL, &v), -EINVAL);
	assert_int_equal(disk_qos_value_parse("+1", &v), -EINVAL);
	/* not an object */
	json_t *arr = json_array();
	assert_int_equal(disk_qos_from_specs(arr, DISK_QOS_NOVA, &q, err, sizeof(err)), -EINVAL);
	json_decref(arr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_check_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

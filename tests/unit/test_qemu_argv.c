/* The QEMU argv builder against golden files (one argument per line): a TCG guest,
 * a KVM guest, and one with tap NICs and a restore; plus the definitions it refuses.
 * NUBO_UPDATE_GOLDEN=1 rewrites the golden files from the current output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compute-agent/qemu_argv.h"

#define ID "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90"
#define DIR "/var/lib/nubo/compute/instances/" ID

static struct qemu_def base_def(void)
{
	struct qemu_def d = {
	    .qemu = "qemu-system-x86_64",
	    .id = ID,
	    .name = "web-1",
	    .accel = "tcg",
	    .vcpus = 1,
	    .ram_mb = 128,
	    .disk = DIR "/disk.qcow2",
	    .config_drive = DIR "/config.iso",
	    .qmp = DIR "/qmp.sock",
	    .console = DIR "/console.log",
	    .pidfile = DIR "/qemu.pid",
	};
	return d;
}

static char *argv_text(char **argv)
{
	size_t n = 1;
	for (char **p = argv; *p; p++)
		n += strlen(*p) + 1;
	char *s = calloc(1, n), *o = s;
	for (char **p = argv; *p; p++)
		o += sprintf(o, "%s\n", *p);
	return s;
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = calloc(1, 1 << 16);
	size_t n = fread(buf, 1, (1 << 16) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void assert_golden(const struct qemu_def *d, const char *path)
{
	char **argv = qemu_argv_new(d);
	assert_non_null(argv);
	char *got = argv_text(argv);
	if (getenv("NUBO_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	char *want = read_file(path);
	assert_non_null(want);
	if (strcmp(got, want))
		fprintf(stderr, "argv differs from %s; got:\n%s", path, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
	qemu_argv_free(argv);
}

static void golden_tcg(void **state)
{
	struct qemu_def d = base_def();
	assert_golden(&d, "golden/qemu_argv_tcg.txt");
}

static void golden_kvm(void **state)
{
	struct qemu_def d = base_def();
	d.accel = "kvm";
	d.vcpus = 4;
	d.ram_mb = 4096;
	d.name = "db, primary"; /* a comma is doubled inside an option value */
	d.config_drive = NULL;
	d.user_mac = "52:54:00:aa:bb:cc";
	assert_golden(&d, "golden/qemu_argv_kvm.txt");
}

static void golden_taps(void **state)
{
	struct qemu_nic nics[] = {
	    {"tap0b7e3c52-4d", "fa:16:3e:00:00:01"},
	    {"tap9f0a5c2d-6e", "fa:16:3e:00:00:02"},
	};
	struct qemu_def d = base_def();
	d.accel = "kvm";
	d.nics = nics;
	d.n_nics = 2;
	d.incoming = 1;
	assert_golden(&d, "golden/qemu_argv_taps.txt");
}

static void refuses_bad_definitions(void **state)
{
	struct qemu_nic bad_mac[] = {{"tap0", "01:00:5e:00:00:01"}}; /* multicast */
	struct qemu_nic bad_if[] = {{"tap 0;rm", "fa:16:3e:00:00:01"}};
	struct qemu_def d;

	d = base_def(), d.accel = "xen";
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.accel = NULL;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.vcpus = 0;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.ram_mb = 8;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.id = "not-a-uuid";
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.disk = NULL;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.qmp = NULL;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_mac, d.n_nics = 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_if, d.n_nics = 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_if, d.n_nics = QEMU_NICS_MAX + 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.user_mac = "52:54:00:zz:00:00";
	assert_null(qemu_argv_new(&d));
	qemu_argv_free(NULL);
}

static void name_defaults_to_id(void **state)
{
	struct qemu_def d = base_def();
	d.name = NULL;
	char **argv = qemu_argv_new(&d);
	assert_non_null(argv);
	assert_string_equal(argv[1], "-name");
	assert_string_equal(argv[2], "guest=" ID ",debug-threads=on");
	qemu_argv_free(argv);
}

static void mac_from_uuid(void **state)
{
	char mac[QEMU_MAC_LEN];
	qemu_mac_from_uuid(ID, mac);
	assert_string_equal(mac, "52:54:00:0b:7e:3c");
	assert_true(qemu_mac_valid(mac));
	qemu_mac_from_uuid("FFEEDDCC-0000-4000-8000-000000000000", mac);
	assert_string_equal(mac, "52:54:00:ff:ee:dd");
	assert_false(qemu_mac_valid("52:54:00:ff:ee"));
	assert_false(qemu_mac_valid("52-54-00-ff-ee-dd"));
	assert_false(qemu_mac_valid(NULL));
}

static void cpu_per_accel(void **state)
{
	assert_string_equal(qemu_argv_cpu("kvm"), "host");
	assert_string_equal(qemu_argv_cpu("tcg"), "max");
	assert_null(qemu_argv_cpu("hvf"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(golden_tcg),          cmocka_unit_test(golden_kvm),
	    cmocka_unit_test(golden_taps),         cmocka_unit_test(refuses_bad_definitions),
	    cmocka_unit_test(name_defaults_to_id), cmocka_unit_test(mac_from_uuid),
	    cmocka_unit_test(cpu_per_accel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

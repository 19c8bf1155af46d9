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

static struct qemu_def base_def(void)
{
	struct qemu_def d = {
	    .qemu = "qemu-system-x86_64",
	    .id = ID,
	    .name = "web-1",
	    .accel = "tcg",
	    .vcpus = 1,
	    .ram_mb = 128,
	    .fd_disk = 3,
	    .fd_base = 4,
	    .base_format = "qcow2",
	    .fd_config = 5,
	    .fd_console = 6,
	    .fd_qmp = 7,
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
	d.fd_config = -1;
	d.fd_base = -1; /* an overlay without a backing image */
	d.user_mac = "52:54:00:aa:bb:cc";
	assert_golden(&d, "golden/qemu_argv_kvm.txt");
}

static void golden_taps(void **state)
{
	struct qemu_nic nics[] = {
	    {8, "fa:16:3e:00:00:01"},
	    {9, "fa:16:3e:00:00:02"},
	};
	struct qemu_def d = base_def();
	d.accel = "kvm";
	d.nics = nics;
	d.n_nics = 2;
	d.incoming = 1;
	d.base_format = "raw";
	assert_golden(&d, "golden/qemu_argv_taps.txt");
}

/* boot from volume: the volume's qcow2 is the disk, no backing image, its id the
 * disk's serial */
static void golden_boot_volume(void **state)
{
	struct qemu_def d = base_def();
	d.fd_base = -1;
	d.disk_serial = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
	assert_golden(&d, "golden/qemu_argv_boot_volume.txt");
}

/* boot from an LVM volume: the raw LV (by descriptor, as any disk) under a raw node */
static void golden_boot_volume_raw(void **state)
{
	struct qemu_def d = base_def();
	d.fd_base = -1;
	d.disk_serial = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
	d.disk_format = "raw";
	assert_golden(&d, "golden/qemu_argv_boot_volume_raw.txt");
}

/* boot from a raw file of a file pool ([storage] volume_format = raw): a raw node on
 * QEMU's file protocol (host_device refuses a regular file) */
static void golden_boot_volume_rawfile(void **state)
{
	struct qemu_def d = base_def();
	d.fd_base = -1;
	d.disk_serial = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
	d.disk_format = "raw";
	d.disk_regular = 1;
	assert_golden(&d, "golden/qemu_argv_boot_volume_rawfile.txt");
}

/* boot from a volume of another machine: the root disk is its NBD export over
 * TLS-PSK, the key's directory the descriptor in the disk's place (no fdset: QEMU
 * reads it through /proc/self/fd once, when the credentials object is made) */
static void golden_boot_volume_nbd(void **state)
{
	struct qemu_def d = base_def();
	d.fd_base = -1;
	d.disk_serial = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
	d.nbd_host = "10.20.0.2";
	d.nbd_port = 10809;
	d.nbd_user = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
	assert_golden(&d, "golden/qemu_argv_boot_volume_nbd.txt");
	struct disk_qos q = {{0}};
	q.v[DISK_QOS_IOPS_TOTAL] = 500; /* limits above the nbd node as above a file */
	d.disk_qos = &q;
	assert_golden(&d, "golden/qemu_argv_boot_volume_nbd_qos.txt");
}

/* an NBD root disk is only a volume's, on an IPv4 address, with its identity */
static void refuses_bad_nbd(void **state)
{
	struct qemu_def d = base_def();
	d.fd_base = -1;
	d.disk_serial = "6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b";
	d.nbd_host = "10.20.0.2";
	d.nbd_port = 10809;
	d.nbd_user = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";
	char **ok = qemu_argv_new(&d);
	assert_non_null(ok);
	qemu_argv_free(ok);
	struct qemu_def b = d;
	b.nbd_host = "10.20.0.2,server.port=1"; /* no option injection */
	assert_null(qemu_argv_new(&b));
	b = d, b.nbd_host = "storage.example";
	assert_null(qemu_argv_new(&b));
	b = d, b.nbd_port = 0;
	assert_null(qemu_argv_new(&b));
	b = d, b.nbd_port = 65536;
	assert_null(qemu_argv_new(&b));
	b = d, b.nbd_user = "x,dir=/etc";
	assert_null(qemu_argv_new(&b));
	b = d, b.nbd_user = NULL;
	assert_null(qemu_argv_new(&b));
	b = d, b.disk_serial = NULL; /* the export is named by the volume */
	assert_null(qemu_argv_new(&b));
	b = d, b.fd_base = 4; /* a volume has no backing image */
	assert_null(qemu_argv_new(&b));
	b = d, b.disk_format = "raw"; /* an export has no format here: the LV's is local */
	assert_null(qemu_argv_new(&b));
}

/* flavor or volume type I/O limits: a throttle-group object with QEMU's limits and a
 * throttle node above the qcow2 one, which the disk device uses; none set: as before */
static void golden_disk_qos(void **state)
{
	struct disk_qos q = {{0}};
	struct qemu_def d = base_def();
	d.disk_qos = &q;
	assert_golden(&d, "golden/qemu_argv_tcg.txt"); /* all zero: not throttled */
	q.v[DISK_QOS_BPS_READ] = 1048576;
	q.v[DISK_QOS_BPS_WRITE] = 2097152;
	q.v[DISK_QOS_IOPS_TOTAL] = 500;
	q.v[DISK_QOS_IOPS_TOTAL_MAX] = 1000;
	assert_golden(&d, "golden/qemu_argv_disk_qos.txt");
}

static void refuses_bad_definitions(void **state)
{
	struct qemu_nic bad_mac[] = {{8, "01:00:5e:00:00:01"}}; /* multicast */
	struct qemu_nic bad_fd[] = {{3, "fa:16:3e:00:00:01"}};  /* the disk's fd */
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
	d = base_def(), d.fd_disk = 0; /* stdin */
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.fd_qmp = -1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.fd_console = d.fd_qmp;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.base_format = "vmdk";
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.base_format = NULL;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_mac, d.n_nics = 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_fd, d.n_nics = 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.nics = bad_fd, d.n_nics = QEMU_NICS_MAX + 1;
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.disk_serial = "vda,serial=x"; /* only a UUID: no option injection */
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.user_mac = "52:54:00:zz:00:00";
	assert_null(qemu_argv_new(&d));
	/* a raw disk is only a boot volume: never an overlay with a backing image */
	d = base_def(), d.disk_format = "raw";
	assert_null(qemu_argv_new(&d));
	d = base_def(), d.disk_format = "vmdk", d.fd_base = -1, d.disk_serial = ID;
	assert_null(qemu_argv_new(&d));
	struct disk_qos q = {{0}};
	q.v[DISK_QOS_BPS_TOTAL] = 100, q.v[DISK_QOS_BPS_READ] = 10; /* QEMU refuses both */
	d = base_def(), d.disk_qos = &q;
	assert_null(qemu_argv_new(&d));
	q.v[DISK_QOS_BPS_READ] = 0, q.v[DISK_QOS_BPS_TOTAL] = -1;
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

/* QEMU runs unprivileged and sandboxed: it is told no host path but /dev/urandom
 * and its inherited descriptor sets, and it may not fork, setuid or daemonize. */
static void opens_no_host_path(void **state)
{
	struct qemu_def d = base_def();
	char **argv = qemu_argv_new(&d);
	int sandbox = 0;
	assert_non_null(argv);
	for (char **p = argv + 1; *p; p++) {
		const char *slash = strchr(*p, '/');
		if (slash && strncmp(slash, "/dev/fdset/", 11) &&
		    strncmp(slash, "/dev/urandom", 12))
			fail_msg("argument names a host path: %s", *p);
		assert_string_not_equal(*p, "-daemonize");
		assert_null(strstr(*p, "pidfile"));
		if (!strcmp(*p, "-sandbox")) {
			assert_string_equal(p[1],
			                    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
			                    "resourcecontrol=deny");
			sandbox = 1;
		}
	}
	assert_true(sandbox);
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
	    cmocka_unit_test(golden_tcg),
	    cmocka_unit_test(golden_kvm),
	    cmocka_unit_test(golden_taps),
	    cmocka_unit_test(refuses_bad_definitions),
	    cmocka_unit_test(name_defaults_to_id),
	    cmocka_unit_test(mac_from_uuid),
	    cmocka_unit_test(golden_boot_volume),
	    cmocka_unit_test(golden_boot_volume_raw),
	    cmocka_unit_test(golden_boot_volume_rawfile),
	    cmocka_unit_test(golden_disk_qos),
	    cmocka_unit_test(cpu_per_accel),
	    cmocka_unit_test(opens_no_host_path),
	    cmocka_unit_test(golden_boot_volume_nbd),
	    cmocka_unit_test(refuses_bad_nbd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

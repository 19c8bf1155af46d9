/* Config drive contents: meta_data.json against golden files, network_data.json,
 * hostname derivation and user_data decoding (valid, unpadded, whitespace, invalid,
 * too large); and a real ISO build when genisoimage or xorriso is installed.
 * NUBO_UPDATE_GOLDEN=1 rewrites the golden files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "compute-agent/configdrive.h"
#include "fsutil.h"

#define ID "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90"

static void assert_golden_text(char *got, const char *path)
{
	if (getenv("NUBO_UPDATE_GOLDEN"))
		assert_int_equal(fs_write_atomic(path, got, strlen(got), 0644), 0);
	char *want = fs_read(path, 1 << 20, NULL);
	assert_non_null(want);
	if (strcmp(got, want))
		fprintf(stderr, "%s differs; got:\n%s", path, got);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

static void meta_data_with_key(void **state)
{
	struct configdrive_meta m = {
	    .uuid = ID,
	    .name = "Web Server #1",
	    .hostname = "web-1",
	    .az = "nova",
	    .key_name = "mykey",
	    .public_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK0 user@host",
	};
	assert_golden_text(configdrive_meta_data(&m), "golden/configdrive_meta_data_key.json");
}

static void meta_data_minimal(void **state)
{
	struct configdrive_meta m = {.uuid = ID, .name = "Ünïcode \"quoted\" name", .az = "az-2"};
	assert_golden_text(configdrive_meta_data(&m), "golden/configdrive_meta_data_min.json");
}

static void network_data_empty(void **state)
{
	struct configdrive_meta m = {.uuid = ID};
	char *n = configdrive_network_data(&m);
	assert_string_equal(n, "{\n  \"links\": [],\n  \"networks\": [],\n  \"services\": []\n}\n");
	free(n);
}

/* What cloud-init's ConfigDrive datasource turns into the guest's network settings: a
 * NIC with an address gets a static network (netmask, default route), one without
 * only its link; DNS servers once each. */
static void network_data_nics(void **state)
{
	struct msg_nic nics[2] = {
	    {.port_id = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
	     .network_id = "6c1e0a00-1111-4222-8333-444455556666",
	     .mac = "fa:16:3e:12:34:56",
	     .tap = "tap5a6b7c8d-9e",
	     .mtu = 1450,
	     .ip = "10.0.1.5",
	     .prefixlen = 24,
	     .gateway = "10.0.1.1",
	     .dns = {"10.0.0.53", "9.9.9.9"},
	     .n_dns = 2},
	    {.port_id = "6a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
	     .network_id = "7c1e0a00-1111-4222-8333-444455556666",
	     .mac = "fa:16:3e:12:34:57",
	     .tap = "tap6a6b7c8d-9e",
	     .mtu = 1500},
	};
	struct configdrive_meta m = {.uuid = ID, .nics = nics, .n_nics = 2};
	assert_golden_text(configdrive_network_data(&m), "golden/configdrive_network_data.json");
	/* a second NIC with an address, no gateway, and a DNS server the first has */
	strcpy(nics[1].ip, "192.168.7.9");
	nics[1].prefixlen = 28;
	strcpy(nics[1].dns[0], "9.9.9.9");
	nics[1].n_dns = 1;
	char *t = configdrive_network_data(&m);
	assert_non_null(strstr(t, "\"netmask\": \"255.255.255.240\""));
	assert_non_null(strstr(t, "\"network1\""));
	assert_non_null(strstr(t, "\"routes\": []"));
	assert_null(strstr(strstr(t, "9.9.9.9") + 1, "9.9.9.9"));
	free(t);
}

static void hostnames(void **state)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
	    {"Web Server #1", "web-server-1"},
	    {"--a__b--", "a-b"},
	    {"", "instance"},
	    {NULL, "instance"},
	    {"###", "instance"},
	    {"Ünï", "n"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char out[64];
		configdrive_hostname(rows[i].in, out, sizeof(out));
		assert_string_equal(out, rows[i].out);
	}
}

static void user_data_decoding(void **state)
{
	unsigned char *out = NULL;
	size_t n = 0;
	char err[128];
	assert_int_equal(
	    configdrive_user_data("IyEvYmluL3NoCmVjaG8gaGkK", &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 18);
	assert_memory_equal(out, "#!/bin/sh\necho hi\n", 18);
	free(out);
	/* padded, with line breaks as base64(1) writes them */
	assert_int_equal(configdrive_user_data("aGVs\nbG8=\n", &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	/* unpadded */
	assert_int_equal(configdrive_user_data("aGVsbG8", &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 5);
	free(out);
	assert_int_equal(configdrive_user_data("", &out, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(out);
	out = NULL;
	assert_int_equal(configdrive_user_data("not base64!", &out, &n, err, sizeof(err)), -EINVAL);
	assert_null(out);
	assert_non_null(strstr(err, "base64"));
	assert_int_equal(configdrive_user_data("aGVsbG8=garbage", &out, &n, err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(configdrive_user_data("a", &out, &n, err, sizeof(err)), -EINVAL);
}

static void user_data_bound(void **state)
{
	/* exactly 64 KiB decodes; one more byte does not */
	size_t raw = CONFIGDRIVE_USER_DATA_MAX;
	for (int extra = 0; extra <= 3; extra++) {
		size_t len = raw + (size_t)extra;
		size_t b64len = (len + 2) / 3 * 4;
		char *b64 = malloc(b64len + 1);
		/* 'A' repeated decodes to zero bytes; fix the padding for the length */
		memset(b64, 'A', b64len);
		if (len % 3 == 1)
			memcpy(b64 + b64len - 2, "==", 2);
		else if (len % 3 == 2)
			b64[b64len - 1] = '=';
		b64[b64len] = '\0';
		unsigned char *out = NULL;
		size_t n = 0;
		char err[128];
		int rc = configdrive_user_data(b64, &out, &n, err, sizeof(err));
		if (extra == 0) {
			assert_int_equal(rc, 0);
			assert_int_equal(n, raw);
			free(out);
		} else {
			assert_int_equal(rc, -E2BIG);
			assert_null(out);
			assert_non_null(strstr(err, "exceeds"));
		}
		free(b64);
	}
}

static int have(const char *prog)
{
	const char *dirs[] = {"/usr/bin/", "/bin/", "/usr/local/bin/"};
	for (size_t i = 0; i < 3; i++) {
		char p[256];
		snprintf(p, sizeof(p), "%s%s", dirs[i], prog);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

static void builds_iso(void **state)
{
	if (!have("genisoimage") && !have("xorriso")) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-cd.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char iso[256], err[256] = "";
	snprintf(iso, sizeof(iso), "%s/config.iso", dir);
	struct configdrive_meta m = {.uuid = ID, .name = "vm", .az = "nova"};
	assert_int_equal(configdrive_build(&m, "aGVsbG8=", iso, dir, err, sizeof(err)), 0);
	long long size = fs_size(iso);
	assert_true(size > 16 * 2048);
	/* ISO 9660 primary volume descriptor at 32 KiB: "CD001", volume id config-2 */
	char *data = fs_read(iso, 1 << 22, NULL);
	assert_non_null(data);
	assert_memory_equal(data + 32768 + 1, "CD001", 5);
	assert_memory_equal(data + 32768 + 40, "config-2", 8);
	free(data);
	/* bad user data: no ISO, a clear error */
	unlink(iso);
	assert_int_equal(configdrive_build(&m, "@@@", iso, dir, err, sizeof(err)), -EINVAL);
	assert_false(fs_exists(iso));
	assert_non_null(strstr(err, "base64"));
	assert_int_equal(fs_remove_tree(dir), 0);
	assert_false(fs_exists(dir));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(meta_data_with_key), cmocka_unit_test(meta_data_minimal),
	    cmocka_unit_test(network_data_empty), cmocka_unit_test(network_data_nics),
	    cmocka_unit_test(hostnames),          cmocka_unit_test(user_data_decoding),
	    cmocka_unit_test(user_data_bound),    cmocka_unit_test(builds_iso),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

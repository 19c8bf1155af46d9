/* The compute agent's settings: defaults, overrides, and each refusal. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "compute-agent/compute_conf.h"

static int load(const char *text, struct compute_conf *cc, char *err, size_t errlen)
{
	char perr[256];
	struct conf *c = conf_parse(text, perr, sizeof(perr));
	assert_non_null(c);
	int rc = compute_conf_load(cc, c, err, errlen);
	conf_free(c);
	cc->raw = NULL;
	return rc;
}

static void defaults(void **state)
{
	struct compute_conf cc;
	char err[256];
	assert_int_equal(
	    load("[bus]\nagent_key = k\n[compute]\nhost = node1\n", &cc, err, sizeof(err)), 0);
	assert_string_equal(cc.host, "node1");
	assert_string_equal(cc.az, "nova");
	assert_string_equal(cc.state_dir, "/var/lib/nubo/compute");
	assert_string_equal(cc.scheduler_url, "tcp://127.0.0.1:5570");
	assert_string_equal(cc.qemu, "qemu-system-x86_64");
	assert_string_equal(cc.driver, "qemu");
	assert_int_equal(cc.accel, ACCEL_AUTO);
	assert_int_equal(cc.heartbeat_interval, 2);
	assert_int_equal(cc.stop_timeout, 10);
	assert_int_equal(cc.max_workers, 4);
	assert_int_equal(cc.vcpus, 0);
	assert_true(cc.max_image_bytes == 10240LL << 20);
	assert_true(cc.image_cache_bytes == 10240LL << 20);
	compute_conf_release(&cc);
	compute_conf_release(&cc); /* a released struct is zeroed */
}

static void overrides(void **state)
{
	struct compute_conf cc;
	char err[256];
	assert_int_equal(load("[bus]\nagent_key = k\nscheduler_url = tcp://10.0.0.1:1\n"
	                      "[api]\nmax_image_mb = 50\n"
	                      "[compute]\nhost = h-2.example\naz = az1\naccel = tcg\n"
	                      "driver = fake\nvcpus = 8\nram_mb = 1024\ndisk_gb = 20\n"
	                      "heartbeat_interval = 5\nstop_timeout = 0\nstate_dir = /srv/c\n"
	                      "image_cache_max_mb = 0\n",
	                      &cc, err, sizeof(err)),
	                 0);
	assert_string_equal(cc.host, "h-2.example");
	assert_int_equal(cc.accel, ACCEL_TCG);
	assert_string_equal(accel_mode_name(cc.accel), "tcg");
	assert_string_equal(cc.driver, "fake");
	assert_int_equal(cc.vcpus, 8);
	assert_int_equal(cc.ram_mb, 1024);
	assert_int_equal(cc.disk_gb, 20);
	assert_int_equal(cc.stop_timeout, 0);
	assert_true(cc.max_image_bytes == 50LL << 20);
	assert_true(cc.image_cache_bytes == 0); /* keep no image no instance uses */
	compute_conf_release(&cc);
}

/* a valid LVM pool conf loads (the group is then the pool's, vm_volume_group) */
static void lvm_pool_accepted(void **state)
{
	struct compute_conf cc;
	char err[256] = "";
	assert_int_equal(load("[bus]\nagent_key = k\n[compute]\nhost = h\n[storage]\n"
	                      "backend = lvm\nvolume_group = nubo-vg\n",
	                      &cc, err, sizeof(err)),
	                 0);
	compute_conf_release(&cc);
	assert_int_equal(load("[bus]\nagent_key = k\n[compute]\nhost = h\n[storage]\n"
	                      "backend = file\n",
	                      &cc, err, sizeof(err)),
	                 0);
	compute_conf_release(&cc);
}

static void refusals(void **state)
{
	static const struct {
		const char *text, *why;
	} rows[] = {
	    {"[bus]\nagent_key = k\n", "compute.host"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = a b\n", "compute.host"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\naz = x/y\n", "compute.az"},
	    {"[compute]\nhost = h\n", "agent_key"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nstate_dir = relative\n", "state_dir"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nstate_dir = "
	     "/a/very/long/state/directory/path/that/does/not/fit/a/socket\n",
	     "state_dir"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\naccel = hvf\n", "accel"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\ndriver = xen\n", "driver"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nvcpus = many\n", "vcpus"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nheartbeat_interval = 0\n",
	     "heartbeat_interval"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nmax_image_mb = 0\n", "max_image_mb"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\nimage_cache_max_mb = -1\n",
	     "image_cache_max_mb"},
	    {"[bus]\nagent_key = k\nscheduler_url =\n[compute]\nhost = h\n", "scheduler_url"},
	    /* this machine's pool is nubo-storage's: its conf is refused the same way */
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\n[storage]\nbackend = lvm\n",
	     "storage.volume_group must name the volume group"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\n[storage]\nbackend = lvm\n"
	     "volume_group = -y\n",
	     "storage.volume_group must name the volume group"},
	    {"[bus]\nagent_key = k\n[compute]\nhost = h\n[storage]\nbackend = zfs\n",
	     "storage.backend must be file or lvm"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct compute_conf cc;
		char err[256] = "";
		assert_int_equal(load(rows[i].text, &cc, err, sizeof(err)), -EINVAL);
		if (!strstr(err, rows[i].why))
			fprintf(stderr, "row %zu: %s\n", i, err);
		assert_non_null(strstr(err, rows[i].why));
		compute_conf_release(&cc);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(overrides),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(lvm_pool_accepted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

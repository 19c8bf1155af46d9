/* The base image cache: argument validation of image_cache_get, a failed download
 * leaving nothing behind, and a real overlay when qemu-img is installed. (What an image
 * must be is tested once, in test_qemu_img.c.) */
#include <curl/curl.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "compute-agent/image_cache.h"
#include "proc.h"

#define IMG "2f0c1b6e-8a51-4d7c-9e3b-1a2b3c4d5e6f"

static void get_validates_arguments(void **state)
{
	char dir[] = "/tmp/nubo-test-images.XXXXXX", err[256];
	assert_non_null(mkdtemp(dir));
	struct image_cache *c = image_cache_new(dir, "key", 1 << 20, err, sizeof(err));
	assert_non_null(c);
	char *path = (char *)"untouched";
	struct image_info info;
	assert_int_equal(image_cache_get(c, "nope", "http://127.0.0.1:1/x", NULL, NULL, &path,
	                                 &info, err, sizeof(err)),
	                 -EINVAL);
	assert_null(path);
	assert_int_equal(image_cache_get(c, IMG, NULL, NULL, NULL, &path, &info, err, sizeof(err)),
	                 -EINVAL);
	assert_int_equal(image_cache_get(c, IMG, "http://127.0.0.1:1/x", NULL, "vmdk", &path, &info,
	                                 err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "vmdk"));
	assert_int_equal(image_cache_get(c, IMG, "http://127.0.0.1:1/x", "xyz", "raw", &path, &info,
	                                 err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "md5"));
	/* nothing listens on port 1: the download fails and leaves no file behind */
	assert_int_equal(image_cache_get(c, IMG, "http://127.0.0.1:1/x", NULL, "raw", &path, &info,
	                                 err, sizeof(err)),
	                 -EIO);
	assert_null(path);
	assert_non_null(strstr(err, "image download"));
	/* only http(s): a file:// URL is refused by libcurl's protocol list */
	assert_true(image_cache_get(c, IMG, "file:///etc/passwd", NULL, "raw", &path, &info, err,
	                            sizeof(err)) < 0);
	char leftover[256];
	snprintf(leftover, sizeof(leftover), "%s/%s", dir, IMG);
	assert_false(fs_exists(leftover));
	image_cache_free(c);
	image_cache_free(NULL);
	assert_int_equal(fs_remove_tree(dir), 0);
}

static void overlay_on_raw(void **state)
{
	if (access("/usr/bin/qemu-img", X_OK) != 0) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-overlay.XXXXXX", err[256] = "";
	assert_non_null(mkdtemp(dir));
	char base[256], disk[256], out[4096];
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
	char zeros[65536] = {0};
	assert_int_equal(fs_write_atomic(base, zeros, sizeof(zeros), 0600), 0);
	assert_int_equal(image_overlay_create(base, "raw", disk, 1LL << 30, err, sizeof(err)), 0);
	const char *argv[] = {"qemu-img", "info", "--output=json", disk, NULL};
	assert_int_equal(proc_run(argv, 10000, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"virtual-size\": 1073741824"));
	assert_non_null(strstr(out, "\"backing-filename-format\": \"raw\""));
	/* a disk smaller than the base is refused, not truncated: the flavor decides */
	unlink(disk);
	assert_int_equal(image_overlay_create(base, "raw", disk, 4096, err, sizeof(err)), -EFBIG);
	assert_false(fs_exists(disk));
	char huge[256];
	snprintf(huge, sizeof(huge), "%s/huge.qcow2", dir);
	const char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", huge, "100T", NULL};
	assert_int_equal(proc_run(mk, 10000, out, sizeof(out)), 0);
	assert_int_equal(image_overlay_create(huge, "qcow2", disk, 1LL << 30, err, sizeof(err)),
	                 -EFBIG);
	assert_non_null(strstr(err, "exceeds the flavor's root disk"));
	assert_false(fs_exists(disk));
	/* a missing base fails cleanly without a half-made disk */
	unlink(disk);
	assert_int_not_equal(image_overlay_create("/nonexistent", "raw", disk, 0, err, sizeof(err)),
	                     0);
	assert_false(fs_exists(disk));
	assert_int_equal(fs_remove_tree(dir), 0);
}

static int setup(void **state)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return 0;
}

static int teardown(void **state)
{
	curl_global_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_validates_arguments),
	    cmocka_unit_test(overlay_on_raw),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

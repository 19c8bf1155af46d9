/* The storage agent's volume → image copy: the qemu-img argv for each disk format, and
 * what it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "argv_text.h"
#include "storage-agent/pool_upload.h"

static void formats(void **state)
{
	const char *argv[POOL_UPLOAD_ARGC];
	assert_int_equal(pool_upload_argv("/p/volumes/v.qcow2", "qcow2", "raw", "/p/tmp/u", argv),
	                 0);
	assert_string_equal(joined(argv), "qemu-img convert -q -f qcow2 -O raw /p/volumes/v.qcow2 "
	                                  "/p/tmp/u");
	assert_int_equal(pool_upload_argv("/p/volumes/v.qcow2", "qcow2", "", "/p/tmp/u", argv), 0);
	assert_string_equal(joined(argv), "qemu-img convert -q -f qcow2 -O qcow2 "
	                                  "/p/volumes/v.qcow2 /p/tmp/u");
	/* an LVM pool's volume is a raw block device */
	assert_int_equal(pool_upload_argv("/dev/vg/vol-x", "raw", "qcow2", "/p/tmp/u", argv), 0);
	assert_string_equal(joined(argv), "qemu-img convert -q -f raw -O qcow2 /dev/vg/vol-x "
	                                  "/p/tmp/u");
}

static void refusals(void **state)
{
	const char *argv[POOL_UPLOAD_ARGC];
	/* a format Nubo does not boot, and relative paths that could read as options */
	assert_int_equal(pool_upload_argv("/p/v", "qcow2", "vmdk", "/p/u", argv), -EINVAL);
	/* the pool's own format is qcow2 or raw, nothing else */
	assert_int_equal(pool_upload_argv("/p/v", "vmdk", "raw", "/p/u", argv), -EINVAL);
	assert_int_equal(pool_upload_argv("/p/v", NULL, "raw", "/p/u", argv), -EINVAL);
	assert_null(argv[0]);
	assert_int_equal(pool_upload_argv("-o", "qcow2", "raw", "/p/u", argv), -EINVAL);
	assert_int_equal(pool_upload_argv("/p/v", "qcow2", "raw", "u", argv), -EINVAL);
	assert_int_equal(pool_upload_argv(NULL, "qcow2", "raw", "/p/u", argv), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(formats),
	    cmocka_unit_test(refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

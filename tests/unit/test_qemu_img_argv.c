/* The storage agent's qemu-img command lines (common/qemu_img.h argv builders): exact
 * argv for each operation, and what they refuse. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "argv_text.h"
#include "qemu_img.h"

static void test_create(void **state)
{
	struct qemu_img_argv a;
	assert_int_equal(qemu_img_argv_create(&a, "/pool/volumes/v.qcow2", "qcow2", 1ull << 30), 0);
	assert_string_equal(joined(a.v), "qemu-img create -q -f qcow2 -o cluster_size=65536 "
	                                 "/pool/volumes/v.qcow2 1073741824");
	/* a relative path could read as an option; sizes are whole sectors */
	assert_int_equal(qemu_img_argv_create(&a, "-o", "qcow2", 1ull << 30), -EINVAL);
	assert_null(a.v[0]);
	assert_int_equal(qemu_img_argv_create(&a, "v.qcow2", "qcow2", 1ull << 30), -EINVAL);
	assert_int_equal(qemu_img_argv_create(&a, "/p/v", "qcow2", 0), -EINVAL);
	assert_int_equal(qemu_img_argv_create(&a, "/p/v", "qcow2", 1000), -EINVAL);
	assert_int_equal(qemu_img_argv_create(&a, NULL, "qcow2", 512), -EINVAL);
	assert_int_equal(qemu_img_argv_create(&a, "/p/v", "qcow2", 512), 0);
	/* raw: a sparse file of the size, no qcow2 options */
	assert_int_equal(qemu_img_argv_create(&a, "/pool/tmp/v.raw", "raw", 1ull << 30), 0);
	assert_string_equal(joined(a.v), "qemu-img create -q -f raw /pool/tmp/v.raw 1073741824");
	assert_int_equal(qemu_img_argv_create(&a, "/p/v", "vmdk", 512), -EINVAL);
	assert_null(a.v[0]);
	assert_int_equal(qemu_img_argv_create(&a, "/p/v", NULL, 512), -EINVAL);
}

static void test_convert(void **state)
{
	struct qemu_img_argv a;
	assert_int_equal(qemu_img_argv_convert(&a, "/pool/snapshots/s.qcow2", "qcow2",
	                                       "/pool/tmp/v.qcow2", "qcow2"),
	                 0);
	assert_string_equal(joined(a.v), "qemu-img convert -q -f qcow2 -O qcow2 "
	                                 "/pool/snapshots/s.qcow2 /pool/tmp/v.qcow2");
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "raw", "/out", "qcow2"), 0);
	assert_string_equal(joined(a.v), "qemu-img convert -q -f raw -O qcow2 /img /out");
	/* into a raw pool: -O raw (qemu-img leaves zeros as holes) */
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "qcow2", "/out", "raw"), 0);
	assert_string_equal(joined(a.v), "qemu-img convert -q -f qcow2 -O raw /img /out");
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "raw", "/out", "vmdk"), -EINVAL);
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "raw", "/out", NULL), -EINVAL);
	/* the source driver is always forced, and only to what we inspect */
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "vmdk", "/out", "qcow2"), -EINVAL);
	assert_int_equal(qemu_img_argv_convert(&a, "/img", NULL, "/out", "qcow2"), -EINVAL);
	assert_int_equal(qemu_img_argv_convert(&a, "img", "raw", "/out", "qcow2"), -EINVAL);
	assert_int_equal(qemu_img_argv_convert(&a, "/img", "raw", "-n", "qcow2"), -EINVAL);
}

/* LVM: a copy written into an existing raw block device (-n: nothing is created) */
static void test_write(void **state)
{
	struct qemu_img_argv a;
	assert_int_equal(qemu_img_argv_write(&a, "/dev/vg/vol-a", "raw", "/dev/vg/tmp-b"), 0);
	assert_string_equal(joined(a.v), "qemu-img convert -q -n -f raw -O raw /dev/vg/vol-a "
	                                 "/dev/vg/tmp-b");
	assert_int_equal(qemu_img_argv_write(&a, "/p/tmp/i.image", "qcow2", "/dev/vg/tmp-b"), 0);
	assert_string_equal(joined(a.v), "qemu-img convert -q -n -f qcow2 -O raw /p/tmp/i.image "
	                                 "/dev/vg/tmp-b");
	assert_int_equal(qemu_img_argv_write(&a, "/img", "vmdk", "/dev/x"), -EINVAL);
	assert_null(a.v[0]);
	assert_int_equal(qemu_img_argv_write(&a, "/img", NULL, "/dev/x"), -EINVAL);
	assert_int_equal(qemu_img_argv_write(&a, "/img", "raw", "-f"), -EINVAL);
}

/* how QEMU opens a pool volume: a qcow2 file with "file", a raw LV (a block device,
 * which "file" refuses) with "host_device" */
static void test_volume_protocol(void **state)
{
	assert_string_equal(qemu_img_volume_protocol(NULL), "file");
	assert_string_equal(qemu_img_volume_protocol("qcow2"), "file");
	assert_string_equal(qemu_img_volume_protocol("raw"), "host_device");
	assert_null(qemu_img_volume_protocol("vmdk"));
	assert_null(qemu_img_volume_protocol(""));
	/* by path: a raw file of a file pool is a regular file ("host_device" refuses it) */
	assert_string_equal(qemu_img_path_protocol("raw", "/dev/vg0/vol-a"), "host_device");
	assert_string_equal(qemu_img_path_protocol("raw", "/pool/volumes/v.raw"), "file");
	assert_string_equal(qemu_img_path_protocol("qcow2", "/pool/volumes/v.qcow2"), "file");
	assert_string_equal(qemu_img_path_protocol(NULL, "/pool/volumes/v.qcow2"), "file");
	assert_null(qemu_img_path_protocol("vmdk", "/pool/volumes/v.vmdk"));
	assert_null(qemu_img_path_protocol("raw", NULL));
}

static void test_resize(void **state)
{
	struct qemu_img_argv a;
	assert_int_equal(qemu_img_argv_resize(&a, "/pool/volumes/v.qcow2", "qcow2", 2ull << 30), 0);
	assert_string_equal(joined(a.v), "qemu-img resize -q -f qcow2 /pool/volumes/v.qcow2 "
	                                 "2147483648");
	assert_int_equal(qemu_img_argv_resize(&a, "/pool/volumes/v.raw", "raw", 2ull << 30), 0);
	assert_string_equal(joined(a.v), "qemu-img resize -q -f raw /pool/volumes/v.raw "
	                                 "2147483648");
	assert_int_equal(qemu_img_argv_resize(&a, "/p", "qcow2", 0), -EINVAL);
	assert_int_equal(qemu_img_argv_resize(&a, "/p", "qcow2", (1ull << 50) + 512), -EINVAL);
	assert_int_equal(qemu_img_argv_resize(&a, "/p", "vmdk", 512), -EINVAL);
	assert_int_equal(qemu_img_argv_resize(&a, "/p", NULL, 512), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create),          cmocka_unit_test(test_convert),
	    cmocka_unit_test(test_write),           cmocka_unit_test(test_resize),
	    cmocka_unit_test(test_volume_protocol),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

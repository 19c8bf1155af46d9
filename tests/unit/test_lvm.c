/* The LVM backend's pure pieces (common/lvm.h): LV names of ids, device paths, the
 * exact argv of each lvm command (every one without udev), vgs' output, and what each
 * refuses: names that are not ours, sizes out of range, anything that could read as an
 * option. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "argv_text.h"
#include "lvm.h"

#define ID "0b6f3c1e-5d2a-4f7b-9c8e-1a2b3c4d5e6f"
#define CFG "--config " LVM_NO_UDEV " "

static void test_names(void **state)
{
	char lv[LVM_LV_MAX], path[128];
	assert_int_equal(lvm_lv_name(LVM_VOLUME, ID, lv), 0);
	assert_string_equal(lv, "vol-" ID);
	assert_int_equal(lvm_lv_name(LVM_SNAPSHOT, ID, lv), 0);
	assert_string_equal(lv, "snap-" ID);
	assert_int_equal(lvm_lv_name(LVM_TMP, ID, lv), 0);
	assert_string_equal(lv, "tmp-" ID);
	/* only a uuid names an LV */
	assert_int_equal(lvm_lv_name(LVM_VOLUME, "../x", lv), -EINVAL);
	assert_string_equal(lv, "");
	assert_int_equal(lvm_lv_name(LVM_VOLUME, ID "0", lv), -EINVAL);
	assert_int_equal(lvm_lv_name(LVM_VOLUME, NULL, lv), -EINVAL);
	assert_int_equal(lvm_lv_name((enum lvm_kind)7, ID, lv), -EINVAL);

	assert_int_equal(lvm_dev_path("nubo-vg", "vol-" ID, path, sizeof(path)), 0);
	assert_string_equal(path, "/dev/nubo-vg/vol-" ID);
	assert_int_equal(lvm_dev_path("nubo-vg", "root", path, sizeof(path)), -EINVAL);
	assert_int_equal(lvm_dev_path("..", "vol-" ID, path, sizeof(path)), -EINVAL);
	assert_int_equal(lvm_dev_path("vg", "vol-" ID, path, 10), -EINVAL);
}

static void test_vg_names(void **state)
{
	char long_name[LVM_VG_MAX + 1];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[LVM_VG_MAX] = 0;
	assert_true(lvm_vg_ok("nubo-vg"));
	assert_true(lvm_vg_ok("vg_0.a+b"));
	assert_false(lvm_vg_ok(""));
	assert_false(lvm_vg_ok(NULL));
	assert_false(lvm_vg_ok("-y"));
	assert_false(lvm_vg_ok("."));
	assert_false(lvm_vg_ok(".."));
	assert_false(lvm_vg_ok("vg/x"));
	assert_false(lvm_vg_ok("vg x"));
	assert_false(lvm_vg_ok("vg;rm"));
	assert_false(lvm_vg_ok(long_name));
	long_name[LVM_VG_MAX - 1] = 0;
	assert_true(lvm_vg_ok(long_name));
}

static void test_argv(void **state)
{
	struct lvm_argv a;
	assert_int_equal(lvm_argv_vgs(&a, "vg0"), 0);
	assert_string_equal(joined(a.v),
	                    "vgs " CFG "--noheadings --units b --nosuffix -o vg_size,vg_free vg0");
	assert_int_equal(lvm_argv_create(&a, "vg0", "tmp-" ID, 3), 0);
	assert_string_equal(joined(a.v),
	                    "lvcreate " CFG "-q -y --wipesignatures y -n tmp-" ID " -L 3G vg0");
	assert_int_equal(lvm_argv_extend(&a, "vg0", "vol-" ID, 10), 0);
	assert_string_equal(joined(a.v), "lvextend " CFG "-q -L 10G vg0/vol-" ID);
	assert_int_equal(lvm_argv_remove(&a, "vg0", "snap-" ID), 0);
	assert_string_equal(joined(a.v), "lvremove " CFG "-q -y vg0/snap-" ID);
	assert_int_equal(lvm_argv_rename(&a, "vg0", "tmp-" ID, "vol-" ID), 0);
	assert_string_equal(joined(a.v), "lvrename " CFG "-q vg0 tmp-" ID " vol-" ID);
	assert_int_equal(lvm_argv_list(&a, "vg0"), 0);
	assert_string_equal(joined(a.v), "lvs " CFG "--noheadings -o lv_name vg0");
}

static void test_refusals(void **state)
{
	struct lvm_argv a;
	/* sizes: whole GiB from 1 to LVM_MAX_GB */
	assert_int_equal(lvm_argv_create(&a, "vg0", "vol-" ID, 0), -EINVAL);
	assert_null(a.v[0]);
	assert_int_equal(lvm_argv_create(&a, "vg0", "vol-" ID, -1), -EINVAL);
	assert_int_equal(lvm_argv_create(&a, "vg0", "vol-" ID, LVM_MAX_GB + 1), -EINVAL);
	assert_int_equal(lvm_argv_create(&a, "vg0", "vol-" ID, LVM_MAX_GB), 0);
	assert_int_equal(lvm_argv_extend(&a, "vg0", "vol-" ID, 0), -EINVAL);
	/* names: only our LVs, only a sane group */
	assert_int_equal(lvm_argv_create(&a, "vg0", "root", 1), -EINVAL);
	assert_int_equal(lvm_argv_create(&a, "vg0", "-y", 1), -EINVAL);
	assert_int_equal(lvm_argv_remove(&a, "vg0", "vol-../x"), -EINVAL);
	assert_null(a.v[0]);
	assert_int_equal(lvm_argv_remove(&a, "-ff", "vol-" ID), -EINVAL);
	assert_int_equal(lvm_argv_rename(&a, "vg0", "tmp-" ID, "home"), -EINVAL);
	assert_int_equal(lvm_argv_vgs(&a, "--all"), -EINVAL);
	assert_int_equal(lvm_argv_list(&a, ""), -EINVAL);
}

static void test_vgs_parse(void **state)
{
	long long s = 0, f = 0;
	assert_int_equal(lvm_vgs_parse("  1073741824 536870912\n", &s, &f), 0);
	assert_true(s == 1073741824LL && f == 536870912LL);
	assert_int_equal(lvm_vgs_parse("  WARNING: 3 leaked\n  2147483648 1073741824\n", &s, &f),
	                 0);
	assert_true(s == 2147483648LL && f == 1073741824LL);
	assert_int_equal(lvm_vgs_parse("", &s, &f), -EINVAL);
	assert_int_equal(lvm_vgs_parse("10 5 x", &s, &f), -EINVAL);
	assert_int_equal(lvm_vgs_parse("  Volume group \"x\" not found", &s, &f), -EINVAL);
	assert_int_equal(lvm_vgs_parse("10 20", &s, &f), -EINVAL); /* free above size */
	assert_int_equal(lvm_vgs_parse("10", &s, &f), -EINVAL);
	assert_int_equal(lvm_vgs_parse(NULL, &s, &f), -EINVAL);
}

/* device-mapper detection: dmsetup's own lines, as a kernel without dm_mod (this CI
 * box's) and one with it print them */
static void test_dm_parse(void **state)
{
	struct lvm_argv a;
	char why[256];
	assert_int_equal(lvm_argv_dm(&a), 0);
	assert_string_equal(joined(a.v), "dmsetup version");
	assert_int_equal(lvm_dm_parse("Library version:   1.02.185 (2022-05-18)\n"
	                              "Driver version:    4.48.0\n",
	                              why, sizeof(why)),
	                 0);
	assert_int_equal(
	    lvm_dm_parse("Library version:   1.02.185 (2022-05-18)\n"
	                 "/dev/mapper/control: open failed: No such device\n"
	                 "Failure to communicate with kernel device-mapper driver.\n"
	                 "Check that device-mapper is available in the kernel.\n"
	                 "Incompatible libdevmapper 1.02.185 (2022-05-18) and kernel driver "
	                 "(unknown version).\nCommand failed.\n",
	                 why, sizeof(why)),
	    -ENODEV);
	assert_string_equal(why, "/dev/mapper/control: open failed: No such device");
	assert_int_equal(
	    lvm_dm_parse("Library version:   1.02.185 (2022-05-18)\n", why, sizeof(why)), -ENODEV);
	assert_string_equal(why, "no driver version");
	assert_int_equal(lvm_dm_parse("", why, sizeof(why)), -ENODEV);
	assert_string_equal(why, "no driver version");
	/* a reason is cut, never overrun */
	char small[8];
	assert_int_equal(lvm_dm_parse("a very long reason without a newline", small, sizeof(small)),
	                 -ENODEV);
	assert_string_equal(small, "a very ");
}

/* activation after a reboot, without udev like every other command */
static void test_activate(void **state)
{
	struct lvm_argv a;
	assert_int_equal(lvm_argv_activate(&a, "vg0"), 0);
	assert_string_equal(joined(a.v),
	                    "lvchange " CFG "-ay --select lv_name=~\"^(vol|snap)-\" vg0");
	assert_int_equal(lvm_argv_activate(&a, "-an"), -EINVAL);
	assert_null(a.v[0]);
}

/* only lvm's own "no such LV" is a missing LV (lvm2 2.03's words, checked on a group
 * made on a loop device); a missing group is an error, never a deleted volume */
static void test_lv_missing(void **state)
{
	assert_true(lvm_lv_missing("  Failed to find logical volume \"vg0/vol-" ID "\"\n", "vg0",
	                           "vol-" ID));
	assert_true(lvm_lv_missing(
	    "  WARNING: x\n  Failed to find logical volume \"vg0/vol-" ID "\"", "vg0", "vol-" ID));
	/* another LV, another group, or the group itself missing */
	assert_false(lvm_lv_missing("  Failed to find logical volume \"vg0/snap-" ID "\"\n", "vg0",
	                            "vol-" ID));
	assert_false(lvm_lv_missing("  Failed to find logical volume \"vg1/vol-" ID "\"\n", "vg0",
	                            "vol-" ID));
	assert_false(lvm_lv_missing("  Volume group \"vg0\" not found\n  Cannot process volume "
	                            "group vg0\n",
	                            "vg0", "vol-" ID));
	assert_false(lvm_lv_missing("  Failed to find logical volume \"vg0/vol-" ID "\" x\n", "vg0",
	                            "vol-" ID));
	assert_false(lvm_lv_missing("", "vg0", "vol-" ID));
	assert_false(lvm_lv_missing(NULL, "vg0", "vol-" ID));
	assert_false(lvm_lv_missing("  Failed to find logical volume \"vg0/root\"", "vg0", "root"));
}

/* one check of [storage] backend/volume_group for nubo-storage and nubo-compute */
static void test_conf_check(void **state)
{
	char vg[LVM_VG_MAX], err[256] = "";
	assert_int_equal(lvm_conf_check("file", "ignored", vg, err, sizeof(err)), 0);
	assert_string_equal(vg, "");
	assert_int_equal(lvm_conf_check(NULL, "", vg, err, sizeof(err)), 0);
	assert_int_equal(lvm_conf_check("lvm", "nubo-vg", vg, err, sizeof(err)), 0);
	assert_string_equal(vg, "nubo-vg");
	assert_int_equal(lvm_conf_check("lvm", "", vg, err, sizeof(err)), -EINVAL);
	assert_string_equal(vg, "");
	assert_string_equal(err, "storage.volume_group must name the volume group (1-63 "
	                         "characters of [A-Za-z0-9+_.-]) when storage.backend = lvm");
	assert_int_equal(lvm_conf_check("lvm", "a/b", vg, err, sizeof(err)), -EINVAL);
	assert_int_equal(lvm_conf_check("LVM", "vg", vg, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "storage.backend must be file or lvm");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),      cmocka_unit_test(test_vg_names),
	    cmocka_unit_test(test_argv),       cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_vgs_parse),  cmocka_unit_test(test_dm_parse),
	    cmocka_unit_test(test_activate),   cmocka_unit_test(test_lv_missing),
	    cmocka_unit_test(test_conf_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

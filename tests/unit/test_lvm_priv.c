/* The storage agent's LVM rows of the privileged helper (storage-agent/lvm_priv.c), run
 * for real as root against a volume group that does not exist (so nothing on the host
 * changes): every request naming anything but one of our LV names, or an out-of-range
 * size, is refused before lvm runs; a missing group is lvm's own answer, for a remove
 * too (a missing LV is decided by lvm, never by the /dev node); activation, the start's
 * adopt pass and the paged list are lvm's runs; and the device-mapper row agrees with
 * `dmsetup version`.
 * Skipped when not run as root. */
#include <errno.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "lvm.h"
#include "priv.h"
#include "proc.h"
#include "storage-agent/lvm_priv.h"

#define ID "0f6c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b"

static char state[128], vg[64];
static struct priv *P;
static struct priv_conf pc;

static void report(int level, const char *msg)
{
	(void)level;
	(void)msg;
}

static int setup(void **st)
{
	char err[256];
	if (geteuid() != 0 || !getpwnam("nubo"))
		return 0;
	snprintf(state, sizeof(state), "/tmp/nubo-test-lvm-priv.%d", (int)getpid());
	snprintf(vg, sizeof(vg), "nubo-unit-absent-%d", (int)getpid());
	fs_remove_tree(state);
	assert_int_equal(fs_mkdir_p(state, 0755), 0);
	pc = (struct priv_conf){lvm_priv_ops, lvm_priv_n_ops, state, "nubo", vg, report};
	P = priv_start(&pc, err, sizeof(err));
	assert_non_null(P);
	return 0;
}

static int teardown(void **st)
{
	priv_free(P);
	if (state[0])
		fs_remove_tree(state);
	return 0;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!P)                                                                            \
			skip();                                                                    \
	} while (0)

/* names and sizes the worker may not pass: refused by the row's check (-EPERM) */
static void refuses_bad_requests(void **st)
{
	NEED_ROOT();
	char err[256];
	static const char *const bad[] = {
	    "vol-x", "vol-../../../dev/sda", "../" ID, "-y", "", "lv-" ID, "vol-" ID " -y",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(lvm_create(P, bad[i], 1, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "bad LVM request"));
		assert_int_equal(lvm_remove(P, bad[i], err, sizeof(err)), -EPERM);
		assert_int_equal(lvm_give(P, bad[i], err, sizeof(err)), -EPERM);
		/* an empty new name passes the check (it is RENAME's only) and the builder
		 * refuses it: lvm never runs either way */
		assert_int_equal(lvm_rename(P, "tmp-" ID, bad[i], err, sizeof(err)),
		                 bad[i][0] ? -EPERM : -EINVAL);
	}
	/* too long for the request: the worker side refuses it before sending */
	assert_int_equal(lvm_create(P, "vol-" ID "/../../sda", 1, err, sizeof(err)), -EINVAL);
	assert_int_equal(lvm_create(P, "vol-" ID, -1, err, sizeof(err)), -EPERM);
	assert_int_equal(lvm_extend(P, "vol-" ID, LVM_MAX_GB + 1, err, sizeof(err)), -EPERM);
	/* in range for the check, refused by the builder: nothing runs */
	assert_int_equal(lvm_create(P, "vol-" ID, 0, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "invalid arguments"));
	/* a name that fills its field with no NUL */
	struct lvm_priv_req r;
	memset(&r, 'a', sizeof(r));
	r.size_gb = 1;
	int n_fds = 0;
	assert_int_equal(priv_call(P, LVM_PRIV_CREATE, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           &n_fds, err, sizeof(err)),
	                 -EPERM);
}

/* the group is the helper's: a missing one is vgs' own answer, naming it */
static void missing_group_is_lvms_answer(void **st)
{
	NEED_ROOT();
	char err[256] = "";
	long long size = -1, avail = -1;
	assert_true(lvm_space(P, &size, &avail, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "vgs"));
	if (strstr(err, "failed (")) /* lvm2 installed: its words name the group */
		assert_non_null(strstr(err, vg));
}

/* "missing" is lvm's answer about the LV, never the absence of a /dev node (an
 * inactive LV has none): with the group itself absent a remove is lvm's error, not a
 * deleted volume, and lvm did run (its words name the group) */
static void remove_asks_lvm(void **st)
{
	NEED_ROOT();
	char err[256] = "";
	assert_int_equal(lvm_remove(P, "vol-" ID, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "lvremove failed ("));
	assert_non_null(strstr(err, vg));
	assert_int_equal(lvm_remove(P, "tmp-" ID, err, sizeof(err)), -EIO);
}

/* the start rows: activation and the adopt pass are lvm's runs on the helper's group */
static void activate_and_adopt_run_lvm(void **st)
{
	NEED_ROOT();
	char err[256] = "", out[PRIV_MSG_MAX];
	assert_int_equal(lvm_activate(P, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "vgchange failed ("));
	assert_non_null(strstr(err, vg));
	err[0] = 0;
	assert_int_equal(lvm_adopt(P, out, sizeof(out), err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "lvs failed ("));
	assert_non_null(strstr(err, vg));
	assert_string_equal(out, "");
}

/* the list is paged: the skip count is checked like a size, and lvm answers */
static void list_pages_are_checked(void **st)
{
	NEED_ROOT();
	char err[256] = "", out[PRIV_MSG_MAX];
	int total = -1;
	assert_int_equal(lvm_list(P, -1, out, sizeof(out), &total, err, sizeof(err)), -EPERM);
	assert_int_equal(lvm_list(P, LVM_MAX_GB + 1, out, sizeof(out), &total, err, sizeof(err)),
	                 -EPERM);
	assert_int_equal(lvm_list(P, 0, out, sizeof(out), &total, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "lvs failed ("));
	assert_int_equal(total, 0);
}

/* the helper's device-mapper answer is dmsetup's: both say the same of this kernel */
static void dm_agrees_with_dmsetup(void **st)
{
	NEED_ROOT();
	char out[1024] = "", why[256], err[256] = "";
	struct lvm_argv a;
	lvm_argv_dm(&a);
	int st_run = proc_run(a.v, 30000, out, sizeof(out));
	int rc = lvm_dm(P, err, sizeof(err));
	if (st_run < 0) { /* no dmsetup at all: the row cannot run it either */
		assert_true(rc < 0);
		return;
	}
	if (lvm_dm_parse(out, why, sizeof(why)) == 0) {
		assert_int_equal(rc, 0);
	} else {
		assert_int_equal(rc, -ENODEV);
		assert_non_null(strstr(err, "no device-mapper in the kernel"));
		assert_non_null(strstr(err, why));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(refuses_bad_requests),
	    cmocka_unit_test(missing_group_is_lvms_answer),
	    cmocka_unit_test(remove_asks_lvm),
	    cmocka_unit_test(activate_and_adopt_run_lvm),
	    cmocka_unit_test(list_pages_are_checked),
	    cmocka_unit_test(dm_agrees_with_dmsetup),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

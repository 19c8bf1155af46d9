/* The storage agent's LVM rows of the privileged helper (storage-agent/lvm_priv.c), run
 * for real as root, first against a volume group that does not exist (nothing on the
 * host changes): every request naming anything but one of our LV names, or an out-of-range
 * size, is refused before lvm runs; a missing group is lvm's own answer, for a remove
 * too (a missing LV is decided by lvm, never by the /dev node); activation, the start's
 * adopt pass and the paged list are lvm's runs; and the device-mapper row agrees with
 * `dmsetup version`. Then against a real group on a loop device (below): the paged
 * list, the adopt pass, the remove of an inactive LV and the pool's kept figures.
 * Skipped when not run as root. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "lvm.h"
#include "priv.h"
#include "proc.h"
#include "storage-agent/lvm_priv.h"
#include "storage-agent/pool.h"

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
	assert_non_null(strstr(err, "lvchange failed ("));
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

/* ---- a real group on a loop device (no device-mapper needed) ----------------------
 * lvm with global{activation=0} writes an LV to the group's metadata without asking
 * the kernel, so these run on this box too: the LVs exist but are inactive, with no
 * /dev node, exactly as after a reboot without udev. The group, its PV and the loop
 * device are removed whatever happens (teardown). Skipped without losetup or lvm2. */

#define N_VOL 100 /* with N_SNAP and N_TMP: about 8.7 KiB of names, over one reply */
#define N_SNAP 100
#define N_TMP 10

static char rdir[128], rvg[64], rloop[64];
static struct priv *RP;
static struct priv_conf rpc;

static int sh(const char *const argv[])
{
	char out[2048];
	setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1);
	return proc_run(argv, 120000, out, sizeof(out));
}

static void id_of(int i, char out[40])
{
	snprintf(out, 40, "00000000-0000-4000-8000-%012d", i);
}

static int lv_make_inactive(const char *prefix, int i)
{
	char name[LVM_LV_MAX], id[40];
	id_of(i, id);
	snprintf(name, sizeof(name), "%s%s", prefix, id);
	const char *const argv[] = {"lvcreate", "--config", "global{activation=0} " LVM_NO_UDEV,
	                            "-q",       "-y",       "-an",
	                            "-Zn",      "-n",       name,
	                            "-L",       "4M",       rvg,
	                            NULL};
	return sh(argv);
}

static int real_teardown(void **st)
{
	if (rvg[0]) {
		const char *const vgrm[] = {"vgremove", "--config", LVM_NO_UDEV, "-q",
		                            "-y",       "-f",       rvg,         NULL};
		sh(vgrm);
	}
	if (rloop[0]) {
		const char *const pvrm[] = {"pvremove", "--config", LVM_NO_UDEV, "-q",
		                            "-y",       "-f",       rloop,       NULL};
		const char *const lodel[] = {"losetup", "-d", rloop, NULL};
		sh(pvrm);
		sh(lodel);
	}
	priv_free(RP);
	RP = NULL;
	if (rdir[0])
		fs_remove_tree(rdir);
	rdir[0] = rvg[0] = rloop[0] = 0;
	return 0;
}

static int real_setup(void **st)
{
	char err[256], img[160];
	if (geteuid() != 0 || !getpwnam("nubo"))
		return 0;
	snprintf(rdir, sizeof(rdir), "/tmp/nubo-test-lvm-real.%d", (int)getpid());
	fs_remove_tree(rdir);
	assert_int_equal(fs_mkdir_p(rdir, 0755), 0);
	snprintf(img, sizeof(img), "%s/pv.img", rdir);
	const char *const mk[] = {"truncate", "-s", "2G", img, NULL};
	const char *const lo[] = {"losetup", "-f", "--show", img, NULL};
	if (sh(mk) != 0 || proc_run(lo, 60000, rloop, sizeof(rloop)) != 0) {
		rloop[0] = 0;
		return 0; /* no loop device here: the tests skip */
	}
	rloop[strcspn(rloop, "\n")] = 0;
	snprintf(rvg, sizeof(rvg), "nubo-unit-real-%d", (int)getpid());
	const char *const pv[] = {"pvcreate", "--config", LVM_NO_UDEV, "-q", rloop, NULL};
	const char *const vgc[] = {"vgcreate", "--config", LVM_NO_UDEV, "-q", rvg, rloop, NULL};
	if (sh(pv) != 0 || sh(vgc) != 0) {
		rvg[0] = 0;
		return 0;
	}
	for (int i = 0; i < N_VOL; i++)
		assert_int_equal(lv_make_inactive("vol-", i), 0);
	for (int i = 0; i < N_SNAP; i++)
		assert_int_equal(lv_make_inactive("snap-", i), 0);
	for (int i = 0; i < N_TMP; i++)
		assert_int_equal(lv_make_inactive("tmp-", i), 0);
	/* an LV that is not ours: listed by lvm, never touched */
	const char *const other[] = {"lvcreate", "--config", "global{activation=0} " LVM_NO_UDEV,
	                             "-q",       "-y",       "-an",
	                             "-Zn",      "-n",       "root",
	                             "-L",       "4M",       rvg,
	                             NULL};
	assert_int_equal(sh(other), 0);
	rpc = (struct priv_conf){lvm_priv_ops, lvm_priv_n_ops, rdir, "nubo", rvg, report};
	RP = priv_start(&rpc, err, sizeof(err));
	assert_non_null(RP);
	return 0;
}

#define NEED_GROUP()                                                                               \
	do {                                                                                       \
		if (!RP)                                                                           \
			skip();                                                                    \
	} while (0)

/* every name of the group, page by page (more than one reply's worth) */
static int list_all(char names[][LVM_LV_MAX], int max, int *pages)
{
	char page[PRIV_MSG_MAX], err[256];
	int n = 0, total = 0;
	*pages = 0;
	do {
		assert_int_equal(lvm_list(RP, n, page, sizeof(page), &total, err, sizeof(err)), 0);
		(*pages)++;
		int got = 0;
		char *save = NULL;
		for (char *lv = strtok_r(page, "\n", &save); lv; lv = strtok_r(NULL, "\n", &save)) {
			assert_true(n < max);
			snprintf(names[n++], LVM_LV_MAX, "%s", lv);
			got++;
		}
		assert_true(got > 0);
	} while (n < total);
	return n;
}

static int has(char names[][LVM_LV_MAX], int n, const char *lv)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(names[i], lv))
			return 1;
	return 0;
}

/* M3: the list is not cut at one reply, and the start-time pass sees every name: all
 * tmp-* halves are removed, every volume and snapshot is given back (or, with no node,
 * counted and named as a failure), never a silent cut past ~186 names */
static void real_list_and_adopt_cover_every_lv(void **st)
{
	NEED_GROUP();
	static char names[N_VOL + N_SNAP + N_TMP + 8][LVM_LV_MAX];
	char out[PRIV_MSG_MAX], err[256] = "", lv[LVM_LV_MAX], id[40];
	int pages, n = list_all(names, N_VOL + N_SNAP + N_TMP + 8, &pages);
	assert_int_equal(n, N_VOL + N_SNAP + N_TMP + 1);
	assert_true(pages >= 2);
	id_of(N_VOL - 1, id);
	snprintf(lv, sizeof(lv), "vol-%s", id); /* sorts last of ours */
	assert_true(has(names, n, lv));
	assert_true(has(names, n, "root"));

	/* activation: lvm's answer (with device-mapper the LVs get their nodes) */
	int act = lvm_activate(RP, err, sizeof(err));
	assert_true(act == 0 || (act == -EIO && strstr(err, "lvchange failed (")));

	assert_int_equal(lvm_adopt(RP, out, sizeof(out), err, sizeof(err)), 0);
	int given = -1, removed = -1, failed = -1;
	assert_int_equal(sscanf(out, "given %d removed %d failed %d", &given, &removed, &failed),
	                 3);
	assert_int_equal(removed, N_TMP);
	assert_int_equal(given + failed, N_VOL + N_SNAP);
	if (act < 0) { /* inactive: no node to give, each one counted, named while they fit */
		assert_int_equal(failed, N_VOL + N_SNAP);
		id_of(0, id);
		char line[256];
		snprintf(line, sizeof(line), "snap-%s: /dev/%s/snap-%s: No such file or directory",
		         id, rvg, id);
		assert_non_null(strstr(out, line));
	}
	n = list_all(names, N_VOL + N_SNAP + N_TMP + 8, &pages);
	assert_int_equal(n, N_VOL + N_SNAP + 1);
	id_of(N_TMP - 1, id);
	snprintf(lv, sizeof(lv), "tmp-%s", id);
	assert_false(has(names, n, lv));
}

/* M2: an inactive LV has no /dev node but holds the volume's bytes: its remove must
 * remove it; a missing LV of the group is lvm's "not found", and success */
static void real_remove_of_inactive_lv(void **st)
{
	NEED_GROUP();
	static char names[N_VOL + N_SNAP + N_TMP + 8][LVM_LV_MAX];
	char err[256] = "", lv[LVM_LV_MAX], path[128], id[40];
	int pages;
	id_of(0, id);
	snprintf(lv, sizeof(lv), "vol-%s", id);
	assert_int_equal(lvm_dev_path(rvg, lv, path, sizeof(path)), 0);
	/* without device-mapper it has no node: the case the review found (with it, the
	 * remove of an active LV) */
	if (access(path, F_OK) < 0)
		assert_int_equal(errno, ENOENT);
	assert_int_equal(lvm_remove(RP, lv, err, sizeof(err)), 0);
	int n = list_all(names, N_VOL + N_SNAP + N_TMP + 8, &pages);
	assert_false(has(names, n, lv));
	/* again: lvm says it is not there, which is success */
	assert_int_equal(lvm_remove(RP, lv, err, sizeof(err)), 0);
	id_of(999, id);
	snprintf(lv, sizeof(lv), "snap-%s", id);
	assert_int_equal(lvm_remove(RP, lv, err, sizeof(err)), 0);
}

struct reading {
	struct pool *pool;
	int n, total_gb, free_gb;
	struct msg_resource *res;
};

static void *read_pool(void *arg)
{
	struct reading *r = arg;
	pool_space(r->pool, &r->total_gb, &r->free_gb);
	r->n = pool_list(r->pool, r->res, MSG_MAX_RESOURCES);
	return NULL;
}

/* L2: what the heartbeat sends (pool_space, pool_list) is the worker's own: with the
 * helper stopped (as when it runs a long lvcreate) both answer at once, and the list
 * is the whole group (M3, past one reply); a change the worker makes is in the list
 * when its call returns */
static void real_pool_reads_never_wait_for_lvm(void **st)
{
	NEED_GROUP();
	struct pool pool;
	char err[256] = "", note[2048] = "", dir[200], id[40];
	struct reading r = {&pool, -1, -1, -1, calloc(MSG_MAX_RESOURCES, sizeof(*r.res))};
	assert_non_null(r.res);
	snprintf(dir, sizeof(dir), "%s/pool", rdir);
	assert_int_equal(pool_open(&pool, dir, "key", 1 << 20, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(pool_lvm_start(&pool, rvg, RP, note, sizeof(note)), 0);

	pthread_t t;
	struct timespec until;
	assert_int_equal(kill(priv_pid(RP), SIGSTOP), 0);
	assert_int_equal(pthread_create(&t, NULL, read_pool, &r), 0);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	int joined = pthread_timedjoin_np(t, NULL, &until);
	kill(priv_pid(RP), SIGCONT);
	if (joined != 0)
		pthread_join(t, NULL);
	assert_int_equal(joined, 0);
	assert_int_equal(r.n, N_VOL - 1 + N_SNAP); /* vol-0 went in the test before */
	assert_int_equal(r.total_gb, 1);           /* a 2 GiB device less lvm's metadata */

	/* the worker's remove refreshes what it keeps before it returns */
	id_of(1, id);
	assert_int_equal(pool_remove(&pool, POOL_VOLUME, id, err, sizeof(err)), 0);
	r.n = -1;
	read_pool(&r);
	assert_int_equal(r.n, N_VOL - 2 + N_SNAP);
	for (int i = 0; i < r.n; i++)
		assert_false(r.res[i].kind == MSG_RES_VOLUME && !strcmp(r.res[i].id, id));
	pool_close(&pool);
	free(r.res);
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
	const struct CMUnitTest real[] = {
	    cmocka_unit_test(real_list_and_adopt_cover_every_lv),
	    cmocka_unit_test(real_remove_of_inactive_lv),
	    cmocka_unit_test(real_pool_reads_never_wait_for_lvm),
	};
	int rc = cmocka_run_group_tests(tests, setup, teardown);
	return rc | cmocka_run_group_tests(real, real_setup, real_teardown);
}

/* nubo-storage's pool on a temporary directory with the real qemu-img: empty volumes,
 * snapshots and clones as whole copies (same bytes, independent afterwards), extend,
 * idempotent repeats, removal that leaves nothing, and what the hello lists; empty
 * volumes as copies of per-size templates (same bytes, bounded, remade after a
 * restart), and the pure choice of the template to evict; the point-in-time copies
 * backups read. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pthread.h>

#include <cmocka.h>

#include "fsutil.h"
#include "proc.h"
#include "qemu_img.h"
#include "volfile.h"
#include "xalloc.h"
#include "storage-agent/pool.h"
#include "storage-agent/pool_template.h"

#define V1 "11111111-1111-4111-8111-111111111111"
#define S1 "22222222-2222-4222-8222-222222222222"
#define V2 "33333333-3333-4333-8333-333333333333"
#define V3 "44444444-4444-4444-8444-444444444444"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/nubo-pool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	fs_remove_tree(dir);
	return 0;
}

static int have_qemu_img(void)
{
	const char *const argv[] = {"qemu-img", "--version", NULL};
	return proc_run(argv, 10000, NULL, 0) == 0;
}

/* The guest-visible bytes of a volume file of fmt, as a digest of `qemu-img convert -O
 * raw`. */
static void fmt_digest(const char *path, const char *fmt, char out[65])
{
	char raw[128], text[256];
	snprintf(raw, sizeof(raw), "%s/digest.raw", dir);
	const char *const conv[] = {"qemu-img", "convert", "-f", fmt, "-O", "raw", path, raw, NULL};
	assert_int_equal(proc_run(conv, 60000, NULL, 0), 0);
	const char *const sum[] = {"sha256sum", raw, NULL};
	assert_int_equal(proc_run(sum, 60000, text, sizeof(text)), 0);
	memcpy(out, text, 64);
	out[64] = 0;
	unlink(raw);
}

static void raw_digest(const char *path, char out[65])
{
	fmt_digest(path, "qcow2", out);
}

static void fmt_write(const char *path, const char *fmt, int byte, long off)
{
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "write -P 0x%02x %ld 65536", byte, off);
	const char *const argv[] = {"qemu-io", "-f", fmt, "-c", cmd, path, NULL};
	assert_int_equal(proc_run(argv, 60000, NULL, 0), 0);
}

static void write_pattern(const char *path, int byte, long off)
{
	fmt_write(path, "qcow2", byte, off);
}

/* The format qemu-img sees in path ("qcow2", "raw"), probed. */
static void probed_format(const char *path, char *out, size_t len)
{
	char text[4096] = "";
	const char *const argv[] = {"qemu-img", "info", "--output=json", path, NULL};
	assert_int_equal(proc_run(argv, 60000, text, sizeof(text)), 0);
	const char *f = strstr(text, "\"format\": \"");
	assert_non_null(f);
	f += strlen("\"format\": \"");
	snprintf(out, len, "%.*s", (int)strcspn(f, "\""), f);
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcmp(s + n - m, tail);
}

/* The names the pool reads as volume files, and the format each names
 * (common/volfile.h); a file is found whatever its format. */
static void test_file_ext(void **state)
{
	const char *const q = V1 ".qcow2", *r = V1 ".raw";
	assert_string_equal(volfile_ext(q, strlen(q)), "qcow2");
	assert_string_equal(volfile_ext(r, strlen(r)), "raw");
	assert_null(volfile_ext(V1 ".vmdk", strlen(V1 ".vmdk")));
	assert_null(volfile_ext(V1, strlen(V1)));
	assert_null(volfile_ext(".raw", 4));
	assert_null(volfile_ext(V1 "raw", strlen(V1 "raw")));
	assert_true(volfile_format_ok("raw") && volfile_format_ok("qcow2"));
	assert_false(volfile_format_ok("vmdk") || volfile_format_ok(NULL));
	const char *fmt = NULL;
	char *p = volfile_find(dir, "volumes", V1, "raw", &fmt);
	assert_string_equal(fmt, "raw"); /* none there: the new one's name */
	assert_true(ends_with(p, "/volumes/" V1 ".raw"));
	free(p);
	char *d = xasprintf("%s/volumes", dir), *there = xasprintf("%s/" V1 ".qcow2", d);
	assert_int_equal(fs_mkdir_p(d, 0700), 0);
	FILE *f = fopen(there, "w");
	assert_non_null(f);
	fclose(f);
	p = volfile_find(dir, "volumes", V1, "raw", &fmt);
	assert_string_equal(fmt, "qcow2"); /* the one there */
	assert_string_equal(p, there);
	free(p);
	free(there);
	free(d);
}

/* volume_format = raw: new volumes, snapshots and clones are raw files named .raw (read
 * with the raw driver), copies keep the bytes, extend grows them; a qcow2 volume made
 * before the switch is still found, copied (into raw), extended and listed. */
static void test_pool_raw(void **state)
{
	if (!have_qemu_img())
		skip();
	struct pool p;
	char err[512] = "", fmt_seen[16], d1[65], d2[65];
	const char *fmt = NULL;
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	struct msg_vol_create c = {.size_gb = 1};
	assert_int_equal(pool_volume_create(&p, V1, &c, err, sizeof(err)), 0); /* qcow2 */
	char *old = pool_path(&p, POOL_VOLUME, V1);
	write_pattern(old, 0xcd, 0);
	raw_digest(old, d1);

	assert_int_equal(pool_set_format(&p, "vmdk"), -EINVAL);
	assert_int_equal(pool_set_format(&p, "raw"), 0);
	assert_string_equal(pool_format(&p), "raw");
	/* the old volume keeps its file and format */
	char *again = pool_locate(&p, POOL_VOLUME, V1, &fmt);
	assert_string_equal(again, old);
	assert_string_equal(fmt, "qcow2");
	/* a new one gets a sparse raw file */
	assert_int_equal(pool_volume_create(&p, V2, &c, err, sizeof(err)), 0);
	char *v2 = pool_locate(&p, POOL_VOLUME, V2, &fmt);
	assert_string_equal(fmt, "raw");
	assert_true(ends_with(v2, "/volumes/" V2 ".raw"));
	probed_format(v2, fmt_seen, sizeof(fmt_seen));
	assert_string_equal(fmt_seen, "raw");
	struct stat st;
	assert_int_equal(stat(v2, &st), 0);
	assert_int_equal(st.st_size, 1 << 30);
	assert_true(st.st_blocks * 512 < (1 << 20)); /* sparse */

	/* the qcow2 volume snapshotted into raw: the same bytes */
	assert_int_equal(pool_snapshot_create(&p, S1, V1, err, sizeof(err)), 0);
	char *s1 = pool_locate(&p, POOL_SNAPSHOT, S1, &fmt);
	assert_string_equal(fmt, "raw");
	assert_true(ends_with(s1, "/snapshots/" S1 ".raw"));
	fmt_digest(s1, "raw", d2);
	assert_string_equal(d1, d2);
	/* a volume from the raw snapshot, grown to 2 GiB: raw, the same first bytes */
	struct msg_vol_create from_snap = {.size_gb = 2, .source = "snapshot", .source_id = S1};
	assert_int_equal(pool_volume_create(&p, V3, &from_snap, err, sizeof(err)), 0);
	char *v3 = pool_locate(&p, POOL_VOLUME, V3, &fmt);
	assert_string_equal(fmt, "raw");
	assert_int_equal(stat(v3, &st), 0);
	assert_int_equal(st.st_size, 2ll << 30);
	/* a clone of the raw volume after the guest wrote a qcow2 header naming a host file
	 * at its start: the pool reads it as raw, so the clone has the same bytes (read as
	 * qcow2, the copy would follow the header's backing file or fail) */
	char hdr[256];
	snprintf(hdr, sizeof(hdr), "%s/hdr.qcow2", dir);
	const char *const mk[] = {"qemu-img", "create",        "-q", "-f", "qcow2", "-F", "raw",
	                          "-b",       "/etc/hostname", hdr,  "1M", NULL};
	assert_int_equal(proc_run(mk, 60000, NULL, 0), 0);
	char *hb = fs_read(hdr, 1 << 20, NULL);
	assert_non_null(hb);
	int vfd = open(v2, O_WRONLY | O_CLOEXEC);
	assert_true(vfd >= 0);
	assert_int_equal(pwrite(vfd, hb, 512, 0), 512);
	close(vfd);
	free(hb);
	fmt_write(v2, "raw", 0x5a, 4096);
	fmt_digest(v2, "raw", d1);
	struct msg_vol_create clone = {.size_gb = 1, .source = "volume", .source_id = V2};
	const char *V4 = "55555555-5555-4555-8555-555555555555";
	assert_int_equal(pool_volume_create(&p, V4, &clone, err, sizeof(err)), 0);
	char *v4 = pool_locate(&p, POOL_VOLUME, V4, &fmt);
	assert_string_equal(fmt, "raw");
	fmt_digest(v4, "raw", d2);
	assert_string_equal(d1, d2);

	/* extend: raw with -f raw, the old qcow2 with -f qcow2 */
	assert_int_equal(pool_volume_extend(&p, V2, 3, err, sizeof(err)), 0);
	assert_int_equal(stat(v2, &st), 0);
	assert_int_equal(st.st_size, 3ll << 30);
	assert_int_equal(pool_volume_extend(&p, V1, 2, err, sizeof(err)), 0);
	probed_format(old, fmt_seen, sizeof(fmt_seen));
	assert_string_equal(fmt_seen, "qcow2");

	/* the hello lists both formats, an id once even with a file of each format (an
	 * operator's conversion by hand); removal takes every name of it */
	char *stray = xasprintf("%s/volumes/%s.raw", dir, V1);
	assert_int_equal(link(old, stray), 0);
	struct msg_resource res[8];
	assert_int_equal(pool_list(&p, res, 8), 5);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V1, err, sizeof(err)), 0);
	assert_false(fs_exists(old));
	assert_false(fs_exists(stray));
	free(stray);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V2, err, sizeof(err)), 0);
	assert_false(fs_exists(v2));
	assert_int_equal(pool_remove(&p, POOL_SNAPSHOT, S1, err, sizeof(err)), 0);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V3, err, sizeof(err)), 0);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V4, err, sizeof(err)), 0);
	assert_int_equal(pool_list(&p, res, 8), 0);
	free(old);
	free(again);
	free(v2);
	free(s1);
	free(v3);
	free(v4);
	pool_close(&p);
}

static void test_pool(void **state)
{
	if (!have_qemu_img())
		skip();
	struct pool p;
	char err[512] = "", d1[65], d2[65], d3[65];
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	struct msg_vol_create c = {.size_gb = 1};
	assert_int_equal(pool_volume_create(&p, V1, &c, err, sizeof(err)), 0);
	char *v1 = pool_path(&p, POOL_VOLUME, V1);
	assert_true(fs_exists(v1));
	/* again: the same task after a restart finds it made */
	assert_int_equal(pool_volume_create(&p, V1, &c, err, sizeof(err)), 0);
	write_pattern(v1, 0xab, 0);
	raw_digest(v1, d1);

	assert_int_equal(pool_snapshot_create(&p, S1, V1, err, sizeof(err)), 0);
	char *s1 = pool_path(&p, POOL_SNAPSHOT, S1);
	raw_digest(s1, d2);
	assert_string_equal(d1, d2);
	/* a full copy: writing the volume leaves the snapshot as it was */
	write_pattern(v1, 0x11, 1 << 20);
	raw_digest(s1, d2);
	assert_string_equal(d1, d2);
	raw_digest(v1, d3);
	assert_string_not_equal(d1, d3);

	struct msg_vol_create from_snap = {.size_gb = 1, .source = "snapshot", .source_id = S1};
	assert_int_equal(pool_volume_create(&p, V2, &from_snap, err, sizeof(err)), 0);
	char *v2 = pool_path(&p, POOL_VOLUME, V2);
	raw_digest(v2, d2);
	assert_string_equal(d1, d2);

	struct msg_vol_create clone = {.size_gb = 1, .source = "volume", .source_id = V1};
	assert_int_equal(pool_volume_create(&p, V3, &clone, err, sizeof(err)), 0);
	char *v3 = pool_path(&p, POOL_VOLUME, V3);
	raw_digest(v3, d2);
	assert_string_equal(d3, d2);

	/* a source that is not there: refused, nothing left */
	struct msg_vol_create missing = {.size_gb = 1, .source = "volume", .source_id = S1};
	assert_int_equal(pool_volume_create(&p, S1, &missing, err, sizeof(err)), -ENOENT);

	struct msg_resource res[8];
	assert_int_equal(pool_list(&p, res, 8), 4);

	assert_int_equal(pool_volume_extend(&p, V1, 2, err, sizeof(err)), 0);
	assert_int_equal(pool_remove(&p, POOL_SNAPSHOT, S1, err, sizeof(err)), 0);
	assert_false(fs_exists(s1));
	assert_int_equal(pool_remove(&p, POOL_SNAPSHOT, S1, err, sizeof(err)), 0); /* again */
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V1, err, sizeof(err)), 0);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V2, err, sizeof(err)), 0);
	assert_int_equal(pool_remove(&p, POOL_VOLUME, V3, err, sizeof(err)), 0);
	assert_int_equal(pool_list(&p, res, 8), 0);
	int total, avail;
	pool_space(&p, &total, &avail);
	assert_true(total > 0);
	free(v1);
	free(v2);
	free(v3);
	free(s1);
	pool_close(&p);
}

static int count_templates(void)
{
	char tdir[96];
	snprintf(tdir, sizeof(tdir), "%s/templates", dir);
	const char *const argv[] = {"find", tdir, "-name", "*.qcow2", NULL};
	char out[4096] = "";
	assert_int_equal(proc_run(argv, 10000, out, sizeof(out)), 0);
	int n = 0;
	for (char *c = out; *c; c++)
		n += *c == '\n';
	return n;
}

static int same_bytes(const char *a, const char *b)
{
	const char *const argv[] = {"cmp", "-s", a, b, NULL};
	return proc_run(argv, 10000, NULL, 0) == 0;
}

static void test_templates(void **state)
{
	if (!have_qemu_img())
		skip();
	struct pool p;
	char err[512] = "", id[48], tpl[128];
	struct qemu_img_info info;
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	struct msg_vol_create c = {.size_gb = 1};
	assert_int_equal(pool_volume_create(&p, V1, &c, err, sizeof(err)), 0);
	assert_int_equal(pool_volume_create(&p, V2, &c, err, sizeof(err)), 0);
	char *v1 = pool_path(&p, POOL_VOLUME, V1), *v2 = pool_path(&p, POOL_VOLUME, V2);
	snprintf(tpl, sizeof(tpl), "%s/templates/%llu.qcow2", dir, 1ull << 30);
	/* both volumes are the template's bytes: what qemu-img made, a whole 1 GiB qcow2 */
	assert_true(same_bytes(v1, tpl));
	assert_true(same_bytes(v2, tpl));
	assert_int_equal(qemu_img_check(v2, "qcow2", &info, err, sizeof(err)), 0);
	assert_int_equal(info.virtual_size, 1ll << 30);
	/* independent files: a write to one leaves the other and the template empty */
	write_pattern(v1, 0x5a, 0);
	assert_false(same_bytes(v1, tpl));
	assert_true(same_bytes(v2, tpl));

	/* more sizes than the cache keeps: bounded, and each volume has its size */
	for (int gb = 2; gb <= POOL_TEMPLATES_MAX + 2; gb++) {
		snprintf(id, sizeof(id), "5555555%d-5555-4555-8555-555555555555", gb);
		struct msg_vol_create cg = {.size_gb = gb};
		assert_int_equal(pool_volume_create(&p, id, &cg, err, sizeof(err)), 0);
		char *v = pool_path(&p, POOL_VOLUME, id);
		assert_int_equal(qemu_img_check(v, "qcow2", &info, err, sizeof(err)), 0);
		assert_int_equal(info.virtual_size, (long long)gb << 30);
		free(v);
		assert_true(count_templates() <= POOL_TEMPLATES_MAX);
	}
	/* the least recently used (1 GiB) went; a create of that size makes it again */
	assert_false(fs_exists(tpl));
	assert_int_equal(pool_volume_create(&p, V3, &c, err, sizeof(err)), 0);
	assert_true(fs_exists(tpl));

	/* a template that is not a plain file is refused, nothing left behind */
	unlink(tpl);
	assert_int_equal(symlink(v1, tpl), 0);
	assert_true(pool_volume_create(&p, S1, &c, err, sizeof(err)) < 0);
	char *s1 = pool_path(&p, POOL_VOLUME, S1);
	assert_false(fs_exists(s1));
	assert_int_equal(pool_list(&p, (struct msg_resource[16]){0}, 16), POOL_TEMPLATES_MAX + 4);
	pool_close(&p);

	/* a restart empties the cache: templates are made by the qemu-img of that run */
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	assert_int_equal(count_templates(), 0);
	assert_int_equal(pool_volume_create(&p, S1, &c, err, sizeof(err)), 0);
	assert_true(same_bytes(s1, v2));
	free(v1);
	free(v2);
	free(s1);
	pool_close(&p);
}

struct racer {
	struct pool *p;
	char id[48];
	int rc;
};

static void *race_create(void *arg)
{
	struct racer *r = arg;
	char err[512];
	struct msg_vol_create c = {.size_gb = 3};
	r->rc = pool_volume_create(r->p, r->id, &c, err, sizeof(err));
	return NULL;
}

/* creates of one size racing on an empty cache: every one succeeds with the same
 * bytes, and one template is left */
static void test_templates_race(void **state)
{
	if (!have_qemu_img())
		skip();
	struct pool p;
	char err[512] = "";
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	struct racer r[4];
	pthread_t th[4];
	for (int i = 0; i < 4; i++) {
		r[i] = (struct racer){.p = &p};
		snprintf(r[i].id, sizeof(r[i].id), "6666666%d-6666-4666-8666-666666666666", i);
		assert_int_equal(pthread_create(&th[i], NULL, race_create, &r[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	char *first = pool_path(&p, POOL_VOLUME, r[0].id);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(r[i].rc, 0);
		char *v = pool_path(&p, POOL_VOLUME, r[i].id);
		assert_true(same_bytes(first, v));
		free(v);
	}
	assert_int_equal(count_templates(), 1);
	free(first);
	pool_close(&p);
}

/* The point-in-time copies backups read (copies/<backup id>.EXT): made by another agent
 * (here written by hand), listed in the hello as backups, found in either format, kept
 * over a restart (unlike tmp/), and dropped whatever their format; a drop of none is
 * success. */
static void test_copies(void **state)
{
	struct pool p;
	char err[512] = "";
	const char *fmt;
	struct msg_resource res[4];
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	assert_int_equal(pool_copies_list(&p, res, 4), 0);
	char *c1 = pool_copy_locate(&p, V1, &fmt);
	assert_string_equal(fmt, "qcow2"); /* the name a new one gets */
	char *want = xasprintf("%s/%s/%s.qcow2", dir, VOLFILE_COPIES, V1);
	assert_string_equal(c1, want);
	assert_int_equal(fs_write_atomic(c1, "x", 1, 0600), 0);
	char *c2 = xasprintf("%s/%s/%s.raw", dir, VOLFILE_COPIES, V2);
	assert_int_equal(fs_write_atomic(c2, "y", 1, 0600), 0);
	char *odd = xasprintf("%s/%s/not-a-uuid.qcow2", dir, VOLFILE_COPIES);
	assert_int_equal(fs_write_atomic(odd, "z", 1, 0600), 0);
	/* one still being made (its maker died): listed and dropped like a whole one */
	char *part = xasprintf("%s/%s/%s.qcow2%s", dir, VOLFILE_COPIES, V3, VOLFILE_PART);
	assert_int_equal(fs_write_atomic(part, "p", 1, 0600), 0);
	char *c = pool_copy_locate(&p, V2, &fmt);
	assert_string_equal(fmt, "raw");
	assert_string_equal(c, c2);
	free(c);
	/* a restart keeps them, and the hello lists both as backups */
	pool_close(&p);
	assert_int_equal(pool_open(&p, dir, "key", 1 << 30, 1 << 30, err, sizeof(err)), 0);
	assert_int_equal(pool_copies_list(&p, res, 4), 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(res[i].kind, MSG_RES_BACKUP);
		assert_string_equal(res[i].state, VOL_AVAILABLE);
		assert_true(!strcmp(res[i].id, V1) || !strcmp(res[i].id, V2) ||
		            !strcmp(res[i].id, V3));
	}
	assert_int_equal(pool_copies_list(&p, res, 1), 1); /* bounded */
	/* volumes and snapshots are listed apart: no copy among them */
	struct msg_resource all[8];
	assert_int_equal(pool_list(&p, all, 8), 0);
	assert_int_equal(pool_copy_drop(&p, V1, err, sizeof(err)), 0);
	assert_int_equal(pool_copy_drop(&p, V2, err, sizeof(err)), 0);
	assert_int_equal(pool_copy_drop(&p, V3, err, sizeof(err)), 0);
	assert_false(fs_exists(part));
	assert_int_equal(pool_copy_drop(&p, V3, err, sizeof(err)), 0); /* none: success */
	assert_false(fs_exists(c1));
	assert_false(fs_exists(c2));
	assert_true(fs_exists(odd)); /* not a copy's name: left alone */
	assert_int_equal(pool_copies_list(&p, res, 4), 0);
	pool_close(&p);
	free(c1);
	free(c2);
	free(odd);
	free(part);
	free(want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_pool_raw, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_ext, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_templates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_templates_race, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_copies, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

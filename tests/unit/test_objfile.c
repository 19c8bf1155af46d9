/* A PUT's directories (objfile.h): objfile_mkdirs_lazy makes the missing levels of a
 * hash directory and counts them, so that the PUT fsyncs exactly the parents whose
 * entries are new (objfile_sync_parents) after its rename. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <errno.h>
#include <ftw.h>

#include "object-store/objfile.h"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void test_mkdirs_lazy_counts_levels(void **state)
{
	char root[] = "/tmp/test_objfile.XXXXXX", dir[256], file[300];
	assert_non_null(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/objects/7/abc/0123abc", root);
	int made = 0;
	assert_int_equal(objfile_mkdirs_lazy(dir, &made), 0);
	assert_int_equal(made, 4); /* objects, 7, abc, 0123abc */
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	made = 0;
	assert_int_equal(objfile_mkdirs_lazy(dir, &made), 0);
	assert_int_equal(made, 0); /* all there: nothing to sync */
	snprintf(dir, sizeof(dir), "%s/objects/7/abd/0123abd", root);
	assert_int_equal(objfile_mkdirs_lazy(dir, &made), 0);
	assert_int_equal(made, 2); /* the suffix and the hash directory */
	objfile_sync_parents(dir, made);
	objfile_sync_parents(dir, 99); /* stops at the root */
	/* a file where a directory should be */
	snprintf(file, sizeof(file), "%s/objects/7/abe", root);
	FILE *f = fopen(file, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(dir, sizeof(dir), "%s/objects/7/abe/0123abe", root);
	made = 0;
	assert_int_not_equal(objfile_mkdirs_lazy(dir, &made), 0);
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

static void touch(const char *dir, const char *name)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

/* objfile_scan: the newest version and every version's name in one pass; other files
 * (temp names, junk) are neither; more versions than the caller's room is -1. */
static void test_scan_newest_and_versions(void **state)
{
	char root[] = "/tmp/test_objfile.XXXXXX", ts[OBJFILE_TS_LEN];
	char names[3][OBJFILE_NAME_MAX];
	int n = 99;
	assert_non_null(mkdtemp(root));
	DIR *d = opendir(root);
	assert_non_null(d);
	assert_int_equal(objfile_scan(d, ts, names, 3, &n), OBJFILE_NONE);
	assert_int_equal(n, 0);
	assert_string_equal(ts, "");
	touch(root, "1700000000.00001.data");
	touch(root, "1700000002.00000.ts");
	touch(root, "1700000001.00000.data");
	touch(root, "junk.data");
	touch(root, "1700000009.00000.data.tmp");
	assert_int_equal(objfile_scan(d, ts, names, 3, &n), OBJFILE_TOMBSTONE);
	assert_string_equal(ts, "1700000002.00000");
	assert_int_equal(n, 3);
	int seen = 0;
	for (int i = 0; i < n; i++)
		seen |= !strcmp(names[i], "1700000000.00001.data")   ? 1
		        : !strcmp(names[i], "1700000002.00000.ts")   ? 2
		        : !strcmp(names[i], "1700000001.00000.data") ? 4
		                                                     : 8;
	assert_int_equal(seen, 7);
	touch(root, "1700000003.00000.data");
	assert_int_equal(objfile_scan(d, ts, names, 3, &n), OBJFILE_DATA);
	assert_string_equal(ts, "1700000003.00000");
	assert_int_equal(n, -1);
	closedir(d);
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* objfile_newest reads the directory with getdents64 into a 4 KiB buffer: a directory
 * whose entries take several reads still yields its newest version (here the newest
 * is written last, among 400 other names), an empty or missing one none. */
static void test_newest_many_entries(void **state)
{
	char root[] = "/tmp/test_objfile.XXXXXX", ts[OBJFILE_TS_LEN], name[128];
	assert_non_null(mkdtemp(root));
	assert_int_equal(objfile_newest(root, ts), OBJFILE_NONE);
	assert_string_equal(ts, "");
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "put.%04d.a-rather-long-temp-name-to-fill-the-buffer",
		         i);
		touch(root, name);
	}
	touch(root, "1700000001.00000.data");
	touch(root, "1700000000.00000.ts");
	assert_int_equal(objfile_newest(root, ts), OBJFILE_DATA);
	assert_string_equal(ts, "1700000001.00000");
	/* objfile_newest_keep: the same answer, and the directory open for openat */
	int dfd = -2;
	assert_int_equal(objfile_newest_keep(root, ts, &dfd), OBJFILE_DATA);
	assert_true(dfd >= 0);
	int fd = openat(dfd, "1700000001.00000.data", O_RDONLY);
	assert_true(fd >= 0);
	close(fd);
	close(dfd);
	touch(root, "1700000005.00000.ts");
	assert_int_equal(objfile_newest(root, ts), OBJFILE_TOMBSTONE);
	assert_string_equal(ts, "1700000005.00000");
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(objfile_newest(root, ts), OBJFILE_NONE);
	assert_int_equal(objfile_newest_keep(root, ts, &dfd), OBJFILE_NONE);
	assert_int_equal(dfd, -1); /* no directory: nothing to close */
}

/* objfile_read_start: the header parsed and the object's first bytes from one read;
 * a file shorter than a header, or whose header is not a JSON object, is -EIO. */
static void test_read_start(void **state)
{
	char path[] = "/tmp/test_objfile.XXXXXX", buf[OBJFILE_HEADER + 64];
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	json_t *meta = NULL, *m = json_pack("{s:s,s:i}", "etag", "abc", "size", 10);
	assert_int_equal(objfile_header_write(fd, m), 0);
	json_decref(m);
	assert_int_equal(pwrite(fd, "0123456789", 10, OBJFILE_HEADER), 10);
	assert_int_equal(objfile_read_start(fd, buf, sizeof(buf), &meta), 10);
	assert_non_null(meta);
	assert_string_equal(json_string_value(json_object_get(meta, "etag")), "abc");
	assert_memory_equal(buf + OBJFILE_HEADER, "0123456789", 10);
	json_decref(meta);
	/* room for the header only: no object bytes */
	assert_int_equal(objfile_read_start(fd, buf, OBJFILE_HEADER, &meta), 0);
	assert_non_null(meta);
	json_decref(meta);
	/* the same parse as objfile_header_read */
	meta = objfile_header_read(fd);
	assert_non_null(meta);
	json_decref(meta);
	/* not an object */
	assert_int_equal(pwrite(fd, "[1]\0", 4, 0), 4);
	assert_int_equal(objfile_read_start(fd, buf, sizeof(buf), &meta), -EIO);
	assert_null(meta);
	assert_null(objfile_header_read(fd));
	/* shorter than a header */
	assert_int_equal(ftruncate(fd, 100), 0);
	assert_int_equal(objfile_read_start(fd, buf, sizeof(buf), &meta), -EIO);
	assert_null(meta);
	close(fd);
	unlink(path);
}

/* The arrival time a replicator's tombstone push carries: only a plain number of
 * seconds, not in the future, is taken (else the copy keeps its own write time). */
static void test_written_at(void **state)
{
	time_t now = 1800000000;
	assert_int_equal(objfile_written_at("1799999000", now), 1799999000);
	assert_int_equal(objfile_written_at("1800000000", now), 1800000000);
	assert_int_equal(objfile_written_at("1800000001", now), 0); /* future */
	assert_int_equal(objfile_written_at(NULL, now), 0);
	assert_int_equal(objfile_written_at("", now), 0);
	assert_int_equal(objfile_written_at("0", now), 0);
	assert_int_equal(objfile_written_at("-5", now), 0);
	assert_int_equal(objfile_written_at("17e8", now), 0);
	assert_int_equal(objfile_written_at("99999999999999999999999", now), 0);
	assert_int_equal(objfile_written_at(" 1799999000", now), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mkdirs_lazy_counts_levels),
	    cmocka_unit_test(test_scan_newest_and_versions),
	    cmocka_unit_test(test_written_at),
	    cmocka_unit_test(test_newest_many_entries),
	    cmocka_unit_test(test_read_start),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* common/lru.c: which entries the eviction picks (recency, byte and count bounds,
 * kept entries, entries in use elsewhere), and the directory pass on real files. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fsutil.h"
#include "lru.h"

static void count_bound(void **state)
{
	struct lru_entry e[4] = {{.used = {100, 5}},
	                         {.used = {100, 2}},
	                         {.used = {300, 0}},
	                         {.used = {50, 0}, .keep = 1}};
	int v[4];
	assert_int_equal(lru_choose(e, 4, 4, -1, v), 0); /* within the bound */
	assert_int_equal(lru_choose(e, 3, 2, -1, v), 1); /* oldest by nanoseconds too */
	assert_int_equal(v[0], 1);
	assert_int_equal(lru_choose(e, 4, 3, -1, v), 1); /* the kept one is never chosen */
	assert_int_equal(v[0], 1);
	assert_int_equal(lru_choose(e, 4, 1, -1, v), 3); /* in removal order */
	assert_int_equal(v[0], 1);
	assert_int_equal(v[1], 0);
	assert_int_equal(v[2], 2);
	e[0].used = e[1].used;
	assert_int_equal(lru_choose(e, 4, 3, -1, v), 1); /* the first of equals */
	assert_int_equal(v[0], 0);
	struct lru_entry only[1] = {{.keep = 1}};
	assert_int_equal(lru_choose(only, 1, 0, -1, v), 0); /* nothing else to remove */
	assert_int_equal(lru_choose(NULL, 0, 0, 0, v), 0);
}

static void byte_bound(void **state)
{
	/* a: old and large, b: newer, c: oldest but in use (0 bytes, kept), d: just used */
	struct lru_entry e[4] = {{.used = {10, 0}, .bytes = 600},
	                         {.used = {20, 0}, .bytes = 300},
	                         {.used = {5, 0}, .bytes = 0, .keep = 1},
	                         {.used = {30, 0}, .bytes = 400, .keep = 1}};
	int v[4];
	assert_int_equal(lru_choose(e, 4, 100, 1300, v), 0); /* 1300 fit */
	assert_int_equal(lru_choose(e, 4, 100, 1000, v), 1); /* a goes: 700 left */
	assert_int_equal(v[0], 0);
	assert_int_equal(lru_choose(e, 4, 100, 500, v), 2); /* a, then b: 400 left */
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 1);
	/* the kept entry alone is over the bound: it stays, nothing else is left */
	assert_int_equal(lru_choose(e, 4, 100, 0, v), 2);
	/* both bounds at once: the count asks for more than the bytes */
	assert_int_equal(lru_choose(e, 4, 3, 1000, v), 1);
	assert_int_equal(lru_choose(e, 4, 2, 1000, v), 2);
}

static int txt(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && !strcmp(name + n - 4, ".txt");
}

static int n_removed;
static void removed(int dirfd, const char *name, void *arg)
{
	n_removed++;
	assert_ptr_equal(arg, &n_removed);
}

static void write_aged(const char *dir, const char *name, time_t mtime)
{
	char path[300], data[8192];
	memset(data, 'x', sizeof(data));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(fs_write_atomic(path, data, sizeof(data), 0600), 0);
	struct timespec t[2] = {{mtime, 0}, {mtime, 0}};
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void dir_pass(void **state)
{
	char dir[] = "/tmp/nubo-test-lru.XXXXXX", path[300], link2[300];
	assert_non_null(mkdtemp(dir));
	write_aged(dir, "old.txt", 1000);
	write_aged(dir, "mid.txt", 2000);
	write_aged(dir, "new.txt", 3000);
	write_aged(dir, "other.bin", 10); /* not an entry */
	snprintf(path, sizeof(path), "%s/old.txt", dir);
	snprintf(link2, sizeof(link2), "%s/old.link", dir);
	assert_int_equal(link(path, link2), 0); /* old.txt is in use elsewhere */
	struct lru_dir d = {.dir = dir,
	                    .match = txt,
	                    .keep = "new.txt",
	                    .max_n = 1,
	                    .max_bytes = -1,
	                    .links_in_use = 1,
	                    .removed = removed,
	                    .arg = &n_removed};
	assert_int_equal(lru_dir_evict(&d), 1); /* only mid.txt may go */
	assert_int_equal(n_removed, 1);
	snprintf(path, sizeof(path), "%s/mid.txt", dir);
	assert_false(fs_exists(path));
	snprintf(path, sizeof(path), "%s/old.txt", dir);
	assert_true(fs_exists(path));
	/* without the in-use rule a linked file is an entry like any other */
	d.links_in_use = 0;
	assert_int_equal(lru_dir_evict(&d), 1);
	assert_false(fs_exists(path));
	snprintf(path, sizeof(path), "%s/other.bin", dir);
	assert_true(fs_exists(path));
	d.dir = "/nonexistent";
	assert_true(lru_dir_evict(&d) < 0);
	assert_int_equal(fs_remove_tree(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(count_bound),
	    cmocka_unit_test(byte_bound),
	    cmocka_unit_test(dir_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

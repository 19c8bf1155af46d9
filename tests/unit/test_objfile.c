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
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mkdirs_lazy_counts_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

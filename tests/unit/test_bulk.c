/* Swift bulk middleware: bulk-delete lines (URL-encoded, hostile), tar header blocks
 * (ustar prefix, GNU headers without one, checksum, sizes that do not fit), pax records
 * (strict LEN), and extraction summaries that need no store (every item refused: the
 * failure bound, names that are not UTF-8). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdint.h>

#include "object-store/bulk.h"

static void path_ok(const char *line, const char *c, const char *o)
{
	char *pc, *po;
	assert_int_equal(bulk_delete_path(line, strlen(line), &pc, &po), 0);
	assert_string_equal(pc, c);
	if (o)
		assert_string_equal(po, o);
	else
		assert_null(po);
	free(pc);
	free(po);
}

static void test_delete_path(void **state)
{
	path_ok("/c/o", "c", "o");
	path_ok("c/o", "c", "o");
	path_ok("/c", "c", NULL);
	path_ok("/c/", "c", NULL);
	path_ok("/c/dir%20x/o%2Fp\r", "c", "dir x/o/p");
	path_ok("  /c/o  ", "c", "o");
	path_ok("%2Fc/o", "c", "o");
	char *pc, *po;
	assert_int_equal(bulk_delete_path("", 0, &pc, &po), 1);
	assert_int_equal(bulk_delete_path(" \r", 2, &pc, &po), 1);
	static const char *const bad[] = {"/", "///", "/c%zz/o", "/c/o%00", "/c%0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bulk_delete_path(bad[i], strlen(bad[i]), &pc, &po), -EINVAL);
		assert_null(pc);
		assert_null(po);
	}
	/* n bounds the line: bytes after it are not read */
	path_ok("/c/o\n/d/p", "c", "o\n/d/p");
	assert_int_equal(bulk_delete_path("/c/o\n/d/p", 4, &pc, &po), 0);
	assert_string_equal(po, "o");
	free(pc);
	free(po);
}

static void checksum(unsigned char b[512])
{
	unsigned sum = 0;
	memset(b + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
}

/* A ustar header block for name (and prefix) of size bytes and type. */
static void mk(unsigned char b[512], const char *prefix, const char *name, const char *size,
               char type)
{
	memset(b, 0, 512);
	memcpy(b, name, strlen(name));
	memcpy(b + 100, "0000644", 7);
	memcpy(b + 124, size, strlen(size));
	b[156] = (unsigned char)type;
	memcpy(b + 257,
	       "ustar\0"
	       "00",
	       8);
	if (prefix)
		memcpy(b + 345, prefix, strlen(prefix));
	unsigned sum = 0;
	memset(b + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
}

static void test_tar_header(void **state)
{
	unsigned char b[512];
	struct bulk_tar_header h;
	mk(b, NULL, "dir/file.txt", "00000000005", '0');
	assert_int_equal(bulk_tar_header_parse(b, &h), 0);
	assert_string_equal(h.name, "dir/file.txt");
	assert_int_equal(h.size, 5);
	assert_int_equal(h.type, '0');
	mk(b, "long/prefix", "name", "17777777777 ", '0'); /* 2 GiB - 1 */
	assert_int_equal(bulk_tar_header_parse(b, &h), 0);
	assert_string_equal(h.name, "long/prefix/name");
	assert_int_equal(h.size, 2147483647);
	/* a full 100-byte name without its NUL */
	char n100[101];
	memset(n100, 'n', 100);
	n100[100] = '\0';
	mk(b, NULL, n100, "0", '0');
	assert_int_equal(bulk_tar_header_parse(b, &h), 0);
	assert_int_equal(strlen(h.name), 100);
	/* the end block */
	memset(b, 0, 512);
	assert_int_equal(bulk_tar_header_parse(b, &h), 1);
	/* a checksum that does not add up */
	mk(b, NULL, "f", "1", '0');
	b[0] ^= 1;
	assert_int_equal(bulk_tar_header_parse(b, &h), -EINVAL);
	/* base-256 sizes, sizes past the object bound, garbage in the size */
	mk(b, NULL, "f", "", '0');
	b[124] = 0x80;
	unsigned sum = 0;
	memset(b + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06o", sum);
	assert_int_equal(bulk_tar_header_parse(b, &h), -EINVAL);
	mk(b, NULL, "f", "77777777777", '0'); /* 8 GiB - 1 > 5 GiB */
	assert_int_equal(bulk_tar_header_parse(b, &h), -EINVAL);
	mk(b, NULL, "f", "12x4", '0');
	assert_int_equal(bulk_tar_header_parse(b, &h), -EINVAL);
	/* GNU format (tar -G, --incremental): magic "ustar  \0", atime and ctime at 345 and
	 * 357 where ustar has its prefix; the name is the name field alone */
	mk(b, NULL, "gnu/file.txt", "3", '0');
	memcpy(b + 257, "ustar  ", 8);
	memcpy(b + 345, "14537357121", 11); /* atime */
	memcpy(b + 357, "14537357122", 11); /* ctime */
	checksum(b);
	assert_int_equal(bulk_tar_header_parse(b, &h), 0);
	assert_string_equal(h.name, "gnu/file.txt");
	assert_int_equal(h.size, 3);
}

static void pax_ok(const char *rec, const char *want)
{
	char *path = (char *)1;
	assert_int_equal(bulk_pax_path(rec, strlen(rec), &path), 0);
	if (want)
		assert_string_equal(path, want);
	else
		assert_null(path);
	free(path);
}

static void test_pax_path(void **state)
{
	pax_ok("13 path=a/bc\n", "a/bc");
	pax_ok("20 mtime=1700000000\n13 path=a/bc\n", "a/bc");
	pax_ok("20 mtime=1700000000\n", NULL);
	pax_ok("", NULL);
	pax_ok("11 path=a/\n13 path=a/bc\n", "a/bc"); /* the last one wins */
	static const char *const bad[] = {
	    " 13 path=a/bc\n",             /* whitespace before LEN */
	    "+13 path=a/bc\n",             /* a sign */
	    "013path=a/bc\n",              /* no space */
	    "3 path=a/bc\n",               /* LEN shorter than its own header */
	    "2 \n",                        /* LEN covers "2 " only */
	    "4 p\n",                       /* no '=' */
	    "14 path=a/bc\n",              /* past the buffer */
	    "12 path=a/bc\n",              /* the record does not end in '\n' */
	    "13 path=a/bc\nx",             /* garbage after a record */
	    "9999999999999 path=a/bc\n",   /* 13 digits */
	    "13 path=a/bc\n5 a=b\n6 a=\n", /* a bad record after a good path */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *path = (char *)1;
		assert_int_equal(bulk_pax_path(bad[i], strlen(bad[i]), &path), -EINVAL);
		assert_null(path);
	}
}

/* may_write that refuses every object (no store is touched). */
static int refuse(void *arg, const char *container, int object)
{
	return 0;
}

/* Extracts a tar of n empty files named names[i % nnames] under the account with every
 * write refused; returns the JSON summary (owned). */
static json_t *extract_refused(const char *const *names, int nnames, int n)
{
	struct bulk_target t = {NULL, "AUTH_x", refuse, NULL};
	struct bulk *b = bulk_extract_new(&t, NULL, NULL);
	unsigned char blk[512];
	int done = 0;
	for (int i = 0; i < n && !done; i++) {
		mk(blk, NULL, names[i % nnames], "0", '0');
		done = bulk_body(b, (const char *)blk, 512);
	}
	memset(blk, 0, sizeof(blk));
	if (!done)
		bulk_body(b, (const char *)blk, 512);
	size_t len;
	char *out = bulk_finish(b, 1, &len);
	bulk_free(b);
	json_t *j = json_loadb(out, len, 0, NULL);
	assert_non_null(j);
	free(out);
	return j;
}

static void test_extract_summary(void **state)
{
	/* past BULK_MAX_FAILED failures: stopped, and said so (not "too many containers") */
	static const char *const refused[] = {"c/o"};
	json_t *j = extract_refused(refused, 1, BULK_MAX_FAILED + 5);
	assert_string_equal(json_string_value(json_object_get(j, "Response Body")),
	                    "Max extraction failures exceeded");
	assert_string_equal(json_string_value(json_object_get(j, "Response Status")),
	                    "400 Bad Request");
	assert_int_equal(json_array_size(json_object_get(j, "Errors")), BULK_MAX_FAILED);
	json_decref(j);
	/* a name that is not UTF-8 is listed, quoted as Swift does; so is one with a space */
	static const char *const names[] = {"c/bad\xff\xfe.txt", "c/a b.txt"};
	j = extract_refused(names, 2, 2);
	json_t *errs = json_object_get(j, "Errors");
	assert_int_equal(json_array_size(errs), 2);
	assert_string_equal(json_string_value(json_array_get(json_array_get(errs, 0), 0)),
	                    "/c/bad%FF%FE.txt");
	assert_string_equal(json_string_value(json_array_get(json_array_get(errs, 0), 1)),
	                    "400 Bad Request");
	assert_string_equal(json_string_value(json_array_get(json_array_get(errs, 1), 0)),
	                    "/c/a%20b.txt");
	assert_string_equal(json_string_value(json_array_get(json_array_get(errs, 1), 1)),
	                    "403 Forbidden");
	assert_string_equal(json_string_value(json_object_get(j, "Response Body")), "");
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_path),
	    cmocka_unit_test(test_tar_header),
	    cmocka_unit_test(test_pax_path),
	    cmocka_unit_test(test_extract_summary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

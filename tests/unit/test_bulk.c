/* Swift bulk middleware pure parts: bulk-delete lines (URL-encoded, hostile) and tar
 * header blocks (ustar prefix, checksum, sizes that do not fit). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_delete_path),
	    cmocka_unit_test(test_tar_header),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

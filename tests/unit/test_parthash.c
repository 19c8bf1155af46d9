/* Per-partition suffix hashes (object-store/parthash.h): the suffix hash, the cache
 * file's text against hostile content, the merge of invalidations, and the cache on a
 * real directory (what a rehash sees, what it keeps). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include <cmocka.h>
#include <ftw.h>

#include "object-store/objserver.h"
#include "object-store/parthash.h"

#define H1 "0123456789abcdef0123456789abcdef"
#define H2 "fedcba9876543210fedcba9876543210"

static struct parthash *ph_new(void)
{
	struct parthash *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	return h;
}

static void test_suffix_index(void **state)
{
	assert_int_equal(parthash_suffix_index("000", 3), 0);
	assert_int_equal(parthash_suffix_index("fff", 3), 4095);
	assert_int_equal(parthash_suffix_index("a1c", 3), 0xa1c);
	assert_int_equal(parthash_suffix_index("A1C", 3), -1); /* lowercase only */
	assert_int_equal(parthash_suffix_index("a1", 2), -1);
	assert_int_equal(parthash_suffix_index("a1cd", 4), -1);
	assert_int_equal(parthash_suffix_index("g00", 3), -1);
	assert_int_equal(parthash_suffix_index("..", 2), -1);
	char name[4];
	for (int i = 0; i < PARTHASH_SUFFIXES; i += 97) {
		parthash_suffix_name(i, name);
		assert_int_equal(parthash_suffix_index(name, 3), i);
	}
}

/* Pure: the digest depends on the newest versions only, not on the listing's order. */
static void test_digest_is_order_free(void **state)
{
	struct objentry a[2] = {{H1, "1700000000.00000.data"}, {H2, "1700000001.00000.ts"}};
	struct objentry b[2] = {{H2, "1700000001.00000.ts"}, {H1, "1700000000.00000.data"}};
	char da[33], db[33], dc[33], empty[33];
	parthash_digest(a, 2, da);
	parthash_digest(b, 2, db);
	assert_string_equal(da, db);
	snprintf(b[1].file, sizeof(b[1].file), "1700000002.00000.data"); /* a newer version */
	parthash_digest(b, 2, dc);
	assert_string_not_equal(da, dc);
	parthash_digest(NULL, 0, empty);
	assert_string_equal(empty, "d41d8cd98f00b204e9800998ecf8427e"); /* md5("") */
}

static void test_format_parse_round_trip(void **state)
{
	struct parthash *h = ph_new(), *g = ph_new();
	h->state[0] = PARTHASH_VALID;
	memcpy(h->hash[0], H1, 33);
	h->state[0xabc] = PARTHASH_INVALID;
	h->state[4095] = PARTHASH_VALID;
	memcpy(h->hash[4095], H2, 33);
	size_t len;
	char *s = parthash_format(h, &len);
	assert_string_equal(s, PARTHASH_MAGIC "000 " H1 "\nabc -\nfff " H2 "\n");
	assert_int_equal(len, strlen(s));
	assert_int_equal(parthash_parse(s, len, g), 0);
	assert_memory_equal(g->state, h->state, sizeof(h->state));
	assert_string_equal(g->hash[0], H1);
	assert_string_equal(g->hash[4095], H2);
	free(s);
	/* nothing but the magic: every suffix absent */
	assert_int_equal(parthash_parse(PARTHASH_MAGIC, strlen(PARTHASH_MAGIC), g), 0);
	for (int i = 0; i < PARTHASH_SUFFIXES; i++)
		assert_int_equal(g->state[i], PARTHASH_ABSENT);
	free(h);
	free(g);
}

/* Anything but the exact text is refused whole (and leaves nothing set): the cache is
 * then rebuilt. */
static void test_parse_refuses_hostile(void **state)
{
	static const char *const bad[] = {
	    "",
	    "nubo-parthash 2\n",
	    "000 " H1 "\n",                                          /* no magic */
	    PARTHASH_MAGIC "000 " H1,                                /* torn: last line not ended */
	    PARTHASH_MAGIC "000 " H1 "\n000 " H2 "\n",               /* twice */
	    PARTHASH_MAGIC "000 0123456789ABCDEF0123456789abcdef\n", /* uppercase */
	    PARTHASH_MAGIC "000 " H1 "0\n",                          /* 33 digits */
	    PARTHASH_MAGIC "000  " H1 "\n",                          /* two spaces */
	    PARTHASH_MAGIC "0000 " H1 "\n",                          /* four-digit suffix */
	    PARTHASH_MAGIC "../ " H1 "\n",                           /* a path */
	    PARTHASH_MAGIC "000 --\n",
	    PARTHASH_MAGIC "\n",
	    PARTHASH_MAGIC "000 " H1 "\r\n",
	};
	struct parthash *g = ph_new();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parthash_parse(bad[i], strlen(bad[i]), g), -EINVAL);
		for (int k = 0; k < PARTHASH_SUFFIXES; k++)
			assert_int_equal(g->state[k], PARTHASH_ABSENT);
	}
	/* a NUL inside the text */
	char nul[] = PARTHASH_MAGIC "000 " H1 "\nabc -\n";
	nul[strlen(PARTHASH_MAGIC) + 2] = '\0';
	assert_int_equal(parthash_parse(nul, sizeof(nul) - 1, g), -EINVAL);
	assert_int_equal(parthash_parse(NULL, 0, g), -EINVAL);
	free(g);
}

static void test_merge_invalid(void **state)
{
	struct parthash *h = ph_new();
	h->state[0x123] = PARTHASH_VALID;
	memcpy(h->hash[0x123], H1, 33);
	const char *inv = "123\n7ff\n123\n";
	assert_int_equal(parthash_merge_invalid(h, inv, strlen(inv)), 3);
	assert_int_equal(h->state[0x123], PARTHASH_INVALID);
	assert_int_equal(h->state[0x7ff], PARTHASH_INVALID); /* a new suffix */
	assert_int_equal(h->state[0x124], PARTHASH_ABSENT);
	assert_int_equal(parthash_merge_invalid(h, "", 0), 0);
	/* a torn or foreign line: the caller rehashes everything */
	assert_int_equal(parthash_merge_invalid(h, "123", 3), -EINVAL);
	assert_int_equal(parthash_merge_invalid(h, "123\nXYZ\n", 8), -EINVAL);
	assert_int_equal(parthash_merge_invalid(h, "1234\n", 5), -EINVAL);
	free(h);
}

static void test_entries_find(void **state)
{
	struct objentries es = {0};
	objentries_add(&es, H2, "1700000001.00000.ts");
	objentries_add(&es, H1, "1700000000.00000.data");
	objentries_sort(&es);
	assert_string_equal(objentries_find(&es, H1), "1700000000.00000.data");
	assert_string_equal(objentries_find(&es, H2), "1700000001.00000.ts");
	assert_null(objentries_find(&es, "00000000000000000000000000000000"));
	objentries_release(&es);
	struct objentries none = {0};
	assert_null(objentries_find(&none, H1));
}

/* ------------------------------------------------------------------ on a directory */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void put_file(const char *part, const char *hash, const char *file)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", part, hash + 29);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/%s/%s", part, hash + 29, hash);
	mkdir(p, 0750);
	snprintf(p, sizeof(p), "%s/%s/%s/%s", part, hash + 29, hash, file);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fclose(f);
}

static void invalidate(const char *part, const char *hash)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s/%s", part, hash + 29, hash);
	assert_int_equal(parthash_invalidate(p), 0);
}

static void write_text(const char *part, const char *name, const char *text)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", part, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_cache_rehashes_only_invalid(void **state)
{
	char part[] = "/tmp/test_parthash.XXXXXX";
	assert_non_null(mkdtemp(part));
	struct parthash *h = ph_new(), *g = ph_new();
	long n = -1;
	/* no cache yet: every suffix on disk is hashed */
	put_file(part, H1, "1700000000.00000.data");
	put_file(part, H2, "1700000001.00000.ts");
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(h->state[0xdef], PARTHASH_VALID);
	assert_int_equal(h->state[0x210], PARTHASH_VALID);
	char def[33];
	memcpy(def, h->hash[0xdef], 33);
	/* unchanged: nothing rehashed, the same answer */
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 0);
	assert_memory_equal(g->state, h->state, sizeof(h->state));
	assert_string_equal(g->hash[0xdef], def);
	/* a write that is not invalidated is not seen (the cache is trusted)... */
	put_file(part, H1, "1700000005.00000.data");
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 0);
	assert_string_equal(g->hash[0xdef], def);
	/* ...until its suffix is invalidated: only that one is rehashed */
	invalidate(part, H1);
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 1);
	assert_string_not_equal(g->hash[0xdef], def);
	assert_string_equal(g->hash[0x210], h->hash[0x210]);
	/* a full rehash finds what a lost invalidation hid */
	memcpy(def, g->hash[0xdef], 33);
	put_file(part, H1, "1700000009.00000.ts");
	assert_int_equal(parthash_get(part, 1, g, &n), 0);
	assert_int_equal(n, 2);
	assert_string_not_equal(g->hash[0xdef], def);
	assert_int_equal(nftw(part, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(h);
	free(g);
}

/* A corrupt cache or invalidations file is rebuilt from the directory; an emptied
 * suffix drops out; a tombstone past the reclaim age is removed when its suffix is
 * hashed. */
static void test_cache_rebuilt_and_reclaims(void **state)
{
	char part[] = "/tmp/test_parthash.XXXXXX";
	assert_non_null(mkdtemp(part));
	struct parthash *h = ph_new(), *g = ph_new();
	long n;
	put_file(part, H1, "1700000000.00000.data");
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	write_text(part, PARTHASH_FILE, "nubo-parthash 1\n000 garbage\n");
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(g->hash[0xdef], h->hash[0xdef]);
	assert_int_equal(g->state[0], PARTHASH_ABSENT);
	write_text(part, PARTHASH_INVALID_FILE, "not a suffix\n");
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(g->hash[0xdef], h->hash[0xdef]);
	assert_int_equal(parthash_get(part, 0, g, &n), 0); /* and emptied */
	assert_int_equal(n, 0);
	/* invalidations past the bound: the file stops growing, and means everything */
	char inv[512];
	snprintf(inv, sizeof(inv), "%s/" PARTHASH_INVALID_FILE, part);
	for (int i = 0; i < PARTHASH_INVALID_MAX / 4 + 100; i++)
		invalidate(part, H1);
	struct stat ist;
	assert_int_equal(stat(inv, &ist), 0);
	assert_true(ist.st_size > PARTHASH_INVALID_MAX && ist.st_size <= PARTHASH_INVALID_MAX + 4);
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(stat(inv, &ist), 0);
	assert_int_equal(ist.st_size, 0);
	/* an old tombstone: reclaimed by the rehash, the suffix then empty */
	char p[512];
	snprintf(p, sizeof(p), "%s/%s/%s/1000000000.00000.ts", part, H2 + 29, H2);
	put_file(part, H2, "1000000000.00000.ts");
	struct utimbuf old = {1000000000, 1000000000};
	assert_int_equal(utime(p, &old), 0);
	invalidate(part, H2);
	assert_int_equal(parthash_get(part, 0, g, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(g->state[0x210], PARTHASH_ABSENT);
	struct stat st;
	assert_int_not_equal(stat(p, &st), 0);
	/* the partition gone: -ENOENT, nothing */
	assert_int_equal(nftw(part, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	assert_int_equal(parthash_get(part, 0, g, &n), -ENOENT);
	assert_int_equal(g->state[0xdef], PARTHASH_ABSENT);
	assert_int_equal(parthash_invalidate("/nonexistent/objects/1/def/" H1), -ENOENT);
	assert_int_equal(parthash_invalidate("/x/objects/1/def/short"), -EINVAL);
	free(h);
	free(g);
}

/* parthash_get with at most `spare` descriptors free beyond the lowest one free now. */
static int get_with_fds(const char *part, int full, struct parthash *h, int spare)
{
	int lowest = dup(0);
	assert_true(lowest >= 0);
	close(lowest);
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = (rlim_t)(lowest + spare);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	long n;
	int rc = parthash_get(part, full, h, &n);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	return rc;
}

/* A listing that failed (here EMFILE: the partition and invalidations files open, then
 * no descriptor left to list the partition, or a hash directory) is not "nothing here":
 * the get fails, and the cache does not keep the suffix as empty, so the next get
 * (without the pressure, not full) finds the object. Review s13 H2. */
static void test_listing_error_is_not_empty(void **state)
{
	char part[] = "/tmp/test_parthash.XXXXXX";
	assert_non_null(mkdtemp(part));
	struct parthash *h = ph_new();
	long n;
	put_file(part, H1, "1700000000.00000.data");
	for (int spare = 2; spare <= 3; spare++) { /* partition dir, then hash dir */
		assert_int_equal(get_with_fds(part, 1, h, spare), -EMFILE);
		assert_int_equal(parthash_get(part, 0, h, &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(h->state[0xdef], PARTHASH_VALID);
	}
	/* and the suffix listing itself reports it */
	struct objentries es = {0};
	int lowest = dup(0);
	close(lowest);
	struct rlimit was, low;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &was), 0);
	low = was;
	low.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	long lr = parthash_list_suffix(part, "def", 0, 0, &es);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &was), 0);
	assert_int_equal(lr, -EMFILE);
	assert_int_equal(parthash_list_suffix(part, "123", 0, 0, &es), 0); /* none: empty */
	objentries_release(&es);
	assert_int_equal(nftw(part, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(h);
}

/* A quarantine (a writer like PUT and DELETE) reports an invalidation it could not
 * append (here hashes.invalid is a directory: EISDIR, even for root): the GET then
 * answers 500, not a 404 that leaves the cache naming the gone version. When it can,
 * the next get sees the suffix emptied. Review s13 M1. */
static void test_quarantine_reports_invalidation(void **state)
{
	char root[] = "/tmp/test_parthash.XXXXXX", part[512], file[600], inv[600];
	assert_non_null(mkdtemp(root));
	snprintf(part, sizeof(part), "%s/objects", root);
	assert_int_equal(mkdir(part, 0750), 0);
	snprintf(part, sizeof(part), "%s/objects/7", root);
	assert_int_equal(mkdir(part, 0750), 0);
	struct parthash *h = ph_new();
	long n;
	put_file(part, H1, "1700000000.00000.data");
	put_file(part, H2, "1700000001.00000.data");
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	assert_int_equal(h->state[0xdef], PARTHASH_VALID);
	snprintf(inv, sizeof(inv), "%s/" PARTHASH_INVALID_FILE, part);
	assert_int_equal(unlink(inv), 0);
	assert_int_equal(mkdir(inv, 0750), 0);
	snprintf(file, sizeof(file), "%s/%s/%s/1700000001.00000.data", part, H2 + 29, H2);
	assert_true(objserver_quarantine(root, file) < 0);
	assert_int_equal(rmdir(inv), 0);
	snprintf(file, sizeof(file), "%s/%s/%s/1700000000.00000.data", part, H1 + 29, H1);
	assert_int_equal(objserver_quarantine(root, file), 0);
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(h->state[0xdef], PARTHASH_ABSENT);
	assert_int_equal(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(h);
}

/* A cache that could not be written keeps the invalidations it was to absorb (here its
 * temp file is a directory: EISDIR, even for root): the get fails, hashes.invalid is
 * not emptied, and once the cache can be written the suffix is rehashed. Review s13
 * M2. */
static void test_cache_write_failure_keeps_invalidations(void **state)
{
	char part[] = "/tmp/test_parthash.XXXXXX", tmp[512], inv[512];
	assert_non_null(mkdtemp(part));
	struct parthash *h = ph_new();
	long n;
	put_file(part, H1, "1700000000.00000.data");
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	char old[33];
	memcpy(old, h->hash[0xdef], 33);
	put_file(part, H1, "1700000005.00000.data");
	invalidate(part, H1);
	snprintf(tmp, sizeof(tmp), "%s/" PARTHASH_FILE ".tmp", part);
	assert_int_equal(mkdir(tmp, 0750), 0);
	assert_true(parthash_get(part, 0, h, &n) < 0);
	struct stat st;
	snprintf(inv, sizeof(inv), "%s/" PARTHASH_INVALID_FILE, part);
	assert_int_equal(stat(inv, &st), 0);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(rmdir(tmp), 0);
	assert_int_equal(parthash_get(part, 0, h, &n), 0);
	assert_int_equal(h->state[0xdef], PARTHASH_VALID);
	assert_string_not_equal(h->hash[0xdef], old);
	assert_int_equal(stat(inv, &st), 0);
	assert_int_equal(st.st_size, 0);
	assert_int_equal(nftw(part, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_suffix_index),
	    cmocka_unit_test(test_digest_is_order_free),
	    cmocka_unit_test(test_format_parse_round_trip),
	    cmocka_unit_test(test_parse_refuses_hostile),
	    cmocka_unit_test(test_merge_invalid),
	    cmocka_unit_test(test_entries_find),
	    cmocka_unit_test(test_cache_rehashes_only_invalid),
	    cmocka_unit_test(test_cache_rebuilt_and_reclaims),
	    cmocka_unit_test(test_listing_error_is_not_empty),
	    cmocka_unit_test(test_quarantine_reports_invalidation),
	    cmocka_unit_test(test_cache_write_failure_keeps_invalidations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

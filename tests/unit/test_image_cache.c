/* The base image cache (common/image_cache.c) against a common/httpd server on
 * 127.0.0.1: the key (sha512, else id, never md5), argument validation, one download
 * per content (two image ids with the same bytes share an entry, concurrent users
 * wait), a download whose bytes are not the sha512 refused, images without a sha512
 * not shared,
 * links that keep an entry in use, LRU eviction beyond the bound, sweep of leftovers;
 * and instance overlays (compute-agent/overlay.c) when qemu-img is installed. (What an
 * image must be is tested once, in test_qemu_img.c.) */
#include <errno.h>
#include <pthread.h>
#include <dirent.h>
#include <sodium.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "compute-agent/overlay.h"
#include "fsutil.h"
#include "http_client.h"
#include "httpd.h"
#include "image_cache.h"
#include "md5.h"
#include "proc.h"
#include "xalloc.h"

struct req_ctx {
	int unused;
};

#define IMG "2f0c1b6e-8a51-4d7c-9e3b-1a2b3c4d5e6f"
#define IMG2 "7a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define IMG3 "0b9e8d7c-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
#define IMAGE_LEN (256 * 1024)

static int gets_a, gets_b; /* downloads served of each content */
static pthread_mutex_t gets_lock = PTHREAD_MUTEX_INITIALIZER;

/* A raw image of IMAGE_LEN bytes of one pattern. */
static void image_bytes(char *buf, char fill)
{
	memset(buf, fill, IMAGE_LEN);
}

static void h_image(struct req *r, struct resp *w, char fill, int *count)
{
	const char *k = req_header(r, "X-Nubo-Agent-Key");
	if (!k || strcmp(k, "key")) {
		resp_error(r, w, 401, "key");
		return;
	}
	pthread_mutex_lock(&gets_lock);
	(*count)++;
	pthread_mutex_unlock(&gets_lock);
	usleep(100 * 1000); /* long enough for concurrent users to find it in flight */
	w->status = 200;
	w->text = xmalloc(IMAGE_LEN);
	image_bytes(w->text, fill);
	w->text_len = IMAGE_LEN;
	w->content_type = "application/octet-stream";
}

static void h_a(struct req *r, struct resp *w)
{
	h_image(r, w, 'a', &gets_a);
}

static void h_b(struct req *r, struct resp *w)
{
	h_image(r, w, 'b', &gets_b);
}

static const struct httpd_route routes[] = {
    {"GET", "/a", h_a, 0, 0},
    {"GET", "/b", h_b, 0, 0},
};
HTTPD_TABLE(table, routes, NULL);
static const struct httpd_table *const tables[] = {&table};

static struct httpd_config cfg = {
    .listen_address = "127.0.0.1",
    .threads = 4,
    .max_connections = 16,
    .max_connections_per_ip = 16,
    .idle_timeout = 5,
    .header_timeout = 5,
    .max_body = 4096,
    .max_stream = 4096,
    .stream_dir = "/tmp",
    .tables = tables,
    .ntables = 1,
};

static struct httpd *srv;
static char url_a[64], url_b[64], md5_a[33], md5_b[33], sha_a[129], sha_b[129];

static int have_qemu_img(void)
{
	return access("/usr/bin/qemu-img", X_OK) == 0;
}

static struct image_cache *cache_new(const char *dir, long long bound)
{
	char err[256];
	const struct image_cache_conf conf = {.dir = dir,
	                                      .agent_key = "key",
	                                      .user_agent = "test",
	                                      .max_image_bytes = 1 << 20,
	                                      .max_cache_bytes = bound};
	struct image_cache *c = image_cache_new(&conf, err, sizeof(err));
	assert_non_null(c);
	return c;
}

/* a sha512 as the API stores it, of no image here */
#define SHA_X                                                                                      \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"                         \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void key_is_the_sha512_else_the_id(void **state)
{
	char key[IMAGE_KEY_MAX], err[256];
	struct image_ref r = {
	    .id = IMG, .sha512 = SHA_X, .md5 = "0123456789ABCDEF0123456789abcdef"};
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), 0);
	assert_string_equal(key, SHA_X);
	r.id = IMG2; /* another image, the same bytes: the same entry */
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), 0);
	assert_string_equal(key, SHA_X);
	/* no sha512: the id, never the md5 (whose collisions can be made) */
	r.sha512 = "";
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), 0);
	assert_string_equal(key, IMG2);
	r.sha512 = NULL;
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), 0);
	assert_string_equal(key, IMG2);
	r.md5 = NULL;
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), 0);
	assert_string_equal(key, IMG2);
	/* a sha512 must be 128 lowercase hex digits */
	r.sha512 = "0123456789abcdef0123456789abcdef"; /* an md5's length */
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sha512"));
	char upper[] = SHA_X;
	upper[10] = 'A';
	r.sha512 = upper;
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	char longer[] = SHA_X "0";
	r.sha512 = longer;
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	assert_string_equal(key, "");
	/* a bad md5 is refused too, sha512 or not */
	r.sha512 = SHA_X;
	r.md5 = "xyz";
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "md5"));
	r.md5 = "0123456789abcdef0123456789abcdeg"; /* not hex */
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	r.md5 = "0123456789abcdef0123456789abcdef";
	r.id = "nope";
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
	r.id = NULL;
	assert_int_equal(image_cache_key(&r, key, err, sizeof(err)), -EINVAL);
}

static void link_validates_arguments(void **state)
{
	char dir[] = "/tmp/nubo-test-images.XXXXXX", err[256], dest[300], leftover[300];
	assert_non_null(mkdtemp(dir));
	struct image_cache *c = cache_new(dir, 1 << 30);
	struct image_info info;
	snprintf(dest, sizeof(dest), "%s/dest", dir);
	struct image_ref r = {.id = "nope", .url = "http://127.0.0.1:1/x"};
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EINVAL);
	r.id = IMG;
	r.url = NULL;
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EINVAL);
	r.url = "http://127.0.0.1:1/x";
	r.format = "vmdk";
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "vmdk"));
	/* nothing listens on port 1: the download fails and leaves no file behind */
	r.format = "raw";
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "image download"));
	/* only http(s): a file:// URL is refused by libcurl's protocol list */
	r.url = "file:///etc/passwd";
	assert_true(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)) < 0);
	snprintf(leftover, sizeof(leftover), "%s/%s", dir, IMG);
	assert_false(fs_exists(leftover));
	assert_false(fs_exists(dest));
	image_cache_free(c);
	image_cache_free(NULL);
	assert_int_equal(fs_remove_tree(dir), 0);
}

static ino_t inode_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_ino : 0;
}

static nlink_t links_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_nlink : 0;
}

struct user {
	struct image_cache *c;
	struct image_ref r;
	char dest[300];
	int rc, fetched;
};

static void *user_run(void *arg)
{
	struct user *u = arg;
	struct image_info info;
	char err[256];
	u->rc = image_cache_link(u->c, &u->r, u->dest, &info, &u->fetched, err, sizeof(err));
	return NULL;
}

static void one_download_per_content(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-images.XXXXXX", entry[300], err[256];
	assert_non_null(mkdtemp(dir));
	struct image_cache *c = cache_new(dir, 1 << 30);
	gets_a = 0;
	/* four users at once, two image ids of the same bytes: one download */
	struct user u[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		u[i] = (struct user){.c = c,
		                     .r = {.id = i % 2 ? IMG2 : IMG,
		                           .url = url_a,
		                           .sha512 = sha_a,
		                           .md5 = md5_a,
		                           .format = "raw"}};
		snprintf(u[i].dest, sizeof(u[i].dest), "%s/user%d", dir, i);
		assert_int_equal(pthread_create(&t[i], NULL, user_run, &u[i]), 0);
	}
	int fetched = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(u[i].rc, 0);
		fetched += u[i].fetched;
	}
	assert_int_equal(gets_a, 1);
	assert_int_equal(fetched, 1);
	snprintf(entry, sizeof(entry), "%s/%s", dir, sha_a);
	for (int i = 0; i < 4; i++)
		assert_true(inode_of(u[i].dest) == inode_of(entry)); /* links of the entry */
	assert_int_equal(links_of(entry), 5);
	/* a link again replaces dest, and a new cache (a restart) finds the entry */
	struct image_info info;
	image_cache_free(c);
	c = cache_new(dir, 1 << 30);
	struct image_ref r = {
	    .id = IMG, .url = url_a, .sha512 = sha_a, .md5 = md5_a, .format = "raw"};
	assert_int_equal(image_cache_link(c, &r, u[0].dest, &info, &fetched, err, sizeof(err)), 0);
	assert_int_equal(fetched, 0);
	assert_int_equal(gets_a, 1);
	assert_string_equal(info.format, "raw");
	assert_int_equal(info.virtual_size, IMAGE_LEN);
	assert_int_equal(links_of(entry), 5);
	/* an md5 that is not the bytes' is refused (still verified); the entry stays */
	r.md5 = md5_b;
	assert_int_equal(image_cache_link(c, &r, u[0].dest, &info, &fetched, err, sizeof(err)),
	                 -EINVAL);
	assert_non_null(strstr(err, "md5"));
	assert_non_null(strstr(err, "does not match"));
	assert_true(inode_of(u[0].dest) == inode_of(entry));
	assert_int_equal(gets_a, 2);
	/* nothing is named by the md5 */
	char by_md5[300];
	snprintf(by_md5, sizeof(by_md5), "%s/%s", dir, md5_a);
	assert_false(fs_exists(by_md5));
	image_cache_free(c);
	assert_int_equal(fs_remove_tree(dir), 0);
}

/* The number of files in dir other than those named skip (NULL: none). */
static int files_in(const char *dir, const char *skip)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    (!skip || strcmp(e->d_name, skip)))
			n++;
	closedir(d);
	return n;
}

/* The bytes served for an image are not the ones its sha512 names (a store or a
 * server that lies, or an image someone swapped): refused, nothing cached under that
 * key or any other, nothing left behind; the real bytes then go in. */
static void download_not_the_sha512_is_refused(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-images.XXXXXX", entry[300], dest[300], err[256];
	assert_non_null(mkdtemp(dir));
	struct image_cache *c = cache_new(dir, 1 << 30);
	struct image_info info;
	snprintf(dest, sizeof(dest), "%s/dest", dir);
	snprintf(entry, sizeof(entry), "%s/%s", dir, sha_b);
	/* b's sha512 and md5, a's bytes */
	struct image_ref r = {
	    .id = IMG, .url = url_a, .sha512 = sha_b, .md5 = md5_b, .format = "raw"};
	gets_a = 0;
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sha512"));
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(gets_a, 1);
	assert_false(fs_exists(entry));
	assert_false(fs_exists(dest));
	assert_int_equal(files_in(dir, NULL), 0);
	/* without the md5 too: the sha512 alone refuses it */
	r.md5 = NULL;
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "sha512"));
	assert_int_equal(files_in(dir, NULL), 0);
	/* the right bytes go in under their sha512 */
	r.url = url_b;
	assert_int_equal(image_cache_link(c, &r, dest, &info, NULL, err, sizeof(err)), 0);
	assert_true(inode_of(dest) == inode_of(entry));
	image_cache_free(c);
	assert_int_equal(fs_remove_tree(dir), 0);
}

/* An image without a sha512 (md5 only) is keyed by its id: two images with one md5 get
 * two entries, two downloads, never each other's bytes. */
static void md5_only_is_keyed_by_id(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-images.XXXXXX", e1[300], e2[300], d1[300], d2[300];
	char by_md5[300], err[256];
	assert_non_null(mkdtemp(dir));
	struct image_cache *c = cache_new(dir, 1 << 30);
	struct image_info info;
	snprintf(e1, sizeof(e1), "%s/%s", dir, IMG);
	snprintf(e2, sizeof(e2), "%s/%s", dir, IMG2);
	snprintf(d1, sizeof(d1), "%s/d1", dir);
	snprintf(d2, sizeof(d2), "%s/d2", dir);
	snprintf(by_md5, sizeof(by_md5), "%s/%s", dir, md5_a);
	struct image_ref r1 = {.id = IMG, .url = url_a, .md5 = md5_a, .format = "raw"};
	struct image_ref r2 = {.id = IMG2, .url = url_a, .md5 = md5_a, .format = "raw"};
	gets_a = 0;
	assert_int_equal(image_cache_link(c, &r1, d1, &info, NULL, err, sizeof(err)), 0);
	assert_int_equal(image_cache_link(c, &r2, d2, &info, NULL, err, sizeof(err)), 0);
	assert_int_equal(gets_a, 2);
	assert_true(inode_of(d1) == inode_of(e1));
	assert_true(inode_of(d2) == inode_of(e2));
	assert_true(inode_of(e1) != inode_of(e2));
	assert_false(fs_exists(by_md5));
	/* the md5 is still verified */
	r1.md5 = md5_b;
	unlink(e1);
	assert_int_equal(image_cache_link(c, &r1, d1, &info, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "md5"));
	assert_false(fs_exists(e1));
	image_cache_free(c);
	assert_int_equal(fs_remove_tree(dir), 0);
}

static void evicts_least_recently_used_not_in_use(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-images.XXXXXX", ea[300], eb[300], eid[300], dest[300];
	char err[256], part[300], orphan[300];
	struct image_info info;
	assert_non_null(mkdtemp(dir));
	/* leftovers of an interrupted run go at start */
	snprintf(part, sizeof(part), "%s/%s.part.abc123", dir, sha_a);
	snprintf(orphan, sizeof(orphan), "%s/%s.info", dir, sha_b);
	assert_int_equal(fs_write_atomic(part, "x", 1, 0600), 0);
	assert_int_equal(fs_write_atomic(orphan, "{}", 2, 0600), 0);
	/* room for one image only */
	struct image_cache *c = cache_new(dir, IMAGE_LEN + IMAGE_LEN / 2);
	assert_false(fs_exists(part));
	assert_false(fs_exists(orphan));
	snprintf(ea, sizeof(ea), "%s/%s", dir, sha_a);
	snprintf(eb, sizeof(eb), "%s/%s", dir, sha_b);
	snprintf(eid, sizeof(eid), "%s/%s", dir, IMG3);
	snprintf(dest, sizeof(dest), "%s/user", dir);
	struct image_ref a = {.id = IMG, .url = url_a, .sha512 = sha_a, .format = "raw"};
	struct image_ref b = {.id = IMG2, .url = url_b, .sha512 = sha_b, .format = "raw"};
	struct image_ref noid = {.id = IMG3, .url = url_b, .format = "raw"};
	gets_a = gets_b = 0;
	assert_int_equal(image_cache_link(c, &a, dest, &info, NULL, err, sizeof(err)), 0);
	/* dest moves to b: a, only in the cache now, fits beside b in use (whose bytes
	 * removing it would not free, so they do not count) */
	assert_int_equal(image_cache_link(c, &b, dest, &info, NULL, err, sizeof(err)), 0);
	assert_true(fs_exists(ea) && fs_exists(eb));
	/* dest moves to a third entry (no sha512: keyed by the id, b's bytes fetched
	 * again): a and b, both unused, are over the bound; a, the least recently used,
	 * goes with its sidecar, which leaves b within it */
	assert_int_equal(image_cache_link(c, &noid, dest, &info, NULL, err, sizeof(err)), 0);
	assert_true(fs_exists(eid));
	assert_int_equal(gets_b, 2);
	assert_false(fs_exists(ea));
	char side[320];
	snprintf(side, sizeof(side), "%s.info", ea);
	assert_false(fs_exists(side));
	assert_true(fs_exists(eb));
	/* nothing in use any more: the older of the two goes */
	unlink(dest);
	image_cache_evict(c);
	assert_false(fs_exists(eb));
	assert_true(fs_exists(eid));
	assert_int_equal(gets_a, 1);
	/* a bound of 0 keeps nothing unused, but never the entry just used */
	image_cache_free(c);
	c = cache_new(dir, 0);
	assert_int_equal(image_cache_link(c, &a, dest, &info, NULL, err, sizeof(err)), 0);
	assert_true(fs_exists(ea));
	assert_false(fs_exists(eid));
	unlink(dest);
	image_cache_evict(c);
	assert_false(fs_exists(ea));
	image_cache_free(c);
	assert_int_equal(fs_remove_tree(dir), 0);
}

static void overlay_on_raw(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-overlay.XXXXXX", err[256] = "";
	assert_non_null(mkdtemp(dir));
	char base[256], disk[256], out[4096];
	snprintf(base, sizeof(base), "%s/base", dir);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", dir);
	char zeros[65536] = {0};
	assert_int_equal(fs_write_atomic(base, zeros, sizeof(zeros), 0600), 0);
	assert_int_equal(overlay_create(base, "base", "raw", disk, 1LL << 30, err, sizeof(err)), 0);
	const char *argv[] = {"qemu-img", "info", "--output=json", disk, NULL};
	assert_int_equal(proc_run(argv, 10000, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"virtual-size\": 1073741824"));
	assert_non_null(strstr(out, "\"backing-filename-format\": \"raw\""));
	/* the header names the base relatively: it resolves in the disk's own directory */
	assert_non_null(strstr(out, "\"backing-filename\": \"base\""));
	/* the overlay of a disk made on another path, pointed at its own base */
	char other[256];
	snprintf(other, sizeof(other), "%s/other", dir);
	assert_int_equal(fs_write_atomic(other, zeros, sizeof(zeros), 0600), 0);
	unlink(disk);
	assert_int_equal(overlay_create(other, other, "raw", disk, 0, err, sizeof(err)), 0);
	assert_int_equal(overlay_rebase(disk, "base", "raw", err, sizeof(err)), 0);
	assert_int_equal(proc_run(argv, 10000, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"backing-filename\": \"base\""));
	/* a disk smaller than the base is refused, not truncated: the flavor decides */
	unlink(disk);
	assert_int_equal(overlay_create(base, "base", "raw", disk, 4096, err, sizeof(err)), -EFBIG);
	assert_false(fs_exists(disk));
	char huge[256];
	snprintf(huge, sizeof(huge), "%s/huge.qcow2", dir);
	const char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", huge, "100T", NULL};
	assert_int_equal(proc_run(mk, 10000, out, sizeof(out)), 0);
	assert_int_equal(overlay_create(huge, huge, "qcow2", disk, 1LL << 30, err, sizeof(err)),
	                 -EFBIG);
	assert_non_null(strstr(err, "exceeds the flavor's root disk"));
	assert_false(fs_exists(disk));
	/* a missing base fails cleanly without a half-made disk */
	unlink(disk);
	assert_int_not_equal(
	    overlay_create("/nonexistent", "/nonexistent", "raw", disk, 0, err, sizeof(err)), 0);
	assert_false(fs_exists(disk));
	assert_int_equal(fs_remove_tree(dir), 0);
}

/* review11: an entry renamed into place by a download is evicted by another thread's
 * eviction before its downloader links it (bound 0: every unlinked entry goes). */
static volatile int evict_stop;
static void *evict_loop(void *arg)
{
	while (!evict_stop)
		image_cache_evict(arg);
	return NULL;
}

static void fresh_download_survives_concurrent_eviction(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-images.XXXXXX", dest[300], err[256], ea[300];
	struct image_info info;
	assert_non_null(mkdtemp(dir));
	snprintf(dest, sizeof(dest), "%s/user", dir);
	snprintf(ea, sizeof(ea), "%s/%s", dir, sha_a);
	struct image_ref a = {.id = IMG, .url = url_a, .sha512 = sha_a, .format = "raw"};
	int failed = 0;
	for (int i = 0; i < 20; i++) {
		struct image_cache *c = cache_new(dir, 0);
		unlink(dest);
		unlink(ea);
		evict_stop = 0;
		pthread_t t;
		assert_int_equal(pthread_create(&t, NULL, evict_loop, c), 0);
		int rc = image_cache_link(c, &a, dest, &info, NULL, err, sizeof(err));
		evict_stop = 1;
		pthread_join(t, NULL);
		if (rc < 0) {
			failed++;
			print_message("iteration %d: %s\n", i, err);
		}
		image_cache_free(c);
	}
	assert_int_equal(failed, 0);
	assert_int_equal(fs_remove_tree(dir), 0);
}

static int setup(void **state)
{
	int err = 0;
	char *buf = xmalloc(IMAGE_LEN);
	struct md5 m;
	assert_int_equal(http_client_init(), 0);
	srv = httpd_start(&cfg, &err);
	assert_non_null(srv);
	snprintf(url_a, sizeof(url_a), "http://127.0.0.1:%u/a", httpd_port(srv));
	snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%u/b", httpd_port(srv));
	image_bytes(buf, 'a');
	md5_init(&m);
	md5_update(&m, buf, IMAGE_LEN);
	md5_final_hex(&m, md5_a);
	image_bytes(buf, 'b');
	md5_init(&m);
	md5_update(&m, buf, IMAGE_LEN);
	md5_final_hex(&m, md5_b);
	unsigned char sha[crypto_hash_sha512_BYTES];
	crypto_hash_sha512(sha, (const unsigned char *)buf, IMAGE_LEN);
	sodium_bin2hex(sha_b, sizeof(sha_b), sha, sizeof(sha));
	image_bytes(buf, 'a');
	crypto_hash_sha512(sha, (const unsigned char *)buf, IMAGE_LEN);
	sodium_bin2hex(sha_a, sizeof(sha_a), sha, sizeof(sha));
	free(buf);
	return 0;
}

static int teardown(void **state)
{
	httpd_stop(srv);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_is_the_sha512_else_the_id),
	    cmocka_unit_test(link_validates_arguments),
	    cmocka_unit_test(one_download_per_content),
	    cmocka_unit_test(download_not_the_sha512_is_refused),
	    cmocka_unit_test(md5_only_is_keyed_by_id),
	    cmocka_unit_test(evicts_least_recently_used_not_in_use),
	    cmocka_unit_test(overlay_on_raw),
	    cmocka_unit_test(fresh_download_survives_concurrent_eviction),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* The base image cache (image_cache.h): downloads (common/http_client.c), checks,
 * entries keyed by sha512 (else image id), hard links for their users, LRU eviction
 * (common/lru.c). */
#include "image_cache.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "http_client.h"
#include "lru.h"
#include "digest.h"
#include "qemu_img.h"
#include "util.h"
#include "xalloc.h"

#define SIDECAR_EXT ".info"

struct inflight {
	char key[IMAGE_KEY_MAX];
	struct inflight *next;
};

struct image_cache {
	char *dir;
	char *agent_key;
	char *user_agent;
	long long max_image_bytes, max_cache_bytes;
	pthread_mutex_t lock; /* guards inflight, and every link and removal of an entry */
	pthread_cond_t cond;
	struct inflight *inflight; /* downloads under way */
};

/* An md5 as a task carries it: 32 hex digits, either case (compared ignoring it). */
static int md5_valid(const char *s)
{
	if (strlen(s) != DIGEST_MD5_HEX)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* 1 for the name of an entry: a sha512 (128 lowercase hex digits), or a uuid. */
static int key_name(const char *name)
{
	return digest_hex_valid(name, DIGEST_SHA512_HEX) || uuid_is_valid(name);
}

int image_cache_key(const struct image_ref *img, char key[IMAGE_KEY_MAX], char *err, size_t errlen)
{
	key[0] = '\0';
	if (!img->id || !uuid_is_valid(img->id)) {
		snprintf(err, errlen, "image: the task carries no valid image id");
		return -EINVAL;
	}
	if (img->md5 && *img->md5 && !md5_valid(img->md5)) {
		snprintf(err, errlen, "image: checksum is not an md5 hex digest");
		return -EINVAL;
	}
	if (img->sha512 && *img->sha512) {
		if (!digest_hex_valid(img->sha512, DIGEST_SHA512_HEX)) {
			snprintf(err, errlen,
			         "image: os_hash_value is not a sha512 digest"
			         " (128 lowercase hex digits)");
			return -EINVAL;
		}
		snprintf(key, IMAGE_KEY_MAX, "%s", img->sha512);
		return 0;
	}
	/* never the md5: its collisions can be made, and an entry is shared by key */
	snprintf(key, IMAGE_KEY_MAX, "%s", img->id);
	return 0;
}

/* Removes "<key>.part.*" and "*.tmp.*" files an interrupted run left, and sidecars
 * whose entry is gone. */
static void cache_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name), ext = strlen(SIDECAR_EXT);
		int orphan = 0;
		if (len > ext && !strcmp(e->d_name + len - ext, SIDECAR_EXT)) {
			char entry[LRU_NAME_MAX];
			struct stat st;
			snprintf(entry, sizeof(entry), "%.*s", (int)(len - ext), e->d_name);
			orphan = fstatat(dirfd(d), entry, &st, AT_SYMLINK_NOFOLLOW) < 0 &&
			         errno == ENOENT;
		}
		if (orphan || strstr(e->d_name, ".part.") || strstr(e->d_name, ".tmp."))
			unlinkat(dirfd(d), e->d_name, 0);
	}
	closedir(d);
}

/* lru_dir's removed: an entry's sidecar goes with it. */
static void sidecar_remove(int dirfd, const char *name, void *arg)
{
	char side[LRU_NAME_MAX + 8];
	snprintf(side, sizeof(side), "%s" SIDECAR_EXT, name);
	unlinkat(dirfd, side, 0);
}

/* lru_dir's kept: an entry whose download is in flight (renamed into place, not yet
 * linked by its downloader). Under c->lock. */
static int in_flight(const char *name, void *arg)
{
	const struct image_cache *c = arg;
	for (const struct inflight *f = c->inflight; f; f = f->next)
		if (!strcmp(f->key, name))
			return 1;
	return 0;
}

/* The eviction, under c->lock; keep is the entry just used (NULL: none). */
static void cache_evict(struct image_cache *c, const char *keep)
{
	const struct lru_dir d = {
	    .dir = c->dir,
	    .match = key_name,
	    .keep = keep,
	    .max_n = LRU_SCAN_MAX,
	    .max_bytes = c->max_cache_bytes,
	    .links_in_use = 1,
	    .removed = sidecar_remove,
	    .arg = c,
	    .kept = in_flight,
	};
	lru_dir_evict(&d);
}

void image_cache_evict(struct image_cache *c)
{
	pthread_mutex_lock(&c->lock);
	cache_evict(c, NULL);
	pthread_mutex_unlock(&c->lock);
}

struct image_cache *image_cache_new(const struct image_cache_conf *conf, char *err, size_t errlen)
{
	int rc = fs_mkdir_p(conf->dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", conf->dir, strerror(-rc));
		return NULL;
	}
	cache_sweep(conf->dir);
	struct image_cache *c = xcalloc(1, sizeof(*c));
	c->dir = xstrdup(conf->dir);
	c->agent_key = xstrdup(conf->agent_key ? conf->agent_key : "");
	c->user_agent = xstrdup(conf->user_agent ? conf->user_agent : "nubo");
	c->max_image_bytes = conf->max_image_bytes;
	c->max_cache_bytes = conf->max_cache_bytes;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	return c;
}

void image_cache_free(struct image_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c->dir);
	memset(c->agent_key, 0, strlen(c->agent_key));
	free(c->agent_key);
	free(c->user_agent);
	free(c);
}

/* The one image inspection (common/qemu_img.c), as the API ran it on upload: the
 * bytes downloaded are checked again, they may not be what was uploaded. */
static int image_inspect(const char *path, const char *want, struct image_info *info, char *err,
                         size_t errlen)
{
	struct qemu_img_info q;
	int rc = qemu_img_check(path, want, &q, err, errlen);
	if (rc < 0)
		return rc;
	strlcpy_checked(info->format, q.format, sizeof(info->format));
	info->virtual_size = q.virtual_size;
	return 0;
}

/* GETs url into the open fd (common/http_client.c). 0 or a negative errno with err. */
static int image_download(struct image_cache *c, const char *url, int fd, char *err, size_t errlen)
{
	char *hdr = xasprintf("X-Nubo-Agent-Key: %s", c->agent_key);
	const char *const headers[] = {hdr, NULL};
	const struct http_get g = {
	    .url = url,
	    .headers = headers,
	    .max_bytes = c->max_image_bytes,
	    .user_agent = c->user_agent,
	};
	char why[256];
	int rc = http_client_get_fd(&g, fd, NULL, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "image download: %s", why);
	else if (fsync(fd) < 0) {
		rc = -errno;
		snprintf(err, errlen, "image download: fsync: %s", strerror(errno));
	}
	/* the header holds the agent key */
	memset(hdr, 0, strlen(hdr));
	free(hdr);
	return rc;
}

/* What a sidecar records: the checked info, the digests of the bytes and the
 * disk_format they were checked as ("" for as probed). */
struct sidecar {
	struct image_info info;
	char md5[DIGEST_MD5_HEX + 1];
	char sha512[DIGEST_SHA512_HEX + 1];
	char checked[IMAGE_FMT_MAX];
};

/* Reads the sidecar at path; 0 when it exists and is valid. */
static int sidecar_read(const char *path, struct sidecar *s)
{
	char *text = fs_read(path, 4096, NULL);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	int rc = -ENOENT;
	const char *fmt = json_string_value(json_object_get(v, "format"));
	const char *sum = json_string_value(json_object_get(v, "md5"));
	const char *sha = json_string_value(json_object_get(v, "sha512"));
	const char *checked = json_string_value(json_object_get(v, "disk_format"));
	json_t *vs = json_object_get(v, "virtual_size");
	memset(s, 0, sizeof(*s));
	if (fmt && (!strcmp(fmt, "qcow2") || !strcmp(fmt, "raw")) && json_is_integer(vs) && sum &&
	    md5_valid(sum) && digest_hex_valid(sha, DIGEST_SHA512_HEX) &&
	    strlcpy_checked(s->checked, checked ? checked : "", sizeof(s->checked)) == 0) {
		strlcpy_checked(s->info.format, fmt, sizeof(s->info.format));
		strlcpy_checked(s->md5, sum, sizeof(s->md5));
		strlcpy_checked(s->sha512, sha, sizeof(s->sha512));
		s->info.virtual_size = (long long)json_integer_value(vs);
		rc = 0;
	}
	json_decref(v);
	free(text);
	return rc;
}

static int sidecar_write(const char *path, const struct sidecar *s)
{
	json_t *v = json_pack("{s:s,s:s,s:s,s:s,s:I}", "format", s->info.format, "md5", s->md5,
	                      "sha512", s->sha512, "disk_format", s->checked, "virtual_size",
	                      (json_int_t)s->info.virtual_size);
	char *text = json_dumps(v, JSON_SORT_KEYS);
	int rc = fs_write_atomic(path, text, strlen(text), 0600);
	free(text);
	json_decref(v);
	return rc;
}

/* Downloads and checks one image into final, then its sidecar. Called without the
 * lock (the key is in flight: no other thread touches these names). */
static int image_fetch(struct image_cache *c, const char *key, const struct image_ref *img,
                       const char *final, const char *side, struct sidecar *s, char *err,
                       size_t errlen)
{
	char *part = xasprintf("%s/%s.part.XXXXXX", c->dir, key);
	int fd = mkostemp(part, O_CLOEXEC);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "image: %s", strerror(errno));
		goto out;
	}
	rc = image_download(c, img->url, fd, err, errlen);
	close(fd);
	if (rc < 0)
		goto out;
	struct digests d;
	rc = digests_file(part, &d);
	if (rc < 0) {
		snprintf(err, errlen, "image: digests of the download failed: %s", strerror(-rc));
		goto out;
	}
	memcpy(s->md5, d.md5, sizeof(s->md5));
	memcpy(s->sha512, d.sha512, sizeof(s->sha512));
	if (img->sha512 && strcmp(s->sha512, img->sha512)) {
		snprintf(err, errlen,
		         "image: the download's sha512 %.16s... does not match the image's"
		         " os_hash_value %.16s...: refused",
		         s->sha512, img->sha512);
		rc = -EINVAL;
		goto out;
	}
	if (img->md5 && strcasecmp(s->md5, img->md5)) {
		snprintf(err, errlen, "image: md5 %s does not match the checksum %s", s->md5,
		         img->md5);
		rc = -EINVAL;
		goto out;
	}
	rc = image_inspect(part, img->format, &s->info, err, errlen);
	if (rc < 0)
		goto out;
	strlcpy_checked(s->checked, img->format ? img->format : "", sizeof(s->checked));
	chmod(part, 0600);
	unlink(side); /* a stale one must not describe the new bytes */
	if (rename(part, final) < 0) {
		rc = -errno;
		snprintf(err, errlen, "image: %s", strerror(errno));
		goto out;
	}
	rc = sidecar_write(side, s);
	if (rc < 0)
		snprintf(err, errlen, "image: %s", strerror(-rc));
out:
	if (rc < 0)
		unlink(part);
	free(part);
	return rc;
}

/* 1 when the entry final with its sidecar serves img: the bytes are there, their
 * sha512 and md5 match img's (those it has) and they were checked as img's disk_format, or pass
 * that check now (another image with the same bytes declared another format). Under the lock. */
static int entry_serves(const char *final, const char *side, const struct image_ref *img,
                        struct sidecar *s)
{
	char why[256];
	struct image_info again;
	if (!fs_exists(final) || sidecar_read(side, s) < 0)
		return 0;
	if ((img->sha512 && strcmp(s->sha512, img->sha512)) ||
	    (img->md5 && strcasecmp(s->md5, img->md5)))
		return 0;
	if (!img->format || !strcmp(img->format, s->checked))
		return 1;
	if (image_inspect(final, img->format, &again, why, sizeof(why)) < 0 ||
	    strcmp(again.format, s->info.format))
		return 0;
	return 1;
}

/* dest := a hard link of final (replacing what dest was), and final's mtime := now (a
 * use). Under the lock. The link is made beside final and renamed to dest: one a crash
 * leaves is the cache's, which cache_sweep removes at start, not a second link in the
 * user's directory that would pin the entry for the user's life (review s11 L3). 0 or
 * -errno with err. */
static int entry_link(const char *final, const char *dest, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp.%d", final, (int)gettid());
	int rc = 0;
	unlink(tmp);
	if (link(final, tmp) < 0 || rename(tmp, dest) < 0) {
		rc = -errno;
		snprintf(err, errlen, "image: link to %s: %s%s", dest, strerror(errno),
		         errno == EXDEV ? " (it must be on the image cache's file system)" : "");
	}
	unlink(tmp); /* still there when dest was that very file already */
	utimensat(AT_FDCWD, final, NULL, 0);
	free(tmp);
	return rc;
}

int image_cache_link(struct image_cache *c, const struct image_ref *img, const char *dest,
                     struct image_info *info, int *fetched, char *err, size_t errlen)
{
	char key[IMAGE_KEY_MAX];
	struct sidecar s;
	int rc;
	if (fetched)
		*fetched = 0;
	if ((rc = image_cache_key(img, key, err, errlen)) < 0)
		return rc;
	if (!img->url || !*img->url) {
		snprintf(err, errlen, "image: the task carries no image url");
		return -EINVAL;
	}
	struct image_ref r = *img;
	if (r.format && !*r.format)
		r.format = NULL;
	if (r.md5 && !*r.md5)
		r.md5 = NULL;
	if (r.sha512 && !*r.sha512)
		r.sha512 = NULL;
	if (r.format && !qemu_img_driver(r.format)) {
		snprintf(err, errlen, "image: unsupported disk format %.16s", r.format);
		return -EINVAL;
	}
	char *final = xasprintf("%s/%s", c->dir, key);
	char *side = xasprintf("%s/%s" SIDECAR_EXT, c->dir, key);
	struct inflight me = {.next = NULL};
	strlcpy_checked(me.key, key, sizeof(me.key));

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct inflight *f = c->inflight;
		while (f && strcmp(f->key, key))
			f = f->next;
		if (!f)
			break;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	if (!entry_serves(final, side, &r, &s)) {
		me.next = c->inflight;
		c->inflight = &me;
		pthread_mutex_unlock(&c->lock);

		rc = image_fetch(c, key, &r, final, side, &s, err, errlen);

		pthread_mutex_lock(&c->lock);
		for (struct inflight **pp = &c->inflight; *pp; pp = &(*pp)->next)
			if (*pp == &me) {
				*pp = me.next;
				break;
			}
		pthread_cond_broadcast(&c->cond);
		if (rc == 0 && fetched)
			*fetched = 1;
	}
	if (rc == 0)
		rc = entry_link(final, dest, err, errlen);
	if (rc == 0)
		*info = s.info;
	cache_evict(c, key);
	pthread_mutex_unlock(&c->lock);
	free(final);
	free(side);
	return rc;
}

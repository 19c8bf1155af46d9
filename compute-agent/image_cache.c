/* Downloading (common/http_client.c), verifying and caching base images; qcow2
 * overlays. */
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
#include "md5.h"
#include "proc.h"
#include "qemu_img.h"
#include "util.h"
#include "xalloc.h"

#define QEMU_IMG_TIMEOUT_MS 60000

struct inflight {
	char id[UUID_STR_LEN];
	struct inflight *next;
};

struct image_cache {
	char *dir;
	char *agent_key;
	long long max_bytes;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct inflight *inflight; /* downloads under way, guarded by lock */
};

/* Removes "<id>.part.*" files an interrupted download left behind. */
static void cache_sweep(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strstr(e->d_name, ".part.") || strstr(e->d_name, ".tmp.")) {
			char *p = xasprintf("%s/%s", dir, e->d_name);
			unlink(p);
			free(p);
		}
	}
	closedir(d);
}

struct image_cache *image_cache_new(const char *dir, const char *agent_key, long long max_bytes,
                                    char *err, size_t errlen)
{
	int rc = fs_mkdir_p(dir, 0700);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return NULL;
	}
	cache_sweep(dir);
	struct image_cache *c = xcalloc(1, sizeof(*c));
	c->dir = xstrdup(dir);
	c->agent_key = xstrdup(agent_key);
	c->max_bytes = max_bytes;
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
	free(c->agent_key);
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
	    .max_bytes = c->max_bytes,
	    .user_agent = "nubo-compute",
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

/* Reads the sidecar of a cached image; 0 when it exists, is valid and matches md5
 * (when given). */
static int sidecar_read(const char *path, const char *md5, struct image_info *info)
{
	char *text = fs_read(path, 4096, NULL);
	json_t *v = text ? json_loads(text, 0, NULL) : NULL;
	int rc = -ENOENT;
	const char *fmt = json_string_value(json_object_get(v, "format"));
	const char *sum = json_string_value(json_object_get(v, "md5"));
	json_t *vs = json_object_get(v, "virtual_size");
	if (fmt && (!strcmp(fmt, "qcow2") || !strcmp(fmt, "raw")) && json_is_integer(vs) && sum &&
	    (!md5 || !strcmp(md5, sum))) {
		strlcpy_checked(info->format, fmt, sizeof(info->format));
		info->virtual_size = (long long)json_integer_value(vs);
		rc = 0;
	}
	json_decref(v);
	free(text);
	return rc;
}

static int sidecar_write(const char *path, const char *md5, const struct image_info *info)
{
	json_t *v = json_pack("{s:s,s:s,s:I}", "format", info->format, "md5", md5, "virtual_size",
	                      (json_int_t)info->virtual_size);
	char *text = json_dumps(v, JSON_SORT_KEYS);
	int rc = fs_write_atomic(path, text, strlen(text), 0600);
	free(text);
	json_decref(v);
	return rc;
}

static int md5_valid(const char *s)
{
	if (strlen(s) != 32)
		return 0;
	for (; *s; s++)
		if (!isxdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* Downloads and verifies one image into final/sidecar. Called without the lock. */
static int image_fetch(struct image_cache *c, const char *id, const char *url, const char *md5,
                       const char *format, const char *final, const char *sidecar,
                       struct image_info *info, char *err, size_t errlen)
{
	char *part = xasprintf("%s/%s.part.XXXXXX", c->dir, id);
	char sum[33];
	int fd = mkostemp(part, O_CLOEXEC);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "image: %s", strerror(errno));
		goto out;
	}
	rc = image_download(c, url, fd, err, errlen);
	close(fd);
	if (rc < 0)
		goto out;
	rc = md5_file_hex(part, sum);
	if (rc < 0) {
		snprintf(err, errlen, "image: md5 of the download failed: %s", strerror(-rc));
		goto out;
	}
	if (md5 && strcmp(sum, md5)) {
		snprintf(err, errlen, "image: md5 %s does not match the checksum %s", sum, md5);
		rc = -EINVAL;
		goto out;
	}
	rc = image_inspect(part, format, info, err, errlen);
	if (rc < 0)
		goto out;
	chmod(part, 0600);
	if (rename(part, final) < 0) {
		rc = -errno;
		snprintf(err, errlen, "image: %s", strerror(errno));
		goto out;
	}
	rc = sidecar_write(sidecar, sum, info);
	if (rc < 0)
		snprintf(err, errlen, "image: %s", strerror(-rc));
out:
	if (rc < 0)
		unlink(part);
	free(part);
	return rc;
}

int image_cache_get(struct image_cache *c, const char *image_id, const char *url, const char *md5,
                    const char *format, char **path, struct image_info *info, char *err,
                    size_t errlen)
{
	char lmd5[33] = "";
	*path = NULL;
	if (!uuid_is_valid(image_id) || !url || !*url) {
		snprintf(err, errlen, "image: the task carries no image id or url");
		return -EINVAL;
	}
	if (format && *format && strcmp(format, "qcow2") && strcmp(format, "raw")) {
		snprintf(err, errlen, "image: unsupported disk format %.16s", format);
		return -EINVAL;
	}
	if (format && !*format)
		format = NULL;
	if (md5 && *md5) {
		if (!md5_valid(md5)) {
			snprintf(err, errlen, "image: checksum is not an md5 hex digest");
			return -EINVAL;
		}
		for (int i = 0; i < 32; i++)
			lmd5[i] = (char)tolower((unsigned char)md5[i]);
		md5 = lmd5;
	} else {
		md5 = NULL;
	}
	char *final = xasprintf("%s/%s", c->dir, image_id);
	char *sidecar = xasprintf("%s/%s.info", c->dir, image_id);
	struct inflight me = {.next = NULL};
	strcpy(me.id, image_id);
	int rc;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		struct inflight *f = c->inflight;
		while (f && strcmp(f->id, image_id))
			f = f->next;
		if (!f)
			break;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	if (fs_exists(final) && sidecar_read(sidecar, md5, info) == 0 &&
	    (!format || !strcmp(format, info->format))) {
		pthread_mutex_unlock(&c->lock);
		rc = 0;
		goto out;
	}
	me.next = c->inflight;
	c->inflight = &me;
	pthread_mutex_unlock(&c->lock);

	rc = image_fetch(c, image_id, url, md5, format, final, sidecar, info, err, errlen);

	pthread_mutex_lock(&c->lock);
	for (struct inflight **pp = &c->inflight; *pp; pp = &(*pp)->next)
		if (*pp == &me) {
			*pp = me.next;
			break;
		}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
out:
	free(sidecar);
	if (rc == 0)
		*path = final;
	else
		free(final);
	return rc;
}

int image_overlay_create(const char *base, const char *fmt, const char *path, long long size,
                         char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp", path);
	char sz[32], out[1024];
	snprintf(sz, sizeof(sz), "%lld", size);
	if (size > 0) {
		/* the disk is exactly what was asked: never the base's larger size (a 100 TiB
		 * image on a 1 GB flavor), and never a truncated view of the base */
		struct qemu_img_info q;
		int qc = qemu_img_check(base, fmt, &q, err, errlen);
		if (qc < 0) {
			free(tmp);
			return qc;
		}
		if (q.virtual_size > size) {
			snprintf(
			    err, errlen,
			    "disk: image virtual size %lld exceeds the flavor's root disk (%lld)",
			    q.virtual_size, size);
			free(tmp);
			return -EFBIG;
		}
	}
	const char *argv[] = {
	    "qemu-img",           "create", "-q", "-f", "qcow2", "-F", fmt, "-b", base, tmp,
	    size > 0 ? sz : NULL, NULL};
	unlink(tmp);
	int st = proc_run(argv, QEMU_IMG_TIMEOUT_MS, out, sizeof(out));
	int rc = 0;
	if (st != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errlen, "disk: qemu-img create failed: %.200s",
		         st == -ETIMEDOUT ? "timed out" : out);
		rc = -EIO;
		goto out;
	}
	if (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "disk: %s", strerror(errno));
	}
out:
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

/* Volume backups as chunk objects plus a manifest in the owner's Swift account. */
#include "backup.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "http_client.h"
#include "log.h"
#include "proc.h"
#include "qemu_img.h"
#include "util.h"
#include "volfile.h"
#include "xalloc.h"

#define GIB (1024ull * 1024 * 1024)
#define BACKUP_CONVERT_TIMEOUT_MS (30 * 60 * 1000) /* a whole volume's copy */
#define BACKUP_LIST_PAGES 10000                    /* of 1000 names: a delete's bound */

int backup_read_argv(const char *src, const char *src_fmt, const char *dst, int shared,
                     const char *argv[BACKUP_ARGV_MAX])
{
	int n = 0;
	memset(argv, 0, sizeof(const char *) * BACKUP_ARGV_MAX);
	if (!src || !dst || src[0] != '/' || dst[0] != '/' || !src_fmt ||
	    (strcmp(src_fmt, "qcow2") && strcmp(src_fmt, "raw")))
		return -EINVAL;
	argv[n++] = "qemu-img";
	argv[n++] = "convert";
	argv[n++] = "-q";
	if (shared)
		argv[n++] = "-U";
	argv[n++] = "-f";
	argv[n++] = src_fmt;
	argv[n++] = "-O";
	argv[n++] = "raw";
	argv[n++] = src;
	argv[n++] = dst;
	return 0;
}

/* ---- the object store, as the backup's owner ---- */

struct store {
	const struct msg_backup *b;
	char *auth; /* "X-Auth-Token: ..." (a secret: wiped) */
	const char *headers[2];
};

static void store_init(struct store *s, const struct msg_backup *b)
{
	s->b = b;
	s->auth = xasprintf("X-Auth-Token: %s", b->token ? b->token : "");
	s->headers[0] = s->auth;
	s->headers[1] = NULL;
}

static void store_release(struct store *s)
{
	memset(s->auth, 0, strlen(s->auth));
	free(s->auth);
}

static char *store_url(const struct store *s, const char *name)
{
	return xasprintf("%s/%s%s%s", s->b->swift_url, s->b->container, name ? "/" : "",
	                 name ? name : "");
}

/* One bodiless request (PUT of the container, DELETE of an object); 0 when its status
 * is 2xx (or 404 and gone_ok), else -EIO with err. */
static int store_call(const struct store *s, const char *method, const char *name, int gone_ok,
                      char *err, size_t errlen)
{
	struct http_json_answer a;
	char why[256] = "";
	char *url = store_url(s, name);
	const struct http_json q = {method, url, s->headers, NULL, 60, NULL};
	int rc = http_client_json(&q, &a, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen, "object store: %s %s: %s", method, name ? name : "container",
		         why);
	} else {
		if (!(a.status / 100 == 2 || (gone_ok && a.status == 404))) {
			snprintf(err, errlen, "object store: %s %s: HTTP %ld", method,
			         name ? name : "container", a.status);
			rc = -EIO;
		}
		http_client_answer_release(&a);
	}
	free(url);
	return rc;
}

static int store_put_file(const struct store *s, const char *name, const char *path, char *err,
                          size_t errlen)
{
	char why[256] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "backup: open %s: %s", path, strerror(errno));
		return -errno;
	}
	char *url = store_url(s, name);
	const struct http_put put = {url, s->headers, 0, 0};
	int rc = http_client_put_fd(&put, fd, NULL, why, sizeof(why));
	close(fd);
	free(url);
	if (rc < 0)
		snprintf(err, errlen, "object store: PUT %s: %s", name, why);
	return rc;
}

/* GETs object name into the file path (replaced), at most max bytes. */
static int store_get_file(const struct store *s, const char *name, const char *path, long long max,
                          char *err, size_t errlen)
{
	char why[256] = "";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "backup: open %s: %s", path, strerror(errno));
		return -errno;
	}
	char *url = store_url(s, name);
	const struct http_get g = {url, s->headers, max, 0, 0, NULL};
	int rc = http_client_get_fd(&g, fd, NULL, why, sizeof(why));
	close(fd);
	free(url);
	if (rc < 0)
		snprintf(err, errlen, "object store: GET %s: %s", name, why);
	return rc;
}

/* The manifest of backup id, parsed (owned), or NULL with err. */
static json_t *manifest_get(const struct store *s, const char *id, const char *tmp, char *err,
                            size_t errlen)
{
	char name[UUID_STR_LEN + 16];
	snprintf(name, sizeof(name), "%s/manifest", id);
	if (store_get_file(s, name, tmp, BACKUP_MANIFEST_MAX, err, errlen) < 0)
		return NULL;
	json_error_t je;
	json_t *m = json_load_file(tmp, 0, &je);
	unlink(tmp);
	if (!json_is_object(m) || !json_is_array(json_object_get(m, "chunks")) ||
	    json_integer_value(json_object_get(m, "chunk_size")) <= 0 ||
	    json_integer_value(json_object_get(m, "chunk_size")) > 64 << 20 ||
	    json_integer_value(json_object_get(m, "size")) < 0) {
		snprintf(err, errlen, "backup %s: its manifest is not one", id);
		json_decref(m);
		return NULL;
	}
	return m;
}

/* One chunk entry of manifest m: its index, sha256 and owning backup; 0 or -EINVAL. */
static int chunk_entry(json_t *c, long long nchunks, long long *index, const char **sha,
                       const char **owner)
{
	*index = json_integer_value(json_object_get(c, "i"));
	*sha = json_string_value(json_object_get(c, "sha256"));
	*owner = json_string_value(json_object_get(c, "backup"));
	if (!json_is_integer(json_object_get(c, "i")) || *index < 0 || *index >= nchunks || !*sha ||
	    strlen(*sha) != 64 || !*owner || !uuid_is_valid(*owner))
		return -EINVAL;
	return 0;
}

static int all_zero(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Reads exactly n bytes at off (fewer only at the end of the file); the count or -errno. */
static ssize_t read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

/* ---- create ---- */

int backup_create(const struct pool *p, const char *id, const struct msg_backup *b, int *count,
                  char *err, size_t errlen)
{
	const char *argv[BACKUP_ARGV_MAX];
	char out[1024] = "", name[UUID_STR_LEN + 16];
	struct store s;
	const char *fmt;
	char *src = b->copied           ? pool_copy_locate(p, id, &fmt)
	            : b->snapshot_id[0] ? pool_locate(p, POOL_SNAPSHOT, b->snapshot_id, &fmt)
	                                : pool_locate(p, POOL_VOLUME, b->volume_id, &fmt);
	char *raw = xasprintf("%s/tmp/backup-%s.raw", p->dir, id);
	char *copy = xasprintf("%s/tmp/backup-%s.copy.qcow2", p->dir, id);
	char *chunk = xasprintf("%s/tmp/backup-%s.chunk", p->dir, id);
	char *man = xasprintf("%s/tmp/backup-%s.manifest", p->dir, id);
	unsigned char *buf = xmalloc(BACKUP_CHUNK);
	json_t *parent = NULL, *chunks = json_array(), *m = NULL;
	const char **phash = NULL, **powner = NULL;
	int fd = -1, rc = -EINVAL;
	*count = 0;
	store_init(&s, b);
	if (b->copied && !fs_exists(src)) {
		snprintf(err, errlen,
		         "the point-in-time copy of volume %s made for this backup is not in this "
		         "pool (%s/)",
		         b->volume_id, VOLFILE_COPIES);
		rc = -ENOENT;
		goto out;
	}
	if (!fs_exists(src)) {
		snprintf(err, errlen, "%s %s is not in this pool",
		         b->snapshot_id[0] ? "snapshot" : "volume",
		         b->snapshot_id[0] ? b->snapshot_id : b->volume_id);
		rc = -ENOENT;
		goto out;
	}
	/* an in-use volume: read from a point-in-time copy, never from the pool file beside
	 * the QEMU that writes it (a read could see a write, even a qcow2 metadata update,
	 * half done). A server of this machine: the copy its compute agent made with the
	 * guest paused (copied). A server of another machine: a copy by the volume's NBD
	 * export's daemon, which holds every write it acknowledged. */
	const char *from = src;
	int shared = b->force && !b->copied;
	if (b->copied)
		log_info("backup %s: volume %s read from the point-in-time copy its compute host "
		         "made",
		         id, b->volume_id);
	if (b->force && !b->snapshot_id[0] && !b->copied) {
		unlink(copy);
		rc = pool_live_copy(p, b->volume_id, id, copy, "qcow2", err, errlen);
		if (rc == 0) {
			log_info("backup %s: volume %s copied by its NBD export's daemon", id,
			         b->volume_id);
			from = copy;
			fmt = "qcow2";
			shared = 0;
		} else if (rc != -ENOENT) {
			goto out;
		}
	}
	backup_read_argv(from, fmt, raw, shared, argv);
	unlink(raw);
	int st = proc_run(argv, BACKUP_CONVERT_TIMEOUT_MS, out, sizeof(out));
	if (st != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errlen, "backup: qemu-img convert failed: %.300s",
		         st == -ETIMEDOUT ? "timed out" : out);
		rc = -EIO;
		goto out;
	}
	fd = open(raw, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		rc = -errno;
		snprintf(err, errlen, "backup: read the copy: %s", strerror(errno));
		goto out;
	}
	long long nchunks = ((long long)sb.st_size + BACKUP_CHUNK - 1) / BACKUP_CHUNK;
	if ((rc = store_call(&s, "PUT", NULL, 0, err, errlen)) < 0)
		goto out;
	if (b->parent_id[0]) { /* what the parent holds, by index */
		if (!(parent = manifest_get(&s, b->parent_id, man, err, errlen))) {
			rc = -EIO;
			goto out;
		}
		phash = xcalloc((size_t)nchunks + 1, sizeof(*phash));
		powner = xcalloc((size_t)nchunks + 1, sizeof(*powner));
		size_t i;
		json_t *c;
		if (json_integer_value(json_object_get(parent, "chunk_size")) == BACKUP_CHUNK)
			json_array_foreach(json_object_get(parent, "chunks"), i, c)
			{
				long long k;
				const char *h, *o;
				if (chunk_entry(c, nchunks, &k, &h, &o) == 0) {
					phash[k] = h;
					powner[k] = o;
				}
			}
	}
	for (long long i = 0; i < nchunks; i++) {
		ssize_t n = read_at(fd, buf, BACKUP_CHUNK, (off_t)(i * BACKUP_CHUNK));
		if (n < 0) {
			rc = (int)n;
			snprintf(err, errlen, "backup: read the copy: %s", strerror((int)-n));
			goto out;
		}
		if (all_zero(buf, (size_t)n))
			continue; /* a hole: restored as zeros */
		char h[65];
		sha256_hex(buf, (size_t)n, h);
		const char *owner = id;
		if (phash && phash[i] && !strcmp(phash[i], h)) {
			owner = powner[i]; /* unchanged since the parent: its object serves */
		} else {
			snprintf(name, sizeof(name), "%s/chunk-%05lld", id, i);
			if ((rc = fs_write_atomic(chunk, buf, (size_t)n, 0600)) < 0) {
				snprintf(err, errlen, "backup: write a chunk: %s", strerror(-rc));
				goto out;
			}
			if ((rc = store_put_file(&s, name, chunk, err, errlen)) < 0)
				goto out;
			++*count;
		}
		json_array_append_new(chunks, json_pack("{s:I,s:s,s:s}", "i", (json_int_t)i,
		                                        "sha256", h, "backup", owner));
	}
	m = json_pack("{s:i,s:s,s:s,s:s,s:I,s:i,s:O}", "version", 1, "backup_id", id, "volume_id",
	              b->volume_id, "parent_id", b->parent_id, "size", (json_int_t)sb.st_size,
	              "chunk_size", (int)BACKUP_CHUNK, "chunks", chunks);
	if (json_dump_file(m, man, JSON_COMPACT) < 0) {
		snprintf(err, errlen, "backup: write the manifest failed");
		rc = -EIO;
		goto out;
	}
	snprintf(name, sizeof(name), "%s/manifest", id);
	if ((rc = store_put_file(&s, name, man, err, errlen)) < 0)
		goto out;
	++*count;
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	unlink(raw);
	unlink(copy);
	unlink(chunk);
	unlink(man);
	store_release(&s);
	json_decref(parent);
	json_decref(chunks);
	json_decref(m);
	free(phash);
	free(powner);
	free(buf);
	free(src);
	free(raw);
	free(copy);
	free(chunk);
	free(man);
	return rc;
}

/* ---- restore ---- */

int backup_size_fits(long long size, int size_gb)
{
	return size > 0 && size % 512 == 0 && size_gb > 0 &&
	       (unsigned long long)size <= (unsigned long long)size_gb * GIB;
}

int backup_restore(const struct pool *p, const char *id, const struct msg_backup *b, char *err,
                   size_t errlen)
{
	char name[UUID_STR_LEN + 16];
	struct store s;
	struct qemu_img_argv a;
	char *raw = xasprintf("%s/tmp/restore-%s.raw", p->dir, b->volume_id);
	char *chunk = xasprintf("%s/tmp/restore-%s.chunk", p->dir, b->volume_id);
	char *man = xasprintf("%s/tmp/restore-%s.manifest", p->dir, b->volume_id);
	char *qcow = xasprintf("%s/tmp/restore-%s.qcow2", p->dir, b->volume_id);
	const char *fmt; /* the volume's file's when it is there, else the pool's */
	char *path = pool_locate(p, POOL_VOLUME, b->volume_id, &fmt);
	unsigned char *buf = NULL;
	json_t *m = NULL, *c;
	int fd = -1, rc = -EIO;
	size_t i;
	store_init(&s, b);
	if (p->vg) {
		snprintf(err, errlen, "restoring a backup into an LVM pool is not supported");
		rc = -ENOTSUP;
		goto out;
	}
	if (!(m = manifest_get(&s, b->data_id[0] ? b->data_id : id, man, err, errlen)))
		goto out;
	long long size = json_integer_value(json_object_get(m, "size"));
	long long csize = json_integer_value(json_object_get(m, "chunk_size"));
	long long nchunks = (size + csize - 1) / csize;
	if (!backup_size_fits(size, b->size_gb)) {
		snprintf(
		    err, errlen,
		    "backup %s: its manifest's size (%lld bytes) is not one that fits the %d GiB"
		    " volume",
		    id, size, b->size_gb);
		rc = -EINVAL;
		goto out;
	}
	buf = xmalloc((size_t)csize);
	fd = open(raw, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		rc = -errno;
		snprintf(err, errlen, "restore: make the copy: %s", strerror(errno));
		goto out;
	}
	json_array_foreach(json_object_get(m, "chunks"), i, c)
	{
		long long k;
		const char *h, *owner;
		char got[65];
		if (chunk_entry(c, nchunks, &k, &h, &owner) < 0) {
			snprintf(err, errlen, "backup %s: manifest entry %zu is not one", id, i);
			rc = -EINVAL;
			goto out;
		}
		long long want = size - k * csize < csize ? size - k * csize : csize;
		snprintf(name, sizeof(name), "%s/chunk-%05lld", owner, k);
		if ((rc = store_get_file(&s, name, chunk, csize, err, errlen)) < 0)
			goto out;
		int cfd = open(chunk, O_RDONLY | O_CLOEXEC);
		ssize_t n = cfd < 0 ? -errno : read_at(cfd, buf, (size_t)csize, 0);
		if (cfd >= 0)
			close(cfd);
		if (n == want)
			sha256_hex(buf, (size_t)want, got);
		if (n != want || strcmp(got, h)) {
			snprintf(err, errlen, "backup %s: object %s is damaged (size or sha256)",
			         id, name);
			rc = -EIO;
			goto out;
		}
		if (pwrite(fd, buf, (size_t)want, (off_t)(k * csize)) != (ssize_t)want) {
			rc = -EIO;
			snprintf(err, errlen, "restore: write the copy: %s", strerror(errno));
			goto out;
		}
	}
	close(fd);
	fd = -1;
	unlink(qcow);
	/* raw: the copy itself (sparse: absent pieces were never written), grown in place */
	const char *made = !strcmp(fmt, "raw") ? raw : qcow;
	if (made == qcow &&
	    (rc = pool_run_img(&a, qemu_img_argv_convert(&a, raw, "raw", qcow, "qcow2"), err,
	                       errlen)) < 0)
		goto out;
	if ((unsigned long long)b->size_gb * GIB > (unsigned long long)size &&
	    (rc = pool_run_img(&a, qemu_img_argv_resize(&a, made, fmt, (uint64_t)b->size_gb * GIB),
	                       err, errlen)) < 0)
		goto out;
	rc = pool_commit(made, path, err, errlen);
out:
	if (fd >= 0)
		close(fd);
	unlink(raw);
	unlink(chunk);
	unlink(man);
	unlink(qcow);
	store_release(&s);
	json_decref(m);
	free(buf);
	free(raw);
	free(chunk);
	free(man);
	free(qcow);
	free(path);
	return rc;
}

/* ---- delete ---- */

int backup_name_plain(const char *name)
{
	size_t n = strlen(name);
	return n > 0 && n < 256 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                    "0123456789._/-") == n;
}

int backup_delete(const struct pool *p, const char *id, const struct msg_backup *b, char *err,
                  size_t errlen)
{
	struct store s;
	char why[256] = "";
	char *marker = xstrdup(""); /* the page's last name, URL-encoded */
	int rc = 0;
	store_init(&s, b);
	if (b->data_id[0])
		id = b->data_id; /* an imported record that is the last to name them */
	for (int page = 0; page < BACKUP_LIST_PAGES; page++) {
		struct http_json_answer a;
		char *base = store_url(&s, NULL);
		char *url =
		    xasprintf("%s?format=json&limit=1000&prefix=%s/&marker=%s", base, id, marker);
		free(base);
		const struct http_json q = {"GET", url, s.headers, NULL, 60, NULL};
		rc = http_client_json(&q, &a, why, sizeof(why));
		free(url);
		if (rc < 0) {
			snprintf(err, errlen, "object store: list: %s", why);
			break;
		}
		if (a.status == 404) { /* no container: nothing of it is left */
			http_client_answer_release(&a);
			break;
		}
		if (a.status / 100 != 2) {
			snprintf(err, errlen, "object store: list: HTTP %ld", a.status);
			http_client_answer_release(&a);
			rc = -EIO;
			break;
		}
		size_t i, n = json_array_size(a.json);
		json_t *o;
		const char *last = NULL;
		json_array_foreach(a.json, i, o)
		{
			const char *name = json_string_value(json_object_get(o, "name"));
			if (!name)
				continue;
			last = name; /* every name moves the marker on (review s8 L2) */
			if (strncmp(name, id, strlen(id)) || !backup_name_plain(name))
				continue; /* not a name this agent writes: left to its owner */
			if ((rc = store_call(&s, "DELETE", name, 1, err, errlen)) < 0)
				break;
		}
		char *next = last ? curl_easy_escape(NULL, last, 0) : NULL;
		int progress = next && strcmp(next, marker);
		if (next) {
			free(marker);
			marker = xstrdup(next);
			curl_free(next);
		}
		http_client_answer_release(&a);
		if (rc < 0 || n == 0 || !progress)
			break;
	}
	free(marker);
	store_release(&s);
	(void)p;
	return rc;
}

/* The swift backend of image_store.h. Image id is the object "<container>/<id>" of the
 * Swift account of the cloud's service project ([image] swift_project, default
 * "service", which nubo-manage bootstrap makes), reached at the object store's proxy
 * ([image] swift_url, default [objstore] internal_url or public_url + "/v1/AUTH_<the
 * project's id>") with a token nubo-api mints for [image] swift_user (default "admin",
 * who holds the admin role there) limited to that one account (common/objtoken.h), so
 * that it opens nothing else; one token is kept and shared until it nears its end.
 *
 * An image up to [image] swift_segment_mb (default 1024, at most Swift's 5 GiB) is one
 * object; a larger one a dynamic large object: segments of that size (the last one
 * shorter) named "<id>/00000000", ... in "<container>_segments" and an empty manifest
 * object "<container>/<id>" whose X-Object-Manifest names them. DLO rather than SLO: the
 * segment names follow from the id, so a retry overwrites and a delete lists them by
 * prefix, and no manifest body must be kept right. Every object is sent with the MD5 of
 * its bytes as ETag (the store refuses a body that does not match) and the whole is
 * checked by its length once written. Bytes are streamed from the examined upload file
 * and into an unlinked file: never a whole image, nor a segment, in memory. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "http_client.h"
#include "identity/token.h"
#include "image/image_store.h"
#include "log.h"
#include "md5.h"
#include "objtoken.h"
#include "xalloc.h"

#define TOKEN_TTL 7200   /* seconds a minted token lives */
#define TOKEN_RENEW 1800 /* a token with less left is replaced */
#define LIST_ROUNDS 16   /* listings of 1,000 segments at most, per remove */
#define HASH_CHUNK (1 << 20)
#define SEGMENT_MB_MAX 5120 /* Swift's largest object */

/* The shared token and the account URL it opens. */
static struct {
	pthread_mutex_t lock;
	char token[TOKEN_STR_MAX];
	char url[512];
	time_t expires;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* One call's view of the store. */
struct sw {
	char url[512];  /* the account */
	char auth[192]; /* "X-Auth-Token: ..." (a secret: wiped) */
	const char *headers[3];
	char extra[512]; /* a second header line for one request */
	const char *container;
	uint64_t seg; /* bytes of a segment */
};

static const char *conf_image(const struct req *r, const char *key, const char *def)
{
	return conf_get(r->ctx->api->conf, "image", key, def);
}

/* Mints a token for the service user in the service project, limited to its account,
 * into the cache. 0, or -EIO with err. Called with the lock held. */
static int token_mint(struct req *r, char *err, size_t errlen)
{
	const char *user = conf_image(r, "swift_user", "admin");
	const char *project = conf_image(r, "swift_project", "service");
	PGresult *res = DBQ(r->ctx->db, err, errlen,
	                    "SELECT u.id, p.id FROM users u, projects p WHERE u.name = $1 AND"
	                    " u.domain_id = 'default' AND p.name = $2 AND p.domain_id = 'default'",
	                    user, project);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		PQclear(res);
		snprintf(err, errlen, "no user %s or project %s for the image store", user,
		         project);
		return -EIO;
	}
	char account[OBJTOKEN_ACCOUNT_MAX];
	snprintf(account, sizeof(account), "AUTH_%s", db_val(res, 0, 1));
	const char *base = conf_image(r, "swift_url", NULL);
	if (base)
		snprintf(cache.url, sizeof(cache.url), "%s", base);
	else {
		const struct conf *c = r->ctx->api->conf;
		const char *os = conf_get(c, "objstore", "internal_url",
		                          conf_get(c, "objstore", "public_url", ""));
		size_t n = strlen(os);
		while (n > 0 && os[n - 1] == '/')
			n--;
		if (n == 0) {
			PQclear(res);
			snprintf(err, errlen, "no [objstore] internal_url or [image] swift_url");
			return -EIO;
		}
		snprintf(cache.url, sizeof(cache.url), "%.*s/v1/%s", (int)n, os, account);
	}
	const struct token_req t = {
	    db_val(res, 0, 0), db_val(res, 0, 1), NULL, NULL, NULL, NULL, 0, account};
	struct auth minted;
	int rc = token_issue(r->ctx->db, &t, TOKEN_TTL, cache.token, &minted);
	PQclear(res);
	if (rc < 0) {
		snprintf(err, errlen, "cannot mint the image store's token");
		return -EIO;
	}
	cache.expires = time(NULL) + TOKEN_TTL;
	return 0;
}

/* Fills s for one call: a token with at least TOKEN_RENEW seconds left. */
static int sw_begin(struct req *r, struct sw *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&cache.lock);
	int rc = 0;
	if (!cache.token[0] || cache.expires - time(NULL) < TOKEN_RENEW)
		rc = token_mint(r, err, errlen);
	if (rc == 0) {
		snprintf(s->url, sizeof(s->url), "%s", cache.url);
		snprintf(s->auth, sizeof(s->auth), "X-Auth-Token: %s", cache.token);
	}
	pthread_mutex_unlock(&cache.lock);
	s->headers[0] = s->auth;
	s->container = conf_image(r, "swift_container", "images");
	long mb = conf_get_long(r->ctx->api->conf, "image", "swift_segment_mb", 1024);
	if (mb < 1 || mb > SEGMENT_MB_MAX)
		mb = 1024;
	s->seg = (uint64_t)mb << 20;
	return rc;
}

static void sw_end(struct sw *s)
{
	sodium_memzero(s->auth, sizeof(s->auth));
}

/* The error class of a failed exchange (status 0: none came). */
static int sw_class(long status)
{
	if (status == 0 || status >= 500)
		return -EAGAIN;
	if (status == 401)
		return -EACCES; /* the token: sw_run mints another once */
	return status == 404 ? -ENOENT : -EIO;
}

/* One bodiless request on "<url>/<path>" (with s->extra as a header when set): 0 on a
 * 2xx (or a 404 when gone_ok), else the class of the failure with err. With json, the
 * parsed answer (owned) or NULL. */
static int sw_call(struct sw *s, const char *method, const char *path, int gone_ok, json_t **json,
                   char *err, size_t errlen)
{
	struct http_json_answer a;
	char why[256] = "";
	char *url = xasprintf("%s/%s", s->url, path);
	s->headers[1] = s->extra[0] ? s->extra : NULL;
	const struct http_json q = {method, url, s->headers, NULL, 60, NULL};
	int rc = http_client_json(&q, &a, why, sizeof(why));
	s->headers[1] = NULL;
	s->extra[0] = '\0';
	if (rc < 0) {
		snprintf(err, errlen, "%s %s: %s", method, path, why);
		rc = -EAGAIN;
	} else {
		if (a.status / 100 != 2 && !(gone_ok && a.status == 404)) {
			snprintf(err, errlen, "%s %s: HTTP %ld", method, path, a.status);
			rc = sw_class(a.status);
		} else if (json) {
			*json = a.json;
			a.json = NULL;
		}
		http_client_answer_release(&a);
	}
	free(url);
	return rc;
}

/* PUTs length bytes of fd from offset as object path, whose MD5 is md5. */
static int sw_put(struct sw *s, const char *path, int fd, uint64_t offset, uint64_t length,
                  const char *md5, char *err, size_t errlen)
{
	char why[256] = "", etag[48];
	long status = 0;
	char *url = xasprintf("%s/%s", s->url, path);
	snprintf(etag, sizeof(etag), "ETag: %s", md5);
	s->headers[1] = etag;
	const struct http_put p = {url, s->headers, 0, 0, (long long)offset, (long long)length};
	int rc = http_client_put_fd(&p, fd, &status, why, sizeof(why));
	s->headers[1] = NULL;
	free(url);
	if (rc < 0) {
		snprintf(err, errlen, "PUT %s: %s", path, why);
		return sw_class(status);
	}
	return 0;
}

/* The MD5 of length bytes of fd from offset, in hex. */
static int part_md5(int fd, uint64_t offset, uint64_t length, char hex[33], char *err,
                    size_t errlen)
{
	struct md5 m;
	uint8_t *buf = xmalloc(HASH_CHUNK);
	int rc = 0;
	md5_init(&m);
	while (length > 0) {
		size_t want = length < HASH_CHUNK ? (size_t)length : HASH_CHUNK;
		ssize_t n = pread(fd, buf, want, (off_t)offset);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "read upload: %s", n < 0 ? strerror(errno) : "short");
			rc = -EIO;
			break;
		}
		md5_update(&m, buf, (size_t)n);
		offset += (uint64_t)n;
		length -= (uint64_t)n;
	}
	free(buf);
	if (rc == 0)
		md5_final_hex(&m, hex);
	return rc;
}

/* Deletes every segment of image id. */
static int segments_remove(struct sw *s, const char *id, char *err, size_t errlen)
{
	for (int round = 0; round < LIST_ROUNDS; round++) {
		json_t *list = NULL;
		char *q = xasprintf("%s_segments?format=json&prefix=%s/", s->container, id);
		int rc = sw_call(s, "GET", q, 1, &list, err, errlen);
		free(q);
		if (rc < 0)
			return rc;
		size_t n = json_is_array(list) ? json_array_size(list) : 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			const char *name =
			    json_string_value(json_object_get(json_array_get(list, i), "name"));
			if (!name || strncmp(name, id, strlen(id)) || name[strlen(id)] != '/')
				continue;
			char *path = xasprintf("%s_segments/%s", s->container, name);
			rc = sw_call(s, "DELETE", path, 1, NULL, err, errlen);
			free(path);
		}
		json_decref(list);
		if (rc < 0 || n == 0)
			return rc;
	}
	snprintf(err, errlen, "image %s: more segments than %d listings hold", id, LIST_ROUNDS);
	return -EIO;
}

/* Checks that object path is now size bytes long. */
static int sw_check_length(struct sw *s, const char *path, uint64_t size, char *err, size_t errlen)
{
	struct http_json_answer a;
	char why[256] = "";
	char *url = xasprintf("%s/%s", s->url, path);
	const struct http_json q = {"HEAD", url, s->headers, NULL, 60, "Content-Length"};
	int rc = http_client_json(&q, &a, why, sizeof(why));
	free(url);
	if (rc < 0) {
		snprintf(err, errlen, "HEAD %s: %s", path, why);
		return -EAGAIN;
	}
	if (a.status / 100 != 2) {
		snprintf(err, errlen, "HEAD %s: HTTP %ld", path, a.status);
		rc = sw_class(a.status);
	} else if (strtoull(a.header, NULL, 10) != size) {
		snprintf(err, errlen, "%s holds %s bytes, not %llu", path, a.header,
		         (unsigned long long)size);
		rc = -EIO;
	}
	http_client_answer_release(&a);
	return rc;
}

static int upload(struct sw *s, const char *id, int fd, uint64_t size, const char *md5, char *err,
                  size_t errlen)
{
	char *obj = xasprintf("%s/%s", s->container, id);
	uint64_t nseg = image_store_segments(size, s->seg);
	int rc = sw_call(s, "PUT", s->container, 0, NULL, err, errlen);
	if (rc == 0 && nseg > IMAGE_STORE_SEGMENT_MAX) {
		snprintf(err, errlen, "%llu segments: more than %d", (unsigned long long)nseg,
		         IMAGE_STORE_SEGMENT_MAX);
		rc = -EIO;
	}
	if (rc == 0 && nseg == 0) {
		rc = sw_put(s, obj, fd, 0, size, md5, err, errlen);
	} else if (rc == 0) {
		char *segc = xasprintf("%s_segments", s->container);
		rc = sw_call(s, "PUT", segc, 0, NULL, err, errlen);
		free(segc);
		/* segments of an earlier, larger attempt would join this image's bytes */
		if (rc == 0)
			rc = segments_remove(s, id, err, errlen);
		for (uint64_t i = 0; rc == 0 && i < nseg; i++) {
			char name[96], hex[33];
			uint64_t off = i * s->seg, len = size - off < s->seg ? size - off : s->seg;
			image_store_segment_name(id, i, name, sizeof(name));
			char *path = xasprintf("%s_segments/%s", s->container, name);
			rc = part_md5(fd, off, len, hex, err, errlen);
			if (rc == 0)
				rc = sw_put(s, path, fd, off, len, hex, err, errlen);
			free(path);
		}
		if (rc == 0) {
			snprintf(s->extra, sizeof(s->extra), "X-Object-Manifest: %s_segments/%s/",
			         s->container, id);
			rc = sw_call(s, "PUT", obj, 0, NULL, err, errlen);
		}
	}
	if (rc == 0)
		rc = sw_check_length(s, obj, size, err, errlen);
	free(obj);
	return rc;
}

static int swift_remove_in(struct sw *s, const char *id, char *err, size_t errlen)
{
	char *obj = xasprintf("%s/%s", s->container, id);
	int rc = sw_call(s, "DELETE", obj, 1, NULL, err, errlen);
	free(obj);
	return rc < 0 ? rc : segments_remove(s, id, err, errlen);
}

/* What one call of the interface works on. */
struct call {
	const char *id, *path, *md5;
	uint64_t size, start, len;
	int *fd;
	uint64_t *off;
};

typedef int (*sw_fn)(struct req *r, struct sw *s, const struct call *c, char *err, size_t errlen);

/* Forgets the shared token when it is the one s used (the store refused it). */
static void token_forget(const struct sw *s)
{
	static const char pfx[] = "X-Auth-Token: ";
	pthread_mutex_lock(&cache.lock);
	if (cache.token[0] && !strcmp(s->auth + sizeof(pfx) - 1, cache.token))
		cache.token[0] = '\0';
	pthread_mutex_unlock(&cache.lock);
}

/* Runs fn with the shared token, and once more with a new one when the store refuses
 * it (a token revoked, e.g. with its user's password change, before its end). */
static int sw_run(struct req *r, sw_fn fn, const struct call *c, char *err, size_t errlen)
{
	for (int attempt = 0;; attempt++) {
		struct sw s;
		int rc = sw_begin(r, &s, err, errlen);
		if (rc == 0)
			rc = fn(r, &s, c, err, errlen);
		if (rc == -EACCES)
			token_forget(&s);
		sw_end(&s);
		if (rc == -EACCES && attempt == 0) {
			log_info("image store (swift): token refused, minting another");
			continue;
		}
		return rc == -EACCES ? -EIO : rc;
	}
}

static int commit_once(struct req *r, struct sw *s, const struct call *c, char *err, size_t errlen)
{
	int rc = 0, fd = open(c->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open upload: %s", strerror(errno));
		return -EIO;
	}
	rc = upload(s, c->id, fd, c->size, c->md5, err, errlen);
	close(fd);
	if (rc < 0 && rc != -EACCES) {
		char why[256];
		if (swift_remove_in(s, c->id, why, sizeof(why)) < 0)
			log_warn("image %s: cannot remove a failed upload's objects: %s", c->id,
			         why);
	}
	return rc;
}

static int open_once(struct req *r, struct sw *s, const struct call *c, char *err, size_t errlen)
{
	int f = open(r->ctx->api->image_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f < 0) {
		snprintf(err, errlen, "temporary file in %s: %s", r->ctx->api->image_dir,
		         strerror(errno));
		return -EIO;
	}
	char range[80], why[256] = "";
	long status = 0;
	char *url = xasprintf("%s/%s/%s", s->url, s->container, c->id);
	/* the whole image is asked without a Range: a 200 either way */
	snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)c->start,
	         (unsigned long long)(c->start + c->len - 1));
	s->headers[1] = c->start == 0 && c->len == c->size ? NULL : range;
	const struct http_get g = {url, s->headers, (long long)c->len, 0, 0, NULL};
	int rc = http_client_get_fd(&g, f, &status, why, sizeof(why));
	s->headers[1] = NULL;
	free(url);
	struct stat st;
	if (rc < 0) {
		snprintf(err, errlen, "GET %s/%s: %s", s->container, c->id, why);
		rc = rc == -EFBIG ? -EIO : sw_class(status);
	} else if (fstat(f, &st) < 0 || (uint64_t)st.st_size != c->len) {
		snprintf(err, errlen, "GET %s/%s: not the %llu bytes asked", s->container, c->id,
		         (unsigned long long)c->len);
		rc = -ENOENT;
	}
	if (rc < 0) {
		close(f);
		return rc;
	}
	*c->fd = f;
	*c->off = 0;
	return 0;
}

static int remove_once(struct req *r, struct sw *s, const struct call *c, char *err, size_t errlen)
{
	return swift_remove_in(s, c->id, err, errlen);
}

static int swift_commit(struct req *r, const char *id, const char *path, uint64_t size,
                        const char *md5, char *err, size_t errlen)
{
	const struct call c = {.id = id, .path = path, .md5 = md5, .size = size};
	return sw_run(r, commit_once, &c, err, errlen);
}

static int swift_open(struct req *r, const char *id, uint64_t size, uint64_t start, uint64_t len,
                      int *fd, uint64_t *off, char *err, size_t errlen)
{
	const struct call c = {
	    .id = id, .size = size, .start = start, .len = len, .fd = fd, .off = off};
	return sw_run(r, open_once, &c, err, errlen);
}

static int swift_remove(struct req *r, const char *id, char *err, size_t errlen)
{
	const struct call c = {.id = id};
	return sw_run(r, remove_once, &c, err, errlen);
}

const struct image_store_ops image_store_swift = {"swift", swift_commit, swift_open, swift_remove};

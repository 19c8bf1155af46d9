/* nubo-objserver: forks and keeps one worker per local ring device; a worker serves its
 * device over HTTP: PUT streams to a temp file while hashing (or takes the MD5 the proxy
 * sends after the body), then fsync, rename, fsync of the directory, and only then 201; GET/HEAD
 * send the newest version (Range); DELETE writes a tombstone. An older version than the newest on
 * disk is refused (409). */
#include "objserver.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "httpd.h"
#include "log.h"
#include "md5.h"
#include "objclient.h"
#include "objfile.h"
#include "parthash.h"
#include "replicator.h"
#include "verify_cache.h"
#include "ring.h"
#include "xalloc.h"

struct objserver_conf {
	const struct conf *conf;
	const char *ring_file, *devices_dir, *node_ip;
	long reserve_mb; /* free space kept on a device: below it PUT is 507 */
	long audit_bytes_per_sec;
	long replicate_interval;
	long verify_read_max; /* GETs of objects up to this size verify the MD5 first */
};

#define OBJFILE_PRUNE_MAX 8 /* older versions a PUT removes from its scan, else it rescans */
#define OBJSERVER_VERIFIED_SLOTS 16384 /* verify_cache entries per device worker */
#define OBJSERVER_INLINE_MAX 16384     /* a GET answer up to this size is sent from memory */
/* libmicrohttpd's memory per connection (its default: 32 KiB). The read buffer lives in it,
 * so it bounds how much of a PUT body one recv and one write take: 128 KiB reads 64 KiB
 * at a time instead of 16. Not more: libmicrohttpd zeroes the whole pool before every
 * request of a kept-alive connection, which a small GET pays for (256 KiB: memset was
 * 12 % of a GET 4 KiB run's CPU) */
#define OBJSRV_CONN_MEMORY (128 << 10)

/* What a worker serves. */
struct worker {
	const struct objserver_conf *cfg;
	struct ring_dev dev;
	char root[1024]; /* the device directory */
	unsigned nparts;
	struct verify_cache *verified; /* .data files lately verified by a GET */
};

/* One PUT in progress. */
struct put {
	int fd;
	char tmp[PATH_MAX];
	char dir[PATH_MAX];
	char ts[OBJFILE_TS_LEN];
	struct md5 md5;
	int hashed; /* we hash the body; else its MD5 comes in OBJFILE_ETAG_TRAILER */
	uint64_t got;
	int64_t want; /* Content-Length, -1 when chunked */
	int status;   /* an error met while receiving (507), answered at the end */
	json_t *meta;
	char etag_want[33];
	int made; /* directory levels made for it (objfile_mkdirs_lazy) */
};

static const char *const stored_headers[] = {
    "Content-Type", "Content-Encoding",  "Content-Disposition",
    "X-Delete-At",  "X-Object-Manifest", "X-Static-Large-Object",
};

static int header_stored(const char *k)
{
	if (!strncasecmp(k, "X-Object-Meta-", 14) || !strncasecmp(k, "X-Object-Sysmeta-", 17))
		return 1;
	for (size_t i = 0; i < sizeof(stored_headers) / sizeof(stored_headers[0]); i++)
		if (!strcasecmp(k, stored_headers[i]))
			return 1;
	return 0;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *k,
                                      const char *v)
{
	json_t *h = cls;
	if (header_stored(k))
		json_object_set_new(h, k, json_string(v));
	return MHD_YES;
}

static enum MHD_Result answer(struct MHD_Connection *c, int status, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(n, (void *)(text ? text : ""), MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A 400 the client caused, not the proxy (OBJFILE_CLIENT_FAULT_HEADER): why says what. */
static enum MHD_Result answer_client_fault(struct MHD_Connection *c, const char *why)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(strlen(why), (void *)why, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, OBJFILE_CLIENT_FAULT_HEADER, why);
	enum MHD_Result ret = MHD_queue_response(c, 400, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result answer_ts(struct MHD_Connection *c, int status, const char *ts)
{
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (ts && *ts)
		MHD_add_response_header(r, "X-Backend-Timestamp", ts);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* url "/<dev>/<part>/<account>/<container>/<object>" (object may hold '/'): the hash
 * directory of the object into dir, its name into name. 0 or -EINVAL. */
static int worker_locate(const struct worker *w, const char *url, char *dir, size_t dlen,
                         char *name, size_t nlen, unsigned *partp)
{
	if (url[0] != '/')
		return -EINVAL;
	const char *p = url + 1, *s = strchr(p, '/');
	if (!s || (size_t)(s - p) != strlen(w->dev.name) ||
	    strncmp(p, w->dev.name, (size_t)(s - p)))
		return -EINVAL;
	p = s + 1;
	char *end;
	errno = 0;
	unsigned long part = strtoul(p, &end, 10);
	if (end == p || *end != '/' || errno || part >= w->nparts || !isdigit((unsigned char)*p))
		return -EINVAL;
	const char *path = end; /* "/account/container/object" */
	const char *a = path + 1, *c = strchr(a, '/');
	if (!c || c == a)
		return -EINVAL;
	const char *o = strchr(c + 1, '/');
	if (!o || o == c + 1 || !o[1] || strlen(path) >= nlen)
		return -EINVAL;
	memcpy(name, path, strlen(path) + 1); /* fits: checked above */
	/* the hash is md5 of "/a/c/o" (ring_hash) */
	struct md5 m;
	char hash[33];
	md5_init(&m);
	md5_update(&m, path, strlen(path));
	md5_final_hex(&m, hash);
	objfile_dir(w->root, (unsigned)part, hash, dir, dlen);
	*partp = (unsigned)part;
	return 0;
}

static int device_full(const struct worker *w, int64_t len)
{
	struct statvfs sv;
	if (statvfs(w->root, &sv) < 0)
		return 0;
	uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	uint64_t need = (uint64_t)w->cfg->reserve_mb << 20;
	if (len > 0)
		need += (uint64_t)len;
	return avail < need;
}

static void put_free(struct put *p);

/* First call of a PUT: checks, then the temp file. */
static enum MHD_Result put_begin(struct worker *w, struct MHD_Connection *c, const char *url,
                                 void **cls)
{
	char dir[PATH_MAX], name[2048], newest[OBJFILE_TS_LEN];
	unsigned part;
	const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Timestamp");
	if (worker_locate(w, url, dir, sizeof(dir), name, sizeof(name), &part) < 0 ||
	    !objfile_ts_valid(ts))
		return answer(c, 400, "bad path or X-Timestamp");
	if (objfile_newest(dir, newest) != OBJFILE_NONE && strcmp(newest, ts) >= 0)
		return answer_ts(c, 409, newest);
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
	const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
	const char *tr = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Trailer");
	/* a chunked body announced with the MD5 trailer: the proxy hashed it (and the
	 * length it must have comes in a header); else (a replicator's push, a sized body)
	 * the bytes are hashed here */
	int trailer =
	    !cl && te && !strcasecmp(te, "chunked") && tr && !strcasecmp(tr, OBJFILE_ETAG_TRAILER);
	if (trailer)
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, OBJFILE_LENGTH_HEADER);
	int64_t want = -1;
	if (cl) { /* digits only: "-1" or "abc" would turn the length check off */
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (!isdigit((unsigned char)cl[0]) || *end || errno || v > INT64_MAX)
			return answer(c, 400, "bad body length");
		want = (int64_t)v;
	}
	if (device_full(w, want))
		return answer(c, 507, "device full");
	struct put *p = xcalloc(1, sizeof(*p));
	p->fd = -1;
	p->want = want;
	snprintf(p->dir, sizeof(p->dir), "%s", dir);
	snprintf(p->ts, sizeof(p->ts), "%s", ts);
	snprintf(p->tmp, sizeof(p->tmp), "%s/tmp/put.XXXXXX", w->root);
	p->fd = mkostemp(p->tmp, O_CLOEXEC);
	if (p->fd < 0) {
		free(p);
		return answer(c, errno == ENOSPC ? 507 : 500, "cannot create a temp file");
	}
	/* its directories now, unsynced: the data's fsync commits them along */
	if (objfile_mkdirs_lazy(p->dir, &p->made) < 0) {
		put_free(p);
		return answer(c, 507, "mkdir failed");
	}
	fchmod(p->fd, 0640);
	p->hashed = !trailer;
	md5_init(&p->md5);
	p->meta = json_object();
	json_t *h = json_object();
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, h);
	json_object_set_new(p->meta, "name", json_string(name));
	json_object_set_new(p->meta, "h", h);
	const char *etag = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Etag");
	if (etag) {
		if (*etag == '"')
			etag++;
		snprintf(p->etag_want, sizeof(p->etag_want), "%.32s", etag);
	}
	*cls = p;
	return MHD_YES;
}

static void put_free(struct put *p)
{
	if (!p)
		return;
	if (p->fd >= 0) {
		close(p->fd);
		unlink(p->tmp);
	}
	json_decref(p->meta);
	free(p);
}

static void put_data(struct put *p, const char *data, size_t n)
{
	if (p->status)
		return;
	if (p->hashed)
		md5_update(&p->md5, data, n);
	off_t at = (off_t)(OBJFILE_HEADER + p->got);
	while (n > 0) {
		ssize_t k = pwrite(p->fd, data, n, at);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			p->status = errno == ENOSPC || errno == EDQUOT ? 507 : 500;
			return;
		}
		data += k;
		n -= (size_t)k;
		at += k;
		p->got += (uint64_t)k;
	}
}

/* The MD5 of a PUT's body: ours, or the proxy's from its trailer (32 hex digits, made
 * lowercase). 0, or -EINVAL when the trailer is missing or malformed. */
static int put_etag(struct MHD_Connection *c, struct put *p, char etag[33])
{
	if (p->hashed) {
		md5_final_hex(&p->md5, etag);
		return 0;
	}
	const char *t = MHD_lookup_connection_value(c, MHD_FOOTER_KIND, OBJFILE_ETAG_TRAILER);
	if (!t || strlen(t) != 32)
		return -EINVAL;
	for (int i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)t[i]))
			return -EINVAL;
		etag[i] = (char)tolower((unsigned char)t[i]);
	}
	etag[32] = '\0';
	return 0;
}

/* Last call of a PUT: verify, make durable, answer. */
static enum MHD_Result put_end(struct MHD_Connection *c, struct put *p)
{
	char etag[33], final[PATH_MAX + 32];
	if (p->status)
		return answer(c, p->status, p->status == 507 ? "device full" : "write failed");
	if (p->want >= 0 && (uint64_t)p->want != p->got)
		return answer(c, 499, "body length differs from Content-Length");
	if (put_etag(c, p, etag) < 0)
		return answer(c, 400, "no valid " OBJFILE_ETAG_TRAILER " trailer");
	if (p->etag_want[0] && strcasecmp(p->etag_want, etag))
		return answer(c, 422, "Unprocessable Entity");
	json_object_set_new(p->meta, "ts", json_string(p->ts));
	json_object_set_new(p->meta, "size", json_integer((json_int_t)p->got));
	json_object_set_new(p->meta, "etag", json_string(etag));
	int rc = objfile_header_write(p->fd, p->meta);
	if (rc == -E2BIG)
		return answer_client_fault(c, "metadata too large");
	if (rc < 0 || fsync(p->fd) < 0)
		return answer(c, errno == ENOSPC ? 507 : 500, "write failed");
	/* (again: the replicator may have removed an empty hash directory meanwhile) */
	if (objfile_mkdirs_lazy(p->dir, &p->made) < 0)
		return answer(c, 500, "mkdir failed");
	/* one read of the directory: newest wins, and the versions ours replaces */
	char newest[OBJFILE_TS_LEN], older[OBJFILE_PRUNE_MAX][OBJFILE_NAME_MAX];
	int nolder;
	DIR *d = opendir(p->dir);
	if (!d)
		return answer(c, 500, "cannot read the object's directory");
	if (objfile_scan(d, newest, older, OBJFILE_PRUNE_MAX, &nolder) != OBJFILE_NONE &&
	    strcmp(newest, p->ts) >= 0) {
		closedir(d);
		return answer_ts(c, 409, newest);
	}
	snprintf(final, sizeof(final), "%s/%s.data", p->dir, p->ts);
	if (rename(p->tmp, final) < 0) {
		closedir(d);
		return answer(c, 500, "rename failed");
	}
	close(p->fd);
	p->fd = -1;
	fsync(dirfd(d));
	objfile_sync_parents(p->dir, p->made);
	for (int i = 0; i < nolder; i++) /* all older than ours: the check above */
		unlinkat(dirfd(d), older[i], 0);
	closedir(d);
	if (nolder < 0)
		objfile_prune(p->dir, p->ts);
	/* after the rename: parthash_get's ordering. Not recorded, the version would be
	 * missing from the partition's cached hashes (a handoff could go without it): a
	 * failed write, as Swift answers when invalidate_hash fails */
	int irc = parthash_invalidate(p->dir);
	if (irc < 0) {
		log_err("PUT %s: cannot invalidate its suffix: %s", final, strerror(-irc));
		return answer(c, 500, "cannot invalidate the suffix hash");
	}
	struct MHD_Response *r =
	    MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(r, "Etag", etag);
	enum MHD_Result ret = MHD_queue_response(c, 201, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result do_delete(struct worker *w, struct MHD_Connection *c, const char *url)
{
	char dir[PATH_MAX], name[2048], newest[OBJFILE_TS_LEN], path[PATH_MAX + 32];
	unsigned part;
	const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Timestamp");
	if (worker_locate(w, url, dir, sizeof(dir), name, sizeof(name), &part) < 0 ||
	    !objfile_ts_valid(ts))
		return answer(c, 400, "bad path or X-Timestamp");
	enum objfile_kind k = objfile_newest(dir, newest);
	if (k != OBJFILE_NONE && strcmp(newest, ts) >= 0)
		return answer_ts(c, 409, newest);
	if (objfile_mkdirs(dir) < 0)
		return answer(c, 507, "mkdir failed");
	snprintf(path, sizeof(path), "%s/%s.ts", dir, ts);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	/* the tombstone holds the name: the replicator sends the DELETE on by name; one
	 * written only in part is removed (it would be the newest version, never hashed) */
	if (fd >= 0 && (write(fd, name, strlen(name)) != (ssize_t)strlen(name) || fsync(fd) < 0)) {
		int e = errno ? errno : EIO;
		close(fd);
		unlink(path);
		parthash_invalidate(dir); /* a rehash may have seen it meanwhile */
		errno = e;
		fd = -1;
	}
	if (fd < 0)
		return answer(c, errno == ENOSPC ? 507 : 500, "tombstone failed");
	time_t at = objfile_written_at(
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, OBJFILE_WRITTEN_HEADER), time(NULL));
	if (at) /* a replicator's copy keeps the first arrival's time (the reclaim clock) */
		futimens(fd, (const struct timespec[2]){{at, 0}, {at, 0}});
	close(fd);
	fs_sync_dir(dir);
	objfile_prune(dir, ts);
	int irc = parthash_invalidate(dir); /* as a PUT's: not recorded is a failed write */
	if (irc < 0) {
		log_err("DELETE %s: cannot invalidate its suffix: %s", path, strerror(-irc));
		return answer(c, 500, "cannot invalidate the suffix hash");
	}
	return answer_ts(c, k == OBJFILE_DATA ? 204 : 404, newest);
}

int objserver_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len)
{
	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return -1;
	const char *p = h + 6;
	char *end;
	if (*p == '-') {
		if (!isdigit((unsigned char)p[1]))
			return -1;
		unsigned long long n = strtoull(p + 1, &end, 10);
		if (*end)
			return -1;
		if (n == 0 || size == 0)
			return 0;
		if (n > size)
			n = size;
		*off = size - n;
		*len = n;
		return 1;
	}
	if (!isdigit((unsigned char)*p))
		return -1;
	unsigned long long a = strtoull(p, &end, 10), b;
	if (*end != '-')
		return -1;
	p = end + 1;
	if (*p == '\0')
		b = size ? size - 1 : 0;
	else {
		if (!isdigit((unsigned char)*p))
			return -1;
		b = strtoull(p, &end, 10);
		if (*end)
			return -1;
		if (b < a)
			return -1;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return 0;
	*off = a;
	*len = b - a + 1;
	return 1;
}

static enum MHD_Result add_meta_header(struct MHD_Response *r, json_t *h)
{
	const char *k;
	json_t *v;
	json_object_foreach(h, k, v)
	{
		if (json_is_string(v))
			httpd_mhd_header(r, k, json_string_value(v));
	}
	return MHD_YES;
}

int objserver_quarantine(const char *root, const char *path)
{
	char qdir[PATH_MAX], dst[PATH_MAX + 64];
	snprintf(qdir, sizeof(qdir), "%s/quarantined", root);
	objfile_mkdirs(qdir);
	const char *base = strrchr(path, '/');
	char hashdir[PATH_MAX];
	snprintf(hashdir, sizeof(hashdir), "%.*s", (int)(base - path), path);
	const char *hash = strrchr(hashdir, '/');
	snprintf(dst, sizeof(dst), "%s/%s-%s", qdir, hash ? hash + 1 : "x", base + 1);
	if (rename(path, dst) < 0)
		return -errno;
	log_warn("quarantined %s: its bytes do not match its ETag", path);
	int rc = parthash_invalidate(hashdir);
	if (rc < 0) /* the cache still names the gone version: a full pass repairs it */
		log_err("quarantine of %s: cannot invalidate its suffix: %s", path, strerror(-rc));
	return rc;
}

/* The answer body: len bytes of the object from off. A small one is sent from memory,
 * so that head and body leave in one write (and reach the proxy in one read): from blk
 * when the header's read brought it (have bytes of the object follow the header there;
 * blk is then the response's), else read now. A larger one is sent from the file
 * (sendfile), as a HEAD's (never read). fd is the response's or closed; blk is the
 * response's or freed. */
static struct MHD_Response *body_response(int fd, char *blk, size_t have, uint64_t len,
                                          uint64_t off, int head)
{
	if (!head && len <= OBJSERVER_INLINE_MAX && off + len <= have) {
		close(fd);
		memmove(blk, blk + OBJFILE_HEADER + off, (size_t)len);
		return MHD_create_response_from_buffer((size_t)len, blk, MHD_RESPMEM_MUST_FREE);
	}
	free(blk);
	if (!head && len <= OBJSERVER_INLINE_MAX) {
		char *buf = xmalloc(len ? (size_t)len : 1);
		ssize_t k = pread(fd, buf, (size_t)len, (off_t)(OBJFILE_HEADER + off));
		if (k == (ssize_t)len) {
			close(fd);
			return MHD_create_response_from_buffer((size_t)len, buf,
			                                       MHD_RESPMEM_MUST_FREE);
		}
		free(buf); /* (short: the file changed under us; sendfile ends it short too) */
	}
	return MHD_create_response_from_fd_at_offset64(len, fd, (uint64_t)OBJFILE_HEADER + off);
}

static enum MHD_Result do_get(struct worker *w, struct MHD_Connection *c, const char *url, int head)
{
	char dir[PATH_MAX], name[2048], ts[OBJFILE_TS_LEN], path[PATH_MAX + 32], buf[64];
	unsigned part;
	if (worker_locate(w, url, dir, sizeof(dir), name, sizeof(name), &part) < 0)
		return answer(c, 400, "bad path");
	int dfd;
	enum objfile_kind k = objfile_newest_keep(dir, ts, &dfd);
	if (k != OBJFILE_DATA) {
		if (dfd >= 0)
			close(dfd);
		return answer_ts(c, 404, ts);
	}
	snprintf(path, sizeof(path), "%s/%s.data", dir, ts);
	/* relative to the directory just read: one path component, not the whole path */
	int fd = openat(dfd, path + strlen(dir) + 1, O_RDONLY | O_CLOEXEC);
	close(dfd);
	if (fd < 0)
		return answer(c, 404, NULL);
	/* the header and a small object's bytes in one read (a HEAD's: the header only) */
	size_t cap = OBJFILE_HEADER + (head ? 0 : OBJSERVER_INLINE_MAX);
	char *blk = xmalloc(cap);
	json_t *meta;
	ssize_t have = objfile_read_start(fd, blk, cap, &meta);
	if (have < 0) {
		free(blk);
		close(fd);
		return answer(c, 500, "bad header");
	}
	uint64_t size = (uint64_t)json_integer_value(json_object_get(meta, "size")), off = 0,
	         len = size;
	if ((long long)size <= w->cfg->verify_read_max) {
		/* verified once, a file that has not changed since is not hashed again (for
		 * VERIFY_CACHE_TTL): a hot object's GETs no longer cost an MD5 pass each */
		struct stat st;
		time_t now = time(NULL);
		int stat_ok = fstat(fd, &st) == 0;
		int known = stat_ok && verify_cache_hit(w->verified, &st, now);
		if (!known &&
		    !objfile_intact(fd, size, json_string_value(json_object_get(meta, "etag")))) {
			free(blk);
			close(fd);
			json_decref(meta);
			/* moved aside but not recorded: a failed change, as a PUT's */
			if (objserver_quarantine(w->root, path) < 0)
				return answer(c, 500, "quarantine failed");
			return answer(c, 404, NULL);
		}
		if (!known && stat_ok)
			verify_cache_add(w->verified, &st, now);
	}
	int status = 200;
	int rr = objserver_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range"), size,
	                         &off, &len);
	struct MHD_Response *r;
	if (rr == 0) {
		free(blk);
		close(fd);
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		snprintf(buf, sizeof(buf), "bytes */%llu", (unsigned long long)size);
		MHD_add_response_header(r, "Content-Range", buf);
		status = 416;
	} else {
		if (rr == 1) {
			status = 206;
			snprintf(buf, sizeof(buf), "bytes %llu-%llu/%llu", (unsigned long long)off,
			         (unsigned long long)(off + len - 1), (unsigned long long)size);
		}
		r = body_response(fd, blk, (size_t)have, len, off, head);
		if (rr == 1)
			MHD_add_response_header(r, "Content-Range", buf);
	}
	add_meta_header(r, json_object_get(meta, "h"));
	MHD_add_response_header(r, "X-Timestamp", ts);
	MHD_add_response_header(r, "Etag", json_string_value(json_object_get(meta, "etag")));
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)size);
	MHD_add_response_header(r, "X-Object-Size", buf);
	json_decref(meta);
	enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}

/* The per-request pointer of a request other than a PUT (which has its struct put). */
static char request_seen;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con)
{
	struct worker *w = cls;
	if (!strcmp(method, "PUT")) {
		if (!*con)
			return put_begin(w, c, url, con);
		struct put *p = *con;
		if (*upload_data_size) {
			put_data(p, upload_data, *upload_data_size);
			*upload_data_size = 0;
			return MHD_YES;
		}
		return put_end(c, p);
	}
	if (*upload_data_size) { /* a body on another method is dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	/* answered from the second call: libmicrohttpd closes the connection after an
	 * answer queued on the first one, and the proxy keeps its connections alive */
	if (!*con) {
		*con = &request_seen;
		return MHD_YES;
	}
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return do_get(w, c, url, method[0] == 'H');
	if (!strcmp(method, "DELETE"))
		return do_delete(w, c, url);
	if (!strcmp(method, "REPLICATE"))
		return replicator_answer(w->root, c, url, w->dev.name);
	return answer(c, 405, "method not allowed");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con,
                         enum MHD_RequestTerminationCode why)
{
	if (*con != &request_seen)
		put_free(*con);
	*con = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	(void)fmt;
	(void)ap;
}

static volatile sig_atomic_t worker_stop;
static void worker_on_term(int sig)
{
	worker_stop = 1;
}

/* The worker process: serves w until SIGTERM or its parent's death. */
static int worker_run(struct worker *w, const struct ring *ring)
{
	struct sigaction sa = {.sa_handler = worker_on_term};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	char comm[16];
	snprintf(comm, sizeof(comm), "objsrv-%.8s", w->dev.name);
	prctl(PR_SET_NAME, comm);
	/* the replicator's exchanges with the other devices (a REPLICATE per partition
	 * and peer every pass, its pushes) reuse their connections: a connect, an accept
	 * and a thread on the peer each before, 2,048 of them a pass per device */
	oc_pool_enable();
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s/tmp", w->root);
	objfile_mkdirs(tmp);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->dev.port)};
	inet_pton(AF_INET, w->dev.host, &sin.sin_addr);
	struct MHD_Daemon *d = MHD_start_daemon(
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
	        MHD_USE_ERROR_LOG,
	    (uint16_t)w->dev.port, NULL, NULL, on_request, w, MHD_OPTION_NOTIFY_COMPLETED,
	    on_completed, w, MHD_OPTION_SOCK_ADDR, &sin, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)OBJSRV_CONN_MEMORY, MHD_OPTION_END);
	if (!d) {
		log_err("device %s: cannot listen on %s:%u", w->dev.name, w->dev.host, w->dev.port);
		return 1;
	}
	log_info("device %s (zone %d) at %s:%u, %s", w->dev.name, w->dev.zone, w->dev.host,
	         w->dev.port, w->root);
	struct replicator *rep =
	    replicator_start(w->root, &w->dev, w->cfg->ring_file, w->cfg->replicate_interval,
	                     w->cfg->audit_bytes_per_sec);
	while (!worker_stop && getppid() != 1)
		sleep(1);
	replicator_stop(rep);
	MHD_stop_daemon(d);
	(void)ring;
	return 0;
}

static int objserver_conf_load(const struct conf *c, void **cfg, char *summary, size_t slen,
                               char *err, size_t errlen)
{
	struct objserver_conf *o = xcalloc(1, sizeof(*o));
	*cfg = o;
	o->conf = c;
	o->ring_file = conf_get(c, "objstore", "ring_file", "/etc/nubo/object.ring");
	o->devices_dir = conf_get(c, "objstore", "devices_dir", "/var/lib/nubo/objects");
	o->node_ip = conf_get(c, "objstore", "node_ip", "127.0.0.1");
	o->reserve_mb = conf_get_long(c, "objstore", "reserve_mb", 64);
	o->audit_bytes_per_sec = conf_get_long(c, "objstore", "audit_bytes_per_sec", 10 << 20);
	o->replicate_interval = conf_get_long(c, "objstore", "replicate_interval", 10);
	o->verify_read_max = conf_get_long(c, "objstore", "verify_read_max", 4 << 20);
	if (o->reserve_mb < 0 || o->audit_bytes_per_sec < 0 || o->replicate_interval < 1) {
		snprintf(err, errlen,
		         "[objstore] reserve_mb, audit_bytes_per_sec, "
		         "replicate_interval out of range");
		return -EINVAL;
	}
	snprintf(summary, slen, "ring %s, devices under %s for %s", o->ring_file, o->devices_dir,
	         o->node_ip);
	return 0;
}

static void objserver_conf_free(void *cfg)
{
	free(cfg);
}

struct child {
	pid_t pid;
	unsigned delay;
	time_t next, started;
};

static pid_t worker_fork(const struct objserver_conf *cfg, const struct ring *ring, int i)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	struct worker w = {.cfg = cfg,
	                   .dev = ring->devs[i],
	                   .nparts = 1u << ring->part_power,
	                   .verified = verify_cache_new(OBJSERVER_VERIFIED_SLOTS)};
	snprintf(w.root, sizeof(w.root), "%s/%s", cfg->devices_dir, ring->devs[i].name);
	int rc = worker_run(&w, ring);
	verify_cache_free(w.verified);
	_exit(rc);
}

static int objserver_run(void *vcfg, volatile sig_atomic_t *stop)
{
	const struct objserver_conf *cfg = vcfg;
	char err[256];
	struct ring *ring = NULL;
	while (!*stop && !(ring = ring_load(cfg->ring_file, err, sizeof(err)))) {
		log_warn("waiting for the ring: %s", err);
		sleep(5);
	}
	if (!ring)
		return 0;
	struct child *kids = xcalloc((size_t)ring->ndevs, sizeof(*kids));
	int mine = 0;
	for (int i = 0; i < ring->ndevs; i++)
		if (!strcmp(ring->devs[i].host, cfg->node_ip)) {
			kids[i].delay = 1;
			mine++;
		}
	log_info("%d local devices in ring version %u", mine, ring->version);
	while (!*stop) {
		time_t now = time(NULL);
		for (int i = 0; i < ring->ndevs; i++) {
			struct child *k = &kids[i];
			if (!k->delay || k->pid > 0 || now < k->next)
				continue;
			k->pid = worker_fork(cfg, ring, i);
			k->started = now;
		}
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) {
			sleep(1);
			continue;
		}
		for (int i = 0; i < ring->ndevs; i++) {
			struct child *k = &kids[i];
			if (k->pid != pid)
				continue;
			k->pid = 0;
			if (now - k->started >= 60)
				k->delay = 1;
			log_warn("device %s worker %s %d; again in %us", ring->devs[i].name,
			         WIFSIGNALED(status) ? "killed by signal" : "exited with status",
			         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
			         k->delay);
			k->next = now + k->delay;
			k->delay = k->delay < 16 ? k->delay * 2 : 30;
		}
	}
	for (int i = 0; i < ring->ndevs; i++)
		if (kids[i].pid > 0)
			kill(kids[i].pid, SIGTERM);
	for (int i = 0; i < ring->ndevs; i++)
		if (kids[i].pid > 0)
			waitpid(kids[i].pid, NULL, 0);
	free(kids);
	ring_free(ring);
	return 0;
}

const struct daemon_def objserver_daemon = {
    .name = "nubo-objserver",
    .conf_load = objserver_conf_load,
    .conf_free = objserver_conf_free,
    .run = objserver_run,
};

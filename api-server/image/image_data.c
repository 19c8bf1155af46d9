/* Image bytes: PUT /image/v2/images/{id}/file (queued -> saving -> active, or back to
 * queued, as Glance restores it, when the bytes are not what disk_format says or are
 * unsafe: the client may upload again) and GET of the same path
 * for clients and compute agents. The upload is checked twice before it becomes
 * active: common/qemu_img.c's header inspector first, so that no tool ever opens a
 * qcow2 that points at other files, then `qemu-img info` under resource limits for the
 * virtual size and a second opinion (the compute agent runs the same check). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "image/image_store.h"
#include "qemu_img.h"
#include "log.h"
#include "policy.h"
#include "digest.h"
#include "fsutil.h"
#include "xalloc.h"

#define RANGE_MEM_MAX (8u << 20) /* ranges up to this are answered from memory */

/* What the examination of an upload found. */
struct upload_facts {
	uint64_t size, virtual_size;
	char md5[DIGEST_MD5_HEX + 1];
	char sha512[DIGEST_SHA512_HEX + 1];
};

/* Outcome classes of the examination: the client's bytes are bad (the image goes back
 * to queued, 400), or we failed (the image goes back to queued so the client may retry, 500). */
enum { UPLOAD_OK = 0, UPLOAD_BAD_DATA = 400, UPLOAD_INTERNAL = 500 };

/* Reads the whole file once for its size and hashes (common/digest.c). */
static int upload_read(int fd, struct upload_facts *f, char *err, size_t errlen)
{
	struct digests d;
	int rc = digests_fd(fd, &d);
	if (rc < 0) {
		snprintf(err, errlen, "read: %s", strerror(-rc));
		return UPLOAD_INTERNAL;
	}
	f->size = d.size;
	memcpy(f->md5, d.md5, sizeof(f->md5));
	memcpy(f->sha512, d.sha512, sizeof(f->sha512));
	return UPLOAD_OK;
}

/* Everything we check before an upload may become active. */
static int upload_examine(const char *path, const char *disk_format, struct upload_facts *f,
                          char *err, size_t errlen)
{
	struct qemu_img_info info;
	int rc = UPLOAD_INTERNAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open upload: %s", strerror(errno));
		goto out;
	}
	rc = upload_read(fd, f, err, errlen);
	if (rc != UPLOAD_OK)
		goto out;
	int qc = qemu_img_check(path, disk_format, &info, err, errlen);
	if (qc < 0) {
		rc = qc == -EINVAL ? UPLOAD_BAD_DATA : UPLOAD_INTERNAL;
		goto out;
	}
	f->virtual_size = (uint64_t)info.virtual_size;
	rc = UPLOAD_INTERNAL;
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "fsync upload: %s", strerror(errno));
		goto out;
	}
	rc = UPLOAD_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int image_quota_fits(long long limit_mib, long long used, long long delta, char *msg, size_t msglen)
{
	const long long mib = 1LL << 20;
	if (limit_mib < 0 || used + delta <= limit_mib * mib)
		return 0;
	snprintf(msg, msglen,
	         "Resource image_size_total is over limit of %lld due to current usage %lld and"
	         " delta %lld",
	         limit_mib, used / mib, (delta + mib - 1) / mib);
	return -EDQUOT;
}

/* Glance's image_size_total for owner: 0 when delta more bytes fit besides the data of
 * owner's other images; -EDQUOT with Glance's message, or -EIO, in err. With lock,
 * takes the owner's quota lock first (inside the caller's transaction). An image
 * without an owner, or an owner without a limit, is not bound. */
static int quota_check(struct req *r, const char *owner, const char *image_id, uint64_t delta,
                       int lock, char *err, size_t errlen)
{
	if (!owner)
		return 0;
	if (lock && image_owner_lock(r, owner, err, errlen) < 0)
		return -EIO;
	PGresult *res = DBQ(r->ctx->db, err, errlen,
	                    "SELECT (SELECT hard_limit FROM quotas WHERE project_id = $1 AND"
	                    " resource = 'image_size_total'), (SELECT coalesce(sum(size), 0) FROM"
	                    " images WHERE owner = $1 AND id <> $2)",
	                    owner, image_id);
	if (!res)
		return -EIO;
	long long limit = db_val(res, 0, 0) ? strtoll(db_val(res, 0, 0), NULL, 10) : -1;
	long long used = strtoll(db_val(res, 0, 1), NULL, 10);
	PQclear(res);
	return image_quota_fits(limit, used, (long long)delta, err, errlen);
}

int image_size_check(struct req *r, const char *owner, char *err, size_t errlen)
{
	return quota_check(r, owner, "00000000-0000-0000-0000-000000000000", 1, 0, err, errlen);
}

/* Leaves 'saving' for status after a failed upload. */
static void upload_abandon(struct req *r, const char *id, const char *status)
{
	char err[256];
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE images SET status = $2, updated_at = now() WHERE id = $1 AND"
	        " status = 'saving'",
	        id, status) < 0)
		log_err("image %s: cannot set status %s: %s", id, status, err);
}

/* Answers a failed call of the image store: 503 when the store is down, else 500. */
static void store_failed(struct req *r, struct resp *w, const char *id, int rc, const char *err,
                         const char *msg500)
{
	log_err("image %s: image store (%s): %s", id, image_store_for(r)->name, err);
	if (rc == -EAGAIN)
		resp_error(r, w, 503, "The image store is unavailable; try again later.");
	else
		resp_error(r, w, 500, "%s", msg500);
}

void image_upload(struct req *r, struct resp *w)
{
	struct image img = {0};
	struct upload_facts f = {0};
	char err[512];
	int rc, stored = 0;
	if (image_find_writable(r, w, 0, "upload data to", &img) < 0)
		goto out;
	if (!img.disk_format || !img.container_format) {
		resp_error(r, w, 400,
		           "Properties disk_format, container_format must be set prior to saving"
		           " data.");
		goto out;
	}
	if (!r->upload_path) {
		resp_error(r, w, 500, "could not store the image data");
		goto out;
	}
	/* A 'saving' image untouched for an hour was left by a crashed nubo-api: the
	 * examination of even the largest upload takes minutes, so it may be retried.
	 * disk_format is read back from the row we lock, not from the earlier SELECT, so
	 * a concurrent PATCH cannot change what the bytes are checked against. */
	PGresult *st = DBQ(r->ctx->db, err, sizeof err,
	                   "UPDATE images SET status = 'saving', updated_at = now() WHERE id = $1"
	                   " AND disk_format IS NOT NULL AND container_format IS NOT NULL AND"
	                   " (status = 'queued' OR (status = 'saving' AND"
	                   " updated_at < now() - interval '1 hour')) RETURNING disk_format",
	                   img.id);
	if (!st) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(st) != 1) {
		PQclear(st);
		resp_error(r, w, 409, "Image status transition from %s to saving is not allowed",
		           img.status);
		goto out;
	}
	free(img.disk_format);
	img.disk_format = xstrdup(db_val(st, 0, 0));
	PQclear(st);
	rc = upload_examine(r->upload_path, img.disk_format, &f, err, sizeof(err));
	if (rc == UPLOAD_BAD_DATA) {
		log_info("image %s: upload refused: %s", img.id, err);
		upload_abandon(r, img.id, "queued");
		resp_error(r, w, 400, "Image data rejected: %s", err);
		goto out;
	}
	if (rc != UPLOAD_OK) {
		log_err("image %s: upload failed: %s", img.id, err);
		upload_abandon(r, img.id, "queued");
		resp_error(r, w, 500, "could not store the image data");
		goto out;
	}
	/* The bytes go to the store before the transaction, so that no database
	 * connection is held in a transaction while a large image is copied to the
	 * object store; they are removed again when the image cannot become active. */
	rc = image_store_for(r)->commit(r, img.id, r->upload_path, f.size, f.md5, err, sizeof(err));
	if (rc < 0) {
		upload_abandon(r, img.id, "queued");
		store_failed(r, w, img.id, rc, err, "could not store the image data");
		goto out;
	}
	stored = 1;
	/* The quota check and the activation in one transaction, under the owner's lock,
	 * so that two uploads cannot both fit into the same room. */
	if (db_begin(r->ctx->db) < 0) {
		upload_abandon(r, img.id, "queued");
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	rc = quota_check(r, img.owner, img.id, f.size, 1, err, sizeof(err));
	if (rc < 0) {
		db_rollback(r->ctx->db);
		upload_abandon(r, img.id, "queued");
		if (rc == -EDQUOT)
			resp_error(r, w, 413, "%s", err);
		else
			resp_db_error(r, w, err);
		goto out;
	}
	char size[24], vsize[24];
	snprintf(size, sizeof(size), "%llu", (unsigned long long)f.size);
	snprintf(vsize, sizeof(vsize), "%llu", (unsigned long long)f.virtual_size);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE images SET status = 'active', size = $2::bigint,"
	            " virtual_size = $3::bigint, checksum = $4, os_hash_algo = 'sha512',"
	            " os_hash_value = $5, updated_at = now() WHERE id = $1 AND status = 'saving'",
	            img.id, size, vsize, f.md5, f.sha512);
	if (n > 0 && db_commit(r->ctx->db) < 0) {
		n = -1;
		snprintf(err, sizeof(err), "commit failed");
	}
	if (n <= 0) {
		db_rollback(r->ctx->db);
		if (n < 0) {
			upload_abandon(r, img.id, "queued");
			resp_db_error(r, w, err);
		} else {
			resp_error(r, w, 409, "Image %s was deleted during the upload", img.id);
		}
		goto out;
	}
	log_info("image %s: active, %llu bytes, virtual %llu, md5 %s", img.id,
	         (unsigned long long)f.size, (unsigned long long)f.virtual_size, f.md5);
	stored = 0;
	if (image_backup_rotate(r, img.id, err, sizeof(err)) < 0)
		log_warn("image %s: backup rotation: %s", img.id, err);
	resp_empty(w, 204);
out:
	if (stored && image_store_for(r)->remove(r, img.id, err, sizeof(err)) < 0)
		log_warn("image %s: cannot remove the bytes of a failed upload: %s", img.id, err);
	image_release(&img);
}

int image_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len)
{
	static const char unit[] = "bytes=";
	if (!header || strncasecmp(header, unit, sizeof(unit) - 1))
		return 0;
	const char *p = header + sizeof(unit) - 1;
	if (strchr(p, ','))
		return 0; /* several ranges: served whole, as RFC 9110 allows */
	char *end;
	uint64_t first, last;
	errno = 0;
	if (*p == '-') { /* the last N bytes */
		if (!isdigit((unsigned char)p[1]))
			return 0;
		uint64_t n = strtoull(p + 1, &end, 10);
		if (errno || *end)
			return 0;
		if (n == 0 || size == 0)
			return -ERANGE;
		*start = n < size ? size - n : 0;
		*len = size - *start;
		return 1;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	first = strtoull(p, &end, 10);
	if (errno || *end != '-')
		return 0;
	p = end + 1;
	if (!*p) {
		last = size ? size - 1 : 0;
	} else {
		if (!isdigit((unsigned char)*p))
			return 0;
		last = strtoull(p, &end, 10);
		if (errno || *end || last < first)
			return 0;
	}
	if (first >= size)
		return -ERANGE;
	if (last >= size)
		last = size - 1;
	*start = first;
	*len = last - first + 1;
	return 1;
}

/* A descriptor whose whole content is bytes [start, start + len) of fd: an unlinked
 * file in dir filled in the kernel (copy_file_range), so a large range costs no memory.
 * Returns it, or -errno. */
static int range_file(int fd, const char *dir, uint64_t start, uint64_t len)
{
	int out = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (out < 0)
		return -errno;
	loff_t in_off = (loff_t)start;
	uint64_t left = len;
	while (left > 0) {
		ssize_t n = copy_file_range(fd, &in_off, out, NULL, left, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			close(out);
			return -e;
		}
		left -= (uint64_t)n;
	}
	return out;
}

/* Answers w with bytes [start, start + len) of the image (size bytes), which fd holds
 * from offset off (fd is closed), as a 206. */
static void range_answer(struct req *r, struct resp *w, int fd, uint64_t off, uint64_t start,
                         uint64_t len, uint64_t size)
{
	char cr[96];
	if (len <= RANGE_MEM_MAX) {
		char *buf = xmalloc(len ? len : 1);
		ssize_t n = pread(fd, buf, len, (off_t)off);
		close(fd);
		if (n < 0 || (uint64_t)n != len) {
			free(buf);
			resp_error(r, w, 500, "image data is unavailable");
			return;
		}
		free(w->text);
		w->text = buf;
		w->text_len = len;
	} else {
		int part = off == 0 ? fd : range_file(fd, r->ctx->api->image_dir, off, len);
		if (part != fd)
			close(fd);
		if (part < 0) {
			log_err("image %s: cannot serve a range: %s", r->params[0],
			        strerror(-part));
			resp_error(r, w, 500, "image data is unavailable");
			return;
		}
		w->fd = part;
		w->fd_len = len;
	}
	w->status = 206;
	w->content_type = "application/octet-stream";
	snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
	         (unsigned long long)(start + len - 1), (unsigned long long)size);
	resp_header(w, "Content-Range", cr);
}

void image_download(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[512];
	uint64_t start = 0, len = 0, off = 0;
	int fd = -1;
	if (image_find(r, w, r->params[0], 0, &img) < 0)
		goto out;
	/* Glance: only an admin downloads a deactivated image (our agents are the cloud's
	 * own service, as Glance's service role) */
	if (!strcmp(img.status, "deactivated") && !r->ctx->auth.agent &&
	    !policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "The requested image has been deactivated. Image data download is"
		           " forbidden.");
		goto out;
	}
	/* Glance: no data yet is 204; so is an image of no bytes (the image of a
	 * volume-backed server, whose disks are volume snapshots): it has no file */
	if ((strcmp(img.status, "active") && strcmp(img.status, "deactivated")) || img.size == 0) {
		resp_empty(w, 204);
		goto out;
	}
	uint64_t size = (uint64_t)img.size;
	int ranged = image_range_parse(req_header(r, "Range"), size, &start, &len);
	if (ranged < 0) {
		char cr[48];
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		resp_error(r, w, 416, "Requested range not satisfiable for image %s", img.id);
		resp_header(w, "Content-Range", cr);
		goto out;
	}
	if (!ranged) {
		start = 0;
		len = size;
	}
	int rc = image_store_for(r)->open(r, img.id, size, start, len, &fd, &off, err, sizeof(err));
	if (rc < 0) {
		store_failed(r, w, img.id, rc, err, "image data is unavailable");
		goto out;
	}
	if (ranged) {
		range_answer(r, w, fd, off, start, len, size);
		goto out;
	}
	if (img.checksum)
		resp_header(w, "Content-MD5", img.checksum);
	w->status = 200;
	w->fd = fd; /* the whole image, from offset 0 (off is 0 when start is) */
	w->fd_len = size;
	w->content_type = "application/octet-stream";
out:
	image_release(&img);
}

int image_upload_may_stream(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[256];
	int rc = image_load(r, r->params[0], 0, &img, err, sizeof(err));
	if (rc == 0 && !image_may_modify(r, &img))
		rc = -EACCES;
	/* a project already at its image_size_total sends no bytes at all */
	if (rc == 0)
		rc = quota_check(r, img.owner, img.id, 1, 0, err, sizeof(err));
	image_release(&img);
	if (rc == -ENOENT)
		resp_error(r, w, 404, "No image found with ID %s.", r->params[0]);
	else if (rc == -EACCES)
		resp_error(r, w, 403, "You are not permitted to upload data to this resource.");
	else if (rc == -EDQUOT)
		resp_error(r, w, 413, "%s", err);
	else
		rc = 0; /* a database failure: the handler answers it */
	return rc;
}

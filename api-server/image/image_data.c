/* Image bytes: PUT /image/v2/images/{id}/file (queued -> saving -> active, or killed
 * when the bytes are not what disk_format says or are unsafe) and GET of the same path
 * for clients and compute agents. The upload is checked twice before it becomes
 * active: our own header inspector (image_inspect.c) first, so that no tool ever
 * opens a qcow2 that points at other files, then `qemu-img info` under resource limits
 * for the virtual size and a second opinion. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/image.h"
#include "image/image_inspect.h"
#include "log.h"
#include "md5.h"
#include "fsutil.h"
#include "proc.h"
#include "xalloc.h"

#define QEMU_IMG_TIMEOUT_MS 30000
#define QEMU_IMG_OUT_MAX (64 << 10)
#define READ_CHUNK (1 << 20)

/* What the examination of an upload found. */
struct upload_facts {
	uint64_t size, virtual_size;
	char md5[33];
	char sha512[crypto_hash_sha512_BYTES * 2 + 1];
};

/* Outcome classes of the examination: the client's bytes are bad (the image is killed,
 * 400), or we failed (the image goes back to queued so the client may retry, 500). */
enum { UPLOAD_OK = 0, UPLOAD_BAD_DATA = 400, UPLOAD_INTERNAL = 500 };

/* Reads the whole file once: hashes and the leading bytes for the inspector. */
static int upload_read(int fd, struct upload_facts *f, uint8_t *head, size_t *headlen, char *err,
                       size_t errlen)
{
	struct md5 md5;
	crypto_hash_sha512_state sha;
	uint8_t *buf = xmalloc(READ_CHUNK);
	unsigned char digest[crypto_hash_sha512_BYTES];
	int rc = UPLOAD_INTERNAL;
	md5_init(&md5);
	crypto_hash_sha512_init(&sha);
	f->size = 0;
	*headlen = 0;
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		md5_update(&md5, buf, (size_t)n);
		crypto_hash_sha512_update(&sha, buf, (unsigned long long)n);
		if (*headlen < IMAGE_INSPECT_LEN) {
			size_t take = IMAGE_INSPECT_LEN - *headlen;
			if (take > (size_t)n)
				take = (size_t)n;
			memcpy(head + *headlen, buf, take);
			*headlen += take;
		}
		f->size += (uint64_t)n;
	}
	md5_final_hex(&md5, f->md5);
	crypto_hash_sha512_final(&sha, digest);
	sodium_bin2hex(f->sha512, sizeof(f->sha512), digest, sizeof(digest));
	rc = UPLOAD_OK;
out:
	free(buf);
	return rc;
}

/* The qemu-img driver for a disk_format (qemu has no "iso" driver: an ISO is raw). */
static const char *qemu_driver(const char *disk_format)
{
	return strcmp(disk_format, "qcow2") ? "raw" : "qcow2";
}

/* Runs qemu-img info on path and checks what it reports. Fills *vsize. */
static int upload_qemu_check(const char *path, const char *driver, uint64_t *vsize, char *err,
                             size_t errlen)
{
	/* Address-space and CPU limits as Glance uses them: a crafted image must not
	 * make qemu-img eat the API host. */
	const char *const argv[] = {"prlimit", "--as=1073741824", "--cpu=30", "--",   "qemu-img",
	                            "info",    "--output=json",   "-f",       driver, path,
	                            NULL};
	char *out = xmalloc(QEMU_IMG_OUT_MAX);
	json_t *info = NULL;
	int rc = UPLOAD_INTERNAL;
	int st = proc_run(argv, QEMU_IMG_TIMEOUT_MS, out, QEMU_IMG_OUT_MAX);
	if (st < 0 || st == 126 || st == 127) {
		snprintf(err, errlen, "qemu-img could not run (%d)", st);
		goto out;
	}
	rc = UPLOAD_BAD_DATA;
	if (st != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errlen, "qemu-img cannot read the image: %.300s", out);
		goto out;
	}
	const char *brace = strchr(out, '{'); /* skip any warning lines before the JSON */
	info = brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	json_t *vs = json_object_get(info, "virtual-size");
	json_t *data = json_object_get(json_object_get(info, "format-specific"), "data");
	json_t *fmt = json_object_get(info, "format");
	if (!json_is_integer(vs) || json_integer_value(vs) < 0 || !json_is_string(fmt)) {
		snprintf(err, errlen, "qemu-img gave no usable information about the image");
		goto out;
	}
	if (strcmp(json_string_value(fmt), driver)) {
		snprintf(err, errlen, "qemu-img reads the image as %s, not %s",
		         json_string_value(fmt), driver);
		goto out;
	}
	if (json_object_get(info, "backing-filename") ||
	    json_object_get(info, "full-backing-filename")) {
		snprintf(err, errlen, "image has a backing file");
		goto out;
	}
	if (json_object_get(data, "data-file")) {
		snprintf(err, errlen, "image uses an external data file");
		goto out;
	}
	if (json_is_true(json_object_get(info, "encrypted"))) {
		snprintf(err, errlen, "image is encrypted");
		goto out;
	}
	*vsize = (uint64_t)json_integer_value(vs);
	rc = UPLOAD_OK;
out:
	json_decref(info);
	free(out);
	return rc;
}

/* Everything we check before an upload may become active. */
static int upload_examine(const char *path, const char *disk_format, struct upload_facts *f,
                          char *err, size_t errlen)
{
	uint8_t *head = xmalloc(IMAGE_INSPECT_LEN);
	size_t headlen = 0;
	struct image_probe probe;
	int rc = UPLOAD_INTERNAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "open upload: %s", strerror(errno));
		goto out;
	}
	rc = upload_read(fd, f, head, &headlen, err, errlen);
	if (rc != UPLOAD_OK)
		goto out;
	rc = UPLOAD_BAD_DATA;
	if (image_inspect(head, headlen, f->size, &probe, err, errlen) < 0 ||
	    image_format_check(disk_format, &probe, err, errlen) < 0)
		goto out;
	rc = upload_qemu_check(path, qemu_driver(disk_format), &f->virtual_size, err, errlen);
	if (rc != UPLOAD_OK)
		goto out;
	rc = UPLOAD_BAD_DATA;
	if (probe.fmt == IMAGE_FMT_QCOW2 && f->virtual_size != probe.virtual_size) {
		snprintf(err, errlen, "qcow2 header and qemu-img disagree on the virtual size");
		goto out;
	}
	if (probe.fmt != IMAGE_FMT_QCOW2 && f->virtual_size != f->size) {
		snprintf(err, errlen, "raw image size and qemu-img virtual size disagree");
		goto out;
	}
	rc = UPLOAD_INTERNAL;
	if (fsync(fd) < 0) {
		snprintf(err, errlen, "fsync upload: %s", strerror(errno));
		goto out;
	}
	rc = UPLOAD_OK;
out:
	if (fd >= 0)
		close(fd);
	free(head);
	return rc;
}

/* Leaves 'saving' for status (killed or queued) after a failed upload. */
static void upload_abandon(struct req *r, const char *id, const char *status)
{
	char err[256];
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE images SET status = $2, updated_at = now() WHERE id = $1 AND"
	        " status = 'saving'",
	        id, status) < 0)
		log_err("image %s: cannot set status %s: %s", id, status, err);
}

void image_upload(struct req *r, struct resp *w)
{
	struct image img = {0};
	struct upload_facts f = {0};
	char err[512], *final = NULL;
	int rc;
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
		upload_abandon(r, img.id, "killed");
		resp_error(r, w, 400, "Image data rejected: %s", err);
		goto out;
	}
	if (rc != UPLOAD_OK) {
		log_err("image %s: upload failed: %s", img.id, err);
		upload_abandon(r, img.id, "queued");
		resp_error(r, w, 500, "could not store the image data");
		goto out;
	}
	final = image_path(r->ctx->api, img.id);
	if (chmod(r->upload_path, 0640) < 0 || rename(r->upload_path, final) < 0) {
		log_err("image %s: cannot move upload to %s: %s", img.id, final, strerror(errno));
		upload_abandon(r, img.id, "queued");
		resp_error(r, w, 500, "could not store the image data");
		goto out;
	}
	fs_sync_dir(r->ctx->api->image_dir);
	char size[24], vsize[24];
	snprintf(size, sizeof(size), "%llu", (unsigned long long)f.size);
	snprintf(vsize, sizeof(vsize), "%llu", (unsigned long long)f.virtual_size);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE images SET status = 'active', size = $2::bigint,"
	            " virtual_size = $3::bigint, checksum = $4, os_hash_algo = 'sha512',"
	            " os_hash_value = $5, updated_at = now() WHERE id = $1 AND status = 'saving'",
	            img.id, size, vsize, f.md5, f.sha512);
	if (n <= 0) {
		unlink(final);
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
	resp_empty(w, 204);
out:
	free(final);
	image_release(&img);
}

void image_download(struct req *r, struct resp *w)
{
	struct image img = {0};
	char *path = NULL;
	if (image_find(r, w, r->params[0], 0, &img) < 0)
		goto out;
	if (strcmp(img.status, "active")) { /* Glance: no data yet is 204 */
		resp_empty(w, 204);
		goto out;
	}
	path = image_path(r->ctx->api, img.id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (long long)st.st_size != img.size) {
		log_err("image %s: data file %s missing or wrong size", img.id, path);
		if (fd >= 0)
			close(fd);
		resp_error(r, w, 500, "image data is unavailable");
		goto out;
	}
	w->status = 200;
	w->fd = fd;
	w->fd_len = (uint64_t)st.st_size;
	w->content_type = "application/octet-stream";
	if (img.checksum)
		resp_header(w, "Content-MD5", img.checksum);
out:
	free(path);
	image_release(&img);
}

int image_upload_may_stream(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[256];
	int rc = image_load(r, r->params[0], 0, &img, err, sizeof(err));
	if (rc == 0 && !image_may_modify(r, &img))
		rc = -EACCES;
	image_release(&img);
	if (rc == -ENOENT)
		resp_error(r, w, 404, "No image found with ID %s.", r->params[0]);
	else if (rc == -EACCES)
		resp_error(r, w, 403, "You are not permitted to upload data to this resource.");
	else
		rc = 0; /* a database failure: the handler answers it */
	return rc;
}

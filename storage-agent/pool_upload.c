/* Volume → image: convert, PUT, clean up. */
#include "pool_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "http_client.h"
#include "proc.h"
#include "xalloc.h"

/* a whole volume's copy: minutes for large ones */
#define UPLOAD_CONVERT_TIMEOUT_MS (30 * 60 * 1000)

int pool_upload_argv(const char *src, const char *src_fmt, const char *fmt, const char *dst,
                     const char *argv[POOL_UPLOAD_ARGC])
{
	memset(argv, 0, sizeof(const char *) * POOL_UPLOAD_ARGC);
	if (!fmt || !*fmt)
		fmt = "qcow2";
	if ((strcmp(fmt, "qcow2") && strcmp(fmt, "raw")) || !src_fmt ||
	    (strcmp(src_fmt, "qcow2") && strcmp(src_fmt, "raw")) || !src || !dst || src[0] != '/' ||
	    dst[0] != '/')
		return -EINVAL;
	const char *const v[] = {"qemu-img", "convert", "-q", "-f", src_fmt,
	                         "-O",       fmt,       src,  dst,  NULL};
	memcpy(argv, v, sizeof(v));
	return 0;
}

static int upload_put(const struct pool *p, const struct msg_snapshot *u, const char *path,
                      char *err, size_t errlen)
{
	char why[512] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "upload: open copy: %s", strerror(errno));
		return -errno;
	}
	char *key = xasprintf("X-Nubo-Agent-Key: %s", p->agent_key);
	const char *const headers[] = {key, NULL};
	const struct http_put put = {u->upload_url, headers, 0, 0};
	int rc = http_client_put_fd(&put, fd, NULL, why, sizeof(why));
	memset(key, 0, strlen(key));
	free(key);
	close(fd);
	if (rc < 0)
		snprintf(err, errlen, "upload of image %s: %s", u->image_id, why);
	return rc;
}

int pool_volume_upload(const struct pool *p, const char *id, const struct msg_snapshot *u,
                       char *err, size_t errlen)
{
	const char *argv[POOL_UPLOAD_ARGC];
	char out[1024] = "";
	const char *fmt;
	char *src = pool_locate(p, POOL_VOLUME, id, &fmt);
	char *tmp = xasprintf("%s/tmp/upload-%s", p->dir, u->image_id);
	int rc = -EINVAL;
	if (!u->upload_url || !u->image_id[0] ||
	    pool_upload_argv(src, fmt, u->disk_format, tmp, argv) < 0) {
		snprintf(err, errlen, "upload: no image or an unknown disk format");
		goto out;
	}
	if (!fs_exists(src)) {
		snprintf(err, errlen, "volume %s is not in this pool", id);
		rc = -ENOENT;
		goto out;
	}
	unlink(tmp);
	int st = proc_run(argv, UPLOAD_CONVERT_TIMEOUT_MS, out, sizeof(out));
	if (st != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errlen, "upload: qemu-img convert failed: %.300s",
		         st == -ETIMEDOUT ? "timed out" : out);
		rc = -EIO;
		goto out;
	}
	rc = upload_put(p, u, tmp, err, errlen);
out:
	unlink(tmp);
	free(src);
	free(tmp);
	return rc;
}

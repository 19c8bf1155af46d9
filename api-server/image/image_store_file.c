/* The file backend of image_store.h: image id is the file "<image_dir>/<id>" (mode
 * 0640), made by renaming the examined upload into place. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "fsutil.h"
#include "image/image.h"
#include "image/image_store.h"

static int file_commit(struct req *r, const char *id, const char *path, uint64_t size,
                       const char *md5, char *err, size_t errlen)
{
	char *final = image_path(r->ctx->api, id);
	int rc = 0;
	if (chmod(path, 0640) < 0 || rename(path, final) < 0) {
		snprintf(err, errlen, "cannot move upload to %s: %s", final, strerror(errno));
		rc = -EIO;
	} else {
		fs_sync_dir(r->ctx->api->image_dir);
	}
	free(final);
	return rc;
}

static int file_open(struct req *r, const char *id, uint64_t size, uint64_t start, uint64_t len,
                     int *fd, uint64_t *off, char *err, size_t errlen)
{
	char *path = image_path(r->ctx->api, id);
	struct stat st;
	int f = open(path, O_RDONLY | O_CLOEXEC);
	int rc = 0;
	if (f < 0 || fstat(f, &st) < 0 || (uint64_t)st.st_size != size) {
		snprintf(err, errlen, "data file %s missing or wrong size", path);
		if (f >= 0)
			close(f);
		rc = -ENOENT;
	} else {
		*fd = f;
		*off = start;
	}
	free(path);
	return rc;
}

static int file_remove(struct req *r, const char *id, char *err, size_t errlen)
{
	char *path = image_path(r->ctx->api, id);
	int rc = 0;
	if (unlink(path) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		rc = -EIO;
	}
	free(path);
	return rc;
}

const struct image_store_ops image_store_file = {"file", file_commit, file_open, file_remove};

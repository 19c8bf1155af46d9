/* Empty-volume templates: made once per size by qemu-img, copied per create. */
#include "pool_template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "lru.h"
#include "pool.h"
#include "qemu_img.h"
#include "xalloc.h"

static int template_name(const char *name)
{
	size_t len = strlen(name);
	return len >= 7 && !strcmp(name + len - 6, ".qcow2");
}

/* Removes least recently used templates of dir/templates until POOL_TEMPLATES_MAX
 * remain, never the one named keep. Best effort: a cache. */
static void evict(const char *dir, const char *keep)
{
	char *tdir = xasprintf("%s/templates", dir);
	const struct lru_dir d = {
	    .dir = tdir,
	    .match = template_name,
	    .keep = keep,
	    .max_n = POOL_TEMPLATES_MAX,
	    .max_bytes = -1,
	};
	lru_dir_evict(&d);
	free(tdir);
}

/* Makes the template of size_bytes at path: qemu-img create in tmp/, inspected, then
 * renamed into place. 0, 1 (too large to cache) or -errno with err. */
static int template_make(const char *dir, uint64_t size_bytes, const char *path, char *err,
                         size_t errlen)
{
	struct qemu_img_argv a;
	struct qemu_img_info info;
	char *tmp = xasprintf("%s/tmp/template-%llu-%d.qcow2", dir, (unsigned long long)size_bytes,
	                      (int)gettid());
	unlink(tmp);
	int rc = pool_run_img(&a, qemu_img_argv_create(&a, tmp, "qcow2", size_bytes), err, errlen);
	if (rc == 0)
		rc = qemu_img_check(tmp, "qcow2", &info, err, errlen);
	if (rc == 0 && (uint64_t)info.virtual_size != size_bytes) {
		snprintf(err, errlen, "template of %llu bytes: qemu-img made %lld",
		         (unsigned long long)size_bytes, info.virtual_size);
		rc = -EIO;
	}
	long long bytes = rc == 0 ? fs_size(tmp) : 0;
	if (rc == 0 && bytes > (long long)POOL_TEMPLATE_MAX_BYTES)
		rc = 1;
	if (rc == 0)
		rc = pool_commit(tmp, path, err, errlen);
	if (rc != 0)
		unlink(tmp);
	else
		evict(dir, strrchr(path, '/') + 1);
	free(tmp);
	return rc;
}

/* Copies all len bytes of in to out: copy_file_range (a reflink or in-kernel copy),
 * else read/write. 0 or -errno. */
static int copy_all(int in, int out, off_t len)
{
	off_t done = 0;
	int plain = 0;
	while (done < len) {
		ssize_t k = -1;
		if (!plain) {
			k = copy_file_range(in, NULL, out, NULL, (size_t)(len - done), 0);
			if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP)) {
				plain = 1;
				continue;
			}
		} else {
			char buf[65536];
			ssize_t r = read(in, buf, sizeof(buf));
			if (r > 0) {
				k = 0;
				while (k < r) {
					ssize_t w = write(out, buf + k, (size_t)(r - k));
					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0)
						return w < 0 ? -errno : -EIO;
					k += w;
				}
			} else {
				k = r;
			}
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -EIO; /* the template shrank under us */
		done += k;
	}
	return 0;
}

int pool_template_copy(const char *dir, uint64_t size_bytes, const char *tmp, char *err,
                       size_t errlen)
{
	char *path = xasprintf("%s/templates/%llu.qcow2", dir, (unsigned long long)size_bytes);
	int rc = 0, in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out = -1;
	if (in < 0 && errno == ENOENT) {
		if ((rc = template_make(dir, size_bytes, path, err, errlen)) != 0)
			goto out;
		in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	}
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    st.st_size > (off_t)POOL_TEMPLATE_MAX_BYTES) {
		snprintf(err, errlen, "%s: not a template file", path);
		rc = -EIO;
		goto out;
	}
	out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, st.st_mode & 0777);
	if (out < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	rc = copy_all(in, out, st.st_size);
	if (close(out) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "copy of %s: %s", path, strerror(-rc));
		unlink(tmp);
		goto out;
	}
	futimens(in, NULL); /* used now: the eviction keeps it longest */
out:
	if (in >= 0)
		close(in);
	free(path);
	return rc;
}

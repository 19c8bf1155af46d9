/* Whole-file I/O and directory trees for the compute agent's state directory. */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = -1, rc = 0;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

char *fs_read(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = fs_read_fd(fd, max, len);
	int e = errno;
	close(fd);
	errno = e;
	return buf;
}

char *fs_read_fd(int fd, size_t max, size_t *len)
{
	size_t cap = 4096, used = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (used == cap) {
			if (cap > max) {
				break;
			}
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		used += (size_t)n;
	}
	if (used > max) {
		free(buf);
		errno = EFBIG;
		return NULL;
	}
	buf[used] = '\0';
	if (len)
		*len = used;
	return buf;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int r = (flag == FTW_DP) ? rmdir(path) : unlink(path);
	return (r < 0 && errno != ENOENT) ? -errno : 0;
}

int fs_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
	errno = 0;
	int r = nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (r == 0)
		return 0;
	if (r == -1 && errno)
		return -errno;
	return r < 0 ? r : -EIO;
}

int fs_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (strlcpy_checked(buf, path, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) < 0 && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int fs_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

long long fs_size(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -errno;
	return (long long)st.st_size;
}

int fs_read_into(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t used = 0;
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf + used, len - 1 - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used == len - 1) {
			rc = -EFBIG;
			break;
		}
	}
	buf[used] = '\0';
	close(fd);
	return rc;
}

void fs_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* extents asked of the kernel per FIEMAP call */
#define FIEMAP_BATCH 128u

long long fs_punch_unwritten(int fd)
{
	size_t sz = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = xcalloc(1, sz);
	long long punched = 0;
	uint64_t start = 0;
	for (;;) {
		memset(fm, 0, sz);
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			int e = errno;
			free(fm);
			return e == EOPNOTSUPP || e == ENOTTY ? punched : -e;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		int last = 0;
		for (uint32_t i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *x = &fm->fm_extents[i];
			if ((x->fe_flags & FIEMAP_EXTENT_UNWRITTEN) &&
			    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			              (off_t)x->fe_logical, (off_t)x->fe_length) < 0) {
				int e = errno;
				free(fm);
				return -e;
			}
			if (x->fe_flags & FIEMAP_EXTENT_UNWRITTEN)
				punched += (long long)x->fe_length;
			start = x->fe_logical + x->fe_length;
			last |= (x->fe_flags & FIEMAP_EXTENT_LAST) != 0;
		}
		if (last)
			break;
	}
	free(fm);
	return punched;
}

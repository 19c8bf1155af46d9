/* Small filesystem helpers: whole-file reads and atomic writes
 * (temp file + fsync + rename, so a crash never leaves half a file), recursive removal
 * and directory creation. All fds are O_CLOEXEC. */
#ifndef NUBO_FSUTIL_H
#define NUBO_FSUTIL_H
#include <stddef.h>
#include <sys/types.h>

/* Writes len bytes of data to path atomically with the given mode.
 * Returns 0 or a negative errno. */
int fs_write_atomic(const char *path, const void *data, size_t len, mode_t mode);
/* Reads at most max bytes of path into a new NUL-terminated buffer (owned); *len gets
 * the byte count when len is non-NULL. NULL with errno set on failure, errno = EFBIG
 * when the file is larger than max. */
char *fs_read(const char *path, size_t max, size_t *len);
/* As fs_read, from fd's current offset to its end (fd stays open). */
char *fs_read_fd(int fd, size_t max, size_t *len);
/* Removes path and everything below it (does not follow symlinks). A missing path is
 * success. Returns 0 or a negative errno. */
int fs_remove_tree(const char *path);
/* mkdir -p with mode for every created level. Returns 0 or a negative errno. */
int fs_mkdir_p(const char *path, mode_t mode);
/* 1 when path exists (any type), else 0. */
int fs_exists(const char *path);
/* Size of path in bytes, or a negative errno. */
long long fs_size(const char *path);

/* Reads the whole of a small file into buf (len bytes, NUL-terminated).
 * Returns 0, -EFBIG when it does not fit, or a negative errno. */
int fs_read_into(const char *path, char *buf, size_t len);
/* fsyncs a directory so a rename or create in it is durable; errors are ignored. */
void fs_sync_dir(const char *dir);
/* Gives back the blocks of fd's unwritten extents (allocated but reading as zeros, as
 * fallocate's zero range leaves them), keeping the size: a copy that wrote its zeros
 * that way becomes as sparse as its source. The bytes punched (0 on a file system
 * without extent maps), or a negative errno. */
long long fs_punch_unwritten(int fd);

#endif

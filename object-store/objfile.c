/* An object server device's on-disk layout: hash directories, versions named by
 * timestamp, the metadata header of .data files. */
#include "objfile.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "md5.h"

int objfile_ts_valid(const char *ts)
{
	if (!ts || strlen(ts) != OBJFILE_TS_LEN - 1)
		return 0;
	for (int i = 0; i < OBJFILE_TS_LEN - 1; i++)
		if (i == 10 ? ts[i] != '.' : !isdigit((unsigned char)ts[i]))
			return 0;
	return 1;
}

void objfile_dir(const char *dev, unsigned part, const char *hash, char *out, size_t n)
{
	snprintf(out, n, "%s/objects/%u/%s/%s", dev, part, hash + 29, hash);
}

/* kind of a version file name "<ts>.data" / "<ts>.ts", its ts into ts. */
static enum objfile_kind objfile_name_kind(const char *name, char *ts)
{
	size_t n = strlen(name);
	enum objfile_kind k = OBJFILE_NONE;
	if (n == OBJFILE_TS_LEN - 1 + 5 && !strcmp(name + OBJFILE_TS_LEN - 1, ".data"))
		k = OBJFILE_DATA;
	else if (n == OBJFILE_TS_LEN - 1 + 3 && !strcmp(name + OBJFILE_TS_LEN - 1, ".ts"))
		k = OBJFILE_TOMBSTONE;
	if (k == OBJFILE_NONE)
		return k;
	memcpy(ts, name, OBJFILE_TS_LEN - 1);
	ts[OBJFILE_TS_LEN - 1] = '\0';
	return objfile_ts_valid(ts) ? k : OBJFILE_NONE;
}

/* The directory's entries straight from getdents64 into a buffer on the stack: readdir's
 * opendir also fstats the directory and mallocs a 32 KiB buffer, on every GET. *err: 0,
 * or -errno when the directory could not be read (gone or not a directory is 0: none). */
static enum objfile_kind newest_scan(const char *dir, char *ts, int *dirfd_out, int *err)
{
	enum objfile_kind best = OBJFILE_NONE;
	ts[0] = '\0';
	*err = 0;
	if (dirfd_out)
		*dirfd_out = -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		*err = errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
		return best;
	}
	char buf[4096] __attribute__((aligned(8)));
	ssize_t n;
	while ((n = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t at = 0; at < n;) {
			const struct dirent64 *e = (const struct dirent64 *)(buf + at);
			char t[OBJFILE_TS_LEN];
			enum objfile_kind k = objfile_name_kind(e->d_name, t);
			if (k != OBJFILE_NONE && strcmp(t, ts) > 0) {
				memcpy(ts, t, OBJFILE_TS_LEN);
				best = k;
			}
			at += e->d_reclen;
		}
	}
	if (n < 0)
		*err = -errno;
	if (dirfd_out)
		*dirfd_out = fd;
	else
		close(fd);
	return best;
}

enum objfile_kind objfile_newest_keep(const char *dir, char *ts, int *dirfd_out)
{
	int err;
	return newest_scan(dir, ts, dirfd_out, &err);
}

enum objfile_kind objfile_newest(const char *dir, char *ts)
{
	int err;
	return newest_scan(dir, ts, NULL, &err);
}

int objfile_newest_checked(const char *dir, char *ts, enum objfile_kind *kind)
{
	int err;
	*kind = newest_scan(dir, ts, NULL, &err);
	return err;
}

enum objfile_kind objfile_scan(DIR *d, char *ts, char (*names)[OBJFILE_NAME_MAX], int max, int *n)
{
	enum objfile_kind best = OBJFILE_NONE;
	ts[0] = '\0';
	*n = 0;
	rewinddir(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		char t[OBJFILE_TS_LEN];
		enum objfile_kind k = objfile_name_kind(e->d_name, t);
		if (k == OBJFILE_NONE)
			continue;
		if (*n >= 0 && *n < max) /* a version's name fits: objfile_name_kind */
			memcpy(names[(*n)++], e->d_name, strlen(e->d_name) + 1);
		else
			*n = -1;
		if (strcmp(t, ts) > 0) {
			memcpy(ts, t, OBJFILE_TS_LEN);
			best = k;
		}
	}
	return best;
}

void objfile_prune(const char *dir, const char *ts)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char t[OBJFILE_TS_LEN];
		if (objfile_name_kind(e->d_name, t) != OBJFILE_NONE && strcmp(t, ts) < 0) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	closedir(d);
}

int objfile_header_write(int fd, const json_t *meta)
{
	char *s = json_dumps(meta, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	size_t n = strlen(s);
	int rc = 0;
	if (n >= OBJFILE_HEADER) {
		rc = -E2BIG;
		goto out;
	}
	char *buf = calloc(1, OBJFILE_HEADER);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(buf, s, n);
	if (pwrite(fd, buf, OBJFILE_HEADER, 0) != OBJFILE_HEADER)
		rc = errno ? -errno : -EIO;
	free(buf);
out:
	free(s);
	return rc;
}

json_t *objfile_header_parse(const char *buf)
{
	size_t n = strnlen(buf, OBJFILE_HEADER); /* the JSON, then NUL padding */
	json_t *j = json_loadb(buf, n, JSON_DISABLE_EOF_CHECK, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

json_t *objfile_header_read(int fd)
{
	char buf[OBJFILE_HEADER];
	if (pread(fd, buf, OBJFILE_HEADER, 0) != OBJFILE_HEADER)
		return NULL;
	return objfile_header_parse(buf);
}

ssize_t objfile_read_start(int fd, char *buf, size_t cap, json_t **meta)
{
	*meta = NULL;
	ssize_t k;
	do
		k = pread(fd, buf, cap, 0);
	while (k < 0 && errno == EINTR);
	if (k < OBJFILE_HEADER)
		return -EIO;
	*meta = objfile_header_parse(buf);
	return *meta ? k - OBJFILE_HEADER : -EIO;
}

int objfile_mkdirs(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	int rc = objfile_mkdirs(parent);
	if (rc < 0)
		return rc;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	fs_sync_dir(parent);
	return 0;
}

int objfile_mkdirs_lazy(const char *dir, int *made)
{
	struct stat st;
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", dir);
	char *slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	int rc = objfile_mkdirs_lazy(parent, made);
	if (rc < 0)
		return rc;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	(*made)++; /* also when a racing writer made it: it may not have synced it yet */
	return 0;
}

void objfile_sync_parents(const char *dir, int levels)
{
	char d[PATH_MAX];
	snprintf(d, sizeof(d), "%s", dir);
	for (int i = 0; i < levels; i++) {
		char *slash = strrchr(d, '/');
		if (!slash || slash == d)
			return;
		*slash = '\0';
		fs_sync_dir(d);
	}
}

int objfile_intact(int fd, uint64_t size, const char *etag)
{
	char buf[65536], hex[33];
	struct md5 m;
	md5_init(&m);
	uint64_t at = 0;
	while (at < size) {
		size_t want = size - at < sizeof(buf) ? (size_t)(size - at) : sizeof(buf);
		ssize_t k = pread(fd, buf, want, (off_t)(OBJFILE_HEADER + at));
		if (k <= 0)
			return 0;
		md5_update(&m, buf, (size_t)k);
		at += (uint64_t)k;
	}
	md5_final_hex(&m, hex);
	return etag && !strcmp(hex, etag);
}

time_t objfile_written_at(const char *h, time_t now)
{
	if (!h || !*h || strlen(h) > 12)
		return 0;
	long long v = 0;
	for (const char *q = h; *q; q++) {
		if (*q < '0' || *q > '9')
			return 0;
		v = v * 10 + (*q - '0');
	}
	return v > 0 && v <= (long long)now ? (time_t)v : 0;
}

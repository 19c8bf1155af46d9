/* Per-partition suffix hashes, cached in <part>/hashes.cache and invalidated through
 * <part>/hashes.invalid (parthash.h). */
#include "parthash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "md5.h"
#include "replicator.h"
#include "xalloc.h"

/* ------------------------------------------------------------------ pure parts */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (hexval(s[i]) < 0)
			return 0;
	return 1;
}

int parthash_suffix_index(const char *s, size_t n)
{
	if (n != 3 || !is_hex(s, 3))
		return -1;
	return hexval(s[0]) << 8 | hexval(s[1]) << 4 | hexval(s[2]);
}

void parthash_suffix_name(int i, char out[4])
{
	static const char hex[] = "0123456789abcdef";
	out[0] = hex[(i >> 8) & 15];
	out[1] = hex[(i >> 4) & 15];
	out[2] = hex[i & 15];
	out[3] = '\0';
}

int parthash_parse(const char *buf, size_t len, struct parthash *out)
{
	memset(out->state, PARTHASH_ABSENT, sizeof(out->state));
	size_t m = strlen(PARTHASH_MAGIC);
	if (!buf || len < m || memcmp(buf, PARTHASH_MAGIC, m))
		return -EINVAL;
	for (size_t at = m; at < len;) {
		const char *line = buf + at;
		const char *nl = memchr(line, '\n', len - at);
		if (!nl)
			goto bad;
		size_t n = (size_t)(nl - line);
		int i = n >= 4 ? parthash_suffix_index(line, 3) : -1;
		if (i < 0 || line[3] != ' ' || out->state[i] != PARTHASH_ABSENT)
			goto bad;
		if (n == 5 && line[4] == '-') {
			out->state[i] = PARTHASH_INVALID;
		} else if (n == 36 && is_hex(line + 4, 32)) {
			out->state[i] = PARTHASH_VALID;
			memcpy(out->hash[i], line + 4, 32);
			out->hash[i][32] = '\0';
		} else {
			goto bad;
		}
		at += n + 1;
	}
	return 0;
bad:
	memset(out->state, PARTHASH_ABSENT, sizeof(out->state));
	return -EINVAL;
}

char *parthash_format(const struct parthash *h, size_t *len)
{
	size_t m = strlen(PARTHASH_MAGIC);
	char *buf = xmalloc(m + PARTHASH_SUFFIXES * 37 + 1), *p = buf;
	memcpy(p, PARTHASH_MAGIC, m);
	p += m;
	for (int i = 0; i < PARTHASH_SUFFIXES; i++) {
		if (h->state[i] == PARTHASH_ABSENT)
			continue;
		parthash_suffix_name(i, p);
		p[3] = ' ';
		if (h->state[i] == PARTHASH_VALID) {
			memcpy(p + 4, h->hash[i], 32);
			p += 36;
		} else {
			p[4] = '-';
			p += 5;
		}
		*p++ = '\n';
	}
	*p = '\0';
	*len = (size_t)(p - buf);
	return buf;
}

int parthash_merge_invalid(struct parthash *h, const char *buf, size_t len)
{
	int named = 0;
	for (size_t at = 0; at < len; at += 4, named++) {
		int i =
		    len - at >= 4 && buf[at + 3] == '\n' ? parthash_suffix_index(buf + at, 3) : -1;
		if (i < 0)
			return -EINVAL;
		h->state[i] = PARTHASH_INVALID;
	}
	return named;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct objentry *)a)->hash, ((const struct objentry *)b)->hash);
}

void parthash_digest(struct objentry *e, size_t n, char out[33])
{
	if (n)
		qsort(e, n, sizeof(*e), entry_cmp);
	struct md5 m;
	md5_init(&m);
	for (size_t i = 0; i < n; i++) {
		md5_update(&m, e[i].hash, strlen(e[i].hash));
		md5_update(&m, " ", 1);
		md5_update(&m, e[i].file, strlen(e[i].file));
		md5_update(&m, "\n", 1);
	}
	md5_final_hex(&m, out);
}

void objentries_add(struct objentries *es, const char *hash, const char *file)
{
	if (es->n == es->cap) {
		es->cap = es->cap ? es->cap * 2 : 16;
		es->e = xrealloc(es->e, es->cap * sizeof(*es->e));
	}
	struct objentry *e = &es->e[es->n++];
	snprintf(e->hash, sizeof(e->hash), "%s", hash);
	snprintf(e->file, sizeof(e->file), "%s", file);
}

void objentries_release(struct objentries *es)
{
	free(es->e);
	es->e = NULL;
	es->n = es->cap = 0;
}

void objentries_sort(struct objentries *es)
{
	if (es->n)
		qsort(es->e, es->n, sizeof(*es->e), entry_cmp);
}

const char *objentries_find(const struct objentries *es, const char *hash)
{
	struct objentry key;
	snprintf(key.hash, sizeof(key.hash), "%s", hash);
	const struct objentry *e =
	    es->n ? bsearch(&key, es->e, es->n, sizeof(*es->e), entry_cmp) : NULL;
	return e ? e->file : NULL;
}

/* ------------------------------------------------------------------ the disk */

/* Removes the tombstone file in hdir if replicator_reclaimable allows. 1 when it did. */
static int reclaim(const char *hdir, const char *file)
{
	if (!strstr(file, ".ts"))
		return 0;
	char p[PATH_MAX + 400];
	snprintf(p, sizeof(p), "%s/%s", hdir, file);
	struct stat st;
	if (stat(p, &st) < 0 || !replicator_reclaimable(strtod(file, NULL), st.st_mtime, time(NULL),
	                                                REPLICATOR_RECLAIM_AGE))
		return 0;
	unlink(p);
	rmdir(hdir);
	return 1;
}

long parthash_list_suffix(const char *partdir, const char *sfx, int reclaim_old, int invalidate,
                          struct objentries *out)
{
	char sdir[PATH_MAX];
	snprintf(sdir, sizeof(sdir), "%s/%s", partdir, sfx);
	DIR *dh = opendir(sdir);
	if (!dh)
		return errno == ENOENT ? 0 : -errno; /* unreadable is not empty */
	long reclaimed = 0;
	int err = 0;
	char last[PATH_MAX + 300] = "";
	struct dirent *h;
	while (!err && (errno = 0, h = readdir(dh)) != NULL) {
		if (strlen(h->d_name) != 32 || !is_hex(h->d_name, 32) ||
		    strcmp(h->d_name + 29, sfx))
			continue;
		char hdir[PATH_MAX + 300], ts[OBJFILE_TS_LEN], file[OBJFILE_NAME_MAX];
		snprintf(hdir, sizeof(hdir), "%s/%s", sdir, h->d_name);
		enum objfile_kind k;
		err = objfile_newest_checked(hdir, ts, &k);
		if (err || k == OBJFILE_NONE)
			continue;
		snprintf(file, sizeof(file), "%s%s", ts, k == OBJFILE_DATA ? ".data" : ".ts");
		if (reclaim_old && reclaim(hdir, file)) {
			reclaimed++;
			snprintf(last, sizeof(last), "%s", hdir);
			continue;
		}
		objentries_add(out, h->d_name, file);
	}
	if (!err && errno)
		err = -errno; /* readdir failed */
	closedir(dh);
	if (reclaimed && invalidate)
		parthash_invalidate(last);
	return err ? err : reclaimed;
}

/* The partition directory and suffix of a hash directory path. 0 or -EINVAL. */
static int hashdir_split(const char *hashdir, char *partdir, size_t n, char sfx[4])
{
	const char *h = strrchr(hashdir, '/');
	if (!h || strlen(h + 1) != 32 || h - hashdir < 5 || h[-4] != '/')
		return -EINVAL;
	memcpy(sfx, h - 3, 3);
	sfx[3] = '\0';
	if (parthash_suffix_index(sfx, 3) < 0 || (size_t)(h - 4 - hashdir) >= n)
		return -EINVAL;
	memcpy(partdir, hashdir, (size_t)(h - 4 - hashdir));
	partdir[h - 4 - hashdir] = '\0';
	return 0;
}

int parthash_invalidate(const char *hashdir)
{
	char partdir[PATH_MAX], path[PATH_MAX + 32], line[4];
	if (hashdir_split(hashdir, partdir, sizeof(partdir), line) < 0)
		return -EINVAL;
	line[3] = '\n';
	snprintf(path, sizeof(path), "%s/" PARTHASH_INVALID_FILE, partdir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	int rc = 0;
	/* the lock keeps the append out of a rehasher's read-then-truncate (parthash_get) */
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			rc = -errno;
			goto out;
		}
	/* past the bound the file already means "rehash everything": it grows no more */
	struct stat st;
	if (fstat(fd, &st) == 0 && st.st_size > PARTHASH_INVALID_MAX)
		goto out;
	if (write(fd, line, 4) != 4)
		rc = errno ? -errno : -EIO;
out:
	close(fd); /* (and its lock) */
	return rc;
}

/* The cache at partdir into h: 0, or -EINVAL when it is missing, too large or not ours
 * (h then all absent). */
static int cache_read(const char *partdir, struct parthash *h)
{
	char path[PATH_MAX + 32];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/" PARTHASH_FILE, partdir);
	char *buf = fs_read(path, PARTHASH_FILE_MAX, &len);
	int rc = buf ? parthash_parse(buf, len, h) : -EINVAL;
	if (rc < 0)
		memset(h->state, PARTHASH_ABSENT, sizeof(h->state));
	free(buf);
	return rc;
}

/* Replaces the cache atomically (temp file and rename; the rehash lock makes the temp
 * name ours). Not fsynced: a cache a crash tore or left stale is rebuilt (it does not
 * parse, or a worker's start rehashes everything). 0, or -errno: the invalidations it
 * was to absorb must then stay in their file (the old cache may still be there). */
static int cache_write(const char *partdir, const struct parthash *h)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/" PARTHASH_FILE, partdir);
	snprintf(tmp, sizeof(tmp), "%s/" PARTHASH_FILE ".tmp", partdir);
	size_t len;
	char *buf = parthash_format(h, &len);
	int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		rc = -errno;
	else if (write(fd, buf, len) != (ssize_t)len)
		rc = -EIO;
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		unlink(tmp);
		unlink(path); /* a stale cache should not stay: rebuilt next time */
	}
	free(buf);
	return rc;
}

static int lock_fd(int fd)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* Takes the invalidations written since the last take (under their lock) and marks
 * them in h; the file is emptied once they are in the cache. 1 when the file was not
 * ours to read (garbage, too large): everything must be rehashed. */
static int invalid_take(int ifd, struct parthash *h, int *changed)
{
	size_t len = 0;
	/* from the start: an earlier take of this get left the offset at the end */
	char *buf =
	    lseek(ifd, 0, SEEK_SET) == 0 ? fs_read_fd(ifd, PARTHASH_INVALID_MAX, &len) : NULL;
	int all = !buf || parthash_merge_invalid(h, buf, len) < 0;
	/* a file that could not be taken is emptied too: everything is rehashed anyway */
	if (len || !buf)
		*changed = 1;
	free(buf);
	return all;
}

/* Every suffix directory of partdir marked invalid, every other suffix absent. 0, or
 * -errno when partdir could not be listed (h is then not to be trusted). */
static int mark_all(const char *partdir, struct parthash *h)
{
	memset(h->state, PARTHASH_ABSENT, sizeof(h->state));
	DIR *d = opendir(partdir);
	if (!d)
		return -errno;
	struct dirent *e;
	while ((errno = 0, e = readdir(d)) != NULL) {
		int i = parthash_suffix_index(e->d_name, strlen(e->d_name));
		if (i >= 0)
			h->state[i] = PARTHASH_INVALID;
	}
	int rc = errno ? -errno : 0;
	closedir(d);
	return rc;
}

/*
 * Why no write is lost from the cache. A writer changes its hash directory first, and
 * only then appends its suffix to hashes.invalid, under that file's lock. The rehasher
 * (one per partition at a time: it holds a lock on the partition directory throughout,
 * so two threads never interleave their cache writes)
 *   1. under the invalidations lock: reads the cache and the invalidations, marks those
 *      suffixes invalid, writes the cache, empties the invalidations file;
 *   2. without it (writers go on): lists and hashes every invalid suffix;
 *   3. under the invalidations lock again: reads what was appended since 1, leaves those
 *      suffixes invalid whatever 2 computed for them, writes the cache, empties the file.
 * A write whose append came before 1 was on disk before 2 listed its suffix, so the
 * hash has it; one whose append came between 1 and 3 is invalid after 3; one after 3
 * waits in the file for the next rehash. A crash between a write and its append loses
 * the invalidation: a worker rehashes everything at its start (and every
 * PARTHASH_FULL_EVERY_S), which finds it.
 */
int parthash_get(const char *partdir, int full, struct parthash *out, long *rehashed)
{
	char path[PATH_MAX + 32];
	int dfd = -1, ifd = -1, rc = 0, changed = 0;
	long hashed = 0;
	memset(out->state, PARTHASH_ABSENT, sizeof(out->state));
	dfd = open(partdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || lock_fd(dfd) < 0) {
		rc = -errno;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/" PARTHASH_INVALID_FILE, partdir);
	ifd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	/* a lock refused (ENOLCK) is an error, never an empty partition */
	if ((rc = ifd < 0 ? -errno : lock_fd(ifd)) < 0)
		goto out;
	/* 1 */
	if (cache_read(partdir, out) < 0)
		full = 1;
	if (invalid_take(ifd, out, &changed))
		full = 1;
	if (full && (rc = mark_all(partdir, out)) < 0)
		goto out; /* the cache and the invalidations stay as they were */
	if (full || changed) {
		/* the invalidations go only once the cache that holds them is in place */
		if ((rc = cache_write(partdir, out)) < 0)
			goto out;
		if (ftruncate(ifd, 0) < 0) {
			rc = -errno;
			goto out;
		}
	}
	flock(ifd, LOCK_UN);
	/* 2 */
	struct objentries es = {0};
	for (int i = 0; i < PARTHASH_SUFFIXES; i++) {
		if (out->state[i] != PARTHASH_INVALID)
			continue;
		char sfx[4];
		parthash_suffix_name(i, sfx);
		es.n = 0;
		long lr = parthash_list_suffix(partdir, sfx, 1, 0, &es);
		if (lr < 0) {
			/* not listed is not empty: the suffix stays invalid (rehashed next
			 * time), and the partition's answer is an error */
			rc = (int)lr;
			continue;
		}
		if (es.n) {
			parthash_digest(es.e, es.n, out->hash[i]);
			out->state[i] = PARTHASH_VALID;
		} else {
			out->state[i] = PARTHASH_ABSENT;
		}
		hashed++;
	}
	objentries_release(&es);
	if (!hashed)
		goto out;
	/* 3 */
	if (lock_fd(ifd) < 0) {
		rc = -errno;
		goto out;
	}
	changed = 0;
	if (invalid_take(ifd, out, &changed)) {
		/* garbage appended meanwhile: which suffixes it meant is unknown */
		snprintf(path, sizeof(path), "%s/" PARTHASH_FILE, partdir);
		unlink(path);
		int mrc = mark_all(partdir, out);
		if (mrc < 0)
			rc = mrc;
	} else {
		int wrc = cache_write(partdir, out);
		if (wrc < 0) { /* the invalidations stay for the next get */
			rc = wrc;
			goto out;
		}
	}
	if (changed && ftruncate(ifd, 0) < 0)
		rc = -errno;
out:
	if (ifd >= 0)
		close(ifd);
	if (dfd >= 0)
		close(dfd);
	if (rehashed)
		*rehashed = hashed;
	return rc;
}

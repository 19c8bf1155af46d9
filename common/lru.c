/* LRU eviction of cache directories: the pure chooser and the directory pass. */
#include "lru.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

static int older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int lru_choose(const struct lru_entry *e, int n, int max_n, long long max_bytes, int *victims)
{
	long long total = 0;
	int left = n, chosen = 0;
	char *gone = xcalloc(n > 0 ? (size_t)n : 1, 1);
	for (int i = 0; i < n; i++)
		total += e[i].bytes;
	while (left > max_n || (max_bytes >= 0 && total > max_bytes)) {
		int v = -1;
		for (int i = 0; i < n; i++)
			if (!gone[i] && !e[i].keep && (v < 0 || older(&e[i].used, &e[v].used)))
				v = i;
		if (v < 0)
			break; /* only kept entries are left */
		gone[v] = 1;
		victims[chosen++] = v;
		total -= e[v].bytes;
		left--;
	}
	free(gone);
	return chosen;
}

int lru_dir_evict(const struct lru_dir *d)
{
	DIR *dir = opendir(d->dir);
	if (!dir)
		return -errno;
	struct lru_entry *e = xcalloc(LRU_SCAN_MAX, sizeof(*e));
	char(*names)[LRU_NAME_MAX] = xcalloc(LRU_SCAN_MAX, LRU_NAME_MAX);
	int *victims = xcalloc(LRU_SCAN_MAX, sizeof(*victims));
	int n = 0, removed = 0;
	struct dirent *de;
	while (n < LRU_SCAN_MAX && (de = readdir(dir))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		if (len >= LRU_NAME_MAX || !d->match(de->d_name) ||
		    fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		int in_use = d->links_in_use && st.st_nlink > 1;
		memcpy(names[n], de->d_name, len + 1);
		e[n].used = st.st_mtim;
		e[n].bytes = in_use ? 0 : (long long)st.st_blocks * 512;
		e[n].keep = in_use || (d->keep && !strcmp(de->d_name, d->keep)) ||
		            (d->kept && d->kept(de->d_name, d->arg));
		n++;
	}
	int k = lru_choose(e, n, d->max_n, d->max_bytes, victims);
	for (int i = 0; i < k; i++) {
		if (unlinkat(dirfd(dir), names[victims[i]], 0) < 0)
			continue;
		removed++;
		if (d->removed)
			d->removed(dirfd(dir), names[victims[i]], d->arg);
	}
	closedir(dir);
	free(e);
	free(names);
	free(victims);
	return removed;
}

/* The LVM backend of the pool ([storage] backend = lvm): each volume is the raw LV
 * vol-<id> of one volume group, each snapshot snap-<id>. An LV is made as tmp-<id>,
 * zeroed (thick LVs reuse extents: a new volume must never show an old one's bytes),
 * filled, and renamed once whole, so a restart finds either nothing or a finished LV
 * (tmp-* leftovers are removed at start). Snapshots and clones are full copies with
 * `qemu-img convert -n -O raw` from block device to block device, as the file pool
 * copies: no LVM snapshot, whose copy-on-write tie to its origin would make a
 * volume's delete depend on its snapshots. A volume an NBD export daemon serves is
 * copied by that daemon (pool_live_copy: a backup job into the new LV's raw node),
 * as the file pool does, so the copy holds every write the daemon acknowledged. lvm runs in the
 * helper (lvm_priv.h); the worker opens the LV nodes the helper gave it. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "lvm.h"
#include "lvm_priv.h"
#include "pool.h"
#include "qemu_img.h"
#include "xalloc.h"

#define GIB (1ull << 30)
#define ZERO_STEP (1ull << 30) /* one BLKZEROOUT at a time: bounded per call */

static void cache_refresh(const struct pool *p);

static const enum lvm_kind lv_kinds[] = {
    [POOL_VOLUME] = LVM_VOLUME, [POOL_SNAPSHOT] = LVM_SNAPSHOT};

/* id's LV name of kind into out; -EINVAL (with err) for an id that is no uuid. */
static int lv_name(enum lvm_kind kind, const char *id, char out[LVM_LV_MAX], char *err,
                   size_t errlen)
{
	if (lvm_lv_name(kind, id, out) < 0) {
		snprintf(err, errlen, "%s is not a volume or snapshot id", id);
		return -EINVAL;
	}
	return 0;
}

static char *dev_path(const struct pool *p, const char *lv)
{
	return xasprintf("/dev/%s/%s", p->vg, lv);
}

static char *lvm_path(const struct pool *p, enum pool_kind kind, const char *id)
{
	char lv[LVM_LV_MAX];
	if (lvm_lv_name(lv_kinds[kind], id, lv) < 0)
		snprintf(lv, sizeof(lv), "invalid");
	return dev_path(p, lv);
}

/* Size in bytes of the block device at path, or a negative errno. */
static long long dev_size(const char *path)
{
	uint64_t bytes = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = ioctl(fd, BLKGETSIZE64, &bytes);
	int e = errno;
	close(fd);
	return rc < 0 ? -e : (long long)bytes;
}

/* Writes zeroes over the whole device (BLKZEROOUT: the device does it, unmapping where
 * it can). 0 or -errno with err. */
static int dev_zero(const char *path, char *err, size_t errlen)
{
	uint64_t size = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int rc = fd < 0 || ioctl(fd, BLKGETSIZE64, &size) < 0 ? -errno : 0;
	for (uint64_t off = 0; rc == 0 && off < size; off += ZERO_STEP) {
		uint64_t range[2] = {off, size - off < ZERO_STEP ? size - off : ZERO_STEP};
		if (ioctl(fd, BLKZEROOUT, range) < 0)
			rc = -errno;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (rc < 0)
		snprintf(err, errlen, "zero %s: %s", path, strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Makes the LV final of size_gb from src read as src_fmt (NULL: an empty volume)
 * through tmp-<id>; with live_vid (src is that volume's LV), through what serves that
 * volume when something does (pool_live_copy). */
static int lv_make(const struct pool *p, const char *id, const char *final, int size_gb,
                   const char *src, const char *src_fmt, const char *live_vid, char *err,
                   size_t errlen)
{
	char tmp[LVM_LV_MAX];
	struct qemu_img_argv a;
	if (lv_name(LVM_TMP, id, tmp, err, errlen) < 0)
		return -EINVAL;
	char *dev = dev_path(p, tmp);
	int rc = lvm_remove(p->priv, tmp, err, errlen); /* an earlier run's half */
	if (rc == 0)
		rc = lvm_create(p->priv, tmp, size_gb, err, errlen);
	if (rc == 0)
		rc = dev_zero(dev, err, errlen);
	if (rc == 0 && live_vid) {
		rc = pool_live_copy(p, live_vid, id, dev, pool_format(p), err, errlen);
		if (rc == 0)
			src = NULL; /* copied by the export daemon */
		else if (rc == -ENOENT)
			rc = 0; /* not served: the LV is read here */
	}
	if (rc == 0 && src)
		rc = pool_run_img(&a, qemu_img_argv_write(&a, src, src_fmt, dev), err, errlen);
	if (rc == 0)
		rc = lvm_rename(p->priv, tmp, final, err, errlen);
	if (rc < 0) {
		char why[128];
		lvm_remove(p->priv, tmp, why, sizeof(why));
	}
	free(dev);
	return rc;
}

static int lvm_volume_create(const struct pool *p, const char *id, const struct msg_vol_create *c,
                             char *err, size_t errlen)
{
	char lv[LVM_LV_MAX];
	int rc = lv_name(LVM_VOLUME, id, lv, err, errlen);
	if (rc < 0)
		return rc;
	char *path = dev_path(p, lv), *src = NULL;
	char *dl = xasprintf("%s/tmp/%s.image", p->dir, id);
	if (fs_exists(path))
		goto out; /* made by an earlier run of this task */
	if (!c->source[0]) {
		rc = lv_make(p, id, lv, c->size_gb, NULL, NULL, NULL, err, errlen);
	} else if (!strcmp(c->source, "volume") || !strcmp(c->source, "snapshot")) {
		src = lvm_path(p, !strcmp(c->source, "volume") ? POOL_VOLUME : POOL_SNAPSHOT,
		               c->source_id);
		long long have = dev_size(src);
		if (have < 0) {
			snprintf(err, errlen, "source %s %s is not in this pool", c->source,
			         c->source_id);
			rc = -ENOENT;
		} else if ((unsigned long long)have > (uint64_t)c->size_gb * GIB) {
			snprintf(err, errlen, "source %s %s is larger than %d GiB", c->source,
			         c->source_id, c->size_gb);
			rc = -EINVAL;
		} else {
			rc = lv_make(p, id, lv, c->size_gb, src, "raw",
			             !strcmp(c->source, "volume") ? c->source_id : NULL, err,
			             errlen);
		}
	} else if (!strcmp(c->source, "image")) {
		const char *fmt = NULL;
		rc = pool_image_fetch(p, c, dl, (uint64_t)c->size_gb * GIB, &fmt, err, errlen);
		if (rc == 0)
			rc = lv_make(p, id, lv, c->size_gb, dl, fmt, NULL, err, errlen);
		pool_image_release(p, dl);
	} else {
		snprintf(err, errlen, "unknown source %s", c->source);
		rc = -EINVAL;
	}
out:
	free(path);
	free(src);
	free(dl);
	cache_refresh(p);
	return rc;
}

static int lvm_snapshot_create(const struct pool *p, const char *id, const char *volume_id,
                               char *err, size_t errlen)
{
	char lv[LVM_LV_MAX];
	int rc = lv_name(LVM_SNAPSHOT, id, lv, err, errlen);
	if (rc < 0)
		return rc;
	char *path = dev_path(p, lv), *src = lvm_path(p, POOL_VOLUME, volume_id);
	long long have;
	if (fs_exists(path))
		goto out;
	if ((have = dev_size(src)) <= 0) {
		snprintf(err, errlen, "volume %s is not in this pool", volume_id);
		rc = -ENOENT;
		goto out;
	}
	rc = lv_make(p, id, lv, (int)((have + GIB - 1) / GIB), src, "raw", volume_id, err, errlen);
	cache_refresh(p);
out:
	free(path);
	free(src);
	return rc;
}

static int lvm_volume_extend(const struct pool *p, const char *id, int size_gb, char *err,
                             size_t errlen)
{
	char lv[LVM_LV_MAX];
	int rc = lv_name(LVM_VOLUME, id, lv, err, errlen);
	if (rc < 0)
		return rc;
	char *path = dev_path(p, lv);
	long long have = dev_size(path);
	free(path);
	if (have < 0) {
		snprintf(err, errlen, "volume %s is not in this pool", id);
		return -ENOENT;
	}
	if ((unsigned long long)have >= (uint64_t)size_gb * GIB)
		return 0; /* never shrinks; a retry finds it grown */
	/* the added extents may hold a deleted volume's bytes: zero the new tail */
	rc = lvm_extend(p->priv, lv, size_gb, err, errlen);
	if (rc == 0) {
		char *dev = dev_path(p, lv);
		int fd = open(dev, O_WRONLY | O_CLOEXEC);
		uint64_t range[2] = {(uint64_t)have, (uint64_t)size_gb * GIB - (uint64_t)have};
		if (fd < 0 || ioctl(fd, BLKZEROOUT, range) < 0 || fsync(fd) < 0) {
			rc = -errno;
			snprintf(err, errlen, "zero the new end of %s: %s", dev, strerror(errno));
		}
		if (fd >= 0)
			close(fd);
		free(dev);
	}
	cache_refresh(p);
	return rc;
}

static int lvm_pool_remove(const struct pool *p, enum pool_kind kind, const char *id, char *err,
                           size_t errlen)
{
	char lv[LVM_LV_MAX];
	int rc = lv_name(lv_kinds[kind], id, lv, err, errlen);
	if (rc == 0) {
		rc = lvm_remove(p->priv, lv, err, errlen);
		cache_refresh(p);
	}
	return rc;
}

/* ---- what the heartbeat reports: kept here, never asked of lvm on its path ---- */

/* The group's space and our LVs, refreshed by the task path after each change it makes
 * and by a thread of its own at least every LVM_REFRESH_S: the helper runs one call at a
 * time (an lvcreate can hold it for minutes) and lvm waits for the group's lock, so the
 * agent's heartbeat only reads this. */
#define LVM_REFRESH_S 30

struct lvm_cache {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	int running, stop;
	unsigned long started, stored; /* refresh generations: an older one never wins */
	int total_gb, free_gb;
	struct msg_resource *res; /* MSG_MAX_RESOURCES */
	int n_res;
};

static void list_add(struct msg_resource *out, int *n, int max, const char *lv)
{
	static const struct {
		const char *prefix;
		enum msg_res_kind kind;
	} kinds[] = {{"vol-", MSG_RES_VOLUME}, {"snap-", MSG_RES_SNAPSHOT}};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && *n < max; k++) {
		size_t pl = strlen(kinds[k].prefix);
		if (strncmp(lv, kinds[k].prefix, pl) || !uuid_is_valid(lv + pl))
			continue;
		snprintf(out[*n].id, sizeof(out[*n].id), "%s", lv + pl);
		out[*n].kind = kinds[k].kind;
		strcpy(out[*n].state, VOL_AVAILABLE);
		(*n)++;
	}
}

/* Our volumes and snapshots of the group, page by page (lvm_list), into out. The count,
 * or a negative errno with err. */
static int lv_list(const struct pool *p, struct msg_resource *out, int max, char *err,
                   size_t errlen)
{
	char page[PRIV_MSG_MAX];
	int n = 0, skip = 0, total = 0;
	do {
		int rc = lvm_list(p->priv, skip, page, sizeof(page), &total, err, errlen);
		if (rc < 0)
			return rc;
		int got = 0;
		char *save = NULL;
		for (char *lv = strtok_r(page, "\n", &save); lv; lv = strtok_r(NULL, "\n", &save)) {
			got++;
			list_add(out, &n, max, lv);
		}
		if (!got) /* the group shrank between pages */
			break;
		skip += got;
	} while (skip < total && n < max);
	return n;
}

/* Asks lvm for the space and the list, and keeps them unless a later refresh already
 * stored its own. A failed call keeps the last figures. */
static void cache_refresh(const struct pool *p)
{
	struct lvm_cache *c = p->lvm;
	struct msg_resource *res = xcalloc(MSG_MAX_RESOURCES, sizeof(*res));
	long long size = 0, avail = 0;
	char err[256];
	pthread_mutex_lock(&c->lock);
	unsigned long gen = ++c->started;
	pthread_mutex_unlock(&c->lock);
	int space = lvm_space(p->priv, &size, &avail, err, sizeof(err));
	int n = lv_list(p, res, MSG_MAX_RESOURCES, err, sizeof(err));
	pthread_mutex_lock(&c->lock);
	if (gen > c->stored) {
		c->stored = gen;
		if (space == 0) {
			c->total_gb = (int)(size >> 30);
			c->free_gb = (int)(avail >> 30);
		}
		if (n >= 0) {
			struct msg_resource *old = c->res;
			c->res = res;
			c->n_res = n;
			res = old;
		}
	}
	pthread_mutex_unlock(&c->lock);
	free(res);
}

static void *cache_thread(void *arg)
{
	const struct pool *p = arg;
	struct lvm_cache *c = p->lvm;
	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += LVM_REFRESH_S;
		while (!c->stop && pthread_cond_timedwait(&c->wake, &c->lock, &until) != ETIMEDOUT)
			;
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->lock);
		cache_refresh(p);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static struct lvm_cache *cache_new(void)
{
	struct lvm_cache *c = xcalloc(1, sizeof(*c));
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, &ca);
	pthread_condattr_destroy(&ca);
	c->res = xcalloc(MSG_MAX_RESOURCES, sizeof(*c->res));
	return c;
}

void pool_lvm_close(struct pool *p)
{
	struct lvm_cache *c = p->lvm;
	if (!c)
		return;
	if (c->running) {
		pthread_mutex_lock(&c->lock);
		c->stop = 1;
		pthread_cond_signal(&c->wake);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->thread, NULL);
	}
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	free(c->res);
	free(c);
	p->lvm = NULL;
}

static void lvm_pool_space(const struct pool *p, int *total_gb, int *free_gb)
{
	struct lvm_cache *c = p->lvm;
	pthread_mutex_lock(&c->lock);
	*total_gb = c->total_gb;
	*free_gb = c->free_gb;
	pthread_mutex_unlock(&c->lock);
}

static int lvm_pool_list(const struct pool *p, struct msg_resource *out, int max)
{
	struct lvm_cache *c = p->lvm;
	pthread_mutex_lock(&c->lock);
	int n = c->n_res < max ? c->n_res : max;
	memcpy(out, c->res, (size_t)n * sizeof(*out));
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Appends "; " and what to note (bounded). */
static void note_add(char *note, size_t notelen, const char *what)
{
	size_t used = strlen(note);
	if (used + 1 < notelen)
		snprintf(note + used, notelen - used, "%s%s", used ? "; " : "", what);
}

void pool_lvm_tidy(const struct pool *p)
{
	if (p->ops != &pool_lvm_ops)
		return;
	char done[PRIV_MSG_MAX] = "", why[PRIV_MSG_MAX];
	if (lvm_adopt(p->priv, done, sizeof(done), why, sizeof(why)) < 0)
		log_warn("volume group %s: tidy after the export sweep: %s", p->vg, why);
	cache_refresh(p);
}

int pool_use_lvm(struct pool *p, const char *vg, struct priv *priv, char *note, size_t notelen,
                 char *err, size_t errlen)
{
	long long size, avail;
	char why[PRIV_MSG_MAX];
	note[0] = 0;
	if (!lvm_vg_ok(vg)) {
		snprintf(err, errlen, "storage.volume_group: not a volume group name");
		return -EINVAL;
	}
	if (lvm_space(priv, &size, &avail, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "volume group %s (storage.backend = lvm): %s", vg, why);
		return -ENOENT;
	}
	/* vgs reads the group from its disks alone: an LV needs the kernel's driver */
	int rc = lvm_dm(priv, why, sizeof(why));
	if (rc < 0) {
		snprintf(err, errlen,
		         "volume group %s (storage.backend = lvm): %s: no LV can be made", vg, why);
		return rc;
	}
	return pool_lvm_start(p, vg, priv, note, notelen);
}

int pool_lvm_start(struct pool *p, const char *vg, struct priv *priv, char *note, size_t notelen)
{
	char why[PRIV_MSG_MAX];
	note[0] = 0;
	/* nothing else activates the group without udev (a reboot, a container restart):
	 * an LV left inactive cannot be opened; a failure here is noted, the rest goes on */
	if (lvm_activate(priv, why, sizeof(why)) < 0)
		note_add(note, notelen, why);
	free(p->vg);
	p->vg = xstrdup(vg);
	p->priv = priv;
	p->ops = &pool_lvm_ops;
	p->lvm = cache_new();
	char done[PRIV_MSG_MAX] = "";
	if (lvm_adopt(priv, done, sizeof(done), why, sizeof(why)) < 0) {
		note_add(note, notelen, why);
	} else {
		int given = 0, removed = 0, failed = 0;
		if (sscanf(done, "given %d removed %d failed %d", &given, &removed, &failed) == 3 &&
		    failed > 0) {
			char *fails = strchr(done, '\n');
			for (char *c = fails; c && *c; c++)
				if (*c == '\n' && c[1])
					*c = ';';
			snprintf(why, sizeof(why), "%d LV(s) could not be taken back at start: %s",
			         failed, fails ? fails + 1 : "");
			why[strcspn(why, "\n")] = 0;
			note_add(note, notelen, why);
		}
	}
	cache_refresh(p);
	if (pthread_create(&p->lvm->thread, NULL, cache_thread, p) == 0)
		p->lvm->running = 1;
	else
		note_add(note, notelen,
		         "no refresh thread: the space and list refresh only "
		         "after a change");
	return 0;
}

const struct pool_ops pool_lvm_ops = {
    .format = "raw",
    .path = lvm_path,
    .volume_create = lvm_volume_create,
    .snapshot_create = lvm_snapshot_create,
    .volume_extend = lvm_volume_extend,
    .remove = lvm_pool_remove,
    .space = lvm_pool_space,
    .list = lvm_pool_list,
};

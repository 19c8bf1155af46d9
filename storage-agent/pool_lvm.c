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
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fsutil.h"
#include "lvm.h"
#include "lvm_priv.h"
#include "pool.h"
#include "qemu_img.h"
#include "xalloc.h"

#define GIB (1ull << 30)
#define ZERO_STEP (1ull << 30) /* one BLKZEROOUT at a time: bounded per call */

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
		rc = pool_live_copy(p, live_vid, id, dev, err, errlen);
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
		unlink(dl);
	} else {
		snprintf(err, errlen, "unknown source %s", c->source);
		rc = -EINVAL;
	}
out:
	free(path);
	free(src);
	free(dl);
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
	return rc;
}

static int lvm_pool_remove(const struct pool *p, enum pool_kind kind, const char *id, char *err,
                           size_t errlen)
{
	char lv[LVM_LV_MAX];
	int rc = lv_name(lv_kinds[kind], id, lv, err, errlen);
	return rc < 0 ? rc : lvm_remove(p->priv, lv, err, errlen);
}

static void lvm_pool_space(const struct pool *p, int *total_gb, int *free_gb)
{
	long long size = 0, avail = 0;
	char err[256];
	*total_gb = *free_gb = 0;
	if (lvm_space(p->priv, &size, &avail, err, sizeof(err)) == 0) {
		*total_gb = (int)(size >> 30);
		*free_gb = (int)(avail >> 30);
	}
}

/* Calls fn for each LV name of the group (at most PRIV_MSG_MAX bytes of names). */
static int lv_each(const struct pool *p, void (*fn)(const struct pool *p, const char *lv, void *),
                   void *arg)
{
	char out[PRIV_MSG_MAX], err[256];
	if (lvm_list(p->priv, out, sizeof(out), err, sizeof(err)) < 0)
		return -EIO;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " \t");
		line[strcspn(line, " \t")] = 0;
		fn(p, line, arg);
	}
	return 0;
}

struct list_acc {
	struct msg_resource *out;
	int n, max;
};

static void list_one(const struct pool *p, const char *lv, void *arg)
{
	(void)p;
	struct list_acc *l = arg;
	static const struct {
		const char *prefix;
		enum msg_res_kind kind;
	} kinds[] = {{"vol-", MSG_RES_VOLUME}, {"snap-", MSG_RES_SNAPSHOT}};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]) && l->n < l->max; k++) {
		size_t pl = strlen(kinds[k].prefix);
		if (strncmp(lv, kinds[k].prefix, pl) || !uuid_is_valid(lv + pl))
			continue;
		snprintf(l->out[l->n].id, sizeof(l->out[l->n].id), "%s", lv + pl);
		l->out[l->n].kind = kinds[k].kind;
		strcpy(l->out[l->n].state, VOL_AVAILABLE);
		l->n++;
	}
}

static int lvm_pool_list(const struct pool *p, struct msg_resource *out, int max)
{
	struct list_acc l = {out, 0, max};
	lv_each(p, list_one, &l);
	return l.n;
}

/* At start: a tmp-* LV is an earlier run's half (removed); a volume's or snapshot's
 * node is made the worker's again (activation at boot makes it root's). */
static void lv_adopt(const struct pool *p, const char *lv, void *arg)
{
	(void)arg;
	char err[256];
	if (!strncmp(lv, "tmp-", 4) && uuid_is_valid(lv + 4))
		lvm_remove(p->priv, lv, err, sizeof(err));
	else if ((!strncmp(lv, "vol-", 4) && uuid_is_valid(lv + 4)) ||
	         (!strncmp(lv, "snap-", 5) && uuid_is_valid(lv + 5)))
		lvm_give(p->priv, lv, err, sizeof(err));
}

void pool_lvm_tidy(const struct pool *p)
{
	if (p->ops == &pool_lvm_ops)
		lv_each(p, lv_adopt, NULL);
}

int pool_use_lvm(struct pool *p, const char *vg, struct priv *priv, char *err, size_t errlen)
{
	long long size, avail;
	char why[256];
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
	free(p->vg);
	p->vg = xstrdup(vg);
	p->priv = priv;
	p->ops = &pool_lvm_ops;
	lv_each(p, lv_adopt, NULL);
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

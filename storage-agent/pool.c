/* The volume pool: the public calls go to the backend (p->ops); here the file backend,
 * qcow2 or raw files made with qemu-img from argv, renamed into place whole. */
#include "pool.h"
#include "pool_template.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsutil.h"
#include "image_cache.h"
#include "proc.h"
#include "qemu_img.h"
#include "volfile.h"
#include "xalloc.h"

#define QEMU_IMG_TIMEOUT_MS (30 * 60 * 1000) /* a large copy on a slow disk */
#define GIB (1ull << 30)

static const struct pool_ops file_ops;

static const char *const kind_dirs[] = {[POOL_VOLUME] = "volumes", [POOL_SNAPSHOT] = "snapshots"};

int pool_open(struct pool *p, const char *dir, const char *agent_key, long long max_image_bytes,
              long long image_cache_bytes, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"volumes", "snapshots", VOLFILE_COPIES, "tmp",
	                                      "templates"};
	memset(p, 0, sizeof(*p));
	p->dir = xstrdup(dir);
	p->agent_key = xstrdup(agent_key ? agent_key : "");
	p->ops = &file_ops;
	p->volume_format = "qcow2";
	/* tmp/: half-made files of an earlier run, garbage; templates/: made again by the
	 * qemu-img this run uses (pool_template.h) */
	static const char *const emptied[] = {"tmp", "templates"};
	for (size_t i = 0; i < sizeof(emptied) / sizeof(emptied[0]); i++) {
		char *d = xasprintf("%s/%s", dir, emptied[i]);
		fs_remove_tree(d);
		free(d);
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *d = xasprintf("%s/%s", dir, subdirs[i]);
		int rc = fs_mkdir_p(d, 0700);
		if (rc < 0) {
			snprintf(err, errlen, "%s: %s", d, strerror(-rc));
			free(d);
			return rc;
		}
		free(d);
	}
	char *images = xasprintf("%s/images", dir);
	const struct image_cache_conf icc = {
	    .dir = images,
	    .agent_key = agent_key,
	    .user_agent = "nubo-storage",
	    .max_image_bytes = max_image_bytes,
	    .max_cache_bytes = image_cache_bytes,
	};
	p->images = image_cache_new(&icc, err, errlen);
	free(images);
	return p->images ? 0 : -EIO;
}

void pool_close(struct pool *p)
{
	pool_lvm_close(p);
	free(p->dir);
	image_cache_free(p->images);
	if (p->agent_key)
		memset(p->agent_key, 0, strlen(p->agent_key));
	free(p->agent_key);
	free(p->vg);
	memset(p, 0, sizeof(*p));
}

const char *pool_format(const struct pool *p)
{
	return p->ops->format ? p->ops->format : p->volume_format;
}

int pool_set_format(struct pool *p, const char *format)
{
	if (!volfile_format_ok(format))
		return -EINVAL;
	p->volume_format = !strcmp(format, "raw") ? "raw" : "qcow2";
	return 0;
}

char *pool_path(const struct pool *p, enum pool_kind kind, const char *id)
{
	return p->ops->path(p, kind, id);
}

char *pool_locate(const struct pool *p, enum pool_kind kind, const char *id, const char **fmt)
{
	if (p->ops->locate)
		return p->ops->locate(p, kind, id, fmt);
	*fmt = p->ops->format;
	return p->ops->path(p, kind, id);
}

int pool_volume_create(const struct pool *p, const char *id, const struct msg_vol_create *c,
                       char *err, size_t errlen)
{
	return p->ops->volume_create(p, id, c, err, errlen);
}

int pool_snapshot_create(const struct pool *p, const char *id, const char *volume_id, char *err,
                         size_t errlen)
{
	return p->ops->snapshot_create(p, id, volume_id, err, errlen);
}

int pool_volume_extend(const struct pool *p, const char *id, int size_gb, char *err, size_t errlen)
{
	return p->ops->volume_extend(p, id, size_gb, err, errlen);
}

int pool_remove(const struct pool *p, enum pool_kind kind, const char *id, char *err, size_t errlen)
{
	return p->ops->remove(p, kind, id, err, errlen);
}

void pool_space(const struct pool *p, int *total_gb, int *free_gb)
{
	p->ops->space(p, total_gb, free_gb);
}

int pool_list(const struct pool *p, struct msg_resource *out, int max)
{
	return p->ops->list(p, out, max);
}

/* The file of id of kind: <id>.qcow2 or <id>.raw, whichever is there (the format is
 * the file's, so a pool whose volume_format changed keeps serving what it holds), else
 * the name a new one gets (the pool's volume_format). Its driver goes to *fmt. */
static char *file_locate(const struct pool *p, enum pool_kind kind, const char *id,
                         const char **fmt)
{
	return volfile_find(p->dir, kind_dirs[kind], id, pool_format(p), fmt);
}

static char *file_path(const struct pool *p, enum pool_kind kind, const char *id)
{
	const char *fmt;
	return file_locate(p, kind, id, &fmt);
}

static char *tmp_path(const struct pool *p, const char *id, const char *ext)
{
	return xasprintf("%s/tmp/%s.%s", p->dir, id, ext);
}

/* Runs a built argv; 0 or -EIO with qemu-img's words in err. */
static int run_img(const struct qemu_img_argv *a, int built, char *err, size_t errlen)
{
	char out[1024] = "";
	if (built < 0) {
		snprintf(err, errlen, "qemu-img: invalid arguments");
		return -EINVAL;
	}
	int st = proc_run(a->v, QEMU_IMG_TIMEOUT_MS, out, sizeof(out));
	if (st != 0) {
		out[strcspn(out, "\n")] = 0;
		snprintf(err, errlen, "qemu-img %s failed (%d): %s", a->v[1], st, out);
		return -EIO;
	}
	return 0;
}

/* Moves the finished tmp file into place durably. */
static int commit_file(const char *tmp, const char *path, char *err, size_t errlen)
{
	int fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename into the pool: %s", strerror(errno));
		return -errno;
	}
	char *dir = xstrdup(path);
	*strrchr(dir, '/') = 0;
	fs_sync_dir(dir);
	free(dir);
	return 0;
}

/* Copies volume volume_id into tmp for resource id: through what serves it, when
 * something does, else from its pool file. */
static int volume_copy(const struct pool *p, const char *volume_id, const char *id, const char *tmp,
                       char *err, size_t errlen)
{
	struct qemu_img_argv a;
	int rc = pool_live_copy(p, volume_id, id, tmp, pool_format(p), err, errlen);
	if (rc != -ENOENT)
		return rc;
	const char *fmt;
	char *src = file_locate(p, POOL_VOLUME, volume_id, &fmt);
	rc = run_img(&a, qemu_img_argv_convert(&a, src, fmt, tmp, pool_format(p)), err, errlen);
	free(src);
	return rc;
}

/* dl := the source image of c from the image cache (downloaded once per content),
 * which inspected it; its driver goes to *fmt. */
int pool_image_fetch(const struct pool *p, const struct msg_vol_create *c, const char *dl,
                     uint64_t max_virtual, const char **fmt, char *err, size_t errlen)
{
	struct image_info info;
	*fmt = NULL;
	if (!c->image_url || !c->image_format || !qemu_img_driver(c->image_format)) {
		snprintf(err, errlen, "image %s: no URL or a disk format we cannot read (%s)",
		         c->source_id, c->image_format ? c->image_format : "none");
		return -EINVAL;
	}
	const struct image_ref img = {.id = c->source_id,
	                              .url = c->image_url,
	                              .sha512 = c->image_hash,
	                              .md5 = c->image_checksum,
	                              .format = c->image_format};
	int rc = image_cache_link(p->images, &img, dl, &info, NULL, err, errlen);
	if (rc < 0)
		return rc;
	*fmt = qemu_img_driver(info.format);
	if ((uint64_t)info.virtual_size > max_virtual) {
		snprintf(err, errlen,
		         "Image virtual size is %lldGB and doesn't fit in a volume of size %lluGB.",
		         (long long)((info.virtual_size + GIB - 1) / GIB),
		         (unsigned long long)(max_virtual / GIB));
		return -EFBIG;
	}
	return 0;
}

void pool_image_release(const struct pool *p, const char *dl)
{
	unlink(dl);
	if (p->images)
		image_cache_evict(p->images);
}

/* tmp := a new sparse file of size bytes (an empty raw volume). 0 or -errno with err. */
static int raw_create(const char *tmp, uint64_t size, char *err, size_t errlen)
{
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		snprintf(err, errlen, "empty raw volume: %s", strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

static int file_volume_create(const struct pool *p, const char *id, const struct msg_vol_create *c,
                              char *err, size_t errlen)
{
	struct qemu_img_argv a;
	const char *fmt = pool_format(p), *src_fmt = NULL;
	char *path = file_path(p, POOL_VOLUME, id), *tmp = tmp_path(p, id, fmt);
	char *dl = tmp_path(p, id, "image"), *src = NULL;
	uint64_t size = (uint64_t)c->size_gb * GIB;
	int rc = 0;
	if (fs_exists(path))
		goto out; /* made by an earlier run of this task */
	unlink(tmp);
	if (!c->source[0]) {
		/* qcow2: a copy of the size's template, qemu-img itself when none may be kept;
		 * raw: a sparse file of the size, what `qemu-img create -f raw` makes, without
		 * its exec */
		rc = strcmp(fmt, "qcow2") ? raw_create(tmp, size, err, errlen)
		                          : pool_template_copy(p->dir, size, tmp, err, errlen);
		if (rc == 1)
			rc = run_img(&a, qemu_img_argv_create(&a, tmp, fmt, size), err, errlen);
	} else if (!strcmp(c->source, "volume") || !strcmp(c->source, "snapshot")) {
		src = file_locate(p, !strcmp(c->source, "volume") ? POOL_VOLUME : POOL_SNAPSHOT,
		                  c->source_id, &src_fmt);
		if (!fs_exists(src)) {
			snprintf(err, errlen, "source %s %s is not in this pool", c->source,
			         c->source_id);
			rc = -ENOENT;
			goto out;
		}
		rc = !strcmp(c->source, "volume")
		         ? volume_copy(p, c->source_id, id, tmp, err, errlen)
		         : run_img(&a, qemu_img_argv_convert(&a, src, src_fmt, tmp, fmt), err,
		                   errlen);
	} else if (!strcmp(c->source, "image")) {
		const char *img_fmt = NULL;
		rc = pool_image_fetch(p, c, dl, size, &img_fmt, err, errlen);
		if (rc == 0)
			rc = run_img(&a, qemu_img_argv_convert(&a, dl, img_fmt, tmp, fmt), err,
			             errlen);
		pool_image_release(p, dl);
	} else {
		snprintf(err, errlen, "unknown source %s", c->source);
		rc = -EINVAL;
	}
	/* a copy is grown to the requested size (the API refuses a smaller one) */
	if (rc == 0 && c->source[0])
		rc = run_img(&a, qemu_img_argv_resize(&a, tmp, fmt, size), err, errlen);
	if (rc == 0)
		rc = commit_file(tmp, path, err, errlen);
out:
	if (rc < 0)
		unlink(tmp);
	free(path);
	free(tmp);
	free(dl);
	free(src);
	return rc;
}

static int file_snapshot_create(const struct pool *p, const char *id, const char *volume_id,
                                char *err, size_t errlen)
{
	char *path = file_path(p, POOL_SNAPSHOT, id), *tmp = tmp_path(p, id, pool_format(p));
	char *src = file_path(p, POOL_VOLUME, volume_id);
	int rc = 0;
	if (fs_exists(path))
		goto out;
	if (!fs_exists(src)) {
		snprintf(err, errlen, "volume %s is not in this pool", volume_id);
		rc = -ENOENT;
		goto out;
	}
	unlink(tmp);
	rc = volume_copy(p, volume_id, id, tmp, err, errlen);
	if (rc == 0)
		rc = commit_file(tmp, path, err, errlen);
	if (rc < 0)
		unlink(tmp);
out:
	free(path);
	free(tmp);
	free(src);
	return rc;
}

static int file_volume_extend(const struct pool *p, const char *id, int size_gb, char *err,
                              size_t errlen)
{
	struct qemu_img_argv a;
	const char *fmt;
	char *path = file_locate(p, POOL_VOLUME, id, &fmt);
	int rc =
	    run_img(&a, qemu_img_argv_resize(&a, path, fmt, (uint64_t)size_gb * GIB), err, errlen);
	free(path);
	return rc;
}

/* Removes id's file in <pool>/<dir_name> under every format's name (and, with parts,
 * the <name>.part beside each), then syncs the directory: a second file of another
 * format (an operator's conversion by hand) would otherwise become the volume once the
 * first went. 0 or the first error, with err. */
static int names_remove(const struct pool *p, const char *dir_name, const char *id, int parts,
                        char *err, size_t errlen)
{
	const char *fmt;
	int rc = 0;
	for (size_t i = 0; (fmt = volfile_format_at(i)); i++) {
		for (int part = 0; part <= parts; part++) {
			char *path = xasprintf("%s/%s/%s.%s%s", p->dir, dir_name, id, fmt,
			                       part ? VOLFILE_PART : "");
			if (unlink(path) < 0 && errno != ENOENT && rc == 0) {
				rc = -errno;
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
			}
			free(path);
		}
	}
	char *dir = xasprintf("%s/%s", p->dir, dir_name);
	fs_sync_dir(dir);
	free(dir);
	return rc;
}

static int file_remove(const struct pool *p, enum pool_kind kind, const char *id, char *err,
                       size_t errlen)
{
	return names_remove(p, kind_dirs[kind], id, 0, err, errlen);
}

static void file_space(const struct pool *p, int *total_gb, int *free_gb)
{
	struct statvfs v;
	*total_gb = *free_gb = 0;
	if (statvfs(p->dir, &v) == 0) {
		*total_gb = (int)((unsigned long long)v.f_blocks * v.f_frsize >> 30);
		*free_gb = (int)((unsigned long long)v.f_bavail * v.f_frsize >> 30);
	}
}

/* The <uuid>.<format> files of <pool>/<dir> (and <uuid>.<format>.part ones when parts)
 * into out as resources of kind (at most max, state available). The count. */
static int dir_list(const struct pool *p, const char *dir_name, enum msg_res_kind kind, int parts,
                    struct msg_resource *out, int max)
{
	const size_t plen = strlen(VOLFILE_PART);
	int n = 0;
	char *d = xasprintf("%s/%s", p->dir, dir_name);
	DIR *dir = opendir(d);
	free(d);
	if (!dir)
		return 0;
	struct dirent *e;
	while (n < max && (e = readdir(dir))) {
		size_t len = strlen(e->d_name);
		if (parts && len > plen && !strcmp(e->d_name + len - plen, VOLFILE_PART))
			len -= plen;
		const char *ext = volfile_ext(e->d_name, len);
		if (!ext || len != UUID_STR_LEN - 1 + 1 + strlen(ext))
			continue;
		memcpy(out[n].id, e->d_name, UUID_STR_LEN - 1);
		out[n].id[UUID_STR_LEN - 1] = 0;
		if (!uuid_is_valid(out[n].id))
			continue;
		/* one entry per id: the file of another format beside the one used */
		const char *used;
		free(volfile_find(p->dir, dir_name, out[n].id, ext, &used));
		if (strcmp(used, ext))
			continue;
		out[n].kind = kind;
		strcpy(out[n].state, VOL_AVAILABLE);
		n++;
	}
	closedir(dir);
	return n;
}

static int file_list(const struct pool *p, struct msg_resource *out, int max)
{
	int n = dir_list(p, kind_dirs[POOL_VOLUME], MSG_RES_VOLUME, 0, out, max);
	return n + dir_list(p, kind_dirs[POOL_SNAPSHOT], MSG_RES_SNAPSHOT, 0, out + n, max - n);
}

static const struct pool_ops file_ops = {
    .format = NULL, /* per volume: its file's (pool_set_format for new ones) */
    .path = file_path,
    .locate = file_locate,
    .volume_create = file_volume_create,
    .snapshot_create = file_snapshot_create,
    .volume_extend = file_volume_extend,
    .remove = file_remove,
    .space = file_space,
    .list = file_list,
};

char *pool_copy_locate(const struct pool *p, const char *backup_id, const char **fmt)
{
	return volfile_find(p->dir, VOLFILE_COPIES, backup_id, "qcow2", fmt);
}

int pool_copies_list(const struct pool *p, struct msg_resource *out, int max)
{
	return dir_list(p, VOLFILE_COPIES, MSG_RES_BACKUP, 1, out, max);
}

int pool_copy_drop(const struct pool *p, const char *backup_id, char *err, size_t errlen)
{
	return names_remove(p, VOLFILE_COPIES, backup_id, 1, err, errlen);
}

int pool_run_img(const struct qemu_img_argv *a, int built, char *err, size_t errlen)
{
	return run_img(a, built, err, errlen);
}

int pool_live_copy(const struct pool *p, const char *volume_id, const char *id, const char *out,
                   const char *format, char *err, size_t errlen)
{
	return p->live_copy ? p->live_copy(p->live_arg, volume_id, id, out, format, err, errlen)
	                    : -ENOENT;
}

int pool_commit(const char *tmp, const char *path, char *err, size_t errlen)
{
	return commit_file(tmp, path, err, errlen);
}

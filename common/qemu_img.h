/* The one inspection of disk images every component uses (the API on upload, the
 * compute agent on download): a pure header inspector that tells which format the bytes
 * really are and refuses a qcow2 that would make QEMU open anything besides itself
 * (backing file, external data file) or needs what we cannot serve (encryption, unknown
 * incompatible features); the parser of `qemu-img info --output=json` with the same
 * rules; and qemu_img_check(), which runs both on a file, qemu-img under resource
 * limits. Never logs. */
#ifndef NUBO_QEMU_IMG_H
#define NUBO_QEMU_IMG_H
#include <stddef.h>
#include <stdint.h>

/* How many leading bytes qemu_img_probe wants to see: the largest qcow2 cluster (header
 * extensions live in the first cluster). Fewer is fine for shorter files. */
#define IMAGE_INSPECT_LEN (2u << 20)

enum image_fmt {
	IMAGE_FMT_RAW, /* nothing else recognised */
	IMAGE_FMT_QCOW2,
	IMAGE_FMT_ISO,
	IMAGE_FMT_QED,
	IMAGE_FMT_VMDK,
	IMAGE_FMT_VDI,
	IMAGE_FMT_VHD,
	IMAGE_FMT_VHDX,
	IMAGE_FMT_LUKS,
	IMAGE_FMT_PARALLELS,
};

struct image_probe {
	enum image_fmt fmt;
	uint64_t virtual_size; /* qcow2: from the header; otherwise 0 (unknown) */
	unsigned qcow2_version;
	unsigned cluster_bits;
};

/* Detects the format of a file of file_size bytes whose first len bytes are buf
 * (len = min(file_size, IMAGE_INSPECT_LEN) expected). For qcow2 it also validates the
 * header. Returns 0 with *out filled, or -EINVAL with a client-facing reason in err
 * ("qcow2 image has a backing file") when the header is malformed or unsafe. */
int qemu_img_probe(const uint8_t *buf, size_t len, uint64_t file_size, struct image_probe *out,
                   char *err, size_t errlen);

/* Lowercase name of fmt as Glance spells disk formats ("qcow2", "raw", ...). */
const char *qemu_img_fmt_name(enum image_fmt fmt);

/* 0 when bytes detected as p->fmt may be stored under the declared disk_format
 * (raw accepts raw and iso bytes; qcow2 and iso need their own signature), else
 * -EINVAL with a client-facing reason in err. */
int qemu_img_format_check(const char *disk_format, const struct image_probe *p, char *err,
                          size_t errlen);

/* What qemu-img reports of an accepted image. */
struct qemu_img_info {
	char format[16];        /* "qcow2" or "raw" (the qemu-img driver) */
	long long virtual_size; /* bytes the guest sees, > 0 */
};

/* Pure check of `qemu-img info --output=json` text (warning lines before the JSON are
 * skipped): the format must be driver ("qcow2" or "raw"; NULL accepts either); a
 * backing file, an external data file or encryption is refused, and the virtual size
 * must be known. Fills out. 0 or -EINVAL with a client-facing reason in err. */
int qemu_img_info_parse(const char *json, const char *driver, struct qemu_img_info *out, char *err,
                        size_t errlen);

/* bytes rounded up to whole 512-byte sectors: the virtual size qemu-img (and a guest)
 * sees for a raw file of that many bytes. */
uint64_t qemu_img_sector_round(uint64_t bytes);

/* The qemu-img driver that reads a Glance disk_format ("qcow2" -> "qcow2", "raw" and
 * "iso" -> "raw"), or NULL for a format we do not boot. */
const char *qemu_img_driver(const char *disk_format);

/* The QEMU protocol driver that opens a pool volume of volume_format as a node (the
 * "file" child of a -blockdev or blockdev-add): "file" for a qcow2 file (NULL: qcow2),
 * "host_device" for a raw volume, which is an LV, a block device (QEMU's "file" driver
 * refuses anything but a regular file); NULL for any other format. */
const char *qemu_img_volume_protocol(const char *volume_format);
/* The same for the volume at path (its real path, not an fd's): "host_device" for a raw
 * volume under /dev/ (an LV of an LVM pool), "file" for a qcow2 or raw file of a file
 * pool (NULL format: qcow2); NULL for any other format or no path. */
const char *qemu_img_path_protocol(const char *volume_format, const char *path);

/* Inspects the image file at path, which claims disk_format (NULL: qcow2 or raw, as
 * the header says): the header inspector first, so no tool opens a qcow2 that points
 * elsewhere, then `qemu-img info` under address-space and CPU limits (prlimit), and
 * both must agree on the virtual size. A raw image's virtual size in out is its byte
 * size, as Glance reports it (qemu-img's is that rounded up to a sector). Fills out.
 * Returns 0; -EINVAL when the image is bad or unsafe (err says why, for the client);
 * -EIO when the file could not be read or qemu-img could not run (err says why). */
int qemu_img_check(const char *path, const char *disk_format, struct qemu_img_info *out, char *err,
                   size_t errlen);

/* ---- argv builders (pure): the storage agent's qemu-img command lines ---- */

#define QEMU_IMG_ARGV_MAX 16

/* An argv for proc_run: v is NULL-terminated; its strings are borrowed from the
 * caller's arguments or held in num (a size in bytes). */
struct qemu_img_argv {
	const char *v[QEMU_IMG_ARGV_MAX];
	char num[24];
};

/* `qemu-img create -q -f qcow2 -o cluster_size=65536 PATH BYTES` (fmt "qcow2") or
 * `qemu-img create -q -f raw PATH BYTES` (fmt "raw": a sparse file): a new empty volume
 * of size_bytes. Paths must be absolute (so none reads as an option), fmt "qcow2" or
 * "raw" and size_bytes a positive multiple of 512. 0 or -EINVAL (a->v then empty). */
int qemu_img_argv_create(struct qemu_img_argv *a, const char *path, const char *fmt,
                         uint64_t size_bytes);
/* `qemu-img convert -q -f SRC_FMT -O DST_FMT SRC DST`: a full, self-contained copy of
 * src read with the driver src_fmt ("qcow2" or "raw", forced: the bytes are never
 * probed) written as dst_fmt ("qcow2" or "raw"; a raw dst stays sparse). 0 or -EINVAL. */
int qemu_img_argv_convert(struct qemu_img_argv *a, const char *src, const char *src_fmt,
                          const char *dst, const char *dst_fmt);
/* `qemu-img convert -q -n -f SRC_FMT -O raw SRC DST`: src's bytes written into the
 * existing raw dst (a block device of at least src's size: -n, nothing is created). 0
 * or -EINVAL. */
int qemu_img_argv_write(struct qemu_img_argv *a, const char *src, const char *src_fmt,
                        const char *dst);
/* `qemu-img resize -q -f FMT PATH BYTES`: grows a volume file of fmt ("qcow2" or "raw")
 * to size_bytes (callers never shrink: the API refuses it). 0 or -EINVAL. */
int qemu_img_argv_resize(struct qemu_img_argv *a, const char *path, const char *fmt,
                         uint64_t size_bytes);

#endif

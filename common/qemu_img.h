/* Pure inspection of uploaded image bytes: which disk format the header really is, and
 * whether a qcow2 header asks QEMU to open anything besides itself (backing file,
 * external data file) or needs something we cannot serve (encryption, unknown
 * incompatible features). No I/O: callers pass the first bytes of the file. */
#ifndef NUBO_IMAGE_INSPECT_H
#define NUBO_IMAGE_INSPECT_H
#include <stddef.h>
#include <stdint.h>

/* How many leading bytes image_inspect wants to see: the largest qcow2 cluster (header
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
int image_inspect(const uint8_t *buf, size_t len, uint64_t file_size, struct image_probe *out,
		  char *err, size_t errlen);

/* Lowercase name of fmt as Glance spells disk formats ("qcow2", "raw", ...). */
const char *image_fmt_name(enum image_fmt fmt);

/* 0 when bytes detected as p->fmt may be stored under the declared disk_format
 * (raw accepts raw and iso bytes; qcow2 and iso need their own signature), else
 * -EINVAL with a client-facing reason in err. */
int image_format_check(const char *disk_format, const struct image_probe *p, char *err,
		       size_t errlen);

#endif

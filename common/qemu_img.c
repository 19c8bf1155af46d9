/* Disk-format detection and qcow2 header validation over a byte buffer. The rules follow
 * the qcow2 specification (docs/interop/qcow2.txt in QEMU): a header that names a
 * backing file or an external data file would make QEMU open a second, attacker-chosen
 * path on the host, so such images are refused before any tool touches them. */
#include "qemu_img.h"
#include "volfile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "xalloc.h"

#define QEMU_IMG_TIMEOUT_MS 60000
#define QEMU_IMG_OUT_MAX (64 << 10)

#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_LEN 104
#define QCOW2_MAX_VIRTUAL_SIZE (1ULL << 50) /* 1 PiB: far above any real image */

/* Incompatible feature bits (qcow2 v3). */
#define QCOW2_INCOMPAT_DIRTY (1ULL << 0)
#define QCOW2_INCOMPAT_CORRUPT (1ULL << 1)
#define QCOW2_INCOMPAT_DATA_FILE (1ULL << 2)
#define QCOW2_INCOMPAT_COMPRESSION (1ULL << 3)
#define QCOW2_INCOMPAT_EXTL2 (1ULL << 4)
#define QCOW2_INCOMPAT_KNOWN                                                                       \
	(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT | QCOW2_INCOMPAT_DATA_FILE |                \
	 QCOW2_INCOMPAT_COMPRESSION | QCOW2_INCOMPAT_EXTL2)

/* Header extension types we refuse: each makes the image depend on something outside. */
static const struct {
	uint32_t type;
	const char *reason;
} refused_exts[] = {
    {0x44415441, "qcow2 image names an external data file"},
    {0xe2792aca, "qcow2 image names a backing file format"},
    {0x0537be77, "qcow2 image is encrypted"},
};

/* Magic strings at fixed offsets, checked in order after qcow2. */
static const struct {
	enum image_fmt fmt;
	size_t off;
	const char *magic;
	size_t len;
} signatures[] = {
    {IMAGE_FMT_QED, 0, "QED\0", 4},
    {IMAGE_FMT_VMDK, 0, "KDMV", 4},
    {IMAGE_FMT_VMDK, 0, "# Disk DescriptorFile", 21},
    {IMAGE_FMT_VDI, 0x40, "\x7f\x10\xda\xbe", 4},
    {IMAGE_FMT_VHD, 0, "conectix", 8},
    {IMAGE_FMT_VHDX, 0, "vhdxfile", 8},
    {IMAGE_FMT_LUKS, 0, "LUKS\xba\xbe", 6},
    {IMAGE_FMT_PARALLELS, 0, "WithoutFreeSpace", 16},
    {IMAGE_FMT_PARALLELS, 0, "WithouFreSpacExt", 16},
    {IMAGE_FMT_ISO, 0x8001, "CD001", 5},
};

static const char *const fmt_names[] = {
    [IMAGE_FMT_RAW] = "raw",         [IMAGE_FMT_QCOW2] = "qcow2", [IMAGE_FMT_ISO] = "iso",
    [IMAGE_FMT_QED] = "qed",         [IMAGE_FMT_VMDK] = "vmdk",   [IMAGE_FMT_VDI] = "vdi",
    [IMAGE_FMT_VHD] = "vhd",         [IMAGE_FMT_VHDX] = "vhdx",   [IMAGE_FMT_LUKS] = "luks",
    [IMAGE_FMT_PARALLELS] = "ploop",
};

const char *qemu_img_fmt_name(enum image_fmt fmt)
{
	if ((size_t)fmt >= sizeof(fmt_names) / sizeof(fmt_names[0]) || !fmt_names[fmt])
		return "unknown";
	return fmt_names[fmt];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t be64(const uint8_t *p)
{
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* Walks the header extensions in [off, end) (end = first cluster or end of file). */
static int qcow2_check_extensions(const uint8_t *buf, size_t len, uint64_t off, uint64_t end,
                                  char *err, size_t errlen)
{
	while (off + 8 <= end) {
		if (off + 8 > len) {
			snprintf(err, errlen, "qcow2 header extensions are truncated");
			return -EINVAL;
		}
		uint32_t type = be32(buf + off), elen = be32(buf + off + 4);
		if (type == 0)
			return 0;
		for (size_t i = 0; i < sizeof(refused_exts) / sizeof(refused_exts[0]); i++)
			if (type == refused_exts[i].type) {
				snprintf(err, errlen, "%s", refused_exts[i].reason);
				return -EINVAL;
			}
		if (elen > end - off - 8) {
			snprintf(err, errlen, "qcow2 header extension runs past the first cluster");
			return -EINVAL;
		}
		off += 8 + (((uint64_t)elen + 7) & ~7ULL);
	}
	return 0;
}

static int qcow2_inspect(const uint8_t *buf, size_t len, uint64_t file_size,
                         struct image_probe *out, char *err, size_t errlen)
{
	if (len < QCOW2_V2_HEADER_LEN) {
		snprintf(err, errlen, "qcow2 header is truncated");
		return -EINVAL;
	}
	uint32_t version = be32(buf + 4);
	if (version != 2 && version != 3) {
		snprintf(err, errlen, "qcow2 version %u is not supported", version);
		return -EINVAL;
	}
	uint64_t backing_off = be64(buf + 8);
	uint32_t backing_len = be32(buf + 16);
	uint32_t cluster_bits = be32(buf + 20);
	uint64_t size = be64(buf + 24);
	uint32_t crypt = be32(buf + 32);
	if (backing_off != 0 || backing_len != 0) {
		snprintf(err, errlen, "qcow2 image has a backing file");
		return -EINVAL;
	}
	if (cluster_bits < 9 || cluster_bits > 21) {
		snprintf(err, errlen, "qcow2 cluster size 2^%u is invalid", cluster_bits);
		return -EINVAL;
	}
	if (crypt != 0) {
		snprintf(err, errlen, "qcow2 image is encrypted");
		return -EINVAL;
	}
	if (size > QCOW2_MAX_VIRTUAL_SIZE) {
		snprintf(err, errlen, "qcow2 virtual size is too large");
		return -EINVAL;
	}
	uint64_t cluster = 1ULL << cluster_bits;
	uint64_t ext_off = QCOW2_V2_HEADER_LEN;
	if (version == 3) {
		if (len < QCOW2_V3_HEADER_LEN) {
			snprintf(err, errlen, "qcow2 header is truncated");
			return -EINVAL;
		}
		uint64_t incompat = be64(buf + 72);
		uint32_t refcount_order = be32(buf + 96);
		uint32_t header_len = be32(buf + 100);
		if (incompat & QCOW2_INCOMPAT_DATA_FILE) {
			snprintf(err, errlen, "qcow2 image uses an external data file");
			return -EINVAL;
		}
		if (incompat & QCOW2_INCOMPAT_CORRUPT) {
			snprintf(err, errlen, "qcow2 image is marked corrupt");
			return -EINVAL;
		}
		if (incompat & ~QCOW2_INCOMPAT_KNOWN) {
			snprintf(err, errlen,
			         "qcow2 image has unknown incompatible features 0x%llx",
			         (unsigned long long)(incompat & ~QCOW2_INCOMPAT_KNOWN));
			return -EINVAL;
		}
		if (refcount_order > 6) {
			snprintf(err, errlen, "qcow2 refcount order %u is invalid", refcount_order);
			return -EINVAL;
		}
		if (header_len < QCOW2_V3_HEADER_LEN || header_len > cluster || header_len % 8) {
			snprintf(err, errlen, "qcow2 header length %u is invalid", header_len);
			return -EINVAL;
		}
		ext_off = header_len;
	}
	uint64_t end = cluster < file_size ? cluster : file_size;
	if (qcow2_check_extensions(buf, len, ext_off, end, err, errlen) < 0)
		return -EINVAL;
	out->fmt = IMAGE_FMT_QCOW2;
	out->virtual_size = size;
	out->qcow2_version = version;
	out->cluster_bits = cluster_bits;
	return 0;
}

int qemu_img_probe(const uint8_t *buf, size_t len, uint64_t file_size, struct image_probe *out,
                   char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->fmt = IMAGE_FMT_RAW;
	if (len > file_size)
		len = (size_t)file_size;
	if (len >= 4 && !memcmp(buf, "QFI\xfb", 4))
		return qcow2_inspect(buf, len, file_size, out, err, errlen);
	for (size_t i = 0; i < sizeof(signatures) / sizeof(signatures[0]); i++) {
		size_t off = signatures[i].off, n = signatures[i].len;
		if (len >= off + n && !memcmp(buf + off, signatures[i].magic, n)) {
			out->fmt = signatures[i].fmt;
			break;
		}
	}
	return 0;
}

int qemu_img_format_check(const char *disk_format, const struct image_probe *p, char *err,
                          size_t errlen)
{
	if (!strcmp(disk_format, "raw")) {
		/* an ISO 9660 filesystem is a plain disk too */
		if (p->fmt == IMAGE_FMT_RAW || p->fmt == IMAGE_FMT_ISO)
			return 0;
	} else if (!strcmp(disk_format, "qcow2")) {
		if (p->fmt == IMAGE_FMT_QCOW2)
			return 0;
	} else if (!strcmp(disk_format, "iso")) {
		if (p->fmt == IMAGE_FMT_ISO)
			return 0;
	} else {
		snprintf(err, errlen, "disk_format %s is not supported", disk_format);
		return -EINVAL;
	}
	if (p->fmt == IMAGE_FMT_RAW)
		snprintf(err, errlen, "disk_format is %s but the data has no %s header",
		         disk_format, disk_format);
	else
		snprintf(err, errlen, "disk_format is %s but the data is %s", disk_format,
		         qemu_img_fmt_name(p->fmt));
	return -EINVAL;
}

/* ---- qemu-img info ---- */

uint64_t qemu_img_sector_round(uint64_t bytes)
{
	return bytes > UINT64_MAX - 511 ? UINT64_MAX & ~511ULL : (bytes + 511) & ~511ULL;
}

const char *qemu_img_driver(const char *disk_format)
{
	static const struct {
		const char *disk_format, *driver;
	} map[] = {{"qcow2", "qcow2"}, {"raw", "raw"}, {"iso", "raw"}};
	for (size_t i = 0; disk_format && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].disk_format, disk_format))
			return map[i].driver;
	return NULL;
}

const char *qemu_img_volume_protocol(const char *volume_format)
{
	static const struct {
		const char *format, *protocol;
	} map[] = {{"qcow2", "file"}, {"raw", "host_device"}};
	if (!volume_format)
		return "file";
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].format, volume_format))
			return map[i].protocol;
	return NULL;
}

const char *qemu_img_path_protocol(const char *volume_format, const char *path)
{
	const char *proto = qemu_img_volume_protocol(volume_format);
	if (!proto || !path)
		return NULL;
	return strncmp(path, "/dev/", 5) ? "file" : proto;
}

int qemu_img_info_parse(const char *json, const char *driver, struct qemu_img_info *out, char *err,
                        size_t errlen)
{
	const char *brace = json ? strchr(json, '{') : NULL; /* warnings may come first */
	json_t *v = brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	int rc = -EINVAL;
	if (!json_is_object(v)) {
		snprintf(err, errlen, "qemu-img info: unreadable output");
		goto out;
	}
	const char *fmt = json_string_value(json_object_get(v, "format"));
	json_t *vs = json_object_get(v, "virtual-size");
	if (!fmt || !json_is_integer(vs) || json_integer_value(vs) <= 0) {
		snprintf(err, errlen, "image: format or size unknown");
		goto out;
	}
	if (driver ? strcmp(fmt, driver) != 0 : strcmp(fmt, "qcow2") && strcmp(fmt, "raw")) {
		snprintf(err, errlen, "image: format is %.16s, expected %s", fmt,
		         driver ? driver : "qcow2 or raw");
		goto out;
	}
	if (json_object_get(v, "backing-filename") || json_object_get(v, "full-backing-filename")) {
		snprintf(err, errlen, "image: refusing an image with a backing file");
		goto out;
	}
	json_t *data = json_object_get(json_object_get(v, "format-specific"), "data");
	if (json_object_get(data, "data-file")) {
		snprintf(err, errlen, "image: refusing an image with an external data file");
		goto out;
	}
	if (json_is_true(json_object_get(v, "encrypted")) || json_object_get(data, "encrypt")) {
		snprintf(err, errlen, "image: refusing an encrypted image");
		goto out;
	}
	snprintf(out->format, sizeof(out->format), "%s", fmt);
	out->virtual_size = (long long)json_integer_value(vs);
	rc = 0;
out:
	json_decref(v);
	return rc;
}

/* Reads the first IMAGE_INSPECT_LEN bytes of fd into buf; *len gets how many. */
static int head_read(int fd, uint8_t *buf, size_t *len)
{
	*len = 0;
	while (*len < IMAGE_INSPECT_LEN) {
		ssize_t n = read(fd, buf + *len, IMAGE_INSPECT_LEN - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

int qemu_img_check(const char *path, const char *disk_format, struct qemu_img_info *out, char *err,
                   size_t errlen)
{
	uint8_t *head = xmalloc(IMAGE_INSPECT_LEN);
	char *text = NULL;
	struct image_probe probe;
	struct stat sb;
	size_t len = 0;
	int rc = -EIO;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &sb) < 0 || head_read(fd, head, &len) < 0) {
		snprintf(err, errlen, "image: %s", strerror(errno));
		goto out;
	}
	rc = -EINVAL;
	if (qemu_img_probe(head, len, (uint64_t)sb.st_size, &probe, err, errlen) < 0)
		goto out;
	if (!disk_format) /* as the header says, among what we boot */
		disk_format = probe.fmt == IMAGE_FMT_QCOW2 ? "qcow2" : "raw";
	const char *driver = qemu_img_driver(disk_format);
	if (!driver) {
		snprintf(err, errlen, "image: disk format %.16s is not one we boot", disk_format);
		goto out;
	}
	if (qemu_img_format_check(disk_format, &probe, err, errlen) < 0)
		goto out;
	/* the driver is forced, so raw bytes are never probed as something else */
	const char *const argv[] = {"prlimit",
	                            "--as=1073741824",
	                            "--cpu=30",
	                            "--",
	                            "qemu-img",
	                            "info",
	                            "--output=json",
	                            "-f",
	                            driver,
	                            "--",
	                            path,
	                            NULL};
	text = xmalloc(QEMU_IMG_OUT_MAX);
	int st = proc_run(argv, QEMU_IMG_TIMEOUT_MS, text, QEMU_IMG_OUT_MAX);
	if (st < 0 && st != -ETIMEDOUT) {
		snprintf(err, errlen, "qemu-img could not run: %s", strerror(-st));
		rc = -EIO;
		goto out;
	}
	if (st == 126 || st == 127) {
		snprintf(err, errlen, "qemu-img could not run (exit %d)", st);
		rc = -EIO;
		goto out;
	}
	if (st != 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(err, errlen, "image: qemu-img cannot read it: %.200s",
		         st == -ETIMEDOUT ? "timed out" : text);
		goto out;
	}
	if (qemu_img_info_parse(text, driver, out, err, errlen) < 0)
		goto out;
	if (probe.fmt == IMAGE_FMT_QCOW2 && (uint64_t)out->virtual_size != probe.virtual_size) {
		snprintf(err, errlen,
		         "image: qcow2 header and qemu-img disagree on the virtual size");
		goto out;
	}
	/* qemu-img counts whole 512-byte sectors; Glance reports a raw image's virtual
	 * size as its byte size, and so do we */
	if (probe.fmt != IMAGE_FMT_QCOW2) {
		if ((uint64_t)out->virtual_size != qemu_img_sector_round((uint64_t)sb.st_size)) {
			snprintf(err, errlen, "image: raw size and qemu-img virtual size disagree");
			goto out;
		}
		out->virtual_size = (long long)sb.st_size;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(head);
	free(text);
	return rc;
}

/* ---- argv builders ---- */

static int argv_path_ok(const char *p)
{
	return p && p[0] == '/' && strlen(p) < 4096;
}

static int argv_size(struct qemu_img_argv *a, uint64_t bytes)
{
	if (!bytes || bytes % 512 || bytes > (UINT64_C(1) << 50))
		return -EINVAL;
	snprintf(a->num, sizeof(a->num), "%" PRIu64, bytes);
	return 0;
}

static int argv_fill(struct qemu_img_argv *a, const char *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		a->v[i] = v[i];
	a->v[n] = NULL;
	return 0;
}

/* A volume's driver: "qcow2" or "raw". */
static int argv_fmt_ok(const char *fmt)
{
	return volfile_format_ok(fmt);
}

int qemu_img_argv_create(struct qemu_img_argv *a, const char *path, const char *fmt,
                         uint64_t size_bytes)
{
	memset(a, 0, sizeof(*a));
	if (!argv_path_ok(path) || !argv_fmt_ok(fmt) || argv_size(a, size_bytes) < 0)
		return -EINVAL;
	if (!strcmp(fmt, "raw")) {
		const char *const v[] = {"qemu-img", "create", "-q", "-f", "raw", path, a->num};
		return argv_fill(a, v, sizeof(v) / sizeof(v[0]));
	}
	const char *const v[] = {"qemu-img",           "create", "-q",  "-f", "qcow2", "-o",
	                         "cluster_size=65536", path,     a->num};
	return argv_fill(a, v, sizeof(v) / sizeof(v[0]));
}

int qemu_img_argv_convert(struct qemu_img_argv *a, const char *src, const char *src_fmt,
                          const char *dst, const char *dst_fmt)
{
	memset(a, 0, sizeof(*a));
	if (!argv_path_ok(src) || !argv_path_ok(dst) || !argv_fmt_ok(src_fmt) ||
	    !argv_fmt_ok(dst_fmt))
		return -EINVAL;
	const char *const v[] = {"qemu-img", "convert", "-q", "-f", src_fmt,
	                         "-O",       dst_fmt,   src,  dst};
	return argv_fill(a, v, sizeof(v) / sizeof(v[0]));
}

int qemu_img_argv_write(struct qemu_img_argv *a, const char *src, const char *src_fmt,
                        const char *dst)
{
	memset(a, 0, sizeof(*a));
	if (!argv_path_ok(src) || !argv_path_ok(dst) || !argv_fmt_ok(src_fmt))
		return -EINVAL;
	const char *const v[] = {"qemu-img", "convert", "-q",  "-n", "-f",
	                         src_fmt,    "-O",      "raw", src,  dst};
	return argv_fill(a, v, sizeof(v) / sizeof(v[0]));
}

int qemu_img_argv_resize(struct qemu_img_argv *a, const char *path, const char *fmt,
                         uint64_t size_bytes)
{
	memset(a, 0, sizeof(*a));
	if (!argv_path_ok(path) || !argv_fmt_ok(fmt) || argv_size(a, size_bytes) < 0)
		return -EINVAL;
	const char *const v[] = {"qemu-img", "resize", "-q", "-f", fmt, path, a->num};
	return argv_fill(a, v, sizeof(v) / sizeof(v[0]));
}

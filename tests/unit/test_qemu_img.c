/* The image format inspector: qcow2 headers made by qemu-img (golden/qcow2_*.head, the
 * first KiB of 10 MiB images) and crafted ones that try to smuggle a backing file, an
 * external data file or unknown features past it; other formats' signatures; and the
 * disk_format check. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qemu_img.h"

#define MiB (1024ULL * 1024)
#define QEMU_FILE_SIZE 196616 /* size of the qemu-img files the golden heads come from */

static char err[256];

static size_t read_golden(const char *path, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static int inspect(const uint8_t *buf, size_t len, uint64_t file_size, struct image_probe *p)
{
	err[0] = '\0';
	return qemu_img_probe(buf, len, file_size, p, err, sizeof(err));
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A clean qcow2 v3 header (64 KiB clusters, 1 GiB virtual, header_length 104) at the
 * start of a zeroed 64 KiB buffer; extensions follow at offset 104 (end marker = 0). */
static uint8_t *qcow2_v3(void)
{
	uint8_t *b = calloc(1, 65536);
	memcpy(b, "QFI\xfb", 4);
	put32(b + 4, 3);
	put32(b + 20, 16);
	put64(b + 24, 1ULL << 30);
	put32(b + 96, 4);
	put32(b + 100, 104);
	return b;
}

static void add_ext(uint8_t *b, size_t *off, uint32_t type, uint32_t len)
{
	put32(b + *off, type);
	put32(b + *off + 4, len);
	*off += 8 + ((len + 7) & ~7u);
}

/* ---- qemu-img made ---------------------------------------------------------------- */

static void test_golden_v3(void **state)
{
	uint8_t buf[1024];
	struct image_probe p;
	size_t n = read_golden("golden/qcow2_v3.head", buf, sizeof(buf));
	assert_int_equal(inspect(buf, n, QEMU_FILE_SIZE, &p), 0);
	assert_int_equal(p.fmt, IMAGE_FMT_QCOW2);
	assert_int_equal(p.qcow2_version, 3);
	assert_int_equal(p.cluster_bits, 16);
	assert_int_equal(p.virtual_size, 10 * MiB);
	assert_int_equal(qemu_img_format_check("qcow2", &p, err, sizeof(err)), 0);
}

static void test_golden_v2(void **state)
{
	uint8_t buf[1024];
	struct image_probe p;
	size_t n = read_golden("golden/qcow2_v2.head", buf, sizeof(buf));
	assert_int_equal(inspect(buf, n, QEMU_FILE_SIZE, &p), 0);
	assert_int_equal(p.fmt, IMAGE_FMT_QCOW2);
	assert_int_equal(p.qcow2_version, 2);
	assert_int_equal(p.virtual_size, 5 * MiB);
}

static void test_golden_backing_refused(void **state)
{
	uint8_t buf[1024];
	struct image_probe p;
	size_t n = read_golden("golden/qcow2_backing.head", buf, sizeof(buf));
	assert_int_equal(inspect(buf, n, QEMU_FILE_SIZE, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image has a backing file");
}

static void test_golden_datafile_refused(void **state)
{
	uint8_t buf[1024];
	struct image_probe p;
	size_t n = read_golden("golden/qcow2_datafile.head", buf, sizeof(buf));
	assert_int_equal(inspect(buf, n, QEMU_FILE_SIZE, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image uses an external data file");
}

/* ---- crafted qcow2 ---------------------------------------------------------------- */

static void test_crafted_clean(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	size_t off = 104;
	add_ext(b, &off, 0x6803f857, 48); /* feature name table: harmless */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), 0);
	assert_int_equal(p.virtual_size, 1ULL << 30);
	free(b);
}

static void test_backing_offset_only(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put64(b + 8, 512); /* name length left 0: still refused */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_non_null(strstr(err, "backing file"));
	free(b);
}

static void test_backing_size_only(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 16, 7);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_non_null(strstr(err, "backing file"));
	free(b);
}

static void test_datafile_extension_without_bit(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	size_t off = 104;
	add_ext(b, &off, 0x6803f857, 48);
	add_ext(b, &off, 0x44415441, 11); /* "DATA" + "/etc/shadow" */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image names an external data file");
	free(b);
}

static void test_datafile_bit_without_extension(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put64(b + 72, 1ULL << 2);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image uses an external data file");
	free(b);
}

static void test_backing_format_extension(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	size_t off = 104;
	add_ext(b, &off, 0xe2792aca, 5);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_non_null(strstr(err, "backing file format"));
	free(b);
}

static void test_encryption(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 32, 2); /* LUKS */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image is encrypted");
	put32(b + 32, 0);
	size_t off = 104;
	add_ext(b, &off, 0x0537be77, 16); /* full disk encryption header pointer */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image is encrypted");
	free(b);
}

static void test_incompatible_features(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put64(b + 72, (1ULL << 0) | (1ULL << 3) | (1ULL << 4)); /* dirty, zstd, extended L2 */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), 0);
	put64(b + 72, 1ULL << 1);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image is marked corrupt");
	put64(b + 72, 1ULL << 5);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_non_null(strstr(err, "unknown incompatible features 0x20"));
	put64(b + 72, 1ULL << 63);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	free(b);
}

static void test_versions(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	static const uint32_t bad[] = {0, 1, 4, 0xffffffff};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(b + 4, bad[i]);
		assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
		assert_non_null(strstr(err, "version"));
	}
	free(b);
}

static void test_truncated(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	assert_int_equal(inspect(b, 4, 4, &p), -EINVAL);
	assert_int_equal(inspect(b, 71, 10 * MiB, &p), -EINVAL);
	assert_int_equal(inspect(b, 100, 10 * MiB, &p), -EINVAL); /* v3 needs 104 */
	assert_string_equal(err, "qcow2 header is truncated");
	/* the buffer ends inside the first cluster before the end marker */
	assert_int_equal(inspect(b, 108, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 header extensions are truncated");
	/* ...but a file that short simply ends there */
	assert_int_equal(inspect(b, 108, 108, &p), 0);
	free(b);
}

static void test_len_clamped_to_file_size(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	/* garbage after the file's end must not be read as an extension */
	put32(b + 104, 0x44415441);
	put32(b + 108, 8);
	assert_int_equal(inspect(b, 65536, 104, &p), 0);
	free(b);
}

static void test_cluster_bits(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 20, 8);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	put32(b + 20, 22);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	put32(b + 20, 9);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), 0);
	free(b);
}

static void test_header_length(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	static const uint32_t bad[] = {0, 100, 108, 65536 + 8};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put32(b + 100, bad[i]);
		assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
		assert_non_null(strstr(err, "header length"));
	}
	put32(b + 100, 112); /* with the compression type byte */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), 0);
	free(b);
}

static void test_refcount_order(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 96, 7);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	free(b);
}

static void test_virtual_size_bound(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put64(b + 24, UINT64_MAX);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	free(b);
}

static void test_extension_overrun(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 104, 0x12345678);
	put32(b + 108, 0xfffffff0); /* would wrap a 32-bit offset */
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_non_null(strstr(err, "past the first cluster"));
	put32(b + 108, 65536 - 104 - 8 + 1);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	/* exactly filling the cluster is allowed */
	put32(b + 108, 65536 - 104 - 8);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), 0);
	free(b);
}

static void test_v2_extensions_start_at_72(void **state)
{
	uint8_t *b = qcow2_v3();
	struct image_probe p;
	put32(b + 4, 2);
	put32(b + 72, 0x44415441); /* where v3 keeps incompatible features */
	put32(b + 76, 4);
	assert_int_equal(inspect(b, 65536, 10 * MiB, &p), -EINVAL);
	assert_string_equal(err, "qcow2 image names an external data file");
	free(b);
}

/* ---- other formats ---------------------------------------------------------------- */

static enum image_fmt detect(const void *magic, size_t off, size_t n)
{
	static uint8_t buf[0x8800];
	struct image_probe p;
	memset(buf, 0, sizeof(buf));
	memcpy(buf + off, magic, n);
	assert_int_equal(inspect(buf, sizeof(buf), sizeof(buf), &p), 0);
	return p.fmt;
}

static void test_signatures(void **state)
{
	assert_int_equal(detect("KDMV", 0, 4), IMAGE_FMT_VMDK);
	assert_int_equal(detect("# Disk DescriptorFile", 0, 21), IMAGE_FMT_VMDK);
	assert_int_equal(detect("\x7f\x10\xda\xbe", 0x40, 4), IMAGE_FMT_VDI);
	assert_int_equal(detect("conectix", 0, 8), IMAGE_FMT_VHD);
	assert_int_equal(detect("vhdxfile", 0, 8), IMAGE_FMT_VHDX);
	assert_int_equal(detect("LUKS\xba\xbe", 0, 6), IMAGE_FMT_LUKS);
	assert_int_equal(detect("QED", 0, 4), IMAGE_FMT_QED);
	assert_int_equal(detect("WithoutFreeSpace", 0, 16), IMAGE_FMT_PARALLELS);
	assert_int_equal(detect("CD001", 0x8001, 5), IMAGE_FMT_ISO);
	assert_int_equal(detect("CD001", 0x8000, 5), IMAGE_FMT_RAW);
	assert_int_equal(detect("\xeb\x63\x90", 0, 3), IMAGE_FMT_RAW); /* an MBR boot sector */
}

static void test_short_and_empty(void **state)
{
	struct image_probe p;
	assert_int_equal(inspect((const uint8_t *)"", 0, 0, &p), 0);
	assert_int_equal(p.fmt, IMAGE_FMT_RAW);
	assert_int_equal(inspect((const uint8_t *)"QFI", 3, 3, &p), 0);
	assert_int_equal(p.fmt, IMAGE_FMT_RAW);
	/* an ISO signature beyond the end of a short buffer is not looked at */
	assert_int_equal(inspect((const uint8_t *)"CD001", 5, 5, &p), 0);
	assert_int_equal(p.fmt, IMAGE_FMT_RAW);
}

static void test_format_check(void **state)
{
	struct image_probe p = {.fmt = IMAGE_FMT_RAW};
	assert_int_equal(qemu_img_format_check("raw", &p, err, sizeof(err)), 0);
	assert_int_equal(qemu_img_format_check("qcow2", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "disk_format is qcow2 but the data has no qcow2 header");
	assert_int_equal(qemu_img_format_check("iso", &p, err, sizeof(err)), -EINVAL);
	p.fmt = IMAGE_FMT_QCOW2;
	assert_int_equal(qemu_img_format_check("qcow2", &p, err, sizeof(err)), 0);
	assert_int_equal(qemu_img_format_check("raw", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "disk_format is raw but the data is qcow2");
	p.fmt = IMAGE_FMT_ISO;
	assert_int_equal(qemu_img_format_check("iso", &p, err, sizeof(err)), 0);
	assert_int_equal(qemu_img_format_check("raw", &p, err, sizeof(err)), 0);
	p.fmt = IMAGE_FMT_VMDK;
	assert_int_equal(qemu_img_format_check("raw", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "disk_format is raw but the data is vmdk");
	assert_int_equal(qemu_img_format_check("vmdk", &p, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "disk_format vmdk is not supported");
}

static void test_fmt_names(void **state)
{
	assert_string_equal(qemu_img_fmt_name(IMAGE_FMT_QCOW2), "qcow2");
	assert_string_equal(qemu_img_fmt_name(IMAGE_FMT_PARALLELS), "ploop");
	assert_string_equal(qemu_img_fmt_name((enum image_fmt)99), "unknown");
}

/* ---- qemu-img info output ---- */

static void info_accepts(void **state)
{
	struct qemu_img_info info;
	char why[256];
	const char *qcow2 = "{\"virtual-size\": 1073741824, \"filename\": \"x\", \"format\": "
	                    "\"qcow2\", \"actual-size\": 200704, \"format-specific\": {\"type\": "
	                    "\"qcow2\", \"data\": {\"compat\": \"1.1\", \"refcount-bits\": 16, "
	                    "\"corrupt\": false, \"extended-l2\": false}}, \"dirty-flag\": false}";
	assert_int_equal(qemu_img_info_parse(qcow2, "qcow2", &info, why, sizeof(why)), 0);
	assert_string_equal(info.format, "qcow2");
	assert_int_equal(info.virtual_size, 1073741824LL);
	assert_int_equal(qemu_img_info_parse(qcow2, NULL, &info, why, sizeof(why)), 0);
	const char *raw = "{\"virtual-size\": 16777216, \"format\": \"raw\"}";
	assert_int_equal(qemu_img_info_parse(raw, "raw", &info, why, sizeof(why)), 0);
	assert_string_equal(info.format, "raw");
	assert_int_equal(qemu_img_info_parse(raw, NULL, &info, why, sizeof(why)), 0);
}

static void info_refuses(void **state)
{
	static const struct {
		const char *json, *want, *why;
	} rows[] = {
	    {"{\"virtual-size\": 1, \"format\": \"raw\"}", "qcow2", "expected qcow2"},
	    {"{\"virtual-size\": 1, \"format\": \"vmdk\"}", NULL, "expected qcow2 or raw"},
	    {"{\"virtual-size\": 1, \"format\": \"qcow2\", \"backing-filename\": \"/etc/shadow\"}",
	     "qcow2", "backing file"},
	    {"{\"virtual-size\": 1, \"format\": \"qcow2\", \"full-backing-filename\": \"x\"}", NULL,
	     "backing file"},
	    {"{\"virtual-size\": 1, \"format\": \"qcow2\", \"format-specific\": {\"type\": "
	     "\"qcow2\", \"data\": {\"data-file\": \"/dev/sda\"}}}",
	     "qcow2", "data file"},
	    {"{\"virtual-size\": 1, \"format\": \"qcow2\", \"encrypted\": true}", "qcow2",
	     "encrypted"},
	    {"{\"virtual-size\": 0, \"format\": \"raw\"}", "raw", "size unknown"},
	    {"{\"format\": \"raw\"}", "raw", "size unknown"},
	    {"{\"virtual-size\": 5}", "raw", "size unknown"},
	    {"[]", NULL, "unreadable"},
	    {"not json", NULL, "unreadable"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct qemu_img_info info;
		char why[256] = "";
		assert_int_equal(
		    qemu_img_info_parse(rows[i].json, rows[i].want, &info, why, sizeof(why)),
		    -EINVAL);
		if (!strstr(why, rows[i].why))
			fprintf(stderr, "row %zu: %s\n", i, why);
		assert_non_null(strstr(why, rows[i].why));
	}
}

static void info_after_warnings(void **state)
{
	struct qemu_img_info info;
	char why[256];
	const char *out =
	    "qemu-img: warning: something\n{\"virtual-size\": 512, \"format\": \"raw\"}\n";
	assert_int_equal(qemu_img_info_parse(out, "raw", &info, why, sizeof(why)), 0);
	assert_int_equal(info.virtual_size, 512);
	const char *luks =
	    "{\"virtual-size\": 1, \"format\": \"qcow2\", \"format-specific\": "
	    "{\"type\": \"qcow2\", \"data\": {\"encrypt\": {\"format\": \"luks\"}}}}";
	assert_int_equal(qemu_img_info_parse(luks, "qcow2", &info, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "encrypted"));
}

static void sector_round(void **state)
{
	assert_int_equal(qemu_img_sector_round(0), 0);
	assert_int_equal(qemu_img_sector_round(1), 512);
	assert_int_equal(qemu_img_sector_round(21), 512);
	assert_int_equal(qemu_img_sector_round(512), 512);
	assert_int_equal(qemu_img_sector_round(513), 1024);
	assert_true(qemu_img_sector_round(UINT64_MAX) % 512 == 0);
}

static void drivers(void **state)
{
	assert_string_equal(qemu_img_driver("qcow2"), "qcow2");
	assert_string_equal(qemu_img_driver("raw"), "raw");
	assert_string_equal(qemu_img_driver("iso"), "raw");
	assert_null(qemu_img_driver("vmdk"));
	assert_null(qemu_img_driver(NULL));
}

/* ---- whole files, with the real qemu-img ---- */

static int have_qemu_img(void)
{
	return system("qemu-img --version >/dev/null 2>&1") == 0;
}

static int run(const char *cmd)
{
	return system(cmd);
}

static void check_files(void **state)
{
	if (!have_qemu_img()) {
		skip();
		return;
	}
	char dir[] = "/tmp/nubo-test-qemu-img.XXXXXX", path[128], cmd[512], why[256];
	assert_non_null(mkdtemp(dir));
	struct qemu_img_info info;

	snprintf(path, sizeof(path), "%s/raw", dir);
	snprintf(cmd, sizeof(cmd), "truncate -s 1M %s", path);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(qemu_img_check(path, "raw", &info, why, sizeof(why)), 0);
	assert_string_equal(info.format, "raw");
	assert_int_equal(info.virtual_size, 1 << 20);
	assert_int_equal(qemu_img_check(path, NULL, &info, why, sizeof(why)), 0);
	assert_int_equal(qemu_img_check(path, "qcow2", &info, why, sizeof(why)), -EINVAL);

	/* raw images of any byte size (issue 7): qemu-img sees whole sectors, the
	 * virtual size we report is the byte size, as Glance's */
	static const long odd_sizes[] = {1, 21, 511, 513, 1000, 4097};
	for (size_t i = 0; i < sizeof(odd_sizes) / sizeof(odd_sizes[0]); i++) {
		snprintf(path, sizeof(path), "%s/odd", dir);
		snprintf(cmd, sizeof(cmd),
		         "head -c %ld /dev/urandom | tr -d 'QKc#WLv' > %s; "
		         "truncate -s %ld %s",
		         odd_sizes[i], path, odd_sizes[i], path);
		assert_int_equal(run(cmd), 0);
		assert_int_equal(qemu_img_check(path, "raw", &info, why, sizeof(why)), 0);
		assert_string_equal(info.format, "raw");
		assert_int_equal(info.virtual_size, odd_sizes[i]);
	}

	/* a qcow2 of 100 TiB is a small file: accepted, and its size is what it says */
	snprintf(path, sizeof(path), "%s/huge", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 100T", path);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(qemu_img_check(path, "qcow2", &info, why, sizeof(why)), 0);
	assert_int_equal(info.virtual_size, 100LL << 40);
	/* declared raw, but the bytes are qcow2: never booted as raw */
	assert_int_equal(qemu_img_check(path, "raw", &info, why, sizeof(why)), -EINVAL);

	/* a backing file: refused by the header inspector before qemu-img opens anything */
	char base[128];
	snprintf(base, sizeof(base), "%s/raw", dir);
	snprintf(path, sizeof(path), "%s/backed", dir);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 -F raw -b %s %s", base, path);
	assert_int_equal(run(cmd), 0);
	assert_int_equal(qemu_img_check(path, "qcow2", &info, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "backing"));
	assert_int_equal(qemu_img_check(path, NULL, &info, why, sizeof(why)), -EINVAL);

	/* an external data file */
	snprintf(path, sizeof(path), "%s/datafile", dir);
	snprintf(cmd, sizeof(cmd),
	         "qemu-img create -q -f qcow2 -o data_file=%s/data.raw %s 1M 2>/dev/null", dir,
	         path);
	if (run(cmd) == 0)
		assert_int_equal(qemu_img_check(path, "qcow2", &info, why, sizeof(why)), -EINVAL);

	/* encrypted (LUKS inside qcow2): refused on both sides now */
	snprintf(path, sizeof(path), "%s/enc", dir);
	snprintf(cmd, sizeof(cmd),
	         "qemu-img create -q --object secret,id=s0,data=pw -f qcow2 "
	         "-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 %s 1M "
	         "2>/dev/null",
	         path);
	if (run(cmd) == 0) {
		assert_int_equal(qemu_img_check(path, "qcow2", &info, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "encrypt"));
	}

	/* not there: our failure, not the image's */
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(qemu_img_check(path, "raw", &info, why, sizeof(why)), -EIO);

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	run(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_golden_v3),
	    cmocka_unit_test(test_golden_v2),
	    cmocka_unit_test(test_golden_backing_refused),
	    cmocka_unit_test(test_golden_datafile_refused),
	    cmocka_unit_test(test_crafted_clean),
	    cmocka_unit_test(test_backing_offset_only),
	    cmocka_unit_test(test_backing_size_only),
	    cmocka_unit_test(test_datafile_extension_without_bit),
	    cmocka_unit_test(test_datafile_bit_without_extension),
	    cmocka_unit_test(test_backing_format_extension),
	    cmocka_unit_test(test_encryption),
	    cmocka_unit_test(test_incompatible_features),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_len_clamped_to_file_size),
	    cmocka_unit_test(test_cluster_bits),
	    cmocka_unit_test(test_header_length),
	    cmocka_unit_test(test_refcount_order),
	    cmocka_unit_test(test_virtual_size_bound),
	    cmocka_unit_test(test_extension_overrun),
	    cmocka_unit_test(test_v2_extensions_start_at_72),
	    cmocka_unit_test(test_signatures),
	    cmocka_unit_test(test_short_and_empty),
	    cmocka_unit_test(test_format_check),
	    cmocka_unit_test(test_fmt_names),
	    cmocka_unit_test(info_accepts),
	    cmocka_unit_test(info_refuses),
	    cmocka_unit_test(info_after_warnings),
	    cmocka_unit_test(sector_round),
	    cmocka_unit_test(drivers),
	    cmocka_unit_test(check_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

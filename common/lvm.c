/* LVM names and argv builders (pure). */
#include "lvm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static const char *const kind_prefix[] = {
    [LVM_VOLUME] = "vol-", [LVM_SNAPSHOT] = "snap-", [LVM_TMP] = "tmp-"};

int lvm_vg_ok(const char *vg)
{
	size_t n = vg ? strlen(vg) : 0;
	if (n == 0 || n >= LVM_VG_MAX || vg[0] == '-' || !strcmp(vg, ".") || !strcmp(vg, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = vg[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '_' || c == '.' || c == '-'))
			return 0;
	}
	return 1;
}

/* 1 when lv is one of our names: a known prefix and a uuid. */
static int lv_ok(const char *lv)
{
	for (size_t k = 0; k < sizeof(kind_prefix) / sizeof(kind_prefix[0]); k++) {
		size_t p = strlen(kind_prefix[k]);
		if (lv && !strncmp(lv, kind_prefix[k], p) && uuid_is_valid(lv + p))
			return 1;
	}
	return 0;
}

int lvm_lv_name(enum lvm_kind kind, const char *id, char out[LVM_LV_MAX])
{
	out[0] = 0;
	if ((unsigned)kind >= sizeof(kind_prefix) / sizeof(kind_prefix[0]) || !id ||
	    !uuid_is_valid(id))
		return -EINVAL;
	snprintf(out, LVM_LV_MAX, "%s%s", kind_prefix[kind], id);
	return 0;
}

int lvm_dev_path(const char *vg, const char *lv, char *out, size_t outlen)
{
	if (!lvm_vg_ok(vg) || !lv_ok(lv))
		return -EINVAL;
	int n = snprintf(out, outlen, "/dev/%s/%s", vg, lv);
	return n < 0 || (size_t)n >= outlen ? -EINVAL : 0;
}

static int fail(struct lvm_argv *a)
{
	memset(a->v, 0, sizeof(a->v));
	return -EINVAL;
}

/* Starts a->v with tool and the no-udev config; returns the next index. */
static size_t start(struct lvm_argv *a, const char *tool)
{
	memset(a->v, 0, sizeof(a->v));
	size_t n = 0;
	a->v[n++] = tool;
	a->v[n++] = "--config";
	a->v[n++] = LVM_NO_UDEV;
	return n;
}

static int vg_lv(struct lvm_argv *a, const char *vg, const char *lv)
{
	if (!lvm_vg_ok(vg) || !lv_ok(lv))
		return -EINVAL;
	snprintf(a->lv, sizeof(a->lv), "%s/%s", vg, lv);
	return 0;
}

static int size_ok(struct lvm_argv *a, int size_gb)
{
	if (size_gb < 1 || size_gb > LVM_MAX_GB)
		return -EINVAL;
	snprintf(a->num, sizeof(a->num), "%dG", size_gb);
	return 0;
}

int lvm_argv_vgs(struct lvm_argv *a, const char *vg)
{
	if (!lvm_vg_ok(vg))
		return fail(a);
	size_t n = start(a, "vgs");
	const char *const rest[] = {"--noheadings", "--units",         "b", "--nosuffix",
	                            "-o",           "vg_size,vg_free", vg};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_create(struct lvm_argv *a, const char *vg, const char *lv, int size_gb)
{
	if (!lvm_vg_ok(vg) || !lv_ok(lv) || size_ok(a, size_gb) < 0)
		return fail(a);
	snprintf(a->lv2, sizeof(a->lv2), "%s", lv);
	size_t n = start(a, "lvcreate");
	const char *const rest[] = {"-q",   "-y", "--wipesignatures", "y", "-n", a->lv2, "-L",
	                            a->num, vg};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_extend(struct lvm_argv *a, const char *vg, const char *lv, int size_gb)
{
	if (vg_lv(a, vg, lv) < 0 || size_ok(a, size_gb) < 0)
		return fail(a);
	size_t n = start(a, "lvextend");
	const char *const rest[] = {"-q", "-L", a->num, a->lv};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_remove(struct lvm_argv *a, const char *vg, const char *lv)
{
	if (vg_lv(a, vg, lv) < 0)
		return fail(a);
	size_t n = start(a, "lvremove");
	const char *const rest[] = {"-q", "-y", a->lv};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_rename(struct lvm_argv *a, const char *vg, const char *from, const char *to)
{
	if (!lvm_vg_ok(vg) || !lv_ok(from) || !lv_ok(to))
		return fail(a);
	snprintf(a->lv, sizeof(a->lv), "%s", from);
	snprintf(a->lv2, sizeof(a->lv2), "%s", to);
	size_t n = start(a, "lvrename");
	const char *const rest[] = {"-q", vg, a->lv, a->lv2};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_list(struct lvm_argv *a, const char *vg)
{
	if (!lvm_vg_ok(vg))
		return fail(a);
	size_t n = start(a, "lvs");
	const char *const rest[] = {"--noheadings", "-o", "lv_name", vg};
	for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
		a->v[n++] = rest[i];
	return 0;
}

int lvm_argv_activate(struct lvm_argv *a, const char *vg)
{
	if (!lvm_vg_ok(vg))
		return fail(a);
	/* Nubo's LVs only: the group may hold others, which an admin may keep inactive */
	size_t n = start(a, "lvchange");
	a->v[n++] = "-ay";
	a->v[n++] = "--select";
	a->v[n++] = "lv_name=~\"^(vol|snap)-\"";
	a->v[n++] = vg;
	return 0;
}

int lvm_lv_missing(const char *out, const char *vg, const char *lv)
{
	char want[LVM_VG_MAX + LVM_LV_MAX + 40];
	if (!out || !lvm_vg_ok(vg) || !lv_ok(lv))
		return 0;
	int n = snprintf(want, sizeof(want), "Failed to find logical volume \"%s/%s\"", vg, lv);
	for (const char *line = out; *line;) {
		size_t len = strcspn(line, "\n"), skip = strspn(line, " \t");
		if (len - skip == (size_t)n && !strncmp(line + skip, want, (size_t)n))
			return 1;
		line += len + (line[len] == '\n');
	}
	return 0;
}

int lvm_conf_check(const char *backend, const char *vg, char vg_out[LVM_VG_MAX], char *err,
                   size_t errlen)
{
	vg_out[0] = 0;
	if (!backend || !strcmp(backend, "file"))
		return 0;
	if (strcmp(backend, "lvm")) {
		snprintf(err, errlen, "storage.backend must be file or lvm");
		return -EINVAL;
	}
	if (!lvm_vg_ok(vg)) {
		snprintf(err, errlen,
		         "storage.volume_group must name the volume group (1-%d characters "
		         "of [A-Za-z0-9+_.-]) when storage.backend = lvm",
		         LVM_VG_MAX - 1);
		return -EINVAL;
	}
	snprintf(vg_out, LVM_VG_MAX, "%s", vg);
	return 0;
}

int lvm_argv_dm(struct lvm_argv *a)
{
	memset(a->v, 0, sizeof(a->v));
	a->v[0] = "dmsetup";
	a->v[1] = "version";
	return 0;
}

int lvm_dm_parse(const char *out, char *why, size_t whylen)
{
	static const char driver[] = "Driver version:", library[] = "Library version:";
	const char *reason = NULL;
	size_t reason_len = 0;
	for (const char *line = out; line && *line;) {
		size_t len = strcspn(line, "\n"), skip = strspn(line, " \t");
		if (!strncmp(line + skip, driver, sizeof(driver) - 1))
			return 0;
		if (!reason && len > skip && strncmp(line + skip, library, sizeof(library) - 1)) {
			reason = line + skip;
			reason_len = len - skip;
		}
		line += len + (line[len] == '\n');
	}
	if (reason)
		snprintf(why, whylen, "%.*s", (int)(reason_len > 200 ? 200 : reason_len), reason);
	else
		snprintf(why, whylen, "no driver version");
	return -ENODEV;
}

/* One line "  SIZE FREE" (nothing else on it). */
static int vgs_line(const char *line, long long *size_bytes, long long *free_bytes)
{
	char *end;
	errno = 0;
	long long s = strtoll(line, &end, 10);
	if (end == line || errno)
		return -EINVAL;
	const char *p = end;
	long long f = strtoll(p, &end, 10);
	end += strspn(end, " \t");
	if (end == p || errno || s <= 0 || f < 0 || f > s || (*end && *end != '\n'))
		return -EINVAL;
	*size_bytes = s;
	*free_bytes = f;
	return 0;
}

int lvm_vgs_parse(const char *out, long long *size_bytes, long long *free_bytes)
{
	/* lvm may print warnings (stderr comes along) before the answer */
	for (const char *line = out; line && *line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (vgs_line(line, size_bytes, free_bytes) == 0)
			return 0;
	}
	return -EINVAL;
}

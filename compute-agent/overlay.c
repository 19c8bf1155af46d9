/* qcow2 overlays of instance disks on their bases (qemu-img from argv). */
#include "overlay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"
#include "qemu_img.h"
#include "xalloc.h"

#define QEMU_IMG_TIMEOUT_MS 60000

/* Runs a qemu-img argv; 0 or -EIO with what of qemu-img's words fit in err. */
static int img_run(const char *const *argv, const char *what, char *err, size_t errlen)
{
	char out[1024];
	int st = proc_run(argv, QEMU_IMG_TIMEOUT_MS, out, sizeof(out));
	if (st == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	snprintf(err, errlen, "disk: qemu-img %s failed: %.200s", what,
	         st == -ETIMEDOUT ? "timed out" : out);
	return -EIO;
}

int overlay_create(const char *base, const char *backing, const char *fmt, const char *path,
                   long long size, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp", path);
	char sz[32];
	int rc = 0;
	snprintf(sz, sizeof(sz), "%lld", size);
	if (size > 0) {
		/* the disk is exactly what was asked: never the base's larger size (a 100 TiB
		 * image on a 1 GB flavor), and never a truncated view of the base */
		struct qemu_img_info q;
		if ((rc = qemu_img_check(base, fmt, &q, err, errlen)) < 0)
			goto out;
		if (q.virtual_size > size) {
			snprintf(
			    err, errlen,
			    "disk: image virtual size %lld exceeds the flavor's root disk (%lld)",
			    q.virtual_size, size);
			rc = -EFBIG;
			goto out;
		}
	} else if (access(base, R_OK) < 0) {
		rc = -errno;
		snprintf(err, errlen, "disk: base %s: %s", base, strerror(errno));
		goto out;
	}
	/* qemu-img resolves a relative backing name against the new file's directory */
	const char *argv[] = {
	    "qemu-img",           "create", "-q", "-f", "qcow2", "-F", fmt, "-b", backing, tmp,
	    size > 0 ? sz : NULL, NULL};
	unlink(tmp);
	if ((rc = img_run(argv, "create", err, errlen)) < 0)
		goto out;
	if (chmod(tmp, 0600) < 0 || rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "disk: %s", strerror(errno));
	}
out:
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

int overlay_rebase(const char *path, const char *backing, const char *fmt, char *err, size_t errlen)
{
	const char *argv[] = {"qemu-img", "rebase", "-q", "-u",    "-f", "qcow2",
	                      "-F",       fmt,      "-b", backing, path, NULL};
	return img_run(argv, "rebase", err, errlen);
}

/* A copy of an exported volume through its daemon's QMP monitor (see export_copy.h). */
#include "export_copy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xalloc.h"

#include "fsutil.h"
#include "log.h"
#include "proc.h"
#include "qemu_img.h"
#include "qmp.h"
#include "util.h"

#define CMD_TIMEOUT_MS 10000
#define CREATE_TIMEOUT_MS 60000
#define COPY_TIMEOUT_MS (30 * 60 * 1000) /* a large volume on a slow disk */
#define CANCEL_TIMEOUT_MS 10000
#define SWEEP_BUDGET_MS                                                                            \
	30000 /* the whole start sweep: hung daemons must not hold back the hello                  \
	       */
#define POLL_US 50000
#define EXPORTED_NODE "vol0" /* export_argv_new's qcow2 node */

void export_copy_names(const char *id, struct export_copy_names *n)
{
	char hex[31];
	size_t k = 0;
	for (const char *p = id; *p && k < 30; p++)
		if (*p != '-')
			hex[k++] = *p;
	hex[k] = 0;
	snprintf(n->node, sizeof(n->node), "c%s", hex);
	snprintf(n->job, sizeof(n->job), "j%s", hex);
}

json_t *export_copy_target_args(const struct export_copy_names *n, const char *file,
                                const char *format, uint64_t bytes)
{
	const char *proto = qemu_img_path_protocol(format, file);
	if (!proto)
		return NULL;
	json_t *j = json_pack("{s:s,s:s,s:{s:s,s:s}}", "driver", format ? format : "qcow2",
	                      "node-name", n->node, "file", "driver", proto, "filename", file);
	/* a raw device may be larger (a clone into a bigger LV): the job wants the sizes
	 * equal, so the node shows only the volume's bytes */
	if (j && format && !strcmp(format, "raw"))
		json_object_set_new(j, "size", json_integer((json_int_t)bytes));
	return j;
}

json_t *export_copy_backup_args(const struct export_copy_names *n)
{
	/* kept when it ends (auto-dismiss off), so its outcome can be read, then dismissed */
	return json_pack("{s:s,s:s,s:s,s:s,s:b}", "job-id", n->job, "device", EXPORTED_NODE,
	                 "target", n->node, "sync", "full", "auto-dismiss", 0);
}

/* Runs cmd with args (consumed, may be NULL). 0 or a negative errno with err. */
static int qmp_do(struct qmp *q, const char *cmd, json_t *args, json_t **ret, char *err,
                  size_t errlen)
{
	int rc = qmp_exec(q, cmd, args, ret, CMD_TIMEOUT_MS, err, errlen);
	json_decref(args);
	return rc;
}

/* The job's status ("running", "concluded", ...) into status and its error, when it
 * failed, into why. 1 when the daemon has the job, 0 when not, < 0 with err. */
static int job_status(struct qmp *q, const char *job, char *status, size_t n, char *why,
                      size_t whylen, char *err, size_t errlen)
{
	json_t *ret = NULL, *j;
	size_t i;
	int found = 0;
	int rc = qmp_do(q, "query-jobs", NULL, &ret, err, errlen);
	if (rc < 0)
		return rc;
	json_array_foreach(ret, i, j)
	{
		const char *id = json_string_value(json_object_get(j, "id"));
		if (!id || strcmp(id, job))
			continue;
		const char *st = json_string_value(json_object_get(j, "status"));
		const char *e = json_string_value(json_object_get(j, "error"));
		snprintf(status, n, "%s", st ? st : "");
		snprintf(why, whylen, "%s", e ? e : "");
		found = 1;
	}
	json_decref(ret);
	return found;
}

/* Waits until job is concluded (or gone), at most timeout_ms. 1 when concluded (its
 * error, if any, in why), 0 when the daemon has no such job, < 0 with err. */
static int job_wait(struct qmp *q, const char *job, int timeout_ms, char *why, size_t whylen,
                    char *err, size_t errlen)
{
	int64_t deadline = time_mono_ms() + timeout_ms;
	char status[32];
	for (;;) {
		int rc = job_status(q, job, status, sizeof(status), why, whylen, err, errlen);
		if (rc <= 0 || !strcmp(status, "concluded") || !strcmp(status, "null"))
			return rc;
		if (time_mono_ms() > deadline) {
			snprintf(err, errlen, "the copy job did not end within %d s",
			         timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		usleep(POLL_US);
	}
}

/* Removes the job and the target node of names, those the daemon has: an earlier run's
 * (its agent was killed), or this run's after a failure. 0, or < 0 with err when QMP
 * fails (the daemon is gone). */
static int leftovers_remove(struct qmp *q, const struct export_copy_names *names, char *err,
                            size_t errlen)
{
	char status[32], why[256];
	int rc = job_status(q, names->job, status, sizeof(status), why, sizeof(why), err, errlen);
	if (rc < 0)
		return rc;
	if (rc > 0 && strcmp(status, "concluded") && strcmp(status, "null")) {
		qmp_do(q, "job-cancel", json_pack("{s:s}", "id", names->job), NULL, why,
		       sizeof(why));
		if ((rc = job_wait(q, names->job, CANCEL_TIMEOUT_MS, why, sizeof(why), err,
		                   errlen)) < 0)
			return rc;
	}
	if (rc > 0)
		qmp_do(q, "job-dismiss", json_pack("{s:s}", "id", names->job), NULL, why,
		       sizeof(why));
	rc = qmp_do(q, "blockdev-del", json_pack("{s:s}", "node-name", names->node), NULL, err,
	            errlen);
	if (rc == -EIO && strstr(err, "find node")) /* none: fine */
		rc = 0;
	return rc;
}

/* The virtual size of the exported node, into *bytes. 0 or < 0 with err. */
static int exported_size(struct qmp *q, uint64_t *bytes, char *err, size_t errlen)
{
	json_t *ret = NULL, *node;
	size_t i;
	int rc =
	    qmp_do(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &ret, err, errlen);
	if (rc < 0)
		return rc;
	rc = -EPROTO;
	json_array_foreach(ret, i, node)
	{
		const char *name = json_string_value(json_object_get(node, "node-name"));
		json_t *size = json_object_get(json_object_get(node, "image"), "virtual-size");
		if (name && !strcmp(name, EXPORTED_NODE) && json_integer_value(size) > 0) {
			*bytes = (uint64_t)json_integer_value(size);
			rc = 0;
		}
	}
	json_decref(ret);
	if (rc < 0)
		snprintf(err, errlen, "the export daemon shows no size of node %s", EXPORTED_NODE);
	return rc;
}

/* A new empty volume file of format ("qcow2" or "raw") and bytes at out. 0 or < 0 with
 * err. */
static int target_make(const char *out, const char *format, uint64_t bytes, char *err,
                       size_t errlen)
{
	struct qemu_img_argv a;
	char text[512] = "";
	unlink(out);
	int st = qemu_img_argv_create(&a, out, format ? format : "qcow2", bytes) < 0
	             ? -EINVAL
	             : proc_run(a.v, CREATE_TIMEOUT_MS, text, sizeof(text));
	if (st != 0) {
		text[strcspn(text, "\n")] = 0;
		snprintf(err, errlen, "qemu-img create of the copy failed (%d): %.300s", st, text);
		return -EIO;
	}
	return 0;
}

/* The job writes the source's unallocated ranges into a raw file as zero ranges, which
 * the file system allocates (fallocate's zero range): given back here, a raw copy is as
 * sparse as its source. A qcow2 target stays small by itself. 0 or < 0 with err. */
static int raw_sparse(const char *out, char *err, size_t errlen)
{
	int fd = open(out, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	long long n = fd < 0 ? -errno : fs_punch_unwritten(fd);
	if (fd >= 0)
		close(fd);
	if (n < 0) {
		snprintf(err, errlen, "making the raw copy sparse: %s", strerror((int)-n));
		return (int)n;
	}
	return 0;
}

/* The copy itself, over the monitor q. */
static int copy_run(struct qmp *q, const struct export_copy_names *names, const char *out,
                    const char *format, char *err, size_t errlen)
{
	/* an LV (raw, under /dev/): a block device already there; else a file made here */
	int dev = format && !strcmp(format, "raw") && !strncmp(out, "/dev/", 5);
	char why[512] = "";
	uint64_t bytes = 0;
	int rc;
	if ((rc = leftovers_remove(q, names, err, errlen)) < 0 ||
	    (rc = exported_size(q, &bytes, err, errlen)) < 0 ||
	    (!dev && (rc = target_make(out, format, bytes, err, errlen)) < 0))
		return rc;
	json_t *target = export_copy_target_args(names, out, format, bytes);
	if (!target) {
		snprintf(err, errlen, "a copy into a %s volume is not supported", format);
		return -ENOTSUP;
	}
	if ((rc = qmp_do(q, "blockdev-add", target, NULL, err, errlen)) < 0)
		return rc;
	if ((rc = qmp_do(q, "blockdev-backup", export_copy_backup_args(names), NULL, err, errlen)) <
	    0)
		goto out;
	rc = job_wait(q, names->job, COPY_TIMEOUT_MS, why, sizeof(why), err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "the copy job vanished from the export daemon");
		rc = -EIO;
	} else if (rc > 0 && why[0]) {
		snprintf(err, errlen, "the copy job failed: %.400s", why);
		rc = -EIO;
	} else if (rc > 0) {
		rc = 0;
	}
out:
	/* success or not, the daemon lets the job and the target file go: the caller owns
	 * out from here on (blockdev-del writes the target's metadata out as it closes) */
	if (leftovers_remove(q, names, why, sizeof(why)) < 0 && rc == 0) {
		snprintf(err, errlen, "closing the copy in the export daemon: %.400s", why);
		rc = -EIO;
	}
	if (rc == 0 && !dev && format && !strcmp(format, "raw"))
		rc = raw_sparse(out, err, errlen);
	return rc;
}

int export_copy(struct exports *x, const char *volume_id, const char *id, const char *out,
                const char *format, char *err, size_t errlen)
{
	char mon[EXPORT_MONITOR_MAX], why[512] = "";
	struct export_copy_names names;
	export_copy_names(id, &names);
	int rc = exports_monitor_take(x, volume_id, mon, sizeof(mon));
	if (rc == 0)
		return -ENOENT;
	if (rc == -ESRCH) {
		snprintf(err, errlen,
		         "volume %s: its NBD export's daemon is down (it is started again within "
		         "seconds): try again",
		         volume_id);
		return rc;
	}
	if (rc == -EBUSY) {
		snprintf(err, errlen,
		         "volume %s: another copy of it is under way in its NBD export's daemon: "
		         "try again when it is done",
		         volume_id);
		return rc;
	}
	if (rc == -ENOTSUP) {
		snprintf(err, errlen,
		         "volume %s: its NBD export's daemon has no QMP monitor (an earlier "
		         "nubo-storage started it, or the pool path is too long for a socket): "
		         "detach and attach the volume again",
		         volume_id);
		return rc;
	}
	struct qmp *q = qmp_open(mon, CMD_TIMEOUT_MS, why, sizeof(why));
	if (!q) {
		snprintf(err, errlen, "volume %s: its NBD export's monitor: %s", volume_id, why);
		rc = -ECONNREFUSED;
	} else {
		rc = copy_run(q, &names, out, format, why, sizeof(why));
		if (rc < 0)
			snprintf(err, errlen, "volume %s (served over NBD): %s", volume_id, why);
		qmp_close(q);
	}
	exports_monitor_give(x, volume_id);
	/* stopped since it was taken (a detach): the pool file is free to copy */
	if (rc == -ECONNREFUSED) {
		int again = exports_monitor_take(x, volume_id, mon, sizeof(mon));
		if (again == 1)
			exports_monitor_give(x, volume_id);
		if (again == 0)
			return -ENOENT;
	}
	return rc;
}

/* 1 when name is a copy's target node ("c" + 30 hex digits). */
static int is_copy_node(const char *name)
{
	return name && name[0] == 'c' && strlen(name) == 31 &&
	       strspn(name + 1, "0123456789abcdef") == 30;
}

/* Removes every copy's node (and its job) from the daemon at mon, waiting at most
 * open_ms for it to greet. The count, or < 0. */
static int sweep_one(const char *mon, int open_ms)
{
	char why[256];
	json_t *ret = NULL, *node;
	size_t i;
	int n = 0;
	struct qmp *q = qmp_open(mon, open_ms, why, sizeof(why));
	if (!q)
		return -ECONNREFUSED;
	if (qmp_do(q, "query-named-block-nodes", json_pack("{s:b}", "flat", 1), &ret, why,
	           sizeof(why)) < 0) {
		qmp_close(q);
		return -EIO;
	}
	json_array_foreach(ret, i, node)
	{
		const char *name = json_string_value(json_object_get(node, "node-name"));
		if (!is_copy_node(name))
			continue;
		struct export_copy_names names;
		snprintf(names.node, sizeof(names.node), "%s", name);
		snprintf(names.job, sizeof(names.job), "j%s", name + 1);
		if (leftovers_remove(q, &names, why, sizeof(why)) == 0)
			n++;
		else
			log_warn("export copy sweep: %s stays in %s: %s", name, mon, why);
	}
	json_decref(ret);
	qmp_close(q);
	return n;
}

int export_copy_sweep(struct exports *x, int budget_ms)
{
	struct msg_resource *r = xcalloc(EXPORT_MAX, sizeof(*r));
	char mon[EXPORT_MONITOR_MAX];
	int n = exports_list(x, r, EXPORT_MAX), total = 0;
	int64_t deadline = time_mono_ms() + budget_ms;
	for (int i = 0; i < n; i++) {
		int64_t left = deadline - time_mono_ms();
		if (left <= 0) {
			log_warn(
			    "export copy sweep: out of time after %d of %d daemons; the rest keep "
			    "their copy nodes until they restart",
			    i, n);
			break;
		}
		if (exports_monitor_take(x, r[i].id, mon, sizeof(mon)) != 1)
			continue;
		int k = sweep_one(mon, left < CMD_TIMEOUT_MS ? (int)left : CMD_TIMEOUT_MS);
		exports_monitor_give(x, r[i].id);
		total += k > 0 ? k : 0;
	}
	free(r);
	return total;
}

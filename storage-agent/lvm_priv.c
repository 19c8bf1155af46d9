/* LVM rows of the storage agent's privileged helper, and their worker-side calls. */
#include "lvm_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

#define LVM_TIMEOUT_MS (5 * 60 * 1000) /* lvcreate wipes the start of a new LV */

/* ---- helper side ---- */

static const char *vg_of(const struct priv_helper *h)
{
	return priv_data(h);
}

static int req_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct lvm_priv_req *r = req;
	char path[128];
	if (!priv_str_ok(r->lv, sizeof(r->lv)) || !priv_str_ok(r->lv2, sizeof(r->lv2)) ||
	    lvm_dev_path(vg_of(h), r->lv, path, sizeof(path)) < 0 ||
	    (r->lv2[0] && lvm_dev_path(vg_of(h), r->lv2, path, sizeof(path)) < 0) ||
	    r->size_gb < 0 || r->size_gb > LVM_MAX_GB) {
		snprintf(err, errlen, "bad LVM request");
		return -EPERM;
	}
	return 0;
}

static int none_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	(void)req;
	if (!lvm_vg_ok(vg_of(h))) {
		snprintf(err, errlen, "no volume group");
		return -EPERM;
	}
	return 0;
}

/* Runs a built argv; 0, or -EIO with lvm's first line in err. Output longer than out
 * (PRIV_MSG_MAX when NULL) is an error, never read as whole: -EOVERFLOW. out keeps
 * lvm's words either way. */
static int run(const struct lvm_argv *a, int built, char *out, size_t outlen, char *err,
               size_t errlen)
{
	char buf[PRIV_MSG_MAX];
	int cut = 0;
	if (built < 0) {
		snprintf(err, errlen, "lvm: invalid arguments");
		return -EINVAL;
	}
	if (!out) {
		out = buf;
		outlen = sizeof(buf);
	}
	setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1); /* the helper's own process only */
	int st = proc_run_cut(a->v, LVM_TIMEOUT_MS, out, outlen, &cut);
	if (st != 0) {
		const char *p = out + strspn(out, " ");
		int len = (int)strcspn(p, "\n");
		snprintf(err, errlen, "%s failed (%d): %.*s", a->v[0], st,
		         st < 0      ? 180
		         : len > 180 ? 180
		                     : len,
		         st < 0 ? strerror(-st) : p);
		return st == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	if (cut) {
		snprintf(err, errlen, "%s: its output is longer than %zu bytes", a->v[0],
		         outlen - 1);
		return -EOVERFLOW;
	}
	return 0;
}

/* Makes lv's device node the worker's, 0600 (a block device, nothing else). */
static int give_node(const struct priv_helper *h, const char *lv, char *err, size_t errlen)
{
	char path[128];
	struct stat st;
	if (lvm_dev_path(vg_of(h), lv, path, sizeof(path)) < 0)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode) ||
	    fchown(fd, priv_worker_uid(h), priv_worker_gid(h)) < 0 || fchmod(fd, 0600) < 0) {
		int e = fd < 0 || !S_ISBLK(st.st_mode) ? (fd < 0 ? errno : ENOTBLK) : errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

static int vgs_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	(void)req;
	struct lvm_argv a;
	char out[512];
	struct lvm_priv_space sp;
	long long s, f;
	int rc = run(&a, lvm_argv_vgs(&a, vg_of(h)), out, sizeof(out), rep->err, sizeof(rep->err));
	if (rc < 0)
		return rc;
	if (lvm_vgs_parse(out, &s, &f) < 0) {
		snprintf(rep->err, sizeof(rep->err), "vgs: unexpected output");
		return -EIO;
	}
	sp.size_bytes = s;
	sp.free_bytes = f;
	memcpy(rep->data, &sp, sizeof(sp));
	rep->len = sizeof(sp);
	return 0;
}

static int create_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	struct lvm_argv a;
	int rc = run(&a, lvm_argv_create(&a, vg_of(h), r->lv, r->size_gb), NULL, 0, rep->err,
	             sizeof(rep->err));
	return rc < 0 ? rc : give_node(h, r->lv, rep->err, sizeof(rep->err));
}

static int extend_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	struct lvm_argv a;
	return run(&a, lvm_argv_extend(&a, vg_of(h), r->lv, r->size_gb), NULL, 0, rep->err,
	           sizeof(rep->err));
}

/* lvremove of lv; a missing LV is success (the delete may be a retry), decided by lvm's
 * own answer: an inactive LV has no /dev node, yet holds the volume's bytes. */
static int lv_remove(struct priv_helper *h, const char *lv, char *err, size_t errlen)
{
	struct lvm_argv a;
	char out[PRIV_MSG_MAX] = "";
	int rc = run(&a, lvm_argv_remove(&a, vg_of(h), lv), out, sizeof(out), err, errlen);
	return rc == -EIO && lvm_lv_missing(out, vg_of(h), lv) ? 0 : rc;
}

static int remove_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	return lv_remove(h, r->lv, rep->err, sizeof(rep->err));
}

static int rename_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	struct lvm_argv a;
	int rc = run(&a, lvm_argv_rename(&a, vg_of(h), r->lv, r->lv2), NULL, 0, rep->err,
	             sizeof(rep->err));
	/* without udev lvm re-makes the renamed node: the worker's again */
	return rc < 0 ? rc : give_node(h, r->lv2, rep->err, sizeof(rep->err));
}

static int give_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	return give_node(h, r->lv, rep->err, sizeof(rep->err));
}

static int dm_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	(void)h;
	(void)req;
	struct lvm_argv a;
	char out[1024] = "", why[256];
	lvm_argv_dm(&a);
	int st = proc_run(a.v, LVM_TIMEOUT_MS, out, sizeof(out));
	if (st < 0) {
		snprintf(rep->err, sizeof(rep->err), "dmsetup: %s", strerror(-st));
		return st;
	}
	/* dmsetup exits 1 without the driver; the driver's line is the proof either way */
	if (lvm_dm_parse(out, why, sizeof(why)) < 0) {
		snprintf(rep->err, sizeof(rep->err),
		         "no device-mapper in the kernel (dmsetup version: %.180s)", why);
		return -ENODEV;
	}
	return 0;
}

/* The group's LV names, one a line (lvs sorts them), in a buffer of its own (owned,
 * LVM_NAMES_MAX): NULL with rc and err when lvs fails or says more than that. */
static char *names_run(struct priv_helper *h, int *rc, char *err, size_t errlen)
{
	struct lvm_argv a;
	char *out = malloc(LVM_NAMES_MAX);
	if (!out) {
		*rc = -ENOMEM;
		snprintf(err, errlen, "lvs: out of memory");
		return NULL;
	}
	*rc = run(&a, lvm_argv_list(&a, vg_of(h)), out, LVM_NAMES_MAX, err, errlen);
	if (*rc < 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* Next name of the list at *pos (blanks trimmed, NUL-terminated in place), or NULL. */
static char *name_next(char **pos)
{
	char *line;
	while ((line = *pos) && *line) {
		size_t len = strcspn(line, "\n");
		*pos = line + len + (line[len] == '\n');
		line[len] = 0;
		line += strspn(line, " \t");
		line[strcspn(line, " \t")] = 0;
		if (*line)
			return line;
	}
	return NULL;
}

static int list_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct lvm_priv_req *r = req;
	if (none_check(h, req, err, errlen) < 0)
		return -EPERM;
	if (r->size_gb < 0 || r->size_gb > LVM_MAX_GB) {
		snprintf(err, errlen, "bad LVM request");
		return -EPERM;
	}
	return 0;
}

/* One page: "TOTAL\n", then the names from index size_gb on, as many whole lines as
 * the reply holds. */
static int list_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct lvm_priv_req *r = req;
	int rc, total = 0;
	char *names = names_run(h, &rc, rep->err, sizeof(rep->err)), *pos = names, *lv;
	if (!names)
		return rc;
	for (char *c = names; *c; c++)
		total += *c == '\n';
	char *out = (char *)rep->data;
	size_t used = (size_t)snprintf(out, sizeof(rep->data), "%d\n", total);
	for (int i = 0; (lv = name_next(&pos)); i++) {
		size_t n = strlen(lv);
		if (i < r->size_gb)
			continue;
		if (used + n + 2 > sizeof(rep->data))
			break;
		memcpy(out + used, lv, n);
		out[used + n] = '\n';
		used += n + 1;
	}
	out[used] = 0;
	rep->len = used + 1;
	free(names);
	return 0;
}

static int activate_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	(void)req;
	struct lvm_argv a;
	return run(&a, lvm_argv_activate(&a, vg_of(h)), NULL, 0, rep->err, sizeof(rep->err));
}

/* The start-time pass, whole in the helper: a tmp-* LV is an earlier run's half
 * (removed); a volume's or snapshot's node is made the worker's again (activation
 * makes it root's); other LVs are not ours. Reply: "given N removed N failed N\n" and
 * a line "LV: reason" per failure, as many as fit. */
static int adopt_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	(void)req;
	int rc, given = 0, removed = 0, failed = 0;
	char *names = names_run(h, &rc, rep->err, sizeof(rep->err)), *pos = names, *lv;
	char fails[PRIV_MSG_MAX - 64] = "", why[PRIV_ERR_MAX];
	size_t used = 0;
	if (!names)
		return rc;
	while ((lv = name_next(&pos))) {
		char path[128];
		int tmp = !strncmp(lv, "tmp-", 4);
		if (lvm_dev_path(vg_of(h), lv, path, sizeof(path)) < 0)
			continue;
		rc = tmp ? lv_remove(h, lv, why, sizeof(why)) : give_node(h, lv, why, sizeof(why));
		if (rc == 0) {
			tmp ? removed++ : given++;
			continue;
		}
		failed++;
		int n = snprintf(fails + used, sizeof(fails) - used, "%s: %s\n", lv, why);
		if (n > 0 && (size_t)n < sizeof(fails) - used)
			used += (size_t)n;
		else
			fails[used] = 0; /* the count still says how many */
	}
	free(names);
	int n = snprintf((char *)rep->data, sizeof(rep->data), "given %d removed %d failed %d\n%s",
	                 given, removed, failed, fails);
	rep->len = (size_t)n + 1;
	return 0;
}

const struct priv_op lvm_priv_ops[] = {
    {LVM_PRIV_VGS, "lvm vgs", sizeof(struct lvm_priv_req), none_check, vgs_run},
    {LVM_PRIV_CREATE, "lvm create", sizeof(struct lvm_priv_req), req_check, create_run},
    {LVM_PRIV_EXTEND, "lvm extend", sizeof(struct lvm_priv_req), req_check, extend_run},
    {LVM_PRIV_REMOVE, "lvm remove", sizeof(struct lvm_priv_req), req_check, remove_run},
    {LVM_PRIV_RENAME, "lvm rename", sizeof(struct lvm_priv_req), req_check, rename_run},
    {LVM_PRIV_LIST, "lvm list", sizeof(struct lvm_priv_req), list_check, list_run},
    {LVM_PRIV_GIVE, "lvm give", sizeof(struct lvm_priv_req), req_check, give_run},
    {LVM_PRIV_DM, "lvm dm", sizeof(struct lvm_priv_req), none_check, dm_run},
    {LVM_PRIV_ACTIVATE, "lvm activate", sizeof(struct lvm_priv_req), none_check, activate_run},
    {LVM_PRIV_ADOPT, "lvm adopt", sizeof(struct lvm_priv_req), none_check, adopt_run},
};
const size_t lvm_priv_n_ops = sizeof(lvm_priv_ops) / sizeof(lvm_priv_ops[0]);

/* ---- worker side ---- */

static int call(struct priv *p, uint32_t type, const char *lv, const char *lv2, int size_gb,
                void *out, size_t outlen, char *err, size_t errlen)
{
	struct lvm_priv_req r;
	memset(&r, 0, sizeof(r));
	if ((lv && strlen(lv) >= sizeof(r.lv)) || (lv2 && strlen(lv2) >= sizeof(r.lv2))) {
		snprintf(err, errlen, "bad LV name");
		return -EINVAL;
	}
	if (lv)
		strcpy(r.lv, lv);
	if (lv2)
		strcpy(r.lv2, lv2);
	r.size_gb = size_gb;
	int n_fds = 0;
	return priv_call(p, type, &r, sizeof(r), out, outlen, NULL, NULL, 0, &n_fds, err, errlen);
}

int lvm_space(struct priv *p, long long *size_bytes, long long *free_bytes, char *err,
              size_t errlen)
{
	struct lvm_priv_space sp = {0, 0};
	int rc = call(p, LVM_PRIV_VGS, NULL, NULL, 0, &sp, sizeof(sp), err, errlen);
	*size_bytes = sp.size_bytes;
	*free_bytes = sp.free_bytes;
	return rc;
}

int lvm_create(struct priv *p, const char *lv, int size_gb, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_CREATE, lv, NULL, size_gb, NULL, 0, err, errlen);
}

int lvm_extend(struct priv *p, const char *lv, int size_gb, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_EXTEND, lv, NULL, size_gb, NULL, 0, err, errlen);
}

int lvm_remove(struct priv *p, const char *lv, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_REMOVE, lv, NULL, 0, NULL, 0, err, errlen);
}

int lvm_rename(struct priv *p, const char *from, const char *to, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_RENAME, from, to, 0, NULL, 0, err, errlen);
}

int lvm_give(struct priv *p, const char *lv, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_GIVE, lv, NULL, 0, NULL, 0, err, errlen);
}

int lvm_dm(struct priv *p, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_DM, NULL, NULL, 0, NULL, 0, err, errlen);
}

int lvm_activate(struct priv *p, char *err, size_t errlen)
{
	return call(p, LVM_PRIV_ACTIVATE, NULL, NULL, 0, NULL, 0, err, errlen);
}

int lvm_adopt(struct priv *p, char *out, size_t outlen, char *err, size_t errlen)
{
	out[0] = 0;
	int rc = call(p, LVM_PRIV_ADOPT, NULL, NULL, 0, out, outlen - 1, err, errlen);
	out[outlen - 1] = 0;
	return rc;
}

int lvm_list(struct priv *p, int skip, char *out, size_t outlen, int *total, char *err,
             size_t errlen)
{
	char *end;
	out[0] = 0;
	*total = 0;
	int rc = call(p, LVM_PRIV_LIST, NULL, NULL, skip, out, outlen - 1, err, errlen);
	out[outlen - 1] = 0;
	if (rc < 0)
		return rc;
	long n = strtol(out, &end, 10);
	if (end == out || *end != '\n' || n < 0 || n > LVM_MAX_GB) {
		snprintf(err, errlen, "lvm list: unexpected reply");
		return -EIO;
	}
	*total = (int)n;
	memmove(out, end + 1, strlen(end + 1) + 1);
	return 0;
}

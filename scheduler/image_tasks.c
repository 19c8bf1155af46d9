/* Image upload task payloads (snapshots, volume uploads) and the cleanup of their
 * images. */
#include "image_tasks.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctx.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

/* The image id (and disk format, when fmt is not NULL) the API wrote into t's
 * payload. 0, -EINVAL (none) or -EIO. */
static int task_image(PGconn *c, const struct task *t, char id[UUID_STR_LEN], char *fmt,
                      size_t fmtlen, char *err, size_t errlen)
{
	PGresult *r = DBQ(c, err, errlen,
	                  "SELECT coalesce(payload->>'image_id', ''),"
	                  " coalesce(payload->>'disk_format', '') FROM tasks WHERE id = $1",
	                  t->id);
	if (!r)
		return -EIO;
	int rc = -EINVAL;
	if (PQntuples(r) == 1 && uuid_is_valid(db_val(r, 0, 0)) &&
	    strlcpy_checked(id, db_val(r, 0, 0), UUID_STR_LEN) == 0 &&
	    (!fmt || strlcpy_checked(fmt, db_val(r, 0, 1), fmtlen) == 0))
		rc = 0;
	else
		snprintf(err, errlen, "%s task %s names no image", t->action, t->id);
	PQclear(r);
	return rc;
}

/* 1 when t's action uploads an image: an instance snapshot or a volume upload. */
static int uploads_image(const struct task *t)
{
	return (t->kind == MSG_RES_INSTANCE && !strcmp(t->action, TASK_SNAPSHOT)) ||
	       (t->kind == MSG_RES_VOLUME && !strcmp(t->action, TASK_UPLOAD));
}

int image_task_payload(struct sched *s, const struct task *t, PGconn *c, struct msg *m, char *err,
                       size_t errlen)
{
	struct msg_snapshot *p = &m->u.task.p.snapshot;
	int rc = task_image(c, t, p->image_id, p->disk_format, sizeof(p->disk_format), err, errlen);
	if (rc < 0)
		return rc;
	const char *base = s->cfg->internal_url;
	size_t blen = strlen(base);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	p->upload_url = xasprintf("%.*s/image/v2/images/%s/file", (int)blen, base, p->image_id);
	return 0;
}

int image_task_landed(PGconn *c, const struct task *t)
{
	char id[UUID_STR_LEN], err[256];
	if (!uploads_image(t) || task_image(c, t, id, NULL, 0, err, sizeof(err)) < 0)
		return 0;
	PGresult *r =
	    DBQ(c, err, sizeof err, "SELECT 1 FROM images WHERE id = $1 AND status = 'active'", id);
	int landed = r && PQntuples(r) == 1;
	if (r)
		PQclear(r);
	return landed;
}

int image_task_close(PGconn *c, const struct task *t, char *err, size_t errlen)
{
	char id[UUID_STR_LEN];
	if (!uploads_image(t))
		return 0;
	int rc = task_image(c, t, id, NULL, 0, err, errlen);
	if (rc == -EINVAL)
		return 0; /* nothing was made for it */
	if (rc < 0)
		return rc;
	int n = DBX(c, err, errlen,
	            "DELETE FROM images WHERE id = $1 AND status IN ('queued', 'saving')", id);
	if (n < 0)
		return -EIO;
	if (n > 0)
		log_warn("task %s: image %s of %s %s not completed: deleted", t->id, id,
		         msg_res_kind_name(t->kind), t->resource_id);
	return 0;
}

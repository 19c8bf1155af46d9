/* os-volume_upload_image: the image row, the volume's status and the upload task commit
 * together (storage-agent/pool_upload.c makes the bytes). */
#include "volume/volume_image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "jparse.h"
#include "msg.h"
#include "outbox.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

struct upload_arg {
	char *image_name, *disk_format, *container_format, *visibility;
	int protected_, force;
};

static const struct jfield f_upload[] = {
    {"image_name", J_STR, JF(struct upload_arg, image_name), 0, 255, 1, 0},
    {"disk_format", J_STR, JF(struct upload_arg, disk_format), 0, 16, 0, 0},
    {"container_format", J_STR, JF(struct upload_arg, container_format), 0, 16, 0, 0},
    {"visibility", J_STR, JF(struct upload_arg, visibility), 0, 16, 0, 0},
    {"protected", J_BOOL, JF(struct upload_arg, protected_), 0, 1, 0, 0},
    {"force", J_BOOL, JF(struct upload_arg, force), 0, 1, 0, 0},
};

/* 1 when s is one of the NULL-terminated words. */
static int one_of(const char *s, const char *const *words)
{
	for (; *words; words++)
		if (!strcmp(s, *words))
			return 1;
	return 0;
}

void volume_upload_image(struct req *r, struct resp *w, const json_t *arg)
{
	static const char *const formats[] = {"raw", "qcow2", NULL};
	static const char *const containers[] = {"bare", NULL};
	static const char *const visibilities[] = {"private", "shared", "public", "community",
	                                           NULL};
	struct upload_arg a = {0};
	char err[512], image_id[UUID_STR_LEN], payload[128];
	PGresult *res = NULL;
	int began = 0;
	if (!json_is_object(arg) ||
	    jparse(arg, f_upload, JCOUNT(f_upload), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input received: %s",
		           json_is_object(arg) ? err : "body must be an object");
		goto out;
	}
	const char *fmt = a.disk_format ? a.disk_format : "raw";
	const char *cont = a.container_format ? a.container_format : "bare";
	const char *vis = a.visibility ? a.visibility : "private";
	if (!one_of(fmt, formats) || !one_of(cont, containers) || !one_of(vis, visibilities) ||
	    !a.image_name[0]) {
		resp_error(r, w, 400,
		           "Invalid input received: image_name must be set; disk_format raw or"
		           " qcow2; container_format bare; visibility private, shared, public or"
		           " community.");
		goto out;
	}
	if (!strcmp(vis, "public") && !policy_is_admin(&r->ctx->auth)) {
		resp_error(
		    r, w, 403,
		    "Policy doesn't allow volume_extension:volume_actions:upload_public to be"
		    " performed.");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	int admin = policy_is_admin(&r->ctx->auth);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT v.id, v.status, v.size_gb, v.project_id, coalesce(v.description, ''),"
	          " v.attached_server IS NOT NULL, to_char(now() AT TIME ZONE 'UTC',"
	          " 'YYYY-MM-DD\"T\"HH24:MI:SS.US') FROM volumes v WHERE v.id = $1 AND"
	          " ($2 OR v.project_id = $3) FOR UPDATE OF v",
	          r->params[1], admin ? "true" : "false", r->ctx->auth.project_id);
	if (!(res =
	          wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", r->params[1])))
		goto out;
	const char *vid = db_val(res, 0, 0), *status = db_val(res, 0, 1);
	const char *owner = db_val(res, 0, 3);
	if (strcmp(status, "available") || db_val(res, 0, 5)[0] == 't') {
		resp_error(r, w, 400,
		           "Invalid volume: Volume %s status must be available, but current status"
		           " is: %s.",
		           vid, status);
		goto out;
	}
	int rc = image_count_check(r, owner, err, sizeof(err));
	if (rc == -EDQUOT) {
		resp_error(r, w, 413, "%s", err);
		goto out;
	}
	uuid_generate_str(image_id);
	snprintf(payload, sizeof(payload), "{\"image_id\":\"%s\",\"disk_format\":\"%s\"}", image_id,
	         fmt);
	struct outbox_task t = {MSG_RES_VOLUME, vid, TASK_UPLOAD, NULL, payload, req_trace_id(r)};
	if (rc < 0 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO images (id, name, owner, status, visibility, disk_format,"
	        " container_format, protected, properties) VALUES ($1, $2, $3, 'queued', $4, $5,"
	        " $6, $7::boolean, '{}')",
	        image_id, a.image_name, owner, vis, fmt, cont,
	        a.protected_ ? "true" : "false") != 1 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'uploading', updated_at = now() WHERE id = $1",
	        vid) != 1 ||
	    outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (resp_commit_wake(
	        r, w, 202,
	        json_pack("{s:{s:s,s:s,s:s,s:s,s:i,s:n,s:s,s:s,s:s,s:s,s:s,s:b}}",
	                  "os-volume_upload_image", "id", vid, "updated_at", db_val(res, 0, 6),
	                  "status", "uploading", "display_description", db_val(res, 0, 4), "size",
	                  (int)db_long(res, 0, 2, 0), "volume_type", "image_id", image_id,
	                  "container_format", cont, "disk_format", fmt, "image_name", a.image_name,
	                  "visibility", vis, "protected", a.protected_)) == 0)
		began = 0;
out:
	PQclear(res);
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_upload, JCOUNT(f_upload), &a);
}

/* Compute's volume attachments (/compute/v2.1/servers/{id}/os-volume_attachments), the
 * way `openstack server add/remove volume` calls them: list, show, attach (the volume
 * goes attaching, a task hot-plugs it on the instance's host, then in-use) and detach
 * (detaching, then available). The volume's own state rules are Block Storage's
 * (volume/volume_state.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume_state.h"
#include "wire.h"
#include "xalloc.h"

static json_t *attachment_view(const char *server, const char *volume, const char *device)
{
	return json_pack("{s:s,s:s,s:s,s:s}", "id", volume, "serverId", server, "volumeId", volume,
	                 "device", device ? device : "");
}

/* The server of the path visible to the caller: its status and host; locked when
 * for_update. 0, or answers 404 (or the database error) and returns < 0. */
static int server_load(struct req *r, struct resp *w, int for_update, char *status, size_t n)
{
	char err[512];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        for_update ? "SELECT status FROM instances WHERE id = $1 AND NOT deleted"
	                     " AND ($2 OR project_id = $3) FOR UPDATE"
	                   : "SELECT status FROM instances WHERE id = $1 AND NOT deleted"
	                     " AND ($2 OR project_id = $3)",
	        r->params[0], admin ? "true" : "false", r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Instance %s could not be found.", r->params[0]);
	if (!res)
		return -ENOENT;
	snprintf(status, n, "%s", db_val(res, 0, 0));
	PQclear(res);
	return 0;
}

static void attachments_list(struct req *r, struct resp *w)
{
	char err[512], status[32];
	if (server_load(r, w, 0, status, sizeof(status)) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT id, attach_device FROM volumes WHERE attached_server = $1"
	                    " AND attach_compute ORDER BY attach_device, id",
	                    r->params[0]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    list, attachment_view(r->params[0], db_val(res, i, 0), db_val(res, i, 1)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "volumeAttachments", list));
}

static void attachment_show(struct req *r, struct resp *w)
{
	char err[512], status[32];
	if (server_load(r, w, 0, status, sizeof(status)) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT id, attach_device FROM volumes WHERE attached_server = $1 AND"
	                    " id = $2 AND attach_compute",
	                    r->params[0], r->params[1]);
	res = wire_one_row(r, w, res, err, 404, "volume_id not found: %s", r->params[1]);
	if (!res)
		return;
	resp_json(w, 200,
	          json_pack("{s:o}", "volumeAttachment",
	                    attachment_view(r->params[0], db_val(res, 0, 0), db_val(res, 0, 1))));
	PQclear(res);
}

struct attach_req {
	char *volume_id, *device, *tag;
	int delete_on_termination;
};

static const struct jfield f_attach[] = {
    {"volumeId", J_STR, JF(struct attach_req, volume_id), 0, 36, 1, 0},
    {"device", J_STR, JF(struct attach_req, device), 0, 255, 0, 1},
    {"tag", J_STR, JF(struct attach_req, tag), 0, 60, 0, 1},
    {"delete_on_termination", J_BOOL, JF(struct attach_req, delete_on_termination), 0, 1, 0, 1},
};

static void attachment_create(struct req *r, struct resp *w)
{
	struct attach_req a = {0};
	char err[512], msg[512], status[32], att_id[UUID_STR_LEN], device[16];
	int began = 0;
	if (wire_parse_closed(r, w, "volumeAttachment", f_attach, JCOUNT(f_attach), NULL, &a) < 0)
		return;
	if (!uuid_is_valid(a.volume_id)) {
		resp_error(r, w, 400, "Invalid input for field/attribute volumeId.");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	if (server_load(r, w, 1, status, sizeof(status)) < 0)
		goto out;
	if (strcmp(status, "ACTIVE")) {
		resp_error(r, w, 409,
		           "Cannot 'attach_volume' instance %s while it is in vm_state %s (volumes "
		           "are hot-plugged into running instances only)",
		           r->params[0], status);
		goto out;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT status, attached_server, (SELECT count(*) FROM volumes WHERE"
	                    " attached_server = $3 AND attach_compute) FROM volumes WHERE id = $1 "
	                    "AND project_id = $2"
	                    " FOR UPDATE",
	                    a.volume_id, r->ctx->auth.project_id, r->params[0]);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", a.volume_id);
	if (!res)
		goto out;
	const char *server = db_val(res, 0, 1);
	int attached = server != NULL, same = server && !strcmp(server, r->params[0]);
	long n = db_long(res, 0, 2, 0);
	int bad =
	    volume_state_allows(db_val(res, 0, 0), attached, 0, 0, VOP_ATTACH, msg, sizeof(msg));
	PQclear(res);
	if (same) { /* Nova: InvalidVolume, 400 */
		resp_error(r, w, 400, "Invalid volume: volume %s already attached", a.volume_id);
		goto out;
	}
	if (bad) {
		resp_error(r, w, 400, "%s", msg);
		goto out;
	}
	if (n >= 24) {
		resp_error(r, w, 403,
		           "Maximum number of volumes attached to the instance (24) "
		           "reached.");
		goto out;
	}
	/* the device the guest will most likely name it: volumes are SCSI disks
	 * (compute-agent/vm_volume.c), root disk and config drive virtio; a hint only, as
	 * in Nova */
	snprintf(device, sizeof(device), "/dev/sd%c", (char)('a' + n));
	uuid_generate_str(att_id);
	struct outbox_task t = {MSG_RES_ATTACHMENT, a.volume_id, TASK_ATTACH, NULL, NULL,
	                        req_trace_id(r)};
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'attaching', attached_server = $2, attachment_id = $3,"
	        " attach_device = $4, attach_compute = true, delete_on_termination = false,"
	        " fault = NULL, updated_at = now()"
	        " WHERE id = $1",
	        a.volume_id, r->params[0], att_id, device) != 1 ||
	    outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (resp_commit_wake(r, w, 200,
	                     json_pack("{s:o}", "volumeAttachment",
	                               attachment_view(r->params[0], a.volume_id, device))) == 0)
		began = 0;
	log_info("volume %s attaching to server %s", a.volume_id, r->params[0]);
out:
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_attach, JCOUNT(f_attach), &a);
}

static void attachment_delete(struct req *r, struct resp *w)
{
	char err[512], msg[512], status[32];
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	if (server_load(r, w, 1, status, sizeof(status)) < 0)
		goto fail;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT status, id = (SELECT boot_volume_id FROM instances WHERE id ="
	                    " $2) IS TRUE FROM volumes WHERE id = $1 AND attached_server = $2"
	                    " AND attach_compute FOR UPDATE",
	                    r->params[1], r->params[0]);
	res = wire_one_row(r, w, res, err, 404, "volume_id not found: %s", r->params[1]);
	if (!res)
		goto fail;
	int bad = volume_state_allows(db_val(res, 0, 0), 1, 0, 0, VOP_DETACH, msg, sizeof(msg));
	int root = db_val(res, 0, 1)[0] == 't';
	PQclear(res);
	if (root) { /* Nova: the root disk stays with its server until the server goes */
		resp_error(r, w, 400, "Cannot detach a root device volume");
		goto fail;
	}
	if (bad) {
		resp_error(r, w, 400, "%s", msg);
		goto fail;
	}
	struct outbox_task t = {MSG_RES_ATTACHMENT, r->params[1], TASK_DETACH, NULL, NULL,
	                        req_trace_id(r)};
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'detaching', updated_at = now() WHERE id = $1",
	        r->params[1]) != 1 ||
	    outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto fail;
	}
	resp_commit_wake(r, w, 202, NULL);
	return;
fail:
	db_rollback(r->ctx->db);
}

/* 1 when volume id exists and the caller may see it, 0 when not, < 0 with the
 * database error answered. */
static int volume_visible(struct req *r, struct resp *w, const char *id)
{
	char err[512];
	if (!uuid_is_valid(id))
		return 0;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT 1 FROM volumes WHERE id = $1 AND ($2 OR project_id = $3)", id,
	        policy_is_admin(&r->ctx->auth) ? "true" : "false", r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(res);
	PQclear(res);
	return n == 1;
}

/* PUT …/os-volume_attachments/{volume}: Nova's swap of an attached volume for
 * another, admin only. Nubo cannot swap (tempest's swap_volume is off): after Nova's
 * checks, in Nova's order (the server 404, the attached volume 404, the new volume
 * 400, the attachment 404), it answers 409 rather than pretend. */
static void attachment_swap(struct req *r, struct resp *w)
{
	struct attach_req a = {0};
	char status[32], err[512];
	if (wire_parse_closed(r, w, "volumeAttachment", f_attach, JCOUNT(f_attach), NULL, &a) < 0)
		return;
	if (server_load(r, w, 0, status, sizeof(status)) < 0)
		goto out;
	int rc = volume_visible(r, w, r->params[1]);
	if (rc == 0)
		resp_error(r, w, 404, "Volume %s could not be found.", r->params[1]);
	if (rc <= 0)
		goto out;
	rc = volume_visible(r, w, a.volume_id);
	if (rc == 0)
		resp_error(r, w, 400, "Volume %s could not be found.", a.volume_id);
	if (rc <= 0)
		goto out;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT 1 FROM volumes WHERE id = $1 AND attached_server = $2"
	                    " AND attach_compute",
	                    r->params[1], r->params[0]);
	res = wire_one_row(r, w, res, err, 404, "volume_id not found: %s", r->params[1]);
	if (!res)
		goto out;
	PQclear(res);
	resp_error(r, w, 409,
	           "Swapping volume %s for %s is not supported: detach it and attach the other",
	           r->params[1], a.volume_id);
out:
	jparse_release(f_attach, JCOUNT(f_attach), &a);
}

#define S "/compute/v2.1/servers/{}/os-volume_attachments"
static const struct httpd_route rows[] = {
    {"GET", S, attachments_list, POL_COMPUTE_READ, 0},
    {"POST", S, attachment_create, POL_COMPUTE_WRITE, 0},
    {"GET", S "/{}", attachment_show, POL_COMPUTE_READ, 0},
    {"DELETE", S "/{}", attachment_delete, POL_COMPUTE_WRITE, 0},
    {"PUT", S "/{}", attachment_swap, POL_COMPUTE_ADMIN, 0},
};
HTTPD_TABLE(volume_attach_routes, rows, &compute_hooks);

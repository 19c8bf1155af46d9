/* createImage: the image row, the instance's task_state and the snapshot task commit
 * together; the compute agent copies the disk and uploads the bytes (vm_snapshot.c),
 * the scheduler deletes the image if the task fails (scheduler/image_tasks.c). */
#include "compute/server_image.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/instance_action.h"
#include "compute/server.h"
#include "image/image.h"
#include "jparse.h"
#include "msg.h"
#include "outbox.h"
#include "xalloc.h"

#define SNAPSHOT_FROM (VMS_ACTIVE | VMS_STOPPED | VMS_PAUSED | VMS_SUSPENDED)

struct image_arg {
	char *name;
	struct jstrmap metadata;
};

static const struct jfield f_image[] = {
    {"name", J_STR, JF(struct image_arg, name), 0, 255, 1, 0},
    {"metadata", J_STRMAP, JF(struct image_arg, metadata), 0, 4096, 0, 0},
};

static const struct server_action snapshot_action = {
    "createImage", NULL, "createImage", TASK_SNAPSHOT, SNAPSHOT_FROM, "image_snapshot"};

int server_image_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 255 || isspace((unsigned char)name[0]) ||
	    isspace((unsigned char)name[n - 1]))
		return -EINVAL;
	return 0;
}

/* The properties of the new image: the base image's, Nova's snapshot keys, then the
 * caller's metadata. NULL with err (400 text) when a key may not name a property. */
static json_t *snapshot_props(struct req *r, const struct server_row *s, const char *base_props,
                              const struct jstrmap *meta, char *err, size_t errlen)
{
	json_t *p = base_props ? json_loads(base_props, 0, NULL) : NULL;
	if (!json_is_object(p)) {
		json_decref(p);
		p = json_object();
	}
	json_object_set_new(p, "image_type", json_string("snapshot"));
	json_object_set_new(p, "instance_uuid", json_string(s->id));
	json_object_set_new(p, "base_image_ref", json_string(s->image_id));
	json_object_set_new(p, "user_id", json_string(r->ctx->auth.user_id));
	json_object_set_new(p, "owner_project_name", json_string(r->ctx->auth.project_name));
	for (size_t i = 0; i < meta->n; i++) {
		if (!image_prop_key_free(meta->keys[i])) {
			snprintf(err, errlen,
			         "Invalid input for field/attribute metadata. Value: %.64s.",
			         meta->keys[i]);
			json_decref(p);
			return NULL;
		}
		json_object_set_new(p, meta->keys[i], json_string(meta->vals[i]));
	}
	return p;
}

/* Inserts the queued image id for server s. 0, -EINVAL (err: 400 text), -EDQUOT (err:
 * 403 text: more properties than the Image API holds) or -EIO. */
static int snapshot_image_insert(struct req *r, const struct server_row *s, const char *id,
                                 const struct image_arg *a, char *err, size_t errlen)
{
	PGresult *b = DBQ(r->ctx->db, err, errlen,
	                  "SELECT min_ram, min_disk, properties::text FROM images WHERE id = $1",
	                  s->image_id);
	if (!b)
		return -EIO;
	int have = PQntuples(b) == 1;
	char min_ram[24], min_disk[24];
	long base_disk = have ? db_long(b, 0, 1, 0) : 0;
	snprintf(min_ram, sizeof(min_ram), "%ld", have ? db_long(b, 0, 0, 0) : 0);
	snprintf(min_disk, sizeof(min_disk), "%ld", s->disk_gb > 0 ? s->disk_gb : base_disk);
	json_t *props =
	    snapshot_props(r, s, have ? db_val(b, 0, 2) : NULL, &a->metadata, err, errlen);
	PQclear(b);
	if (!props)
		return -EINVAL;
	if (json_object_size(props) > IMAGE_MAX_PROPS) { /* Glance's image_property_quota */
		snprintf(err, errlen, "Image metadata limit exceeded");
		json_decref(props);
		return -EDQUOT;
	}
	char *text = json_dumps(props, JSON_COMPACT);
	json_decref(props);
	int n = DBX(r->ctx->db, err, errlen,
	            "INSERT INTO images (id, name, owner, status, visibility, disk_format,"
	            " container_format, min_ram, min_disk, properties) VALUES ($1, $2, $3,"
	            " 'queued', 'private', 'qcow2', 'bare', $4::int, $5::int, $6::jsonb)",
	            id, a->name, s->project_id, min_ram, min_disk, text);
	free(text);
	return n == 1 ? 0 : -EIO;
}

/* Queues the snapshot task (payload: the image) and shows task_state. 0 or -EIO. */
static int snapshot_queue(struct req *r, const char *server_id, const char *image_id, char *err,
                          size_t errlen)
{
	char tid[UUID_STR_LEN], payload[64];
	snprintf(payload, sizeof(payload), "{\"image_id\":\"%s\"}", image_id);
	struct outbox_task t = {MSG_RES_INSTANCE, server_id,      TASK_SNAPSHOT, NULL,
	                        payload,          req_trace_id(r)};
	if (DBX(r->ctx->db, err, errlen,
	        "UPDATE instances SET task_state = $2, updated_at = now() WHERE id = $1", server_id,
	        snapshot_action.task_state) != 1 ||
	    outbox_insert(r->ctx->db, &t, tid, err, errlen) < 0)
		return -EIO;
	return instance_action_record(r->ctx->db, r, server_id, "createImage",
	                              "compute_snapshot_instance", tid, err, errlen);
}

void server_image_create(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct image_arg a = {0};
	char err[512], image_id[UUID_STR_LEN];
	PGresult *res = NULL;
	int began = 0;
	if (!json_is_object(arg) ||
	    jparse(arg, f_image, JCOUNT(f_image), &a, err, sizeof(err)) < 0 ||
	    jparse_known(arg, f_image, JCOUNT(f_image), NULL, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute createImage. %s",
		           json_is_object(arg) ? err : "");
		goto out;
	}
	if (server_image_name_check(a.name) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute name. Value: %.255s.",
		           a.name);
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	res = server_find(r, w, r->params[0], 1);
	if (!res)
		goto out;
	struct server_row s;
	server_row_from(res, 0, &s);
	int open_task = db_val(res, 0, SERVER_COL_OPEN_TASK)[0] == 't';
	if (server_lock_check(r, w, s.id, s.locked_by) < 0)
		goto out;
	if (server_action_check(&snapshot_action, s.id, s.vm_state, s.task_state, open_task, err,
	                        sizeof(err)) < 0 ||
	    (!s.host && snprintf(err, sizeof(err),
	                         "Cannot 'createImage' instance %s while it is in vm_state %s",
	                         s.id, s.vm_state) > 0)) {
		resp_error(r, w, 409, "%s", err);
		goto out;
	}
	if (!s.image_id || !*s.image_id) {
		resp_error(r, w, 400,
		           "Snapshot of volume-backed server %s is not supported by this cloud.",
		           s.id);
		goto out;
	}
	/* the image count, and a project already at image_size_total: its copy could
	 * never be stored, while the guest would wait for it stopped */
	int rc = image_count_check(r, s.project_id, err, sizeof(err));
	if (rc == 0)
		rc = image_size_check(r, s.project_id, err, sizeof(err));
	if (rc == -EDQUOT) {
		resp_error(r, w, 403, "Quota exceeded for images: %s", err);
		goto out;
	}
	uuid_generate_str(image_id);
	if (rc == 0)
		rc = snapshot_image_insert(r, &s, image_id, &a, err, sizeof(err));
	if (rc == -EDQUOT) {
		resp_error(r, w, 403, "%s", err);
		goto out;
	}
	if (rc == -EINVAL) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (rc < 0 || snapshot_queue(r, s.id, image_id, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	int mv45 = r->ctx->mv_minor >= 45;
	if (resp_commit_wake(r, w, 202, mv45 ? json_pack("{s:s}", "image_id", image_id) : NULL) < 0)
		goto out;
	began = 0;
	if (!mv45) {
		char *loc = xasprintf("%s/image/v2/images/%s", r->ctx->api->public_url, image_id);
		resp_header(w, "Location", loc);
		free(loc);
	}
out:
	PQclear(res);
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_image, JCOUNT(f_image), &a);
}

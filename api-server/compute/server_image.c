/* createImage and createBackup: the image row, the instance's task_state and the
 * snapshot task commit together; the compute agent copies the disk and uploads the
 * bytes (vm_snapshot.c), the scheduler deletes the image if the task fails
 * (scheduler/image_tasks.c), and a backup's rotation runs when its bytes make it
 * active (image/image_backup.c). */
#include "compute/server_image.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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

static const struct jfield f_image[] = {
    {"name", J_STR, JF(struct server_image_arg, name), 0, 255, 1, 0},
    {"metadata", J_STRMAP, JF(struct server_image_arg, metadata), 0, 4096, 0, 0},
};

/* Nova's create_backup schema: all but metadata required, rotation an integer (or its
 * digits as a string) >= 0. */
static const struct jfield f_backup[] = {
    {"name", J_STR, JF(struct server_image_arg, name), 0, 255, 1, 0},
    {"backup_type", J_STR, JF(struct server_image_arg, backup_type), 0, 255, 1, 0},
    {"rotation", J_INT, JF(struct server_image_arg, rotation), 0, INT_MAX, 1, 0},
    {"metadata", J_STRMAP, JF(struct server_image_arg, metadata), 0, 4096, 0, 0},
};

/* The two actions that make an image of a server's disk: one flow, a kind. */
static const struct image_kind {
	const char *key;        /* the action's key, also its instance action */
	const char *image_type; /* the image's image_type property */
	const char *event;      /* the instance action event */
	const struct jfield *fields;
	size_t n_fields;
	struct server_action act;
} kinds[] = {
    {"createImage",
     "snapshot",
     "compute_snapshot_instance",
     f_image,
     JCOUNT(f_image),
     {"createImage", NULL, "createImage", TASK_SNAPSHOT, SNAPSHOT_FROM, "image_snapshot"}},
    {"createBackup",
     "backup",
     "compute_backup_instance",
     f_backup,
     JCOUNT(f_backup),
     {"createBackup", NULL, "createBackup", TASK_SNAPSHOT, SNAPSHOT_FROM, "image_backup"}},
};

static const struct image_kind *kind_find(const char *key)
{
	for (size_t i = 0; i < JCOUNT(kinds); i++)
		if (key && !strcmp(kinds[i].key, key))
			return &kinds[i];
	return NULL;
}

int server_image_parse(const char *key, const json_t *arg, struct server_image_arg *a, char *err,
                       size_t errlen)
{
	const struct image_kind *k = kind_find(key);
	memset(a, 0, sizeof(*a));
	a->rotation = -1;
	if (!k) {
		snprintf(err, errlen, "There is no such action: %s", key ? key : "");
		return -EINVAL;
	}
	a->backup = !strcmp(k->image_type, "backup");
	if (!json_is_object(arg)) {
		snprintf(err, errlen, "Invalid input for field/attribute %s.", key);
		return -EINVAL;
	}
	if (jparse(arg, k->fields, k->n_fields, a, err, errlen) < 0 ||
	    jparse_known(arg, k->fields, k->n_fields, NULL, err, errlen) < 0) {
		char why[256];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "Invalid input for field/attribute %s. %s", key, why);
		server_image_arg_release(a);
		return -EINVAL;
	}
	/* Nova's non_negative_integer takes a string of digits only ("2", not " 2", "+2") */
	const json_t *rot = json_object_get(arg, "rotation");
	if (json_is_string(rot) &&
	    strspn(json_string_value(rot), "0123456789") != strlen(json_string_value(rot))) {
		snprintf(err, errlen, "Invalid input for field/attribute rotation. Value: %.32s.",
		         json_string_value(rot));
		server_image_arg_release(a);
		return -EINVAL;
	}
	if (server_image_name_check(a->name) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute name. Value: %.255s.",
		         a->name);
		server_image_arg_release(a);
		return -EINVAL;
	}
	return 0;
}

void server_image_arg_release(struct server_image_arg *a)
{
	jparse_release(f_backup, JCOUNT(f_backup), a);
	a->rotation = -1;
}

int server_image_name_check(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 255 || isspace((unsigned char)name[0]) ||
	    isspace((unsigned char)name[n - 1]))
		return -EINVAL;
	return 0;
}

/* The properties of the new image: the base image's, Nova's snapshot keys, the
 * caller's metadata, then a backup's backup_type (Nova's order). NULL with err (400
 * text) when a key may not name a property. */
static json_t *snapshot_props(struct req *r, const struct server_row *s, const char *base_props,
                              const struct server_image_arg *a, char *err, size_t errlen)
{
	const struct jstrmap *meta = &a->metadata;
	json_t *p = base_props ? json_loads(base_props, 0, NULL) : NULL;
	if (!json_is_object(p)) {
		json_decref(p);
		p = json_object();
	}
	json_object_set_new(p, "image_type", json_string(a->backup ? "backup" : "snapshot"));
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
	if (a->backup)
		json_object_set_new(p, "backup_type", json_string(a->backup_type));
	return p;
}

/* Inserts the queued image id for server s. 0, -EINVAL (err: 400 text), -EDQUOT (err:
 * 403 text: more properties than the Image API holds) or -EIO. */
static int snapshot_image_insert(struct req *r, const struct server_row *s, const char *id,
                                 const struct server_image_arg *a, char *err, size_t errlen)
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
	json_t *props = snapshot_props(r, s, have ? db_val(b, 0, 2) : NULL, a, err, errlen);
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

/* Queues the snapshot task (payload: the image; a backup's type and rotation, which
 * image_backup_rotate reads when the image becomes active) and shows task_state. 0 or
 * -EIO. */
static int snapshot_queue(struct req *r, const struct image_kind *k, const char *server_id,
                          const char *image_id, const struct server_image_arg *a, char *err,
                          size_t errlen)
{
	char tid[UUID_STR_LEN];
	json_t *pj = json_pack("{s:s}", "image_id", image_id);
	if (a->backup) {
		json_object_set_new(pj, "backup_type", json_string(a->backup_type));
		json_object_set_new(pj, "rotation", json_integer(a->rotation));
	}
	char *payload = json_dumps(pj, JSON_COMPACT);
	json_decref(pj);
	struct outbox_task t = {MSG_RES_INSTANCE, server_id,      TASK_SNAPSHOT, NULL,
	                        payload,          req_trace_id(r)};
	int rc = -EIO;
	if (payload &&
	    DBX(r->ctx->db, err, errlen,
	        "UPDATE instances SET task_state = $2, updated_at = now() WHERE id = $1", server_id,
	        k->act.task_state) == 1 &&
	    outbox_insert(r->ctx->db, &t, tid, err, errlen) == 0)
		rc = instance_action_record(r->ctx->db, r, server_id, k->key, k->event, tid, err,
		                            errlen);
	free(payload);
	return rc < 0 ? -EIO : 0;
}

void server_image_create(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	const struct image_kind *k = kind_find(key);
	struct server_image_arg a;
	char err[512], image_id[UUID_STR_LEN];
	PGresult *res = NULL;
	int began = 0;
	if (server_image_parse(key, arg, &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		return;
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
	if (server_action_check(&k->act, s.id, s.vm_state, s.task_state, open_task, err,
	                        sizeof(err)) < 0 ||
	    (!s.host &&
	     snprintf(err, sizeof(err), "Cannot '%s' instance %s while it is in vm_state %s",
	              k->key, s.id, s.vm_state) > 0)) {
		resp_error(r, w, 409, "%s", err);
		goto out;
	}
	if (!s.image_id || !*s.image_id) {
		if (a.backup)
			resp_error(r, w, 400,
			           "Backup is not supported for volume-backed instances.");
		else
			resp_error(
			    r, w, 400,
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
	if (rc < 0 || snapshot_queue(r, k, s.id, image_id, &a, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	int mv45 = r->ctx->mv_minor >= 45;
	if (resp_commit_wake(r, w, 202, mv45 ? json_pack("{s:s}", "image_id", image_id) : NULL) < 0)
		goto out;
	began = 0;
	/* before 2.45 a Location; Nova's createBackup sends none for rotation 0 (the
	 * backup is deleted as soon as it is made) */
	if (!mv45 && (!a.backup || a.rotation > 0)) {
		char *loc = xasprintf("%s/image/v2/images/%s", r->ctx->api->public_url, image_id);
		resp_header(w, "Location", loc);
		free(loc);
	}
out:
	PQclear(res);
	if (began)
		db_rollback(r->ctx->db);
	server_image_arg_release(&a);
}

/* createImage and createBackup: the image row, the instance's task_state and the
 * snapshot task commit together; the compute agent copies the disk and uploads the
 * bytes (vm_snapshot.c), the scheduler deletes the image if the task fails
 * (scheduler/image_tasks.c), and a backup's rotation runs when its bytes make it
 * active (image/image_backup.c). createImage of a volume-backed server is Nova's
 * snapshot_volume_backed: a forced Block Storage snapshot of each volume Compute has
 * plugged, and an image without bytes whose block device mapping names them. */
#include "compute/server_image.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/instance_action.h"
#include "compute/server.h"
#include "compute/volume_proxy.h"
#include "image/image.h"
#include "jparse.h"
#include "msg.h"
#include "log.h"
#include "outbox.h"
#include "routes.h"
#include "util.h"
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

/* The image properties p (consumed) as JSON text (owned), or NULL with err when there
 * are more than Glance's image_property_quota. */
static char *props_text(json_t *p, char *err, size_t errlen)
{
	char *text = NULL;
	if (json_object_size(p) > IMAGE_MAX_PROPS)
		snprintf(err, errlen, "Image metadata limit exceeded");
	else
		text = json_dumps(p, JSON_COMPACT);
	json_decref(p);
	return text;
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
	char *text = props_text(props, err, errlen);
	if (!text)
		return -EDQUOT;
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

/* ---- volume-backed servers (Nova's snapshot_volume_backed) ---- */

#define VB_DISKS_MAX 26 /* volumes plugged into one server that one image maps */

/* One volume a volume-backed server has plugged, and the snapshot made of it. */
struct vb_disk {
	char id[UUID_STR_LEN];
	char device[32];
	long size_gb;
	int root, delete_on_termination;
	char snapshot_id[UUID_STR_LEN];
};

/* The volumes Compute has plugged into server id (the root first), at most
 * VB_DISKS_MAX. The count, or -EIO (err). */
static int vb_disks_load(struct req *r, const char *id, struct vb_disk *d, char *err, size_t errlen)
{
	PGresult *res = DBQ(r->ctx->db, err, errlen,
	                    "SELECT v.id, coalesce(v.attach_device, ''), v.size_gb,"
	                    " v.id = i.boot_volume_id, v.delete_on_termination FROM volumes v"
	                    " JOIN instances i ON i.id = v.attached_server WHERE i.id = $1 AND"
	                    " v.attach_compute ORDER BY v.id = i.boot_volume_id DESC,"
	                    " v.attach_device, v.id LIMIT 26",
	                    id);
	if (!res)
		return -EIO;
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		memset(&d[i], 0, sizeof(d[i]));
		snprintf(d[i].id, sizeof(d[i].id), "%s", db_val(res, i, 0));
		snprintf(d[i].device, sizeof(d[i].device), "%s", db_val(res, i, 1));
		d[i].size_gb = db_long(res, i, 2, 0);
		d[i].root = db_val(res, i, 3)[0] == 't';
		d[i].delete_on_termination = db_val(res, i, 4)[0] == 't';
	}
	PQclear(res);
	return n;
}

/* Nova's image block_device_mapping (snapshot_from_bdm): one mapping per snapshot,
 * as JSON text (owned). */
static char *vb_mapping(const struct vb_disk *d, int n)
{
	json_t *list = json_array();
	for (int i = 0; i < n; i++) {
		json_t *m = json_pack("{s:s,s:s,s:s,s:I,s:b,s:s,s:s,s:s,s:n,s:n}", "source_type",
		                      "snapshot", "destination_type", "volume", "snapshot_id",
		                      d[i].snapshot_id, "volume_size", (json_int_t)d[i].size_gb,
		                      "delete_on_termination", d[i].delete_on_termination,
		                      "device_name", d[i].device, "device_type", "disk", "disk_bus",
		                      "virtio", "guest_format", "volume_type");
		json_object_set_new(m, "boot_index", d[i].root ? json_integer(0) : json_null());
		json_array_append_new(list, m);
	}
	char *text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	return text;
}

/* Forced snapshots of d[0..n) through Block Storage's own create (quota, state and the
 * task to the compute host are its), named as Nova names them. 0, or < 0 after
 * answering with Block Storage's refusal (the snapshots made before it stay, as in
 * Nova). */
static int vb_snapshots(struct req *r, struct resp *w, const char *project, const char *name,
                        struct vb_disk *d, int n)
{
	char url[256];
	snprintf(url, sizeof(url), "/volume/v3/%s/snapshots", project);
	char *sname = xasprintf("snapshot for %.200s", name);
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct resp sub;
		json_t *body = json_pack("{s:{s:s,s:b,s:s}}", "snapshot", "volume_id", d[i].id,
		                         "force", 1, "name", sname);
		rc = volume_proxy_call(r, &snapshot_routes, "POST", url, body, &sub);
		json_decref(body);
		if (rc < 0) {
			resp_error(r, w, 500, "internal error");
			break;
		}
		const char *sid =
		    json_string_value(json_object_get(json_object_get(sub.json, "snapshot"), "id"));
		if (sub.status >= 300 || !sid || !uuid_is_valid(sid)) {
			w->status = sub.status >= 300 ? sub.status : 500;
			w->json = sub.json;
			sub.json = NULL;
			rc = -EINVAL;
		} else {
			uuid_lower(sid, d[i].snapshot_id);
		}
		volume_proxy_release(&sub);
	}
	free(sname);
	return rc;
}

/* The image of a volume-backed server: active, no bytes (size 0, raw, bare, the empty
 * checksums: Nova uploads zero bytes to activate it), Nova's snapshot properties and
 * the mapping. 0, -EINVAL / -EDQUOT (err: 400 / 403 text) or -EIO. */
static int vb_image_insert(struct req *r, const struct server_row *s, const char *id,
                           const struct server_image_arg *a, const struct vb_disk *d, int n,
                           char *err, size_t errlen)
{
	static const char md5_empty[] = "d41d8cd98f00b204e9800998ecf8427e";
	static const char sha512_empty[] =
	    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
	    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";
	json_t *p = snapshot_props(r, s, NULL, a, err, errlen);
	if (!p)
		return -EINVAL;
	char *map = vb_mapping(d, n);
	json_object_set_new(p, "bdm_v2", json_string("True"));
	json_object_set_new(p, "block_device_mapping", json_string(map));
	json_object_set_new(p, "root_device_name", json_string("/dev/vda"));
	free(map);
	char *text = props_text(p, err, errlen);
	if (!text)
		return -EDQUOT;
	int rows = DBX(r->ctx->db, err, errlen,
	               "INSERT INTO images (id, name, owner, status, visibility, disk_format,"
	               " container_format, size, virtual_size, checksum, os_hash_algo,"
	               " os_hash_value, min_ram, min_disk, properties) VALUES ($1, $2, $3,"
	               " 'active', 'private', 'raw', 'bare', 0, 0, $4, 'sha512', $5, 0, 0,"
	               " $6::jsonb)",
	               id, a->name, s->project_id, md5_empty, sha512_empty, text);
	free(text);
	return rows == 1 ? 0 : -EIO;
}

/* createImage of volume-backed server s (its row locked in the open transaction, which
 * this ends: Block Storage's snapshot creates run in transactions of their own). Answers
 * 202 with the image, or the refusal. */
static void vb_create(struct req *r, struct resp *w, const struct server_row *s,
                      const struct server_image_arg *a)
{
	struct vb_disk d[VB_DISKS_MAX];
	char err[512], image_id[UUID_STR_LEN], project[UUID_STR_LEN + 8];
	snprintf(project, sizeof(project), "%s", s->project_id);
	int n = vb_disks_load(r, s->id, d, err, sizeof(err)), rc = n < 0 ? -EIO : 0;
	if (rc == 0)
		rc = image_count_check(r, s->project_id, err, sizeof(err));
	db_rollback(r->ctx->db);
	if (rc == -EDQUOT) {
		resp_error(r, w, 403, "Quota exceeded for images: %s", err);
		return;
	}
	if (rc < 0) {
		resp_db_error(r, w, err);
		return;
	}
	if (n == 0 || !d[0].root) {
		resp_error(r, w, 409, "Server %s has no root volume plugged to snapshot.", s->id);
		return;
	}
	if (vb_snapshots(r, w, project, a->name, d, n) < 0)
		return;
	uuid_generate_str(image_id);
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto orphans;
	}
	rc = image_count_check(r, s->project_id, err, sizeof(err));
	if (rc == 0)
		rc = vb_image_insert(r, s, image_id, a, d, n, err, sizeof(err));
	if (rc < 0) {
		db_rollback(r->ctx->db);
		if (rc == -EIO)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, rc == -EDQUOT ? 403 : 400, "%s", err);
		goto orphans;
	}
	int mv45 = r->ctx->mv_minor >= 45;
	if (resp_commit_wake(r, w, 202, mv45 ? json_pack("{s:s}", "image_id", image_id) : NULL) < 0)
		goto orphans;
	if (!mv45) {
		char *loc = xasprintf("%s/image/v2/images/%s", r->ctx->api->public_url, image_id);
		resp_header(w, "Location", loc);
		free(loc);
	}
	log_info("server %s: image %s of its %d volume(s), root snapshot %s", s->id, image_id, n,
	         d[0].snapshot_id);
	return;
orphans: /* as Nova, the snapshots made stay the project's (they are listed) */
	for (int i = 0; i < n && d[i].snapshot_id[0]; i++)
		log_warn("server %s: createImage failed; snapshot %s of volume %s stays", s->id,
		         d[i].snapshot_id, d[i].id);
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
		if (a.backup) {
			resp_error(r, w, 400,
			           "Backup is not supported for volume-backed instances.");
		} else {
			began = 0; /* vb_create ends the transaction */
			vb_create(r, w, &s, &a);
		}
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

/* Boot from volume (see server_bdm.h): Nova's block device mappings parsed at the edge,
 * the root volume made through Block Storage's own create, and handed to the server in
 * its transaction (from an image or a volume snapshot: a new volume). What Nubo cannot
 * boot (blank or swap disks, several disks at boot) is refused with Nova's "Block Device Mapping is
 * Invalid" rather than half done. */
#include "server_bdm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "outbox.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume_state.h"
#include "volume_proxy.h"
#include "wire.h"
#include "xalloc.h"

#define INVALID "Block Device Mapping is Invalid: "

/* ---- parse ---- */

/* The keys of one mapping: Nova's block_device_mapping_new_item plus the legacy ones
 * its schema keeps, each with the JSON types it takes. */
enum kt { KT_STR = 1, KT_INT = 2, KT_BOOL = 4, KT_NULL = 8 };
static const struct {
	const char *key;
	unsigned types;
} v2_keys[] = {
    {"source_type", KT_STR},
    {"destination_type", KT_STR},
    {"uuid", KT_STR},
    {"boot_index", KT_STR | KT_INT | KT_NULL},
    {"volume_size", KT_STR | KT_INT | KT_NULL},
    {"delete_on_termination", KT_STR | KT_BOOL},
    {"device_name", KT_STR},
    {"guest_format", KT_STR},
    {"disk_bus", KT_STR},
    {"device_type", KT_STR},
    {"tag", KT_STR},
    {"volume_type", KT_STR | KT_NULL},
    {"no_device", KT_STR | KT_BOOL | KT_NULL},
    {"volume_id", KT_STR},
    {"snapshot_id", KT_STR},
    {"connection_info", KT_STR | KT_NULL},
};

static unsigned json_kind(const json_t *v)
{
	if (json_is_string(v))
		return KT_STR;
	if (json_is_integer(v))
		return KT_INT;
	if (json_is_boolean(v))
		return KT_BOOL;
	if (json_is_null(v))
		return KT_NULL;
	return 0;
}

/* 0 when every key of m is one of v2_keys with an allowed type; else -EINVAL. */
static int keys_check(const json_t *m, const char *field, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		size_t i = 0;
		while (i < JCOUNT(v2_keys) && strcmp(v2_keys[i].key, k))
			i++;
		if (i == JCOUNT(v2_keys)) {
			snprintf(err, errlen,
			         "Invalid input for field/attribute %s. Additional properties are "
			         "not allowed ('%.64s' was unexpected)",
			         field, k);
			return -EINVAL;
		}
		if (!(json_kind(v) & v2_keys[i].types)) {
			snprintf(err, errlen, "Invalid input for field/attribute %s.", k);
			return -EINVAL;
		}
	}
	return 0;
}

/* An integer member given as a number or a decimal string (Nova takes both). *out is
 * dflt when absent or null. 0, or -EINVAL. */
static int int_member(const json_t *m, const char *key, long lo, long hi, long dflt, long *out)
{
	const json_t *v = json_object_get(m, key);
	*out = dflt;
	if (!v || json_is_null(v))
		return 0;
	long n;
	if (json_is_integer(v)) {
		n = (long)json_integer_value(v);
	} else {
		const char *s = json_string_value(v), *p = s;
		char *end;
		if (*p == '-' || *p == '+')
			p++;
		if (!*p || strlen(s) > 12)
			return -EINVAL;
		for (; *p; p++)
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
		n = strtol(s, &end, 10);
	}
	if (n < lo || n > hi)
		return -EINVAL;
	*out = n;
	return 0;
}

/* Nova's boolean parameter: true/false, or one of its strings. */
static int bool_member(const json_t *m, const char *key, int *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "1", "yes", "on", "y", "t"};
	static const char *const no[] = {"false", "False", "FALSE", "0", "no", "off", "n", "f"};
	const json_t *v = json_object_get(m, key);
	*out = 0;
	if (!v)
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	const char *s = json_string_value(v);
	for (size_t i = 0; s && i < JCOUNT(yes); i++) {
		if (!strcmp(s, yes[i])) {
			*out = 1;
			return 0;
		}
		if (!strcmp(s, no[i]))
			return 0;
	}
	return -EINVAL;
}

static const char *str_member(const json_t *m, const char *key)
{
	return json_string_value(json_object_get(m, key));
}

/* 1 when name is the root device (Nova's default root is vda; "/dev/" optional). */
static int root_device(const char *name)
{
	if (name && !strncmp(name, "/dev/", 5))
		name += 5;
	return name && !strcmp(name, "vda");
}

static int uuid_copy(const char *s, char out[UUID_STR_LEN])
{
	if (!s || !uuid_is_valid(s))
		return -EINVAL;
	uuid_lower(s, out);
	return 0;
}

static int parse_v2_item(const json_t *m, struct server_bdm *out, int *is_boot, char *err,
                         size_t errlen)
{
	long boot_index, size;
	int dot;
	if (keys_check(m, "block_device_mapping_v2", err, errlen) < 0)
		return -EINVAL;
	const char *src = str_member(m, "source_type"), *dst = str_member(m, "destination_type");
	if (int_member(m, "boot_index", -1000, 1000, -1, &boot_index) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute boot_index.");
		return -EINVAL;
	}
	if (int_member(m, "volume_size", 0, 1L << 20, 0, &size) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute volume_size.");
		return -EINVAL;
	}
	if (bool_member(m, "delete_on_termination", &dot) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute delete_on_termination.");
		return -EINVAL;
	}
	static const char *const sources[] = {"volume", "image", "snapshot", "blank"};
	size_t i = 0;
	while (src && i < JCOUNT(sources) && strcmp(src, sources[i]))
		i++;
	if (!src || i == JCOUNT(sources)) {
		snprintf(err, errlen, "Invalid input for field/attribute source_type.");
		return -EINVAL;
	}
	if (dst && strcmp(dst, "volume") && strcmp(dst, "local")) {
		snprintf(err, errlen, "Invalid input for field/attribute destination_type.");
		return -EINVAL;
	}
	*is_boot = boot_index == 0;
	if (!*is_boot) {
		snprintf(err, errlen,
		         INVALID "Nubo boots from one volume: attach further volumes to the "
		                 "running server (os-volume_attachments).");
		return -EINVAL;
	}
	if (!dst || strcmp(dst, "volume") || !strcmp(src, "blank")) {
		snprintf(err, errlen,
		         INVALID "Nubo boots from a volume, or from an image or a snapshot made "
		                 "into a volume (source_type %s, destination_type %s is not "
		                 "supported).",
		         src, dst ? dst : "local");
		return -EINVAL;
	}
	if (uuid_copy(str_member(m, "uuid"), out->uuid) < 0) {
		snprintf(err, errlen, INVALID "failed to get %s %.64s.", src,
		         str_member(m, "uuid") ? str_member(m, "uuid") : "(none)");
		return -EINVAL;
	}
	if (!strcmp(src, "image") && size <= 0) {
		snprintf(err, errlen,
		         INVALID "Images with destination_type 'volume' need to have a non-zero "
		                 "size specified");
		return -EINVAL;
	}
	out->source = !strcmp(src, "image")      ? SERVER_BDM_IMAGE
	              : !strcmp(src, "snapshot") ? SERVER_BDM_SNAPSHOT
	                                         : SERVER_BDM_VOLUME;
	out->volume_size = out->source == SERVER_BDM_VOLUME ? 0 : size;
	out->delete_on_termination = dot;
	return 0;
}

static int parse_legacy_item(const json_t *m, struct server_bdm *out, char *err, size_t errlen)
{
	int dot;
	if (keys_check(m, "block_device_mapping", err, errlen) < 0)
		return -EINVAL;
	if (json_object_get(m, "source_type") || json_object_get(m, "uuid")) {
		snprintf(err, errlen,
		         "Invalid input for field/attribute block_device_mapping. Additional "
		         "properties are not allowed");
		return -EINVAL;
	}
	if (bool_member(m, "delete_on_termination", &dot) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute delete_on_termination.");
		return -EINVAL;
	}
	const char *vol = str_member(m, "volume_id"), *dev = str_member(m, "device_name");
	if (!vol || json_object_get(m, "snapshot_id") || !root_device(dev)) {
		snprintf(err, errlen,
		         INVALID "Nubo boots from one volume_id on the root device vda (%s).",
		         vol ? "not on the root device" : "no volume_id");
		return -EINVAL;
	}
	if (uuid_copy(vol, out->uuid) < 0) {
		snprintf(err, errlen, INVALID "failed to get volume %.64s.", vol);
		return -EINVAL;
	}
	out->source = SERVER_BDM_VOLUME;
	out->delete_on_termination = dot;
	return 0;
}

int server_bdm_parse(const json_t *legacy, const json_t *v2, struct server_bdm *out, char *err,
                     size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t nl = legacy ? json_array_size(legacy) : 0, nv = v2 ? json_array_size(v2) : 0;
	if ((legacy && !json_is_array(legacy)) || (v2 && !json_is_array(v2))) {
		snprintf(err, errlen, "Invalid input for field/attribute %s.",
		         v2 && !json_is_array(v2) ? "block_device_mapping_v2"
		                                  : "block_device_mapping");
		return -EINVAL;
	}
	if (nl && nv) {
		snprintf(err, errlen,
		         "Using different block_device_mapping syntaxes is not allowed.");
		return -EINVAL;
	}
	if (nl > SERVER_BDM_MAX || nv > SERVER_BDM_MAX) {
		snprintf(err, errlen, "Invalid input for field/attribute block_device_mapping.");
		return -EINVAL;
	}
	if (!nl && !nv)
		return 0;
	const json_t *list = nv ? v2 : legacy;
	for (size_t i = 0; i < json_array_size(list); i++)
		if (!json_is_object(json_array_get(list, i))) {
			snprintf(err, errlen, "Invalid input for field/attribute %s.",
			         nv ? "block_device_mapping_v2" : "block_device_mapping");
			return -EINVAL;
		}
	if (json_array_size(list) > 1) {
		snprintf(err, errlen,
		         INVALID "Nubo boots from one volume: attach further volumes to the "
		                 "running server (os-volume_attachments).");
		return -EINVAL;
	}
	int boot = 0, rc = nv ? parse_v2_item(json_array_get(list, 0), out, &boot, err, errlen)
	                      : parse_legacy_item(json_array_get(list, 0), out, err, errlen);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

int server_bdm_from_image(const json_t *props, struct server_bdm *out, char *err, size_t errlen)
{
	const char *v2 = json_string_value(json_object_get(props, "bdm_v2"));
	const char *text = json_string_value(json_object_get(props, "block_device_mapping"));
	if (!text || !v2 || (strcmp(v2, "True") && strcmp(v2, "true")))
		return 0;
	json_t *list = json_loads(text, 0, NULL);
	struct server_bdm b;
	int rc = -EINVAL, boot = 0;
	memset(&b, 0, sizeof(b));
	if (!json_is_array(list) || !json_array_size(list) ||
	    json_array_size(list) > SERVER_BDM_MAX) {
		snprintf(err, errlen, INVALID "the image's block_device_mapping is not a list.");
		goto out;
	}
	if (json_array_size(list) > 1) {
		snprintf(err, errlen,
		         INVALID "the image maps %zu disks; Nubo boots from one volume (attach "
		                 "the others to the running server).",
		         json_array_size(list));
		goto out;
	}
	/* an image's mapping names its snapshot as snapshot_id (Nova's snapshot_from_bdm):
	 * read it as the API's uuid; keys an image may carry besides the API's are left */
	json_t *m = json_deep_copy(json_array_get(list, 0));
	if (!json_is_object(m)) {
		json_decref(m);
		snprintf(err, errlen, INVALID "the image's block_device_mapping is not a list.");
		goto out;
	}
	const char *sid = json_string_value(json_object_get(m, "snapshot_id"));
	if (sid && !json_object_get(m, "uuid"))
		json_object_set_new(m, "uuid", json_string(sid));
	static const char *const image_only[] = {"image_id", "snapshot_id", "volume_id",
	                                         "connection_info", "no_device"};
	for (size_t i = 0; i < JCOUNT(image_only); i++)
		json_object_del(m, image_only[i]);
	const char *k;
	json_t *v, *tmp;
	json_object_foreach_safe(m, tmp, k, v) if (json_is_null(v)) json_object_del(m, k);
	rc = parse_v2_item(m, &b, &boot, err, errlen);
	json_decref(m);
	if (rc == 0 && b.source != SERVER_BDM_SNAPSHOT) {
		snprintf(err, errlen,
		         INVALID "the image's root mapping is not a volume snapshot; Nubo boots "
		                 "images of volume-backed servers from their snapshot.");
		rc = -EINVAL;
	}
	if (rc == 0) {
		*out = b;
		rc = 1;
	}
out:
	json_decref(list);
	return rc;
}

/* ---- database ---- */

char *server_bdm_volume_name(const char *name)
{
	const char *base = name ? name : "server";
	size_t keep = strlen(base);
	if (keep > 200) {
		keep = 200;
		while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
			keep--;
	}
	return xasprintf("%.*s-volume", (int)keep, base);
}

/* The message of an error body {"<kind>": {"message": ...}}, or a generic text. */
static const char *sub_message(const json_t *body)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)body, key, v)
	{
		const char *m = json_string_value(json_object_get(v, "message"));
		if (m)
			return m;
	}
	return "Quota exceeded for volumes.";
}

int server_bdm_prepare(struct req *r, struct resp *w, struct server_bdm *b, const char *name,
                       const char *server_id)
{
	if (b->source == SERVER_BDM_VOLUME) {
		memcpy(b->volume_id, b->uuid, sizeof(b->volume_id));
		return 0;
	}
	if (b->source != SERVER_BDM_IMAGE && b->source != SERVER_BDM_SNAPSHOT)
		return 0;
	int from_image = b->source == SERVER_BDM_IMAGE;
	char url[256];
	struct resp sub;
	snprintf(url, sizeof(url), "/volume/v3/%s/volumes", r->ctx->auth.project_id);
	char *vname = server_bdm_volume_name(name);
	json_t *body = json_pack("{s:{s:s,s:s,s:s},s:{s:s}}", "volume",
	                         from_image ? "imageRef" : "snapshot_id", b->uuid, "name", vname,
	                         "description", "root volume of a server (boot from volume)",
	                         "OS-SCH-HNT:scheduler_hints", "nubo_boot_server", server_id);
	json_t *vol = json_object_get(body, "volume");
	if (b->volume_size > 0) /* a snapshot's volume is the snapshot's size unless given */
		json_object_set_new(vol, "size", json_integer(b->volume_size));
	free(vname);
	int rc = body ? volume_proxy_call(r, &volume_routes, "POST", url, body, &sub) : -EINVAL;
	json_decref(body);
	if (rc < 0) {
		resp_error(r, w, 500, "internal error");
		return rc;
	}
	const char *id =
	    json_string_value(json_object_get(json_object_get(sub.json, "volume"), "id"));
	if (sub.status >= 300 || !id || !uuid_is_valid(id)) {
		if (sub.status == 404) /* Nova: the image or snapshot of the mapping is unknown */
			resp_error(r, w, 400, INVALID "failed to get %s %s.",
			           from_image ? "image" : "snapshot", b->uuid);
		else if (sub.status == 413) { /* Block Storage's quota: Nova's 403 forbidden */
			resp_error(r, w, 403, "%s", sub_message(sub.json));
		} else if (sub.status >= 300) { /* Block Storage's refusal (size) */
			w->status = sub.status;
			w->json = sub.json;
			sub.json = NULL;
		} else
			resp_error(r, w, 500, "internal error");
		volume_proxy_release(&sub);
		return -EINVAL;
	}
	uuid_lower(id, b->volume_id);
	b->created = 1;
	volume_proxy_release(&sub);
	log_info("volume %s (%ld GB) made from %s %s to boot a server", b->volume_id,
	         b->volume_size, from_image ? "image" : "snapshot", b->uuid);
	return 0;
}

int server_bdm_claim(struct req *r, struct resp *w, const struct server_bdm *b, const char *id)
{
	char err[512], msg[512], att_id[UUID_STR_LEN];
	if (b->source == SERVER_BDM_NONE)
		return 0;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT status, attached_server, bootable FROM volumes WHERE id = $1 AND"
	        " project_id = $2 FOR UPDATE",
	        b->volume_id, r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 400, INVALID "failed to get volume %s.", b->volume_id);
	if (!res)
		return -ENOENT;
	const char *status = db_val(res, 0, 0);
	int attached = db_val(res, 0, 1) != NULL;
	/* a volume made for this server is still being made: the scheduler waits for it */
	int bad = b->created
	              ? attached || (strcmp(status, "creating") && strcmp(status, "available"))
	              : volume_state_allows(status, attached, 0, 0, VOP_ATTACH, msg, sizeof(msg));
	if (bad) {
		resp_error(r, w, 400,
		           "Invalid volume: volume '%s' status must be 'available'. Currently in "
		           "'%s'",
		           b->volume_id, attached ? "in-use" : status);
		PQclear(res);
		return -EINVAL;
	}
	/* Nova boots only from a volume Block Storage calls bootable (one made from an
	 * image, or set so with os-set_bootable); the one made here is, being from an image */
	if (!b->created && db_val(res, 0, 2)[0] != 't') {
		resp_error(r, w, 400, "Block Device %s is not bootable.", b->volume_id);
		PQclear(res);
		return -EINVAL;
	}
	PQclear(res);
	uuid_generate_str(att_id);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = CASE WHEN status = 'available' THEN 'attaching'"
	        " ELSE status END, attached_server = $2, attachment_id = $3, attach_device ="
	        " '/dev/vda', attach_compute = true, delete_on_termination = $4::boolean, fault = "
	        "NULL,"
	        " updated_at = now() WHERE id = $1",
	        b->volume_id, id, att_id, b->delete_on_termination ? "true" : "false") != 1 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE instances SET image_id = '', boot_volume_id = $2 WHERE id = $1", id,
	        b->volume_id) != 1) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

void server_bdm_abandon(struct req *r, const struct server_bdm *b)
{
	if (!b->created)
		return;
	/* Block Storage's DELETE refuses a volume still 'creating': mark it deleting and
	 * queue its delete directly, as the scheduler does for delete_on_termination. The
	 * scheduler runs a record's tasks in order, so the delete follows the create. */
	char err[512];
	PGresult *res = NULL;
	if (db_begin(r->ctx->db) < 0)
		goto fail;
	res = DBQ(r->ctx->db, err, sizeof err,
	          "UPDATE volumes SET status = 'deleting', updated_at = now() WHERE id = $1 AND"
	          " project_id = $2 AND attached_server IS NULL AND status IN ('creating',"
	          " 'available', 'error') RETURNING host",
	          b->volume_id, r->ctx->auth.project_id);
	if (!res || PQntuples(res) != 1) {
		snprintf(err, sizeof(err), "%s", res ? "not in a deletable state" : err);
		db_rollback(r->ctx->db);
		goto fail;
	}
	struct outbox_task t = {MSG_RES_VOLUME,    b->volume_id, TASK_DELETE,
	                        db_val(res, 0, 0), NULL,         req_trace_id(r)};
	if (outbox_insert(r->ctx->db, &t, NULL, err, sizeof(err)) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		db_rollback(r->ctx->db);
		goto fail;
	}
	PQclear(res);
	api_wake_scheduler(r->ctx->api);
	log_info("boot volume %s of a failed server create: deleting", b->volume_id);
	return;
fail:
	PQclear(res);
	log_warn("boot volume %s of a failed server create stays: %s", b->volume_id, err);
}

/* Image v2 (Glance) metadata under /image/v2: list, show, create, JSON-patch update,
 * delete and tags, plus the route table for the whole image API. Who sees what: public
 * and community images are visible to every project, private ones to their owner,
 * shared ones to their owner and members (image_member.c), and an admin sees
 * everything. */
#include "image/image.h"
#include "image/image_store.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define IMAGE_MAX_TAGS 128 /* Glance image_tag_quota */
#define IMAGE_MAX_PATCH_OPS 256
#define PROP_KEY_MAX 255
#define PROP_VALUE_MAX 65535
#define LIST_DEFAULT_LIMIT 25
#define LIST_MAX_LIMIT 1000

/* ---- the row and its JSON ---------------------------------------------------------- */

void image_from_row(const PGresult *res, int row, struct image *img)
{
	memset(img, 0, sizeof(*img));
	snprintf(img->id, sizeof(img->id), "%s", db_val(res, row, 0));
	img->name = xstrdup(db_val(res, row, 1));
	img->owner = xstrdup(db_val(res, row, 2));
	img->status = xstrdup(db_val(res, row, 3));
	img->visibility = xstrdup(db_val(res, row, 4));
	img->disk_format = xstrdup(db_val(res, row, 5));
	img->container_format = xstrdup(db_val(res, row, 6));
	img->size = db_val(res, row, 7) ? strtoll(db_val(res, row, 7), NULL, 10) : -1;
	img->virtual_size = db_val(res, row, 8) ? strtoll(db_val(res, row, 8), NULL, 10) : -1;
	img->checksum = xstrdup(db_val(res, row, 9));
	img->os_hash_algo = xstrdup(db_val(res, row, 10));
	img->os_hash_value = xstrdup(db_val(res, row, 11));
	img->min_disk = db_long(res, row, 12, 0);
	img->min_ram = db_long(res, row, 13, 0);
	img->protected_ = db_val(res, row, 14) && db_val(res, row, 14)[0] == 't';
	const char *props = db_val(res, row, 15), *tags = db_val(res, row, 16);
	img->props = props ? json_loads(props, 0, NULL) : NULL;
	if (!json_is_object(img->props)) {
		json_decref(img->props);
		img->props = json_object();
	}
	img->tags = tags ? json_loads(tags, 0, NULL) : NULL;
	if (!json_is_array(img->tags)) {
		json_decref(img->tags);
		img->tags = json_array();
	}
	img->created_at = xstrdup(db_val(res, row, 17));
	img->updated_at = xstrdup(db_val(res, row, 18));
}

void image_release(struct image *img)
{
	if (!img)
		return;
	free(img->name);
	free(img->owner);
	free(img->status);
	free(img->visibility);
	free(img->disk_format);
	free(img->container_format);
	free(img->checksum);
	free(img->os_hash_algo);
	free(img->os_hash_value);
	json_decref(img->props);
	json_decref(img->tags);
	free(img->created_at);
	free(img->updated_at);
	memset(img, 0, sizeof(*img));
}

static json_t *size_or_null(long long v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

json_t *image_to_json(const struct image *img)
{
	json_t *j = json_object();
	json_object_set_new(j, "id", json_string(img->id));
	json_object_set_new(j, "name", wire_string_or_null(img->name));
	json_object_set_new(j, "status", wire_string_or_null(img->status));
	json_object_set_new(j, "visibility", wire_string_or_null(img->visibility));
	json_object_set_new(j, "protected", json_boolean(img->protected_));
	json_object_set_new(j, "os_hidden", json_false());
	json_object_set_new(j, "checksum", wire_string_or_null(img->checksum));
	json_object_set_new(j, "os_hash_algo", wire_string_or_null(img->os_hash_algo));
	json_object_set_new(j, "os_hash_value", wire_string_or_null(img->os_hash_value));
	json_object_set_new(j, "owner", wire_string_or_null(img->owner));
	json_object_set_new(j, "size", size_or_null(img->size));
	json_object_set_new(j, "virtual_size", size_or_null(img->virtual_size));
	json_object_set_new(j, "min_ram", json_integer(img->min_ram));
	json_object_set_new(j, "min_disk", json_integer(img->min_disk));
	json_object_set_new(j, "disk_format", wire_string_or_null(img->disk_format));
	json_object_set_new(j, "container_format", wire_string_or_null(img->container_format));
	json_object_set_new(j, "created_at", wire_string_or_null(img->created_at));
	json_object_set_new(j, "updated_at", wire_string_or_null(img->updated_at));
	json_object_set(j, "tags", img->tags);
	char *s = xasprintf("/v2/images/%s", img->id);
	json_object_set_new(j, "self", json_string(s));
	free(s);
	s = xasprintf("/v2/images/%s/file", img->id);
	json_object_set_new(j, "file", json_string(s));
	free(s);
	json_object_set_new(j, "schema", json_string("/v2/schemas/image"));
	const char *key;
	json_t *v;
	json_object_foreach(img->props, key, v)
	{
		if (!json_object_get(j, key)) /* core attributes win */
			json_object_set(j, key, v);
	}
	return j;
}

char *image_path(const struct api *api, const char *id)
{
	return xasprintf("%s/%s", api->image_dir, id);
}

static int sees_all(const struct req *r)
{
	return r->ctx->auth.agent || policy_is_admin(&r->ctx->auth);
}

int image_load(struct req *r, const char *id, int for_update, struct image *img, char *err,
               size_t errlen)
{
	char cid[UUID_STR_LEN];
	memset(img, 0, sizeof(*img));
	if (uuid_lower(id, cid) < 0)
		return -ENOENT;
	const char *sql =
	    for_update
	        ? "SELECT " IMAGE_COLS
	          " FROM images WHERE id = $1 AND " IMAGE_VISIBLE_SQL("$2", "$3") " FOR UPDATE"
	        : "SELECT " IMAGE_COLS
	          " FROM images WHERE id = $1 AND " IMAGE_VISIBLE_SQL("$2", "$3");
	PGresult *res = db_query(
	    r->ctx->db, sql, 3,
	    (const char *const[]){cid, sees_all(r) ? "true" : "false", r->ctx->auth.project_id},
	    err, errlen, NULL);
	if (!res)
		return -EIO;
	int rc = -ENOENT;
	if (PQntuples(res) == 1) {
		image_from_row(res, 0, img);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

int image_for_boot(struct req *r, const char *id, struct image *img, char *err, size_t errlen)
{
	int rc = image_load(r, id, 0, img, err, errlen);
	if (rc == -ENOENT)
		snprintf(err, errlen, "Image %s could not be found.", id);
	if (rc < 0)
		return rc;
	if (strcmp(img->status, "active")) {
		snprintf(err, errlen, "Image %s is not active.", img->id);
		return -EINVAL;
	}
	return 0;
}

int image_owner_lock(struct req *r, const char *owner, char *err, size_t errlen)
{
	return DBX(r->ctx->db, err, errlen,
	           "SELECT pg_advisory_xact_lock(hashtext('nubo-image-quota'), hashtext($1))",
	           owner) < 0
	           ? -EIO
	           : 0;
}

int image_agent_may_upload(const struct req *r, const struct image *img)
{
	char err[256];
	if (!img->status || (strcmp(img->status, "queued") && strcmp(img->status, "saving")))
		return 0;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT 1 FROM tasks WHERE payload->>'image_id' = $1 AND status IN"
	                    " ('pending', 'dispatched') AND action IN ('snapshot', 'upload')",
	                    img->id);
	int ok = res && PQntuples(res) > 0;
	PQclear(res);
	return ok;
}

int image_may_modify(const struct req *r, const struct image *img)
{
	if (r->ctx->auth.agent) /* agents reach only ROUTE_AGENT_OK routes */
		return image_agent_may_upload(r, img);
	if (policy_is_admin(&r->ctx->auth))
		return 1;
	return img->owner && r->ctx->auth.project_id[0] &&
	       !strcmp(img->owner, r->ctx->auth.project_id);
}

int image_find(struct req *r, struct resp *w, const char *id, int for_update, struct image *img)
{
	char err[256];
	int rc = image_load(r, id, for_update, img, err, sizeof(err));
	if (rc == -ENOENT)
		resp_error(r, w, 404, "No image found with ID %s", id);
	else if (rc < 0)
		resp_db_error(r, w, err);
	return rc;
}

int image_find_writable(struct req *r, struct resp *w, int lock, const char *verb,
                        struct image *img)
{
	if (lock && db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	int rc = image_find(r, w, r->params[0], lock, img);
	if (rc < 0)
		return rc;
	if (!image_may_modify(r, img)) {
		resp_error(r, w, 403, "You are not permitted to %s image %s.", verb, img->id);
		return -EACCES;
	}
	return 0;
}

/* ---- attributes: one row per key a client may send --------------------------------- */

struct attr_ctx {
	struct req *r;
	int creating;
	int status; /* HTTP status of the failure */
	char err[512];
};

static int attr_fail(struct attr_ctx *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int attr_fail(struct attr_ctx *c, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	c->status = status;
	return -1;
}

/* A client's value for one attribute, parsed once by the attribute's field row
 * (jparse_value); the setters below never see the wire's JSON. */
struct attr_val {
	char *s;
	long i;
	int b;
	struct jstrlist list;
	int null; /* JSON null, where the row allows it */
};

/* Replaces *dst by a copy of s (NULL clears it). */
static void take_string(char **dst, const char *s)
{
	free(*dst);
	*dst = s ? xstrdup(s) : NULL;
}

static int one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

static const char *const visibilities[] = {"public", "private", "shared", "community", NULL};
/* Only what the inspector can verify and the compute agent can boot. */
static const char *const disk_formats[] = {"raw", "qcow2", "iso", NULL};
static const char *const container_formats[] = {"bare", NULL};

static int set_id(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	if (uuid_lower(v->s, img->id) < 0)
		return attr_fail(c, 400, "id: must be a UUID");
	return 0;
}

static int set_name(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	take_string(&img->name, v->null ? NULL : v->s);
	return 0;
}

static int set_visibility(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	if (!one_of(v->s, visibilities))
		return attr_fail(c, 400,
		                 "visibility: must be one of public, private, shared, community");
	if (!strcmp(v->s, "public") && !policy_is_admin(&c->r->ctx->auth) &&
	    strcmp(img->visibility ? img->visibility : "", "public"))
		return attr_fail(c, 403, "Policy doesn't allow publicize_image to be performed.");
	take_string(&img->visibility, v->s);
	return 0;
}

static int set_protected(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	img->protected_ = v->b;
	return 0;
}

static int set_min_disk(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	img->min_disk = v->i;
	return 0;
}

static int set_min_ram(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	img->min_ram = v->i;
	return 0;
}

/* disk_format and container_format describe the bytes: fixed once data arrived. */
static int take_format(char **dst, const struct attr_val *v, const char *const *allowed,
                       const char *what, struct image *img, struct attr_ctx *c)
{
	if (!c->creating && strcmp(img->status, "queued"))
		return attr_fail(c, 403, "Attribute %s can be only replaced for a queued image.",
		                 what);
	if (!v->null && !one_of(v->s, allowed)) {
		char list[128] = "";
		for (const char *const *a = allowed; *a; a++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			         a == allowed ? "" : ", ", *a);
		return attr_fail(c, 400, "%s: must be one of %s (this cloud's supported formats)",
		                 what, list);
	}
	take_string(dst, v->null ? NULL : v->s);
	return 0;
}

static int set_disk_format(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	return take_format(&img->disk_format, v, disk_formats, "disk_format", img, c);
}

static int set_container_format(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	return take_format(&img->container_format, v, container_formats, "container_format", img,
	                   c);
}

/* A tag's text beyond its type (1..255 bytes, checked by the row): no '/'. */
static int tag_ok(const char *t)
{
	return *t && !strchr(t, '/');
}

static int tags_contain(const json_t *tags, const char *tag)
{
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		if (!strcmp(json_string_value(t), tag))
			return 1;
	}
	return 0;
}

static int set_tags(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	json_t *tags = json_array();
	for (size_t i = 0; i < v->list.n; i++) {
		if (!tag_ok(v->list.items[i])) {
			json_decref(tags);
			return attr_fail(c, 400,
			                 "tags: each tag must be 1 to 255 bytes without '/'");
		}
		if (!tags_contain(tags, v->list.items[i]))
			json_array_append_new(tags, json_string(v->list.items[i]));
	}
	if (json_array_size(tags) > IMAGE_MAX_TAGS) {
		json_decref(tags);
		return attr_fail(c, 413, "Maximum number of tags (%d) exceeded", IMAGE_MAX_TAGS);
	}
	json_decref(img->tags);
	img->tags = tags;
	return 0;
}

static int set_owner(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	if (!policy_is_admin(&c->r->ctx->auth) && strcmp(v->s, c->r->ctx->auth.project_id))
		return attr_fail(c, 403, "Only an admin may give an image to another project");
	take_string(&img->owner, v->s);
	return 0;
}

static int set_os_hidden(struct image *img, const struct attr_val *v, struct attr_ctx *c)
{
	if (v->b)
		return attr_fail(c, 400, "os_hidden: hidden images are not supported");
	return 0;
}

enum {
	ATTR_CREATE_ONLY = 1, /* settable in POST only */
	ATTR_READ_ONLY = 2,   /* computed by the server */
	ATTR_RESERVED = 4,    /* never settable, never stored */
};

#define V(member) JF(struct attr_val, member)

/* Each settable attribute: its value's type as Glance's schema has it (field), then
 * what the setter checks beyond the type. */
static const struct attr_row {
	const char *key;
	int (*set)(struct image *img, const struct attr_val *v, struct attr_ctx *c);
	unsigned flags;
	struct jfield field;
} attrs[] = {
    {"id", set_id, ATTR_CREATE_ONLY, {"id", J_STR, V(s), 0, 64, 0, 0, 0}},
    {"name", set_name, 0, {"name", J_STR, V(s), 0, 255, 0, 1, 0}},
    {"visibility", set_visibility, 0, {"visibility", J_STR, V(s), 0, 16, 0, 0, 0}},
    {"protected", set_protected, 0, {"protected", J_BOOL, V(b), 0, 0, 0, 0, JF_STRICT}},
    {"min_disk", set_min_disk, 0, {"min_disk", J_INT, V(i), 0, INT_MAX, 0, 0, JF_STRICT}},
    {"min_ram", set_min_ram, 0, {"min_ram", J_INT, V(i), 0, INT_MAX, 0, 0, JF_STRICT}},
    {"disk_format", set_disk_format, 0, {"disk_format", J_STR, V(s), 0, 32, 0, 1, 0}},
    {"container_format",
     set_container_format,
     0,
     {"container_format", J_STR, V(s), 0, 32, 0, 1, 0}},
    {"tags", set_tags, 0, {"tags", J_STRLIST, V(list), 0, 0, 0, 0, 0}},
    {"owner", set_owner, 0, {"owner", J_STR, V(s), 0, 255, 0, 0, 0}},
    {"os_hidden", set_os_hidden, 0, {"os_hidden", J_BOOL, V(b), 0, 0, 0, 0, JF_STRICT}},
    {"status", NULL, ATTR_READ_ONLY},
    {"checksum", NULL, ATTR_READ_ONLY},
    {"os_hash_algo", NULL, ATTR_READ_ONLY},
    {"os_hash_value", NULL, ATTR_READ_ONLY},
    {"size", NULL, ATTR_READ_ONLY},
    {"virtual_size", NULL, ATTR_READ_ONLY},
    {"created_at", NULL, ATTR_READ_ONLY},
    {"updated_at", NULL, ATTR_READ_ONLY},
    {"self", NULL, ATTR_READ_ONLY},
    {"file", NULL, ATTR_READ_ONLY},
    {"schema", NULL, ATTR_READ_ONLY},
    {"direct_url", NULL, ATTR_READ_ONLY},
    {"locations", NULL, ATTR_READ_ONLY},
    {"stores", NULL, ATTR_READ_ONLY},
    {"deleted", NULL, ATTR_RESERVED},
    {"deleted_at", NULL, ATTR_RESERVED},
    {"location", NULL, ATTR_RESERVED},
};

static const struct attr_row *attr_find(const char *key)
{
	for (size_t i = 0; i < sizeof(attrs) / sizeof(attrs[0]); i++)
		if (!strcmp(attrs[i].key, key))
			return &attrs[i];
	return NULL;
}

static int prop_key_valid(const char *key)
{
	size_t n = strlen(key);
	if (n == 0 || n > PROP_KEY_MAX)
		return 0;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int image_prop_key_free(const char *key)
{
	return !attr_find(key) && strncmp(key, "os_glance", 9) != 0 && prop_key_valid(key);
}

/* Parses v (the wire's value, borrowed) by f and runs set on the typed value. */
static int attr_apply(struct image *img, const struct jfield *f, const json_t *v,
                      int (*set)(struct image *, const struct attr_val *, struct attr_ctx *),
                      struct attr_ctx *c)
{
	struct attr_val val = {0};
	char err[256];
	int rc = v ? jparse_value(f, v, &val, err, sizeof(err)) : 1;
	if (rc < 0)
		return attr_fail(c, 400, "%s", err);
	val.null = rc == 1;
	rc = set(img, &val, c);
	jparse_release(f, 1, &val);
	return rc;
}

/* An extra property: a string, or null to drop it. */
static int set_property(struct image *img, const struct attr_val *v, struct attr_ctx *c,
                        const char *key)
{
	if (v->null) { /* the SDK sends None for unset optional properties */
		json_object_del(img->props, key);
		return 0;
	}
	if (!json_object_get(img->props, key) && json_object_size(img->props) >= IMAGE_MAX_PROPS)
		return attr_fail(c, 413, "Maximum number of image properties (%d) exceeded",
		                 IMAGE_MAX_PROPS);
	json_object_set_new(img->props, key, json_string(v->s));
	return 0;
}

/* Sets key to v (add/replace, or a POST body member). 0, or -1 with c->status/err. */
static int attr_set(struct image *img, const char *key, const json_t *v, struct attr_ctx *c)
{
	const struct attr_row *a = attr_find(key);
	if (a && (a->flags & ATTR_RESERVED))
		return attr_fail(c, 403, "Attribute '%s' is reserved.", key);
	if (a && ((a->flags & ATTR_READ_ONLY) || ((a->flags & ATTR_CREATE_ONLY) && !c->creating)))
		return attr_fail(c, 403, "Attribute '%s' is read-only.", key);
	if (a) {
		if (json_is_null(v) && !a->field.nullable)
			return attr_fail(c, 400, "%s: must not be null", key);
		return attr_apply(img, &a->field, v, a->set, c);
	}
	if (!strncmp(key, "os_glance", 9))
		return attr_fail(c, 403, "Attribute '%s' is reserved.", key);
	if (!prop_key_valid(key))
		return attr_fail(c, 400, "property names must be 1 to %d printable bytes",
		                 PROP_KEY_MAX);
	/* Glance's schema: additional properties are strings */
	const struct jfield f = {key, J_STR, JF(struct attr_val, s), 0, PROP_VALUE_MAX, 0, 1, 0};
	struct attr_val val = {0};
	char err[256];
	int rc = jparse_value(&f, v, &val, err, sizeof(err));
	if (rc < 0)
		return attr_fail(c, 400, "%s: extra properties must be strings of at most %d bytes",
		                 key, PROP_VALUE_MAX);
	val.null = rc == 1;
	rc = set_property(img, &val, c, key);
	jparse_release(&f, 1, &val);
	return rc;
}

/* JSON-patch "remove" of a whole attribute. */
static int attr_remove(struct image *img, const char *key, struct attr_ctx *c)
{
	const struct attr_row *a = attr_find(key);
	if (a && (a->flags & ATTR_RESERVED))
		return attr_fail(c, 403, "Attribute '%s' is reserved.", key);
	if (a && (a->flags & (ATTR_READ_ONLY | ATTR_CREATE_ONLY)))
		return attr_fail(c, 403, "Attribute '%s' is read-only.", key);
	if (a && !strcmp(key, "tags")) {
		json_array_clear(img->tags);
		return 0;
	}
	if (a && a->field.nullable) /* name, disk_format, container_format */
		return attr_apply(img, &a->field, NULL, a->set, c);
	if (a)
		return attr_fail(c, 403, "Attribute '%s' cannot be removed.", key);
	if (!json_object_get(img->props, key))
		return attr_fail(c, 409, "Property %s does not exist.", key);
	json_object_del(img->props, key);
	return 0;
}

/* ---- JSON patch -------------------------------------------------------------------- */

enum patch_op { PATCH_ADD, PATCH_REPLACE, PATCH_REMOVE };

/* One parsed operation: path split into at most two decoded segments. */
struct patch {
	enum patch_op op;
	char seg[2][PROP_KEY_MAX + 1];
	int nseg;
	const json_t *value; /* borrowed from the request body */
};

/* Decodes one JSON-pointer segment (~1 = '/', ~0 = '~'). 0 or -EINVAL. */
static int pointer_segment(const char *s, size_t n, char out[PROP_KEY_MAX + 1])
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (ch == '~') {
			if (i + 1 >= n || (s[i + 1] != '0' && s[i + 1] != '1'))
				return -EINVAL;
			ch = s[++i] == '1' ? '/' : '~';
		}
		if (o == PROP_KEY_MAX)
			return -EINVAL;
		out[o++] = ch;
	}
	out[o] = '\0';
	return o ? 0 : -EINVAL;
}

/* The two JSON-patch dialects Glance takes, by media type: v2.1 is RFC 6902
 * ({"op": "replace", "path": "/name", "value": ...}); v2.0, the older draft, names the
 * operation by its key ({"replace": "/name", "value": ...}). */
enum patch_dialect { PATCH_NONE, PATCH_V20, PATCH_V21 };

static const char *const patch_ops[] = {"add", "replace", "remove"};

/* v2.0: the one member named like an operation; its value is the path. */
static int patch_parse_v20(const json_t *j, struct patch *p, const json_t **path,
                           struct attr_ctx *c)
{
	int found = -1;
	for (size_t k = 0; k < 3; k++) {
		if (!json_object_get(j, patch_ops[k]))
			continue;
		if (found >= 0)
			return attr_fail(c, 400,
			                 "Operation objects must contain only one member named"
			                 " \"add\", \"remove\", or \"replace\".");
		found = (int)k;
	}
	if (found < 0)
		return attr_fail(c, 400,
		                 "Operation objects must contain exactly one member named \"add\","
		                 " \"remove\", or \"replace\".");
	p->op = (enum patch_op)found;
	*path = json_object_get(j, patch_ops[found]);
	return 0;
}

static int patch_parse_v21(const json_t *j, struct patch *p, const json_t **path,
                           struct attr_ctx *c)
{
	const json_t *op = json_object_get(j, "op");
	if (!json_is_string(op))
		return attr_fail(c, 400,
		                 "Unable to find `op` in JSON Schema change. It must be one of the"
		                 " following: add, remove, replace.");
	size_t k = 0;
	while (k < 3 && strcmp(json_string_value(op), patch_ops[k]))
		k++;
	if (k == 3)
		return attr_fail(c, 400,
		                 "Invalid operation: `%s`. It must be one of the following: add,"
		                 " remove, replace.",
		                 json_string_value(op));
	p->op = (enum patch_op)k;
	*path = json_object_get(j, "path");
	if (!*path)
		return attr_fail(c, 400, "Unable to find 'path' in JSON Schema change");
	return 0;
}

static int patch_parse(const json_t *j, enum patch_dialect d, struct patch *p, struct attr_ctx *c)
{
	const json_t *path = NULL;
	if (!json_is_object(j))
		return attr_fail(c, 400, "Operations must be JSON objects.");
	if ((d == PATCH_V20 ? patch_parse_v20 : patch_parse_v21)(j, p, &path, c) < 0)
		return -1;
	const char *op = patch_ops[p->op];
	if (!json_is_string(path))
		return attr_fail(c, 400, "The path of a JSON Schema change must be a string.");
	if (json_string_value(path)[0] != '/')
		return attr_fail(c, 400, "Pointer `%s` does not start with \"/\".",
		                 json_string_value(path));
	const char *s = json_string_value(path) + 1;
	p->nseg = 0;
	for (;;) {
		const char *slash = strchr(s, '/');
		size_t n = slash ? (size_t)(slash - s) : strlen(s);
		if (p->nseg == 2 || pointer_segment(s, n, p->seg[p->nseg]) < 0)
			return attr_fail(c, 400, "Invalid JSON pointer for this resource: '%s'",
			                 json_string_value(path));
		p->nseg++;
		if (!slash)
			break;
		s = slash + 1;
	}
	if (p->nseg == 2 && strcmp(p->seg[0], "tags"))
		return attr_fail(c, 400, "Invalid JSON pointer for this resource: '%s'",
		                 json_string_value(path));
	p->value = json_object_get(j, "value");
	if (p->op != PATCH_REMOVE && !p->value)
		return attr_fail(c, 400, "Operation \"%s\" requires a member named \"value\".", op);
	return 0;
}

/* "/tags/<index>" and "/tags/-": what jsonpatch.make_patch emits for list edits. */
static int patch_tag_element(struct image *img, const struct patch *p, struct attr_ctx *c)
{
	size_t n = json_array_size(img->tags), idx = n;
	if (strcmp(p->seg[1], "-")) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(p->seg[1], &end, 10);
		if (!isdigit((unsigned char)p->seg[1][0]) || *end || errno)
			return attr_fail(c, 400, "Invalid tag index '%s'", p->seg[1]);
		idx = (size_t)v;
	} else if (p->op != PATCH_ADD) {
		return attr_fail(c, 400, "'-' is only valid to add a tag");
	}
	if (idx > n || (p->op != PATCH_ADD && idx == n))
		return attr_fail(c, 409, "Tag index %s is out of range", p->seg[1]);
	if (p->op == PATCH_REMOVE) {
		json_array_remove(img->tags, idx);
		return 0;
	}
	static const struct jfield f_tag = {"tags", J_STR, JF(struct attr_val, s), 0, 255, 0, 0, 0};
	struct attr_val val = {0};
	char err[256];
	int rc = 0;
	if (jparse_value(&f_tag, p->value, &val, err, sizeof(err)) < 0 || !tag_ok(val.s)) {
		rc = attr_fail(c, 400, "tags: each tag must be 1 to 255 bytes without '/'");
		goto out;
	}
	if (p->op == PATCH_REPLACE)
		json_array_remove(img->tags, idx);
	if (tags_contain(img->tags, val.s)) /* tags are a set */
		goto out;
	if (json_array_size(img->tags) >= IMAGE_MAX_TAGS) {
		rc = attr_fail(c, 413, "Maximum number of tags (%d) exceeded", IMAGE_MAX_TAGS);
		goto out;
	}
	json_array_insert_new(img->tags, idx <= json_array_size(img->tags) ? idx : n,
	                      json_string(val.s));
out:
	jparse_release(&f_tag, 1, &val);
	return rc;
}

static int patch_apply(struct image *img, const struct patch *p, struct attr_ctx *c)
{
	if (p->nseg == 2)
		return patch_tag_element(img, p, c);
	if (p->op == PATCH_REMOVE)
		return attr_remove(img, p->seg[0], c);
	return attr_set(img, p->seg[0], p->value, c);
}

/* ---- handlers ---------------------------------------------------------------------- */

static void images_show(struct req *r, struct resp *w)
{
	struct image img;
	if (image_find(r, w, r->params[0], 0, &img) == 0)
		resp_json(w, 200, image_to_json(&img));
	image_release(&img);
}

/* Writes img's mutable columns back; on success img is refreshed from RETURNING. */
static int image_store(struct req *r, struct image *img, int insert, char *err, size_t errlen)
{
	char min_disk[24], min_ram[24];
	snprintf(min_disk, sizeof(min_disk), "%ld", img->min_disk);
	snprintf(min_ram, sizeof(min_ram), "%ld", img->min_ram);
	char *props = json_dumps(img->props, JSON_COMPACT);
	char *tags = json_dumps(img->tags, JSON_COMPACT);
	const char *params[] = {img->id,
	                        img->name,
	                        img->owner,
	                        img->visibility,
	                        img->disk_format,
	                        img->container_format,
	                        min_disk,
	                        min_ram,
	                        img->protected_ ? "true" : "false",
	                        props,
	                        tags};
	const char *sql =
	    insert ? "INSERT INTO images (id, name, owner, visibility, disk_format,"
	             " container_format, min_disk, min_ram, protected, properties, tags)"
	             " VALUES ($1, $2, $3, $4, $5, $6, $7::int, $8::int, $9::boolean, $10::jsonb,"
	             " $11::jsonb) ON CONFLICT (id) DO NOTHING RETURNING " IMAGE_COLS
	           : "UPDATE images SET name = $2, owner = $3, visibility = $4, disk_format = $5,"
	             " container_format = $6, min_disk = $7::int, min_ram = $8::int,"
	             " protected = $9::boolean, properties = $10::jsonb, tags = $11::jsonb,"
	             " updated_at = now() WHERE id = $1 RETURNING " IMAGE_COLS;
	PGresult *res = db_query(r->ctx->db, sql, 11, params, err, errlen, NULL);
	free(props);
	free(tags);
	if (!res)
		return -EIO;
	int rc = -EEXIST;
	if (PQntuples(res) == 1) {
		image_release(img);
		image_from_row(res, 0, img);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* Images one project may hold (Glance: image_count_total); admins are not bound. */
#define IMAGE_MAX_PER_PROJECT 100

int image_count_check(struct req *r, const char *owner, char *err, size_t errlen)
{
	if (image_owner_lock(r, owner, err, errlen) < 0)
		return -EIO;
	PGresult *n =
	    DBQ(r->ctx->db, err, errlen, "SELECT count(*) FROM images WHERE owner = $1", owner);
	if (!n)
		return -EIO;
	long have = db_long(n, 0, 0, 0);
	PQclear(n);
	if (have < IMAGE_MAX_PER_PROJECT)
		return 0;
	snprintf(err, errlen, "Maximum number of images (%d) exceeded.", IMAGE_MAX_PER_PROJECT);
	return -EDQUOT;
}

static void images_create(struct req *r, struct resp *w)
{
	struct image img = {0};
	struct attr_ctx c = {.r = r, .creating = 1};
	char err[256];
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "request body must be a JSON object");
		return;
	}
	img.status = xstrdup("queued");
	img.visibility = xstrdup("shared");
	img.owner = xstrdup(r->ctx->auth.project_id);
	img.props = json_object();
	img.tags = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(r->json, key, v)
	{
		if (attr_set(&img, key, v, &c) < 0) {
			resp_error(r, w, c.status, "%s", c.err);
			goto out;
		}
	}
	if (!img.id[0])
		uuid_generate_str(img.id);
	/* the count and the insert under the owner's quota lock, or parallel creates
	 * pass the count together */
	int bound = !policy_is_admin(&r->ctx->auth);
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	if (bound) {
		PGresult *n = NULL;
		long have = -1;
		if (image_owner_lock(r, img.owner, err, sizeof(err)) == 0 &&
		    (n = DBQ(r->ctx->db, err, sizeof err,
		             "SELECT count(*) FROM images WHERE owner = $1", img.owner)))
			have = db_long(n, 0, 0, -1);
		PQclear(n);
		if (have < 0) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (have >= IMAGE_MAX_PER_PROJECT) {
			resp_error(r, w, 413, "Maximum number of images (%d) exceeded.",
			           IMAGE_MAX_PER_PROJECT);
			goto out;
		}
	}
	int rc = image_store(r, &img, 1, err, sizeof(err));
	if (rc == 0 && db_commit(r->ctx->db) < 0) {
		snprintf(err, sizeof(err), "commit failed");
		rc = -EIO;
	}
	if (rc == -EEXIST)
		resp_error(r, w, 409, "Image with identifier %s already exists!", img.id);
	else if (rc < 0)
		resp_db_error(r, w, err);
	else
		resp_json(w, 201, image_to_json(&img));
out:
	image_release(&img);
}

static const struct {
	const char *type;
	enum patch_dialect dialect;
} patch_types[] = {
    {"application/openstack-images-v2.0-json-patch", PATCH_V20},
    {"application/openstack-images-v2.1-json-patch", PATCH_V21},
};

static enum patch_dialect patch_content_type(struct req *r)
{
	const char *ct = req_header(r, "Content-Type");
	for (size_t i = 0; ct && i < sizeof(patch_types) / sizeof(patch_types[0]); i++) {
		size_t n = strlen(patch_types[i].type);
		if (!strncasecmp(ct, patch_types[i].type, n) && (!ct[n] || ct[n] == ';'))
			return patch_types[i].dialect;
	}
	return PATCH_NONE;
}

static void images_update(struct req *r, struct resp *w)
{
	struct image img = {0};
	struct attr_ctx c = {.r = r};
	char err[256];
	enum patch_dialect dialect = patch_content_type(r);
	if (dialect == PATCH_NONE) {
		resp_error(r, w, 415, "Image PATCH expects Content-Type one of: %s, %s",
		           patch_types[0].type, patch_types[1].type);
		resp_header(w, "Accept-Patch",
		            "application/openstack-images-v2.0-json-patch,"
		            " application/openstack-images-v2.1-json-patch");
		return;
	}
	if (!json_is_array(r->json) || json_array_size(r->json) > IMAGE_MAX_PATCH_OPS) {
		resp_error(r, w, 400, "request body must be a list of at most %d patch operations",
		           IMAGE_MAX_PATCH_OPS);
		return;
	}
	size_t nops = json_array_size(r->json);
	struct patch *ops = xcalloc(nops ? nops : 1, sizeof(*ops));
	for (size_t i = 0; i < nops; i++)
		if (patch_parse(json_array_get(r->json, i), dialect, &ops[i], &c) < 0) {
			resp_error(r, w, c.status, "%s", c.err);
			goto out;
		}
	if (image_find_writable(r, w, 1, "modify", &img) < 0)
		goto out;
	for (size_t i = 0; i < nops; i++)
		if (patch_apply(&img, &ops[i], &c) < 0) {
			resp_error(r, w, c.status, "%s", c.err);
			goto out;
		}
	if (image_store(r, &img, 0, err, sizeof(err)) < 0 || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	resp_json(w, 200, image_to_json(&img));
out:
	free(ops);
	image_release(&img); /* db_release rolls back what was not committed */
}

static void images_delete(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[256];
	if (image_find_writable(r, w, 1, "delete", &img) < 0)
		goto out;
	if (img.protected_) {
		resp_error(r, w, 403, "Image %s is protected and cannot be deleted.", img.id);
		goto out;
	}
	if (image_destroy(r, &img, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	resp_empty(w, 204);
out:
	image_release(&img);
}

int image_destroy(struct req *r, const struct image *img, char *err, size_t errlen)
{
	if (DBX(r->ctx->db, err, errlen, "DELETE FROM images WHERE id = $1", img->id) < 0 ||
	    db_commit(r->ctx->db) < 0)
		return -EIO;
	/* After the commit: a crash or a store that is down in between leaves orphan
	 * bytes, never a row without its bytes. */
	char why[512];
	if (image_store_for(r)->remove(r, img->id, why, sizeof(why)) < 0)
		log_warn("image %s: cannot remove its bytes (%s store): %s", img->id,
		         image_store_for(r)->name, why);
	return 0;
}

/* PUT and DELETE /images/{id}/tags/{tag}. */
static void tag_change(struct req *r, struct resp *w, int add)
{
	struct image img = {0};
	struct attr_ctx c = {.r = r};
	char err[256];
	json_t *tag = json_string(r->params[1]);
	if (!tag || strlen(r->params[1]) > 255 || !tag_ok(r->params[1])) {
		resp_error(r, w, 400, "a tag must be 1 to 255 bytes");
		goto out;
	}
	if (image_find_writable(r, w, 1, "modify", &img) < 0)
		goto out;
	int present = tags_contain(img.tags, r->params[1]);
	if (present == add) { /* adding a tag twice is fine; removing an absent one is not */
		if (add)
			resp_empty(w, 204);
		else
			resp_error(r, w, 404, "Tag %s not found", r->params[1]);
		goto out;
	}
	struct patch p = {.op = add ? PATCH_ADD : PATCH_REMOVE, .nseg = 2, .value = tag};
	snprintf(p.seg[0], sizeof(p.seg[0]), "tags");
	snprintf(p.seg[1], sizeof(p.seg[1]), "-");
	size_t i;
	json_t *t;
	json_array_foreach(img.tags, i, t)
	{
		if (!strcmp(json_string_value(t), r->params[1]))
			snprintf(p.seg[1], sizeof(p.seg[1]), "%zu", i);
	}
	if (patch_tag_element(&img, &p, &c) < 0) {
		resp_error(r, w, c.status, "%s", c.err);
		goto out;
	}
	if (image_store(r, &img, 0, err, sizeof(err)) < 0 || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	resp_empty(w, 204);
out:
	json_decref(tag);
	image_release(&img);
}

static void tags_add(struct req *r, struct resp *w)
{
	tag_change(r, w, 1);
}

static void tags_remove(struct req *r, struct resp *w)
{
	tag_change(r, w, 0);
}

/* ---- list -------------------------------------------------------------------------- */

/* Sort keys clients may name, and the SQL expression each sorts by (NULLs folded so
 * that marker comparisons stay total). */
static const struct {
	const char *key, *expr;
} sort_keys[] = {
    {"created_at", "created_at"},
    {"updated_at", "updated_at"},
    {"name", "COALESCE(name, '')"},
    {"id", "id"},
    {"status", "status"},
    {"size", "COALESCE(size, -1)"},
    {"virtual_size", "COALESCE(virtual_size, -1)"},
    {"disk_format", "COALESCE(disk_format, '')"},
    {"container_format", "COALESCE(container_format, '')"},
    {"visibility", "visibility"},
    {"owner", "COALESCE(owner, '')"},
    {"min_disk", "min_disk"},
    {"min_ram", "min_ram"},
};

/* The list query under construction: SQL text plus parameters borrowed from the
 * request (query-string values and the caller's project id). */
struct list_query {
	char sql[4096];
	const char *params[20 + 2 * IMAGE_LIST_PROP_FILTERS];
	int n;
	char *next; /* owned query string of the next-page link, filters kept; NULL = "" */
};

static void lq_sql(struct list_query *q, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lq_sql(struct list_query *q, const char *fmt, ...)
{
	size_t len = strlen(q->sql);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(q->sql + len, sizeof(q->sql) - len, fmt, ap);
	va_end(ap);
}

/* Adds a parameter and returns its $ number. */
static int lq_param(struct list_query *q, const char *v)
{
	q->params[q->n] = v;
	return ++q->n;
}

/* Keeps key=v in the next link's query. */
static void lq_keep(struct list_query *q, const char *key, const char *v)
{
	q->next = wire_query_append(q->next, key, v);
}

static int parse_sort(struct req *r, const char **expr, const char **dir, char *err, size_t errlen)
{
	static char const *const dirs[] = {"asc", "desc", NULL};
	const char *key = req_query(r, "sort_key"), *d = req_query(r, "sort_dir");
	char kbuf[64] = "", dbuf[16] = "";
	const char *sort = req_query(r, "sort"); /* "key[:dir][,key2...]": first key only */
	if (sort && !key) {
		size_t n = strcspn(sort, ":,");
		snprintf(kbuf, sizeof(kbuf), "%.*s", (int)(n < 63 ? n : 63), sort);
		key = kbuf;
		if (sort[n] == ':') {
			size_t m = strcspn(sort + n + 1, ",");
			snprintf(dbuf, sizeof(dbuf), "%.*s", (int)(m < 15 ? m : 15), sort + n + 1);
			d = dbuf;
		}
	}
	*expr = "created_at";
	if (key) {
		*expr = NULL;
		for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++)
			if (!strcmp(key, sort_keys[i].key))
				*expr = sort_keys[i].expr;
		if (!*expr) {
			snprintf(err, errlen, "Unsupported sort_key '%s'", key);
			return -EINVAL;
		}
	}
	*dir = "DESC";
	if (d) {
		if (!one_of(d, dirs)) {
			snprintf(err, errlen, "sort_dir must be asc or desc");
			return -EINVAL;
		}
		*dir = strcmp(d, "asc") ? "DESC" : "ASC";
	}
	return 0;
}

int image_list_prop_filter(const char *key)
{
	static const char *const list_params[] = {
	    "limit",         "marker", "sort_key", "sort_dir", "sort",
	    "member_status", "tag",    "size_min", "size_max", NULL};
	return !one_of(key, list_params) && image_prop_key_free(key);
}

/* Glance's filters by extra properties (Nova's backup rotation lists
 * image_type=backup&backup_type=daily&instance_uuid=...): each other key of the query
 * with a value. 0, or -EINVAL with err (a 400) past IMAGE_LIST_PROP_FILTERS. */
static int list_prop_filters(struct req *r, struct list_query *q, char *err, size_t errlen)
{
	enum { MAX_PAIRS = 64 };
	const char *keys[MAX_PAIRS], *vals[MAX_PAIRS];
	int n = req_query_pairs(r, keys, vals, MAX_PAIRS), props = 0;
	if (n > MAX_PAIRS) {
		snprintf(err, errlen, "Too many query parameters (at most %d)", MAX_PAIRS);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (!vals[i] || !image_list_prop_filter(keys[i]))
			continue;
		if (++props > IMAGE_LIST_PROP_FILTERS) {
			snprintf(err, errlen, "Too many property filters (at most %d)",
			         IMAGE_LIST_PROP_FILTERS);
			return -EINVAL;
		}
		int k = lq_param(q, keys[i]);
		lq_sql(q, " AND properties->>$%d = $%d", k, lq_param(q, vals[i]));
		lq_keep(q, keys[i], vals[i]);
	}
	return 0;
}

/* Builds the rows listed (FROM ...) and the WHERE clause from the filters. 0, or
 * -EINVAL with err (a 400). */
static int list_filters(struct req *r, struct list_query *q, char *err, size_t errlen)
{
	static const char *const vis_filter[] = {"public",    "private", "shared",
	                                         "community", "all",     NULL};
	int admin = policy_is_admin(&r->ctx->auth);
	const char *vis = req_query(r, "visibility");
	if (vis && !one_of(vis, vis_filter)) {
		snprintf(err, errlen, "Invalid visibility value: %s", vis);
		return -EINVAL;
	}
	static const char *const member_statuses[] = {"pending", "accepted", "rejected", "all",
	                                              NULL};
	const char *ms = req_query(r, "member_status");
	if (ms && !one_of(ms, member_statuses)) {
		snprintf(err, errlen, "Invalid status: %s", ms);
		return -EINVAL;
	}
	/* Glance: a shared image is listed to a member only with the membership status
	 * asked for (accepted unless member_status says otherwise); without a visibility
	 * filter, community images only when the caller owns them. An admin lists every
	 * image (walking images_created in order); anyone else the union of three disjoint
	 * arms each served by an index (public and community: images_shared; its own:
	 * images_owner; shared with it: image_members_member, then the images key), as one
	 * OR with the membership EXISTS would read and sort the whole table (test_explain).
	 * The union takes the table's name, so the filters below read the same either way. */
	int p = 0;
	if (!admin || !vis)
		p = lq_param(q, r->ctx->auth.project_id);
	if (admin) {
		lq_sql(q, "images WHERE true");
	} else {
		int m = lq_param(q, ms ? ms : "accepted");
		lq_sql(q,
		       "(SELECT * FROM images WHERE visibility IN ('public', 'community')"
		       " UNION ALL SELECT * FROM images WHERE owner = $%d"
		       " AND visibility NOT IN ('public', 'community')"
		       " UNION ALL SELECT s.* FROM image_members mb JOIN images s ON s.id = "
		       "mb.image_id"
		       " WHERE mb.member = $%d AND ($%d = 'all' OR mb.status = $%d)"
		       " AND s.visibility = 'shared' AND s.owner IS DISTINCT FROM $%d) images"
		       " WHERE true",
		       p, p, m, m, p);
	}
	if (!vis)
		lq_sql(q, " AND (visibility <> 'community' OR owner = $%d)", p);
	else if (strcmp(vis, "all"))
		lq_sql(q, " AND visibility = $%d", lq_param(q, vis));
	if (vis)
		lq_keep(q, "visibility", vis);
	if (ms)
		lq_keep(q, "member_status", ms);
	static const struct {
		const char *key, *cond;
	} eq[] = {
	    {"name", "name = $%d"},
	    {"status", "status = $%d"},
	    {"owner", "owner = $%d"},
	    {"tag", "tags ? $%d"},
	    {"disk_format", "disk_format = $%d"},
	    {"container_format", "container_format = $%d"},
	};
	for (size_t i = 0; i < sizeof(eq) / sizeof(eq[0]); i++) {
		const char *v = req_query(r, eq[i].key);
		if (!v)
			continue;
		lq_sql(q, " AND ");
		lq_sql(q, eq[i].cond, lq_param(q, v));
		lq_keep(q, eq[i].key, v);
	}
	static const struct {
		const char *key, *cond;
	} sizes[] = {
	    {"size", "size = $%d::bigint"},
	    {"size_min", "size >= $%d::bigint"},
	    {"size_max", "size <= $%d::bigint"},
	};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		const char *v = req_query(r, sizes[i].key);
		if (!v)
			continue;
		if (wire_nonneg(v) < 0) {
			snprintf(err, errlen, "filter %s got %.32s", sizes[i].key, v);
			return -EINVAL;
		}
		lq_sql(q, " AND ");
		lq_sql(q, sizes[i].cond, lq_param(q, v));
		lq_keep(q, sizes[i].key, v);
	}
	const char *prot = req_query(r, "protected");
	if (prot) {
		if (strcasecmp(prot, "true") && strcasecmp(prot, "false")) {
			snprintf(err, errlen, "protected must be true or false");
			return -EINVAL;
		}
		lq_sql(q, " AND protected = %s", strcasecmp(prot, "true") ? "false" : "true");
		lq_keep(q, "protected", prot);
	}
	const char *hidden = req_query(r, "os_hidden");
	if (hidden && !strcasecmp(hidden, "true"))
		lq_sql(q, " AND false"); /* no image is hidden */
	return list_prop_filters(r, q, err, errlen);
}

static void images_list(struct req *r, struct resp *w)
{
	struct list_query q = {.n = 0};
	struct image m = {0}; /* the marker, loaded: its id is the lowercased one */
	char err[256] = "";
	PGresult *res = NULL;
	long limit = LIST_DEFAULT_LIMIT;
	const char *ls = req_query(r, "limit"), *marker = req_query(r, "marker");
	if (ls) {
		limit = wire_nonneg(ls);
		if (limit < 0) {
			resp_error(r, w, 400, "limit must be a non-negative integer");
			return;
		}
		if (limit > LIST_MAX_LIMIT || limit == 0)
			limit = LIST_MAX_LIMIT;
	}
	const char *expr, *dir;
	if (parse_sort(r, &expr, &dir, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		return;
	}
	snprintf(q.sql, sizeof(q.sql), "SELECT " IMAGE_COLS " FROM ");
	if (list_filters(r, &q, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (marker) {
		int rc = image_load(r, marker, 0, &m, err, sizeof(err));
		if (rc == -ENOENT) {
			resp_error(r, w, 400, "marker could not be found: %s", marker);
			goto out;
		}
		if (rc < 0) {
			resp_db_error(r, w, err);
			goto out;
		}
		lq_sql(&q, " AND (%s, id) %s (SELECT %s, id FROM images WHERE id = $%d)", expr,
		       strcmp(dir, "ASC") ? "<" : ">", expr, lq_param(&q, m.id));
	}
	lq_sql(&q, " ORDER BY %s %s, id %s LIMIT %ld", expr, dir, dir, limit + 1);
	static const char *const sort_params[] = {"sort_key", "sort_dir", "sort"};
	for (size_t i = 0; i < sizeof(sort_params) / sizeof(sort_params[0]); i++)
		if (req_query(r, sort_params[i]))
			lq_keep(&q, sort_params[i], req_query(r, sort_params[i]));
	res = db_query(r->ctx->db, q.sql, q.n, q.params, err, sizeof(err), NULL);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	json_t *list = json_array();
	int rows = PQntuples(res);
	for (int i = 0; i < rows && i < limit; i++) {
		struct image img;
		image_from_row(res, i, &img);
		json_array_append_new(list, image_to_json(&img));
		image_release(&img);
	}
	json_t *body = json_pack("{s:o,s:s,s:s}", "images", list, "schema", "/v2/schemas/images",
	                         "first", "/v2/images");
	if (rows > limit) {
		char *next = xasprintf("/v2/images?limit=%ld&marker=%s%s", limit,
		                       db_val(res, (int)limit - 1, 0), q.next ? q.next : "");
		json_object_set_new(body, "next", json_string(next));
		free(next);
	}
	resp_json(w, 200, body);
out:
	image_release(&m);
	PQclear(res);
	free(q.next);
}

static const struct httpd_route routes[] = {
    {"GET", "/image/v2/images", images_list, POL_IMAGE_READ, 0},
    {"POST", "/image/v2/images", images_create, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/images/{}", images_show, POL_IMAGE_READ, 0},
    {"PATCH", "/image/v2/images/{}", images_update, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/images/{}", images_delete, POL_IMAGE_WRITE, 0},
    {"PUT", "/image/v2/images/{}/file", image_upload, POL_IMAGE_WRITE,
     HTTPD_STREAM_BODY | ROUTE_AGENT_OK, image_upload_may_stream},
    {"GET", "/image/v2/images/{}/file", image_download, POL_IMAGE_DOWNLOAD, ROUTE_AGENT_OK},
    {"PUT", "/image/v2/images/{}/tags/{}", tags_add, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/images/{}/tags/{}", tags_remove, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/schemas/image", image_schema_image, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/schemas/images", image_schema_images, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/images/{}/members", image_members_list, POL_IMAGE_READ, 0},
    {"POST", "/image/v2/images/{}/members", image_members_add, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/images/{}/members/{}", image_member_show, POL_IMAGE_READ, 0},
    {"PUT", "/image/v2/images/{}/members/{}", image_member_update, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/images/{}/members/{}", image_member_delete, POL_IMAGE_WRITE, 0},
    {"POST", "/image/v2/images/{}/actions/deactivate", image_deactivate, POL_IMAGE_WRITE, 0},
    {"POST", "/image/v2/images/{}/actions/reactivate", image_reactivate, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/schemas/member", image_schema_member, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/schemas/members", image_schema_members, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/schemas/metadefs/{}", metadef_schema, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/metadefs/resource_types", metadef_resource_types, POL_IMAGE_READ, 0},
    {"GET", "/image/v2/metadefs/namespaces", metadef_ns_list, POL_IMAGE_READ, 0},
    {"POST", "/image/v2/metadefs/namespaces", metadef_ns_create, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/metadefs/namespaces/{}", metadef_ns_show, POL_IMAGE_READ, 0},
    {"PUT", "/image/v2/metadefs/namespaces/{}", metadef_ns_update, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/metadefs/namespaces/{}", metadef_ns_delete, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/metadefs/namespaces/{}/{}", metadef_item_list, POL_IMAGE_READ, 0},
    {"POST", "/image/v2/metadefs/namespaces/{}/{}", metadef_item_create, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/metadefs/namespaces/{}/{}", metadef_item_clear, POL_IMAGE_WRITE, 0},
    {"GET", "/image/v2/metadefs/namespaces/{}/{}/{}", metadef_item_show, POL_IMAGE_READ, 0},
    {"POST", "/image/v2/metadefs/namespaces/{}/{}/{}", metadef_item_add, POL_IMAGE_WRITE, 0},
    {"PUT", "/image/v2/metadefs/namespaces/{}/{}/{}", metadef_item_update, POL_IMAGE_WRITE, 0},
    {"DELETE", "/image/v2/metadefs/namespaces/{}/{}/{}", metadef_item_delete, POL_IMAGE_WRITE, 0},
};
HTTPD_TABLE(image_routes, routes, &image_hooks);

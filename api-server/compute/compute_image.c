/* The Compute API's image proxy (/images, deprecated by Nova at 2.36; the image
 * metadata subresources at 2.39): Nova's pre-Glance-v2 view of Nubo's own image store,
 * with Glance's visibility rules (image/image.h) and Glance's rule that only an
 * image's owner or an admin changes it. Image properties are the metadata. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/compute_image.h"
#include "image/image.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

#define IMAGES_UNTIL 36     /* first microversion without /images */
#define IMAGE_META_UNTIL 39 /* first microversion without /images/{id}/metadata */
#define IMAGE_META_MAX 128  /* Nova's maxImageMeta */
#define IMAGES_MAX_LIMIT 1000

const char *compute_image_status(const char *glance_status)
{
	static const struct {
		const char *glance, *nova;
	} map[] = {
	    {"active", "ACTIVE"},   {"queued", "SAVING"},          {"saving", "SAVING"},
	    {"deleted", "DELETED"}, {"pending_delete", "DELETED"}, {"killed", "ERROR"},
	};
	for (size_t i = 0; glance_status && i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(glance_status, map[i].glance))
			return map[i].nova;
	return "UNKNOWN";
}

int compute_image_progress(const char *glance_status)
{
	if (!glance_status)
		return 0;
	if (!strcmp(glance_status, "queued"))
		return 25;
	if (!strcmp(glance_status, "saving"))
		return 50;
	return !strcmp(glance_status, "active") ? 100 : 0;
}

/* 0 when the version still has the route (until: its first version without); else
 * answers 404 and returns -ENOENT. */
static int proxy_version(struct req *r, struct resp *w, int until)
{
	if (r->ctx->mv_minor < until)
		return 0;
	resp_error(r, w, 404, "The resource could not be found.");
	return -ENOENT;
}

/* Compute's links of an image: self, bookmark and the image service's own. */
static json_t *image_links(const struct req *r, const char *id)
{
	json_t *l = wire_compute_links(r->ctx->api->public_url, "images", id);
	char *alt = xasprintf("%s/image/images/%s", r->ctx->api->public_url, id);
	json_array_append_new(l, json_pack("{s:s,s:s,s:s}", "rel", "alternate", "type",
	                                   "application/vnd.openstack.image", "href", alt));
	free(alt);
	return l;
}

/* Nova's view of img: brief (id, name, links) or detailed. */
static json_t *image_view(const struct req *r, const struct image *img, int detail)
{
	json_t *v = json_pack("{s:s,s:o,s:o}", "id", img->id, "name",
	                      wire_string_or_null(img->name), "links", image_links(r, img->id));
	if (!detail)
		return v;
	json_t *meta = img->props ? json_deep_copy(img->props) : json_object();
	json_object_set_new(v, "minRam", json_integer(img->min_ram));
	json_object_set_new(v, "minDisk", json_integer(img->min_disk));
	json_object_set_new(v, "created", wire_string_or_null(img->created_at));
	json_object_set_new(v, "updated", wire_string_or_null(img->updated_at));
	json_object_set_new(v, "status", json_string(compute_image_status(img->status)));
	json_object_set_new(v, "progress", json_integer(compute_image_progress(img->status)));
	json_object_set_new(v, "OS-EXT-IMG-SIZE:size",
	                    img->size >= 0 ? json_integer(img->size) : json_null());
	const char *server = json_string_value(json_object_get(meta, "instance_uuid"));
	if (server) {
		json_t *sl = wire_compute_links(r->ctx->api->public_url, "servers", server);
		json_object_set_new(v, "server", json_pack("{s:s,s:o}", "id", server, "links", sl));
	}
	const char *adc = json_string_value(json_object_get(meta, "auto_disk_config"));
	if (adc)
		json_object_set_new(v, "OS-DCF:diskConfig",
		                    json_string(wire_bool(adc) == 1 ? "AUTO" : "MANUAL"));
	json_object_set_new(v, "metadata", meta);
	return v;
}

/* The filters of Nova's image list: query parameter, the SQL it adds ($%d is its
 * parameter) and how the value is read. */
enum filter_kind { F_TEXT, F_LOWER, F_SERVER, F_INT, F_TIME };
static const struct {
	const char *param, *sql;
	enum filter_kind kind;
} filters[] = {
    {"name", " AND name = $%d", F_TEXT},
    {"status", " AND status = $%d", F_LOWER},
    {"changes-since", " AND updated_at >= to_timestamp($%d::bigint)", F_TIME},
    {"server", " AND properties->>'instance_uuid' = $%d", F_SERVER},
    {"type", " AND properties->>'image_type' = $%d", F_TEXT},
    {"minRam", " AND min_ram >= $%d::int", F_INT},
    {"minDisk", " AND min_disk >= $%d::int", F_INT},
};

#define LIST_PARAMS_MAX 16

struct list_query {
	char *sql;
	const char *params[LIST_PARAMS_MAX];
	char owned[LIST_PARAMS_MAX][64];
	int n;
};

/* Adds parameter v (borrowed, or copied when own) and returns its number. */
static int lq_add(struct list_query *q, const char *v, int own)
{
	if (own) {
		snprintf(q->owned[q->n], sizeof(q->owned[0]), "%s", v);
		v = q->owned[q->n];
	}
	q->params[q->n++] = v;
	return q->n;
}

static void lq_sql(struct list_query *q, const char *fmt, int p)
{
	char *more = xasprintf(fmt, p, p, p);
	char *s = xasprintf("%s%s", q->sql ? q->sql : "", more);
	free(q->sql);
	free(more);
	q->sql = s;
}

/* Builds the list query of the request, paging after image marker (the id of an
 * image the caller sees, or NULL). 0, or -EINVAL with a message in err. */
static int list_query_build(struct req *r, struct list_query *q, const char *marker, long *limit,
                            char *err, size_t errlen)
{
	int admin = policy_is_admin(&r->ctx->auth);
	lq_sql(q, "SELECT " IMAGE_COLS " FROM images WHERE true", 0);
	if (!admin) /* Glance's list: public, own, and shared with the caller (accepted) */
		lq_sql(q,
		       " AND (visibility = 'public' OR owner = $%d OR (visibility = 'shared' AND"
		       " EXISTS (SELECT 1 FROM image_members mb WHERE mb.image_id = images.id AND"
		       " mb.member = $%d AND mb.status = 'accepted')))",
		       lq_add(q, r->ctx->auth.project_id, 0));
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		const char *v = req_query(r, filters[i].param);
		char buf[64];
		if (!v)
			continue;
		switch (filters[i].kind) {
		case F_LOWER:
			snprintf(buf, sizeof(buf), "%s", v);
			for (char *c = buf; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			lq_sql(q, filters[i].sql, lq_add(q, buf, 1));
			break;
		case F_SERVER: { /* an id or a link ending in it */
			const char *slash = strrchr(v, '/');
			lq_sql(q, filters[i].sql, lq_add(q, slash ? slash + 1 : v, 0));
			break;
		}
		case F_INT:
			if (wire_nonneg(v) < 0) {
				snprintf(err, errlen, "Invalid %s filter [%s]", filters[i].param,
				         v);
				return -EINVAL;
			}
			lq_sql(q, filters[i].sql, lq_add(q, v, 0));
			break;
		case F_TIME: {
			time_t t;
			if (time_parse_iso(v, &t) < 0) {
				snprintf(err, errlen, "Invalid changes-since value");
				return -EINVAL;
			}
			snprintf(buf, sizeof(buf), "%lld", (long long)t);
			lq_sql(q, filters[i].sql, lq_add(q, buf, 1));
			break;
		}
		default:
			lq_sql(q, filters[i].sql, lq_add(q, v, 0));
		}
	}
	if (marker) /* loaded by the caller with Glance's visibility rule: its lowercased id */
		lq_sql(q,
		       " AND (created_at, id) < (SELECT created_at, id FROM images m WHERE m.id = "
		       "$%d)",
		       lq_add(q, marker, 0));
	long l = wire_nonneg(req_query(r, "limit"));
	if (l == -EINVAL) {
		snprintf(err, errlen, "limit param must be an integer");
		return -EINVAL;
	}
	*limit = l >= 0 && l < IMAGES_MAX_LIMIT ? l : IMAGES_MAX_LIMIT;
	char lim[24];
	snprintf(lim, sizeof(lim), "%ld", *limit);
	lq_sql(q, " ORDER BY created_at DESC, id DESC LIMIT $%d::int", lq_add(q, lim, 1));
	return 0;
}

static void images_list_common(struct req *r, struct resp *w, int detail)
{
	struct list_query q = {0};
	struct image m = {0};
	char err[256] = "";
	long limit;
	if (proxy_version(r, w, IMAGES_UNTIL) < 0)
		goto out;
	const char *marker = req_query(r, "marker");
	if (marker) { /* Glance's visibility rule: another project's private id is unknown */
		int rc = image_load(r, marker, 0, &m, err, sizeof(err));
		if (rc == -ENOENT) {
			resp_error(r, w, 400, "marker [%s] not found", marker);
			goto out;
		}
		if (rc < 0) {
			resp_db_error(r, w, err);
			goto out;
		}
	}
	if (list_query_build(r, &q, marker ? m.id : NULL, &limit, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	PGresult *res = db_query(r->ctx->db, q.sql, q.n, q.params, err, sizeof(err), NULL);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		struct image img = {0};
		image_from_row(res, i, &img);
		json_array_append_new(a, image_view(r, &img, detail));
		image_release(&img);
	}
	json_t *body = json_pack("{s:o}", "images", a);
	int n = PQntuples(res);
	if (limit > 0 && n == limit) {
		char *href = xasprintf("%s/compute/v2.1/images%s?limit=%ld&marker=%s",
		                       r->ctx->api->public_url, detail ? "/detail" : "", limit,
		                       db_val(res, n - 1, 0));
		json_object_set_new(body, "images_links",
		                    json_pack("[{s:s,s:s}]", "rel", "next", "href", href));
		free(href);
	}
	PQclear(res);
	resp_json(w, 200, body);
out:
	image_release(&m);
	free(q.sql);
}

static void images_list(struct req *r, struct resp *w)
{
	images_list_common(r, w, 0);
}

static void images_detail(struct req *r, struct resp *w)
{
	images_list_common(r, w, 1);
}

/* Loads image id as the caller sees it (for_update: locked, inside a transaction the
 * caller began). 0; or answers Nova's 404 "Image not found." (or 500) and returns a
 * negative errno. img must be released either way. */
static int proxy_image(struct req *r, struct resp *w, const char *id, int for_update,
                       struct image *img)
{
	char err[256] = "";
	int rc = image_load(r, id, for_update, img, err, sizeof(err));
	if (rc == -ENOENT)
		resp_error(r, w, 404, "Image not found.");
	else if (rc < 0)
		resp_db_error(r, w, err);
	return rc;
}

static void images_show(struct req *r, struct resp *w)
{
	struct image img = {0};
	if (proxy_version(r, w, IMAGES_UNTIL) == 0 && proxy_image(r, w, r->params[0], 0, &img) == 0)
		resp_json(w, 200, json_pack("{s:o}", "image", image_view(r, &img, 1)));
	image_release(&img);
}

static void images_delete(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[256] = "";
	if (proxy_version(r, w, IMAGES_UNTIL) < 0)
		goto out;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	if (proxy_image(r, w, r->params[0], 1, &img) < 0)
		goto out;
	if (!image_may_modify(r, &img) || img.protected_) {
		resp_error(r, w, 403, "You are not allowed to delete the image.");
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

/* ---- /images/{id}/metadata ---- */

/* 1 when the metadata map m holds only Nova's keys and string values. */
static int meta_ok(const json_t *m)
{
	const char *k;
	json_t *v;
	if (!json_is_object(m))
		return 0;
	json_object_foreach((json_t *)m, k, v)
	{
		if (!wire_charset_ok(k, 255, "-_:. ") || !json_is_string(v) ||
		    json_string_length(v) > 255)
			return 0;
	}
	return 1;
}

static void meta_list(struct req *r, struct resp *w)
{
	struct image img = {0};
	if (proxy_version(r, w, IMAGE_META_UNTIL) == 0 &&
	    proxy_image(r, w, r->params[0], 0, &img) == 0)
		resp_json(w, 200, json_pack("{s:O}", "metadata", img.props));
	image_release(&img);
}

static void meta_show(struct req *r, struct resp *w)
{
	struct image img = {0};
	if (proxy_version(r, w, IMAGE_META_UNTIL) < 0 ||
	    proxy_image(r, w, r->params[0], 0, &img) < 0)
		goto out;
	json_t *v = json_object_get(img.props, r->params[1]);
	if (!v)
		resp_error(r, w, 404, "The resource could not be found.");
	else
		resp_json(w, 200, json_pack("{s:{s:O}}", "meta", r->params[1], v));
out:
	image_release(&img);
}

/* How a metadata write changes the properties. */
enum meta_op { META_MERGE, META_REPLACE, META_ONE, META_DELETE };

/* The writes: POST merges, PUT replaces all, PUT /{key} sets one, DELETE /{key}
 * removes one; all as the owner (or an admin) of the image, as Glance allows. */
static void meta_write(struct req *r, struct resp *w, enum meta_op op)
{
	struct image img = {0};
	char err[256] = "";
	json_t *in = NULL, *props = NULL;
	const char *key = r->nparams > 1 ? r->params[1] : NULL;
	if (proxy_version(r, w, IMAGE_META_UNTIL) < 0)
		goto out;
	if (op == META_ONE) {
		in = json_object_get(r->json, "meta");
		if (!meta_ok(in) || json_object_size(in) != 1 || json_object_size(r->json) != 1) {
			resp_error(r, w, 400, "Invalid input for field/attribute meta.");
			goto out;
		}
		if (!json_object_get(in, key)) {
			resp_error(r, w, 400, "Request body and URI mismatch");
			goto out;
		}
	} else if (op != META_DELETE) {
		in = json_object_get(r->json, "metadata");
		if (!meta_ok(in) || json_object_size(r->json) != 1) {
			resp_error(r, w, 400, "Invalid input for field/attribute metadata.");
			goto out;
		}
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	if (proxy_image(r, w, r->params[0], 1, &img) < 0)
		goto out;
	props = op == META_REPLACE ? json_object() : json_deep_copy(img.props);
	if (op == META_DELETE) {
		if (json_object_del(props, key) < 0) {
			resp_error(r, w, 404, "Invalid metadata key");
			goto out;
		}
	} else {
		json_object_update(props, in);
	}
	if (!image_may_modify(r, &img)) {
		resp_error(r, w, 403, "You are not authorized to access image %s.", img.id);
		goto out;
	}
	if (json_object_size(props) > IMAGE_META_MAX) {
		resp_error(r, w, 403,
		           "Quota exceeded for metadata items: Image metadata limit "
		           "exceeded");
		goto out;
	}
	const char *bad = compute_image_reserved(props);
	if (bad) { /* Glance refuses a property named like one of its attributes */
		resp_error(r, w, 403, "Attribute '%s' is reserved.", bad);
		goto out;
	}
	char *text = json_dumps(props, JSON_COMPACT);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE images SET properties = $2::jsonb, updated_at = now() WHERE id = $1",
	            img.id, text);
	free(text);
	if (n < 0 || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (op == META_DELETE)
		resp_empty(w, 204);
	else if (op == META_ONE)
		resp_json(w, 200, json_pack("{s:O}", "meta", in));
	else
		resp_json(w, 200, json_pack("{s:O}", "metadata", op == META_REPLACE ? in : props));
out:
	json_decref(props);
	image_release(&img);
}

const char *compute_image_reserved(const json_t *props)
{
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)props, k, v)
	{
		if (!image_prop_key_free(k))
			return k;
	}
	return NULL;
}

static void meta_create(struct req *r, struct resp *w)
{
	meta_write(r, w, META_MERGE);
}

static void meta_replace(struct req *r, struct resp *w)
{
	meta_write(r, w, META_REPLACE);
}

static void meta_set(struct req *r, struct resp *w)
{
	meta_write(r, w, META_ONE);
}

static void meta_delete(struct req *r, struct resp *w)
{
	meta_write(r, w, META_DELETE);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/images", images_list, POL_IMAGE_READ, 0},
    {"GET", C "/images/detail", images_detail, POL_IMAGE_READ, 0},
    {"GET", C "/images/{}", images_show, POL_IMAGE_READ, 0},
    {"DELETE", C "/images/{}", images_delete, POL_IMAGE_WRITE, 0},
    {"GET", C "/images/{}/metadata", meta_list, POL_IMAGE_READ, 0},
    {"POST", C "/images/{}/metadata", meta_create, POL_IMAGE_WRITE, 0},
    {"PUT", C "/images/{}/metadata", meta_replace, POL_IMAGE_WRITE, 0},
    {"GET", C "/images/{}/metadata/{}", meta_show, POL_IMAGE_READ, 0},
    {"PUT", C "/images/{}/metadata/{}", meta_set, POL_IMAGE_WRITE, 0},
    {"DELETE", C "/images/{}/metadata/{}", meta_delete, POL_IMAGE_WRITE, 0},
};
HTTPD_TABLE(compute_image_routes, routes, &compute_hooks);

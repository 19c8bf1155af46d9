/* Metadata definitions (Glance's metadefs): /image/v2/metadefs/namespaces and, inside
 * a namespace, its objects, properties, tags and resource-type associations; the
 * resource types themselves (/metadefs/resource_types); and their schemas. A catalog
 * of the properties images, flavors and servers may carry, kept for the clients that
 * show it (Horizon, Tempest): nothing in Nubo acts on it. Admins write; everyone reads
 * the public namespaces, a project also its own private ones. The four item kinds
 * share one table and one set of handlers, told apart by a row of item_kinds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

#define NS_NAME_MAX 80
#define ITEM_NAME_MAX 255
#define NS_MAX_ITEMS 1024 /* items of one kind in one namespace */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* ---- item kinds -------------------------------------------------------------------- */

struct item_kind {
	const char *kind;     /* metadef_items.kind */
	const char *coll;     /* URL segment */
	const char *list_key; /* key of the list in a list answer */
	const char *schema;   /* schema of one item */
	const char *list_schema;
	int as_map; /* listed as an object name -> definition (properties) */
	int bulk;   /* POST on the collection takes {"tags": [...]}, DELETE clears it */
};

static const struct item_kind item_kinds[] = {
    {"object", "objects", "objects", "/v2/schemas/metadefs/object", "/v2/schemas/metadefs/objects",
     0, 0},
    {"property", "properties", "properties", "/v2/schemas/metadefs/property",
     "/v2/schemas/metadefs/properties", 1, 0},
    {"tag", "tags", "tags", "/v2/schemas/metadefs/tag", "/v2/schemas/metadefs/tags", 0, 1},
    {"resource_type", "resource_types", "resource_type_associations",
     "/v2/schemas/metadefs/resource_type", "/v2/schemas/metadefs/resource_types", 0, 0},
};

static const struct item_kind *kind_of(const char *coll)
{
	for (size_t i = 0; i < sizeof(item_kinds) / sizeof(item_kinds[0]); i++)
		if (!strcmp(item_kinds[i].coll, coll))
			return &item_kinds[i];
	return NULL;
}

/* The resource types this cloud has: what its images, flavors and servers are. */
static const char *const resource_types[] = {"OS::Glance::Image", "OS::Nova::Flavor",
                                             "OS::Nova::Server"};

/* ---- helpers ----------------------------------------------------------------------- */

static int is_admin(const struct req *r)
{
	return policy_is_admin(&r->ctx->auth);
}

/* A name of 1..max bytes without '/' (it becomes a URL segment). */
static int name_ok(const char *s, size_t max)
{
	return s && *s && strlen(s) <= max && !strchr(s, '/');
}

/* Checks that namespace ns exists and the caller may see it (write: and change it).
 * 0, or a negative errno after answering (404, 403, 500). */
static int ns_check(struct req *r, struct resp *w, const char *ns, int write)
{
	char err[256];
	if (write && !is_admin(r)) {
		resp_error(r, w, 403, "You are not authorized to modify metadata definitions.");
		return -EACCES;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT 1 FROM metadef_namespaces WHERE namespace = $1 AND ($2::boolean"
	                    " OR visibility = 'public' OR owner = $3)",
	                    ns, is_admin(r) ? "true" : "false", r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		resp_error(r, w, 404, "Metadata definition namespace=%s was not found.", ns);
		return -ENOENT;
	}
	return 0;
}

/* The body a client sent for an item, without what the server computes; name set. */
static json_t *item_body(const json_t *in, const char *name)
{
	static const char *const computed[] = {"created_at", "updated_at", "schema", "self"};
	json_t *b = json_is_object(in) ? json_deep_copy(in) : json_object();
	for (size_t i = 0; i < sizeof(computed) / sizeof(computed[0]); i++)
		json_object_del(b, computed[i]);
	json_object_set_new(b, "name", json_string(name));
	return b;
}

/* One item row (body, created, updated) as the API shows it. */
static json_t *item_to_json(const struct item_kind *k, const char *ns, const PGresult *res, int row)
{
	json_t *j = json_loads(db_val(res, row, 0), 0, NULL);
	if (!json_is_object(j)) {
		json_decref(j);
		j = json_object();
	}
	json_object_set_new(j, "created_at", json_string(db_val(res, row, 1)));
	json_object_set_new(j, "updated_at", json_string(db_val(res, row, 2)));
	if (strcmp(k->kind, "tag") && strcmp(k->kind, "resource_type")) {
		json_object_set_new(j, "schema", json_string(k->schema));
		const char *name = json_string_value(json_object_get(j, "name"));
		char *self =
		    xasprintf("/v2/metadefs/namespaces/%s/%s/%s", ns, k->coll, name ? name : "");
		json_object_set_new(j, "self", json_string(self));
		free(self);
	}
	return j;
}

#define ITEM_COLS "body::text, " TS("created_at") ", " TS("updated_at")

/* Inserts item (kind k, name) with body into ns. 0, -EEXIST, or -EIO with err. */
static int item_insert(struct req *r, const struct item_kind *k, const char *ns, const char *name,
                       const json_t *body, char *err, size_t errlen)
{
	char *text = json_dumps(body, JSON_COMPACT), max[16];
	snprintf(max, sizeof(max), "%d", NS_MAX_ITEMS);
	PGresult *res = DBQ(r->ctx->db, err, errlen,
	                    "INSERT INTO metadef_items (namespace, kind, name, body) SELECT $1, $2,"
	                    " $3, $4::jsonb WHERE (SELECT count(*) FROM metadef_items WHERE"
	                    " namespace = $1 AND kind = $2) < $5::int ON CONFLICT DO NOTHING"
	                    " RETURNING 1",
	                    ns, k->kind, name, text, max);
	free(text);
	if (!res)
		return -EIO;
	int n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : -EEXIST;
}

/* Answers a failed item_insert: 409 for a duplicate, 500 otherwise. */
static void insert_failed(struct req *r, struct resp *w, const struct item_kind *k, int rc,
                          const char *name, const char *ns, const char *err)
{
	if (rc == -EEXIST)
		resp_error(r, w, 409,
		           "A metadata definition %s with name=%s already exists in namespace=%s"
		           " (or the namespace holds %d of them).",
		           k->kind, name, ns, NS_MAX_ITEMS);
	else
		resp_db_error(r, w, err);
}

/* ---- namespaces -------------------------------------------------------------------- */

#define NS_COLS                                                                                    \
	"namespace, display_name, description, visibility, protected, owner, " TS(                 \
	    "created_at") ", " TS("updated_at")

static json_t *ns_to_json(const PGresult *res, int row)
{
	const char *ns = db_val(res, row, 0);
	json_t *j = json_object();
	json_object_set_new(j, "namespace", json_string(ns));
	json_object_set_new(j, "display_name", wire_string_or_null(db_val(res, row, 1)));
	json_object_set_new(j, "description", wire_string_or_null(db_val(res, row, 2)));
	json_object_set_new(j, "visibility", json_string(db_val(res, row, 3)));
	json_object_set_new(j, "protected", json_boolean(db_val(res, row, 4)[0] == 't'));
	json_object_set_new(j, "owner", wire_string_or_null(db_val(res, row, 5)));
	json_object_set_new(j, "created_at", json_string(db_val(res, row, 6)));
	json_object_set_new(j, "updated_at", json_string(db_val(res, row, 7)));
	json_object_set_new(j, "schema", json_string("/v2/schemas/metadefs/namespace"));
	char *self = xasprintf("/v2/metadefs/namespaces/%s", ns);
	json_object_set_new(j, "self", json_string(self));
	free(self);
	return j;
}

/* Adds to j the items of ns, each kind under its list key (omitted when empty). */
static int ns_add_items(struct req *r, const char *ns, json_t *j, char *err, size_t errlen)
{
	PGresult *res = DBQ(r->ctx->db, err, errlen,
	                    "SELECT kind, " ITEM_COLS " FROM metadef_items WHERE namespace = $1"
	                    " ORDER BY kind, name",
	                    ns);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res); i++) {
		const struct item_kind *k = NULL;
		for (size_t n = 0; n < sizeof(item_kinds) / sizeof(item_kinds[0]); n++)
			if (!strcmp(item_kinds[n].kind, db_val(res, i, 0)))
				k = &item_kinds[n];
		if (!k)
			continue;
		json_t *item = json_loads(db_val(res, i, 1), 0, NULL);
		if (!json_is_object(item)) {
			json_decref(item);
			continue;
		}
		json_t *coll = json_object_get(j, k->list_key);
		if (!coll) {
			coll = k->as_map ? json_object() : json_array();
			json_object_set_new(j, k->list_key, coll);
		}
		if (k->as_map) {
			const char *name = json_string_value(json_object_get(item, "name"));
			json_object_set_new(coll, name ? name : "", item);
		} else {
			json_array_append_new(coll, item);
		}
	}
	PQclear(res);
	return 0;
}

/* The namespace attributes a client may send, parsed once. */
struct ns_in {
	char *namespace, *display_name, *description, *visibility;
	int protected_;
	json_t *resource_types, *objects, *properties, *tags;
};

#define N(m) JF(struct ns_in, m)
static const struct jfield ns_fields[] = {
    {"namespace", J_STR, N(namespace), 0, NS_NAME_MAX, 1, 0, 0},
    {"display_name", J_STR, N(display_name), 0, 80, 0, 1, 0},
    {"description", J_STR, N(description), 0, 500, 0, 1, 0},
    {"visibility", J_STR, N(visibility), 0, 16, 0, 0, 0},
    {"protected", J_BOOL, N(protected_), 0, 0, 0, 0, JF_STRICT},
    {"resource_type_associations", J_ARRAY, N(resource_types), 0, 0, 0, 0, 0},
    {"objects", J_ARRAY, N(objects), 0, 0, 0, 0, 0},
    {"properties", J_OBJECT, N(properties), 0, 0, 0, 0, 0},
    {"tags", J_ARRAY, N(tags), 0, 0, 0, 0, 0},
};
#undef N

/* Parses a namespace body; NULL visibility stays "private". 0 or -EINVAL after 400. */
static int ns_parse(struct req *r, struct resp *w, struct ns_in *in)
{
	char err[256];
	memset(in, 0, sizeof(*in));
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "request body must be a JSON object");
		return -EINVAL;
	}
	if (jparse(r->json, ns_fields, JCOUNT(ns_fields), in, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		return -EINVAL;
	}
	if (!name_ok(in->namespace, NS_NAME_MAX)) {
		resp_error(r, w, 400, "namespace: must be 1 to %d bytes without '/'", NS_NAME_MAX);
		return -EINVAL;
	}
	if (in->visibility && strcmp(in->visibility, "public") &&
	    strcmp(in->visibility, "private")) {
		resp_error(r, w, 400, "visibility: must be public or private");
		return -EINVAL;
	}
	return 0;
}

/* Inserts the items a namespace body carries (create). 0 or negative after answering. */
static int ns_insert_items(struct req *r, struct resp *w, const struct ns_in *in)
{
	char err[256];
	const struct {
		const json_t *list;
		const char *coll;
	} lists[] = {
	    {in->resource_types, "resource_types"}, {in->objects, "objects"}, {in->tags, "tags"}};
	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		const struct item_kind *k = kind_of(lists[l].coll);
		size_t i;
		json_t *v;
		json_array_foreach(lists[l].list, i, v)
		{
			const char *name = json_string_value(json_object_get(v, "name"));
			if (!name_ok(name, ITEM_NAME_MAX)) {
				resp_error(r, w, 400, "%s: each needs a name of 1 to %d bytes",
				           k->list_key, ITEM_NAME_MAX);
				return -EINVAL;
			}
			json_t *b = item_body(v, name);
			int rc = item_insert(r, k, in->namespace, name, b, err, sizeof(err));
			json_decref(b);
			if (rc < 0) {
				insert_failed(r, w, k, rc, name, in->namespace, err);
				return rc;
			}
		}
	}
	const char *key;
	json_t *v;
	const struct item_kind *pk = kind_of("properties");
	json_object_foreach(in->properties, key, v)
	{
		if (!name_ok(key, ITEM_NAME_MAX) || !json_is_object(v)) {
			resp_error(r, w, 400,
			           "properties: each is an object under a name of 1 to %d"
			           " bytes",
			           ITEM_NAME_MAX);
			return -EINVAL;
		}
		json_t *b = item_body(v, key);
		int rc = item_insert(r, pk, in->namespace, key, b, err, sizeof(err));
		json_decref(b);
		if (rc < 0) {
			insert_failed(r, w, pk, rc, key, in->namespace, err);
			return rc;
		}
	}
	return 0;
}

/* GET /metadefs/namespaces */
void metadef_ns_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " NS_COLS " FROM metadef_namespaces WHERE ($1::boolean OR"
	                    " visibility = 'public' OR owner = $2) ORDER BY created_at, namespace"
	                    " LIMIT 1000",
	                    is_admin(r) ? "true" : "false", r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, ns_to_json(res, i));
	PQclear(res);
	resp_json(w, 200,
	          json_pack("{s:o,s:s,s:s}", "namespaces", list, "first", "/v2/metadefs/namespaces",
	                    "schema", "/v2/schemas/metadefs/namespaces"));
}

/* POST /metadefs/namespaces */
void metadef_ns_create(struct req *r, struct resp *w)
{
	struct ns_in in;
	char err[256];
	PGresult *res = NULL;
	if (!is_admin(r)) {
		resp_error(r, w, 403, "You are not authorized to modify metadata definitions.");
		return;
	}
	if (ns_parse(r, w, &in) < 0)
		goto out;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "INSERT INTO metadef_namespaces (namespace, display_name, description,"
	          " visibility, protected, owner) VALUES ($1, $2, $3, $4, $5::boolean, $6)"
	          " ON CONFLICT DO NOTHING RETURNING " NS_COLS,
	          in.namespace, in.display_name, in.description,
	          in.visibility ? in.visibility : "private", in.protected_ ? "true" : "false",
	          r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		resp_error(r, w, 409, "Namespace %s already exists", in.namespace);
		goto out;
	}
	if (ns_insert_items(r, w, &in) < 0)
		goto out;
	json_t *j = ns_to_json(res, 0);
	if (ns_add_items(r, in.namespace, j, err, sizeof(err)) < 0 || db_commit(r->ctx->db) < 0) {
		json_decref(j);
		resp_db_error(r, w, err);
		goto out;
	}
	resp_json(w, 201, j);
out:
	PQclear(res);
	jparse_release(ns_fields, JCOUNT(ns_fields), &in);
}

/* GET /metadefs/namespaces/{ns} */
void metadef_ns_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " NS_COLS " FROM metadef_namespaces WHERE namespace = $1 AND"
	                    " ($2::boolean OR visibility = 'public' OR owner = $3)",
	                    r->params[0], is_admin(r) ? "true" : "false", r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		resp_error(r, w, 404, "Metadata definition namespace=%s was not found.",
		           r->params[0]);
		return;
	}
	json_t *j = ns_to_json(res, 0);
	PQclear(res);
	if (ns_add_items(r, r->params[0], j, err, sizeof(err)) < 0) {
		json_decref(j);
		resp_db_error(r, w, err);
		return;
	}
	resp_json(w, 200, j);
}

/* PUT /metadefs/namespaces/{ns}: replaces the attributes (and may rename it). */
void metadef_ns_update(struct req *r, struct resp *w)
{
	struct ns_in in;
	char err[256];
	PGresult *res = NULL;
	if (ns_check(r, w, r->params[0], 1) < 0)
		return;
	if (ns_parse(r, w, &in) < 0)
		goto out;
	res = DBQ(r->ctx->db, err, sizeof err,
	          "UPDATE metadef_namespaces SET namespace = $2, display_name = $3,"
	          " description = $4, visibility = $5, protected = $6::boolean, updated_at = now()"
	          " WHERE namespace = $1 RETURNING " NS_COLS,
	          r->params[0], in.namespace, in.display_name, in.description,
	          in.visibility ? in.visibility : "private", in.protected_ ? "true" : "false");
	if (!res) {
		if (strstr(err, "duplicate key"))
			resp_error(r, w, 409, "Namespace %s already exists", in.namespace);
		else
			resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		resp_error(r, w, 404, "Metadata definition namespace=%s was not found.",
		           r->params[0]);
		goto out;
	}
	resp_json(w, 200, ns_to_json(res, 0));
out:
	PQclear(res);
	jparse_release(ns_fields, JCOUNT(ns_fields), &in);
}

/* DELETE /metadefs/namespaces/{ns} */
void metadef_ns_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (ns_check(r, w, r->params[0], 1) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "DELETE FROM metadef_namespaces WHERE namespace = $1 AND NOT protected"
	                    " RETURNING 1",
	                    r->params[0]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	int n = PQntuples(res);
	PQclear(res);
	if (n != 1) {
		resp_error(r, w, 403, "Namespace %s is protected and cannot be deleted.",
		           r->params[0]);
		return;
	}
	resp_empty(w, 204);
}

/* ---- items of a namespace ---------------------------------------------------------- */

/* The kind named by the collection segment r->params[1], or NULL after 404. */
static const struct item_kind *item_kind(struct req *r, struct resp *w)
{
	const struct item_kind *k = kind_of(r->params[1]);
	if (!k)
		resp_error(r, w, 404, "no such resource");
	return k;
}

/* GET /metadefs/namespaces/{ns}/{coll} */
void metadef_item_list(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k || ns_check(r, w, r->params[0], 0) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ITEM_COLS " FROM metadef_items WHERE namespace = $1 AND"
	                    " kind = $2 ORDER BY created_at, name",
	                    r->params[0], k->kind);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = k->as_map ? json_object() : json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		json_t *item = item_to_json(k, r->params[0], res, i);
		if (k->as_map) {
			const char *name = json_string_value(json_object_get(item, "name"));
			json_object_set_new(list, name ? name : "", item);
		} else {
			json_array_append_new(list, item);
		}
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o,s:s}", k->list_key, list, "schema", k->list_schema));
}

/* Inserts one item named name with body b and answers 201 with it. */
static void item_create_one(struct req *r, struct resp *w, const struct item_kind *k,
                            const char *name, const json_t *b)
{
	char err[256];
	int rc = item_insert(r, k, r->params[0], name, b, err, sizeof(err));
	if (rc < 0) {
		insert_failed(r, w, k, rc, name, r->params[0], err);
		return;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ITEM_COLS " FROM metadef_items WHERE namespace = $1 AND"
	                    " kind = $2 AND name = $3",
	                    r->params[0], k->kind, name);
	if (!res || PQntuples(res) != 1) {
		PQclear(res);
		resp_db_error(r, w, err);
		return;
	}
	resp_json(w, 201, item_to_json(k, r->params[0], res, 0));
	PQclear(res);
}

/* POST /metadefs/namespaces/{ns}/{coll}: one item, or {"tags": [...]} for tags. */
void metadef_item_create(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k || ns_check(r, w, r->params[0], 1) < 0)
		return;
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "request body must be a JSON object");
		return;
	}
	if (!k->bulk) {
		const char *name = json_string_value(json_object_get(r->json, "name"));
		if (!name_ok(name, ITEM_NAME_MAX)) {
			resp_error(r, w, 400, "name: must be 1 to %d bytes without '/'",
			           ITEM_NAME_MAX);
			return;
		}
		json_t *b = item_body(r->json, name);
		item_create_one(r, w, k, name, b);
		json_decref(b);
		return;
	}
	/* tags: the list replaces the namespace's tags, in one transaction */
	const json_t *tags = json_object_get(r->json, "tags");
	if (!json_is_array(tags) || json_array_size(tags) > NS_MAX_ITEMS) {
		resp_error(r, w, 400, "tags: must be a list of at most %d {\"name\": ...}",
		           NS_MAX_ITEMS);
		return;
	}
	if (db_begin(r->ctx->db) < 0 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "DELETE FROM metadef_items WHERE namespace = $1 AND kind = $2", r->params[0],
	        k->kind) < 0) {
		resp_db_error(r, w, "could not replace the tags");
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(tags, i, v)
	{
		const char *name = json_string_value(json_object_get(v, "name"));
		if (!name_ok(name, ITEM_NAME_MAX)) {
			json_decref(out);
			resp_error(r, w, 400, "tags: each needs a name of 1 to %d bytes",
			           ITEM_NAME_MAX);
			return;
		}
		json_t *b = item_body(v, name);
		int rc = item_insert(r, k, r->params[0], name, b, err, sizeof(err));
		json_decref(b);
		if (rc < 0) {
			json_decref(out);
			insert_failed(r, w, k, rc, name, r->params[0], err);
			return;
		}
		json_array_append_new(out, json_pack("{s:s}", "name", name));
	}
	if (db_commit(r->ctx->db) < 0) {
		json_decref(out);
		resp_db_error(r, w, "commit failed");
		return;
	}
	resp_json(w, 201, json_pack("{s:o}", "tags", out));
}

/* DELETE /metadefs/namespaces/{ns}/{coll}: tags only (all of them). */
void metadef_item_clear(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k)
		return;
	if (!k->bulk) {
		resp_error(r, w, 405, "Method not allowed");
		return;
	}
	if (ns_check(r, w, r->params[0], 1) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err,
	        "DELETE FROM metadef_items WHERE namespace = $1 AND kind = $2", r->params[0],
	        k->kind) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	resp_empty(w, 204);
}

/* GET /metadefs/namespaces/{ns}/{coll}/{name} */
void metadef_item_show(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k || ns_check(r, w, r->params[0], 0) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ITEM_COLS " FROM metadef_items WHERE namespace = $1 AND"
	                    " kind = $2 AND name = $3",
	                    r->params[0], k->kind, r->params[2]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(res) != 1)
		resp_error(r, w, 404, "Could not find %s %s in namespace %s.", k->kind,
		           r->params[2], r->params[0]);
	else
		resp_json(w, 200, item_to_json(k, r->params[0], res, 0));
	PQclear(res);
}

/* POST /metadefs/namespaces/{ns}/tags/{name}: one tag, no body. */
void metadef_item_add(struct req *r, struct resp *w)
{
	const struct item_kind *k = item_kind(r, w);
	if (!k)
		return;
	if (!k->bulk) {
		resp_error(r, w, 405, "Method not allowed");
		return;
	}
	if (ns_check(r, w, r->params[0], 1) < 0)
		return;
	if (!name_ok(r->params[2], ITEM_NAME_MAX)) {
		resp_error(r, w, 400, "name: must be 1 to %d bytes", ITEM_NAME_MAX);
		return;
	}
	json_t *b = item_body(NULL, r->params[2]);
	item_create_one(r, w, k, r->params[2], b);
	json_decref(b);
}

/* PUT /metadefs/namespaces/{ns}/{coll}/{name}: replaces the definition (and may rename). */
void metadef_item_update(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k || ns_check(r, w, r->params[0], 1) < 0)
		return;
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "request body must be a JSON object");
		return;
	}
	const char *name = json_string_value(json_object_get(r->json, "name"));
	if (!name)
		name = r->params[2];
	if (!name_ok(name, ITEM_NAME_MAX)) {
		resp_error(r, w, 400, "name: must be 1 to %d bytes without '/'", ITEM_NAME_MAX);
		return;
	}
	json_t *b = item_body(r->json, name);
	char *text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "UPDATE metadef_items SET name = $4, body = $5::jsonb, updated_at = now()"
	        " WHERE namespace = $1 AND kind = $2 AND name = $3 RETURNING " ITEM_COLS,
	        r->params[0], k->kind, r->params[2], name, text);
	free(text);
	if (!res) {
		if (strstr(err, "duplicate key"))
			resp_error(r, w, 409,
			           "A metadata definition %s with name=%s already exists in"
			           " namespace=%s.",
			           k->kind, name, r->params[0]);
		else
			resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(res) != 1)
		resp_error(r, w, 404, "Could not find %s %s in namespace %s.", k->kind,
		           r->params[2], r->params[0]);
	else
		resp_json(w, 200, item_to_json(k, r->params[0], res, 0));
	PQclear(res);
}

/* DELETE /metadefs/namespaces/{ns}/{coll}/{name} */
void metadef_item_delete(struct req *r, struct resp *w)
{
	char err[256];
	const struct item_kind *k = item_kind(r, w);
	if (!k || ns_check(r, w, r->params[0], 1) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM metadef_items WHERE namespace = $1 AND kind = $2 AND name = $3",
	            r->params[0], k->kind, r->params[2]);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0)
		resp_error(r, w, 404, "Could not find %s %s in namespace %s.", k->kind,
		           r->params[2], r->params[0]);
	else
		resp_empty(w, 204);
}

/* GET /metadefs/resource_types */
void metadef_resource_types(struct req *r, struct resp *w)
{
	json_t *list = json_array();
	for (size_t i = 0; i < sizeof(resource_types) / sizeof(resource_types[0]); i++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "name", resource_types[i],
		                                      "created_at", "2026-01-01T00:00:00Z",
		                                      "updated_at", "2026-01-01T00:00:00Z"));
	resp_json(w, 200, json_pack("{s:o}", "resource_types", list));
}

/* ---- schemas ----------------------------------------------------------------------- */

/* Each schema: its name and the JSON of its properties (types as Glance documents). */
static const struct {
	const char *path; /* after /schemas/metadefs/ */
	const char *name;
	const char *props;
	const char *list_of; /* a list schema: the path of its item's schema */
	const char *list_key;
} metadef_schemas[] = {
    {"namespace", "namespace",
     "{\"namespace\": {\"type\": \"string\", \"maxLength\": 80},"
     " \"display_name\": {\"type\": \"string\", \"maxLength\": 80},"
     " \"description\": {\"type\": \"string\", \"maxLength\": 500},"
     " \"visibility\": {\"type\": \"string\", \"enum\": [\"public\", \"private\"]},"
     " \"protected\": {\"type\": \"boolean\"},"
     " \"owner\": {\"type\": \"string\", \"maxLength\": 255},"
     " \"created_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"updated_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"schema\": {\"type\": \"string\", \"readOnly\": true},"
     " \"self\": {\"type\": \"string\", \"readOnly\": true},"
     " \"resource_type_associations\": {\"type\": \"array\"},"
     " \"properties\": {\"type\": \"object\"}, \"objects\": {\"type\": \"array\"},"
     " \"tags\": {\"type\": \"array\"}}",
     NULL, NULL},
    {"namespaces", "namespaces", NULL, "namespace", "namespaces"},
    {"object", "object",
     "{\"name\": {\"type\": \"string\", \"maxLength\": 255},"
     " \"description\": {\"type\": \"string\"},"
     " \"required\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}},"
     " \"properties\": {\"type\": \"object\"},"
     " \"created_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"updated_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"schema\": {\"type\": \"string\", \"readOnly\": true},"
     " \"self\": {\"type\": \"string\", \"readOnly\": true}}",
     NULL, NULL},
    {"objects", "objects", NULL, "object", "objects"},
    {"property", "property",
     "{\"name\": {\"type\": \"string\", \"maxLength\": 255},"
     " \"title\": {\"type\": \"string\"}, \"description\": {\"type\": \"string\"},"
     " \"type\": {\"type\": \"string\", \"enum\": [\"array\", \"boolean\", \"integer\","
     " \"number\", \"object\", \"string\"]},"
     " \"enum\": {\"type\": \"array\"}, \"default\": {},"
     " \"readonly\": {\"type\": \"boolean\"}}",
     NULL, NULL},
    {"properties", "properties", NULL, "property", "properties"},
    {"tag", "tag",
     "{\"name\": {\"type\": \"string\", \"maxLength\": 255},"
     " \"created_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"updated_at\": {\"type\": \"string\", \"readOnly\": true}}",
     NULL, NULL},
    {"tags", "tags", NULL, "tag", "tags"},
    {"resource_type", "resource_type_association",
     "{\"name\": {\"type\": \"string\", \"maxLength\": 80},"
     " \"prefix\": {\"type\": \"string\", \"maxLength\": 80},"
     " \"properties_target\": {\"type\": \"string\", \"maxLength\": 80},"
     " \"created_at\": {\"type\": \"string\", \"readOnly\": true},"
     " \"updated_at\": {\"type\": \"string\", \"readOnly\": true}}",
     NULL, NULL},
    {"resource_types", "resource_type_associations", NULL, "resource_type",
     "resource_type_associations"},
};

static json_t *schema_build(size_t i)
{
	if (!metadef_schemas[i].list_of) {
		json_t *p = json_loads(metadef_schemas[i].props, 0, NULL);
		return json_pack("{s:s,s:o,s:b}", "name", metadef_schemas[i].name, "properties",
		                 p ? p : json_object(), "additionalProperties", 0);
	}
	for (size_t k = 0; k < sizeof(metadef_schemas) / sizeof(metadef_schemas[0]); k++)
		if (!strcmp(metadef_schemas[k].path, metadef_schemas[i].list_of))
			return json_pack("{s:s,s:{s:{s:s,s:o},s:{s:s},s:{s:s}}}", "name",
			                 metadef_schemas[i].name, "properties",
			                 metadef_schemas[i].list_key, "type", "array", "items",
			                 schema_build(k), "schema", "type", "string", "first",
			                 "type", "string");
	return json_object();
}

/* GET /schemas/metadefs/{name} */
void metadef_schema(struct req *r, struct resp *w)
{
	for (size_t i = 0; i < sizeof(metadef_schemas) / sizeof(metadef_schemas[0]); i++)
		if (!strcmp(metadef_schemas[i].path, r->params[0])) {
			resp_json(w, 200, schema_build(i));
			return;
		}
	resp_error(r, w, 404, "no such resource");
}

/* Keystone v3 catalog administration: regions, services and endpoints, stored in the
 * tables the token catalog is built from (identity/catalog.h). Writes are admin-only;
 * regions are readable by any token, services and endpoints by admins. Every write
 * reaches each nubo-api's cached catalog through a revocation event (migration 5). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/keystone.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define ID_MAX 255
#define TYPE_MAX 255
#define URL_MAX 2048

#define REGION_COLS "id, description, parent_region_id, extra::text"
#define SERVICE_COLS "id, type, name, description, enabled, extra::text"
#define ENDPOINT_COLS KS_ENDPOINT_COLS
#define endpoint_json ks_endpoint_json

/* ---- shapes ---- */

static json_t *region_json(const struct req *r, const PGresult *res, int i)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:o}", "id", db_val(res, i, 0), "description", db_val(res, i, 1),
	              "links", ks_self_link(r, "regions", db_val(res, i, 0)));
	json_object_set_new(o, "parent_region_id",
	                    db_val(res, i, 2) ? json_string(db_val(res, i, 2)) : json_null());
	ks_extra_merge(o, db_val(res, i, 3));
	return o;
}

static json_t *service_json(const struct req *r, const PGresult *res, int i)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o}", "id", db_val(res, i, 0), "type",
	                      db_val(res, i, 1), "name", db_val(res, i, 2), "description",
	                      db_val(res, i, 3), "enabled", db_val(res, i, 4)[0] == 't', "links",
	                      ks_self_link(r, "services", db_val(res, i, 0)));
	ks_extra_merge(o, db_val(res, i, 5));
	return o;
}

json_t *ks_endpoint_json(const struct req *r, const PGresult *res, int i)
{
	const char *region = db_val(res, i, 2);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:o}", "id", db_val(res, i, 0), "service_id",
	                      db_val(res, i, 1), "interface", db_val(res, i, 3), "url",
	                      db_val(res, i, 4), "enabled", db_val(res, i, 5)[0] == 't', "links",
	                      ks_self_link(r, "endpoints", db_val(res, i, 0)));
	json_object_set_new(o, "region_id", region ? json_string(region) : json_null());
	json_object_set_new(o, "region", region ? json_string(region) : json_null());
	ks_extra_merge(o, db_val(res, i, 6));
	return o;
}

/* ---- shared ---- */

static const char *bool_text(int v)
{
	return v < 0 ? NULL : v ? "true" : "false";
}

/* Answers a delete of one row by id. */
static void delete_answer(struct req *r, struct resp *w, const char *sql, const char *what)
{
	char err[256], state[6] = "";
	PGresult *res = db_query(r->ctx->db, sql, 1, (const char *const[]){r->params[0]}, err,
	                         sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY)) {
		resp_error(r, w, 403, "Unable to delete %s %s: something still refers to it.", what,
		           r->params[0]);
		return;
	}
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	int n = atoi(PQcmdTuples(res));
	PQclear(res);
	wire_answer_rows(r, w, n, err, 204, "Could not find %s: %s.", what, r->params[0]);
}

/* Shows one row of sql ($1 = r->params[0]) as {"<what>": fn(row)}. */
static void show_answer(struct req *r, struct resp *w, const char *sql, const char *what,
                        ks_row_fn fn)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, r->params[0]);
	res = ks_row_found(r, w, res, err, what, r->params[0]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", what, fn(r, res, 0)));
	PQclear(res);
}

/* ---- regions ---- */

struct region_in {
	char *id, *description, *parent_region_id;
	char *extra;
};

static const struct jfield f_region[] = {
    {"id", J_STR, JF(struct region_in, id), 0, ID_MAX, 0, 1},
    {"description", J_STR, JF(struct region_in, description), 0, KS_DESCRIPTION_MAX, 0, 1},
    {"parent_region_id", J_STR, JF(struct region_in, parent_region_id), 0, ID_MAX, 0, 1},
};
static const char *const region_known[] = {"id", "description", "parent_region_id", "links", NULL};

static int region_parse(struct req *r, struct resp *w, struct region_in *in)
{
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "region", f_region, JCOUNT(f_region), in) < 0)
		return -EINVAL;
	if (in->id && !wire_name_ok(in->id, ID_MAX)) {
		resp_error(r, w, 400, "id: must be 1 to %d printable characters", ID_MAX);
		jparse_release(f_region, JCOUNT(f_region), in);
		return -EINVAL;
	}
	in->extra = ks_extra(ks_inner(r, "region"), region_known);
	return 0;
}

static void region_release(struct region_in *in)
{
	jparse_release(f_region, JCOUNT(f_region), in);
	free(in->extra);
}

static void regions_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " REGION_COLS " FROM regions WHERE ($1::text IS NULL"
	                    " OR parent_region_id = $1) ORDER BY id",
	                    req_query(r, "parent_region_id"));
	ks_list_answer(r, w, res, err, "regions", region_json);
}

static void regions_show(struct req *r, struct resp *w)
{
	show_answer(r, w, "SELECT " REGION_COLS " FROM regions WHERE id = $1", "region",
	            region_json);
}

/* Creates a region with id (NULL: a new UUID). */
static void region_create(struct req *r, struct resp *w, const char *path_id)
{
	struct region_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (region_parse(r, w, &in) < 0)
		return;
	if (path_id && in.id && strcmp(path_id, in.id)) {
		resp_error(r, w, 400, "id: the body's id differs from the URL's");
		goto out;
	}
	uuid_generate_str(id);
	const char *rid = path_id ? path_id : in.id ? in.id : id;
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO regions (id, description, parent_region_id, extra)"
	             " VALUES ($1, coalesce($2, ''), $3, $4::jsonb) RETURNING " REGION_COLS,
	             4, (const char *const[]){rid, in.description, in.parent_region_id, in.extra},
	             err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409, "Duplicate ID, %s.", rid);
	else if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		ks_not_found(r, w, "region", in.parent_region_id);
	else
		ks_write_answer(r, w, res, 201, state, err, "region", rid, region_json);
out:
	region_release(&in);
}

static void regions_create(struct req *r, struct resp *w)
{
	region_create(r, w, NULL);
}

static void regions_put(struct req *r, struct resp *w)
{
	region_create(r, w, r->params[0]);
}

static void regions_update(struct req *r, struct resp *w)
{
	struct region_in in;
	char err[256], state[6] = "";
	if (region_parse(r, w, &in) < 0)
		return;
	if (in.parent_region_id && !strcmp(in.parent_region_id, r->params[0])) {
		resp_error(r, w, 400, "parent_region_id: a region cannot be its own parent");
		goto out;
	}
	/* a new parent must not descend from the region (Keystone: 400, circular
	 * reference); updates that set a parent take a lock in turn, so two of them cannot
	 * close a cycle together */
	PGresult *res = NULL;
	if (in.parent_region_id) {
		if (db_begin(r->ctx->db) < 0 ||
		    DBX(r->ctx->db, err, sizeof err,
		        "SELECT pg_advisory_xact_lock(hashtext('nubo.regions.parent'))") < 0 ||
		    !(res = DBQ(r->ctx->db, err, sizeof err,
		                "WITH RECURSIVE up (id) AS (SELECT $2::text UNION SELECT"
		                " g.parent_region_id FROM regions g JOIN up ON g.id = up.id"
		                " WHERE g.parent_region_id IS NOT NULL)"
		                " SELECT EXISTS (SELECT 1 FROM up WHERE id = $1)",
		                r->params[0], in.parent_region_id))) {
			resp_db_error(r, w, err);
			goto out;
		}
		int cycle = db_val(res, 0, 0)[0] == 't';
		PQclear(res);
		if (cycle) {
			resp_error(
			    r, w, 400,
			    "parent_region_id: %s descends from region %s (circular reference)",
			    in.parent_region_id, r->params[0]);
			goto out;
		}
	}
	res = db_query(
	    r->ctx->db,
	    "UPDATE regions SET description = coalesce($2, description),"
	    " parent_region_id = coalesce($3, parent_region_id),"
	    " extra = extra || $4::jsonb WHERE id = $1 RETURNING " REGION_COLS,
	    4, (const char *const[]){r->params[0], in.description, in.parent_region_id, in.extra},
	    err, sizeof(err), state);
	if (res && in.parent_region_id && db_commit(r->ctx->db) < 0) {
		PQclear(res);
		resp_db_error(r, w, "commit failed");
	} else if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		ks_not_found(r, w, "region", in.parent_region_id);
	else
		ks_write_answer(r, w, res, 200, state, err, "region", r->params[0], region_json);
out:
	region_release(&in);
}

static void regions_delete(struct req *r, struct resp *w)
{
	delete_answer(r, w, "DELETE FROM regions WHERE id = $1", "region");
}

/* ---- services ---- */

struct service_in {
	char *type, *name, *description;
	int enabled;
	char *extra;
};

static const struct jfield f_service[] = {
    {"type", J_STR, JF(struct service_in, type), 0, TYPE_MAX, 0, 0},
    {"name", J_STR, JF(struct service_in, name), 0, TYPE_MAX, 0, 1},
    {"description", J_STR, JF(struct service_in, description), 0, KS_DESCRIPTION_MAX, 0, 1},
    {"enabled", J_BOOL, JF(struct service_in, enabled), 0, 0, 0, 1},
};
static const char *const service_known[] = {"type", "name",  "description", "enabled",
                                            "id",   "links", NULL};

static int service_parse(struct req *r, struct resp *w, struct service_in *in, int create)
{
	memset(in, 0, sizeof(*in));
	in->enabled = -1;
	if (wire_parse_wrapped(r, w, "service", f_service, JCOUNT(f_service), in) < 0)
		return -EINVAL;
	if ((create && !in->type) || (in->type && !wire_name_ok(in->type, TYPE_MAX))) {
		resp_error(r, w, 400, "type: must be 1 to %d printable characters", TYPE_MAX);
		jparse_release(f_service, JCOUNT(f_service), in);
		return -EINVAL;
	}
	in->extra = ks_extra(ks_inner(r, "service"), service_known);
	return 0;
}

static void service_release(struct service_in *in)
{
	jparse_release(f_service, JCOUNT(f_service), in);
	free(in->extra);
}

static void services_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " SERVICE_COLS " FROM services WHERE ($1::text IS NULL"
	                    " OR type = $1) AND ($2::text IS NULL OR name = $2) ORDER BY type, id",
	                    req_query(r, "type"), req_query(r, "name"));
	ks_list_answer(r, w, res, err, "services", service_json);
}

static void services_show(struct req *r, struct resp *w)
{
	show_answer(r, w, "SELECT " SERVICE_COLS " FROM services WHERE id = $1", "service",
	            service_json);
}

static void services_create(struct req *r, struct resp *w)
{
	struct service_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (service_parse(r, w, &in, 1) < 0)
		return;
	uuid_generate_str(id);
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO services (id, type, name, description, enabled, extra)"
	             " VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::boolean, $6::jsonb)"
	             " RETURNING " SERVICE_COLS,
	             6,
	             (const char *const[]){id, in.type, in.name, in.description,
	                                   in.enabled == 0 ? "false" : "true", in.extra},
	             err, sizeof(err), state);
	ks_write_answer(r, w, res, 201, state, err, "service", in.name, service_json);
	service_release(&in);
}

static void services_update(struct req *r, struct resp *w)
{
	struct service_in in;
	char err[256], state[6] = "";
	if (service_parse(r, w, &in, 0) < 0)
		return;
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE services SET type = coalesce($2, type), name = coalesce($3, name),"
	    " description = coalesce($4, description), enabled = coalesce($5::boolean, enabled),"
	    " extra = extra || $6::jsonb WHERE id = $1 RETURNING " SERVICE_COLS,
	    6,
	    (const char *const[]){r->params[0], in.type, in.name, in.description,
	                          bool_text(in.enabled), in.extra},
	    err, sizeof(err), state);
	ks_write_answer(r, w, res, 200, state, err, "service", in.name, service_json);
	service_release(&in);
}

static void services_delete(struct req *r, struct resp *w)
{
	/* its endpoints go with it (ON DELETE CASCADE), as in Keystone */
	delete_answer(r, w, "DELETE FROM services WHERE id = $1", "service");
}

/* ---- endpoints ---- */

struct endpoint_in {
	char *service_id, *region_id, *region, *interface, *url;
	int enabled;
	char *extra;
};

static const struct jfield f_endpoint[] = {
    {"service_id", J_STR, JF(struct endpoint_in, service_id), 0, ID_MAX, 0, 0},
    {"region_id", J_STR, JF(struct endpoint_in, region_id), 0, ID_MAX, 0, 1},
    {"region", J_STR, JF(struct endpoint_in, region), 0, ID_MAX, 0, 1},
    {"interface", J_STR, JF(struct endpoint_in, interface), 0, 16, 0, 0},
    {"url", J_STR, JF(struct endpoint_in, url), 0, URL_MAX, 0, 0},
    /* Keystone's schema: a JSON boolean, not "False" */
    {"enabled", J_BOOL, JF(struct endpoint_in, enabled), 0, 0, 0, 1, JF_STRICT},
};
static const char *const endpoint_known[] = {
    "service_id", "region_id", "region", "interface", "url", "enabled", "id", "links", NULL};

static int interface_ok(const char *s)
{
	return !strcmp(s, "public") || !strcmp(s, "internal") || !strcmp(s, "admin");
}

static int endpoint_parse(struct req *r, struct resp *w, struct endpoint_in *in, int create)
{
	memset(in, 0, sizeof(*in));
	in->enabled = -1;
	if (wire_parse_wrapped(r, w, "endpoint", f_endpoint, JCOUNT(f_endpoint), in) < 0)
		return -EINVAL;
	const char *bad = NULL;
	if (create && !in->service_id)
		bad = "service_id: is required";
	else if (create && !in->url)
		bad = "url: is required";
	else if ((create && !in->interface) || (in->interface && !interface_ok(in->interface)))
		bad = "interface: must be public, internal or admin";
	else if (in->url && (!wire_name_ok(in->url, URL_MAX) || !strstr(in->url, "://")))
		bad = "url: must be an absolute URL";
	if (bad) {
		resp_error(r, w, 400, "%s", bad);
		jparse_release(f_endpoint, JCOUNT(f_endpoint), in);
		return -EINVAL;
	}
	if (!in->region_id && in->region) /* the v2 name of the same thing */
		in->region_id = xstrdup(in->region);
	in->extra = ks_extra(ks_inner(r, "endpoint"), endpoint_known);
	return 0;
}

static void endpoint_release(struct endpoint_in *in)
{
	jparse_release(f_endpoint, JCOUNT(f_endpoint), in);
	free(in->extra);
}

static void endpoints_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " ENDPOINT_COLS " FROM endpoints WHERE ($1::text IS NULL"
	        " OR interface = $1) AND ($2::text IS NULL OR service_id = $2)"
	        " AND ($3::text IS NULL OR region_id = $3) ORDER BY service_id, id",
	        req_query(r, "interface"), req_query(r, "service_id"), req_query(r, "region_id"));
	ks_list_answer(r, w, res, err, "endpoints", endpoint_json);
}

static void endpoints_show(struct req *r, struct resp *w)
{
	show_answer(r, w, "SELECT " ENDPOINT_COLS " FROM endpoints WHERE id = $1", "endpoint",
	            endpoint_json);
}

/* The write of an endpoint failed on a reference: name what is missing. */
static void endpoint_ref_error(struct req *r, struct resp *w, const struct endpoint_in *in)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT $1::text IS NULL OR EXISTS (SELECT 1 FROM services WHERE id = $1)",
	        in->service_id);
	int service = res && db_val(res, 0, 0)[0] == 't';
	PQclear(res);
	resp_error(r, w, 400, "Could not find %s: %s.", service ? "region" : "service",
	           service ? (in->region_id ? in->region_id : "") : in->service_id);
}

/* The legacy "region" of an endpoint's body names a region that is made when it does
 * not exist yet (Keystone keeps this for v2-era clients; "region_id" must exist). */
static int legacy_region(struct req *r, struct resp *w, const struct endpoint_in *in)
{
	char err[256];
	if (!in->region || json_object_get(ks_inner(r, "endpoint"), "region_id"))
		return 0;
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO regions (id) VALUES ($1) ON CONFLICT DO NOTHING", in->region) >= 0)
		return 0;
	resp_db_error(r, w, err);
	return -EIO;
}

static void endpoints_create(struct req *r, struct resp *w)
{
	struct endpoint_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (endpoint_parse(r, w, &in, 1) < 0)
		return;
	if (legacy_region(r, w, &in) < 0)
		goto out;
	uuid_generate_str(id);
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO endpoints (id, service_id, region_id, interface, url, enabled, extra)"
	    " VALUES ($1, $2, $3, $4, $5, $6::boolean, $7::jsonb) RETURNING " ENDPOINT_COLS,
	    7,
	    (const char *const[]){id, in.service_id, in.region_id, in.interface, in.url,
	                          in.enabled == 0 ? "false" : "true", in.extra},
	    err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		endpoint_ref_error(r, w, &in);
	else
		ks_write_answer(r, w, res, 201, state, err, "endpoint", id, endpoint_json);
out:
	endpoint_release(&in);
}

static void endpoints_update(struct req *r, struct resp *w)
{
	struct endpoint_in in;
	char err[256], state[6] = "";
	if (endpoint_parse(r, w, &in, 0) < 0)
		return;
	if (legacy_region(r, w, &in) < 0) {
		endpoint_release(&in);
		return;
	}
	PGresult *res =
	    db_query(r->ctx->db,
	             "UPDATE endpoints SET service_id = coalesce($2, service_id),"
	             " region_id = coalesce($3, region_id), interface = coalesce($4, interface),"
	             " url = coalesce($5, url), enabled = coalesce($6::boolean, enabled),"
	             " extra = extra || $7::jsonb WHERE id = $1 RETURNING " ENDPOINT_COLS,
	             7,
	             (const char *const[]){r->params[0], in.service_id, in.region_id, in.interface,
	                                   in.url, bool_text(in.enabled), in.extra},
	             err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		endpoint_ref_error(r, w, &in);
	else
		ks_write_answer(r, w, res, 200, state, err, "endpoint", r->params[0],
		                endpoint_json);
	endpoint_release(&in);
}

static void endpoints_delete(struct req *r, struct resp *w)
{
	delete_answer(r, w, "DELETE FROM endpoints WHERE id = $1", "endpoint");
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/regions", regions_list, POL_IDENTITY_READ_SELF, 0},
    {"POST", V3 "/regions", regions_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/regions/{}", regions_show, POL_IDENTITY_READ_SELF, 0},
    {"PUT", V3 "/regions/{}", regions_put, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/regions/{}", regions_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/regions/{}", regions_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/services", services_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/services", services_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/services/{}", services_show, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/services/{}", services_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/services/{}", services_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/endpoints", endpoints_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/endpoints", endpoints_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/endpoints/{}", endpoints_show, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/endpoints/{}", endpoints_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/endpoints/{}", endpoints_delete, POL_IDENTITY_ADMIN, 0},
};
HTTPD_TABLE(catalog_routes, routes, &identity_hooks);

/* Keystone's OS-EP-FILTER (/v3/OS-EP-FILTER): endpoint groups (a named filter on the
 * catalog's endpoints by service_id, region_id and interface) associated with
 * projects, and single endpoints associated with projects. The associations are stored
 * and listed as Keystone does; Nubo's token catalog does not narrow by them (every
 * project sees every endpoint, Keystone's behaviour for a project without
 * associations). */
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

#define NAME_MAX_ 255
#define GROUP_COLS "id, name, description, filters::text"
/* The endpoints group $1's filters select. */
#define GROUP_ENDPOINTS                                                                            \
	"SELECT " KS_ENDPOINT_COLS " FROM endpoints e WHERE EXISTS (SELECT 1 FROM"                 \
	" endpoint_groups g WHERE g.id = $1"                                                       \
	" AND (NOT g.filters ? 'service_id' OR e.service_id = g.filters->>'service_id')"           \
	" AND (NOT g.filters ? 'region_id' OR e.region_id = g.filters->>'region_id')"              \
	" AND (NOT g.filters ? 'interface' OR e.interface = g.filters->>'interface'))"

/* The filter keys Keystone takes. */
static const char *const filter_keys[] = {"service_id", "region_id", "interface", NULL};

static json_t *group_json(const struct req *r, const PGresult *res, int i)
{
	json_t *f = json_loads(db_val(res, i, 3), 0, NULL);
	char *href = xasprintf("%s/identity/v3/OS-EP-FILTER/endpoint_groups/%s",
	                       r->ctx->api->public_url, db_val(res, i, 0));
	json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:{s:s}}", "id", db_val(res, i, 0), "name",
	                      db_val(res, i, 1), "description", db_val(res, i, 2), "filters",
	                      f ? f : json_object(), "links", "self", href);
	free(href);
	return o;
}

struct group_in {
	char *name, *description;
	json_t *filters; /* borrowed */
	char *filters_text;
};

/* 0 when filters is an object of known keys with string values (interface one of
 * Keystone's three); else answers 400. */
static int filters_check(struct req *r, struct resp *w, json_t *filters)
{
	const char *k;
	json_t *v;
	if (json_object_size(filters) == 0) {
		resp_error(r, w, 400, "filters: at least one of service_id, region_id, interface");
		return -EINVAL;
	}
	json_object_foreach(filters, k, v)
	{
		int known = 0;
		for (const char *const *f = filter_keys; *f && !known; f++)
			known = !strcmp(*f, k);
		if (!known || !json_is_string(v) || json_string_length(v) > 255) {
			resp_error(r, w, 400, "Invalid input for field 'filters': %s", k);
			return -EINVAL;
		}
		if (!strcmp(k, "interface") && strcmp(json_string_value(v), "public") &&
		    strcmp(json_string_value(v), "internal") &&
		    strcmp(json_string_value(v), "admin")) {
			resp_error(r, w, 400,
			           "filters: interface must be public, internal or admin");
			return -EINVAL;
		}
	}
	return 0;
}

static int group_parse(struct req *r, struct resp *w, struct group_in *in, int create)
{
	const struct jfield f[] = {
	    {"name", J_STR, JF(struct group_in, name), 0, NAME_MAX_, create, 0},
	    {"description", J_STR, JF(struct group_in, description), 0, KS_DESCRIPTION_MAX, 0, 1},
	    {"filters", J_OBJECT, JF(struct group_in, filters), 0, 0, create, 0},
	};
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "endpoint_group", f, JCOUNT(f), in) < 0)
		return -EINVAL;
	if (in->name && ks_name_check(r, w, in->name, 1, NAME_MAX_) < 0)
		return -EINVAL;
	if (in->filters) {
		if (filters_check(r, w, in->filters) < 0)
			return -EINVAL;
		in->filters_text = json_dumps(in->filters, JSON_COMPACT | JSON_SORT_KEYS);
	}
	return 0;
}

static void group_release(struct group_in *in)
{
	free(in->name);
	free(in->description);
	free(in->filters_text);
}

static void groups_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " GROUP_COLS " FROM endpoint_groups WHERE ($1::text IS NULL"
	                    " OR name = $1) ORDER BY name, id",
	                    req_query(r, "name"));
	ks_list_answer(r, w, res, err, "endpoint_groups", group_json);
}

static void groups_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " GROUP_COLS " FROM endpoint_groups WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "endpoint group", r->params[0]);
	if (!res)
		return;
	if (!strcmp(r->method, "HEAD"))
		resp_empty(w, 200);
	else
		resp_json(w, 200, json_pack("{s:o}", "endpoint_group", group_json(r, res, 0)));
	PQclear(res);
}

static void groups_create(struct req *r, struct resp *w)
{
	struct group_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (group_parse(r, w, &in, 1) < 0)
		goto out;
	uuid_generate_str(id);
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO endpoint_groups (id, name, description, filters)"
	             " VALUES ($1, $2, coalesce($3, ''), $4::jsonb) RETURNING " GROUP_COLS,
	             4, (const char *const[]){id, in.name, in.description, in.filters_text}, err,
	             sizeof(err), state);
	ks_write_answer(r, w, res, 201, state, err, "endpoint_group", in.name, group_json);
out:
	group_release(&in);
}

static void groups_update(struct req *r, struct resp *w)
{
	struct group_in in;
	char err[256], state[6] = "";
	if (group_parse(r, w, &in, 0) < 0)
		goto out;
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE endpoint_groups SET name = coalesce($2, name),"
	    " description = coalesce($3, description), filters = coalesce($4::jsonb, filters)"
	    " WHERE id = $1 RETURNING " GROUP_COLS,
	    4, (const char *const[]){r->params[0], in.name, in.description, in.filters_text}, err,
	    sizeof(err), state);
	ks_write_answer(r, w, res, 200, state, err, "endpoint_group", in.name, group_json);
out:
	group_release(&in);
}

static void groups_delete(struct req *r, struct resp *w)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM endpoint_groups WHERE id = $1",
	            r->params[0]);
	wire_answer_rows(r, w, n, err, 204, "Could not find endpoint group: %s.", r->params[0]);
}

/* The row of table with id exists: 0, or answers 404 naming what (-ENOENT/-EIO). */
static int must_exist(struct req *r, struct resp *w, const char *sql, const char *what,
                      const char *id)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err, sql, id);
	if (n > 0)
		return 0;
	if (n < 0)
		resp_db_error(r, w, err);
	else
		ks_not_found(r, w, what, id);
	return n < 0 ? -EIO : -ENOENT;
}
#define GROUP_EXISTS "SELECT 1 FROM endpoint_groups WHERE id = $1"
#define PROJECT_EXISTS "SELECT 1 FROM projects WHERE id = $1"
#define ENDPOINT_EXISTS "SELECT 1 FROM endpoints WHERE id = $1"

static void group_endpoints(struct req *r, struct resp *w)
{
	char err[256];
	if (must_exist(r, w, GROUP_EXISTS, "endpoint group", r->params[0]) < 0)
		return;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, GROUP_ENDPOINTS " ORDER BY e.id", r->params[0]);
	ks_list_answer(r, w, res, err, "endpoints", ks_endpoint_json);
}

static void group_projects(struct req *r, struct resp *w)
{
	char err[256];
	if (must_exist(r, w, GROUP_EXISTS, "endpoint group", r->params[0]) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " KS_PROJECT_COLS " FROM projects WHERE id IN (SELECT"
	                    " project_id FROM endpoint_group_projects WHERE endpoint_group_id = $1)"
	                    " ORDER BY name",
	                    r->params[0]);
	ks_list_answer(r, w, res, err, "projects", ks_project_json);
}

/* One association route: table (columns a, b), the checks of $1 and $2, and names. */
struct assoc {
	const char *put, *check, *del;
	const char *first_sql, *first_what, *second_sql, *second_what;
	int first_param; /* which path parameter is $1 */
};

static const struct assoc assocs[] = {
    /* /endpoint_groups/{group}/projects/{project} */
    {"INSERT INTO endpoint_group_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
     "SELECT 1 FROM endpoint_group_projects WHERE endpoint_group_id = $1 AND project_id = $2",
     "DELETE FROM endpoint_group_projects WHERE endpoint_group_id = $1 AND project_id = $2",
     GROUP_EXISTS, "endpoint group", PROJECT_EXISTS, "project", 0},
    /* /projects/{project}/endpoints/{endpoint} */
    {"INSERT INTO endpoint_projects VALUES ($1, $2) ON CONFLICT DO NOTHING",
     "SELECT 1 FROM endpoint_projects WHERE endpoint_id = $1 AND project_id = $2",
     "DELETE FROM endpoint_projects WHERE endpoint_id = $1 AND project_id = $2", ENDPOINT_EXISTS,
     "endpoint", PROJECT_EXISTS, "project", 1},
};
enum { AS_GROUP_PROJECT, AS_PROJECT_ENDPOINT };

static void assoc_do(struct req *r, struct resp *w, int k, int op)
{
	const struct assoc *a = &assocs[k];
	const char *p1 = r->params[a->first_param], *p2 = r->params[1 - a->first_param];
	char err[256];
	if (must_exist(r, w, a->first_sql, a->first_what, p1) < 0 ||
	    must_exist(r, w, a->second_sql, a->second_what, p2) < 0)
		return;
	const char *sql = op == 0 ? a->put : op == 1 ? a->check : a->del;
	int n = DBX(r->ctx->db, err, sizeof err, sql, p1, p2);
	if (op == 0 && n >= 0) {
		resp_empty(w, 204);
		return;
	}
	wire_answer_rows(r, w, n, err, 204, "Could not find the association of %s %s with %s %s.",
	                 a->first_what, p1, a->second_what, p2);
}

#define ASSOC_HANDLERS(k, suffix)                                                                  \
	static void suffix##_put(struct req *r, struct resp *w)                                    \
	{                                                                                          \
		assoc_do(r, w, k, 0);                                                              \
	}                                                                                          \
	static void suffix##_check(struct req *r, struct resp *w)                                  \
	{                                                                                          \
		assoc_do(r, w, k, 1);                                                              \
	}                                                                                          \
	static void suffix##_delete(struct req *r, struct resp *w)                                 \
	{                                                                                          \
		assoc_do(r, w, k, 2);                                                              \
	}
ASSOC_HANDLERS(AS_GROUP_PROJECT, group_project)
ASSOC_HANDLERS(AS_PROJECT_ENDPOINT, project_endpoint)

static void project_groups(struct req *r, struct resp *w)
{
	char err[256];
	if (must_exist(r, w, PROJECT_EXISTS, "project", r->params[0]) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " GROUP_COLS " FROM endpoint_groups WHERE id IN (SELECT"
	                    " endpoint_group_id FROM endpoint_group_projects WHERE project_id = $1)"
	                    " ORDER BY name, id",
	                    r->params[0]);
	ks_list_answer(r, w, res, err, "endpoint_groups", group_json);
}

static void project_endpoints(struct req *r, struct resp *w)
{
	char err[256];
	if (must_exist(r, w, PROJECT_EXISTS, "project", r->params[0]) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " KS_ENDPOINT_COLS " FROM endpoints WHERE id IN (SELECT"
	                    " endpoint_id FROM endpoint_projects WHERE project_id = $1)"
	                    " ORDER BY id",
	                    r->params[0]);
	ks_list_answer(r, w, res, err, "endpoints", ks_endpoint_json);
}

static void endpoint_projects(struct req *r, struct resp *w)
{
	char err[256];
	if (must_exist(r, w, ENDPOINT_EXISTS, "endpoint", r->params[0]) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " KS_PROJECT_COLS " FROM projects WHERE id IN (SELECT"
	                    " project_id FROM endpoint_projects WHERE endpoint_id = $1)"
	                    " ORDER BY name",
	                    r->params[0]);
	ks_list_answer(r, w, res, err, "projects", ks_project_json);
}

#define EPF "/identity/v3/OS-EP-FILTER"
static const struct httpd_route routes[] = {
    {"GET", EPF "/endpoint_groups", groups_list, POL_IDENTITY_SYSTEM_READ, 0},
    {"POST", EPF "/endpoint_groups", groups_create, POL_IDENTITY_ADMIN, 0},
    {"GET", EPF "/endpoint_groups/{}", groups_show, POL_IDENTITY_SYSTEM_READ, 0},
    {"PATCH", EPF "/endpoint_groups/{}", groups_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", EPF "/endpoint_groups/{}", groups_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", EPF "/endpoint_groups/{}/endpoints", group_endpoints, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", EPF "/endpoint_groups/{}/projects", group_projects, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", EPF "/endpoint_groups/{}/projects/{}", group_project_check, POL_IDENTITY_SYSTEM_READ,
     0},
    {"PUT", EPF "/endpoint_groups/{}/projects/{}", group_project_put, POL_IDENTITY_ADMIN, 0},
    {"DELETE", EPF "/endpoint_groups/{}/projects/{}", group_project_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", EPF "/projects/{}/endpoint_groups", project_groups, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", EPF "/projects/{}/endpoints", project_endpoints, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", EPF "/projects/{}/endpoints/{}", project_endpoint_check, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", EPF "/projects/{}/endpoints/{}", project_endpoint_put, POL_IDENTITY_ADMIN, 0},
    {"DELETE", EPF "/projects/{}/endpoints/{}", project_endpoint_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", EPF "/endpoints/{}/projects", endpoint_projects, POL_IDENTITY_SYSTEM_READ, 0},
};
HTTPD_TABLE(endpoint_group_routes, routes, &identity_hooks);

/* Keystone v3 administration: domains, projects (with tags), users, roles and grants
 * of roles on projects and domains to users and groups. Writes and full listings are
 * admin-only (route policy); a user may read itself, its projects and the projects
 * its token is scoped to. Unknown members of a project's, user's or domain's body are
 * kept as extra attributes and returned, as Keystone does. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "identity/keystone.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "identity/token.h"
#include "wire.h"
#include "xalloc.h"

#define DOMAIN_ID KS_DEFAULT_DOMAIN
#define PROJECT_NAME_MAX 64 /* Keystone's limits */
#define DOMAIN_NAME_MAX 64
#define USER_NAME_MAX 255
#define ROLE_NAME_MAX 255
#define DESCRIPTION_MAX KS_DESCRIPTION_MAX
#define PASSWORD_MAX 4096
#define TAG_MAX 255
#define TAGS_MAX 80
/* Stored for users created without a password: no argon2 string verifies against it. */
#define NO_PASSWORD "!"

#define PROJECT_COLS KS_PROJECT_COLS
#define USER_COLS KS_USER_COLS
#define ROLE_COLS "id, name, description, domain_id"
#define DOMAIN_COLS KS_DOMAIN_COLS

/* The roles token.c maps to RBAC bits: deleting them would lock everyone out. */
static const char *const builtin_roles[] = {"admin", "member", "reader"};

/* ---- shapes ---- */

json_t *ks_self_link(const struct req *r, const char *coll, const char *id)
{
	char *href = id ? xasprintf("%s/identity/v3/%s/%s", r->ctx->api->public_url, coll, id)
	                : xasprintf("%s/identity/v3/%s", r->ctx->api->public_url, coll);
	json_t *l = json_pack("{s:s}", "self", href);
	free(href);
	return l;
}
#define self_link ks_self_link

void ks_resp_list(struct req *r, struct resp *w, const char *key, json_t *items)
{
	char *href = xasprintf("%s%s", r->ctx->api->public_url, r->url);
	resp_json(w, 200,
	          json_pack("{s:o,s:{s:s,s:n,s:n}}", key, items, "links", "self", href, "next",
	                    "previous"));
	free(href);
}
#define resp_list ks_resp_list

json_t *ks_inner(const struct req *r, const char *key)
{
	json_t *o = r->json ? json_object_get(r->json, key) : NULL;
	return json_is_object(o) ? o : NULL;
}

char *ks_extra(const json_t *obj, const char *const *known)
{
	json_t *extra = json_object();
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)obj, k, v)
	{
		int skip = 0;
		for (const char *const *n = known; *n && !skip; n++)
			skip = !strcmp(*n, k);
		if (!skip)
			json_object_set(extra, k, v);
	}
	char *s = json_dumps(extra, JSON_COMPACT);
	json_decref(extra);
	return s;
}

void ks_extra_merge(json_t *o, const char *extra)
{
	json_t *e = extra ? json_loads(extra, 0, NULL) : NULL;
	const char *k;
	json_t *v;
	json_object_foreach(e, k, v)
	{
		if (!json_object_get(o, k))
			json_object_set(o, k, v);
	}
	json_decref(e);
}

/* Row of PROJECT_COLS. A top-level project's parent is its domain. */
json_t *ks_project_json(const struct req *r, const PGresult *res, int i)
{
	const char *desc = db_val(res, i, 2);
	json_t *tags = json_loads(db_val(res, i, 6) ? db_val(res, i, 6) : "[]", 0, NULL);
	json_t *p =
	    json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:b,s:o,s:{},s:o}", "id", db_val(res, i, 0), "name",
	              db_val(res, i, 1), "domain_id", db_val(res, i, 4), "description",
	              desc ? desc : "", "enabled", db_val(res, i, 3)[0] == 't', "parent_id",
	              db_val(res, i, 7), "is_domain", 0, "tags", tags ? tags : json_array(),
	              "options", "links", self_link(r, "projects", db_val(res, i, 0)));
	ks_extra_merge(p, db_val(res, i, 5));
	return p;
}
#define project_json ks_project_json

/* Row of USER_COLS. */
json_t *ks_user_json(const struct req *r, const PGresult *res, int i)
{
	json_t *u = json_pack("{s:s,s:s,s:s,s:b,s:n,s:{},s:o}", "id", db_val(res, i, 0), "name",
	                      db_val(res, i, 1), "domain_id", db_val(res, i, 5), "enabled",
	                      db_val(res, i, 2)[0] == 't', "password_expires_at", "options",
	                      "links", self_link(r, "users", db_val(res, i, 0)));
	if (db_val(res, i, 3))
		json_object_set_new(u, "default_project_id", json_string(db_val(res, i, 3)));
	if (db_val(res, i, 4))
		json_object_set_new(u, "email", json_string(db_val(res, i, 4)));
	ks_extra_merge(u, db_val(res, i, 6));
	return u;
}
#define user_json ks_user_json

/* Row of ROLE_COLS (a domain-specific role has its domain_id, a global one null). */
static json_t *role_json(const struct req *r, const PGresult *res, int i)
{
	json_t *o =
	    json_pack("{s:s,s:s,s:{},s:o}", "id", db_val(res, i, 0), "name", db_val(res, i, 1),
	              "options", "links", self_link(r, "roles", db_val(res, i, 0)));
	const char *desc = PQnfields(res) > 2 ? db_val(res, i, 2) : NULL;
	const char *dom = PQnfields(res) > 3 ? db_val(res, i, 3) : NULL;
	json_object_set_new(o, "description", desc ? json_string(desc) : json_null());
	json_object_set_new(o, "domain_id", dom ? json_string(dom) : json_null());
	return o;
}

/* Row of DOMAIN_COLS. */
json_t *ks_domain_json(const struct req *r, const PGresult *res, int i)
{
	json_t *d = json_pack("{s:s,s:s,s:s,s:b,s:[],s:{},s:o}", "id", db_val(res, i, 0), "name",
	                      db_val(res, i, 1), "description", db_val(res, i, 2), "enabled",
	                      db_val(res, i, 3)[0] == 't', "tags", "options", "links",
	                      self_link(r, "domains", db_val(res, i, 0)));
	ks_extra_merge(d, db_val(res, i, 4));
	return d;
}
#define domain_json ks_domain_json

typedef json_t *(*row_fn)(const struct req *r, const PGresult *res, int i);

static json_t *rows_json(const struct req *r, const PGresult *res, row_fn fn)
{
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, fn(r, res, i));
	return a;
}

/* ---- shared checks ---- */

/* The "enabled" list filter: "true"/"false" or NULL in *enabled; answers 400 and
 * returns -EINVAL on a bad value. */
static int list_filters(struct req *r, struct resp *w, const char **enabled)
{
	int e = wire_bool(req_query(r, "enabled"));
	if (e == -EINVAL) {
		resp_error(r, w, 400, "enabled: must be a boolean");
		return -EINVAL;
	}
	*enabled = e < 0 ? NULL : e ? "true" : "false";
	return 0;
}

static int caller_is(const struct req *r, const char *user_id)
{
	return !strcmp(r->ctx->auth.user_id, user_id);
}

/* Keystone's 404 text: "Could not find <what>: <id>." */
#define NOT_FOUND "Could not find %s: %s."

void ks_not_found(struct req *r, struct resp *w, const char *what, const char *id)
{
	resp_error(r, w, 404, NOT_FOUND, what, id);
}
#define not_found ks_not_found

int ks_name_check(struct req *r, struct resp *w, const char *name, int required, int max)
{
	if (required && !name) {
		resp_error(r, w, 400, "name: is required");
		return -EINVAL;
	}
	if (name && !wire_name_ok(name, (size_t)max)) {
		resp_error(r, w, 400, "name: must be 1 to %d printable characters", max);
		return -EINVAL;
	}
	return 0;
}
#define name_check ks_name_check

void ks_forbidden(struct req *r, struct resp *w)
{
	resp_error(r, w, 403, "You are not authorized to perform the requested action.");
}
#define forbidden ks_forbidden

/* Answers the error for a failed write: 409 on a duplicate name, 400 on a reference
 * to nothing, else 500. */
static void write_error(struct req *r, struct resp *w, const char *state, const char *err,
                        const char *what, const char *name)
{
	if (!strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409,
		           "Conflict occurred attempting to store %s - Duplicate entry found with "
		           "name %s.",
		           what, name ? name : "");
	else if (!strcmp(state, SQLSTATE_FOREIGN_KEY))
		resp_error(r, w, 400, "%s: refers to something that does not exist", what);
	else
		resp_db_error(r, w, err);
}

/* ---- shared answers ---- */

PGresult *ks_row_found(struct req *r, struct resp *w, PGresult *res, const char *err,
                       const char *what, const char *id)
{
	return wire_one_row(r, w, res, err, 404, NOT_FOUND, what, id);
}
#define row_found ks_row_found

void ks_list_answer(struct req *r, struct resp *w, PGresult *res, const char *err, const char *key,
                    ks_row_fn fn)
{
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	resp_list(r, w, key, rows_json(r, res, fn));
	PQclear(res);
}
#define list_answer ks_list_answer

void ks_write_answer(struct req *r, struct resp *w, PGresult *res, int status, const char *state,
                     const char *err, const char *what, const char *name, ks_row_fn fn)
{
	if (!res)
		write_error(r, w, state, err, what, name);
	else if (PQntuples(res) != 1)
		not_found(r, w, what, r->params[0]);
	else
		resp_json(w, status, json_pack("{s:o}", what, fn(r, res, 0)));
	PQclear(res);
}
#define write_answer ks_write_answer

/* ---- projects ---- */

struct project_in {
	char *name, *description, *domain_id, *parent_id;
	int enabled; /* -1 when absent */
	int is_domain;
	int has_is_domain; /* the body names is_domain (an update may not change it) */
	struct jstrlist tags;
	int has_tags;
	char *extra; /* JSON object text */
};

static const struct jfield f_project[] = {
    {"name", J_STR, JF(struct project_in, name), 0, PROJECT_NAME_MAX, 0, 0},
    {"description", J_STR, JF(struct project_in, description), 0, DESCRIPTION_MAX, 0, 1},
    {"domain_id", J_STR, JF(struct project_in, domain_id), 0, 64, 0, 1},
    {"parent_id", J_STR, JF(struct project_in, parent_id), 0, 64, 0, 1},
    {"enabled", J_BOOL, JF(struct project_in, enabled), 0, 0, 0, 1},
    {"is_domain", J_BOOL, JF(struct project_in, is_domain), 0, 0, 0, 1},
    {"tags", J_STRLIST, JF(struct project_in, tags), 0, TAGS_MAX, 0, 1},
};
static const char *const project_known[] = {"name",    "description", "domain_id", "parent_id",
                                            "enabled", "is_domain",   "tags",      "options",
                                            "id",      "links",       NULL};

static void project_in_release(struct project_in *p)
{
	jparse_release(f_project, JCOUNT(f_project), p);
	free(p->extra);
}

/* A tag as Keystone takes it: 1..255 characters, no '/' nor ','. */
static int tag_ok(const char *t)
{
	return wire_name_ok(t, TAG_MAX) && !strpbrk(t, "/,");
}

/* The tags as a PostgreSQL array literal: tags hold no ',' (tag_ok), each is quoted. */
static char *tags_literal(const struct jstrlist *l)
{
	size_t n = 3;
	for (size_t i = 0; i < l->n; i++)
		n += 2 * strlen(l->items[i]) + 3;
	char *out = xmalloc(n), *o = out;
	*o++ = '{';
	for (size_t i = 0; i < l->n; i++) {
		if (i)
			*o++ = ',';
		*o++ = '"';
		for (const char *c = l->items[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				*o++ = '\\';
			*o++ = *c;
		}
		*o++ = '"';
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* Parses and checks {"project": {...}}; name is required when creating. */
static int project_parse(struct req *r, struct resp *w, struct project_in *p, int create)
{
	memset(p, 0, sizeof(*p));
	p->enabled = -1;
	if (wire_parse_wrapped(r, w, "project", f_project, JCOUNT(f_project), p) < 0)
		return -EINVAL;
	json_t *in = ks_inner(r, "project");
	p->has_tags = json_is_array(json_object_get(in, "tags"));
	p->has_is_domain = json_is_boolean(json_object_get(in, "is_domain"));
	for (size_t i = 0; i < p->tags.n; i++)
		if (!tag_ok(p->tags.items[i])) {
			resp_error(r, w, 400, "tags: a tag is 1 to %d characters, without / or ,",
			           TAG_MAX);
			goto fail;
		}
	if (name_check(r, w, p->name, create, PROJECT_NAME_MAX) < 0)
		goto fail;
	if (create && p->is_domain && (p->domain_id || p->parent_id || p->has_tags)) {
		resp_error(r, w, 400,
		           "is_domain: a project acting as a domain has no domain_id, parent_id or "
		           "tags");
		goto fail;
	}
	if (!create && p->parent_id) {
		resp_error(r, w, 400, "parent_id: a project cannot move in the hierarchy");
		goto fail;
	}
	if (!create && p->domain_id) {
		resp_error(r, w, 400, "domain_id: a project cannot move to another domain");
		goto fail;
	}
	p->extra = ks_extra(in, project_known);
	return 0;
fail:
	project_in_release(p);
	return -EINVAL;
}

/* ---- projects acting as domains ---- */

/* Keystone keeps a domain as a project with is_domain set; Nubo keeps domains in their
 * own table, and the projects API creates, lists, shows, changes and deletes them as
 * is_domain projects (same id, name, description, enabled and extra attributes). */
static json_t *domain_project_json(const struct req *r, const PGresult *res, int i)
{
	json_t *p =
	    json_pack("{s:s,s:s,s:s,s:b,s:n,s:n,s:b,s:[],s:{},s:o}", "id", db_val(res, i, 0),
	              "name", db_val(res, i, 1), "description", db_val(res, i, 2), "enabled",
	              db_val(res, i, 3)[0] == 't', "domain_id", "parent_id", "is_domain", 1, "tags",
	              "options", "links", self_link(r, "projects", db_val(res, i, 0)));
	ks_extra_merge(p, db_val(res, i, 4));
	return p;
}

/* 1 when id is a domain's and no project's, 0 when not, -EIO. */
static int domain_project_id(struct req *r, const char *id)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM domains d WHERE d.id = $1"
	            " AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.id = $1)",
	            id);
	return n < 0 ? -EIO : n > 0;
}

static void domain_project_create(struct req *r, struct resp *w, const struct project_in *p)
{
	char err[256], state[6] = "", id[UUID_STR_LEN];
	uuid_generate_str(id);
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO domains (id, name, description, enabled, extra)"
	             " VALUES ($1, $2, coalesce($3, ''), $4::boolean, $5::jsonb)"
	             " RETURNING " DOMAIN_COLS,
	             5,
	             (const char *const[]){id, p->name, p->description,
	                                   p->enabled == 0 ? "false" : "true", p->extra},
	             err, sizeof(err), state);
	write_answer(r, w, res, 201, state, err, "project", p->name, domain_project_json);
}

static void domain_project_update(struct req *r, struct resp *w, const struct project_in *p)
{
	char err[256], state[6] = "";
	if (p->has_is_domain && !p->is_domain) {
		resp_error(r, w, 400, "is_domain: cannot be changed");
		return;
	}
	if (p->has_tags || (!strcmp(r->params[0], DOMAIN_ID) && p->enabled == 0)) {
		resp_error(r, w, p->has_tags ? 400 : 403,
		           p->has_tags ? "tags: a project acting as a domain has none"
		                       : "The default domain cannot be disabled.");
		return;
	}
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE domains SET name = coalesce($2, name), description = coalesce($3, description),"
	    " enabled = coalesce($4::boolean, enabled), extra = extra || $5::jsonb"
	    " WHERE id = $1 RETURNING " DOMAIN_COLS,
	    5,
	    (const char *const[]){r->params[0], p->name, p->description,
	                          p->enabled < 0 ? NULL
	                          : p->enabled   ? "true"
	                                         : "false",
	                          p->extra},
	    err, sizeof(err), state);
	write_answer(r, w, res, 200, state, err, "project", p->name, domain_project_json);
}

/* Show (op 0) or delete (op 2) of params[0] when it is a domain (update is op 1, with
 * p): 1 when answered, 0 when params[0] is no domain. */
static int domain_project_route(struct req *r, struct resp *w, int op, const struct project_in *p)
{
	char err[256];
	const char *id = r->params[0];
	int rc = domain_project_id(r, id);
	if (rc == 0)
		return 0;
	if (rc < 0) {
		resp_db_error(r, w, "domain lookup failed");
		return 1;
	}
	if (op == 1) {
		domain_project_update(r, w, p);
		return 1;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " DOMAIN_COLS " FROM domains WHERE id = $1", id);
	res = row_found(r, w, res, err, "project", id);
	if (!res)
		return 1;
	if (op == 0 && !policy_is_admin(&r->ctx->auth))
		forbidden(r, w);
	else if (op == 0)
		resp_json(w, 200, json_pack("{s:o}", "project", domain_project_json(r, res, 0)));
	else if (!strcmp(id, DOMAIN_ID))
		resp_error(r, w, 403, "The default domain cannot be deleted.");
	else if (db_val(res, 0, 3)[0] == 't')
		resp_error(
		    r, w, 403,
		    "Cannot delete a project acting as a domain while it is enabled; disable "
		    "it first.");
	else
		wire_answer_rows(
		    r, w, DBX(r->ctx->db, err, sizeof err, "DELETE FROM domains WHERE id = $1", id),
		    err, 204, NOT_FOUND, "project", id);
	PQclear(res);
	return 1;
}

/* GET /projects?is_domain=true: the domains, as projects (filters name, enabled). */
static void domain_projects_list(struct req *r, struct resp *w, const char *enabled)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " DOMAIN_COLS " FROM domains WHERE ($1::text IS NULL OR name = $1)"
	        " AND ($2::boolean IS NULL OR enabled = $2::boolean) ORDER BY name",
	        req_query(r, "name"), enabled);
	list_answer(r, w, res, err, "projects", domain_project_json);
}

/* GET /projects: filters name, enabled, domain_id, and tags (all of), tags-any,
 * not-tags, not-tags-any (comma-separated lists); is_domain=true lists the domains. */
static void projects_list(struct req *r, struct resp *w)
{
	char err[256];
	const char *enabled;
	if (list_filters(r, w, &enabled) < 0)
		return;
	const char *isd = req_query(r, "is_domain");
	int is_domain = isd ? wire_bool(isd) : 0;
	if (is_domain < 0) {
		resp_error(r, w, 400, "is_domain: must be a boolean");
		return;
	}
	if (is_domain) {
		domain_projects_list(r, w, enabled);
		return;
	}
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " PROJECT_COLS " FROM projects"
	        " WHERE ($1::text IS NULL OR name = $1)"
	        " AND ($2::boolean IS NULL OR enabled = $2::boolean)"
	        " AND ($3::text IS NULL OR domain_id = $3)"
	        " AND ($4::text IS NULL OR tags @> string_to_array($4, ','))"
	        " AND ($5::text IS NULL OR tags && string_to_array($5, ','))"
	        " AND ($6::text IS NULL OR NOT tags @> string_to_array($6, ','))"
	        " AND ($7::text IS NULL OR NOT tags && string_to_array($7, ','))"
	        " AND ($8::text IS NULL OR coalesce(parent_id, domain_id) = $8) ORDER BY name",
	        req_query(r, "name"), enabled, req_query(r, "domain_id"), req_query(r, "tags"),
	        req_query(r, "tags-any"), req_query(r, "not-tags"), req_query(r, "not-tags-any"),
	        req_query(r, "parent_id"));
	list_answer(r, w, res, err, "projects", project_json);
}

/* The project of r->params[0] when the caller may read it (an admin, or a user with a
 * role on it); else answers 404/403/500 and returns NULL. */
static PGresult *project_readable(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " PROJECT_COLS ", EXISTS (SELECT 1 FROM"
	                    " user_scope_grants($2, p.id, NULL, false)) FROM projects p"
	                    " WHERE id = $1",
	                    id, r->ctx->auth.user_id);
	res = row_found(r, w, res, err, "project", id);
	if (res && !policy_is_admin(&r->ctx->auth) && db_val(res, 0, 8)[0] != 't') {
		forbidden(r, w);
		PQclear(res);
		return NULL;
	}
	return res;
}

static void projects_show(struct req *r, struct resp *w)
{
	if (domain_project_route(r, w, 0, NULL))
		return;
	PGresult *res = project_readable(r, w);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "project", project_json(r, res, 0)));
	PQclear(res);
}

static void projects_create(struct req *r, struct resp *w)
{
	struct project_in p;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (project_parse(r, w, &p, 1) < 0)
		return;
	if (p.is_domain) {
		domain_project_create(r, w, &p);
		project_in_release(&p);
		return;
	}
	uuid_generate_str(id);
	char *tags = tags_literal(&p.tags);
	PGresult *res = db_query(
	    r->ctx->db,
	    /* a parent project gives its domain (the one named must be the same); a parent
	     * that is the domain itself makes a top-level project */
	    "WITH par AS (SELECT id, domain_id FROM projects WHERE id = $8)"
	    " INSERT INTO projects (id, name, description, enabled, domain_id, extra, tags,"
	    " parent_id) SELECT $1, $2, coalesce($3, ''), $4::boolean,"
	    " coalesce($5, (SELECT domain_id FROM par), 'default'), $6::jsonb, $7::text[],"
	    " (SELECT id FROM par) WHERE $8::text IS NULL OR $8 = coalesce($5, 'default')"
	    " OR EXISTS (SELECT 1 FROM par WHERE $5::text IS NULL OR par.domain_id = $5)"
	    " RETURNING " PROJECT_COLS,
	    8,
	    (const char *const[]){id, p.name, p.description, p.enabled == 0 ? "false" : "true",
	                          p.domain_id, p.extra, tags, p.parent_id},
	    err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		not_found(r, w, "domain", p.domain_id ? p.domain_id : DOMAIN_ID);
	else if (res && PQntuples(res) == 0) {
		PQclear(res);
		resp_error(r, w, 400, "parent_id: no such project in the project's domain");
	} else
		write_answer(r, w, res, 201, state, err, "project", p.name, project_json);
	free(tags);
	project_in_release(&p);
}

static void projects_update(struct req *r, struct resp *w)
{
	struct project_in p;
	char err[256], state[6] = "";
	if (project_parse(r, w, &p, 0) < 0)
		return;
	if (domain_project_route(r, w, 1, &p)) {
		project_in_release(&p);
		return;
	}
	if (p.has_is_domain && p.is_domain) {
		resp_error(r, w, 400, "is_domain: cannot be changed");
		project_in_release(&p);
		return;
	}
	char *tags = p.has_tags ? tags_literal(&p.tags) : NULL;
	PGresult *res =
	    db_query(r->ctx->db,
	             "UPDATE projects SET name = coalesce($2, name), description = coalesce($3, "
	             "description),"
	             " enabled = coalesce($4::boolean, enabled), extra = extra || $5::jsonb,"
	             " tags = coalesce($6::text[], tags) WHERE id = $1 RETURNING " PROJECT_COLS,
	             6,
	             (const char *const[]){r->params[0], p.name, p.description,
	                                   p.enabled < 0 ? NULL
	                                   : p.enabled   ? "true"
	                                                 : "false",
	                                   p.extra, tags},
	             err, sizeof(err), state);
	write_answer(r, w, res, 200, state, err, "project", p.name, project_json);
	free(tags);
	project_in_release(&p);
}

static void projects_delete(struct req *r, struct resp *w)
{
	char err[256];
	/* Role assignments, tokens and quotas go with it (ON DELETE CASCADE). */
	char state[6] = "";
	if (domain_project_route(r, w, 2, NULL))
		return;
	PGresult *res = db_query(r->ctx->db, "DELETE FROM projects WHERE id = $1", 1,
	                         (const char *const[]){r->params[0]}, err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY)) {
		resp_error(r, w, 403, "Cannot delete project %s: it has child projects.",
		           r->params[0]);
		return;
	}
	int n = res ? atoi(PQcmdTuples(res)) : -1;
	PQclear(res);
	wire_answer_rows(r, w, n, err, 204, NOT_FOUND, "project", r->params[0]);
}

/* ---- project tags ---- */

static void tags_list(struct req *r, struct resp *w)
{
	PGresult *res = project_readable(r, w);
	if (!res)
		return;
	json_t *tags = json_loads(db_val(res, 0, 6), 0, NULL);
	resp_json(w, 200, json_pack("{s:o}", "tags", tags ? tags : json_array()));
	PQclear(res);
}

static void tags_check(struct req *r, struct resp *w)
{
	PGresult *res = project_readable(r, w);
	if (!res)
		return;
	json_t *tags = json_loads(db_val(res, 0, 6), 0, NULL), *t;
	size_t i;
	int found = 0;
	json_array_foreach(tags, i, t) found |= !strcmp(json_string_value(t), r->params[1]);
	json_decref(tags);
	PQclear(res);
	if (found)
		resp_empty(w, 204);
	else
		resp_error(r, w, 404, "Could not find project tag: %s.", r->params[1]);
}

/* Writes the project's tags with sql ($1 project, $2 tag or array literal) and answers
 * status with no body, or {"tags": [...]} when with_body. */
static void tags_write(struct req *r, struct resp *w, const char *sql, const char *arg, int status,
                       int with_body)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, r->params[0], arg);
	res = row_found(r, w, res, err, "project", r->params[0]);
	if (!res)
		return;
	if (with_body) {
		json_t *tags = json_loads(db_val(res, 0, 0), 0, NULL);
		resp_json(w, status, json_pack("{s:o}", "tags", tags ? tags : json_array()));
	} else {
		resp_empty(w, status);
	}
	PQclear(res);
}

static void tags_put_one(struct req *r, struct resp *w)
{
	if (!tag_ok(r->params[1])) {
		resp_error(r, w, 400, "tags: a tag is 1 to %d characters, without / or ,", TAG_MAX);
		return;
	}
	tags_write(r, w,
	           "UPDATE projects SET tags = CASE WHEN $2 = ANY (tags) THEN tags"
	           " WHEN cardinality(tags) >= 80 THEN NULL ELSE array_append(tags, $2) END"
	           " WHERE id = $1 RETURNING array_to_json(tags)::text",
	           r->params[1], 201, 0);
}

static void tags_put_all(struct req *r, struct resp *w)
{
	struct {
		struct jstrlist tags;
	} in = {{0, NULL}};
	static const struct jfield f[] = {{"tags", J_STRLIST, 0, 0, TAGS_MAX, 1, 0}};
	char err[256];
	if (!r->json || jparse(r->json, f, 1, &in, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", r->json ? err : "tags: a list is required");
		return;
	}
	for (size_t i = 0; i < in.tags.n; i++)
		if (!tag_ok(in.tags.items[i])) {
			resp_error(r, w, 400, "tags: a tag is 1 to %d characters, without / or ,",
			           TAG_MAX);
			jparse_release(f, 1, &in);
			return;
		}
	char *lit = tags_literal(&in.tags);
	tags_write(r, w,
	           "UPDATE projects SET tags = (SELECT coalesce(array_agg(DISTINCT t), '{}')"
	           " FROM unnest($2::text[]) t) WHERE id = $1 RETURNING array_to_json(tags)::text",
	           lit, 200, 1);
	free(lit);
	jparse_release(f, 1, &in);
}

static void tags_delete_one(struct req *r, struct resp *w)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE projects SET tags = array_remove(tags, $2) WHERE id = $1"
	            " AND $2 = ANY (tags)",
	            r->params[0], r->params[1]);
	wire_answer_rows(r, w, n, err, 204, "Could not find project tag: %s.", r->params[1]);
}

static void tags_delete_all(struct req *r, struct resp *w)
{
	tags_write(r, w,
	           "UPDATE projects SET tags = '{}' WHERE id = $1 AND $2::text IS NULL"
	           " RETURNING '[]'",
	           NULL, 204, 0);
}

/* ---- users ---- */

struct user_in {
	char *name, *password, *email, *default_project_id, *domain_id;
	int enabled; /* -1 when absent */
	char *extra; /* JSON object text: description and every other unknown member */
};
static const char *const user_known[] = {
    "name",    "password", "email", "default_project_id", "domain_id",           "enabled",
    "options", "id",       "links", "federated",          "password_expires_at", NULL};

static const struct jfield f_user[] = {
    {"name", J_STR, JF(struct user_in, name), 0, USER_NAME_MAX, 0, 0},
    {"password", J_STR, JF(struct user_in, password), 0, PASSWORD_MAX, 0, 1},
    {"email", J_STR, JF(struct user_in, email), 0, 255, 0, 1},
    {"default_project_id", J_STR, JF(struct user_in, default_project_id), 0, 64, 0, 1},
    {"domain_id", J_STR, JF(struct user_in, domain_id), 0, 64, 0, 1},
    {"enabled", J_BOOL, JF(struct user_in, enabled), 0, 0, 0, 1},
};

static void user_in_release(struct user_in *u)
{
	if (u->password)
		sodium_memzero(u->password, strlen(u->password));
	jparse_release(f_user, JCOUNT(f_user), u);
	free(u->extra);
}

static int user_parse(struct req *r, struct resp *w, struct user_in *u, int create)
{
	memset(u, 0, sizeof(*u));
	u->enabled = -1;
	if (wire_parse_wrapped(r, w, "user", f_user, JCOUNT(f_user), u) < 0)
		return -EINVAL;
	if (name_check(r, w, u->name, create, USER_NAME_MAX) == 0) {
		if (u->password && !*u->password) {
			resp_error(r, w, 400, "password: must not be empty");
		} else if (!create && u->domain_id) {
			resp_error(r, w, 400, "domain_id: a user cannot move to another domain");
		} else {
			u->extra = ks_extra(ks_inner(r, "user"), user_known);
			return 0;
		}
	}
	user_in_release(u);
	return -EINVAL;
}

/* Hashes pw (argon2id, interactive limits) into out through the password-hash gate
 * (api->pwhash, the one token issue uses): 0, -EBUSY when too many hashes already run
 * or wait, or -ENOMEM. */
static int password_hash(struct api *api, const char *pw, char out[crypto_pwhash_STRBYTES])
{
	if (gate_enter(api->pwhash) < 0)
		return -EBUSY;
	int rc = crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                           crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
	             ? 0
	             : -ENOMEM;
	gate_leave(api->pwhash);
	return rc;
}

/* Checks pw against the stored hash through the same gate: 0, -EACCES, or -EBUSY. */
static int password_verify(struct api *api, const char *hash, const char *pw)
{
	if (gate_enter(api->pwhash) < 0)
		return -EBUSY;
	int rc = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0 ? 0 : -EACCES;
	gate_leave(api->pwhash);
	return rc;
}

/* Answers a failed password_hash()/password_verify() that is not -EACCES: 503 with
 * Retry-After when the gate turned it away (as token issue does), else 500. */
static void password_error(struct req *r, struct resp *w, int rc)
{
	if (rc == -EBUSY) {
		resp_error(r, w, 503, "Too many password operations at once; retry later.");
		resp_header(w, "Retry-After", "1");
	} else {
		resp_error(r, w, 500, "password hashing failed");
	}
}

static void users_list(struct req *r, struct resp *w)
{
	char err[256];
	const char *enabled;
	if (list_filters(r, w, &enabled) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " USER_COLS " FROM users WHERE ($1::text IS NULL OR name = $1)"
	                    " AND ($2::boolean IS NULL OR enabled = $2::boolean)"
	                    " AND ($3::text IS NULL OR domain_id = $3) ORDER BY name",
	                    req_query(r, "name"), enabled, req_query(r, "domain_id"));
	list_answer(r, w, res, err, "users", user_json);
}

static void users_show(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT " USER_COLS " FROM users WHERE id = $1", id);
	res = row_found(r, w, res, err, "user", id);
	if (!res)
		return;
	if (!policy_is_admin(&r->ctx->auth) && !caller_is(r, id))
		forbidden(r, w);
	else
		resp_json(w, 200, json_pack("{s:o}", "user", user_json(r, res, 0)));
	PQclear(res);
}

static void users_create(struct req *r, struct resp *w)
{
	struct user_in u;
	char err[256], state[6] = "", id[UUID_STR_LEN], hash[crypto_pwhash_STRBYTES];
	if (user_parse(r, w, &u, 1) < 0)
		return;
	snprintf(hash, sizeof(hash), "%s", NO_PASSWORD);
	int rc = u.password ? password_hash(r->ctx->api, u.password, hash) : 0;
	if (rc < 0) {
		password_error(r, w, rc);
		goto out;
	}
	uuid_generate_str(id);
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO users (id, name, password_hash, email, default_project_id, enabled,"
	    " domain_id, extra) VALUES ($1, $2, $3, $4, $5, $6::boolean, $7, $8::jsonb)"
	    " RETURNING " USER_COLS,
	    8,
	    (const char *const[]){id, u.name, hash, u.email, u.default_project_id,
	                          u.enabled == 0 ? "false" : "true",
	                          u.domain_id ? u.domain_id : DOMAIN_ID, u.extra},
	    err, sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY) && strstr(err, "users_domain"))
		not_found(r, w, "domain", u.domain_id ? u.domain_id : DOMAIN_ID);
	else
		write_answer(r, w, res, 201, state, err, "user", u.name, user_json);
out:
	sodium_memzero(hash, sizeof(hash));
	user_in_release(&u);
}

static void users_update(struct req *r, struct resp *w)
{
	struct user_in u;
	char err[256], state[6] = "", hash[crypto_pwhash_STRBYTES] = "";
	const char *id = r->params[0];
	if (user_parse(r, w, &u, 0) < 0)
		return;
	PGresult *res = NULL;
	int rc = u.password ? password_hash(r->ctx->api, u.password, hash) : 0;
	if (rc < 0) {
		password_error(r, w, rc);
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	res = db_query(r->ctx->db,
	               "UPDATE users SET name = coalesce($2, name),"
	               " password_hash = coalesce($3, password_hash), email = coalesce($4, email),"
	               " default_project_id = coalesce($5, default_project_id),"
	               " enabled = coalesce($6::boolean, enabled), extra = extra || $7::jsonb"
	               " WHERE id = $1 RETURNING " USER_COLS,
	               7,
	               (const char *const[]){id, u.name, hash[0] ? hash : NULL, u.email,
	                                     u.default_project_id,
	                                     u.enabled < 0 ? NULL
	                                     : u.enabled   ? "true"
	                                                   : "false",
	                                     u.extra},
	               err, sizeof(err), state);
	if (!res) {
		write_error(r, w, state, err, "user", u.name);
		goto out;
	}
	if (PQntuples(res) != 1) {
		not_found(r, w, "user", id);
		goto out;
	}
	/* A new password or a disabled account ends every session of the user. */
	if ((hash[0] || u.enabled == 0) && token_revoke_user(r->ctx->db, id) < 0) {
		resp_db_error(r, w, "token revoke failed");
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	resp_json(w, 200, json_pack("{s:o}", "user", user_json(r, res, 0)));
out:
	PQclear(res);
	sodium_memzero(hash, sizeof(hash));
	user_in_release(&u); /* db_release rolls back an open transaction */
}

static void users_delete(struct req *r, struct resp *w)
{
	char err[256];
	/* Tokens, role assignments and keypairs go with it (ON DELETE CASCADE). */
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM users WHERE id = $1", r->params[0]);
	wire_answer_rows(r, w, n, err, 204, NOT_FOUND, "user", r->params[0]);
}

struct password_in {
	char *password, *original;
};

static const struct jfield f_password[] = {
    {"password", J_STR, JF(struct password_in, password), 0, PASSWORD_MAX, 1, 0},
    {"original_password", J_STR, JF(struct password_in, original), 0, PASSWORD_MAX, 1, 0},
};

/* POST /users/{id}/password: a user changes its own password (openstack user password
 * set). As in Keystone it needs no token: the original password is the proof, whoever
 * sends it (an admin resets a password with PATCH /users/{id} instead). */
static void users_password(struct req *r, struct resp *w)
{
	struct password_in p = {0};
	char err[256], hash[crypto_pwhash_STRBYTES] = "";
	const char *id = r->params[0];
	PGresult *res = NULL;
	if (wire_parse_wrapped(r, w, "user", f_password, JCOUNT(f_password), &p) < 0)
		return;
	if (!*p.password) {
		resp_error(r, w, 400, "password: must not be empty");
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err, "SELECT password_hash FROM users WHERE id = $1", id);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	int rc = PQntuples(res) == 1 ? password_verify(r->ctx->api, db_val(res, 0, 0), p.original)
	                             : -EACCES;
	if (rc == -EACCES) {
		resp_error(r, w, 401, "The request you have made requires authentication.");
		goto out;
	}
	if (rc == 0)
		rc = password_hash(r->ctx->api, p.password, hash);
	if (rc < 0) {
		password_error(r, w, rc);
		goto out;
	}
	if (db_begin(r->ctx->db) < 0 ||
	    DBX(r->ctx->db, err, sizeof err, "UPDATE users SET password_hash = $2 WHERE id = $1",
	        id, hash) < 0 ||
	    token_revoke_user(r->ctx->db, id) < 0 || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "password update failed");
		goto out;
	}
	resp_empty(w, 204);
out:
	PQclear(res);
	sodium_memzero(hash, sizeof(hash));
	if (p.password)
		sodium_memzero(p.password, strlen(p.password));
	if (p.original)
		sodium_memzero(p.original, strlen(p.original));
	jparse_release(f_password, JCOUNT(f_password), &p);
}

static void users_projects(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	if (!policy_is_admin(&r->ctx->auth) && !caller_is(r, id)) {
		forbidden(r, w);
		return;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, "SELECT 1 FROM users WHERE id = $1", id);
	res = row_found(r, w, res, err, "user", id);
	if (!res)
		return;
	PQclear(res);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " PROJECT_COLS " FROM projects p WHERE EXISTS"
	          " (SELECT 1 FROM user_scope_grants($1, p.id, NULL, false)) ORDER BY name",
	          id);
	list_answer(r, w, res, err, "projects", project_json);
}

/* ---- roles ---- */

struct role_in {
	char *name, *description, *domain_id;
};

static const struct jfield f_role[] = {
    {"name", J_STR, JF(struct role_in, name), 0, ROLE_NAME_MAX, 1, 0},
    {"description", J_STR, JF(struct role_in, description), 0, DESCRIPTION_MAX, 0, 1},
    {"domain_id", J_STR, JF(struct role_in, domain_id), 0, 64, 0, 1},
};

static void roles_list(struct req *r, struct resp *w)
{
	char err[256];
	/* without domain_id the global roles, with it that domain's roles (Keystone) */
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ROLE_COLS " FROM roles WHERE ($1::text IS NULL OR name = $1)"
	                    " AND domain_id IS NOT DISTINCT FROM $2 ORDER BY name",
	                    req_query(r, "name"), req_query(r, "domain_id"));
	list_answer(r, w, res, err, "roles", role_json);
}

static void roles_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ROLE_COLS " FROM roles WHERE id = $1", r->params[0]);
	res = row_found(r, w, res, err, "role", r->params[0]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "role", role_json(r, res, 0)));
	PQclear(res);
}

static void roles_create(struct req *r, struct resp *w)
{
	struct role_in in = {0};
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (wire_parse_wrapped(r, w, "role", f_role, JCOUNT(f_role), &in) < 0)
		return;
	if (name_check(r, w, in.name, 1, ROLE_NAME_MAX) < 0)
		goto out;
	if (strchr(in.name, ',')) { /* a token lists its roles comma-separated */
		resp_error(r, w, 400, "name: a role name cannot hold ','");
		goto out;
	}
	if (in.domain_id) { /* a domain-specific role: its domain must exist */
		int n = DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM domains WHERE id = $1",
		            in.domain_id);
		if (n <= 0) {
			wire_answer_rows(r, w, n, err, 204, NOT_FOUND, "domain", in.domain_id);
			goto out;
		}
	}
	uuid_generate_str(id);
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO roles (id, name, description, domain_id)"
	             " VALUES ($1, $2, $3, $4) RETURNING " ROLE_COLS,
	             4, (const char *const[]){id, in.name, in.description, in.domain_id}, err,
	             sizeof(err), state);
	write_answer(r, w, res, 201, state, err, "role", in.name, role_json);
out:
	jparse_release(f_role, JCOUNT(f_role), &in);
}

/* PATCH /roles/{id}: name and description; the built-in roles keep their names. */
static void roles_update(struct req *r, struct resp *w)
{
	struct role_in in = {0};
	char err[256], state[6] = "";
	if (wire_parse_wrapped(r, w, "role", f_role, JCOUNT(f_role), &in) < 0)
		return;
	if (name_check(r, w, in.name, 0, ROLE_NAME_MAX) < 0)
		goto out;
	if (in.name && strchr(in.name, ',')) {
		resp_error(r, w, 400, "name: a role name cannot hold ','");
		goto out;
	}
	PGresult *res =
	    db_query(r->ctx->db,
	             "UPDATE roles SET name = CASE WHEN name IN ('admin', 'member', 'reader')"
	             " AND domain_id IS NULL THEN name"
	             " ELSE coalesce($2, name) END, description = coalesce($3, description)"
	             " WHERE id = $1 RETURNING " ROLE_COLS,
	             3, (const char *const[]){r->params[0], in.name, in.description}, err,
	             sizeof(err), state);
	write_answer(r, w, res, 200, state, err, "role", in.name, role_json);
out:
	jparse_release(f_role, JCOUNT(f_role), &in);
}

static void roles_delete(struct req *r, struct resp *w)
{
	char err[256] = "";
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT name, domain_id FROM roles WHERE id = $1", r->params[0]);
	res = row_found(r, w, res, err, "role", r->params[0]);
	if (!res)
		return;
	for (size_t i = 0; i < sizeof(builtin_roles) / sizeof(builtin_roles[0]); i++)
		if (!db_val(res, 0, 1) && !strcmp(db_val(res, 0, 0), builtin_roles[i])) {
			resp_error(r, w, 403, "Role %s is built in and cannot be deleted.",
			           builtin_roles[i]);
			goto out;
		}
	/* its grants go with it (ON DELETE CASCADE); so do the application credentials of
	 * whoever thereby lost their last role on the credential's project (review F15) */
	if (db_begin(r->ctx->db) < 0 ||
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM roles WHERE id = $1", r->params[0]) < 0 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "DELETE FROM application_credentials ac WHERE NOT EXISTS (SELECT 1 FROM"
	        " user_scope_grants(ac.user_id, ac.project_id, NULL, false))") < 0 ||
	    db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, err[0] ? err : "role delete failed");
	else
		resp_empty(w, 204);
out:
	PQclear(res);
}

/* ---- role inference (implied roles) ---- */

/* {"id", "name", "links"} of a role, from columns i, i+1 of row k. */
static json_t *role_ref(const struct req *r, const PGresult *res, int k, int i)
{
	return json_pack("{s:s,s:s,s:o}", "id", db_val(res, k, i), "name", db_val(res, k, i + 1),
	                 "links", self_link(r, "roles", db_val(res, k, i)));
}

/* The prior role params[0] and (when implied) role params[1] exist: 0, or answers 404
 * naming the missing one. */
static int inference_roles(struct req *r, struct resp *w, int implied)
{
	char err[256];
	for (int i = 0; i <= implied; i++) {
		int n = DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM roles WHERE id = $1",
		            r->params[i]);
		if (n <= 0) {
			wire_answer_rows(r, w, n, err, 204, NOT_FOUND, "role", r->params[i]);
			return -1;
		}
	}
	return 0;
}

#define INFERENCE_COLS "p.id, p.name, c.id, c.name"
#define INFERENCE_FROM                                                                             \
	" FROM implied_roles ir JOIN roles p ON p.id = ir.prior_role_id"                           \
	" JOIN roles c ON c.id = ir.implied_role_id"

static void inference_put(struct req *r, struct resp *w)
{
	char err[256], state[6] = "";
	if (inference_roles(r, w, 1) < 0)
		return;
	/* Keystone: a global role may not imply a domain-specific one (a domain's role
	 * may imply roles of any domain and global ones) */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM roles p, roles c WHERE p.id = $1 AND c.id = $2"
	            " AND p.domain_id IS NULL AND c.domain_id IS NOT NULL",
	            r->params[0], r->params[1]);
	if (n != 0) {
		if (n < 0)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, 403,
			           "Implied role %s is domain-specific: a global role cannot "
			           "imply it.",
			           r->params[1]);
		return;
	}
	PGresult *res = db_query(
	    r->ctx->db,
	    "WITH n AS (INSERT INTO implied_roles VALUES ($1, $2) ON CONFLICT DO NOTHING)"
	    " SELECT " INFERENCE_COLS " FROM roles p, roles c WHERE p.id = $1 AND c.id = $2",
	    2, (const char *const[]){r->params[0], r->params[1]}, err, sizeof(err), state);
	if (!res && !strcmp(state, "23514")) /* the CHECK: a role implying itself */
		resp_error(r, w, 400, "A role cannot imply itself.");
	else if (!res)
		resp_db_error(r, w, err);
	else
		resp_json(w, 201,
		          json_pack("{s:{s:o,s:o}}", "role_inference", "prior_role",
		                    role_ref(r, res, 0, 0), "implies", role_ref(r, res, 0, 2)));
	PQclear(res);
}

static void inference_show(struct req *r, struct resp *w)
{
	char err[256];
	if (inference_roles(r, w, 1) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " INFERENCE_COLS INFERENCE_FROM
	                    " WHERE ir.prior_role_id = $1 AND ir.implied_role_id = $2",
	                    r->params[0], r->params[1]);
	res =
	    wire_one_row(r, w, res, err, 404, "%s does not imply %s.", r->params[0], r->params[1]);
	if (!res)
		return;
	if (!strcmp(r->method, "HEAD")) /* Keystone's check of a rule */
		resp_empty(w, 204);
	else
		resp_json(w, 200,
		          json_pack("{s:{s:o,s:o}}", "role_inference", "prior_role",
		                    role_ref(r, res, 0, 0), "implies", role_ref(r, res, 0, 2)));
	PQclear(res);
}

static void inference_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (inference_roles(r, w, 1) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM implied_roles WHERE prior_role_id = $1 AND implied_role_id = $2",
	            r->params[0], r->params[1]);
	wire_answer_rows(r, w, n, err, 204, "%s does not imply %s.", r->params[0], r->params[1]);
}

/* The rules of res (ordered by prior role) grouped as Keystone lists them. */
static json_t *inferences_json(const struct req *r, const PGresult *res)
{
	json_t *out = json_array(), *cur = NULL;
	for (int i = 0; i < PQntuples(res); i++) {
		if (!cur || strcmp(json_string_value(
		                       json_object_get(json_object_get(cur, "prior_role"), "id")),
		                   db_val(res, i, 0))) {
			cur = json_pack("{s:o,s:[]}", "prior_role", role_ref(r, res, i, 0),
			                "implies");
			json_array_append_new(out, cur);
		}
		json_array_append_new(json_object_get(cur, "implies"), role_ref(r, res, i, 2));
	}
	return out;
}

static void inferences_of_role(struct req *r, struct resp *w)
{
	char err[256];
	if (inference_roles(r, w, 0) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " INFERENCE_COLS INFERENCE_FROM
	                    " WHERE ir.prior_role_id = $1 ORDER BY c.name",
	                    r->params[0]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *all = inferences_json(r, res);
	json_t *one = json_array_size(all) ? json_incref(json_array_get(all, 0)) : NULL;
	if (!one) {
		PGresult *p = DBQ(r->ctx->db, err, sizeof err,
		                  "SELECT id, name FROM roles WHERE id = $1", r->params[0]);
		if (!p || PQntuples(p) != 1) {
			PQclear(p);
			PQclear(res);
			json_decref(all);
			resp_db_error(r, w, err);
			return;
		}
		one = json_pack("{s:o,s:[]}", "prior_role", role_ref(r, p, 0, 0), "implies");
		PQclear(p);
	}
	json_decref(all);
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "role_inference", one));
}

static void inferences_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " INFERENCE_COLS INFERENCE_FROM " WHERE $1 ORDER BY p.id, c.name", "true");
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "role_inferences", inferences_json(r, res)));
	PQclear(res);
}

/* ---- grants: a role on a project or a domain, to a user or a group ---- */

/* Which kind of grant a route handles: its target (a project, a domain or the system),
 * its actor (a user or a group), whether it is inherited to the projects below the
 * target (OS-INHERIT), and the SQL that checks the target and actor exist, the
 * grant's columns ($1 target, $2 actor) and what a removed grant leaves behind. */
struct grant_kind {
	const char *target, *actor; /* "project"/"domain"/"system", "user"/"group" */
	const char *target_sql, *actor_sql;
	const char *insert; /* INSERT of $1 target, $2 actor, $3 role */
	const char *where;  /* the grants of $1 target and $2 actor */
	const char *orphans[2];
};

#define PROJECT_EXISTS "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1)"
#define DOMAIN_EXISTS "SELECT EXISTS (SELECT 1 FROM domains WHERE id = $1)"
#define SYSTEM_EXISTS "SELECT $1::text = 'all'"
#define USER_EXISTS "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)"
#define GROUP_EXISTS "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)"

/* The users a grant reached ($2: the user, or the group's members). */
#define GRANT_USER "SELECT $2::text"
#define GRANT_MEMBERS "SELECT gm2.user_id FROM group_members gm2 WHERE gm2.group_id = $2"

/* The tokens of USERS, scoped where the removed grant reached (COND on t, with $1),
 * left with no grant there: revoked, as Keystone does. */
#define TOKEN_ORPHANS_REVOKE(cond, users)                                                          \
	"UPDATE tokens t SET revoked = true WHERE " cond " AND NOT t.revoked AND t.user_id IN"     \
	" (" users ") AND NOT EXISTS (SELECT 1 FROM user_scope_grants(t.user_id, t.project_id,"    \
	" t.domain_id, t.system))"
#define ON_PROJECT "t.project_id = $1"
#define ON_DOMAIN "t.domain_id = $1"
#define ON_SYSTEM "t.system AND $1::text = 'all'"
#define BELOW_DOMAIN "t.project_id IN (SELECT id FROM projects WHERE domain_id = $1)"
#define BELOW_PROJECT "$1::text IN (SELECT id FROM project_ancestors(t.project_id))"

/* The application credentials of USERS on projects the removed grant reached (COND on
 * ac, with $1) left with no grant there: deleted (Keystone deletes them with the
 * assignment, so a later grant does not revive them); their tokens go with them (ON
 * DELETE CASCADE) and the tokens' triggers revoke them. */
#define AC_ORPHANS_DELETE(cond, users)                                                             \
	"DELETE FROM application_credentials ac WHERE " cond " AND ac.user_id IN (" users ")"      \
	" AND NOT EXISTS (SELECT 1 FROM user_scope_grants(ac.user_id, ac.project_id, NULL,"        \
	" false))"
#define AC_ON_PROJECT "ac.project_id = $1"
#define AC_BELOW_DOMAIN "ac.project_id IN (SELECT id FROM projects WHERE domain_id = $1)"
#define AC_BELOW_PROJECT "$1::text IN (SELECT id FROM project_ancestors(ac.project_id))"

#define INSERT_GRANT(cols, vals)                                                                   \
	"INSERT INTO role_assignments (" cols ", role_id, inherited) VALUES (" vals ", $3, "       \
	"%s) ON CONFLICT DO NOTHING"

/* Roles themselves are re-read on every cache miss, and the assignment trigger's
 * revocation event empties the cache of the users concerned. */
static const struct grant_kind grant_kinds[] = {
#define KIND(tgt, tsql, act, asql, tcol, tval, inh, users, tok, ac)                                \
	{                                                                                          \
		tgt, act, tsql, asql, INSERT_GRANT(tcol ", " act "_id", tval ", $2"),              \
		    tcol " = " tval " AND " act "_id = $2 AND inherited = " inh,                   \
		{                                                                                  \
			TOKEN_ORPHANS_REVOKE(tok, users), ac                                       \
		}                                                                                  \
	}
    KIND("project", PROJECT_EXISTS, "user", USER_EXISTS, "project_id", "$1", "false", GRANT_USER,
         ON_PROJECT, AC_ORPHANS_DELETE(AC_ON_PROJECT, GRANT_USER)),
    KIND("domain", DOMAIN_EXISTS, "user", USER_EXISTS, "domain_id", "$1", "false", GRANT_USER,
         ON_DOMAIN, NULL),
    KIND("project", PROJECT_EXISTS, "group", GROUP_EXISTS, "project_id", "$1", "false",
         GRANT_MEMBERS, ON_PROJECT, AC_ORPHANS_DELETE(AC_ON_PROJECT, GRANT_MEMBERS)),
    KIND("domain", DOMAIN_EXISTS, "group", GROUP_EXISTS, "domain_id", "$1", "false", GRANT_MEMBERS,
         ON_DOMAIN, NULL),
    /* OS-INHERIT: inherited to the projects below the target */
    KIND("project", PROJECT_EXISTS, "user", USER_EXISTS, "project_id", "$1", "true", GRANT_USER,
         BELOW_PROJECT, AC_ORPHANS_DELETE(AC_BELOW_PROJECT, GRANT_USER)),
    KIND("domain", DOMAIN_EXISTS, "user", USER_EXISTS, "domain_id", "$1", "true", GRANT_USER,
         BELOW_DOMAIN, AC_ORPHANS_DELETE(AC_BELOW_DOMAIN, GRANT_USER)),
    KIND("project", PROJECT_EXISTS, "group", GROUP_EXISTS, "project_id", "$1", "true",
         GRANT_MEMBERS, BELOW_PROJECT, AC_ORPHANS_DELETE(AC_BELOW_PROJECT, GRANT_MEMBERS)),
    KIND("domain", DOMAIN_EXISTS, "group", GROUP_EXISTS, "domain_id", "$1", "true", GRANT_MEMBERS,
         BELOW_DOMAIN, AC_ORPHANS_DELETE(AC_BELOW_DOMAIN, GRANT_MEMBERS)),
    /* the system ($1 is always "all") */
    KIND("system", SYSTEM_EXISTS, "user", USER_EXISTS, "system", "$1", "false", GRANT_USER,
         ON_SYSTEM, NULL),
    KIND("system", SYSTEM_EXISTS, "group", GROUP_EXISTS, "system", "$1", "false", GRANT_MEMBERS,
         ON_SYSTEM, NULL),
#undef KIND
};
enum {
	GK_PROJECT_USER,
	GK_DOMAIN_USER,
	GK_PROJECT_GROUP,
	GK_DOMAIN_GROUP,
	GK_INH_PROJECT_USER,
	GK_INH_DOMAIN_USER,
	GK_INH_PROJECT_GROUP,
	GK_INH_DOMAIN_GROUP,
	GK_SYSTEM_USER,
	GK_SYSTEM_GROUP,
};

/* 1 when the query (one boolean) on id answers true, 0 when false, -EIO. */
static int exists(struct req *r, const char *sql, const char *id, char *err, size_t errlen)
{
	PGresult *res = DBQ(r->ctx->db, err, errlen, sql, id);
	int rc = res ? db_val(res, 0, 0)[0] == 't' : -EIO;
	PQclear(res);
	return rc;
}

/* What one grant route names: its target (the system: "all"), actor and role (NULL for
 * a list). */
struct grant_ref {
	const char *target, *actor, *role;
};

/* The grant_ref of a route: /<target kind>/{target}/<actor kind>/{actor}/roles[/{role}],
 * or for the system /system/<actor kind>/{actor}/roles[/{role}]. */
static struct grant_ref grant_ref_of(const struct req *r, int k, int with_role)
{
	int sys = !strcmp(grant_kinds[k].target, "system");
	struct grant_ref g = {sys ? "all" : r->params[0], r->params[sys ? 0 : 1], NULL};
	if (with_role)
		g.role = r->params[sys ? 1 : 2];
	return g;
}

/* A domain-specific role granted on a project or domain must be of the target's
 * domain (Keystone's rule); any role on the system must be global. 0, or answers 403
 * and returns -EACCES (-EIO after a 500). */
static int grant_role_domain(struct req *r, struct resp *w, int k, const struct grant_ref *g)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT ro.domain_id, CASE $2 WHEN 'domain' THEN $3 WHEN 'project' THEN"
	                    " (SELECT domain_id FROM projects WHERE id = $3) END"
	                    " FROM roles ro WHERE ro.id = $1",
	                    g->role, grant_kinds[k].target, g->target);
	if (!res || PQntuples(res) != 1) {
		resp_db_error(r, w, err);
		PQclear(res);
		return -EIO;
	}
	const char *rd = db_val(res, 0, 0), *td = db_val(res, 0, 1);
	int bad = rd && (!td || strcmp(rd, td));
	PQclear(res);
	if (!bad)
		return 0;
	resp_error(r, w, 403,
	           "Cannot grant role %s: a domain-specific role may be granted only within its "
	           "domain.",
	           g->role);
	return -EACCES;
}

/* Checks that the target, actor and (unless NULL) role of a grant route exist; answers
 * 404 naming the first missing one. Returns 0, or -ENOENT / -EIO after answering. */
static int grant_targets(struct req *r, struct resp *w, int k, const struct grant_ref *g)
{
	char err[256];
	const struct grant_kind *gk = &grant_kinds[k];
	int t = exists(r, gk->target_sql, g->target, err, sizeof(err));
	int a = t == 1 ? exists(r, gk->actor_sql, g->actor, err, sizeof(err)) : 0;
	int ro = a == 1 && g->role ? exists(r, "SELECT EXISTS (SELECT 1 FROM roles WHERE id = $1)",
	                                    g->role, err, sizeof(err))
	                           : 1;
	if (t < 0 || a < 0 || ro < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (!t)
		not_found(r, w, gk->target, g->target);
	else if (!a)
		not_found(r, w, gk->actor, g->actor);
	else if (!ro)
		not_found(r, w, "role", g->role);
	else
		return 0;
	return -ENOENT;
}

static void grant_put(struct req *r, struct resp *w, int k)
{
	char err[256], sql[512];
	struct grant_ref g = grant_ref_of(r, k, 1);
	if (grant_targets(r, w, k, &g) < 0 || grant_role_domain(r, w, k, &g) < 0)
		return;
	snprintf(sql, sizeof(sql), grant_kinds[k].insert,
	         k >= GK_INH_PROJECT_USER && k <= GK_INH_DOMAIN_GROUP ? "true" : "false");
	if (DBX(r->ctx->db, err, sizeof err, sql, g.target, g.actor, g.role) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

/* Answers 404 for a grant that does not exist, in Keystone's words. */
#define GRANT_MISSING "Could not find role assignment with role: %s, %s: %s, %s: %s."

static void grant_check(struct req *r, struct resp *w, int k)
{
	char err[256], sql[256];
	struct grant_ref g = grant_ref_of(r, k, 1);
	if (grant_targets(r, w, k, &g) < 0)
		return;
	snprintf(sql, sizeof(sql), "SELECT 1 FROM role_assignments WHERE %s AND role_id = $3",
	         grant_kinds[k].where);
	int n = DBX(r->ctx->db, err, sizeof err, sql, g.target, g.actor, g.role);
	wire_answer_rows(r, w, n, err, 204, GRANT_MISSING, g.role, grant_kinds[k].actor, g.actor,
	                 grant_kinds[k].target, g.target);
}

static void grant_delete(struct req *r, struct resp *w, int k)
{
	char err[256], sql[256];
	struct grant_ref g = grant_ref_of(r, k, 1);
	if (grant_targets(r, w, k, &g) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	snprintf(sql, sizeof(sql), "DELETE FROM role_assignments WHERE %s AND role_id = $3",
	         grant_kinds[k].where);
	int n = DBX(r->ctx->db, err, sizeof err, sql, g.target, g.actor, g.role);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 204, GRANT_MISSING, g.role, grant_kinds[k].actor,
		                 g.actor, grant_kinds[k].target, g.target);
		return;
	}
	for (int i = 0; i < 2 && grant_kinds[k].orphans[i]; i++)
		if (DBX(r->ctx->db, err, sizeof err, grant_kinds[k].orphans[i], g.target, g.actor) <
		    0) {
			resp_db_error(r, w, err);
			return;
		}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return;
	}
	resp_empty(w, 204);
}

static void grant_list(struct req *r, struct resp *w, int k)
{
	char err[256], sql[512];
	struct grant_ref g = grant_ref_of(r, k, 0);
	if (grant_targets(r, w, k, &g) < 0)
		return;
	snprintf(sql, sizeof(sql),
	         "SELECT " ROLE_COLS " FROM roles WHERE id IN (SELECT role_id FROM"
	         " role_assignments WHERE %s) ORDER BY name",
	         grant_kinds[k].where);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, g.target, g.actor);
	list_answer(r, w, res, err, "roles", role_json);
}

/* One handler per route and kind: the routes table names functions. */
#define GRANT_HANDLERS_NO_LIST(k, suffix)                                                          \
	static void grant_put_##suffix(struct req *r, struct resp *w)                              \
	{                                                                                          \
		grant_put(r, w, k);                                                                \
	}                                                                                          \
	static void grant_check_##suffix(struct req *r, struct resp *w)                            \
	{                                                                                          \
		grant_check(r, w, k);                                                              \
	}                                                                                          \
	static void grant_delete_##suffix(struct req *r, struct resp *w)                           \
	{                                                                                          \
		grant_delete(r, w, k);                                                             \
	}
/* ... and the list of the roles of one target and actor */
#define GRANT_HANDLERS(k, suffix)                                                                  \
	GRANT_HANDLERS_NO_LIST(k, suffix)                                                          \
	static void grant_list_##suffix(struct req *r, struct resp *w)                             \
	{                                                                                          \
		grant_list(r, w, k);                                                               \
	}
GRANT_HANDLERS(GK_PROJECT_USER, pu)
GRANT_HANDLERS(GK_DOMAIN_USER, du)
GRANT_HANDLERS(GK_PROJECT_GROUP, pg)
GRANT_HANDLERS(GK_DOMAIN_GROUP, dg)
/* Keystone lists no roles inherited from a project, it only checks them */
GRANT_HANDLERS_NO_LIST(GK_INH_PROJECT_USER, ipu)
GRANT_HANDLERS(GK_INH_DOMAIN_USER, idu)
GRANT_HANDLERS_NO_LIST(GK_INH_PROJECT_GROUP, ipg)
GRANT_HANDLERS(GK_INH_DOMAIN_GROUP, idg)
GRANT_HANDLERS(GK_SYSTEM_USER, su)
GRANT_HANDLERS(GK_SYSTEM_GROUP, sg)

/* Row: user id, user name, group id, group name, project id, project name, domain id,
 * domain name, role id, role name, via group id, actor's domain id and name, target
 * project's domain id and name, system, inherited (a stored OS-INHERIT grant), and for
 * an effective row reached by inheritance: the inherited grant's project and domain. */
static json_t *assignment_json(const struct req *r, const PGresult *res, int i, int names)
{
	const char *uid = db_val(res, i, 0), *gid = db_val(res, i, 2);
	const char *pid = db_val(res, i, 4), *did = db_val(res, i, 6), *via = db_val(res, i, 10);
	const char *sys = db_val(res, i, 15), *sp = db_val(res, i, 18), *sd = db_val(res, i, 19);
	int inh = db_val(res, i, 16)[0] == 't', from_inh = sp || sd;
	/* the grant the row stands for: itself, or the inherited one it came from */
	const char *gp = from_inh ? sp : pid, *gd = from_inh ? sd : did;
	int ginh = inh || from_inh;
	const char *actor_id = uid && !via ? uid : via ? via : gid;
	const char *actor_kind = uid && !via ? "users" : "groups";
	char *href =
	    sys ? xasprintf("%s/identity/v3/system/%s/%s/roles/%s", r->ctx->api->public_url,
	                    actor_kind, actor_id, db_val(res, i, 8))
	        : xasprintf("%s/identity/v3/%s%s/%s/%s/%s/roles/%s%s", r->ctx->api->public_url,
	                    ginh ? "OS-INHERIT/" : "", gp ? "projects" : "domains", gp ? gp : gd,
	                    actor_kind, actor_id, db_val(res, i, 8),
	                    ginh ? "/inherited_to_projects" : "");
	json_t *actor = json_pack("{s:s}", "id", uid ? uid : gid);
	json_t *role = json_pack("{s:s}", "id", db_val(res, i, 8));
	json_t *scope;
	if (sys) {
		scope = json_pack("{s:{s:b}}", "system", "all", 1);
	} else {
		json_t *target = json_pack("{s:s}", "id", pid ? pid : did);
		if (names) {
			json_object_set_new(target, "name",
			                    json_string(db_val(res, i, pid ? 5 : 7)));
			if (pid)
				json_object_set_new(target, "domain",
				                    json_pack("{s:s,s:s}", "id", db_val(res, i, 13),
				                              "name", db_val(res, i, 14)));
		}
		scope = json_pack("{s:o}", pid ? "project" : "domain", target);
		if (inh)
			json_object_set_new(scope, "OS-INHERIT:inherited_to",
			                    json_string("projects"));
	}
	if (names) {
		json_object_set_new(actor, "name", json_string(db_val(res, i, uid ? 1 : 3)));
		json_object_set_new(
		    actor, "domain",
		    json_pack("{s:s,s:s}", "id", db_val(res, i, 11), "name", db_val(res, i, 12)));
		json_object_set_new(role, "name", json_string(db_val(res, i, 9)));
	}
	json_t *links = json_pack("{s:s}", "assignment", href);
	if (via) {
		char *m = xasprintf("%s/identity/v3/groups/%s/users/%s", r->ctx->api->public_url,
		                    via, uid);
		json_object_set_new(links, "membership", json_string(m));
		free(m);
	}
	json_t *a = json_pack("{s:o,s:o,s:o,s:o}", "role", role, uid ? "user" : "group", actor,
	                      "scope", scope, "links", links);
	free(href);
	return a;
}

/* GET /role_assignments: filters user.id, group.id, scope.project.id, scope.domain.id,
 * scope.system, scope.OS-INHERIT:inherited_to, role.id. "effective" replaces each
 * group grant by one grant per member, each inherited grant by one grant on every
 * project below its target, and adds the roles each grant implies. Domain-specific
 * roles are never listed (as Keystone strips them): only the global roles they imply,
 * in the effective list. */
static void assignments_list(struct req *r, struct resp *w)
{
	char err[256];
	int names = wire_bool(req_query(r, "include_names"));
	const char *effective = req_query(r, "effective");
	if (!effective && req_query_has(r, "effective"))
		effective = ""; /* "?effective" alone, as Tempest's client sends it */
	int eff = !effective ? 0 : !*effective ? 1 : wire_bool(effective);
	if (names == -EINVAL || eff == -EINVAL) {
		resp_error(r, w, 400, "include_names, effective: must be booleans");
		return;
	}
	if (eff < 0) /* "?effective" alone */
		eff = 1;
	const char *sys = req_query(r, "scope.system");
	const char *inh = req_query(r, "scope.OS-INHERIT:inherited_to");
	if ((sys && strcmp(sys, "all")) || (inh && strcmp(inh, "projects"))) {
		resp_error(r, w, 400,
		           "scope.system must be 'all', "
		           "scope.OS-INHERIT:inherited_to must be 'projects'");
		return;
	}
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "WITH RECURSIVE b AS (SELECT user_id, group_id, project_id, domain_id, system,"
	    " role_id, NULL::text AS via, inherited FROM role_assignments"
	    " WHERE NOT $6::boolean OR user_id IS NOT NULL"
	    " UNION ALL SELECT gm.user_id, NULL, ra.project_id, ra.domain_id, ra.system,"
	    " ra.role_id, ra.group_id, ra.inherited FROM role_assignments ra JOIN group_members gm"
	    " ON gm.group_id = ra.group_id WHERE $6::boolean),"
	    /* effective: an inherited grant becomes one on each project below its target */
	    " c AS (SELECT b.*, NULL::text AS sp, NULL::text AS sd FROM b"
	    " WHERE NOT $6::boolean OR NOT b.inherited"
	    " UNION ALL SELECT b.user_id, b.group_id, p.id, NULL, NULL, b.role_id, b.via, false,"
	    " b.project_id, b.domain_id FROM b JOIN projects p ON p.domain_id = b.domain_id"
	    " OR b.project_id IN (SELECT id FROM project_ancestors(p.id))"
	    " WHERE $6::boolean AND b.inherited),"
	    /* effective: the roles the granted ones imply, as grants of their own */
	    " a AS (SELECT * FROM c UNION SELECT a.user_id, a.group_id, a.project_id,"
	    " a.domain_id, a.system, ir.implied_role_id, a.via, a.inherited, a.sp, a.sd FROM a"
	    " JOIN implied_roles ir ON ir.prior_role_id = a.role_id WHERE $6::boolean)"
	    " SELECT a.user_id, u.name, a.group_id, g.name, a.project_id, p.name, a.domain_id,"
	    " d.name, ro.id, ro.name, a.via, coalesce(u.domain_id, g.domain_id), ad.name,"
	    " p.domain_id, pd.name, a.system, a.inherited, NULL, a.sp, a.sd"
	    " FROM a JOIN roles ro ON ro.id = a.role_id AND ro.domain_id IS NULL"
	    " LEFT JOIN users u ON u.id = a.user_id LEFT JOIN groups g ON g.id = a.group_id"
	    " LEFT JOIN projects p ON p.id = a.project_id LEFT JOIN domains d ON d.id = a.domain_id"
	    " LEFT JOIN domains ad ON ad.id = coalesce(u.domain_id, g.domain_id)"
	    " LEFT JOIN domains pd ON pd.id = p.domain_id"
	    " WHERE ($1::text IS NULL OR a.user_id = $1)"
	    " AND ($2::text IS NULL OR a.group_id = $2 OR a.via = $2)"
	    " AND ($3::text IS NULL OR a.project_id = $3)"
	    " AND ($4::text IS NULL OR a.domain_id = $4)"
	    " AND ($5::text IS NULL OR a.role_id = $5)"
	    " AND ($7::text IS NULL OR a.system = $7)"
	    " AND ($8::text IS NULL OR a.inherited)"
	    " ORDER BY a.system NULLS FIRST, coalesce(p.name, d.name), coalesce(u.name, g.name),"
	    " ro.name LIMIT 10000",
	    req_query(r, "user.id"), req_query(r, "group.id"), req_query(r, "scope.project.id"),
	    req_query(r, "scope.domain.id"), req_query(r, "role.id"), eff ? "true" : "false", sys,
	    inh);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, assignment_json(r, res, i, names == 1));
	PQclear(res);
	resp_list(r, w, "role_assignments", a);
}

/* ---- domains ---- */

struct domain_in {
	char *name, *description;
	int enabled; /* -1 when absent */
	char *extra;
};

static const struct jfield f_domain[] = {
    {"name", J_STR, JF(struct domain_in, name), 0, DOMAIN_NAME_MAX, 0, 0},
    {"description", J_STR, JF(struct domain_in, description), 0, DESCRIPTION_MAX, 0, 1},
    {"enabled", J_BOOL, JF(struct domain_in, enabled), 0, 0, 0, 1},
};
static const char *const domain_known[] = {"name",  "description", "enabled", "id",
                                           "links", "options",     "tags",    NULL};

static void domain_in_release(struct domain_in *d)
{
	jparse_release(f_domain, JCOUNT(f_domain), d);
	free(d->extra);
}

static int domain_parse(struct req *r, struct resp *w, struct domain_in *d, int create)
{
	memset(d, 0, sizeof(*d));
	d->enabled = -1;
	if (wire_parse_wrapped(r, w, "domain", f_domain, JCOUNT(f_domain), d) < 0)
		return -EINVAL;
	if (name_check(r, w, d->name, create, DOMAIN_NAME_MAX) < 0) {
		domain_in_release(d);
		return -EINVAL;
	}
	d->extra = ks_extra(ks_inner(r, "domain"), domain_known);
	return 0;
}

static void domains_list(struct req *r, struct resp *w)
{
	char err[256];
	const char *enabled;
	if (list_filters(r, w, &enabled) < 0)
		return;
	/* a non-admin sees the domains it holds a role on, and its own */
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT " DOMAIN_COLS " FROM domains WHERE ($1::text IS NULL OR name = $1)"
	    " AND ($2::boolean IS NULL OR enabled = $2::boolean) AND ($3::boolean OR id = $4"
	    " OR id IN (SELECT domain_id FROM role_assignments WHERE user_id = $5 OR group_id IN"
	    " (SELECT group_id FROM group_members WHERE user_id = $5))) ORDER BY name",
	    req_query(r, "name"), enabled, admin ? "true" : "false", r->ctx->auth.user_domain_id,
	    r->ctx->auth.user_id);
	list_answer(r, w, res, err, "domains", domain_json);
}

static void domains_show(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " DOMAIN_COLS " FROM domains WHERE id = $1", id);
	res = row_found(r, w, res, err, "domain", id);
	if (!res)
		return;
	if (!policy_is_admin(&r->ctx->auth) && strcmp(id, r->ctx->auth.user_domain_id) &&
	    strcmp(id, r->ctx->auth.domain_id) && strcmp(id, r->ctx->auth.project_domain_id))
		forbidden(r, w);
	else
		resp_json(w, 200, json_pack("{s:o}", "domain", domain_json(r, res, 0)));
	PQclear(res);
}

static void domains_create(struct req *r, struct resp *w)
{
	struct domain_in d;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (domain_parse(r, w, &d, 1) < 0)
		return;
	uuid_generate_str(id);
	PGresult *res = db_query(r->ctx->db,
	                         "INSERT INTO domains (id, name, description, enabled, extra)"
	                         " VALUES ($1, $2, coalesce($3, ''), $4::boolean, $5::jsonb)"
	                         " RETURNING " DOMAIN_COLS,
	                         5,
	                         (const char *const[]){id, d.name, d.description,
	                                               d.enabled == 0 ? "false" : "true", d.extra},
	                         err, sizeof(err), state);
	write_answer(r, w, res, 201, state, err, "domain", d.name, domain_json);
	domain_in_release(&d);
}

static void domains_update(struct req *r, struct resp *w)
{
	struct domain_in d;
	char err[256], state[6] = "";
	if (domain_parse(r, w, &d, 0) < 0)
		return;
	if (!strcmp(r->params[0], DOMAIN_ID) && d.enabled == 0) {
		resp_error(r, w, 403, "The default domain cannot be disabled.");
		domain_in_release(&d);
		return;
	}
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE domains SET name = coalesce($2, name), description = coalesce($3,"
	    " description), enabled = coalesce($4::boolean, enabled), extra = extra || $5::jsonb"
	    " WHERE id = $1 RETURNING " DOMAIN_COLS,
	    5,
	    (const char *const[]){r->params[0], d.name, d.description,
	                          d.enabled < 0 ? NULL
	                          : d.enabled   ? "true"
	                                        : "false",
	                          d.extra},
	    err, sizeof(err), state);
	write_answer(r, w, res, 200, state, err, "domain", d.name, domain_json);
	domain_in_release(&d);
}

/* Only a disabled domain may be deleted (Keystone's rule); its projects, users,
 * groups and grants go with it. */
static void domains_delete(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT enabled FROM domains WHERE id = $1", id);
	res = row_found(r, w, res, err, "domain", id);
	if (!res)
		return;
	if (!strcmp(id, DOMAIN_ID))
		resp_error(r, w, 403, "The default domain cannot be deleted.");
	else if (db_val(res, 0, 0)[0] == 't')
		resp_error(r, w, 403,
		           "Cannot delete a domain that is enabled, please disable it first.");
	else
		wire_answer_rows(
		    r, w, DBX(r->ctx->db, err, sizeof err, "DELETE FROM domains WHERE id = $1", id),
		    err, 204, NOT_FOUND, "domain", id);
	PQclear(res);
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/projects", projects_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/projects", projects_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}", projects_show, POL_IDENTITY_READ_SELF, 0},
    {"PATCH", V3 "/projects/{}", projects_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}", projects_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/tags", tags_list, POL_IDENTITY_READ_SELF, 0},
    {"PUT", V3 "/projects/{}/tags", tags_put_all, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}/tags", tags_delete_all, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/tags/{}", tags_check, POL_IDENTITY_READ_SELF, 0},
    {"PUT", V3 "/projects/{}/tags/{}", tags_put_one, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}/tags/{}", tags_delete_one, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/users/{}/roles", grant_list_pu, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/users/{}/roles/{}", grant_check_pu, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/projects/{}/users/{}/roles/{}", grant_put_pu, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}/users/{}/roles/{}", grant_delete_pu, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/groups/{}/roles", grant_list_pg, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/groups/{}/roles/{}", grant_check_pg, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/projects/{}/groups/{}/roles/{}", grant_put_pg, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}/groups/{}/roles/{}", grant_delete_pg, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/users", users_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/users", users_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/users/{}", users_show, POL_IDENTITY_READ_SELF, 0},
    {"PATCH", V3 "/users/{}", users_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/users/{}", users_delete, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/users/{}/password", users_password, POL_PUBLIC, 0},
    {"GET", V3 "/users/{}/projects", users_projects, POL_IDENTITY_READ_SELF, 0},
    {"GET", V3 "/roles", roles_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/roles", roles_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/roles/{}", roles_show, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/roles/{}", roles_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/roles/{}", roles_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/roles/{}/implies", inferences_of_role, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/roles/{}/implies/{}", inference_show, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/roles/{}/implies/{}", inference_put, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/roles/{}/implies/{}", inference_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/role_inferences", inferences_list, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/role_assignments", assignments_list, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains", domains_list, POL_IDENTITY_READ_SELF, 0},
    {"POST", V3 "/domains", domains_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains/{}", domains_show, POL_IDENTITY_READ_SELF, 0},
    {"PATCH", V3 "/domains/{}", domains_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/domains/{}", domains_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains/{}/users/{}/roles", grant_list_du, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains/{}/users/{}/roles/{}", grant_check_du, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/domains/{}/users/{}/roles/{}", grant_put_du, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/domains/{}/users/{}/roles/{}", grant_delete_du, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains/{}/groups/{}/roles", grant_list_dg, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains/{}/groups/{}/roles/{}", grant_check_dg, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/domains/{}/groups/{}/roles/{}", grant_put_dg, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/domains/{}/groups/{}/roles/{}", grant_delete_dg, POL_IDENTITY_ADMIN, 0},
/* OS-INHERIT: grants inherited to the projects below a domain or project */
#define INH V3 "/OS-INHERIT"
#define TO "/inherited_to_projects"
    {"GET", INH "/domains/{}/users/{}/roles" TO, grant_list_idu, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", INH "/domains/{}/users/{}/roles/{}" TO, grant_check_idu, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", INH "/domains/{}/users/{}/roles/{}" TO, grant_put_idu, POL_IDENTITY_ADMIN, 0},
    {"DELETE", INH "/domains/{}/users/{}/roles/{}" TO, grant_delete_idu, POL_IDENTITY_ADMIN, 0},
    {"GET", INH "/domains/{}/groups/{}/roles" TO, grant_list_idg, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", INH "/domains/{}/groups/{}/roles/{}" TO, grant_check_idg, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", INH "/domains/{}/groups/{}/roles/{}" TO, grant_put_idg, POL_IDENTITY_ADMIN, 0},
    {"DELETE", INH "/domains/{}/groups/{}/roles/{}" TO, grant_delete_idg, POL_IDENTITY_ADMIN, 0},
    {"GET", INH "/projects/{}/users/{}/roles/{}" TO, grant_check_ipu, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", INH "/projects/{}/users/{}/roles/{}" TO, grant_put_ipu, POL_IDENTITY_ADMIN, 0},
    {"DELETE", INH "/projects/{}/users/{}/roles/{}" TO, grant_delete_ipu, POL_IDENTITY_ADMIN, 0},
    {"GET", INH "/projects/{}/groups/{}/roles/{}" TO, grant_check_ipg, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", INH "/projects/{}/groups/{}/roles/{}" TO, grant_put_ipg, POL_IDENTITY_ADMIN, 0},
    {"DELETE", INH "/projects/{}/groups/{}/roles/{}" TO, grant_delete_ipg, POL_IDENTITY_ADMIN, 0},
#undef INH
#undef TO
    /* grants on the system */
    {"GET", V3 "/system/users/{}/roles", grant_list_su, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", V3 "/system/users/{}/roles/{}", grant_check_su, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", V3 "/system/users/{}/roles/{}", grant_put_su, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/system/users/{}/roles/{}", grant_delete_su, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/system/groups/{}/roles", grant_list_sg, POL_IDENTITY_SYSTEM_READ, 0},
    {"GET", V3 "/system/groups/{}/roles/{}", grant_check_sg, POL_IDENTITY_SYSTEM_READ, 0},
    {"PUT", V3 "/system/groups/{}/roles/{}", grant_put_sg, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/system/groups/{}/roles/{}", grant_delete_sg, POL_IDENTITY_ADMIN, 0},
};
HTTPD_TABLE(identity_routes, routes, &identity_hooks);

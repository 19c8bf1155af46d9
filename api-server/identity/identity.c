/* Keystone v3 administration: projects, users, roles, role assignments on projects and
 * the one Default domain. Writes and full listings are admin-only (route policy); a
 * user may read itself, its projects and the projects its token is scoped to. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "identity/token.h"
#include "wire.h"
#include "xalloc.h"

#define DOMAIN_ID "default"
#define DOMAIN_NAME "Default"
#define PROJECT_NAME_MAX 64 /* Keystone's limits */
#define USER_NAME_MAX 255
#define ROLE_NAME_MAX 255
#define DESCRIPTION_MAX 4096
#define PASSWORD_MAX 4096
/* Stored for users created without a password: no argon2 string verifies against it. */
#define NO_PASSWORD "!"

#define PROJECT_COLS "id, name, description, enabled"
#define USER_COLS "id, name, enabled, default_project_id, email"
#define ROLE_COLS "id, name"

/* The roles token.c maps to RBAC bits: deleting them would lock everyone out. */
static const char *const builtin_roles[] = {"admin", "member", "reader"};

/* ---- shapes ---- */

static json_t *self_link(const struct req *r, const char *coll, const char *id)
{
	char *href = id ? xasprintf("%s/identity/v3/%s/%s", r->ctx->api->public_url, coll, id)
	                : xasprintf("%s/identity/v3/%s", r->ctx->api->public_url, coll);
	json_t *l = json_pack("{s:s}", "self", href);
	free(href);
	return l;
}

/* {"<key>": items, "links": {"self", "next": null, "previous": null}}; steals items. */
static void resp_list(struct req *r, struct resp *w, const char *key, json_t *items)
{
	char *href = xasprintf("%s%s", r->ctx->api->public_url, r->url);
	resp_json(w, 200,
	          json_pack("{s:o,s:{s:s,s:n,s:n}}", key, items, "links", "self", href, "next",
	                    "previous"));
	free(href);
}

static json_t *domain_ref(void)
{
	return json_pack("{s:s,s:s}", "id", DOMAIN_ID, "name", DOMAIN_NAME);
}

/* Row of PROJECT_COLS. */
static json_t *project_json(const struct req *r, const PGresult *res, int i)
{
	const char *desc = db_val(res, i, 2);
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:b,s:[],s:{},s:o}", "id", db_val(res, i, 0),
	                 "name", db_val(res, i, 1), "domain_id", DOMAIN_ID, "description",
	                 desc ? desc : "", "enabled", db_val(res, i, 3)[0] == 't', "parent_id",
	                 DOMAIN_ID, "is_domain", 0, "tags", "options", "links",
	                 self_link(r, "projects", db_val(res, i, 0)));
}

/* Row of USER_COLS. */
static json_t *user_json(const struct req *r, const PGresult *res, int i)
{
	json_t *u = json_pack("{s:s,s:s,s:s,s:b,s:n,s:{},s:o}", "id", db_val(res, i, 0), "name",
	                      db_val(res, i, 1), "domain_id", DOMAIN_ID, "enabled",
	                      db_val(res, i, 2)[0] == 't', "password_expires_at", "options",
	                      "links", self_link(r, "users", db_val(res, i, 0)));
	if (db_val(res, i, 3))
		json_object_set_new(u, "default_project_id", json_string(db_val(res, i, 3)));
	if (db_val(res, i, 4))
		json_object_set_new(u, "email", json_string(db_val(res, i, 4)));
	return u;
}

/* Row of ROLE_COLS. */
static json_t *role_json(const struct req *r, const PGresult *res, int i)
{
	return json_pack("{s:s,s:s,s:n,s:n,s:{},s:o}", "id", db_val(res, i, 0), "name",
	                 db_val(res, i, 1), "domain_id", "description", "options", "links",
	                 self_link(r, "roles", db_val(res, i, 0)));
}

static json_t *domain_json(const struct req *r)
{
	return json_pack("{s:s,s:s,s:s,s:b,s:[],s:{},s:o}", "id", DOMAIN_ID, "name", DOMAIN_NAME,
	                 "description", "The default domain", "enabled", 1, "tags", "options",
	                 "links", self_link(r, "domains", DOMAIN_ID));
}

typedef json_t *(*row_fn)(const struct req *r, const PGresult *res, int i);

static json_t *rows_json(const struct req *r, const PGresult *res, row_fn fn)
{
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, fn(r, res, i));
	return a;
}

/* ---- shared checks ---- */

/* The "enabled" and "domain_id" list filters. Fills *enabled with "true"/"false" or
 * NULL; answers 400 and returns -EINVAL on a bad value. Returns 1 when the domain
 * filter names another domain (the list is then empty), else 0. */
static int list_filters(struct req *r, struct resp *w, const char **enabled)
{
	int e = wire_bool(req_query(r, "enabled"));
	if (e == -EINVAL) {
		resp_error(r, w, 400, "enabled: must be a boolean");
		return -EINVAL;
	}
	*enabled = e < 0 ? NULL : e ? "true" : "false";
	const char *d = req_query(r, "domain_id");
	return d && strcmp(d, DOMAIN_ID) ? 1 : 0;
}

/* A body's domain_id / parent_id, when given, must name the Default domain. */
static int domain_arg_ok(struct req *r, struct resp *w, const char *field, const char *v)
{
	if (!v || !strcmp(v, DOMAIN_ID))
		return 0;
	resp_error(r, w, 400, "%s: only the '%s' domain exists", field, DOMAIN_ID);
	return -EINVAL;
}

static int caller_is(const struct req *r, const char *user_id)
{
	return !strcmp(r->ctx->auth.user_id, user_id);
}

/* Keystone's 404 text: "Could not find <what>: <id>." */
#define NOT_FOUND "Could not find %s: %s."

static void not_found(struct req *r, struct resp *w, const char *what, const char *id)
{
	resp_error(r, w, 404, NOT_FOUND, what, id);
}

/* A body's name: required when creating, and printable (wire_name_ok) of at most max
 * bytes. 0, or answers 400 and returns -EINVAL. */
static int name_check(struct req *r, struct resp *w, const char *name, int required, int max)
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

/* Answers 403 in Keystone's words. */
static void forbidden(struct req *r, struct resp *w)
{
	resp_error(r, w, 403, "You are not authorized to perform the requested action.");
}

/* Answers the error for a failed write: 409 on a duplicate name, else 500. */
static void write_error(struct req *r, struct resp *w, const char *state, const char *err,
                        const char *what, const char *name)
{
	if (!strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409,
		           "Conflict occurred attempting to store %s - Duplicate entry found with "
		           "name %s.",
		           what, name ? name : "");
	else if (!strcmp(state, SQLSTATE_FOREIGN_KEY))
		resp_error(r, w, 400, "default_project_id: no such project");
	else
		resp_db_error(r, w, err);
}

/* ---- shared answers ---- */

/* The row a show or delete works on: res when it holds exactly one row; else answers
 * 500 or 404 "Could not find <what>: <id>." and returns NULL (see wire_one_row). */
static PGresult *row_found(struct req *r, struct resp *w, PGresult *res, const char *err,
                           const char *what, const char *id)
{
	return wire_one_row(r, w, res, err, 404, NOT_FOUND, what, id);
}

/* Answers the rows of a list query as {"<key>": [fn(row)...], "links": ...}, or 500
 * when res is NULL (err says why). Clears res. */
static void list_answer(struct req *r, struct resp *w, PGresult *res, const char *err,
                        const char *key, row_fn fn)
{
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	resp_list(r, w, key, rows_json(r, res, fn));
	PQclear(res);
}

/* The WHERE clause list_filtered() fills: $1 name, $2 enabled, $3 other domain. */
#define WHERE_FILTERED                                                                             \
	" WHERE ($1::text IS NULL OR name = $1)"                                                   \
	" AND ($2::boolean IS NULL OR enabled = $2::boolean) AND NOT $3::boolean ORDER BY name"

/* GET of a collection filtered by list_filters(); sql ends in WHERE_FILTERED. */
static void list_filtered(struct req *r, struct resp *w, const char *sql, const char *key,
                          row_fn fn)
{
	char err[256];
	const char *enabled;
	int other = list_filters(r, w, &enabled);
	if (other < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, sql, req_query(r, "name"), enabled,
	                    other ? "true" : "false");
	list_answer(r, w, res, err, key, fn);
}

/* Answers a create or update RETURNING one row as {"<what>": fn(row)} with status;
 * the write's error (write_error) when res is NULL, 404 for an update of nothing.
 * Clears res. */
static void write_answer(struct req *r, struct resp *w, PGresult *res, int status,
                         const char *state, const char *err, const char *what, const char *name,
                         row_fn fn)
{
	if (!res)
		write_error(r, w, state, err, what, name);
	else if (PQntuples(res) != 1)
		not_found(r, w, what, r->params[0]);
	else
		resp_json(w, status, json_pack("{s:o}", what, fn(r, res, 0)));
	PQclear(res);
}

/* ---- projects ---- */

struct project_in {
	char *name, *description, *domain_id, *parent_id;
	int enabled; /* -1 when absent */
	int is_domain;
};

static const struct jfield f_project[] = {
    {"name", J_STR, JF(struct project_in, name), 0, PROJECT_NAME_MAX, 0, 0},
    {"description", J_STR, JF(struct project_in, description), 0, DESCRIPTION_MAX, 0, 1},
    {"domain_id", J_STR, JF(struct project_in, domain_id), 0, 64, 0, 1},
    {"parent_id", J_STR, JF(struct project_in, parent_id), 0, 64, 0, 1},
    {"enabled", J_BOOL, JF(struct project_in, enabled), 0, 0, 0, 1},
    {"is_domain", J_BOOL, JF(struct project_in, is_domain), 0, 0, 0, 1},
};

/* Parses and checks {"project": {...}}; name is required when creating. */
static int project_parse(struct req *r, struct resp *w, struct project_in *p, int create)
{
	memset(p, 0, sizeof(*p));
	p->enabled = -1;
	if (wire_parse_wrapped(r, w, "project", f_project, JCOUNT(f_project), p) < 0)
		return -EINVAL;
	if (name_check(r, w, p->name, create, PROJECT_NAME_MAX) == 0) {
		if (p->is_domain)
			resp_error(r, w, 400,
			           "is_domain: projects acting as domains are not supported");
		else if (domain_arg_ok(r, w, "domain_id", p->domain_id) == 0 &&
		         domain_arg_ok(r, w, "parent_id", p->parent_id) == 0)
			return 0;
	}
	jparse_release(f_project, JCOUNT(f_project), p);
	return -EINVAL;
}

static void projects_list(struct req *r, struct resp *w)
{
	list_filtered(r, w, "SELECT " PROJECT_COLS " FROM projects" WHERE_FILTERED, "projects",
	              project_json);
}

static void projects_show(struct req *r, struct resp *w)
{
	char err[256];
	const char *id = r->params[0];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " PROJECT_COLS ", EXISTS (SELECT 1 FROM role_assignments"
	        " WHERE project_id = p.id AND user_id = $2) FROM projects p WHERE id = $1",
	        id, r->ctx->auth.user_id);
	res = row_found(r, w, res, err, "project", id);
	if (!res)
		return;
	if (!policy_is_admin(&r->ctx->auth) && db_val(res, 0, 4)[0] != 't')
		forbidden(r, w);
	else
		resp_json(w, 200, json_pack("{s:o}", "project", project_json(r, res, 0)));
	PQclear(res);
}

static void projects_create(struct req *r, struct resp *w)
{
	struct project_in p;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (project_parse(r, w, &p, 1) < 0)
		return;
	uuid_generate_str(id);
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO projects (id, name, description, enabled)"
	    " VALUES ($1, $2, coalesce($3, ''), $4::boolean) RETURNING " PROJECT_COLS,
	    4, (const char *const[]){id, p.name, p.description, p.enabled == 0 ? "false" : "true"},
	    err, sizeof(err), state);
	write_answer(r, w, res, 201, state, err, "project", p.name, project_json);
	jparse_release(f_project, JCOUNT(f_project), &p);
}

static void projects_update(struct req *r, struct resp *w)
{
	struct project_in p;
	char err[256], state[6] = "";
	if (project_parse(r, w, &p, 0) < 0)
		return;
	/* Disabling needs no token sweep: validation joins the project's enabled flag. */
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE projects SET name = coalesce($2, name), description = coalesce($3, "
	    "description),"
	    " enabled = coalesce($4::boolean, enabled) WHERE id = $1 RETURNING " PROJECT_COLS,
	    4,
	    (const char *const[]){r->params[0], p.name, p.description,
	                          p.enabled < 0 ? NULL
	                          : p.enabled   ? "true"
	                                        : "false"},
	    err, sizeof(err), state);
	write_answer(r, w, res, 200, state, err, "project", p.name, project_json);
	jparse_release(f_project, JCOUNT(f_project), &p);
}

static void projects_delete(struct req *r, struct resp *w)
{
	char err[256];
	/* Role assignments, tokens and quotas go with it (ON DELETE CASCADE). */
	int n =
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM projects WHERE id = $1", r->params[0]);
	wire_answer_rows(r, w, n, err, 204, NOT_FOUND, "project", r->params[0]);
}

/* ---- users ---- */

struct user_in {
	char *name, *password, *email, *default_project_id, *domain_id;
	int enabled; /* -1 when absent */
};

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
}

static int user_parse(struct req *r, struct resp *w, struct user_in *u, int create)
{
	memset(u, 0, sizeof(*u));
	u->enabled = -1;
	if (wire_parse_wrapped(r, w, "user", f_user, JCOUNT(f_user), u) < 0)
		return -EINVAL;
	if (name_check(r, w, u->name, create, USER_NAME_MAX) == 0) {
		if (u->password && !*u->password)
			resp_error(r, w, 400, "password: must not be empty");
		else if (domain_arg_ok(r, w, "domain_id", u->domain_id) == 0)
			return 0;
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
	list_filtered(r, w, "SELECT " USER_COLS " FROM users" WHERE_FILTERED, "users", user_json);
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
	    "INSERT INTO users (id, name, password_hash, email, default_project_id, enabled)"
	    " VALUES ($1, $2, $3, $4, $5, $6::boolean) RETURNING " USER_COLS,
	    6,
	    (const char *const[]){id, u.name, hash, u.email, u.default_project_id,
	                          u.enabled == 0 ? "false" : "true"},
	    err, sizeof(err), state);
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
	res = db_query(
	    r->ctx->db,
	    "UPDATE users SET name = coalesce($2, name),"
	    " password_hash = coalesce($3, password_hash), email = coalesce($4, email),"
	    " default_project_id = coalesce($5, default_project_id),"
	    " enabled = coalesce($6::boolean, enabled) WHERE id = $1 RETURNING " USER_COLS,
	    6,
	    (const char *const[]){id, u.name, hash[0] ? hash : NULL, u.email, u.default_project_id,
	                          u.enabled < 0 ? NULL
	                          : u.enabled   ? "true"
	                                        : "false"},
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

/* POST /users/{id}/password: a user changes its own password (openstack user password set). */
static void users_password(struct req *r, struct resp *w)
{
	struct password_in p = {0};
	char err[256], hash[crypto_pwhash_STRBYTES] = "";
	const char *id = r->params[0];
	PGresult *res = NULL;
	if (!caller_is(r, id)) {
		forbidden(r, w);
		return;
	}
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
	          "SELECT " PROJECT_COLS " FROM projects WHERE id IN"
	          " (SELECT project_id FROM role_assignments WHERE user_id = $1) ORDER BY name",
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
	/* Domain-specific roles do not exist: a domain_id filter matches none. */
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " ROLE_COLS " FROM roles WHERE ($1::text IS NULL OR name = $1)"
	                    " AND $2::text IS NULL ORDER BY name",
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
	if (in.domain_id) {
		resp_error(r, w, 400, "domain_id: domain-specific roles are not supported");
		goto out;
	}
	uuid_generate_str(id);
	PGresult *res = db_query(
	    r->ctx->db, "INSERT INTO roles (id, name) VALUES ($1, $2) RETURNING " ROLE_COLS, 2,
	    (const char *const[]){id, in.name}, err, sizeof(err), state);
	write_answer(r, w, res, 201, state, err, "role", in.name, role_json);
out:
	jparse_release(f_role, JCOUNT(f_role), &in);
}

static void roles_delete(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT name FROM roles WHERE id = $1", r->params[0]);
	res = row_found(r, w, res, err, "role", r->params[0]);
	if (!res)
		return;
	for (size_t i = 0; i < sizeof(builtin_roles) / sizeof(builtin_roles[0]); i++)
		if (!strcmp(db_val(res, 0, 0), builtin_roles[i])) {
			resp_error(r, w, 403, "Role %s is built in and cannot be deleted.",
			           builtin_roles[i]);
			goto out;
		}
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM roles WHERE id = $1", r->params[0]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
out:
	PQclear(res);
}

/* ---- role assignments ---- */

/* The 404 text for an absent assignment: role, user and project ids, in that order. */
#define ASSIGNMENT_NOT_FOUND "Could not find role assignment with role: %s, user: %s, project: %s."

/* Checks that project, user and (unless NULL) role exist; answers 404 naming the first
 * missing one. Returns 0, or -ENOENT / -EIO after answering. */
static int assignment_targets(struct req *r, struct resp *w, const char *pid, const char *uid,
                              const char *rid)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT EXISTS (SELECT 1 FROM projects WHERE id = $1),"
	                    " EXISTS (SELECT 1 FROM users WHERE id = $2),"
	                    " $3::text IS NULL OR EXISTS (SELECT 1 FROM roles WHERE id = $3)",
	                    pid, uid, rid);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int rc = -ENOENT;
	if (db_val(res, 0, 0)[0] != 't')
		not_found(r, w, "project", pid);
	else if (db_val(res, 0, 1)[0] != 't')
		not_found(r, w, "user", uid);
	else if (db_val(res, 0, 2)[0] != 't')
		not_found(r, w, "role", rid);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

static void grant_put(struct req *r, struct resp *w)
{
	char err[256];
	if (assignment_targets(r, w, r->params[0], r->params[1], r->params[2]) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO role_assignments (project_id, user_id, role_id) VALUES ($1, $2, $3)"
	        " ON CONFLICT DO NOTHING",
	        r->params[0], r->params[1], r->params[2]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

static void grant_check(struct req *r, struct resp *w)
{
	char err[256];
	if (assignment_targets(r, w, r->params[0], r->params[1], r->params[2]) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM role_assignments WHERE project_id = $1 AND user_id = $2"
	            " AND role_id = $3",
	            r->params[0], r->params[1], r->params[2]);
	wire_answer_rows(r, w, n, err, 204, ASSIGNMENT_NOT_FOUND, r->params[2], r->params[1],
	                 r->params[0]);
}

static void grant_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (assignment_targets(r, w, r->params[0], r->params[1], r->params[2]) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM role_assignments WHERE project_id = $1 AND user_id = $2"
	            " AND role_id = $3",
	            r->params[0], r->params[1], r->params[2]);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 204, ASSIGNMENT_NOT_FOUND, r->params[2],
		                 r->params[1], r->params[0]);
		return;
	}
	/* Roles are re-read on every request; a token left with no role at all on its
	 * project is revoked, as Keystone does. */
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE tokens SET revoked = true WHERE project_id = $1 AND user_id = $2"
	        " AND NOT EXISTS (SELECT 1 FROM role_assignments WHERE project_id = $1"
	        " AND user_id = $2)",
	        r->params[0], r->params[1]) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	resp_empty(w, 204);
}

static void grant_list(struct req *r, struct resp *w)
{
	char err[256];
	if (assignment_targets(r, w, r->params[0], r->params[1], NULL) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT r.id, r.name FROM roles r"
	                    " JOIN role_assignments ra ON ra.role_id = r.id"
	                    " WHERE ra.project_id = $1 AND ra.user_id = $2 ORDER BY r.name",
	                    r->params[0], r->params[1]);
	list_answer(r, w, res, err, "roles", role_json);
}

/* Row: user id, user name, project id, project name, role id, role name. */
static json_t *assignment_json(const struct req *r, const PGresult *res, int i, int names)
{
	char *href =
	    xasprintf("%s/identity/v3/projects/%s/users/%s/roles/%s", r->ctx->api->public_url,
	              db_val(res, i, 2), db_val(res, i, 0), db_val(res, i, 4));
	json_t *user = json_pack("{s:s}", "id", db_val(res, i, 0));
	json_t *project = json_pack("{s:s}", "id", db_val(res, i, 2));
	json_t *role = json_pack("{s:s}", "id", db_val(res, i, 4));
	if (names) {
		json_object_set_new(user, "name", json_string(db_val(res, i, 1)));
		json_object_set_new(user, "domain", domain_ref());
		json_object_set_new(project, "name", json_string(db_val(res, i, 3)));
		json_object_set_new(project, "domain", domain_ref());
		json_object_set_new(role, "name", json_string(db_val(res, i, 5)));
	}
	json_t *a = json_pack("{s:o,s:o,s:{s:o},s:{s:s}}", "role", role, "user", user, "scope",
	                      "project", project, "links", "assignment", href);
	free(href);
	return a;
}

/* GET /role_assignments. Without groups, domain grants or inheritance, "effective"
 * changes nothing; a group or domain filter matches nothing. */
static void assignments_list(struct req *r, struct resp *w)
{
	char err[256];
	int names = wire_bool(req_query(r, "include_names"));
	if (names == -EINVAL) {
		resp_error(r, w, 400, "include_names: must be a boolean");
		return;
	}
	int none = req_query(r, "group.id") || req_query(r, "scope.domain.id") ||
	           req_query(r, "scope.OS-INHERIT:inherited_to");
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT u.id, u.name, p.id, p.name, ro.id, ro.name FROM role_assignments ra"
	        " JOIN users u ON u.id = ra.user_id JOIN projects p ON p.id = ra.project_id"
	        " JOIN roles ro ON ro.id = ra.role_id"
	        " WHERE ($1::text IS NULL OR ra.user_id = $1)"
	        " AND ($2::text IS NULL OR ra.project_id = $2)"
	        " AND ($3::text IS NULL OR ra.role_id = $3) AND NOT $4::boolean"
	        " ORDER BY p.name, u.name, ro.name",
	        req_query(r, "user.id"), req_query(r, "scope.project.id"), req_query(r, "role.id"),
	        none ? "true" : "false");
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

/* ---- domains: only Default ---- */

static void domains_list(struct req *r, struct resp *w)
{
	const char *name = req_query(r, "name");
	int enabled = wire_bool(req_query(r, "enabled"));
	json_t *a = json_array();
	if ((!name || !strcmp(name, DOMAIN_NAME)) && enabled != 0)
		json_array_append_new(a, domain_json(r));
	resp_list(r, w, "domains", a);
}

static void domains_show(struct req *r, struct resp *w)
{
	if (strcmp(r->params[0], DOMAIN_ID))
		not_found(r, w, "domain", r->params[0]);
	else
		resp_json(w, 200, json_pack("{s:o}", "domain", domain_json(r)));
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/projects", projects_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/projects", projects_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}", projects_show, POL_IDENTITY_READ_SELF, 0},
    {"PATCH", V3 "/projects/{}", projects_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}", projects_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/users/{}/roles", grant_list, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/projects/{}/users/{}/roles/{}", grant_check, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/projects/{}/users/{}/roles/{}", grant_put, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/projects/{}/users/{}/roles/{}", grant_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/users", users_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/users", users_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/users/{}", users_show, POL_IDENTITY_READ_SELF, 0},
    {"PATCH", V3 "/users/{}", users_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/users/{}", users_delete, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/users/{}/password", users_password, POL_IDENTITY_READ_SELF, 0},
    {"GET", V3 "/users/{}/projects", users_projects, POL_IDENTITY_READ_SELF, 0},
    {"GET", V3 "/roles", roles_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/roles", roles_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/roles/{}", roles_show, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/roles/{}", roles_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/role_assignments", assignments_list, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/domains", domains_list, POL_IDENTITY_READ_SELF, 0},
    {"GET", V3 "/domains/{}", domains_show, POL_IDENTITY_READ_SELF, 0},
};
HTTPD_TABLE(identity_routes, routes, &identity_hooks);

/* Keystone v3 application credentials: a user delegates some of its roles on the
 * project its token is scoped to, to a secret that authenticates with the method
 * "application_credential" (auth.c). The secret is shown once, stored as argon2id
 * (through api->pwhash, as passwords are). Tokens made from one are scoped to its
 * project and carry only its roles; a restricted one cannot make more. Deleting one
 * deletes its tokens, whose revocation events empty the token cache of them. Access
 * rules are not supported (a body with access_rules is refused). */
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
#include "util.h"
#include "wire.h"
#include "xalloc.h"

#define AC_NAME_MAX 255
#define SECRET_MAX 4096
#define ROLES_MAX 32
#define AC_COLS                                                                                    \
	"ac.id, ac.name, coalesce(ac.description, ''), coalesce(to_char(ac.expires_at AT TIME"     \
	" ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), ''), ac.project_id, ac.unrestricted,"       \
	" ac.user_id, (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name,"     \
	" 'domain_id', NULL) ORDER BY r.name), '[]')::text FROM roles r"                           \
	" WHERE r.id = ANY (ac.role_ids))"

static json_t *ac_json(const struct req *r, const PGresult *res, int i)
{
	char *href = xasprintf("%s/identity/v3/users/%s/application_credentials/%s",
	                       r->ctx->api->public_url, db_val(res, i, 6), db_val(res, i, 0));
	json_t *roles = json_loads(db_val(res, i, 7), 0, NULL);
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:o,s:{s:s},s:[]}", "id", db_val(res, i, 0),
	                      "name", db_val(res, i, 1), "description", db_val(res, i, 2),
	                      "project_id", db_val(res, i, 4), "unrestricted",
	                      db_val(res, i, 5)[0] == 't', "user_id", db_val(res, i, 6), "roles",
	                      roles ? roles : json_array(), "links", "self", href, "access_rules");
	json_object_set_new(o, "expires_at",
	                    db_val(res, i, 3)[0] ? json_string(db_val(res, i, 3)) : json_null());
	free(href);
	return o;
}

/* The owner, or an admin, may read and delete; only the owner may create. */
static int owner_or_admin(struct req *r, struct resp *w)
{
	if (!strcmp(r->ctx->auth.user_id, r->params[0]) || policy_is_admin(&r->ctx->auth))
		return 0;
	ks_forbidden(r, w);
	return -1;
}

struct ac_in {
	char *name, *description, *secret, *expires_at;
	int unrestricted;
	json_t *roles, *access_rules;
};

static const struct jfield f_ac[] = {
    {"name", J_STR, JF(struct ac_in, name), 0, AC_NAME_MAX, 1, 0},
    {"description", J_STR, JF(struct ac_in, description), 0, KS_DESCRIPTION_MAX, 0, 1},
    {"secret", J_STR, JF(struct ac_in, secret), 0, SECRET_MAX, 0, 1},
    {"expires_at", J_STR, JF(struct ac_in, expires_at), 0, 64, 0, 1},
    {"unrestricted", J_BOOL, JF(struct ac_in, unrestricted), 0, 0, 0, 1},
    {"roles", J_ARRAY, JF(struct ac_in, roles), 0, ROLES_MAX, 0, 1},
    {"access_rules", J_ARRAY, JF(struct ac_in, access_rules), 0, 0, 0, 1},
};

static void ac_in_release(struct ac_in *in)
{
	if (in->secret)
		sodium_memzero(in->secret, strlen(in->secret));
	jparse_release(f_ac, JCOUNT(f_ac), in);
}

/* The requested roles as a JSON text [{"id"|"name"}...] for the query ("[]": all the
 * user holds). -EINVAL when an item is not such an object. */
static char *roles_text(const json_t *roles)
{
	json_t *out = json_array(), *v;
	size_t i;
	json_array_foreach(roles, i, v)
	{
		json_t *id = json_object_get(v, "id"), *name = json_object_get(v, "name");
		if (!json_is_object(v) || (!json_is_string(id) && !json_is_string(name))) {
			json_decref(out);
			return NULL;
		}
		json_array_append_new(out, json_pack("{s:s?,s:s?}", "id", json_string_value(id),
		                                     "name", json_string_value(name)));
	}
	char *s = json_dumps(out, JSON_COMPACT);
	json_decref(out);
	return s;
}

static void ac_create(struct req *r, struct resp *w)
{
	struct ac_in in;
	const struct auth *a = &r->ctx->auth;
	char err[256], state[6] = "", id[UUID_STR_LEN], secret[128];
	char hash[crypto_pwhash_STRBYTES] = "";
	char *roles = NULL;
	PGresult *res = NULL;
	if (strcmp(a->user_id, r->params[0])) {
		ks_forbidden(r, w);
		return;
	}
	if (!a->project_id[0]) {
		resp_error(r, w, 403, "An application credential needs a project-scoped token.");
		return;
	}
	if (a->app_cred_id[0] && !a->app_cred_unrestricted) {
		resp_error(r, w, 403,
		           "A restricted application credential cannot create another one.");
		return;
	}
	memset(&in, 0, sizeof(in));
	in.unrestricted = 0;
	if (wire_parse_wrapped(r, w, "application_credential", f_ac, JCOUNT(f_ac), &in) < 0)
		return;
	if (ks_name_check(r, w, in.name, 1, AC_NAME_MAX) < 0)
		goto out;
	if (in.access_rules && json_array_size(in.access_rules)) {
		resp_error(r, w, 400, "access_rules: not supported");
		goto out;
	}
	if (in.secret && !*in.secret) {
		resp_error(r, w, 400, "secret: must not be empty");
		goto out;
	}
	if (!(roles = roles_text(in.roles))) {
		resp_error(r, w, 400, "roles: each role is {\"id\"} or {\"name\"}");
		goto out;
	}
	/* the roles asked for (by id or name), each a role of the caller's token: a global
	 * role held by the user on the project (directly, through a group or inherited)
	 * and, for a token that came from an application credential, one of that
	 * credential's; none asked: all the token's roles (Keystone), so a reader-only
	 * credential cannot mint a member one */
	res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "WITH RECURSIVE hid (id) AS (SELECT g.role_id FROM"
	        " user_scope_grants($1, $2, NULL, false) g"
	        " UNION SELECT ir.implied_role_id FROM implied_roles ir"
	        " JOIN hid ON ir.prior_role_id = hid.id),"
	        " acr (id) AS (SELECT unnest(role_ids) FROM application_credentials WHERE id = $4"
	        " UNION SELECT ir.implied_role_id FROM implied_roles ir"
	        " JOIN acr ON ir.prior_role_id = acr.id),"
	        " held AS (SELECT ro.id, ro.name FROM roles ro WHERE ro.id IN (SELECT id FROM hid)"
	        " AND ro.domain_id IS NULL"
	        " AND ($4::text IS NULL OR ro.id IN (SELECT id FROM acr))),"
	        " asked AS (SELECT x->>'id' AS id, x->>'name' "
	        "AS name"
	        " FROM json_array_elements($3::json) x)"
	        " SELECT (SELECT count(*) FROM asked), (SELECT count(*) FROM asked WHERE NOT"
	        " EXISTS (SELECT 1 FROM held h WHERE h.id = asked.id OR h.name = asked.name)),"
	        " (SELECT array_agg(DISTINCT h.id)::text FROM held h WHERE NOT EXISTS"
	        " (SELECT 1 FROM asked) OR EXISTS (SELECT 1 FROM asked WHERE asked.id = h.id"
	        " OR asked.name = h.name))",
	        a->user_id, a->project_id, roles, a->app_cred_id[0] ? a->app_cred_id : NULL);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (db_long(res, 0, 1, 0) > 0 || !db_val(res, 0, 2)) {
		resp_error(r, w, 404,
		           "Could not find role assignment: the user does not hold a "
		           "requested role on project %s.",
		           a->project_id);
		goto out;
	}
	if (in.secret)
		snprintf(secret, sizeof(secret), "%s", in.secret);
	else
		token_random(secret, sizeof(secret), 48);
	if (gate_enter(r->ctx->api->pwhash) < 0) {
		resp_error(r, w, 503, "Too many logins at once; retry later.");
		resp_header(w, "Retry-After", "1");
		goto out;
	}
	int hashed = crypto_pwhash_str(hash, in.secret ? in.secret : secret,
	                               strlen(in.secret ? in.secret : secret),
	                               crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                               crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0;
	gate_leave(r->ctx->api->pwhash);
	if (!hashed) {
		resp_error(r, w, 500, "secret hashing failed");
		goto out;
	}
	uuid_generate_str(id);
	PGresult *ins = db_query(
	    r->ctx->db,
	    "WITH n AS (INSERT INTO application_credentials (id, user_id, project_id, name,"
	    " description, secret_hash, expires_at, unrestricted, role_ids)"
	    " SELECT $1, $2, $3, $4, $5, $6, $7::timestamptz, $8::boolean, $9::text[]"
	    " WHERE $7::timestamptz IS NULL OR $7::timestamptz > now() RETURNING *)"
	    " SELECT " AC_COLS " FROM n ac",
	    9,
	    (const char *const[]){id, a->user_id, a->project_id, in.name, in.description, hash,
	                          in.expires_at, in.unrestricted == 1 ? "true" : "false",
	                          db_val(res, 0, 2)},
	    err, sizeof(err), state);
	if (!ins && !strncmp(state, "22", 2))
		resp_error(r, w, 400, "expires_at: not a timestamp");
	else if (!ins && !strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409,
		           "Conflict occurred attempting to store application_credential - "
		           "Duplicate entry found with name %s.",
		           in.name);
	else if (!ins)
		resp_db_error(r, w, err);
	else if (PQntuples(ins) != 1)
		resp_error(r, w, 400, "expires_at: must be in the future");
	else {
		json_t *o = ac_json(r, ins, 0);
		json_object_set_new(o, "secret", json_string(in.secret ? in.secret : secret));
		resp_json(w, 201, json_pack("{s:o}", "application_credential", o));
	}
	PQclear(ins);
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(hash, sizeof(hash));
	PQclear(res);
	free(roles);
	ac_in_release(&in);
}

static void ac_list(struct req *r, struct resp *w)
{
	char err[256];
	if (owner_or_admin(r, w) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " AC_COLS " FROM application_credentials ac WHERE user_id = $1"
	                    " AND ($2::text IS NULL OR name = $2) ORDER BY name",
	                    r->params[0], req_query(r, "name"));
	ks_list_answer(r, w, res, err, "application_credentials", ac_json);
}

static void ac_show(struct req *r, struct resp *w)
{
	char err[256];
	if (owner_or_admin(r, w) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " AC_COLS " FROM application_credentials ac WHERE user_id = $1"
	                    " AND id = $2",
	                    r->params[0], r->params[1]);
	res = ks_row_found(r, w, res, err, "application credential", r->params[1]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "application_credential", ac_json(r, res, 0)));
	PQclear(res);
}

static void ac_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (owner_or_admin(r, w) < 0)
		return;
	const struct auth *a = &r->ctx->auth;
	if (a->app_cred_id[0] && !a->app_cred_unrestricted) {
		resp_error(r, w, 403,
		           "A restricted application credential cannot delete application "
		           "credentials.");
		return;
	}
	/* its tokens go with it (ON DELETE CASCADE); their triggers revoke them */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM application_credentials WHERE user_id = $1 AND id = $2",
	            r->params[0], r->params[1]);
	wire_answer_rows(r, w, n, err, 204, "Could not find application credential: %s.",
	                 r->params[1]);
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/users/{}/application_credentials", ac_list, POL_IDENTITY_TOKEN, 0},
    {"POST", V3 "/users/{}/application_credentials", ac_create, POL_IDENTITY_TOKEN, 0},
    {"GET", V3 "/users/{}/application_credentials/{}", ac_show, POL_IDENTITY_TOKEN, 0},
    {"DELETE", V3 "/users/{}/application_credentials/{}", ac_delete, POL_IDENTITY_TOKEN, 0},
};
HTTPD_TABLE(app_cred_routes, routes, &identity_hooks);

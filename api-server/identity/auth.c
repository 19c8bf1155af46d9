/* Identity v3 authentication: POST/GET/HEAD/DELETE /identity/v3/auth/tokens (password
 * or token method, project scope by id or by name + domain) and the caller's projects. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "identity/catalog.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "identity/token.h"
#include "wire.h"
#include "xalloc.h"

#define DOMAIN_ID "default"
#define DOMAIN_NAME "Default"

/* A domain named by id or name: the user's, or the scope project's. */
struct domain_in {
	char *id, *name;
};

/* The wire request, flattened. */
struct auth_req {
	json_t *auth, *identity, *scope, *methods;
	json_t *password, *user, *user_domain, *token;
	json_t *project, *project_domain;
	char *user_id, *user_name, *secret;
	char *token_id;
	char *project_id, *project_name;
	struct domain_in udomain, pdomain;
};

static const struct jfield f_auth[] = {
    {"identity", J_OBJECT, JF(struct auth_req, identity), 0, 0, 1, 0},
    {"scope", J_OBJECT, JF(struct auth_req, scope), 0, 0, 0, 1},
};
static const struct jfield f_identity[] = {
    {"methods", J_ARRAY, JF(struct auth_req, methods), 0, 4, 1, 0},
    {"password", J_OBJECT, JF(struct auth_req, password), 0, 0, 0, 0},
    {"token", J_OBJECT, JF(struct auth_req, token), 0, 0, 0, 0},
};
static const struct jfield f_password[] = {
    {"user", J_OBJECT, JF(struct auth_req, user), 0, 0, 1, 0},
};
static const struct jfield f_user[] = {
    {"id", J_STR, JF(struct auth_req, user_id), 0, 64, 0, 1},
    {"name", J_STR, JF(struct auth_req, user_name), 0, 255, 0, 1},
    {"password", J_STR, JF(struct auth_req, secret), 0, 4096, 1, 0},
    {"domain", J_OBJECT, JF(struct auth_req, user_domain), 0, 0, 0, 1},
};
static const struct jfield f_domain[] = {
    {"id", J_STR, JF(struct domain_in, id), 0, 64, 0, 1},
    {"name", J_STR, JF(struct domain_in, name), 0, 255, 0, 1},
};
static const struct jfield f_token[] = {
    {"id", J_STR, JF(struct auth_req, token_id), 0, 512, 1, 0},
};
static const struct jfield f_scope[] = {
    {"project", J_OBJECT, JF(struct auth_req, project), 0, 0, 0, 1},
};
static const struct jfield f_project[] = {
    {"id", J_STR, JF(struct auth_req, project_id), 0, 64, 0, 1},
    {"name", J_STR, JF(struct auth_req, project_name), 0, 255, 0, 1},
    {"domain", J_OBJECT, JF(struct auth_req, project_domain), 0, 0, 0, 1},
};

static void auth_req_release(struct auth_req *a)
{
	if (a->secret)
		sodium_memzero(a->secret, strlen(a->secret));
	jparse_release(f_user, JCOUNT(f_user), a);
	jparse_release(f_domain, JCOUNT(f_domain), &a->udomain);
	jparse_release(f_token, JCOUNT(f_token), a);
	jparse_release(f_project, JCOUNT(f_project), a);
	jparse_release(f_domain, JCOUNT(f_domain), &a->pdomain);
}

/* Only the Default domain exists; a name or id naming another fails the login. */
static int domain_ok(const struct domain_in *d)
{
	if (d->id && strcmp(d->id, DOMAIN_ID))
		return 0;
	if (d->name && strcasecmp(d->name, DOMAIN_NAME))
		return 0;
	return 1;
}

static int parse_auth(const json_t *body, struct auth_req *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->auth = wire_unwrap(body, "auth", f_auth, JCOUNT(f_auth), a, err, errlen);
	if (!a->auth || jparse(a->identity, f_identity, JCOUNT(f_identity), a, err, errlen) < 0)
		return -EINVAL;
	if (a->password &&
	    (jparse(a->password, f_password, JCOUNT(f_password), a, err, errlen) < 0 ||
	     jparse(a->user, f_user, JCOUNT(f_user), a, err, errlen) < 0 ||
	     (a->user_domain &&
	      jparse(a->user_domain, f_domain, JCOUNT(f_domain), &a->udomain, err, errlen) < 0)))
		return -EINVAL;
	if (a->token && jparse(a->token, f_token, JCOUNT(f_token), a, err, errlen) < 0)
		return -EINVAL;
	if (a->scope && jparse(a->scope, f_scope, JCOUNT(f_scope), a, err, errlen) < 0)
		return -EINVAL;
	if (a->project &&
	    (jparse(a->project, f_project, JCOUNT(f_project), a, err, errlen) < 0 ||
	     (a->project_domain &&
	      jparse(a->project_domain, f_domain, JCOUNT(f_domain), &a->pdomain, err, errlen) < 0)))
		return -EINVAL;
	if (!a->password && !a->token) {
		snprintf(err, errlen, "identity: password or token method required");
		return -EINVAL;
	}
	if (a->password && !a->user_id && !a->user_name) {
		snprintf(err, errlen, "user: id or name required");
		return -EINVAL;
	}
	if (a->project && !a->project_id && !a->project_name) {
		snprintf(err, errlen, "project: id or name required");
		return -EINVAL;
	}
	return 0;
}

json_t *auth_token_body(const struct api *api, const struct auth *a, const char *method);

json_t *auth_token_body(const struct api *api, const struct auth *a, const char *method)
{
	json_t *tok =
	    json_pack("{s:[s],s:{s:s,s:s,s:{s:s,s:s},s:n},s:[s],s:s,s:s,s:b}", "methods", method,
	              "user", "id", a->user_id, "name", a->user_name, "domain", "id", DOMAIN_ID,
	              "name", DOMAIN_NAME, "password_expires_at", "audit_ids", a->token_hash + 48,
	              "expires_at", a->expires_at, "issued_at", a->issued_at, "is_domain", 0);
	if (a->project_id[0]) {
		json_object_set_new(tok, "project",
		                    json_pack("{s:s,s:s,s:{s:s,s:s}}", "id", a->project_id, "name",
		                              a->project_name, "domain", "id", DOMAIN_ID, "name",
		                              DOMAIN_NAME));
		json_t *roles = json_array();
		static const struct {
			unsigned bit;
			const char *name;
		} names[] = {
		    {ROLE_ADMIN, "admin"}, {ROLE_MEMBER, "member"}, {ROLE_READER, "reader"}};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (a->roles & names[i].bit)
				json_array_append_new(roles,
				                      json_pack("{s:s,s:s}", "id", names[i].name,
				                                "name", names[i].name));
		json_object_set_new(tok, "roles", roles);
		json_object_set_new(tok, "catalog", catalog_build(api, a->project_id));
	}
	return json_pack("{s:o}", "token", tok);
}

/* Resolves the user and checks the secret. Fills user_id. 0, -EACCES, or -EIO with err
 * when the database did not answer (not a wrong password). */
/* argon2id of a password nobody has: a login for an unknown user costs what one for a
 * known user costs, so timing does not tell which names exist. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_hash_init(void)
{
	char pw[32];
	token_random(pw, sizeof(pw), 16);
	if (crypto_pwhash_str(dummy_hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
		dummy_hash[0] = '\0';
}

/* Checks the password in a. Returns 0 with user_id, -EACCES, -EIO with err (the
 * database), or -EBUSY when too many hashes already run or wait (api->pwhash). */
static int check_password(struct api *api, PGconn *db, const struct auth_req *a,
                          char user_id[UUID_STR_LEN], char *err, size_t errlen)
{
	if (!domain_ok(&a->udomain) && !a->user_id)
		return -EACCES;
	PGresult *r =
	    a->user_id
	        ? DBQ(db, err, errlen,
	              "SELECT id, password_hash FROM users WHERE id = $1 AND enabled", a->user_id)
	        : DBQ(db, err, errlen,
	              "SELECT id, password_hash FROM users WHERE name = $1 AND enabled",
	              a->user_name);
	if (!r)
		return -EIO;
	int rc = -EACCES;
	int found = r && PQntuples(r) == 1;
	const char *hash = found ? db_val(r, 0, 1) : NULL;
	if (!hash || strncmp(hash, "$argon2", 7)) {
		pthread_once(&dummy_once, dummy_hash_init);
		hash = dummy_hash;
		found = 0;
	}
	if (gate_enter(api->pwhash) < 0) {
		PQclear(r);
		return -EBUSY;
	}
	int ok = crypto_pwhash_str_verify(hash, a->secret, strlen(a->secret)) == 0;
	gate_leave(api->pwhash);
	if (ok && found) {
		snprintf(user_id, UUID_STR_LEN, "%s", db_val(r, 0, 0));
		rc = 0;
	}
	PQclear(r);
	return rc;
}

/* Resolves the scope project; the user must hold a role on it. 0, -EACCES, or -EIO
 * with err when the database did not answer. */
static int resolve_project(PGconn *db, const struct auth_req *a, const char *user_id,
                           char project_id[UUID_STR_LEN], char *err, size_t errlen)
{
	PGresult *r;
	if (a->project_id)
		r = DBQ(db, err, errlen, "SELECT id FROM projects WHERE id = $1 AND enabled",
		        a->project_id);
	else if (domain_ok(&a->pdomain))
		r = DBQ(db, err, errlen, "SELECT id FROM projects WHERE name = $1 AND enabled",
		        a->project_name);
	else
		return -EACCES;
	if (!r)
		return -EIO;
	int rc = -EACCES;
	if (r && PQntuples(r) == 1) {
		snprintf(project_id, UUID_STR_LEN, "%s", db_val(r, 0, 0));
		PGresult *ra =
		    DBQ(db, err, errlen,
		        "SELECT 1 FROM role_assignments WHERE user_id = $1 AND project_id = $2",
		        user_id, project_id);
		if (!ra)
			rc = -EIO;
		else if (PQntuples(ra) > 0)
			rc = 0;
		PQclear(ra);
	}
	PQclear(r);
	return rc;
}

static void tokens_create(struct req *r, struct resp *w)
{
	char not_after[32] = ""; /* token method: the new token dies with the old one */
	struct auth_req a;
	char err[256], user_id[UUID_STR_LEN] = "", project_id[UUID_STR_LEN] = "";
	const char *method = "password";
	int rc;
	if (parse_auth(r->json, &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (a.password) {
		rc = check_password(r->ctx->api, r->ctx->db, &a, user_id, err, sizeof(err));
		if (rc == -EBUSY) {
			resp_error(r, w, 503, "Too many logins at once; retry later.");
			resp_header(w, "Retry-After", "1");
			goto out;
		}
		if (rc == -EIO) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (rc < 0) {
			resp_error(r, w, 401, "The request you have made requires authentication.");
			goto out;
		}
	} else {
		struct auth old;
		method = "token";
		rc = token_validate(r->ctx->db, r->ctx->api->tokens, a.token_id, &old, err,
		                    sizeof(err));
		if (rc == -EIO) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (rc < 0) {
			resp_error(r, w, 401, "The request you have made requires authentication.");
			goto out;
		}
		snprintf(user_id, sizeof(user_id), "%s", old.user_id);
		snprintf(not_after, sizeof(not_after), "%s", old.expires_at);
	}
	if (a.project) {
		rc = resolve_project(r->ctx->db, &a, user_id, project_id, err, sizeof(err));
		if (rc == -EIO) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (rc < 0) {
			resp_error(r, w, 401, "The user has no role on the requested project.");
			goto out;
		}
	} else {
		/* No scope: the user's default project when it holds a role there. */
		PGresult *d =
		    DBQ(r->ctx->db, err, sizeof err,
		        "SELECT u.default_project_id FROM users u JOIN role_assignments ra"
		        " ON ra.user_id = u.id AND ra.project_id = u.default_project_id"
		        " JOIN projects p ON p.id = u.default_project_id AND p.enabled"
		        " WHERE u.id = $1 LIMIT 1",
		        user_id);
		if (d && PQntuples(d) == 1 && db_val(d, 0, 0))
			snprintf(project_id, sizeof(project_id), "%s", db_val(d, 0, 0));
		PQclear(d);
	}
	char token[TOKEN_STR_MAX];
	struct auth na;
	if (token_issue(r->ctx->db, user_id, project_id[0] ? project_id : NULL,
	                r->ctx->api->token_ttl, not_after[0] ? not_after : NULL, token, &na) < 0) {
		resp_db_error(r, w, "token insert failed");
		goto out;
	}
	resp_header(w, "X-Subject-Token", token);
	sodium_memzero(token, sizeof(token));
	resp_json(w, 201, auth_token_body(r->ctx->api, &na, method));
out:
	auth_req_release(&a);
}

/* The token X-Subject-Token names, when the caller may <verb> it (its own, or any for
 * an admin). Returns the header (borrowed) with *s filled; or answers 404 or 403 and
 * returns NULL. */
static const char *subject_find(struct req *r, struct resp *w, const char *verb, struct auth *s)
{
	const char *subject = req_header(r, "X-Subject-Token");
	char err[256];
	int rc = subject && strlen(subject) < 512
	             ? token_validate(r->ctx->db, r->ctx->api->tokens, subject, s, err, sizeof(err))
	             : -EACCES;
	if (rc == -EIO) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (rc < 0) {
		resp_error(r, w, 404, "Could not find token.");
		return NULL;
	}
	if (strcmp(s->user_id, r->ctx->auth.user_id) && !(r->ctx->auth.roles & ROLE_ADMIN)) {
		resp_error(r, w, 403, "You are not authorized to %s that token.", verb);
		return NULL;
	}
	return subject;
}

static void tokens_show(struct req *r, struct resp *w)
{
	struct auth s;
	const char *subject = subject_find(r, w, "validate", &s);
	if (!subject)
		return;
	resp_header(w, "X-Subject-Token", subject);
	resp_json(w, 200, auth_token_body(r->ctx->api, &s, "password"));
}

static void tokens_delete(struct req *r, struct resp *w)
{
	struct auth s;
	if (!subject_find(r, w, "revoke", &s))
		return;
	if (token_revoke(r->ctx->db, s.token_hash) < 0) {
		resp_db_error(r, w, "token revoke failed");
		return;
	}
	resp_empty(w, 204);
}

static void auth_projects(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT DISTINCT p.id, p.name, p.description, p.enabled FROM projects p"
	        " JOIN role_assignments ra ON ra.project_id = p.id WHERE ra.user_id = $1"
	        " ORDER BY p.name",
	        r->ctx->auth.user_id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		char *href = xasprintf("%s/identity/v3/projects/%s", r->ctx->api->public_url,
		                       db_val(res, i, 0));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:n,s:{s:s}}", "id",
		                                      db_val(res, i, 0), "name", db_val(res, i, 1),
		                                      "description", db_val(res, i, 2), "domain_id",
		                                      DOMAIN_ID, "enabled",
		                                      db_val(res, i, 3)[0] == 't', "is_domain", 0,
		                                      "parent_id", "links", "self", href));
		free(href);
	}
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "projects", list));
}

static void auth_catalog(struct req *r, struct resp *w)
{
	if (!r->ctx->auth.project_id[0]) {
		resp_error(r, w, 403, "catalog needs a project-scoped token");
		return;
	}
	resp_json(
	    w, 200,
	    json_pack("{s:o}", "catalog", catalog_build(r->ctx->api, r->ctx->auth.project_id)));
}

static const struct httpd_route routes[] = {
    {"POST", "/identity/v3/auth/tokens", tokens_create, POL_PUBLIC, 0},
    {"GET", "/identity/v3/auth/tokens", tokens_show, POL_IDENTITY_TOKEN, 0},
    {"DELETE", "/identity/v3/auth/tokens", tokens_delete, POL_IDENTITY_TOKEN, 0},
    {"GET", "/identity/v3/auth/projects", auth_projects, POL_IDENTITY_TOKEN, 0},
    {"GET", "/identity/v3/auth/catalog", auth_catalog, POL_IDENTITY_TOKEN, 0},
};
HTTPD_TABLE(auth_routes, routes, &identity_hooks);

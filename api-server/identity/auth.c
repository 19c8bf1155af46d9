/* Identity v3 authentication: POST/GET/HEAD/DELETE /identity/v3/auth/tokens (methods
 * password, token and application_credential; project scope by id or by name + domain,
 * domain scope by id or name) and the caller's projects, domains and catalog. */
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "identity/catalog.h"
#include "identity/keystone.h"
#include "jparse.h"
#include "objtoken.h"
#include "policy.h"
#include "routes.h"
#include "identity/token.h"
#include "wire.h"
#include "xalloc.h"

/* A domain named by id or name: the user's, or the scope project's. */
struct domain_in {
	char *id, *name;
};

/* The wire request, flattened. */
struct auth_req {
	json_t *auth, *identity, *scope, *methods;
	json_t *password, *user, *user_domain, *token, *app_cred, *ac_user, *ac_user_domain;
	json_t *project, *project_domain, *domain, *system;
	char *user_id, *user_name, *secret;
	char *token_id;
	char *ac_id, *ac_name, *ac_secret, *ac_user_id, *ac_user_name;
	char *project_id, *project_name;
	struct domain_in udomain, pdomain, sdomain, acdomain;
	int unscoped;   /* "scope": "unscoped" */
	int system_all; /* "scope": {"system": {"all": true}} */
};

static const struct jfield f_auth[] = {
    {"identity", J_OBJECT, JF(struct auth_req, identity), 0, 0, 1, 0},
};
static const struct jfield f_identity[] = {
    {"methods", J_ARRAY, JF(struct auth_req, methods), 0, 4, 1, 0},
    {"password", J_OBJECT, JF(struct auth_req, password), 0, 0, 0, 0},
    {"token", J_OBJECT, JF(struct auth_req, token), 0, 0, 0, 0},
    {"application_credential", J_OBJECT, JF(struct auth_req, app_cred), 0, 0, 0, 0},
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
static const struct jfield f_app_cred[] = {
    {"id", J_STR, JF(struct auth_req, ac_id), 0, 64, 0, 1},
    {"name", J_STR, JF(struct auth_req, ac_name), 0, 255, 0, 1},
    {"secret", J_STR, JF(struct auth_req, ac_secret), 0, 4096, 1, 0},
    {"user", J_OBJECT, JF(struct auth_req, ac_user), 0, 0, 0, 1},
};
static const struct jfield f_ac_user[] = {
    {"id", J_STR, JF(struct auth_req, ac_user_id), 0, 64, 0, 1},
    {"name", J_STR, JF(struct auth_req, ac_user_name), 0, 255, 0, 1},
    {"domain", J_OBJECT, JF(struct auth_req, ac_user_domain), 0, 0, 0, 1},
};
static const struct jfield f_scope[] = {
    {"project", J_OBJECT, JF(struct auth_req, project), 0, 0, 0, 1},
    {"domain", J_OBJECT, JF(struct auth_req, domain), 0, 0, 0, 1},
    {"system", J_OBJECT, JF(struct auth_req, system), 0, 0, 0, 1},
};
static const struct jfield f_system[] = {
    {"all", J_BOOL, JF(struct auth_req, system_all), 0, 0, 1, 0},
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
	if (a->ac_secret)
		sodium_memzero(a->ac_secret, strlen(a->ac_secret));
	jparse_release(f_user, JCOUNT(f_user), a);
	jparse_release(f_domain, JCOUNT(f_domain), &a->udomain);
	jparse_release(f_token, JCOUNT(f_token), a);
	jparse_release(f_app_cred, JCOUNT(f_app_cred), a);
	jparse_release(f_ac_user, JCOUNT(f_ac_user), a);
	jparse_release(f_domain, JCOUNT(f_domain), &a->acdomain);
	jparse_release(f_project, JCOUNT(f_project), a);
	jparse_release(f_domain, JCOUNT(f_domain), &a->pdomain);
	jparse_release(f_domain, JCOUNT(f_domain), &a->sdomain);
}

/* Parses an optional {"id"|"name"} domain object into d. */
static int domain_parse(const json_t *o, struct domain_in *d, char *err, size_t errlen)
{
	if (!o)
		return 0;
	if (jparse(o, f_domain, JCOUNT(f_domain), d, err, errlen) < 0)
		return -EINVAL;
	if (!d->id && !d->name) {
		snprintf(err, errlen, "domain: id or name required");
		return -EINVAL;
	}
	return 0;
}

/* The methods of the request's list that it names: each must be known and carry its
 * object. */
static int methods_check(struct auth_req *a, char *err, size_t errlen)
{
	size_t i;
	json_t *m;
	if (json_array_size(a->methods) == 0) {
		snprintf(err, errlen, "methods: at least one method is required");
		return -EINVAL;
	}
	json_array_foreach(a->methods, i, m)
	{
		const char *s = json_string_value(m);
		if (!s || (strcmp(s, "password") && strcmp(s, "token") &&
		           strcmp(s, "application_credential"))) {
			snprintf(err, errlen, "methods: unsupported authentication method");
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_auth(const json_t *body, struct auth_req *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	a->auth = wire_unwrap(body, "auth", f_auth, JCOUNT(f_auth), a, err, errlen);
	if (!a->auth || jparse(a->identity, f_identity, JCOUNT(f_identity), a, err, errlen) < 0 ||
	    methods_check(a, err, errlen) < 0)
		return -EINVAL;
	/* "scope" is an object, or the string "unscoped" (explicitly no default project) */
	json_t *scope = json_object_get(a->auth, "scope");
	if (json_is_string(scope) && !strcmp(json_string_value(scope), "unscoped"))
		a->unscoped = 1;
	else if (scope && !json_is_null(scope) && !json_is_object(scope)) {
		snprintf(err, errlen, "scope: must be an object");
		return -EINVAL;
	} else if (json_is_object(scope))
		a->scope = scope;
	if (a->password &&
	    (jparse(a->password, f_password, JCOUNT(f_password), a, err, errlen) < 0 ||
	     jparse(a->user, f_user, JCOUNT(f_user), a, err, errlen) < 0 ||
	     domain_parse(a->user_domain, &a->udomain, err, errlen) < 0))
		return -EINVAL;
	if (a->token && jparse(a->token, f_token, JCOUNT(f_token), a, err, errlen) < 0)
		return -EINVAL;
	if (a->app_cred &&
	    (jparse(a->app_cred, f_app_cred, JCOUNT(f_app_cred), a, err, errlen) < 0 ||
	     (a->ac_user && jparse(a->ac_user, f_ac_user, JCOUNT(f_ac_user), a, err, errlen) < 0) ||
	     domain_parse(a->ac_user_domain, &a->acdomain, err, errlen) < 0))
		return -EINVAL;
	if (a->scope && jparse(a->scope, f_scope, JCOUNT(f_scope), a, err, errlen) < 0)
		return -EINVAL;
	if (a->project && (jparse(a->project, f_project, JCOUNT(f_project), a, err, errlen) < 0 ||
	                   domain_parse(a->project_domain, &a->pdomain, err, errlen) < 0))
		return -EINVAL;
	if (a->domain && domain_parse(a->domain, &a->sdomain, err, errlen) < 0)
		return -EINVAL;
	if (a->system && jparse(a->system, f_system, JCOUNT(f_system), a, err, errlen) < 0)
		return -EINVAL;
	if (a->system && a->system_all != 1) {
		snprintf(err, errlen, "system: only {\"all\": true} names the system");
		return -EINVAL;
	}
	if (a->scope && json_object_get(a->scope, "OS-TRUST:trust")) {
		snprintf(err, errlen, "scope: trusts are not supported");
		return -EINVAL;
	}
	if (!a->password && !a->token && !a->app_cred) {
		snprintf(err, errlen,
		         "identity: password, token or application_credential method "
		         "required");
		return -EINVAL;
	}
	if (a->password && !a->user_id && !a->user_name) {
		snprintf(err, errlen, "user: id or name required");
		return -EINVAL;
	}
	if (a->app_cred && !a->ac_id && !(a->ac_name && (a->ac_user_id || a->ac_user_name))) {
		snprintf(err, errlen, "application_credential: id, or name and user, required");
		return -EINVAL;
	}
	if (a->project && !a->project_id && !a->project_name) {
		snprintf(err, errlen, "project: id or name required");
		return -EINVAL;
	}
	if (!!a->project + !!a->domain + !!a->system > 1) {
		snprintf(err, errlen, "scope: one of a project, a domain or the system");
		return -EINVAL;
	}
	return 0;
}

/* {"id", "name"} of a domain. */
static json_t *domain_pair(const char *id, const char *name)
{
	return json_pack("{s:s,s:s}", "id", id, "name", name);
}

json_t *auth_token_body(struct api *api, PGconn *db, const struct auth *a)
{
	json_t *methods = json_array();
	char buf[sizeof(a->methods)], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", a->methods[0] ? a->methods : "password");
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_array_append_new(methods, json_string(t));
	json_t *tok =
	    json_pack("{s:o,s:{s:s,s:s,s:o,s:n},s:[s],s:s,s:s,s:b}", "methods", methods, "user",
	              "id", a->user_id, "name", a->user_name, "domain",
	              domain_pair(a->user_domain_id, a->user_domain_name), "password_expires_at",
	              "audit_ids", a->token_hash + 48, "expires_at", a->expires_at, "issued_at",
	              a->issued_at, "is_domain", 0);
	if (!a->project_id[0] && !a->domain_id[0] && !a->system)
		return json_pack("{s:o}", "token", tok);
	if (a->system)
		json_object_set_new(tok, "system", json_pack("{s:b}", "all", 1));
	else if (a->project_id[0])
		json_object_set_new(
		    tok, "project",
		    json_pack("{s:s,s:s,s:o}", "id", a->project_id, "name", a->project_name,
		              "domain", domain_pair(a->project_domain_id, a->project_domain_name)));
	else
		json_object_set_new(tok, "domain", domain_pair(a->domain_id, a->domain_name));
	json_t *roles = json_array();
	char list[sizeof(a->role_list)], *rsave = NULL;
	snprintf(list, sizeof(list), "%s", a->role_list);
	for (char *t = strtok_r(list, ",", &rsave); t; t = strtok_r(NULL, ",", &rsave)) {
		char *name = strchr(t, ':');
		if (!name)
			continue;
		*name++ = '\0';
		json_array_append_new(roles, json_pack("{s:s,s:s}", "id", t, "name", name));
	}
	json_object_set_new(tok, "roles", roles);
	if (a->app_cred_id[0])
		json_object_set_new(tok, "application_credential",
		                    json_pack("{s:s,s:b}", "id", a->app_cred_id, "restricted",
		                              !a->app_cred_unrestricted));
	json_t *cat = catalog_build(api, db, a->project_id);
	if (!cat) {
		json_decref(tok);
		return NULL;
	}
	json_object_set_new(tok, "catalog", cat);
	return json_pack("{s:o}", "token", tok);
}

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

/* Verifies secret against the argon2id string in column col of res's only row (or
 * against the dummy hash when res holds no such row), through the gate. 1 when it
 * matches a real row, 0 when not, -EBUSY when too many hashes already run or wait. */
static int secret_verify(struct api *api, const PGresult *res, int col, const char *secret)
{
	int found = PQntuples(res) == 1;
	const char *hash = found ? db_val(res, 0, col) : NULL;
	if (!hash || strncmp(hash, "$argon2", 7)) {
		pthread_once(&dummy_once, dummy_hash_init);
		hash = dummy_hash;
		found = 0;
	}
	if (gate_enter(api->pwhash) < 0)
		return -EBUSY;
	int ok = crypto_pwhash_str_verify(hash, secret, strlen(secret)) == 0;
	gate_leave(api->pwhash);
	return ok && found;
}

/* The user's domain: by id or name when given, else Default ($3, $4 of the lookups). */
static const char *domain_id_or_default(const struct domain_in *d)
{
	return d->id || d->name ? d->id : KS_DEFAULT_DOMAIN;
}

/* Checks the password in a. Returns 0 with user_id, -EACCES, -EIO with err (the
 * database), or -EBUSY when too many hashes already run or wait (api->pwhash). */
static int check_password(struct api *api, PGconn *db, const struct auth_req *a,
                          char user_id[UUID_STR_LEN], char *err, size_t errlen)
{
	PGresult *r =
	    DBQ(db, err, errlen,
	        "SELECT u.id, u.password_hash FROM users u"
	        " JOIN domains d ON d.id = u.domain_id WHERE u.enabled AND d.enabled"
	        " AND ($1::text IS NOT NULL AND u.id = $1 OR $1::text IS NULL"
	        " AND u.name = $2 AND (d.id = $3 OR d.name = $4))",
	        a->user_id, a->user_name, domain_id_or_default(&a->udomain), a->udomain.name);
	if (!r)
		return -EIO;
	int ok = secret_verify(api, r, 1, a->secret);
	if (ok == 1)
		snprintf(user_id, UUID_STR_LEN, "%s", db_val(r, 0, 0));
	PQclear(r);
	return ok < 0 ? ok : ok ? 0 : -EACCES;
}

/* What an application credential gives: its user, project and expiry. */
struct app_cred_hit {
	char id[UUID_STR_LEN], user_id[UUID_STR_LEN], project_id[UUID_STR_LEN];
	char expires_at[40];
};

/* Checks the application credential in a (by id, or by name and its user). Returns 0
 * with h, -EACCES (unknown, expired, wrong secret, user or project disabled), -EIO, or
 * -EBUSY (the gate). */
static int check_app_cred(struct api *api, PGconn *db, const struct auth_req *a,
                          struct app_cred_hit *h, char *err, size_t errlen)
{
	PGresult *r =
	    DBQ(db, err, errlen,
	        "SELECT ac.id, ac.secret_hash, ac.user_id, ac.project_id,"
	        " coalesce(to_char(ac.expires_at AT TIME ZONE 'UTC', "
	        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
	        " '') FROM application_credentials ac JOIN users u ON u.id = ac.user_id"
	        " JOIN domains d ON d.id = u.domain_id JOIN projects p ON p.id = ac.project_id"
	        " WHERE u.enabled AND d.enabled AND p.enabled"
	        " AND (ac.expires_at IS NULL OR ac.expires_at > now())"
	        " AND ($1::text IS NOT NULL AND ac.id = $1 OR $1::text IS NULL AND ac.name = $2"
	        " AND ($3::text IS NOT NULL AND u.id = $3 OR $3::text IS NULL AND u.name = $4"
	        " AND (d.id = $5 OR d.name = $6)))",
	        a->ac_id, a->ac_name, a->ac_user_id, a->ac_user_name,
	        domain_id_or_default(&a->acdomain), a->acdomain.name);
	if (!r)
		return -EIO;
	int ok = secret_verify(api, r, 1, a->ac_secret);
	if (ok == 1) {
		snprintf(h->id, sizeof(h->id), "%s", db_val(r, 0, 0));
		snprintf(h->user_id, sizeof(h->user_id), "%s", db_val(r, 0, 2));
		snprintf(h->project_id, sizeof(h->project_id), "%s", db_val(r, 0, 3));
		snprintf(h->expires_at, sizeof(h->expires_at), "%s", db_val(r, 0, 4));
	}
	PQclear(r);
	return ok < 0 ? ok : ok ? 0 : -EACCES;
}

/* A grant user $1 holds, directly, through a group or inherited from above, that reaches
 * the scope ARGS names ("$2, NULL, false": project $2; "NULL, $2, false": domain $2). */
#define HOLDS_ROLE_ON(col) "SELECT 1 FROM user_scope_grants($1, " col ") LIMIT 1"

/* Resolves the scope project (by id, or by name in a domain named by id or name,
 * Default when none is named); the user must hold a role on it. 0, -EACCES, or -EIO
 * with err when the database did not answer. */
static int resolve_project(PGconn *db, const struct auth_req *a, const char *user_id,
                           char project_id[UUID_STR_LEN], char *err, size_t errlen)
{
	PGresult *r =
	    DBQ(db, err, errlen,
	        "SELECT p.id FROM projects p JOIN domains d ON d.id = p.domain_id"
	        " WHERE p.enabled AND d.enabled AND ($1::text IS NOT NULL AND p.id = $1"
	        " OR $1::text IS NULL AND p.name = $2 AND (d.id = $3 OR d.name = $4))",
	        a->project_id, a->project_name, domain_id_or_default(&a->pdomain), a->pdomain.name);
	if (!r)
		return -EIO;
	int rc = -EACCES;
	if (PQntuples(r) == 1) {
		snprintf(project_id, UUID_STR_LEN, "%s", db_val(r, 0, 0));
		PGresult *ra =
		    DBQ(db, err, errlen, HOLDS_ROLE_ON("$2, NULL, false"), user_id, project_id);
		rc = !ra ? -EIO : PQntuples(ra) > 0 ? 0 : -EACCES;
		PQclear(ra);
	}
	PQclear(r);
	return rc;
}

/* Resolves the scope domain by id or name; the user must hold a role on it. */
static int resolve_domain(PGconn *db, const struct auth_req *a, const char *user_id,
                          char domain_id[UUID_STR_LEN], char *err, size_t errlen)
{
	PGresult *r = DBQ(db, err, errlen,
	                  "SELECT id FROM domains WHERE enabled AND ($1::text IS NOT NULL"
	                  " AND id = $1 OR $1::text IS NULL AND name = $2)",
	                  a->sdomain.id, a->sdomain.name);
	if (!r)
		return -EIO;
	int rc = -EACCES;
	if (PQntuples(r) == 1) {
		snprintf(domain_id, UUID_STR_LEN, "%s", db_val(r, 0, 0));
		PGresult *ra =
		    DBQ(db, err, errlen, HOLDS_ROLE_ON("NULL, $2, false"), user_id, domain_id);
		rc = !ra ? -EIO : PQntuples(ra) > 0 ? 0 : -EACCES;
		PQclear(ra);
	}
	PQclear(r);
	return rc;
}

/* The user holds a role on the system. 0, -EACCES or -EIO. */
static int resolve_system(PGconn *db, const char *user_id, char *err, size_t errlen)
{
	PGresult *ra =
	    DBQ(db, err, errlen, HOLDS_ROLE_ON("NULL, NULL, $2::boolean"), user_id, "true");
	int rc = !ra ? -EIO : PQntuples(ra) > 0 ? 0 : -EACCES;
	PQclear(ra);
	return rc;
}

/* Answers a failed step of token creation: 503 for a full gate, the database's error,
 * or 401 with msg. */
static void auth_fail(struct req *r, struct resp *w, int rc, const char *err, const char *msg)
{
	if (rc == -EBUSY) {
		resp_error(r, w, 503, "Too many logins at once; retry later.");
		resp_header(w, "Retry-After", "1");
	} else if (rc == -EIO) {
		resp_db_error(r, w, err);
	} else {
		resp_error(r, w, 401, "%s", msg);
	}
}

#define AUTH_NEEDED "The request you have made requires authentication."

/* Who the request proves to be: fills t (user, methods, cap, application credential)
 * and, for an application credential, its project. 0 or the failure to answer. */
struct proof {
	char user_id[UUID_STR_LEN];
	char methods[64];
	char not_after[40];
	struct app_cred_hit ac;
	int app_cred_unrestricted_token; /* token method: the old token's app credential */
};

static int prove(struct req *r, const struct auth_req *a, struct proof *p, char *err, size_t errlen)
{
	struct api *api = r->ctx->api;
	int rc;
	memset(p, 0, sizeof(*p));
	if (a->password) {
		if ((rc = check_password(api, r->ctx->db, a, p->user_id, err, errlen)) < 0)
			return rc;
		snprintf(p->methods, sizeof(p->methods), "password");
		return 0;
	}
	if (a->app_cred) {
		if ((rc = check_app_cred(api, r->ctx->db, a, &p->ac, err, errlen)) < 0)
			return rc;
		snprintf(p->user_id, sizeof(p->user_id), "%s", p->ac.user_id);
		snprintf(p->methods, sizeof(p->methods), "application_credential");
		snprintf(p->not_after, sizeof(p->not_after), "%s", p->ac.expires_at);
		return 0;
	}
	/* token: the new token says "token" and keeps the methods that proved the old one
	 * (as Keystone does), and dies with it */
	struct auth old;
	char account[OBJTOKEN_ACCOUNT_MAX];
	if (objtoken_account(a->token_id, account, sizeof(account)) != 0) {
		/* a token limited to the object store makes no other token */
		snprintf(err, errlen, "a token limited to the object store");
		return -EACCES;
	}
	if ((rc = token_validate(r->ctx->db, api->tokens, a->token_id, &old, err, errlen)) < 0)
		return rc;
	snprintf(p->user_id, sizeof(p->user_id), "%s", old.user_id);
	if (!strncmp(old.methods, "token", 5) && (!old.methods[5] || old.methods[5] == ','))
		snprintf(p->methods, sizeof(p->methods), "%s", old.methods);
	else
		snprintf(p->methods, sizeof(p->methods), "token,%.*s",
		         (int)(sizeof(p->methods) - sizeof("token,")), old.methods);
	snprintf(p->not_after, sizeof(p->not_after), "%s", old.expires_at);
	if (old.app_cred_id[0]) {
		snprintf(p->ac.id, sizeof(p->ac.id), "%s", old.app_cred_id);
		snprintf(p->ac.project_id, sizeof(p->ac.project_id), "%s", old.project_id);
	}
	return 0;
}

static void tokens_create(struct req *r, struct resp *w)
{
	struct auth_req a;
	struct proof p;
	char err[256], project_id[UUID_STR_LEN] = "", domain_id[UUID_STR_LEN] = "";
	int rc;
	if (parse_auth(r->json, &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if ((rc = prove(r, &a, &p, err, sizeof(err))) < 0) {
		auth_fail(r, w, rc, err, AUTH_NEEDED);
		goto out;
	}
	if (p.ac.id[0]) {
		/* an application credential's tokens are scoped to its project, always: a
		 * scope naming that project (clients send one from their settings) is taken,
		 * any other (another project, a domain, "unscoped"), by either method, is
		 * refused as Keystone refuses a scoped credential, never silently replaced */
		rc = a.domain || a.system || a.unscoped ? -EACCES
		     : a.project
		         ? resolve_project(r->ctx->db, &a, p.user_id, project_id, err, sizeof(err))
		         : 0;
		if (rc == 0 && a.project && strcmp(project_id, p.ac.project_id))
			rc = -EACCES;
		if (rc < 0) {
			auth_fail(r, w, rc, err,
			          "An application credential's token is scoped to its own project "
			          "only.");
			goto out;
		}
		snprintf(project_id, sizeof(project_id), "%s", p.ac.project_id);
	} else if (a.project) {
		rc = resolve_project(r->ctx->db, &a, p.user_id, project_id, err, sizeof(err));
		if (rc < 0) {
			auth_fail(r, w, rc, err, "The user has no role on the requested project.");
			goto out;
		}
	} else if (a.domain) {
		rc = resolve_domain(r->ctx->db, &a, p.user_id, domain_id, err, sizeof(err));
		if (rc < 0) {
			auth_fail(r, w, rc, err, "The user has no role on the requested domain.");
			goto out;
		}
	} else if (a.system) {
		rc = resolve_system(r->ctx->db, p.user_id, err, sizeof(err));
		if (rc < 0) {
			auth_fail(r, w, rc, err, "The user has no role on the system.");
			goto out;
		}
	} else if (!a.unscoped && a.password) {
		/* No scope: the user's default project when it holds a role there. */
		PGresult *d = DBQ(r->ctx->db, err, sizeof err,
		                  "SELECT u.default_project_id FROM users u"
		                  " JOIN projects p ON p.id = u.default_project_id AND p.enabled"
		                  " JOIN domains d ON d.id = p.domain_id AND d.enabled"
		                  " WHERE u.id = $1 AND EXISTS (SELECT 1 FROM"
		                  " user_scope_grants($1, p.id, NULL, false))",
		                  p.user_id);
		if (d && PQntuples(d) == 1 && db_val(d, 0, 0))
			snprintf(project_id, sizeof(project_id), "%s", db_val(d, 0, 0));
		PQclear(d);
	}
	char token[TOKEN_STR_MAX];
	struct auth na;
	struct token_req t = {
	    p.user_id,       project_id[0] ? project_id : NULL, domain_id[0] ? domain_id : NULL,
	    p.methods,       p.ac.id[0] ? p.ac.id : NULL,       p.not_after[0] ? p.not_after : NULL,
	    a.system != NULL};
	if (token_issue(r->ctx->db, &t, r->ctx->api->token_ttl, token, &na) < 0) {
		resp_db_error(r, w, "token insert failed");
		goto out;
	}
	if (na.app_cred_id[0] && !na.role_list[0]) {
		/* the user no longer holds any of the credential's roles on its project */
		token_revoke(r->ctx->db, na.token_hash);
		resp_error(r, w, 401, AUTH_NEEDED);
		goto out;
	}
	json_t *body = auth_token_body(r->ctx->api, r->ctx->db, &na);
	if (!body) {
		resp_db_error(r, w, "catalog read failed");
		goto out;
	}
	resp_header(w, "X-Subject-Token", token);
	sodium_memzero(token, sizeof(token));
	resp_json(w, 201, body);
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
	json_t *body = auth_token_body(r->ctx->api, r->ctx->db, &s);
	if (!body) {
		resp_db_error(r, w, "catalog read failed");
		return;
	}
	resp_header(w, "X-Subject-Token", subject);
	resp_json(w, 200, body);
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

/* The projects or domains (kind) the caller holds a role on, directly or through a
 * group. */
static void auth_targets(struct req *r, struct resp *w, int domains)
{
	char err[256];
	PGresult *res =
	    domains ? DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT " KS_DOMAIN_COLS " FROM domains WHERE id IN (SELECT domain_id"
	                  " FROM role_assignments WHERE NOT inherited AND (user_id = $1 OR"
	                  " group_id IN (SELECT group_id FROM group_members WHERE user_id = $1)))"
	                  " ORDER BY name",
	                  r->ctx->auth.user_id)
	            : DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT " KS_PROJECT_COLS " FROM projects p WHERE EXISTS (SELECT 1"
	                  " FROM user_scope_grants($1, p.id, NULL, false)) ORDER BY name",
	                  r->ctx->auth.user_id);
	ks_list_answer(r, w, res, err, domains ? "domains" : "projects",
	               domains ? ks_domain_json : ks_project_json);
}

static void auth_projects(struct req *r, struct resp *w)
{
	auth_targets(r, w, 0);
}

static void auth_domains(struct req *r, struct resp *w)
{
	auth_targets(r, w, 1);
}

static void auth_catalog(struct req *r, struct resp *w)
{
	if (!r->ctx->auth.project_id[0] && !r->ctx->auth.domain_id[0]) {
		resp_error(r, w, 403, "catalog needs a scoped token");
		return;
	}
	json_t *cat = catalog_build(r->ctx->api, r->ctx->db, r->ctx->auth.project_id);
	if (!cat)
		resp_db_error(r, w, "catalog read failed");
	else
		resp_json(w, 200, json_pack("{s:o}", "catalog", cat));
}

static const struct httpd_route routes[] = {
    {"POST", "/identity/v3/auth/tokens", tokens_create, POL_PUBLIC, 0},
    {"GET", "/identity/v3/auth/tokens", tokens_show, POL_IDENTITY_TOKEN, ROUTE_SELF_TOKEN_OK},
    {"DELETE", "/identity/v3/auth/tokens", tokens_delete, POL_IDENTITY_TOKEN, 0},
    {"GET", "/identity/v3/auth/projects", auth_projects, POL_IDENTITY_TOKEN, 0},
    {"GET", "/identity/v3/auth/domains", auth_domains, POL_IDENTITY_TOKEN, 0},
    {"GET", "/identity/v3/auth/catalog", auth_catalog, POL_IDENTITY_TOKEN, 0},
};
HTTPD_TABLE(auth_routes, routes, &identity_hooks);

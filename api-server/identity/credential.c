/* Keystone v3 credentials (/v3/credentials: opaque blobs of a type for a user, an
 * admin's or their owner's) and the OS-EC2 extension's view of the ec2 ones
 * (/v3/users/{id}/credentials/OS-EC2: an access key and secret for a project). Blobs
 * are sealed at rest (common/cred_seal.h: the [identity] credential_key of nubo.conf,
 * the row's id as associated data) and opened only to answer their owner or an admin;
 * neither they nor the key are ever logged. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "cred_seal.h"
#include "identity/keystone.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

#define BLOB_MAX 65536
#define TYPE_MAX 255
#define CRED_COLS "id, user_id, coalesce(project_id, ''), type, blob"

/* The sealing key of nubo.conf. 0, or -EINVAL when it is absent or malformed. */
static int cred_key(const struct req *r, uint8_t key[CRED_KEY_BYTES])
{
	return cred_key_parse(conf_get(r->ctx->api->conf, "identity", "credential_key", NULL), key);
}

/* The plaintext of a stored blob of credential id (owned; wipe with blob_free): a row
 * from before migration 0015 that nubo-manage db-sync has not sealed yet is still
 * plain; a blob that does not open (another key) reads as "". */
static char *blob_open(const struct req *r, const char *id, const char *stored)
{
	uint8_t key[CRED_KEY_BYTES];
	char *plain = NULL;
	if (!cred_is_sealed(stored))
		return xstrdup(stored);
	if (cred_key(r, key) < 0 || cred_open(key, id, stored, &plain) < 0)
		plain = xstrdup("");
	sodium_memzero(key, sizeof key);
	return plain;
}

static void blob_free(char *plain)
{
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
}

/* Seals plain for credential id into *out (owned). 0, or answers 500 when nubo.conf
 * has no usable key (a secret is never stored in the clear). */
static int blob_seal(struct req *r, struct resp *w, const char *id, const char *plain, char **out)
{
	uint8_t key[CRED_KEY_BYTES];
	*out = NULL;
	if (cred_key(r, key) < 0) {
		resp_error(r, w, 500,
		           "credentials cannot be stored: nubo.conf has no valid"
		           " [identity] credential_key");
		return -EINVAL;
	}
	*out = cred_seal(key, id, plain);
	sodium_memzero(key, sizeof key);
	return 0;
}

static json_t *cred_json(const struct req *r, const PGresult *res, int i)
{
	char *blob = blob_open(r, db_val(res, i, 0), db_val(res, i, 4));
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", db_val(res, i, 0), "user_id",
	                      db_val(res, i, 1), "type", db_val(res, i, 3), "blob", blob, "links",
	                      ks_self_link(r, "credentials", db_val(res, i, 0)));
	blob_free(blob);
	json_object_set_new(o, "project_id",
	                    db_val(res, i, 2)[0] ? json_string(db_val(res, i, 2)) : json_null());
	return o;
}

/* The caller may act on the credentials of user_id: an admin, or that user. */
static int may(const struct req *r, const char *user_id)
{
	return policy_is_admin(&r->ctx->auth) || !strcmp(r->ctx->auth.user_id, user_id);
}

struct cred_in {
	char *user_id, *project_id, *type, *blob;
};

static const struct jfield f_cred[] = {
    {"user_id", J_STR, JF(struct cred_in, user_id), 0, 64, 0, 0},
    {"project_id", J_STR, JF(struct cred_in, project_id), 0, 64, 0, 1},
    {"type", J_STR, JF(struct cred_in, type), 0, TYPE_MAX, 0, 0},
    {"blob", J_STR, JF(struct cred_in, blob), 0, BLOB_MAX, 0, 0},
};

/* An ec2 blob must be JSON with an "access" string; its id is the access key's
 * SHA-256. 0 with id filled, or -EINVAL. */
static int ec2_id(const char *blob, char id[65])
{
	json_t *b = json_loads(blob, 0, NULL);
	const char *access = json_string_value(json_object_get(b, "access"));
	int rc = access && *access ? 0 : -EINVAL;
	if (rc == 0)
		sha256_hex(access, strlen(access), id);
	json_decref(b);
	return rc;
}

static void creds_list(struct req *r, struct resp *w)
{
	char err[256];
	const char *user = req_query(r, "user_id");
	if (!policy_is_admin(&r->ctx->auth))
		user = r->ctx->auth.user_id; /* a user sees its own */
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " CRED_COLS " FROM credentials WHERE ($1::text IS NULL"
	                    " OR user_id = $1) AND ($2::text IS NULL OR type = $2) ORDER BY id",
	                    user, req_query(r, "type"));
	ks_list_answer(r, w, res, err, "credentials", cred_json);
}

/* The credential r->params[0] when the caller may see it; else answers, NULL. */
static PGresult *cred_find(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " CRED_COLS " FROM credentials WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "credential", r->params[0]);
	if (res && !may(r, db_val(res, 0, 1))) {
		PQclear(res);
		ks_not_found(r, w, "credential", r->params[0]);
		return NULL;
	}
	return res;
}

static void creds_show(struct req *r, struct resp *w)
{
	PGresult *res = cred_find(r, w);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "credential", cred_json(r, res, 0)));
	PQclear(res);
}

/* Checks a credential body: an ec2 one needs a project and a blob with an access key
 * (its id is then derived); others get a new UUID. 0, or answers 400. */
static int cred_check(struct req *r, struct resp *w, const struct cred_in *in, char id[65])
{
	if (in->type && !strcmp(in->type, "ec2")) {
		if (!in->project_id) {
			resp_error(r, w, 400, "project_id: an ec2 credential needs a project");
			return -EINVAL;
		}
		if (!in->blob || ec2_id(in->blob, id) < 0) {
			resp_error(r, w, 400,
			           "blob: an ec2 credential's blob is JSON with an access");
			return -EINVAL;
		}
		return 0;
	}
	uuid_generate_str(id);
	return 0;
}

static void creds_write_error(struct req *r, struct resp *w, const char *state, const char *err,
                              PGresult *res, int status)
{
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		resp_error(r, w, 400, "user_id, project_id: no such user or project");
	else if (!res && !strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409,
		           "Conflict occurred attempting to store credential - "
		           "Duplicate ID.");
	else
		ks_write_answer(r, w, res, status, state, err, "credential", NULL, cred_json);
}

static void creds_create(struct req *r, struct resp *w)
{
	struct cred_in in = {0};
	char err[256], state[6] = "", id[65], *sealed = NULL;
	if (wire_parse_wrapped(r, w, "credential", f_cred, JCOUNT(f_cred), &in) < 0)
		return;
	if (!may(r, in.user_id)) {
		ks_forbidden(r, w);
		goto out;
	}
	if (cred_check(r, w, &in, id) < 0 || blob_seal(r, w, id, in.blob, &sealed) < 0)
		goto out;
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO credentials (id, user_id, project_id, type, blob)"
	             " VALUES ($1, $2, $3, $4, $5) RETURNING " CRED_COLS,
	             5, (const char *const[]){id, in.user_id, in.project_id, in.type, sealed}, err,
	             sizeof(err), state);
	creds_write_error(r, w, state, err, res, 201);
out:
	free(sealed);
	jparse_release(f_cred, JCOUNT(f_cred), &in);
}

static void creds_update(struct req *r, struct resp *w)
{
	struct cred_in in = {0};
	char err[256], state[6] = "", *sealed = NULL;
	static const struct jfield f_upd[] = {
	    {"user_id", J_STR, JF(struct cred_in, user_id), 0, 64, 0, 1},
	    {"project_id", J_STR, JF(struct cred_in, project_id), 0, 64, 0, 1},
	    {"type", J_STR, JF(struct cred_in, type), 0, TYPE_MAX, 0, 1},
	    {"blob", J_STR, JF(struct cred_in, blob), 0, BLOB_MAX, 0, 1},
	};
	PGresult *old = cred_find(r, w);
	if (!old)
		return;
	PQclear(old);
	if (wire_parse_wrapped(r, w, "credential", f_upd, JCOUNT(f_upd), &in) < 0)
		return;
	if (in.user_id && !may(r, in.user_id)) {
		ks_forbidden(r, w);
		goto out;
	}
	if (in.blob && blob_seal(r, w, r->params[0], in.blob, &sealed) < 0)
		goto out;
	PGresult *res = db_query(
	    r->ctx->db,
	    "UPDATE credentials SET user_id = coalesce($2, user_id),"
	    " project_id = coalesce($3, project_id), type = coalesce($4, type),"
	    " blob = coalesce($5, blob) WHERE id = $1 RETURNING " CRED_COLS,
	    5, (const char *const[]){r->params[0], in.user_id, in.project_id, in.type, sealed}, err,
	    sizeof(err), state);
	creds_write_error(r, w, state, err, res, 200);
out:
	free(sealed);
	jparse_release(f_upd, JCOUNT(f_upd), &in);
}

static void creds_delete(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *old = cred_find(r, w);
	if (!old)
		return;
	PQclear(old);
	int n =
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM credentials WHERE id = $1", r->params[0]);
	wire_answer_rows(r, w, n, err, 204, "Could not find credential: %s.", r->params[0]);
}

/* ---- OS-EC2 ---- */

/* Row of CRED_COLS of an ec2 credential as the extension shows it. */
static json_t *ec2_json(const struct req *r, const PGresult *res, int i)
{
	char *blob = blob_open(r, db_val(res, i, 0), db_val(res, i, 4));
	json_t *b = json_loads(blob, 0, NULL);
	blob_free(blob);
	const char *access = json_string_value(json_object_get(b, "access"));
	const char *secret = json_string_value(json_object_get(b, "secret"));
	char *href = xasprintf("%s/identity/v3/users/%s/credentials/OS-EC2/%s",
	                       r->ctx->api->public_url, db_val(res, i, 1), access ? access : "");
	json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:n,s:{s:s}}", "user_id", db_val(res, i, 1),
	                      "tenant_id", db_val(res, i, 2), "access", access ? access : "",
	                      "secret", secret ? secret : "", "trust_id", "links", "self", href);
	free(href);
	if (secret)
		sodium_memzero((char *)secret, strlen(secret));
	json_decref(b);
	return o;
}

static int ec2_allowed(struct req *r, struct resp *w)
{
	if (may(r, r->params[0]))
		return 0;
	ks_forbidden(r, w);
	return -1;
}

static void ec2_create(struct req *r, struct resp *w)
{
	struct {
		char *tenant_id;
	} in = {0};
	static const struct jfield f[] = {{"tenant_id", J_STR, 0, 0, 64, 1, 0}};
	char err[256], state[6] = "", access[48], secret[48], id[65];
	if (ec2_allowed(r, w) < 0)
		return;
	if (!r->json || jparse(r->json, f, 1, &in, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", r->json ? err : "tenant_id: is required");
		return;
	}
	/* hex, as Keystone's (uuid4 hex) and as S3/EC2 clients expect of a key */
	unsigned char raw[16];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(access, sizeof(access), raw, sizeof(raw));
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(secret, sizeof(secret), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	json_t *blob = json_pack("{s:s,s:s,s:n}", "access", access, "secret", secret, "trust_id");
	char *text = json_dumps(blob, JSON_COMPACT), *sealed = NULL;
	json_decref(blob);
	sha256_hex(access, strlen(access), id);
	if (blob_seal(r, w, id, text, &sealed) < 0)
		goto out;
	PGresult *res =
	    db_query(r->ctx->db,
	             "INSERT INTO credentials (id, user_id, project_id, type, blob)"
	             " SELECT $1, $2, $3, 'ec2', $4 WHERE EXISTS (SELECT 1 FROM role_assignments"
	             " WHERE project_id = $3 AND (user_id = $2 OR group_id IN (SELECT group_id FROM"
	             " group_members WHERE user_id = $2)))"
	             " RETURNING " CRED_COLS,
	             4, (const char *const[]){id, r->params[0], in.tenant_id, sealed}, err,
	             sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		resp_error(r, w, 404, "Could not find user or project.");
	else if (res && PQntuples(res) == 0)
		resp_error(r, w, 401, "The user has no role on project %s.", in.tenant_id);
	else if (!res)
		resp_db_error(r, w, err);
	else
		resp_json(w, 201, json_pack("{s:o}", "credential", ec2_json(r, res, 0)));
	PQclear(res);
out:
	free(sealed);
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(text, strlen(text));
	free(text);
	jparse_release(f, 1, &in);
}

static void ec2_list(struct req *r, struct resp *w)
{
	char err[256];
	if (ec2_allowed(r, w) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " CRED_COLS " FROM credentials WHERE user_id = $1"
	                    " AND type = 'ec2' ORDER BY created_at",
	                    r->params[0]);
	ks_list_answer(r, w, res, err, "credentials", ec2_json);
}

/* $1 user, $2 access key: the credential's id is the key's SHA-256. */
static void ec2_show(struct req *r, struct resp *w)
{
	char err[256], id[65];
	if (ec2_allowed(r, w) < 0)
		return;
	sha256_hex(r->params[1], strlen(r->params[1]), id);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " CRED_COLS " FROM credentials WHERE user_id = $1 AND id = $2"
	                    " AND type = 'ec2'",
	                    r->params[0], id);
	res = ks_row_found(r, w, res, err, "credential", r->params[1]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "credential", ec2_json(r, res, 0)));
	PQclear(res);
}

static void ec2_delete(struct req *r, struct resp *w)
{
	char err[256], id[65];
	if (ec2_allowed(r, w) < 0)
		return;
	sha256_hex(r->params[1], strlen(r->params[1]), id);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM credentials WHERE user_id = $1 AND id = $2 AND type = 'ec2'",
	            r->params[0], id);
	wire_answer_rows(r, w, n, err, 204, "Could not find credential: %s.", r->params[1]);
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/credentials", creds_list, POL_IDENTITY_TOKEN, 0},
    {"POST", V3 "/credentials", creds_create, POL_IDENTITY_TOKEN, 0},
    {"GET", V3 "/credentials/{}", creds_show, POL_IDENTITY_TOKEN, 0},
    {"PATCH", V3 "/credentials/{}", creds_update, POL_IDENTITY_TOKEN, 0},
    {"DELETE", V3 "/credentials/{}", creds_delete, POL_IDENTITY_TOKEN, 0},
    {"GET", V3 "/users/{}/credentials/OS-EC2", ec2_list, POL_IDENTITY_TOKEN, 0},
    {"POST", V3 "/users/{}/credentials/OS-EC2", ec2_create, POL_IDENTITY_TOKEN, 0},
    {"GET", V3 "/users/{}/credentials/OS-EC2/{}", ec2_show, POL_IDENTITY_TOKEN, 0},
    {"DELETE", V3 "/users/{}/credentials/OS-EC2/{}", ec2_delete, POL_IDENTITY_TOKEN, 0},
};
HTTPD_TABLE(credential_routes, routes, &identity_hooks);

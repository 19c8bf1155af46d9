/* Keystone's OS-OAUTH1 consumers (/v3/OS-OAUTH1/consumers): create, list, show, update
 * (description) and delete. A consumer's secret is random, answered once by the create
 * and stored only as its argon2id hash. The rest of OAuth1 (request and access tokens,
 * the oauth1 auth method) is not offered: the identity extension list does not name
 * OS-OAUTH1, so Tempest runs only the consumer tests. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "identity/keystone.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define CONSUMER_COLS "id, description, extra::text"
#define SECRET_BYTES 32

static json_t *consumer_json(const struct req *r, const PGresult *res, int i)
{
	char *href = xasprintf("%s/identity/v3/OS-OAUTH1/consumers/%s", r->ctx->api->public_url,
	                       db_val(res, i, 0));
	json_t *o = json_pack("{s:s,s:{s:s}}", "id", db_val(res, i, 0), "links", "self", href);
	free(href);
	const char *d = db_val(res, i, 1);
	json_object_set_new(o, "description", d ? json_string(d) : json_null());
	ks_extra_merge(o, db_val(res, i, 2));
	return o;
}

struct consumer_in {
	char *description;
	char *extra;
};

static const char *const consumer_known[] = {"id", "description", "secret", "links", NULL};

static int consumer_parse(struct req *r, struct resp *w, struct consumer_in *in)
{
	const struct jfield f[] = {
	    {"description", J_STR, JF(struct consumer_in, description), 0, KS_DESCRIPTION_MAX, 0,
	     1},
	};
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "consumer", f, JCOUNT(f), in) < 0)
		return -EINVAL;
	json_t *inner = ks_inner(r, "consumer");
	if (json_object_get(inner, "secret") || json_object_get(inner, "id")) {
		resp_error(r, w, 400, "consumer: secret and id cannot be set");
		free(in->description);
		return -EINVAL;
	}
	in->extra = ks_extra(inner, consumer_known);
	return 0;
}

static void consumer_release(struct consumer_in *in)
{
	free(in->description);
	free(in->extra);
}

static void consumers_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " CONSUMER_COLS " FROM oauth_consumers WHERE $1 ORDER BY created_at, id",
	        "true");
	ks_list_answer(r, w, res, err, "consumers", consumer_json);
}

static void consumers_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " CONSUMER_COLS " FROM oauth_consumers WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "consumer", r->params[0]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "consumer", consumer_json(r, res, 0)));
	PQclear(res);
}

static void consumers_create(struct req *r, struct resp *w)
{
	struct consumer_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	unsigned char raw[SECRET_BYTES];
	char secret[sodium_base64_ENCODED_LEN(SECRET_BYTES,
	                                      sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char hash[crypto_pwhash_STRBYTES];
	if (consumer_parse(r, w, &in) < 0)
		return;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(secret, sizeof(secret), raw, sizeof(raw),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
	/* interactive limits: a consumer secret is checked rarely, and is 256 random bits */
	if (crypto_pwhash_str(hash, secret, strlen(secret), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		resp_error(r, w, 500, "secret hashing failed");
		goto out;
	}
	uuid_generate_str(id);
	PGresult *res = db_query(r->ctx->db,
	                         "INSERT INTO oauth_consumers (id, description, secret_hash, extra)"
	                         " VALUES ($1, $2, $3, $4::jsonb) RETURNING " CONSUMER_COLS,
	                         4, (const char *const[]){id, in.description, hash, in.extra}, err,
	                         sizeof(err), state);
	if (!res || PQntuples(res) != 1) {
		ks_write_answer(r, w, res, 201, state, err, "consumer", id, consumer_json);
		goto out;
	}
	json_t *c = consumer_json(r, res, 0);
	json_object_set_new(c, "secret", json_string(secret));
	resp_json(w, 201, json_pack("{s:o}", "consumer", c));
	PQclear(res);
out:
	sodium_memzero(secret, sizeof(secret));
	consumer_release(&in);
}

static void consumers_update(struct req *r, struct resp *w)
{
	struct consumer_in in;
	char err[256], state[6] = "";
	if (consumer_parse(r, w, &in) < 0)
		return;
	PGresult *res =
	    db_query(r->ctx->db,
	             "UPDATE oauth_consumers SET description = coalesce($2, description),"
	             " extra = extra || $3::jsonb WHERE id = $1 RETURNING " CONSUMER_COLS,
	             3, (const char *const[]){r->params[0], in.description, in.extra}, err,
	             sizeof(err), state);
	ks_write_answer(r, w, res, 200, state, err, "consumer", r->params[0], consumer_json);
	consumer_release(&in);
}

static void consumers_delete(struct req *r, struct resp *w)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM oauth_consumers WHERE id = $1",
	            r->params[0]);
	wire_answer_rows(r, w, n, err, 204, "Could not find consumer: %s.", r->params[0]);
}

#define OA "/identity/v3/OS-OAUTH1"
static const struct httpd_route routes[] = {
    {"GET", OA "/consumers", consumers_list, POL_IDENTITY_SYSTEM_READ, 0},
    {"POST", OA "/consumers", consumers_create, POL_IDENTITY_ADMIN, 0},
    {"GET", OA "/consumers/{}", consumers_show, POL_IDENTITY_SYSTEM_READ, 0},
    {"PATCH", OA "/consumers/{}", consumers_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", OA "/consumers/{}", consumers_delete, POL_IDENTITY_ADMIN, 0},
};
HTTPD_TABLE(oauth_consumer_routes, routes, &identity_hooks);

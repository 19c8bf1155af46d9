/* Keystone v3 policies (/v3/policies): an admin's store of policy blobs with a media
 * type, kept and returned as given. Keystone deprecates it and enforces none of
 * them; neither does nubo-api (its rules are api-server/policy.c). */
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

#define BLOB_MAX 65536
#define TYPE_MAX 255
#define POLICY_COLS "id, type, blob, extra::text"

static json_t *policy_json(const struct req *r, const PGresult *res, int i)
{
	json_t *o = json_pack("{s:s,s:s,s:s,s:o}", "id", db_val(res, i, 0), "type",
	                      db_val(res, i, 1), "blob", db_val(res, i, 2), "links",
	                      ks_self_link(r, "policies", db_val(res, i, 0)));
	ks_extra_merge(o, db_val(res, i, 3));
	return o;
}

struct policy_in {
	char *type, *blob;
	char *extra;
};

static const char *const policy_known[] = {"id", "type", "blob", "links", NULL};

static int policy_parse(struct req *r, struct resp *w, struct policy_in *in, int create)
{
	const struct jfield f[] = {
	    {"type", J_STR, JF(struct policy_in, type), 0, TYPE_MAX, create, 0},
	    {"blob", J_STR, JF(struct policy_in, blob), 0, BLOB_MAX, create, 0},
	};
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "policy", f, JCOUNT(f), in) < 0)
		return -EINVAL;
	in->extra = ks_extra(ks_inner(r, "policy"), policy_known);
	return 0;
}

static void policy_release(struct policy_in *in)
{
	free(in->type);
	free(in->blob);
	free(in->extra);
}

static void policies_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " POLICY_COLS " FROM policies WHERE ($1::text IS NULL"
	                    " OR type = $1) ORDER BY id",
	                    req_query(r, "type"));
	ks_list_answer(r, w, res, err, "policies", policy_json);
}

static void policies_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " POLICY_COLS " FROM policies WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "policy", r->params[0]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "policy", policy_json(r, res, 0)));
	PQclear(res);
}

static void policies_create(struct req *r, struct resp *w)
{
	struct policy_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (policy_parse(r, w, &in, 1) < 0)
		return;
	uuid_generate_str(id);
	PGresult *res = db_query(r->ctx->db,
	                         "INSERT INTO policies (id, type, blob, extra)"
	                         " VALUES ($1, $2, $3, $4::jsonb) RETURNING " POLICY_COLS,
	                         4, (const char *const[]){id, in.type, in.blob, in.extra}, err,
	                         sizeof(err), state);
	ks_write_answer(r, w, res, 201, state, err, "policy", id, policy_json);
	policy_release(&in);
}

static void policies_update(struct req *r, struct resp *w)
{
	struct policy_in in;
	char err[256], state[6] = "";
	if (policy_parse(r, w, &in, 0) < 0)
		return;
	PGresult *res = db_query(r->ctx->db,
	                         "UPDATE policies SET type = coalesce($2, type),"
	                         " blob = coalesce($3, blob), extra = extra || $4::jsonb"
	                         " WHERE id = $1 RETURNING " POLICY_COLS,
	                         4, (const char *const[]){r->params[0], in.type, in.blob, in.extra},
	                         err, sizeof(err), state);
	ks_write_answer(r, w, res, 200, state, err, "policy", r->params[0], policy_json);
	policy_release(&in);
}

static void policies_delete(struct req *r, struct resp *w)
{
	char err[256];
	int n =
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM policies WHERE id = $1", r->params[0]);
	wire_answer_rows(r, w, n, err, 204, "Could not find policy: %s.", r->params[0]);
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/policies", policies_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/policies", policies_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/policies/{}", policies_show, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/policies/{}", policies_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/policies/{}", policies_delete, POL_IDENTITY_ADMIN, 0},
};
HTTPD_TABLE(policy_store_routes, routes, &identity_hooks);

/* Keystone v3 groups and their members. A group's role grants (identity.c) reach
 * every member: tokens carry them as effective roles, and adding or removing a member
 * appends a revocation event for that user (migration 5), so the token cache drops
 * what the user's tokens said at once. */
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

#define GROUP_NAME_MAX 64
#define GROUP_COLS "id, name, domain_id, description"
/* KS_USER_COLS of users u */
#define MEMBER_COLS                                                                                \
	"u.id, u.name, u.enabled, u.default_project_id, u.email, u.domain_id, u.extra::text"

/* Whether the user of X (a token t) holds a role on X's project, domain or the system,
 * directly, through a group or inherited (the membership or group just deleted no
 * longer counts). */
#define HOLDS_ROLE_ON_SCOPE_OF(x)                                                                  \
	"EXISTS (SELECT 1 FROM user_scope_grants(" x ".user_id, " x ".project_id, " x              \
	".domain_id, " x ".system))"
/* What the users of $1 (a text[]) lost with a group membership or a group: their
 * project- and domain-scoped tokens left with no role there are revoked, their
 * application credentials on a project where they hold no role any more deleted
 * (their tokens with them), as when a grant goes (identity.c grant_orphans). The
 * trigger's revocation events drop the users' cached tokens. */
static const char *const members_orphans[] = {
    "UPDATE tokens t SET revoked = true WHERE t.user_id = ANY($1::text[]) AND NOT t.revoked"
    " AND (t.project_id IS NOT NULL OR t.domain_id IS NOT NULL OR t.system)"
    " AND NOT " HOLDS_ROLE_ON_SCOPE_OF("t"),
    "DELETE FROM application_credentials ac WHERE ac.user_id = ANY($1::text[])"
    " AND NOT EXISTS (SELECT 1 FROM user_scope_grants(ac.user_id, ac.project_id, NULL,"
    " false))",
};

/* Runs members_orphans for users (a PostgreSQL text[] literal) and commits the open
 * transaction. 0, or -EIO after answering. */
static int members_orphans_clean(struct req *r, struct resp *w, const char *users)
{
	char err[256];
	for (size_t i = 0; i < sizeof(members_orphans) / sizeof(members_orphans[0]); i++)
		if (DBX(r->ctx->db, err, sizeof err, members_orphans[i], users) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return -EIO;
	}
	return 0;
}

static json_t *group_json(const struct req *r, const PGresult *res, int i)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:o}", "id", db_val(res, i, 0), "name",
	                 db_val(res, i, 1), "domain_id", db_val(res, i, 2), "description",
	                 db_val(res, i, 3), "links", ks_self_link(r, "groups", db_val(res, i, 0)));
}

struct group_in {
	char *name, *description, *domain_id;
};

static const struct jfield f_group[] = {
    {"name", J_STR, JF(struct group_in, name), 0, GROUP_NAME_MAX, 0, 0},
    {"description", J_STR, JF(struct group_in, description), 0, KS_DESCRIPTION_MAX, 0, 1},
    {"domain_id", J_STR, JF(struct group_in, domain_id), 0, 64, 0, 1},
};

static int group_parse(struct req *r, struct resp *w, struct group_in *in, int create)
{
	memset(in, 0, sizeof(*in));
	if (wire_parse_wrapped(r, w, "group", f_group, JCOUNT(f_group), in) < 0)
		return -EINVAL;
	if (ks_name_check(r, w, in->name, create, GROUP_NAME_MAX) == 0) {
		if (create || !in->domain_id)
			return 0;
		resp_error(r, w, 400, "domain_id: a group cannot move to another domain");
	}
	jparse_release(f_group, JCOUNT(f_group), in);
	return -EINVAL;
}

static void groups_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " GROUP_COLS " FROM groups WHERE ($1::text IS NULL OR name = $1)"
	        " AND ($2::text IS NULL OR domain_id = $2) ORDER BY name",
	        req_query(r, "name"), req_query(r, "domain_id"));
	ks_list_answer(r, w, res, err, "groups", group_json);
}

static void groups_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " GROUP_COLS " FROM groups WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "group", r->params[0]);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "group", group_json(r, res, 0)));
	PQclear(res);
}

static void groups_create(struct req *r, struct resp *w)
{
	struct group_in in;
	char err[256], state[6] = "", id[UUID_STR_LEN];
	if (group_parse(r, w, &in, 1) < 0)
		return;
	uuid_generate_str(id);
	const char *domain = in.domain_id ? in.domain_id : KS_DEFAULT_DOMAIN;
	PGresult *res = db_query(r->ctx->db,
	                         "INSERT INTO groups (id, name, domain_id, description)"
	                         " VALUES ($1, $2, $3, coalesce($4, '')) RETURNING " GROUP_COLS,
	                         4, (const char *const[]){id, in.name, domain, in.description}, err,
	                         sizeof(err), state);
	if (!res && !strcmp(state, SQLSTATE_FOREIGN_KEY))
		ks_not_found(r, w, "domain", domain);
	else
		ks_write_answer(r, w, res, 201, state, err, "group", in.name, group_json);
	jparse_release(f_group, JCOUNT(f_group), &in);
}

static void groups_update(struct req *r, struct resp *w)
{
	struct group_in in;
	char err[256], state[6] = "";
	if (group_parse(r, w, &in, 0) < 0)
		return;
	PGresult *res = db_query(r->ctx->db,
	                         "UPDATE groups SET name = coalesce($2, name),"
	                         " description = coalesce($3, description) WHERE id = $1"
	                         " RETURNING " GROUP_COLS,
	                         3, (const char *const[]){r->params[0], in.name, in.description},
	                         err, sizeof(err), state);
	ks_write_answer(r, w, res, 200, state, err, "group", in.name, group_json);
	jparse_release(f_group, JCOUNT(f_group), &in);
}

static void groups_delete(struct req *r, struct resp *w)
{
	char err[256];
	/* members and grants go with it (their triggers' events drop the members' cached
	 * tokens); what the members thereby lost is cleaned as when one leaves */
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT coalesce(array_agg(user_id), '{}')::text FROM group_members"
	                    " WHERE group_id = $1",
	                    r->params[0]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM groups WHERE id = $1", r->params[0]);
	if (n <= 0)
		wire_answer_rows(r, w, n, err, 204, "Could not find group: %s.", r->params[0]);
	else if (members_orphans_clean(r, w, db_val(res, 0, 0)) == 0)
		resp_empty(w, 204);
	PQclear(res);
}

/* 0 when group params[0] and user params[1] both exist; else answers 404 naming the
 * missing one (or 500) and returns -1. */
static int member_targets(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1),"
	                    " EXISTS (SELECT 1 FROM users WHERE id = $2)",
	                    r->params[0], r->params[1]);
	if (!res) {
		resp_db_error(r, w, err);
		return -1;
	}
	int rc = -1;
	if (db_val(res, 0, 0)[0] != 't')
		ks_not_found(r, w, "group", r->params[0]);
	else if (db_val(res, 0, 1)[0] != 't')
		ks_not_found(r, w, "user", r->params[1]);
	else
		rc = 0;
	PQclear(res);
	return rc;
}

static void members_list(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT 1 FROM groups WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "group", r->params[0]);
	if (!res)
		return;
	PQclear(res);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " MEMBER_COLS " FROM users u JOIN group_members m ON m.user_id = u.id"
	          " WHERE m.group_id = $1 ORDER BY u.name",
	          r->params[0]);
	ks_list_answer(r, w, res, err, "users", ks_user_json);
}

static void member_put(struct req *r, struct resp *w)
{
	char err[256];
	if (member_targets(r, w) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2)"
	        " ON CONFLICT DO NOTHING",
	        r->params[0], r->params[1]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

static void member_check(struct req *r, struct resp *w)
{
	char err[256];
	if (member_targets(r, w) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM group_members WHERE group_id = $1 AND user_id = $2",
	            r->params[0], r->params[1]);
	wire_answer_rows(r, w, n, err, 204, "User %s is not a member of group %s.", r->params[1],
	                 r->params[0]);
}

static void member_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (member_targets(r, w) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2", r->params[0],
	            r->params[1]);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 204, "User %s is not a member of group %s.",
		                 r->params[1], r->params[0]);
		return;
	}
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT ARRAY[$1::text]::text", r->params[1]);
	if (!res)
		resp_db_error(r, w, err);
	else if (members_orphans_clean(r, w, db_val(res, 0, 0)) == 0)
		resp_empty(w, 204);
	PQclear(res);
}

static void user_groups(struct req *r, struct resp *w)
{
	char err[256];
	if (!policy_is_admin(&r->ctx->auth) && strcmp(r->ctx->auth.user_id, r->params[0])) {
		ks_forbidden(r, w);
		return;
	}
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT 1 FROM users WHERE id = $1", r->params[0]);
	res = ks_row_found(r, w, res, err, "user", r->params[0]);
	if (!res)
		return;
	PQclear(res);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " GROUP_COLS " FROM groups WHERE id IN (SELECT group_id FROM"
	          " group_members WHERE user_id = $1) ORDER BY name",
	          r->params[0]);
	ks_list_answer(r, w, res, err, "groups", group_json);
}

#define V3 "/identity/v3"
static const struct httpd_route routes[] = {
    {"GET", V3 "/groups", groups_list, POL_IDENTITY_ADMIN, 0},
    {"POST", V3 "/groups", groups_create, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/groups/{}", groups_show, POL_IDENTITY_ADMIN, 0},
    {"PATCH", V3 "/groups/{}", groups_update, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/groups/{}", groups_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/groups/{}/users", members_list, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/groups/{}/users/{}", member_check, POL_IDENTITY_ADMIN, 0},
    {"PUT", V3 "/groups/{}/users/{}", member_put, POL_IDENTITY_ADMIN, 0},
    {"DELETE", V3 "/groups/{}/users/{}", member_delete, POL_IDENTITY_ADMIN, 0},
    {"GET", V3 "/users/{}/groups", user_groups, POL_IDENTITY_READ_SELF, 0},
};
HTTPD_TABLE(group_routes, routes, &identity_hooks);

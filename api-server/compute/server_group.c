/* /compute/v2.1/os-server-groups: Nova's server groups. A group has one policy
 * (affinity, anti-affinity, and from 2.15 soft-affinity and soft-anti-affinity) and,
 * from 2.64, rules (max_server_per_host, anti-affinity only). Views per microversion:
 * 2.1 {id, name, policies, members, metadata}; 2.13 adds project_id and user_id; 2.64
 * shows policy and rules instead of policies and metadata. Servers join at create with
 * the scheduler hint "group" and leave when deleted (a trigger of migration 0010). */
#include "compute/server_group.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "jparse.h"
#include "log.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define GROUP_NAME_MAX 255
#define GROUP_LIST_MAX 1000
#define GROUP_QUOTA_DEFAULT 10 /* Nova's server_groups and server_group_members */

/* The policies and the microversion each appeared in. */
static const struct {
	const char *name;
	int since;
} policies[] = {
    {"affinity", 1},
    {"anti-affinity", 1},
    {"soft-affinity", 15},
    {"soft-anti-affinity", 15},
};

static int policy_known(const char *p, int mv)
{
	for (size_t i = 0; p && i < JCOUNT(policies); i++)
		if (!strcmp(policies[i].name, p))
			return mv >= policies[i].since;
	return 0;
}

struct group_req {
	char *name, *policy;
	json_t *policies, *rules;
	long max_per_host; /* 0: none given */
};

static const struct jfield f_group[] = {
    {"name", J_STR, JF(struct group_req, name), 0, GROUP_NAME_MAX, 1, 0},
};
static const struct jfield f_group_264[] = {
    {"name", J_STR, JF(struct group_req, name), 0, GROUP_NAME_MAX, 1, 0},
    {"policy", J_STR, JF(struct group_req, policy), 0, 32, 1, 0},
};
static const struct jfield f_rules[] = {
    {"max_server_per_host", J_INT, JF(struct group_req, max_per_host), 1, 1L << 30, 0, 0},
};

/* The create body at 2.mv, per Nova's two schemas. 0, or -EINVAL with err. */
static int group_parse(const json_t *body, int mv, struct group_req *g, char *err, size_t errlen)
{
	char why[256];
	int new_shape = mv >= 64;
	const struct jfield *f = new_shape ? f_group_264 : f_group;
	size_t nf = new_shape ? JCOUNT(f_group_264) : JCOUNT(f_group);
	static const char *const also_old[] = {"policies", NULL};
	static const char *const also_new[] = {"rules", NULL};
	json_t *in = wire_unwrap(body, "server_group", f, nf, g, why, sizeof(why));
	if (!in) {
		snprintf(err, errlen, "Invalid input for field/attribute server_group. %s", why);
		return -EINVAL;
	}
	if (jparse_known(in, f, nf, new_shape ? also_new : also_old, why, sizeof(why)) < 0 ||
	    jparse_known(body, NULL, 0, (const char *const[]){"server_group", NULL}, why,
	                 sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute server_group. %s", why);
		return -EINVAL;
	}
	if (!server_name_valid(g->name)) {
		snprintf(err, errlen, "Invalid input for field/attribute name.");
		return -EINVAL;
	}
	if (!new_shape) {
		const json_t *p = json_object_get(in, "policies");
		if (!p) {
			snprintf(err, errlen,
			         "Invalid input for field/attribute server_group. "
			         "'policies' is a required property");
			return -EINVAL;
		}
		/* exactly one known policy */
		if (!json_is_array(p) || json_array_size(p) != 1 ||
		    !json_is_string(json_array_get(p, 0)) ||
		    !policy_known(json_string_value(json_array_get(p, 0)), mv)) {
			snprintf(err, errlen, "Invalid input for field/attribute policies.");
			return -EINVAL;
		}
		g->policy = xstrdup(json_string_value(json_array_get(p, 0)));
		return 0;
	}
	if (!policy_known(g->policy, mv)) {
		snprintf(err, errlen, "Invalid input for field/attribute policy. Value: %.32s.",
		         g->policy);
		return -EINVAL;
	}
	const json_t *rules = json_object_get(in, "rules");
	if (!rules)
		return 0;
	if (!json_is_object(rules) ||
	    jparse_known(rules, f_rules, JCOUNT(f_rules), NULL, why, sizeof(why)) < 0 ||
	    jparse(rules, f_rules, JCOUNT(f_rules), g, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute rules.");
		return -EINVAL;
	}
	if (json_object_size(rules) && strcmp(g->policy, "anti-affinity")) {
		snprintf(err, errlen, "Only anti-affinity policy supports rules.");
		return -EINVAL;
	}
	return 0;
}

static void group_req_release(struct group_req *g)
{
	free(g->name);
	free(g->policy);
	g->name = g->policy = NULL;
}

#define GROUP_COLUMNS                                                                              \
	"g.id, g.name, g.policy, g.max_server_per_host, g.project_id, g.user_id,"                  \
	" coalesce((SELECT json_agg(m.instance_id ORDER BY m.created_at, m.instance_id)::text"     \
	" FROM server_group_members m WHERE m.group_id = g.id), '[]')"

/* Nova's view of row i of res at 2.mv. */
static json_t *group_view(const PGresult *res, int i, int mv)
{
	json_t *members = json_loads(db_val(res, i, 6), 0, NULL);
	json_t *v = json_pack("{s:s,s:s,s:o}", "id", db_val(res, i, 0), "name", db_val(res, i, 1),
	                      "members", members ? members : json_array());
	if (mv >= 64) {
		json_object_set_new(v, "policy", json_string(db_val(res, i, 2)));
		json_t *rules = json_object();
		if (db_val(res, i, 3))
			json_object_set_new(rules, "max_server_per_host",
			                    json_integer(db_long(res, i, 3, 1)));
		json_object_set_new(v, "rules", rules);
	} else {
		json_object_set_new(v, "policies", json_pack("[s]", db_val(res, i, 2)));
		json_object_set_new(v, "metadata", json_object());
	}
	if (mv >= 13) {
		json_object_set_new(v, "project_id", json_string(db_val(res, i, 4)));
		json_object_set_new(v, "user_id", json_string(db_val(res, i, 5)));
	}
	return v;
}

/* The limit of resource for project: the project's row, else the default class's,
 * else Nova's default. -1 is unlimited; -EIO on error. */
static long group_quota(PGconn *db, const char *project_id, const char *resource)
{
	char err[256];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT coalesce((SELECT hard_limit FROM quotas WHERE project_id = $1"
	                  " AND resource = $2), (SELECT hard_limit FROM quota_classes WHERE"
	                  " class_name = 'default' AND resource = $2), $3::bigint)",
	                  project_id, resource, "10");
	if (!q)
		return -EIO;
	long v = db_long(q, 0, 0, GROUP_QUOTA_DEFAULT);
	PQclear(q);
	return v;
}

static void group_create(struct req *r, struct resp *w)
{
	struct group_req g = {0};
	char err[512], id[UUID_STR_LEN], per[24];
	PGresult *res = NULL;
	int began = 0, mv = r->ctx->mv_minor;
	if (group_parse(r->json, mv, &g, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	const char *project = r->ctx->auth.project_id;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	/* the project row lock serialises the project's quota-consuming writes */
	if (DBX(r->ctx->db, err, sizeof err, "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
	        project) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	long limit = group_quota(r->ctx->db, project, "server_groups");
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT count(*) FROM server_groups WHERE project_id = $1", project);
	if (limit == -EIO || !res) {
		resp_db_error(r, w, "quota lookup failed");
		goto out;
	}
	if (limit >= 0 && db_long(res, 0, 0, 0) + 1 > limit) {
		resp_error(r, w, 403, "Quota exceeded, too many server groups.");
		goto out;
	}
	PQclear(res);
	res = NULL;
	uuid_generate_str(id);
	snprintf(per, sizeof(per), "%ld", g.max_per_host);
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO server_groups (id, name, project_id, user_id, policy,"
	        " max_server_per_host) VALUES ($1, $2, $3, $4, $5, nullif($6::int, 0))",
	        id, g.name, project, r->ctx->auth.user_id, g.policy, per) != 1) {
		resp_db_error(r, w, err);
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " GROUP_COLUMNS " FROM server_groups g WHERE g.id = $1", id);
	if (!res || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, res ? "commit failed" : err);
		goto out;
	}
	began = 0;
	resp_json(w, 200, json_pack("{s:o}", "server_group", group_view(res, 0, mv)));
	log_info("server group %s (%s) created in project %s", id, g.policy, project);
out:
	if (began)
		db_rollback(r->ctx->db);
	PQclear(res);
	group_req_release(&g);
}

static void group_list(struct req *r, struct resp *w)
{
	char err[256], lim[24], off[24];
	int admin = policy_is_admin(&r->ctx->auth);
	int all = server_bool_param(req_query(r, "all_projects"));
	long limit = wire_nonneg(req_query(r, "limit"));
	long offset = wire_nonneg(req_query(r, "offset"));
	if (all < 0 || limit == -EINVAL || offset == -EINVAL) {
		resp_error(r, w, 400, "Invalid input for query parameters.");
		return;
	}
	if (limit < 0 || limit > GROUP_LIST_MAX)
		limit = GROUP_LIST_MAX;
	snprintf(lim, sizeof(lim), "%ld", limit);
	snprintf(off, sizeof(off), "%ld", offset < 0 ? 0 : offset);
	/* all_projects is an admin's; a member's is ignored, as in Nova */
	const char *project = all && admin ? NULL : r->ctx->auth.project_id;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " GROUP_COLUMNS " FROM server_groups g"
	                    " WHERE $1::text IS NULL OR g.project_id = $1"
	                    " ORDER BY g.created_at, g.id LIMIT $2::int OFFSET $3::int",
	                    project, lim, off);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, group_view(res, i, r->ctx->mv_minor));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "server_groups", list));
}

/* The group r->params[0] as the caller may see it (own project; any for an admin), or
 * NULL after answering 404/500. */
static PGresult *group_find(struct req *r, struct resp *w)
{
	char err[256], id[UUID_STR_LEN];
	const char *want = r->params[0];
	if (!uuid_is_valid(want)) {
		resp_error(r, w, 404, "Server group %.64s could not be found.", want);
		return NULL;
	}
	uuid_lower(want, id);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " GROUP_COLUMNS " FROM server_groups g WHERE g.id = $1"
	                    " AND ($2::text IS NULL OR g.project_id = $2)",
	                    id, policy_is_admin(&r->ctx->auth) ? NULL : r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Server group %s could not be found.", id);
}

static void group_show(struct req *r, struct resp *w)
{
	PGresult *res = group_find(r, w);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "server_group", group_view(res, 0, r->ctx->mv_minor)));
	PQclear(res);
}

static void group_delete(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = group_find(r, w);
	if (!res)
		return;
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM server_groups WHERE id = $1",
	            db_val(res, 0, 0));
	PQclear(res);
	if (n < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

int server_group_hint(const json_t *body, char group[UUID_STR_LEN], char *err, size_t errlen)
{
	static const char *const keys[] = {"os:scheduler_hints", "OS-SCH-HNT:scheduler_hints"};
	for (size_t i = 0; i < JCOUNT(keys); i++) {
		const json_t *h = json_object_get(body, keys[i]);
		if (!h)
			continue;
		if (!json_is_object(h)) {
			snprintf(err, errlen, "Invalid input for field/attribute %s.", keys[i]);
			return -EINVAL;
		}
		const json_t *g = json_object_get(h, "group");
		if (!g)
			continue;
		if (!json_is_string(g) || !uuid_is_valid(json_string_value(g))) {
			snprintf(err, errlen, "Invalid input for field/attribute group.");
			return -EINVAL;
		}
		uuid_lower(json_string_value(g), group);
		return 1;
	}
	return 0;
}

int server_group_reserve(struct req *r, struct resp *w, const char *group, long n)
{
	char err[256];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT g.project_id, (SELECT count(*) FROM server_group_members m"
	                    " WHERE m.group_id = g.id) FROM server_groups g WHERE g.id = $1"
	                    " AND ($2::text IS NULL OR g.project_id = $2) FOR UPDATE OF g",
	                    group, admin ? NULL : r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 400, "Server group %s could not be found.", group);
	if (!res)
		return -ENOENT;
	long limit = group_quota(r->ctx->db, db_val(res, 0, 0), "server_group_members");
	long have = db_long(res, 0, 1, 0);
	PQclear(res);
	if (limit == -EIO) {
		resp_db_error(r, w, "quota lookup failed");
		return -EIO;
	}
	if (limit >= 0 && have + n > limit) {
		resp_error(r, w, 403, "Quota exceeded, too many servers in group");
		return -EDQUOT;
	}
	return 0;
}

int server_group_join(PGconn *db, const char *group, const char *instance_id, char *err,
                      size_t errlen)
{
	return DBX(db, err, errlen,
	           "INSERT INTO server_group_members (instance_id, group_id) VALUES ($1, $2)",
	           instance_id, group) == 1
	           ? 0
	           : -EIO;
}

char *server_group_ids(PGconn *db, const char *instance_id)
{
	char err[256];
	PGresult *res = DBQ(db, err, sizeof err,
	                    "SELECT coalesce(json_agg(group_id)::text, '[]') FROM"
	                    " server_group_members WHERE instance_id = $1",
	                    instance_id);
	char *ids = xstrdup(res && PQntuples(res) == 1 ? db_val(res, 0, 0) : "[]");
	PQclear(res);
	return ids;
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"POST", C "/os-server-groups", group_create, POL_COMPUTE_WRITE, 0},
    {"GET", C "/os-server-groups", group_list, POL_COMPUTE_READ, 0},
    {"GET", C "/os-server-groups/{}", group_show, POL_COMPUTE_READ, 0},
    {"DELETE", C "/os-server-groups/{}", group_delete, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(server_group_routes, routes, &compute_hooks);

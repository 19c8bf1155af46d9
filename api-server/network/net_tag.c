/* Tags of Network API resources (/v2.0/<collection>/{id}/tags[/{tag}]): replace all,
 * add one, check one, remove one or all. The resource must be the caller's (or the
 * caller an admin). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"

#define TAG_MAX_LEN 255
#define TAGS_MAX 50

static const struct {
	const char *segment, *table;
	const struct net_res *res;
} tagged[] = {
    {"networks", "net_networks", &net_res_network},
    {"subnets", "net_subnets", &net_res_subnet},
    {"ports", "net_ports", &net_res_port},
    {"routers", "net_routers", &net_res_router},
    {"floatingips", "net_floatingips", &net_res_floatingip},
    {"security-groups", "net_secgroups", &net_res_secgroup},
    {"subnetpools", "net_subnetpools", &net_res_subnetpool},
};

/* The row of the collection r's URL names, after checking the caller may tag id. */
static int tag_target(struct req *r, struct resp *w, int write)
{
	const char *seg = r->url + strlen("/network/v2.0/");
	for (size_t i = 0; i < sizeof(tagged) / sizeof(tagged[0]); i++) {
		size_t n = strlen(tagged[i].segment);
		if (strncmp(seg, tagged[i].segment, n) || seg[n] != '/')
			continue;
		if (write)
			return net_owned(r, w, tagged[i].res, tagged[i].table, r->params[0], NULL,
			                 0) < 0
			           ? -ENOENT
			           : 0;
		json_t *b = net_fetch(r, tagged[i].res, r->params[0]);
		if (!b) {
			net_not_found(r, w, tagged[i].res, r->params[0]);
			return -ENOENT;
		}
		json_decref(b);
		return 0;
	}
	net_error(r, w, 404, "NotFound", "The resource could not be found.");
	return -ENOENT;
}

static int tag_ok(struct req *r, struct resp *w, const char *t)
{
	if (t && *t && strlen(t) <= TAG_MAX_LEN && !strchr(t, ',') && !strchr(t, '/'))
		return 1;
	net_error(r, w, 400, "HTTPBadRequest",
	          "Invalid input for tags. Reason: '%s' is not a valid tag.", t ? t : "");
	return 0;
}

static void tags_answer(struct req *r, struct resp *w, int status)
{
	char err[256];
	PGresult *q =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT net_tags_of($1)::text", r->params[0]);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	resp_json(w, status, json_pack("{s:o}", "tags", json_loads(PQgetvalue(q, 0, 0), 0, NULL)));
	PQclear(q);
}

static void tags_list(struct req *r, struct resp *w)
{
	if (tag_target(r, w, 0) == 0)
		tags_answer(r, w, 200);
}

static int tags_replace_tx(struct req *r, struct resp *w, void *arg)
{
	json_t *tags = arg;
	char err[256];
	size_t i;
	json_t *v;
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1",
	        r->params[0]) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	json_array_foreach(tags, i, v) if (DBX(r->ctx->db, err, sizeof err,
	                                       "INSERT INTO net_tags VALUES ($1, $2) ON CONFLICT DO"
	                                       " NOTHING",
	                                       r->params[0], json_string_value(v)) < 0)
	{
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void tags_replace(struct req *r, struct resp *w)
{
	json_t *tags = json_object_get(r->json, "tags");
	size_t i;
	json_t *v;
	if (!json_is_array(tags) || json_array_size(tags) > TAGS_MAX) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for tags. Reason: must be a list.");
		return;
	}
	json_array_foreach(tags, i, v) if (!tag_ok(r, w, json_string_value(v))) return;
	if (tag_target(r, w, 1) == 0 && net_tx(r, w, tags_replace_tx, tags) == 0)
		tags_answer(r, w, 200);
}

/* Its body is not read: Neutron ignores it (and Tempest sends the JSON text "{}"). */
static void tag_add(struct req *r, struct resp *w)
{
	char err[256];
	if (!tag_ok(r, w, r->params[1]) || tag_target(r, w, 1) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO net_tags VALUES ($1, $2) ON CONFLICT DO NOTHING", r->params[0],
	        r->params[1]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 201);
}

/* One tag of the resource, read (write 0) or removed (write 1) by sql ($1 the
 * resource, $2 the tag): 204 when there was one, else 404 TagNotFound. */
static void tag_one(struct req *r, struct resp *w, int write, const char *sql)
{
	char err[256];
	if (tag_target(r, w, write) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err, sql, r->params[0], r->params[1]);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0)
		net_error(r, w, 404, "TagNotFound", "Tag %s could not be found for resource %s.",
		          r->params[1], r->params[0]);
	else
		resp_empty(w, 204);
}

static void tag_check(struct req *r, struct resp *w)
{
	tag_one(r, w, 0, "SELECT 1 FROM net_tags WHERE resource_id = $1 AND tag = $2");
}

static void tag_delete(struct req *r, struct resp *w)
{
	tag_one(r, w, 1, "DELETE FROM net_tags WHERE resource_id = $1 AND tag = $2");
}

static void tags_clear(struct req *r, struct resp *w)
{
	char err[256];
	if (tag_target(r, w, 1) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1",
	        r->params[0]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

#define TAG_ROUTES(coll)                                                                           \
	{"GET", "/network/v2.0/" coll "/{}/tags", tags_list, POL_NETWORK_READ, 0},                 \
	    {"PUT", "/network/v2.0/" coll "/{}/tags", tags_replace, POL_NETWORK_WRITE, 0},         \
	    {"DELETE", "/network/v2.0/" coll "/{}/tags", tags_clear, POL_NETWORK_WRITE, 0},        \
	    {"GET", "/network/v2.0/" coll "/{}/tags/{}", tag_check, POL_NETWORK_READ, 0},          \
	    {"PUT", "/network/v2.0/" coll "/{}/tags/{}", tag_add, POL_NETWORK_WRITE,               \
	     HTTPD_RAW_BODY},                                                                      \
	{                                                                                          \
		"DELETE", "/network/v2.0/" coll "/{}/tags/{}", tag_delete, POL_NETWORK_WRITE, 0    \
	}

static const struct httpd_route tag_route_list[] = {
    TAG_ROUTES("networks"),    TAG_ROUTES("subnets"),     TAG_ROUTES("ports"),
    TAG_ROUTES("routers"),     TAG_ROUTES("floatingips"), TAG_ROUTES("security-groups"),
    TAG_ROUTES("subnetpools"),
};
HTTPD_TABLE(net_tag_routes, tag_route_list, &network_hooks);

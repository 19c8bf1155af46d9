/* Host aggregates (os-aggregates), as Nova has them: named groups of compute hosts
 * with metadata, one of whose keys, availability_zone, puts the hosts in a zone
 * (the compute_host_zones view of migration 0009; placement and
 * os-availability-zone read it). Admin only. Every change runs in one transaction
 * under one advisory lock, so two requests cannot put a host in two zones. Nova's
 * later rule that refuses to move a host with instances to another zone is not
 * applied: an instance keeps the zone it was placed in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/aggregate.h"
#include "jparse.h"
#include "msg.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* Serialises aggregate membership and zone changes (any constant unique in Nubo). */
#define AGGREGATE_LOCK "SELECT pg_advisory_xact_lock(7009001)"

/* One aggregate as Nova renders it, built by PostgreSQL; $1 NULL lists them all. */
static const char aggregate_sql[] =
    "SELECT json_build_object('id', a.id, 'uuid', a.uuid, 'name', a.name,"
    " 'availability_zone', (SELECT value FROM aggregate_metadata WHERE aggregate_id = a.id"
    " AND key = 'availability_zone'),"
    " 'created_at', to_char(a.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
    " 'updated_at', to_char(a.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),"
    " 'deleted', false, 'deleted_at', NULL,"
    " 'hosts', coalesce((SELECT json_agg(host ORDER BY created_at, host) FROM aggregate_hosts"
    " WHERE aggregate_id = a.id), '[]'),"
    " 'metadata', coalesce((SELECT json_object_agg(key, value ORDER BY key) FROM"
    " aggregate_metadata WHERE aggregate_id = a.id), '{}'))::text"
    " FROM aggregates a WHERE $1::int IS NULL OR a.id = $1::int ORDER BY a.id";

int aggregate_id_parse(const char *s, char out[16])
{
	char *end;
	errno = 0;
	long v = s ? strtol(s, &end, 10) : 0;
	if (!s || !*s || *end || errno || v < -2147483647L || v > 2147483647L)
		return -EINVAL;
	snprintf(out, 16, "%ld", v);
	return 0;
}

/* The view of one row's text at the request's version: no uuid below 2.41; brief
 * (no hosts, no metadata) for a create's answer. */
static json_t *aggregate_view(const struct req *r, const char *text, int brief)
{
	json_t *a = json_loads(text, 0, NULL);
	if (!a)
		return json_object();
	if (r->ctx->mv_minor < 41)
		json_object_del(a, "uuid");
	if (brief) {
		json_object_del(a, "hosts");
		json_object_del(a, "metadata");
	}
	return a;
}

/* Answers {"aggregate": <id's view>} with status 200 (the transaction, if any, is
 * committed by then). */
static void aggregate_answer(struct req *r, struct resp *w, const char *id, int brief)
{
	char err[256] = "";
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, aggregate_sql, id);
	res = wire_one_row(r, w, res, err, 404, "Aggregate %s could not be found.", id);
	if (!res)
		return;
	resp_json(w, 200,
	          json_pack("{s:o}", "aggregate", aggregate_view(r, db_val(res, 0, 0), brief)));
	PQclear(res);
}

static void aggregates_list(struct req *r, struct resp *w)
{
	char err[256] = "";
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, aggregate_sql, NULL);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(a, aggregate_view(r, db_val(res, i, 0), 0));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "aggregates", a));
}

/* The id of the path, or NULL after answering 400 (Nova's validate_integer). */
static const char *path_id(struct req *r, struct resp *w, char buf[16])
{
	if (aggregate_id_parse(r->params[0], buf) < 0) {
		resp_error(r, w, 400, "Invalid input received: id must be an integer");
		return NULL;
	}
	return buf;
}

static void aggregates_show(struct req *r, struct resp *w)
{
	char id[16];
	if (path_id(r, w, id))
		aggregate_answer(r, w, id, 0);
}

/* 1 when s is a valid zone name (Nova's az_name: printable, no ':', no leading or
 * trailing space), at most MSG_HOST_MAX - 1 bytes where Nova allows 255: the
 * scheduler and the agents carry a zone in MSG_HOST_MAX, and a longer one would
 * leave the servers placed in it unloadable (review of cadmin, finding 1). */
static int az_name_ok(const char *s)
{
	return wire_name_ok(s, MSG_HOST_MAX - 1) && !strchr(s, ':');
}

struct aggregate_in {
	char *name, *az;
};
static const struct jfield f_aggregate[] = {
    {"name", J_STR, JF(struct aggregate_in, name), 0, 255, 0, 0},
    {"availability_zone", J_STR, JF(struct aggregate_in, az), 0, 255, 0, 1},
};

/* Parses {"aggregate": {name, availability_zone}} (Nova's closed schema). Returns 0,
 * or answers 400 and returns -EINVAL with nothing to release. *az_given tells an
 * availability_zone that came (even as null) from one that did not. */
static int aggregate_parse(struct req *r, struct resp *w, struct aggregate_in *in, int *az_given)
{
	if (wire_parse_closed(r, w, "aggregate", f_aggregate, JCOUNT(f_aggregate), NULL, in) < 0)
		return -EINVAL;
	*az_given =
	    json_object_get(json_object_get(r->json, "aggregate"), "availability_zone") != NULL;
	const char *bad = NULL;
	if (in->name && !wire_name_ok(in->name, 255))
		bad = "name";
	else if (in->az && !az_name_ok(in->az))
		bad = "availability_zone";
	if (bad) {
		resp_error(r, w, 400, "Invalid input for field/attribute %s. Value: %s.", bad,
		           !strcmp(bad, "name") ? in->name : in->az);
		jparse_release(f_aggregate, JCOUNT(f_aggregate), in);
		return -EINVAL;
	}
	return 0;
}

/* Answers a failed write: 409 for a name another aggregate has, else the database
 * error. */
static void aggregate_write_failed(struct req *r, struct resp *w, const char *state,
                                   const char *err, const char *name)
{
	if (!strcmp(state, SQLSTATE_UNIQUE))
		resp_error(r, w, 409, "Aggregate %s already exists.", name);
	else
		resp_db_error(r, w, err);
}

static void aggregates_create(struct req *r, struct resp *w)
{
	struct aggregate_in in = {0};
	int az_given;
	char err[256] = "", state[6] = "", id[16];
	if (aggregate_parse(r, w, &in, &az_given) < 0)
		return;
	if (!in.name) {
		resp_error(r, w, 400,
		           "Invalid input for field/attribute aggregate. 'name' is a required "
		           "property");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	PGresult *res =
	    db_query(r->ctx->db, "INSERT INTO aggregates (name) VALUES ($1) RETURNING id", 1,
	             (const char *const[]){in.name}, err, sizeof(err), state);
	if (!res) {
		aggregate_write_failed(r, w, state, err, in.name);
		goto out; /* db_release rolls back */
	}
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (in.az && *in.az &&
	    DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO aggregate_metadata (aggregate_id, key, value)"
	        " VALUES ($1::int, 'availability_zone', $2)",
	        id, in.az) < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	aggregate_answer(r, w, id, 1);
out:
	jparse_release(f_aggregate, JCOUNT(f_aggregate), &in);
}

/* Begins the transaction of a change to aggregate id: the lock, and the aggregate
 * must exist. 0, or -ENOENT/-EIO after answering. */
static int change_begin(struct req *r, struct resp *w, const char *id)
{
	char err[256] = "";
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err, AGGREGATE_LOCK);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(res);
	int n = DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM aggregates WHERE id = $1::int", id);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Aggregate %s could not be found.", id);
		return n < 0 ? -EIO : -ENOENT;
	}
	return 0;
}

/* Nova's is_safe_to_update_az: may aggregate id take zone az, given the zones other
 * aggregates give its hosts (host: only that one, as for add_host; NULL: all of its
 * hosts) and, when check_instances, with no instance on its hosts if the zone
 * changes? 0; or answers 400 (update, prefix "Cannot update aggregate") or 409
 * (add_host) and returns -EINVAL; -EIO after answering 500. */
static int az_change_check(struct req *r, struct resp *w, const char *id, const char *az,
                           const char *host, const char *prefix, int status, int check_instances)
{
	char err[256] = "";
	if (!*az) {
		resp_error(r, w, status,
		           "%s %s. Reason: Aggregate %s does not support empty named availability "
		           "zone.",
		           prefix, id, id);
		return -EINVAL;
	}
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT coalesce(string_agg(DISTINCT '''' || m.value || '''', ', '), '') FROM"
	    " aggregate_hosts h JOIN aggregate_metadata m ON m.aggregate_id = h.aggregate_id AND"
	    " m.key = 'availability_zone' WHERE h.aggregate_id <> $1::int AND m.value <> $2 AND"
	    " h.host IN (SELECT $3::text WHERE $3::text IS NOT NULL UNION ALL SELECT host FROM"
	    " aggregate_hosts WHERE $3::text IS NULL AND aggregate_id = $1::int)",
	    id, az, host);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int rc = 0;
	if (*db_val(res, 0, 0)) {
		resp_error(r, w, status,
		           "%s %s. Reason: One or more hosts already in availability zone(s) [%s].",
		           prefix, id, db_val(res, 0, 0));
		rc = -EINVAL;
	}
	PQclear(res);
	if (rc < 0 || !check_instances)
		return rc;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM instances i JOIN aggregate_hosts h ON h.host = i.host WHERE"
	            " h.aggregate_id = $1::int AND NOT i.deleted AND NOT EXISTS (SELECT 1 FROM"
	            " aggregate_metadata m WHERE m.aggregate_id = $1::int AND m.key ="
	            " 'availability_zone' AND m.value = $2) LIMIT 1",
	            id, az);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (n > 0) {
		resp_error(r, w, status,
		           "%s %s. Reason: One or more hosts contain instances in this zone.",
		           prefix, id);
		return -EINVAL;
	}
	return 0;
}

/* After a change to aggregate id's metadata, inside its transaction: does the merged
 * metadata still hold at most AGGREGATE_META_MAX keys? 0; or answers 400 (prefix:
 * Nova's message of the change) and returns -EINVAL; -EIO after answering 500. */
static int meta_count_check(struct req *r, struct resp *w, const char *id, const char *prefix)
{
	char err[256] = "";
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT count(*) FROM aggregate_metadata WHERE aggregate_id = $1::int", id);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	long n = atol(db_val(res, 0, 0));
	PQclear(res);
	if (n <= AGGREGATE_META_MAX)
		return 0;
	resp_error(r, w, 400,
	           "%s %s. Reason: An aggregate holds at most %d metadata keys, not %ld.", prefix,
	           id, AGGREGATE_META_MAX, n);
	return -EINVAL;
}

/* Sets (value non-NULL) or removes one metadata key of aggregate id. 0 or -EIO. */
static int meta_set(PGconn *db, const char *id, const char *key, const char *value, char *err,
                    size_t errlen)
{
	if (!value)
		return DBX(db, err, errlen,
		           "DELETE FROM aggregate_metadata WHERE aggregate_id = $1::int AND key = "
		           "$2",
		           id, key) < 0
		           ? -EIO
		           : 0;
	return DBX(db, err, errlen,
	           "INSERT INTO aggregate_metadata (aggregate_id, key, value) VALUES ($1::int, $2,"
	           " $3) ON CONFLICT (aggregate_id, key) DO UPDATE SET value = EXCLUDED.value",
	           id, key, value) < 0
	           ? -EIO
	           : 0;
}

static void aggregates_update(struct req *r, struct resp *w)
{
	struct aggregate_in in = {0};
	int az_given;
	char err[256] = "", state[6] = "", idbuf[16];
	const char *id = path_id(r, w, idbuf);
	if (!id || aggregate_parse(r, w, &in, &az_given) < 0)
		return;
	if (!in.name && !az_given) {
		resp_error(
		    r, w, 400,
		    "Invalid input for field/attribute aggregate. Value: {}. {} is not valid "
		    "under any of the given schemas");
		goto out;
	}
	if (change_begin(r, w, id) < 0)
		goto out;
	if (in.name) {
		PGresult *res = db_query(
		    r->ctx->db,
		    "UPDATE aggregates SET name = $2, updated_at = now() WHERE id = $1::int", 2,
		    (const char *const[]){id, in.name}, err, sizeof(err), state);
		if (!res) {
			aggregate_write_failed(r, w, state, err, in.name);
			goto out;
		}
		PQclear(res);
	}
	if (az_given) {
		const char *az = in.az ? in.az : "";
		if (az_change_check(r, w, id, az, NULL, "Cannot update aggregate", 400, 1) < 0)
			goto out;
		if (meta_set(r->ctx->db, id, "availability_zone", az, err, sizeof(err)) < 0 ||
		    DBX(r->ctx->db, err, sizeof err,
		        "UPDATE aggregates SET updated_at = now() WHERE id = $1::int", id) < 0) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (meta_count_check(r, w, id, "Cannot update aggregate") < 0)
			goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	aggregate_answer(r, w, id, 0);
out:
	jparse_release(f_aggregate, JCOUNT(f_aggregate), &in);
}

static void aggregates_delete(struct req *r, struct resp *w)
{
	char err[256] = "", idbuf[16];
	const char *id = path_id(r, w, idbuf);
	if (!id || change_begin(r, w, id) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM aggregate_hosts WHERE aggregate_id = $1::int LIMIT 1", id);
	if (n != 0) {
		if (n < 0)
			resp_db_error(r, w, err);
		else
			resp_error(
			    r, w, 400,
			    "Cannot remove host from aggregate %s. Reason: Host aggregate is not "
			    "empty.",
			    id);
		return;
	}
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM aggregates WHERE id = $1::int", id) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	resp_empty(w, 200);
}

/* ---- actions: POST /os-aggregates/{id}/action {"<verb>": {...}} ---- */

struct host_in {
	char *host;
};
static const struct jfield f_host[] = {
    {"host", J_STR, JF(struct host_in, host), 0, 255, 1, 0},
};

/* Parses {"<verb>": {"host": <fqdn>}}. 0, or answers 400 and returns -EINVAL. */
static int host_parse(struct req *r, struct resp *w, const char *verb, struct host_in *in)
{
	if (wire_parse_closed(r, w, verb, f_host, JCOUNT(f_host), NULL, in) < 0)
		return -EINVAL;
	if (!wire_charset_ok(in->host, 255, "-._")) {
		resp_error(r, w, 400, "Invalid input for field/attribute host. Value: %s.",
		           in->host);
		jparse_release(f_host, JCOUNT(f_host), in);
		return -EINVAL;
	}
	return 0;
}

static void action_add_host(struct req *r, struct resp *w, const char *id)
{
	struct host_in in = {0};
	char err[256] = "";
	if (host_parse(r, w, "add_host", &in) < 0)
		return;
	/* Nova looks the host up before the aggregate */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM agents WHERE host = $1 AND kind = 'compute'", in.host);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "Compute host %s could not be found.", in.host);
		goto out;
	}
	if (change_begin(r, w, id) < 0)
		goto out;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT value FROM aggregate_metadata WHERE aggregate_id = $1::int AND"
	                    " key = 'availability_zone'",
	                    id);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	int rc = PQntuples(res) ? az_change_check(r, w, id, db_val(res, 0, 0), in.host,
	                                          "Cannot add host to aggregate", 409, 0)
	                        : 0;
	PQclear(res);
	if (rc < 0)
		goto out;
	n = DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO aggregate_hosts (aggregate_id, host) VALUES ($1::int, $2)"
	        " ON CONFLICT DO NOTHING",
	        id, in.host);
	if (n < 0 || (n == 1 && db_commit(r->ctx->db) < 0)) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (n == 0) {
		resp_error(r, w, 409, "Aggregate %s already has host %s.", id, in.host);
		goto out;
	}
	aggregate_answer(r, w, id, 0);
out:
	jparse_release(f_host, JCOUNT(f_host), &in);
}

static void action_remove_host(struct req *r, struct resp *w, const char *id)
{
	struct host_in in = {0};
	char err[256] = "";
	if (host_parse(r, w, "remove_host", &in) < 0)
		return;
	if (change_begin(r, w, id) < 0) /* 404 names the aggregate, as Nova's does */
		goto out;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM aggregate_hosts WHERE aggregate_id = $1::int AND host = $2", id,
	            in.host);
	if (n < 0 || (n == 1 && db_commit(r->ctx->db) < 0)) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (n == 0) {
		resp_error(r, w, 404, "Cannot remove host %s in aggregate %s", in.host, id);
		goto out;
	}
	aggregate_answer(r, w, id, 0);
out:
	jparse_release(f_host, JCOUNT(f_host), &in);
}

/* 1 when k is a Nova metadata key: 1..255 of [a-zA-Z0-9-_:. ]. */
static int meta_key_ok(const char *k)
{
	return wire_charset_ok(k, 255, "-_:. ");
}

static void action_set_metadata(struct req *r, struct resp *w, const char *id)
{
	char err[256] = "";
	const char *const top[] = {"set_metadata", NULL}, *const inner_keys[] = {"metadata", NULL};
	json_t *inner = json_object_get(r->json, "set_metadata");
	json_t *meta = json_object_get(inner, "metadata");
	const char *k;
	json_t *v;
	int bad = !json_is_object(inner) || !json_is_object(meta) ||
	          jparse_known(r->json, NULL, 0, top, err, sizeof(err)) < 0 ||
	          jparse_known(inner, NULL, 0, inner_keys, err, sizeof(err)) < 0;
	if (!bad && json_object_size(meta) > AGGREGATE_META_MAX)
		bad = 1;
	if (!bad)
		json_object_foreach(meta, k, v)
		{
			if (!meta_key_ok(k) || (!json_is_null(v) && !json_is_string(v)) ||
			    (json_is_string(v) && json_string_length(v) > 255))
				bad = 1;
		}
	if (bad) {
		resp_error(r, w, 400, "Invalid input for field/attribute metadata.");
		return;
	}
	/* the zone key follows the zone rules (empty or null: Nova's 400) */
	json_t *az = json_object_get(meta, "availability_zone");
	if (json_is_string(az) && *json_string_value(az) && !az_name_ok(json_string_value(az))) {
		resp_error(r, w, 400, "Invalid input for field/attribute metadata.");
		return;
	}
	if (change_begin(r, w, id) < 0)
		return;
	if (az && az_change_check(r, w, id, json_is_string(az) ? json_string_value(az) : "", NULL,
	                          "Cannot update metadata of aggregate", 400, 1) < 0)
		return;
	json_object_foreach(meta, k, v)
	{
		if (meta_set(r->ctx->db, id, k, json_is_string(v) ? json_string_value(v) : NULL,
		             err, sizeof(err)) < 0) {
			resp_db_error(r, w, err);
			return;
		}
	}
	if (meta_count_check(r, w, id, "Cannot update metadata of aggregate") < 0)
		return; /* db_release rolls the merge back */
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE aggregates SET updated_at = now() WHERE id = $1::int", id) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	aggregate_answer(r, w, id, 0);
}

static const struct {
	const char *verb;
	void (*fn)(struct req *, struct resp *, const char *id);
} actions[] = {
    {"add_host", action_add_host},
    {"remove_host", action_remove_host},
    {"set_metadata", action_set_metadata},
};

static void aggregates_action(struct req *r, struct resp *w)
{
	char id[16];
	if (!path_id(r, w, id))
		return;
	if (!json_is_object(r->json) || json_object_size(r->json) != 1) {
		resp_error(r, w, 400, "Malformed request body");
		return;
	}
	const char *verb = json_object_iter_key(json_object_iter(r->json));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++)
		if (!strcmp(verb, actions[i].verb)) {
			actions[i].fn(r, w, id);
			return;
		}
	resp_error(r, w, 400, "There is no such action: %s", verb);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/os-aggregates", aggregates_list, POL_COMPUTE_ADMIN, 0},
    {"POST", C "/os-aggregates", aggregates_create, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-aggregates/{}", aggregates_show, POL_COMPUTE_ADMIN, 0},
    {"PUT", C "/os-aggregates/{}", aggregates_update, POL_COMPUTE_ADMIN, 0},
    {"DELETE", C "/os-aggregates/{}", aggregates_delete, POL_COMPUTE_ADMIN, 0},
    {"POST", C "/os-aggregates/{}/action", aggregates_action, POL_COMPUTE_ADMIN, 0},
};
HTTPD_TABLE(aggregate_routes, routes, &compute_hooks);

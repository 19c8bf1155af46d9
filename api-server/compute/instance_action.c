/* os-instance-actions: what was done to a server, by which request, and how each
 * event of it ended. List and show follow Nova's shapes per microversion (events for
 * everyone from 2.51, before that for admins only; the traceback for admins only;
 * deleted servers' actions from 2.21). */
#include "compute/instance_action.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/server.h"
#include "jsonw.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* Nova's timestamps of actions and events: no zone, microseconds. */
#define TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

int instance_action_record(PGconn *db, const struct req *r, const char *id, const char *action,
                           const char *event, const char *task_id, char *err, size_t errlen)
{
	PGresult *res = DBQ(db, err, errlen,
	                    "INSERT INTO instance_actions (instance_id, request_id, action,"
	                    " project_id, user_id) VALUES ($1, $2, $3, $4, $5) RETURNING id",
	                    id, r->id, action, r->ctx->auth.project_id, r->ctx->auth.user_id);
	if (!res)
		return -EIO;
	char aid[24];
	snprintf(aid, sizeof(aid), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (!event)
		return 0;
	int n = DBX(db, err, errlen,
	            "INSERT INTO instance_action_events (action_id, event, task_id, result,"
	            " finish_time) VALUES ($1::bigint, $2, $3::text, CASE WHEN $3 IS NULL THEN"
	            " 'Success' END, CASE WHEN $3 IS NULL THEN now() END)",
	            aid, event, task_id);
	return n == 1 ? 0 : -EIO;
}

/* The instance id of the request's server as the caller may see it (deleted ones too
 * from 2.21), into cid. 0, or -ENOENT/-EIO after answering. */
static int action_server(struct req *r, struct resp *w, char cid[UUID_STR_LEN])
{
	char err[256];
	const char *id = r->params[0];
	if (uuid_lower(id, cid) < 0) {
		resp_error(r, w, 404, "Instance could not be found.");
		return -ENOENT;
	}
	int admin = policy_is_admin(&r->ctx->auth);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM instances WHERE id = $1 AND ($2::text = '1' OR project_id = $3)"
	            " AND ($4::text = '1' OR NOT deleted)",
	            cid, admin ? "1" : "0", r->ctx->auth.project_id,
	            r->ctx->mv_minor >= 21 ? "1" : "0");
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (n == 0) {
		resp_error(r, w, 404, "Instance %s could not be found.", cid);
		return -ENOENT;
	}
	return 0;
}

#define ACTION_COLS                                                                                \
	"a.id, a.action, a.instance_id, a.message, a.project_id, a.request_id, " TS(               \
	    "a.start_time") ", a.user_id, " TS("a.updated_at")

/* One action object (no "events") from row i of ACTION_COLS, left open. */
static void action_write(struct jsonw *w, const PGresult *res, int i, int mv)
{
	static const char *const keys[] = {"action",     "instance_uuid", "message", "project_id",
	                                   "request_id", "start_time",    "user_id"};
	jsonw_obj_begin(w);
	for (int k = 0; k < 7; k++) {
		jsonw_key(w, keys[k]);
		jsonw_str_or_null(w, db_val(res, i, k + 1));
	}
	if (mv >= 58) {
		jsonw_key(w, "updated_at");
		jsonw_str_or_null(w, db_val(res, i, 8));
	}
}

/* 2.58: paging (limit, marker = a request id) and changes-since; 2.66 changes-before.
 * Fills the query parameters; answers 400 and returns -EINVAL. */
struct action_filter {
	char limit[24], since[24], before[24];
	const char *marker;
};

static int action_filter_parse(struct req *r, struct resp *w, const char *cid,
                               struct action_filter *f)
{
	char err[256];
	int mv = r->ctx->mv_minor;
	long limit = mv >= 58 ? wire_nonneg(req_query(r, "limit")) : -1;
	const char *since = mv >= 58 ? req_query(r, "changes-since") : NULL;
	const char *before = mv >= 66 ? req_query(r, "changes-before") : NULL;
	time_t ts = 0, tb = 0;
	memset(f, 0, sizeof(*f));
	f->marker = mv >= 58 ? req_query(r, "marker") : NULL;
	if (limit == -EINVAL) {
		resp_error(r, w, 400, "Invalid input for query parameters limit.");
		return -EINVAL;
	}
	snprintf(f->limit, sizeof(f->limit), "%ld", limit < 0 || limit > 1000 ? 1000 : limit);
	int bad_since = since && time_parse_iso(since, &ts) < 0;
	if (bad_since || (before && time_parse_iso(before, &tb) < 0)) {
		resp_error(r, w, 400, "Invalid input for query parameters %s.",
		           bad_since ? "changes-since" : "changes-before");
		return -EINVAL;
	}
	if (since && before && ts > tb) {
		resp_error(r, w, 400,
		           "The value of changes-since must be less than or equal to "
		           "changes-before.");
		return -EINVAL;
	}
	if (since)
		snprintf(f->since, sizeof(f->since), "%lld", (long long)ts);
	if (before)
		snprintf(f->before, sizeof(f->before), "%lld", (long long)tb);
	if (f->marker && DBX(r->ctx->db, err, sizeof err,
	                     "SELECT 1 FROM instance_actions WHERE instance_id = $1 AND"
	                     " request_id = $2",
	                     cid, f->marker) != 1) {
		resp_error(r, w, 400, "Marker %s could not be found.",
		           wire_charset_ok(f->marker, 64, "-") ? f->marker : "(not shown)");
		return -EINVAL;
	}
	return 0;
}

static void instance_actions_list(struct req *r, struct resp *w)
{
	char cid[UUID_STR_LEN], err[256];
	struct action_filter f;
	if (action_server(r, w, cid) < 0 || action_filter_parse(r, w, cid, &f) < 0)
		return;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " ACTION_COLS " FROM instance_actions a WHERE a.instance_id = $1"
	        " AND ($2::text IS NULL OR (a.start_time, a.id) < (SELECT m.start_time, m.id FROM"
	        " instance_actions m WHERE m.instance_id = $1 AND m.request_id = $2 ORDER BY m.id"
	        " LIMIT 1))"
	        " AND ($3::text = '' OR a.updated_at >= to_timestamp($3::double precision))"
	        " AND ($4::text = '' OR a.updated_at <= to_timestamp($4::double precision))"
	        " ORDER BY a.start_time DESC, a.id DESC LIMIT $5::int",
	        cid, f.marker, f.since, f.before, f.limit);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	struct jsonw out;
	jsonw_init(&out, 512 + 400 * (size_t)PQntuples(res));
	jsonw_obj_begin(&out);
	jsonw_key(&out, "instanceActions");
	jsonw_arr_begin(&out);
	for (int i = 0; i < PQntuples(res); i++) {
		action_write(&out, res, i, r->ctx->mv_minor);
		jsonw_obj_end(&out);
	}
	jsonw_arr_end(&out);
	int n = PQntuples(res);
	if (r->ctx->mv_minor >= 58 && n > 0 && n == atoi(f.limit) && req_query(r, "limit")) {
		char *href = xasprintf("%s/compute/v2.1/servers/%s/os-instance-actions?limit=%s",
		                       r->ctx->api->public_url, cid, f.limit);
		href = wire_query_append(href, "marker", db_val(res, n - 1, 5));
		JSONW_KEY(&out, "links");
		jsonw_arr_begin(&out);
		jsonw_obj_begin(&out);
		JSONW_KEY(&out, "rel");
		jsonw_str(&out, "next");
		JSONW_KEY(&out, "href");
		jsonw_str(&out, href);
		jsonw_obj_end(&out);
		jsonw_arr_end(&out);
		free(href);
	}
	jsonw_obj_end(&out);
	PQclear(res);
	resp_json_text(w, 200, &out);
}

static void instance_actions_show(struct req *r, struct resp *w)
{
	char cid[UUID_STR_LEN], err[256];
	PGresult *res = NULL, *ev = NULL;
	if (action_server(r, w, cid) < 0)
		return;
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " ACTION_COLS " FROM instance_actions a WHERE a.instance_id = $1"
	          " AND a.request_id = $2 ORDER BY a.id LIMIT 1",
	          cid, r->params[1]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	if (PQntuples(res) == 0) {
		int clean = wire_charset_ok(r->params[1], 64, "-");
		resp_error(r, w, 404, "Action for request_id %s on instance %s not found",
		           clean ? r->params[1] : "(not shown)", cid);
		goto out;
	}
	int admin = policy_is_admin(&r->ctx->auth), mv = r->ctx->mv_minor;
	struct jsonw out;
	jsonw_init(&out, 1024);
	jsonw_obj_begin(&out);
	jsonw_key(&out, "instanceAction");
	action_write(&out, res, 0, mv);
	/* Nova: events for admins; for everyone from 2.51 (the traceback stays theirs) */
	if (admin || mv >= 51) {
		ev = DBQ(r->ctx->db, err, sizeof err,
		         "SELECT e.event, " TS("e.start_time") ", " TS(
		             "e.finish_time") ", e.result,"
		                              " e.traceback, e.host FROM instance_action_events e"
		                              " WHERE e.action_id = $1::bigint ORDER BY "
		                              "e.start_time, e.id",
		         db_val(res, 0, 0));
		if (!ev) {
			jsonw_release(&out);
			resp_db_error(r, w, err);
			goto out;
		}
		jsonw_key(&out, "events");
		jsonw_arr_begin(&out);
		for (int i = 0; i < PQntuples(ev); i++) {
			jsonw_obj_begin(&out);
			jsonw_key(&out, "event");
			jsonw_str(&out, db_val(ev, i, 0));
			jsonw_key(&out, "start_time");
			jsonw_str_or_null(&out, db_val(ev, i, 1));
			jsonw_key(&out, "finish_time");
			jsonw_str_or_null(&out, db_val(ev, i, 2));
			jsonw_key(&out, "result");
			jsonw_str_or_null(&out, db_val(ev, i, 3));
			if (admin) {
				jsonw_key(&out, "traceback");
				jsonw_str_or_null(&out, db_val(ev, i, 4));
			}
			if (mv >= 62) {
				char host_id[57];
				server_host_id(db_val(res, 0, 4), db_val(ev, i, 5), host_id);
				if (admin) {
					jsonw_key(&out, "host");
					jsonw_str(&out, db_val(ev, i, 5) ? db_val(ev, i, 5) : "");
				}
				jsonw_key(&out, "hostId");
				jsonw_str(&out, host_id);
			}
			jsonw_obj_end(&out);
		}
		jsonw_arr_end(&out);
	}
	jsonw_obj_end(&out);
	jsonw_obj_end(&out);
	resp_json_text(w, 200, &out);
out:
	PQclear(res);
	PQclear(ev);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/servers/{}/os-instance-actions", instance_actions_list, POL_COMPUTE_READ, 0},
    {"GET", C "/servers/{}/os-instance-actions/{}", instance_actions_show, POL_COMPUTE_READ, 0},
};
HTTPD_TABLE(instance_action_routes, routes, &compute_hooks);

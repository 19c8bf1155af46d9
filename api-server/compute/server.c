/* Compute v2.1 servers: create (quota-checked under the project row lock, instance and
 * spawn task written in one transaction), list, list detail, show and delete. A
 * project sees only its own servers (another project's server is 404); an admin sees
 * any by id and lists all with all_tenants. State changes go to the scheduler through
 * the tasks outbox; server_action.c holds the POST /servers/{id}/action verbs. */
#include "compute/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/instance_action.h"
#include "compute/server_bdm.h"
#include "compute/server_group.h"
#include "compute/server_ports.h"
#include "image/image.h"
#include "jparse.h"
#include "jsonw.h"
#include "log.h"
#include "msg.h"
#include "outbox.h"
#include "policy.h"
#include "quota.h"
#include "routes.h"
#include "server_nic.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

#define SERVER_LIST_MAX 1000 /* Nova's osapi_max_limit */

void server_row_from(const PGresult *res, int row, struct server_row *s)
{
	memset(s, 0, sizeof(*s));
	s->id = db_val(res, row, 0);
	s->name = db_val(res, row, 1);
	s->project_id = db_val(res, row, 2);
	s->user_id = db_val(res, row, 3);
	s->flavor_id = db_val(res, row, 4);
	s->image_id = db_val(res, row, 5);
	s->status = db_val(res, row, 6);
	s->vm_state = db_val(res, row, 7);
	s->task_state = db_val(res, row, 8);
	s->power_state = db_long(res, row, 9, 0);
	s->host = db_val(res, row, 10);
	s->az = db_val(res, row, 11);
	s->key_name = db_val(res, row, 12);
	s->metadata = db_val(res, row, 13);
	s->config_drive = db_val(res, row, 14) && db_val(res, row, 14)[0] == 't';
	s->fault_message = db_val(res, row, 15);
	s->fault_code = db_long(res, row, 16, 0);
	s->access_ipv4 = db_val(res, row, 17);
	s->access_ipv6 = db_val(res, row, 18);
	s->created_at = time_from_pg(db_val(res, row, 19), 0, s->ts_text[0]);
	s->updated_at = time_from_pg(db_val(res, row, 20), 0, s->ts_text[1]);
	s->launched_at = time_from_pg(db_val(res, row, 21), 1, s->ts_text[2]);
	s->terminated_at = time_from_pg(db_val(res, row, 22), 1, s->ts_text[3]);
	s->description = db_val(res, row, 24);
	s->locked_by = db_val(res, row, 25);
	s->lock_reason = db_val(res, row, 26);
	s->flavor_name = db_val(res, row, 27);
	s->vcpus = db_long(res, row, 28, 0);
	s->ram_mb = db_long(res, row, 29, 0);
	s->disk_gb = db_long(res, row, 30, 0);
	s->ephemeral_gb = db_long(res, row, 31, 0);
	s->swap_mb = db_long(res, row, 32, 0);
	s->flavor_extra_specs = db_val(res, row, 33);
	s->reservation_id = db_val(res, row, 34);
	s->hostname = db_val(res, row, 35);
	s->launch_index = db_long(res, row, 36, 0);
}

int server_extras_load(PGconn *db, const PGresult *res, const struct server_view_ctx *c,
                       struct server_extras *x, char *err, size_t errlen)
{
	memset(x, 0, sizeof(*x));
	if (server_ports_extras(db, res, &x->ports, err, errlen) < 0)
		return -EIO;
	int n = PQntuples(res);
	int full = !c->update || c->mv_minor >= 75;
	int tags = c->mv_minor >= 26, agents = c->admin && full && c->mv_minor >= 16,
	    udata = c->admin && full && c->mv_minor >= 3;
	if (n == 0)
		return 0;
	/* the ids as a text[] literal: UUIDs need no quoting */
	size_t cap = (size_t)n * UUID_STR_LEN + 3, len = 0;
	char *ids = xmalloc(cap);
	ids[len++] = '{';
	for (int i = 0; i < n; i++)
		len +=
		    (size_t)snprintf(ids + len, cap - len, "%s%s", i ? "," : "", db_val(res, i, 0));
	snprintf(ids + len, cap - len, "}");
	int rc = 0;
	/* Nova lists a server's volumes by id, and from 2.3 with delete_on_termination */
	if (!(x->volumes = DBQ(db, err, errlen,
	                       "SELECT attached_server, json_agg(CASE WHEN $2::boolean THEN"
	                       " json_build_object('id', id, 'delete_on_termination',"
	                       " delete_on_termination) ELSE json_build_object('id', id) END"
	                       " ORDER BY attach_device, id)::text FROM volumes WHERE"
	                       " attached_server = ANY($1::text[]) GROUP BY attached_server",
	                       ids, c->mv_minor >= 3 ? "true" : "false")))
		rc = -EIO;
	if (rc == 0 && tags &&
	    !(x->tags = DBQ(db, err, errlen,
	                    "SELECT instance_id, json_agg(tag ORDER BY tag)::text FROM"
	                    " instance_tags WHERE instance_id = ANY($1::text[])"
	                    " GROUP BY instance_id",
	                    ids)))
		rc = -EIO;
	if (rc == 0 && agents &&
	    !(x->agents = DBQ(db, err, errlen, "SELECT host, state FROM agents")))
		rc = -EIO;
	if (rc == 0 && udata &&
	    !(x->user_data = DBQ(db, err, errlen,
	                         "SELECT id, user_data FROM instances WHERE id = ANY($1::text[])"
	                         " AND user_data IS NOT NULL",
	                         ids)))
		rc = -EIO;
	free(ids);
	if (rc < 0)
		server_extras_release(x);
	return rc;
}

/* The second column of the row of r whose first column is key, or NULL. */
static const char *extras_find(const PGresult *r, const char *key)
{
	for (int i = 0; r && key && i < PQntuples(r); i++)
		if (!strcmp(db_val(r, i, 0), key))
			return db_val(r, i, 1);
	return NULL;
}

void server_extras_apply(const struct server_extras *x, struct server_row *s)
{
	s->tags = extras_find(x->tags, s->id);
	s->host_state = extras_find(x->agents, s->host);
	s->user_data = extras_find(x->user_data, s->id);
	s->volumes_attached = extras_find(x->volumes, s->id);
	server_ports_apply(x->ports, s);
}

void server_extras_release(struct server_extras *x)
{
	PQclear(x->tags);
	PQclear(x->agents);
	PQclear(x->user_data);
	PQclear(x->ports);
	PQclear(x->volumes);
	memset(x, 0, sizeof(*x));
}

void server_view_ctx_of(const struct req *r, struct server_view_ctx *c)
{
	c->public_url = r->ctx->api->public_url;
	c->admin = policy_is_admin(&r->ctx->auth);
	c->mv_minor = r->ctx->mv_minor;
	c->update = 0;
	c->single = 0;
}

PGresult *server_find(struct req *r, struct resp *w, const char *id, int for_update)
{
	char cid[UUID_STR_LEN], err[512];
	if (uuid_lower(id, cid) < 0) {
		/* echo only what is known to be clean ASCII */
		resp_error(r, w, 404, "Instance could not be found.");
		return NULL;
	}
	int admin = policy_is_admin(&r->ctx->auth);
	char *sql = xasprintf("SELECT " SERVER_COLUMNS " FROM instances i WHERE i.id = $1"
	                      " AND NOT i.deleted%s%s",
	                      admin ? " AND $2::text = $2::text" : " AND i.project_id = $2",
	                      for_update ? " FOR UPDATE OF i" : "");
	const char *params[] = {cid, r->ctx->auth.project_id};
	PGresult *res = db_query(r->ctx->db, sql, 2, params, err, sizeof(err), NULL);
	free(sql);
	return wire_one_row(r, w, res, err, 404, "Instance %s could not be found.", id);
}

int server_task_queue(struct req *r, const char *id, const char *task_state, const char *task,
                      const char *action, const char *event, char *err, size_t errlen)
{
	PGconn *db = r->ctx->db;
	char tid[UUID_STR_LEN];
	struct outbox_task t = {MSG_RES_INSTANCE, id, task, NULL, NULL, req_trace_id(r)};
	if (task_state &&
	    db_exec(db, "UPDATE instances SET task_state = $2, updated_at = now() WHERE id = $1", 2,
	            (const char *const[]){id, task_state}, err, errlen) != 1)
		return -EIO;
	if (outbox_insert(db, &t, tid, err, errlen) < 0)
		return -EIO;
	return instance_action_record(db, r, id, action, event, tid, err, errlen);
}

int server_lock_check(struct req *r, struct resp *w, const char *id, const char *locked_by)
{
	if (!locked_by || policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 409, "Instance %s is locked", id);
	return -EBUSY;
}

/* ---- list ---- */

/* A WHERE clause under construction with numbered text parameters. */
struct query {
	char sql[4096];
	const char *params[20]; /* every filter at once takes 14 */
	int n;
};

/* Appends " AND " cond, where cond holds one "%d" for value's parameter number (or
 * none when value is NULL). */
static void query_and(struct query *q, const char *cond, const char *value)
{
	size_t len = strlen(q->sql);
	char c[512];
	if (value) {
		q->params[q->n++] = value;
		snprintf(c, sizeof(c), cond, q->n);
	} else {
		snprintf(c, sizeof(c), "%s", cond);
	}
	snprintf(q->sql + len, sizeof(q->sql) - len, " AND %s", c);
}

/* The "next" link of a full page: the same filters, the last id as marker. Returns
 * owned memory. */
static char *next_link(struct req *r, int detail, long limit, const char *last_id)
{
	static const char *const keep[] = {"all_tenants",    "project_id", "tenant_id",
	                                   "name",           "status",     "flavor",
	                                   "image",          "host",       "changes-since",
	                                   "tags",           "tags-any",   "not-tags",
	                                   "not-tags-any",   "ip",         "ip6",
	                                   "changes-before", "locked",     "reservation_id"};
	char *href = xasprintf("%s/compute/v2.1/servers%s?limit=%ld&marker=%s",
	                       r->ctx->api->public_url, detail ? "/detail" : "", limit, last_id);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = req_query(r, keep[i]);
		if (v)
			href = wire_query_append(href, keep[i], v);
	}
	return href;
}

static void servers_list_common(struct req *r, struct resp *w, int detail)
{
	struct query q = {.n = 0};
	char err[512], sqlstate[6] = "", limit_s[24], since_s[32], mid[UUID_STR_LEN];
	int admin = policy_is_admin(&r->ctx->auth);
	PGresult *res = NULL;

	int all = server_bool_param(req_query(r, "all_tenants"));
	if (all < 0) {
		resp_error(r, w, 400, "Invalid all_tenants value");
		return;
	}
	if (all && !admin) {
		resp_error(r, w, 403,
		           "Policy doesn't allow os_compute_api:servers:index:get_all_tenants to "
		           "be performed.");
		return;
	}
	long limit = SERVER_LIST_MAX;
	const char *ls = req_query(r, "limit");
	if (ls) {
		long v = wire_nonneg(ls);
		if (v < 0) {
			resp_error(r, w, 400, "limit param must be an integer");
			return;
		}
		if (v < limit)
			limit = v;
	}
	snprintf(limit_s, sizeof(limit_s), "%ld", limit);

	snprintf(q.sql, sizeof(q.sql), "SELECT " SERVER_COLUMNS " FROM instances i WHERE true");
	const char *since = req_query(r, "changes-since");
	/* 2.66: and changed before */
	const char *before = r->ctx->mv_minor >= 66 ? req_query(r, "changes-before") : NULL;
	char before_s[32];
	time_t t_since = 0, t_before = 0;
	int bad_since = since && time_parse_iso(since, &t_since) < 0;
	if (bad_since || (before && time_parse_iso(before, &t_before) < 0)) {
		resp_error(r, w, 400, "Invalid input for query parameters %s.",
		           bad_since ? "changes-since" : "changes-before");
		return;
	}
	if (since && before && t_since > t_before) {
		resp_error(r, w, 400,
		           "The value of changes-since must be less than or equal to "
		           "changes-before.");
		return;
	}
	if (since || before) {
		/* Nova lists deleted servers too when asked what changed. */
		if (since) {
			snprintf(since_s, sizeof(since_s), "%lld", (long long)t_since);
			query_and(&q, "i.updated_at >= to_timestamp($%d::double precision)",
			          since_s);
		}
		if (before) {
			snprintf(before_s, sizeof(before_s), "%lld", (long long)t_before);
			query_and(&q, "i.updated_at <= to_timestamp($%d::double precision)",
			          before_s);
		}
	} else {
		query_and(&q, "NOT i.deleted", NULL);
	}
	const char *proj = req_query(r, "project_id");
	if (!proj)
		proj = req_query(r, "tenant_id");
	/* Nova reads a project filter only beside all_tenants (an admin's). One project's
	 * page walks instances_project_created, whatever the project's share of the newest
	 * rows: given "project_id = $n", PostgreSQL may walk instances_created instead and
	 * filter (a near tie in its costs on test_explain's data), reading every newer row
	 * of the other projects. "= ANY (ARRAY[$n::text])" is no equality to a constant,
	 * so the project stays a sort key, and only that index gives the order. */
	const char *in_project = NULL;
	if (admin && all && proj && *proj)
		in_project = proj;
	else if (!(admin && all))
		in_project = r->ctx->auth.project_id;
	if (in_project)
		query_and(&q, "i.project_id = ANY (ARRAY[$%d::text])", in_project);
	const char *name = req_query(r, "name");
	if (name && *name) {
		if (strlen(name) > 255) {
			resp_error(r, w, 400, "Invalid input for query parameters name.");
			return;
		}
		query_and(&q, "i.name ~ $%d", name); /* Nova: a regular expression */
	}
	const char *status = req_query(r, "status");
	if (status && *status && r->ctx->mv_minor >= 38 && !server_status_known(status)) {
		resp_error(r, w, 400, "Invalid status value");
		return;
	}
	const char *stored = NULL, *task = server_status_task(status, &stored);
	char masking[128]; /* lives as long as q, which keeps the pointer */
	if (task) {        /* REBOOT, HARD_REBOOT: an ACTIVE server while that task runs */
		query_and(&q, "i.status = $%d", stored);
		query_and(&q, "i.task_state = $%d", task);
	} else if (status && *status) {
		query_and(&q, "i.status = upper($%d)", status);
		if (server_status_masking(status, masking, sizeof(masking)))
			query_and(&q,
			          "(i.task_state IS NULL OR NOT i.task_state = ANY"
			          " (string_to_array($%d, ',')))",
			          masking);
	}
	/* Address filters (server_ports.c). Non-admins may filter by ip6 from 2.5 (before,
	 * Nova drops it). */
	const char *ip6 = req_query(r, "ip6"), *ip4 = req_query(r, "ip");
	if (ip4)
		query_and(&q, server_ports_ip_filter(4), ip4);
	if (ip6 && (admin || r->ctx->mv_minor >= 5))
		query_and(&q, server_ports_ip_filter(6), ip6);
	const char *locked = r->ctx->mv_minor >= 73 ? req_query(r, "locked") : NULL;
	if (locked) { /* 2.73 */
		int b = *locked ? server_bool_param(locked) : -EINVAL;
		if (b < 0) {
			resp_error(r, w, 400, "Invalid input for query parameters locked.");
			return;
		}
		query_and(&q, b ? "i.locked_by IS NOT NULL" : "i.locked_by IS NULL", NULL);
	}
	if (r->ctx->mv_minor >= 26) { /* comma-separated tag lists */
		static const char *const tag_filters[][2] = {
		    {"tags", "string_to_array($%d, ',') <@ ARRAY(SELECT g.tag FROM instance_tags g"
		             " WHERE g.instance_id = i.id)"},
		    {"tags-any",
		     "string_to_array($%d, ',') && ARRAY(SELECT g.tag FROM instance_tags g"
		     " WHERE g.instance_id = i.id)"},
		    {"not-tags", "NOT string_to_array($%d, ',') <@ ARRAY(SELECT g.tag FROM"
		                 " instance_tags g WHERE g.instance_id = i.id)"},
		    {"not-tags-any", "NOT string_to_array($%d, ',') && ARRAY(SELECT g.tag FROM"
		                     " instance_tags g WHERE g.instance_id = i.id)"},
		};
		for (size_t i = 0; i < sizeof(tag_filters) / sizeof(tag_filters[0]); i++) {
			const char *v = req_query(r, tag_filters[i][0]);
			if (v && *v)
				query_and(&q, tag_filters[i][1], v);
		}
	}
	const char *flavor = req_query(r, "flavor");
	if (flavor && *flavor)
		query_and(&q, "i.flavor_id = $%d", flavor);
	const char *resv = req_query(r, "reservation_id");
	if (resv && *resv)
		query_and(&q, "i.reservation_id = $%d", resv);
	const char *image = req_query(r, "image");
	if (image && *image)
		query_and(&q, "i.image_id = $%d", image);
	const char *host = req_query(r, "host");
	if (admin && host && *host)
		query_and(&q, "i.host = $%d", host);
	const char *marker = req_query(r, "marker");
	if (marker) {
		char merr[256];
		int n = uuid_lower(marker, mid) < 0
		            ? -EINVAL
		            : DBX(r->ctx->db, merr, sizeof merr,
		                  "SELECT 1 FROM instances WHERE id = $1"
		                  " AND ($2::text = '1' OR project_id = $3)",
		                  mid, admin ? "1" : "0", r->ctx->auth.project_id);
		if (n != 1) { /* the id is echoed only when it is a UUID the query ran for */
			resp_error(r, w, 400, "marker [%s] not found", n >= 0 ? mid : "?");
			return;
		}
		query_and(
		    &q,
		    "(i.created_at, i.id) < (SELECT created_at, id FROM instances WHERE id = $%d)",
		    mid);
	}
	size_t len = strlen(q.sql);
	q.params[q.n++] = limit_s;
	snprintf(q.sql + len, sizeof(q.sql) - len,
	         " ORDER BY %si.created_at DESC, i.id DESC LIMIT $%d::int",
	         in_project ? "i.project_id, " : "", q.n);

	/* the text depends only on which filters are present (a few hundred at most):
	 * each one is prepared under a name made from its text */
	char hex[65], stname[32];
	sha256_hex(q.sql, strlen(q.sql), hex);
	snprintf(stname, sizeof(stname), "servers_%.20s", hex);
	const struct db_stmt st = {stname, q.sql};
	res = db_query_stmt(r->ctx->db, &st, q.n, q.params, err, sizeof(err), sqlstate);
	if (!res) {
		if (!strncmp(sqlstate, "2201B", 5)) { /* invalid regular expression */
			resp_error(r, w, 400, "Invalid input for query parameters name.");
			return;
		}
		if (!strncmp(sqlstate, "22", 2)) { /* data exception: e.g. not UTF-8 */
			resp_error(r, w, 400, "Invalid input for query parameters.");
			return;
		}
		resp_db_error(r, w, err);
		return;
	}
	struct server_view_ctx ctx;
	struct server_extras x = {0};
	server_view_ctx_of(r, &ctx);
	if (detail && server_extras_load(r->ctx->db, res, &ctx, &x, err, sizeof(err)) < 0) {
		PQclear(res);
		resp_db_error(r, w, err);
		return;
	}
	/* written straight into the body: no tree per server (issue 6) */
	int n = PQntuples(res);
	struct jsonw out;
	jsonw_init(&out, (size_t)(detail ? 1500 : 250) * (size_t)(n + 1));
	jsonw_obj_begin(&out);
	jsonw_key(&out, "servers");
	jsonw_arr_begin(&out);
	for (int i = 0; i < n; i++) {
		struct server_row s;
		server_row_from(res, i, &s);
		server_extras_apply(&x, &s);
		if (detail)
			server_view_write_full(&out, &s, &ctx);
		else
			server_view_write_brief(&out, &s, &ctx);
	}
	jsonw_arr_end(&out);
	if (n > 0 && n == limit) {
		char *href = next_link(r, detail, limit, db_val(res, n - 1, 0));
		jsonw_key(&out, "servers_links");
		jsonw_arr_begin(&out);
		jsonw_obj_begin(&out);
		jsonw_key(&out, "rel");
		jsonw_str(&out, "next");
		jsonw_key(&out, "href");
		jsonw_str(&out, href);
		jsonw_obj_end(&out);
		jsonw_arr_end(&out);
		free(href);
	}
	jsonw_obj_end(&out);
	PQclear(res);
	server_extras_release(&x);
	resp_json_text(w, 200, &out);
}

static void servers_list(struct req *r, struct resp *w)
{
	servers_list_common(r, w, 0);
}

static void servers_detail(struct req *r, struct resp *w)
{
	servers_list_common(r, w, 1);
}

/* {"server": ...} of row 0 of res (a SERVER_COLUMNS result): show's view, or PUT's
 * (update). */
static void server_answer(struct req *r, struct resp *w, const PGresult *res, int update)
{
	char err[256];
	struct server_row s;
	struct server_view_ctx ctx;
	struct server_extras x;
	server_view_ctx_of(r, &ctx);
	ctx.update = update;
	ctx.single = 1;
	if (server_extras_load(r->ctx->db, res, &ctx, &x, err, sizeof(err)) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	server_row_from(res, 0, &s);
	server_extras_apply(&x, &s);
	char *groups = ctx.mv_minor >= 71 ? server_group_ids(r->ctx->db, s.id) : NULL;
	s.server_groups = groups;
	resp_json(w, 200, json_pack("{s:o}", "server", server_view_full(&s, &ctx)));
	free(groups);
	server_extras_release(&x);
}

static void server_show(struct req *r, struct resp *w)
{
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	server_answer(r, w, res, 0);
	PQclear(res);
}

/* ---- create ---- */

/* The POST /servers body, flattened and validated at the edge. */
struct create_req {
	json_t *server;
	char *name, *image_ref, *flavor_ref, *key_name, *user_data, *az, *admin_pass;
	char *ipv4, *ipv6, *description;
	char ip4[SERVER_IP_MAX], ip6[SERVER_IP_MAX]; /* canonical access addresses, "" none */
	long min_count, max_count;
	int config_drive, return_reservation_id;
	struct jstrmap metadata;
	json_t *security_groups, *bdm, *bdm_v2;
	char *metadata_text;    /* owned: validated metadata as JSON text */
	struct jstrlist tags;   /* 2.52 */
	struct server_bdm boot; /* boot from volume (server_bdm.c); SERVER_BDM_NONE: image */
};

static const struct jfield f_create[] = {
    {"name", J_STR, JF(struct create_req, name), 0, 255, 1, 0},
    {"imageRef", J_STR, JF(struct create_req, image_ref), 0, 1024, 0, 1},
    {"flavorRef", J_STR_OR_INT, JF(struct create_req, flavor_ref), 0, 1024, 1, 0},
    {"min_count", J_INT, JF(struct create_req, min_count), 1, SERVER_MAX_COUNT, 0, 1},
    {"max_count", J_INT, JF(struct create_req, max_count), 1, SERVER_MAX_COUNT, 0, 1},
    {"key_name", J_STR, JF(struct create_req, key_name), 0, 255, 0, 1},
    {"user_data", J_STR, JF(struct create_req, user_data), 0, SERVER_MAX_USERDATA, 0, 1},
    {"availability_zone", J_STR, JF(struct create_req, az), 0, 255, 0, 1},
    {"adminPass", J_STR, JF(struct create_req, admin_pass), 0, 255, 0, 1},
    {"accessIPv4", J_STR, JF(struct create_req, ipv4), 0, 64, 0, 1},
    {"accessIPv6", J_STR, JF(struct create_req, ipv6), 0, 64, 0, 1},
    {"description", J_STR, JF(struct create_req, description), 0, 255, 0, 1},
    {"tags", J_STRLIST, JF(struct create_req, tags), 0, SERVER_TAGS_MAX, 0, 0},
    {"config_drive", J_BOOL, JF(struct create_req, config_drive), 0, 0, 0, 1},
    {"return_reservation_id", J_BOOL, JF(struct create_req, return_reservation_id), 0, 0, 0, 1},
    {"metadata", J_STRMAP, JF(struct create_req, metadata), 0, 0, 0, 1},
    {"security_groups", J_ARRAY, JF(struct create_req, security_groups), 0, 16, 0, 1},
    {"block_device_mapping", J_ARRAY, JF(struct create_req, bdm), 0, 0, 0, 1},
    {"block_device_mapping_v2", J_ARRAY, JF(struct create_req, bdm_v2), 0, 0, 0, 1},
};

/* One entry of "security_groups": {"name": ...} and nothing else. (No group is applied
 * yet: the request is only validated.) */
struct sg_req {
	char *name;
};

static const struct jfield f_sg[] = {
    {"name", J_STR, JF(struct sg_req, name), 0, 255, 1, 0},
};

static void create_req_release(struct create_req *c)
{
	if (c->admin_pass)
		sodium_memzero(c->admin_pass, strlen(c->admin_pass));
	jparse_release(f_create, JCOUNT(f_create), c);
	free(c->metadata_text);
	c->metadata_text = NULL;
}

/* Printable, 1..255 bytes, no leading or trailing whitespace (Nova's name rule). */
int server_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* The id at the end of a reference that may be a URL (".../flavors/1"). */
const char *server_ref_id(const char *ref)
{
	const char *slash = strrchr(ref, '/');
	return slash ? slash + 1 : ref;
}

/* One entry of "networks": {uuid, port, fixed_ip} and, at 2.32-2.36 and from 2.42, a
 * device tag. Accepted and not used: tenant networks come with the network service. */
struct net_req {
	char uuid[UUID_STR_LEN], port[UUID_STR_LEN];
	char *fixed_ip, *tag;
};

static const struct jfield f_net[] = {
    {"uuid", J_UUID, JF(struct net_req, uuid), 0, 0, 0, 0},
    {"port", J_UUID, JF(struct net_req, port), 0, 0, 0, 1},
    {"fixed_ip", J_STR, JF(struct net_req, fixed_ip), 0, 64, 0, 0},
    {"tag", J_STR, JF(struct net_req, tag), 0, 255, 0, 0},
};
static const struct server_since net_since[] = {
    {"tag", 32, 37},
    {"tag", 42, 0},
};

/* Checks "networks" at 2.mv: a list of at most 16 entries of f_net; from 2.37 it is
 * required and may instead be "auto" or "none". (No network is attached for any of
 * them: the request is only validated.) */
static int parse_networks(const json_t *n, int mv, char *err, size_t errlen)
{
	char why[160];
	if (!n && mv >= 37) {
		snprintf(err, errlen,
		         "Invalid input for field/attribute server. 'networks' is a required "
		         "property");
		return -EINVAL;
	}
	if (!n || (json_is_null(n) && mv < 37))
		return 0;
	if (json_is_string(n) && mv >= 37) {
		const char *s = json_string_value(n);
		if (!strcmp(s, "auto") || !strcmp(s, "none"))
			return 0;
	} else if (json_is_array(n) && json_array_size(n) <= 16) {
		size_t i;
		json_t *v;
		json_array_foreach(n, i, v)
		{
			struct net_req net = {0};
			int rc = jparse(v, f_net, JCOUNT(f_net), &net, why, sizeof(why));
			if (rc == 0)
				rc = jparse_known(v, f_net, JCOUNT(f_net), NULL, why, sizeof(why));
			if (rc == 0)
				rc = server_since_check(v, net_since, JCOUNT(net_since), mv,
				                        "networks", why, sizeof(why));
			if (rc == 0 && net.tag && !server_tag_valid(net.tag))
				rc = -EINVAL;
			jparse_release(f_net, JCOUNT(f_net), &net);
			if (rc < 0)
				goto bad;
		}
		return 0;
	}
bad:
	snprintf(err, errlen, "Invalid input for field/attribute networks.");
	return -EINVAL;
}

/* Checks a metadata object: at most SERVER_MAX_METADATA items (else -EDQUOT, 403 in
 * Nova), keys of 1..255 bytes in Nova's charset and string values of at most 255
 * (else -EINVAL).
 * err gets the client-facing text. */
int server_metadata_check(const json_t *m, char *err, size_t errlen)
{
	if (!json_is_object(m)) {
		snprintf(err, errlen, "Invalid input for field/attribute metadata.");
		return -EINVAL;
	}
	if (json_object_size(m) > SERVER_MAX_METADATA) {
		snprintf(err, errlen,
		         "Quota exceeded for metadata_items: Maximum number of metadata items "
		         "exceeds %d",
		         SERVER_MAX_METADATA);
		return -EDQUOT;
	}
	const char *k;
	json_t *v;
	json_object_foreach((json_t *)m, k, v)
	{
		/* Nova's key pattern: ^[a-zA-Z0-9-_:. ]{1,255}$ */
		if (!wire_charset_ok(k, 255, "-_:. ") || !json_is_string(v) ||
		    json_string_length(v) > 255 ||
		    strlen(json_string_value(v)) != json_string_length(v)) {
			snprintf(err, errlen, "Invalid input for field/attribute metadata.");
			return -EINVAL;
		}
	}
	return 0;
}

/* The create request's metadata (parsed by f_create) as JSON text in c->metadata_text,
 * within the metadata_items quota (else -EDQUOT with err). */
static int parse_metadata(struct create_req *c, char *err, size_t errlen)
{
	json_t *m = jstrmap_to_json(&c->metadata);
	int rc = server_metadata_check(m, err, errlen);
	if (rc == 0)
		c->metadata_text = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return rc;
}

/* Strict base64 (standard alphabet, padded; newlines tolerated), as Nova checks it. */
int server_base64_valid(const char *s)
{
	unsigned char *bin = NULL;
	size_t n = 0;
	if (base64_decode(s, "\r\n", 0, &bin, &n) < 0)
		return 0;
	free(bin);
	return 1;
}

/* The create request's members that a microversion added. */
static const struct server_since create_since[] = {
    {"description", 19, 0},
    {"tags", 52, 0},
    {"personality", 0, 57},
    {"trusted_image_certificates", 63, 0},
};

/* Nova's description: up to 255 characters, no control characters. */
int server_description_valid(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* accessIPv4/accessIPv6 (either may be NULL) as Nova validates them, canonical into
 * out4/out6 ("" when absent). 0, or -EINVAL with Nova's message in err. */
int server_access_ips(const char *ipv4, const char *ipv6, char out4[SERVER_IP_MAX],
                      char out6[SERVER_IP_MAX], char *err, size_t errlen)
{
	out4[0] = out6[0] = '\0';
	if (ipv4 && server_access_ip(AF_INET, ipv4, out4) < 0) {
		snprintf(err, errlen,
		         "Invalid input for field/attribute accessIPv4. Value: %s. "
		         "'%s' is not a 'ipv4'",
		         ipv4, ipv4);
		return -EINVAL;
	}
	if (ipv6 && server_access_ip(AF_INET6, ipv6, out6) < 0) {
		snprintf(err, errlen,
		         "Invalid input for field/attribute accessIPv6. Value: %s. "
		         "'%s' is not a 'ipv6'",
		         ipv6, ipv6);
		return -EINVAL;
	}
	return 0;
}

static int parse_create(const json_t *body, int mv, struct create_req *c, int *status, char *err,
                        size_t errlen)
{
	*status = 400;
	memset(c, 0, sizeof(*c));
	c->server = wire_unwrap(body, "server", f_create, JCOUNT(f_create), c, err, errlen);
	if (!c->server)
		return -EINVAL;
	/* Nova 2.1's schema: no other keys, in the body or in "server" */
	static const char *const top[] = {"server", "os:scheduler_hints",
	                                  "OS-SCH-HNT:scheduler_hints", NULL};
	static const char *const nova_also[] = {"networks", "OS-DCF:diskConfig", "personality",
	                                        "trusted_image_certificates", NULL};
	char why[160];
	if (jparse_known(body, NULL, 0, top, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute body. %s", why);
		return -EINVAL;
	}
	if (jparse_known(c->server, f_create, JCOUNT(f_create), nova_also, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute server. %s", why);
		return -EINVAL;
	}
	if (server_since_check(c->server, create_since, JCOUNT(create_since), mv, "server", err,
	                       errlen) < 0)
		return -EINVAL;
	if (!server_name_valid(c->name)) {
		snprintf(err, errlen, "Invalid input for field/attribute name.");
		return -EINVAL;
	}
	/* 2.63: Nubo cannot check image signatures, so it takes no certificates to check
	 * them against (Nova refuses them too where verification is off) */
	const json_t *certs = json_object_get(c->server, "trusted_image_certificates");
	if (certs && !json_is_null(certs)) {
		snprintf(err, errlen, "Image certificate validation is not enabled.");
		return -EINVAL;
	}
	if (c->description && !server_description_valid(c->description)) {
		snprintf(err, errlen, "Invalid input for field/attribute description.");
		return -EINVAL;
	}
	if (server_access_ips(c->ipv4, c->ipv6, c->ip4, c->ip6, err, errlen) < 0)
		return -EINVAL;
	for (size_t i = 0; i < c->tags.n; i++)
		if (!server_tag_valid(c->tags.items[i])) {
			snprintf(err, errlen, "Invalid input for field/attribute tags.");
			return -EINVAL;
		}
	if (server_bdm_parse(c->bdm, c->bdm_v2, &c->boot, err, errlen) < 0)
		return -EINVAL;
	if (c->boot.source != SERVER_BDM_NONE && !c->image_ref)
		c->image_ref = xstrdup(""); /* Nova: the volume is the disk, imageRef unused */
	if (c->boot.source == SERVER_BDM_NONE &&
	    (!c->image_ref || !uuid_is_valid(server_ref_id(c->image_ref)))) {
		snprintf(err, errlen, "Invalid imageRef provided.");
		return -EINVAL;
	}
	if (!*server_ref_id(c->flavor_ref) || strlen(server_ref_id(c->flavor_ref)) > 255) {
		snprintf(err, errlen, "Invalid flavorRef provided.");
		return -EINVAL;
	}
	if (!c->min_count)
		c->min_count = 1;
	if (!c->max_count)
		c->max_count = c->min_count;
	if (c->min_count > c->max_count) {
		snprintf(err, errlen, "min_count must be <= max_count");
		return -EINVAL;
	}
	if (c->user_data && !server_base64_valid(c->user_data)) {
		snprintf(err, errlen, "User data needs to be valid base 64.");
		return -EINVAL;
	}
	if (c->security_groups) {
		size_t i;
		json_t *g;
		json_array_foreach(c->security_groups, i, g)
		{
			struct sg_req sg = {0};
			int rc = jparse(g, f_sg, JCOUNT(f_sg), &sg, why, sizeof(why));
			if (rc == 0)
				rc = jparse_known(g, f_sg, JCOUNT(f_sg), NULL, why, sizeof(why));
			if (rc == 0 && !*sg.name)
				rc = -EINVAL;
			/* the group itself is looked up with the ports (server_ports.c) */
			jparse_release(f_sg, JCOUNT(f_sg), &sg);
			if (rc < 0) {
				snprintf(err, errlen,
				         "Invalid input for field/attribute security_groups.");
				return -EINVAL;
			}
		}
	}
	if (parse_networks(json_object_get(c->server, "networks"), mv, err, errlen) < 0)
		return -EINVAL;
	int mrc = parse_metadata(c, err, errlen);
	if (mrc < 0) {
		*status = mrc == -EDQUOT ? 403 : 400;
		return -EINVAL;
	}
	return 0;
}

/* What the flavor gives an instance. */
struct flavor_info {
	char id[256];
	long vcpus, ram_mb, disk_gb;
	char *name, *ephemeral_gb, *swap_mb, *extra_specs; /* owned: the copy the server keeps */
};

/* Resolves everything the request references, answering 400 as Nova does for a bad
 * flavor, image, key pair or availability zone. On success fills fl and, when a key
 * name was given, *public_key (owned); an image of a volume-backed server (its block
 * device mapping) makes c->boot its snapshot, as Nova boots it. Returns 0 or -EINVAL
 * with the error sent. */
static int resolve_refs(struct req *r, struct resp *w, struct create_req *c, struct flavor_info *fl,
                        char **public_key)
{
	char err[512];
	int admin = policy_is_admin(&r->ctx->auth), rc = -EINVAL;
	const char *fid = server_ref_id(c->flavor_ref);
	char iid[UUID_STR_LEN] = "";
	uuid_lower(server_ref_id(c->image_ref), iid);
	PGresult *f = NULL, *k = NULL, *az = NULL;
	struct image img = {0};

	f = DBQ(r->ctx->db, err, sizeof err,
	        "SELECT id, vcpus, ram_mb, disk_gb, name, ephemeral_gb, swap_mb, extra_specs::text"
	        " FROM flavors WHERE id = $1 AND NOT disabled"
	        " AND (is_public OR $2::text = '1' OR EXISTS (SELECT 1 FROM flavor_projects fp"
	        " WHERE fp.flavor_id = flavors.id AND fp.project_id = $3))",
	        fid, admin ? "1" : "0", r->ctx->auth.project_id);
	f = wire_one_row(r, w, f, err, 400, "Flavor %s could not be found.", fid);
	if (!f)
		goto out;
	snprintf(fl->id, sizeof(fl->id), "%s", db_val(f, 0, 0));
	fl->vcpus = db_long(f, 0, 1, 0);
	fl->ram_mb = db_long(f, 0, 2, 0);
	fl->disk_gb = db_long(f, 0, 3, 0);
	fl->name = xstrdup(db_val(f, 0, 4));
	fl->ephemeral_gb = xstrdup(db_val(f, 0, 5));
	fl->swap_mb = xstrdup(db_val(f, 0, 6));
	fl->extra_specs = xstrdup(db_val(f, 0, 7));

	if (c->boot.source != SERVER_BDM_NONE) /* the volume is the disk: no image */
		goto keys;
	/* One visibility rule for showing and booting: the image service's (a member of
	 * a shared image boots it, as Nova asks Glance for the image by id). */
	int irc = image_for_boot(r, iid, &img, err, sizeof err);
	if (irc == -EIO) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (irc < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	/* Nova: an image made of a volume-backed server boots from a new volume made from
	 * its snapshot (its own bytes are none) */
	irc = server_bdm_from_image(img.props, &c->boot, err, sizeof(err));
	if (irc < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (irc > 0)
		goto keys;
	/* The compute agent boots qcow2 and raw root disks only. */
	const char *format = img.disk_format ? img.disk_format : "";
	if (strcmp(format, "qcow2") && strcmp(format, "raw")) {
		resp_error(r, w, 400,
		           "Image %s has disk_format '%s'; servers boot from qcow2 or raw.", iid,
		           format);
		goto out;
	}
	const struct image_needs needs = {
	    .size = img.size < 0 ? 0 : img.size,
	    .virtual_size = img.virtual_size,
	    .min_disk_gb = img.min_disk,
	    .min_ram_mb = img.min_ram,
	};
	/* A zero-disk flavor would give the root disk the image's own virtual size (a
	 * 100 TiB qcow2 fills the host): only admins may boot from an image on one, as in
	 * Nova, whose other users need a volume-backed server there. */
	if (fl->disk_gb <= 0 && !policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Only volume-backed servers are allowed for flavors with zero disk.");
		goto out;
	}
	if (server_flavor_fits(fl->disk_gb, fl->ram_mb, &needs, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}

keys:
	if (c->key_name) {
		k = DBQ(r->ctx->db, err, sizeof err,
		        "SELECT public_key FROM keypairs WHERE user_id = $1 AND name = $2",
		        r->ctx->auth.user_id, c->key_name);
		k = wire_one_row(r, w, k, err, 400, "Invalid key_name provided.");
		if (!k)
			goto out;
		*public_key = xstrdup(db_val(k, 0, 0));
	}

	if (c->az && *c->az && strcmp(c->az, "nova")) {
		az = DBQ(r->ctx->db, err, sizeof err,
		         "SELECT 1 FROM compute_host_zones WHERE az = $1 LIMIT 1", c->az);
		az = wire_one_row(r, w, az, err, 400,
		                  "The requested availability zone is not available");
		if (!az)
			goto out;
	}
	rc = 0;
out:
	PQclear(f);
	image_release(&img);
	PQclear(k);
	PQclear(az);
	return rc;
}

/* Largest count in [min, max] that fits the project's quota, or 0 with Nova's message
 * (for min) in msg. -EIO on a database error. Call under the project row lock. */
static long quota_fit(PGconn *db, const char *project_id, const struct flavor_info *fl, long min,
                      long max, char *msg, size_t msglen)
{
	struct quota_set lim, used, want;
	if (quota_limits(db, project_id, &lim) < 0 || quota_usage(db, project_id, &used) < 0)
		return -EIO;
	for (long n = max; n >= min; n--) {
		memset(&want, 0, sizeof(want));
		want.v[QUOTA_INSTANCES] = n;
		want.v[QUOTA_CORES] = n * fl->vcpus;
		want.v[QUOTA_RAM] = n * fl->ram_mb;
		if (quota_check(&lim, &used, &want, msg, msglen) == 0)
			return n;
	}
	memset(&want, 0, sizeof(want));
	want.v[QUOTA_INSTANCES] = min;
	want.v[QUOTA_CORES] = min * fl->vcpus;
	want.v[QUOTA_RAM] = min * fl->ram_mb;
	quota_check(&lim, &used, &want, msg, msglen);
	return 0;
}

/* "<base>-<idx>" for the idx-th server of a multiple create, within the 255 bytes a
 * name (and the bus) allows, cut on a UTF-8 character boundary. Returns owned memory. */
static char *server_multi_name(const char *base, long idx)
{
	char suffix[24];
	size_t sl = (size_t)snprintf(suffix, sizeof(suffix), "-%ld", idx), keep = strlen(base);
	if (keep + sl > 255) {
		keep = 255 - sl;
		while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80)
			keep--;
	}
	return xasprintf("%.*s%s", (int)keep, base, suffix);
}

static void server_create(struct req *r, struct resp *w)
{
	struct create_req c;
	struct flavor_info fl = {0};
	char err[512], first_id[UUID_STR_LEN] = "", pass[32], resv[16], idx[24];
	char *public_key = NULL, group[UUID_STR_LEN] = "";
	int status, began = 0;

	if (parse_create(r->json, r->ctx->mv_minor, &c, &status, err, sizeof(err)) < 0) {
		resp_error(r, w, status, "%s", err);
		goto out;
	}
	if (server_group_hint(r->json, group, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (resolve_refs(r, w, &c, &fl, &public_key) < 0)
		goto out;
	if (c.boot.source != SERVER_BDM_NONE && c.max_count > 1) {
		resp_error(r, w, 400,
		           "Block Device Mapping is Invalid: a server booted from a volume is "
		           "created alone (min_count and max_count 1).");
		goto out;
	}
	/* a server booting from a volume is created alone: its id is known first, for the
	 * root volume's placement beside it */
	char boot_id[UUID_STR_LEN] = "";
	if (c.boot.source != SERVER_BDM_NONE)
		uuid_generate_str(boot_id);
	if (server_bdm_prepare(r, w, &c.boot, c.name, boot_id) < 0)
		goto out;

	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	/* The project row lock serialises every quota-consuming write of the project. */
	int locked =
	    DBX(r->ctx->db, err, sizeof err, "SELECT id FROM projects WHERE id = $1 FOR UPDATE",
	        r->ctx->auth.project_id);
	if (locked != 1) {
		if (locked < 0)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, 400, "project %s does not exist", r->ctx->auth.project_id);
		goto out;
	}
	char qmsg[512];
	long n = quota_fit(r->ctx->db, r->ctx->auth.project_id, &fl, c.min_count, c.max_count, qmsg,
	                   sizeof(qmsg));
	if (n < 0) {
		resp_db_error(r, w, "quota lookup failed");
		goto out;
	}
	if (n == 0) {
		resp_error(r, w, 403, "%s", qmsg);
		goto out;
	}
	if (group[0] && server_group_reserve(r, w, group, n) < 0)
		goto out;
	char vcpus[24], ram[24], disk[24];
	snprintf(vcpus, sizeof(vcpus), "%ld", fl.vcpus);
	snprintf(ram, sizeof(ram), "%ld", fl.ram_mb);
	snprintf(disk, sizeof(disk), "%ld", fl.disk_gb);
	const char *az = c.az && *c.az ? c.az : "nova";
	const char *user_data = c.user_data && *c.user_data ? c.user_data : NULL;
	/* Nova's reservation id: one per request, shared by a multiple create */
	snprintf(resv, sizeof(resv), "r-");
	token_random(resv + 2, sizeof(resv) - 2, 6);
	for (long i = 0; i < n; i++) {
		char id[UUID_STR_LEN];
		if (boot_id[0])
			snprintf(id, sizeof(id), "%s", boot_id);
		else
			uuid_generate_str(id);
		/* Nova's multi_instance_display_name_template: "%(name)s-%(count)d" */
		char *name = n > 1 ? server_multi_name(c.name, i + 1) : xstrdup(c.name);
		char iid[UUID_STR_LEN] = "";
		uuid_lower(server_ref_id(c.image_ref), iid);
		/* config_drive as asked (Nova's default: none); a server without a Network
		 * API port gets one too (below): no metadata service reaches it */
		int rows = DBX(
		    r->ctx->db, err, sizeof err,
		    "INSERT INTO instances (id, name, project_id, user_id, flavor_id, image_id,"
		    " vcpus, ram_mb, disk_gb, status, vm_state, task_state, power_state, az,"
		    " key_name, public_key, user_data, config_drive, metadata, access_ipv4,"
		    " access_ipv6, description, flavor_name, flavor_ephemeral_gb, flavor_swap_mb,"
		    " flavor_extra_specs, reservation_id, launch_index) VALUES ($1, $2, $3, $4,"
		    " $5, $6, $7::int, $8::int, $9::int, 'BUILD', 'building', 'scheduling', 0,"
		    " $10, $11, $12, $13, $24::boolean, $14::jsonb, $15, $16, $17, $18,"
		    " $19::int, $20::int, $21::jsonb, $22, $23::int)",
		    id, name, r->ctx->auth.project_id, r->ctx->auth.user_id, fl.id, iid, vcpus, ram,
		    disk, az, c.key_name, public_key, user_data, c.metadata_text, c.ip4, c.ip6,
		    c.description, fl.name, fl.ephemeral_gb, fl.swap_mb, fl.extra_specs, resv,
		    (snprintf(idx, sizeof(idx), "%ld", i), idx), c.config_drive ? "true" : "false");
		free(name);
		for (size_t t = 0; rows == 1 && t < c.tags.n; t++)
			if (DBX(r->ctx->db, err, sizeof err,
			        "INSERT INTO instance_tags (instance_id, tag) VALUES ($1, $2)"
			        " ON CONFLICT DO NOTHING",
			        id, c.tags.items[t]) < 0)
				rows = -1;
		if (rows == 1 && group[0] &&
		    server_group_join(r->ctx->db, group, id, err, sizeof(err)) < 0)
			rows = -1;
		if (rows == 1 && server_bdm_claim(r, w, &c.boot, id) < 0)
			goto out;
		if (rows == 1 &&
		    server_ports_create(r, w, id, az, json_object_get(c.server, "networks"),
		                        c.security_groups) < 0)
			goto out;
		/* without a port the agent gives it a config drive anyway: say so */
		if (rows == 1 && !c.config_drive &&
		    DBX(r->ctx->db, err, sizeof err,
		        "UPDATE instances SET config_drive = true WHERE id = $1 AND NOT EXISTS"
		        " (SELECT 1 FROM net_ports p WHERE p.device_id = $1 AND" SERVER_NIC_SQL(
		            "p") ")",
		        id) < 0)
			rows = -1;
		if (rows != 1 ||
		    server_task_queue(r, id, NULL, TASK_SPAWN, "create",
		                      "compute__do_build_and_run_instance", err, sizeof(err)) < 0) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (i == 0)
			memcpy(first_id, id, sizeof(first_id));
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	began = 0;
	api_wake_scheduler(r->ctx->api);

	if (c.return_reservation_id) { /* Nova: the reservation instead of the server */
		resp_json(w, 202, json_pack("{s:s}", "reservation_id", resv));
		log_info("server %s created (%ld) in project %s", first_id, n,
		         r->ctx->auth.project_id);
		goto out;
	}
	if (c.admin_pass)
		snprintf(pass, sizeof(pass), "%.31s", c.admin_pass);
	else
		token_random(pass, sizeof(pass), 9); /* 12 characters, like Nova's */
	char *loc = xasprintf("%s/compute/v2.1/servers/%s", r->ctx->api->public_url, first_id);
	resp_header(w, "Location", loc);
	free(loc);
	json_t *srv =
	    json_pack("{s:s,s:o,s:s,s:s,s:[{s:s}]}", "id", first_id, "links",
	              wire_compute_links(r->ctx->api->public_url, "servers", first_id), "adminPass",
	              pass, "OS-DCF:diskConfig", "MANUAL", "security_groups", "name", "default");
	sodium_memzero(pass, sizeof(pass));
	resp_json(w, 202, json_pack("{s:o}", "server", srv));
	log_info("server %s created (%ld) in project %s", first_id, n, r->ctx->auth.project_id);
out:
	if (began)
		db_rollback(r->ctx->db);
	if (began || (w->status >= 300 && c.boot.created))
		server_bdm_abandon(r, &c.boot);
	free(public_key);
	free(fl.name);
	free(fl.ephemeral_gb);
	free(fl.swap_mb);
	free(fl.extra_specs);
	create_req_release(&c);
}

/* ---- delete ---- */

int server_destroy(struct req *r, struct resp *w)
{
	char err[512];
	int wake = 0;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	PGresult *res = server_find(r, w, r->params[0], 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return -ENOENT;
	}
	struct server_row s;
	server_row_from(res, 0, &s);
	int open_task = db_val(res, 0, SERVER_COL_OPEN_TASK)[0] == 't';
	int rows = 0;
	if (server_lock_check(r, w, s.id, s.locked_by) < 0) {
		PQclear(res);
		db_rollback(r->ctx->db);
		return -EBUSY;
	}
	if (s.task_state && !strcmp(s.task_state, "deleting") && open_task) {
		rows = 1; /* already on its way out */
	} else if (!s.host && !open_task) {
		/* Never placed and nothing in flight: no host holds anything of it. */
		rows = DBX(r->ctx->db, err, sizeof err,
		           "UPDATE instances SET status = 'DELETED', vm_state = 'deleted',"
		           " task_state = NULL, power_state = 0, deleted = true,"
		           " terminated_at = now(), updated_at = now() WHERE id = $1",
		           s.id);
		if (rows == 1 && instance_action_record(r->ctx->db, r, s.id, "delete",
		                                        "compute_terminate_instance", NULL, err,
		                                        sizeof(err)) < 0)
			rows = -1;
	} else {
		/* the queued task counts as the one row changed */
		rows = !server_task_queue(r, s.id, "deleting", TASK_DELETE, "delete",
		                          "compute_terminate_instance", err, sizeof(err));
		wake = 1;
	}
	if (rows == 1 && server_ports_release(r->ctx->db, s.id, err, sizeof(err)) < 0)
		rows = -1;
	if (rows != 1) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(res);
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return -EIO;
	}
	if (wake)
		api_wake_scheduler(r->ctx->api);
	return 0;
}

static void server_delete(struct req *r, struct resp *w)
{
	if (server_destroy(r, w) == 0)
		resp_empty(w, 204);
}

/* ---- update and metadata ---- */

struct update_req {
	char *name, *ipv4, *ipv6, *description;
};

static const struct jfield f_update[] = {
    {"name", J_STR, JF(struct update_req, name), 0, 255, 0, 0},
    {"accessIPv4", J_STR, JF(struct update_req, ipv4), 0, 64, 0, 1},
    {"accessIPv6", J_STR, JF(struct update_req, ipv6), 0, 64, 0, 1},
    {"description", J_STR, JF(struct update_req, description), 0, 255, 0, 1},
};
static const struct server_since update_since[] = {
    {"description", 19, 0},
};

/* PUT /servers/{id}: rename, access addresses, description (2.19); answers Nova's
 * update view (the full server from 2.75). */
static void server_update(struct req *r, struct resp *w)
{
	static const char *const also[] = {"OS-DCF:diskConfig", NULL};
	struct update_req u = {0};
	char err[512], ip4[SERVER_IP_MAX], ip6[SERVER_IP_MAX];
	PGresult *res = NULL;
	if (wire_parse_closed(r, w, "server", f_update, JCOUNT(f_update), also, &u) < 0)
		return;
	json_t *body = json_object_get(r->json, "server");
	if (server_since_check(body, update_since, JCOUNT(update_since), r->ctx->mv_minor, "server",
	                       err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (u.name && !server_name_valid(u.name)) {
		resp_error(r, w, 400, "Invalid input for field/attribute name.");
		goto out;
	}
	if (u.description && !server_description_valid(u.description)) {
		resp_error(r, w, 400, "Invalid input for field/attribute description.");
		goto out;
	}
	if (server_access_ips(u.ipv4, u.ipv6, ip4, ip6, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	/* "description": null clears it */
	int set_desc = json_object_get(body, "description") != NULL;
	res = server_find(r, w, r->params[0], 0);
	if (!res)
		goto out;
	char id[UUID_STR_LEN];
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	res = NULL;
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE instances SET name = coalesce($2, name), access_ipv4 = coalesce($3,"
	        " access_ipv4), access_ipv6 = coalesce($4, access_ipv6), description = CASE"
	        " WHEN $6::text = '1' THEN $5 ELSE description END, updated_at = now()"
	        " WHERE id = $1",
	        id, u.name, u.ipv4 ? ip4 : NULL, u.ipv6 ? ip6 : NULL, u.description,
	        set_desc ? "1" : "0") < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	res = server_find(r, w, id, 0);
	if (!res)
		goto out;
	server_answer(r, w, res, 1);
out:
	PQclear(res);
	jparse_release(f_update, JCOUNT(f_update), &u);
}

/* How a metadata write combines with what is stored. */
enum meta_op { META_MERGE, META_REPLACE, META_SET_ONE, META_DELETE_ONE };

/* Loads (and with a write, locks) the server's metadata; on write applies op with
 * `in` (borrowed) and stores the result. Returns the new metadata object (owned) or
 * NULL with the error answered. key is the {key} path segment for the _ONE ops. */
static json_t *metadata_apply(struct req *r, struct resp *w, enum meta_op op, int write,
                              const struct jstrmap *in, const char *key)
{
	char err[512];
	json_t *m = NULL;
	if (write && db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return NULL;
	}
	PGresult *res = server_find(r, w, r->params[0], write);
	if (!res)
		goto fail;
	struct server_row row;
	server_row_from(res, 0, &row);
	m = json_loads(row.metadata ? row.metadata : "{}", 0, NULL);
	if (!json_is_object(m)) {
		json_decref(m);
		m = json_object();
	}
	if (!write) {
		PQclear(res);
		return m;
	}
	if (server_lock_check(r, w, row.id, row.locked_by) < 0)
		goto fail;
	switch (op) {
	case META_REPLACE:
		json_object_clear(m);
		/* fall through */
	case META_MERGE:
	case META_SET_ONE:
		for (size_t i = 0; i < in->n; i++)
			json_object_set_new(m, in->keys[i], json_string(in->vals[i]));
		break;
	case META_DELETE_ONE:
		if (json_object_del(m, key) < 0) {
			resp_error(r, w, 404, "Metadata item was not found");
			goto fail;
		}
		break;
	}
	int rc = server_metadata_check(m, err, sizeof(err));
	if (rc < 0) {
		resp_error(r, w, rc == -EDQUOT ? 403 : 400, "%s", err);
		goto fail;
	}
	char *text = json_dumps(m, JSON_COMPACT);
	int rows =
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE instances SET metadata = $2::jsonb, updated_at = now() WHERE id = $1",
	        row.id, text);
	free(text);
	if (rows != 1 || db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, rows != 1 ? err : "commit failed");
		goto fail;
	}
	PQclear(res);
	return m;
fail:
	PQclear(res);
	json_decref(m);
	if (write)
		db_rollback(r->ctx->db);
	return NULL;
}

/* A metadata write's body, {"metadata": {...}} (or {"meta": {...}} for one key). */
struct meta_body {
	struct jstrmap items;
};

static const struct jfield f_metadata[] = {
    {"metadata", J_STRMAP, JF(struct meta_body, items), 0, 0, 1, 0},
};
static const struct jfield f_meta[] = {
    {"meta", J_STRMAP, JF(struct meta_body, items), 0, 0, 1, 0},
};

/* Parses the body under wrapper into b; 0, or -EINVAL after answering 400. */
static int metadata_body(struct req *r, struct resp *w, const char *wrapper, struct meta_body *b)
{
	char err[256];
	const struct jfield *f = strcmp(wrapper, "meta") ? f_metadata : f_meta;
	memset(b, 0, sizeof(*b));
	if (!r->json || jparse(r->json, f, 1, b, err, sizeof(err)) < 0 ||
	    jparse_known(r->json, f, 1, NULL, err, sizeof(err)) < 0) {
		jparse_release(f, 1, b);
		resp_error(r, w, 400, "Invalid input for field/attribute %s.", wrapper);
		return -EINVAL;
	}
	return 0;
}

static void meta_body_release(struct meta_body *b)
{
	jparse_release(f_metadata, 1, b);
}

static void metadata_list(struct req *r, struct resp *w)
{
	json_t *m = metadata_apply(r, w, META_MERGE, 0, NULL, NULL);
	if (m)
		resp_json(w, 200, json_pack("{s:o}", "metadata", m));
}

static void metadata_write(struct req *r, struct resp *w, enum meta_op op)
{
	struct meta_body b;
	if (metadata_body(r, w, "metadata", &b) < 0)
		return;
	json_t *m = metadata_apply(r, w, op, 1, &b.items, NULL);
	if (m)
		resp_json(w, 200, json_pack("{s:o}", "metadata", m));
	meta_body_release(&b);
}

static void metadata_merge(struct req *r, struct resp *w)
{
	metadata_write(r, w, META_MERGE);
}

static void metadata_replace(struct req *r, struct resp *w)
{
	metadata_write(r, w, META_REPLACE);
}

static void metadata_show(struct req *r, struct resp *w)
{
	json_t *m = metadata_apply(r, w, META_MERGE, 0, NULL, NULL);
	if (!m)
		return;
	json_t *v = json_object_get(m, r->params[1]);
	if (v)
		resp_json(w, 200, json_pack("{s:{s:O}}", "meta", r->params[1], v));
	else
		resp_error(r, w, 404, "Metadata item was not found");
	json_decref(m);
}

static void metadata_set_one(struct req *r, struct resp *w)
{
	struct meta_body b;
	if (metadata_body(r, w, "meta", &b) < 0)
		return;
	if (b.items.n != 1 || strcmp(b.items.keys[0], r->params[1])) {
		resp_error(r, w, 400, "Request body and URI mismatch");
		goto out;
	}
	json_t *m = metadata_apply(r, w, META_SET_ONE, 1, &b.items, r->params[1]);
	if (!m)
		goto out;
	resp_json(w, 200, json_pack("{s:o}", "meta", jstrmap_to_json(&b.items)));
	json_decref(m);
out:
	meta_body_release(&b);
}

static void metadata_delete_one(struct req *r, struct resp *w)
{
	json_t *m = metadata_apply(r, w, META_DELETE_ONE, 1, NULL, r->params[1]);
	if (!m)
		return;
	json_decref(m);
	resp_empty(w, 204);
}

/* GET /servers/{id}/ips: the server's addresses by network (server_ports.c). */
static void ips_list(struct req *r, struct resp *w)
{
	server_ports_ips(r, w, NULL);
}

/* GET /servers/{id}/ips/{network}: those on one network (server_ports.c). */
static void ips_show(struct req *r, struct resp *w)
{
	server_ports_ips(r, w, r->params[1]);
}

static const struct httpd_route routes[] = {
    {"GET", "/compute/v2.1/servers", servers_list, POL_COMPUTE_READ, 0},
    {"POST", "/compute/v2.1/servers", server_create, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/servers/detail", servers_detail, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/servers/{}", server_show, POL_COMPUTE_READ, 0},
    {"PUT", "/compute/v2.1/servers/{}", server_update, POL_COMPUTE_WRITE, 0},
    {"DELETE", "/compute/v2.1/servers/{}", server_delete, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/servers/{}/metadata", metadata_list, POL_COMPUTE_READ, 0},
    {"POST", "/compute/v2.1/servers/{}/metadata", metadata_merge, POL_COMPUTE_WRITE, 0},
    {"PUT", "/compute/v2.1/servers/{}/metadata", metadata_replace, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/servers/{}/metadata/{}", metadata_show, POL_COMPUTE_READ, 0},
    {"PUT", "/compute/v2.1/servers/{}/metadata/{}", metadata_set_one, POL_COMPUTE_WRITE, 0},
    {"DELETE", "/compute/v2.1/servers/{}/metadata/{}", metadata_delete_one, POL_COMPUTE_WRITE, 0},
    {"GET", "/compute/v2.1/servers/{}/ips", ips_list, POL_COMPUTE_READ, 0},
    {"GET", "/compute/v2.1/servers/{}/ips/{}", ips_show, POL_COMPUTE_READ, 0},
};
HTTPD_TABLE(server_routes, routes, &compute_hooks);

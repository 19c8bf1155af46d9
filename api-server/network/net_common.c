/* The Network API's shared engine: Neutron's error shape, visibility (own project,
 * shared and external networks, admin sees all), list queries with filters, fields,
 * sorting and limit/marker pagination over the resource views, quotas taken under a
 * per-project lock, and the desired-state touch that follows every layout change. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "msg.h"
#include "network.h"
#include "outbox.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

#define LIST_MAX_PARAMS 40
#define LIST_MAX_FIELDS 32
#define LIST_MAX_SORT 4
#define LIST_DEFAULT_MAX 1000 /* rows a list answers without a limit */

int net_is_admin(struct req *r)
{
	return policy_is_admin(&r->ctx->auth);
}

const char *net_project(struct req *r)
{
	return r->ctx->auth.project_id;
}

const char *net_create_project(struct req *r, struct resp *w, const char *project_id,
                               const char *tenant_id, const char *rule)
{
	const char *own = net_project(r);
	if (((project_id && strcmp(project_id, own)) || (tenant_id && strcmp(tenant_id, own))) &&
	    !net_is_admin(r)) {
		net_error(r, w, 403, "PolicyNotAuthorized", "(rule:%s) is disallowed by policy",
		          rule);
		return NULL;
	}
	return project_id ? project_id : tenant_id ? tenant_id : own;
}

void net_error(struct req *r, struct resp *w, int status, const char *type, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	resp_error_typed(r, w, status, type, msg);
}

void net_not_found(struct req *r, struct resp *w, const struct net_res *res, const char *id)
{
	char type[64], msg[256];
	snprintf(type, sizeof type, "%sNotFound", res->type);
	snprintf(msg, sizeof msg, res->notfound, id);
	resp_error_typed(r, w, 404, type, msg);
}

void net_db_error(struct req *r, struct resp *w, const char *err, const char *sqlstate,
                  const char *conflict_type, const char *conflict_msg)
{
	if (conflict_type && sqlstate &&
	    (!strcmp(sqlstate, SQLSTATE_UNIQUE) || !strcmp(sqlstate, SQLSTATE_FOREIGN_KEY))) {
		resp_error_typed(r, w, 409, conflict_type, conflict_msg);
		return;
	}
	resp_db_error(r, w, err);
}

/* ---- visibility ------------------------------------------------------------------- */

/* The WHERE part every read of res starts with: $1 the project, $2 admin. */
static void visible_sql(const struct net_res *res, char *out, size_t n)
{
	snprintf(out, n, "(v.project_id = $1 OR $2::boolean%s)",
	         res->public_rows ? " OR v.shared OR v.external" : "");
}

static int in_list(const char *s, const char *const *list)
{
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(s, list[i]))
			return 1;
	return 0;
}

/* Drops what a non-admin must not see, and keeps only fields when given. */
static json_t *shape(struct req *r, const struct net_res *res, json_t *body, const char **fields,
                     int nfields)
{
	if (!net_is_admin(r))
		for (size_t i = 0; res->admin_only && res->admin_only[i]; i++)
			json_object_del(body, res->admin_only[i]);
	if (nfields <= 0)
		return body;
	json_t *out = json_object();
	for (int i = 0; i < nfields; i++) {
		json_t *v = json_object_get(body, fields[i]);
		if (v)
			json_object_set(out, fields[i], v);
	}
	json_decref(body);
	return out;
}

json_t *net_fetch(struct req *r, const struct net_res *res, const char *id)
{
	char vis[128], sql[512], err[512];
	visible_sql(res, vis, sizeof vis);
	snprintf(sql, sizeof sql, "SELECT body::text FROM %s v WHERE v.id = $3 AND %s", res->view,
	         vis);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, net_project(r),
	                  net_is_admin(r) ? "true" : "false", id);
	json_t *body = NULL;
	if (q && PQntuples(q) == 1)
		body = json_loads(PQgetvalue(q, 0, 0), 0, NULL);
	else if (!q)
		log_warn("%s: %s lookup: %s", r->id, res->singular, err);
	PQclear(q);
	return body;
}

void net_answer(struct req *r, struct resp *w, const struct net_res *res, const char *id,
                int status)
{
	json_t *body = net_fetch(r, res, id);
	if (!body) {
		net_not_found(r, w, res, id);
		return;
	}
	const char *fields[LIST_MAX_FIELDS];
	int nf = status == 200 ? req_query_all(r, "fields", fields, LIST_MAX_FIELDS) : 0;
	resp_json(w, status, json_pack("{s:o}", res->singular, shape(r, res, body, fields, nf)));
}

void net_show(struct req *r, struct resp *w, const struct net_res *res, const char *id)
{
	net_answer(r, w, res, id, 200);
}

int net_owned(struct req *r, struct resp *w, const struct net_res *res, const char *table,
              const char *id, char *project_out, size_t n)
{
	char sql[256], err[512];
	snprintf(sql, sizeof sql, "SELECT project_id FROM %s WHERE id = $1", table);
	PGresult *q = DBQ(r->ctx->db, err, sizeof err, sql, id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int rc = 0;
	if (PQntuples(q) != 1) {
		net_not_found(r, w, res, id);
		rc = -ENOENT;
	} else if (!net_is_admin(r) && strcmp(PQgetvalue(q, 0, 0), net_project(r))) {
		json_t *seen = net_fetch(r, res, id);
		if (seen)
			net_error(r, w, 403, "PolicyNotAuthorized",
			          "(rule:update_%s and rule:delete_%s) is disallowed by policy",
			          res->singular, res->singular);
		else
			net_not_found(r, w, res, id);
		json_decref(seen);
		rc = seen ? -EACCES : -ENOENT;
	} else if (project_out) {
		snprintf(project_out, n, "%s", PQgetvalue(q, 0, 0));
	}
	PQclear(q);
	return rc;
}

/* ---- lists ------------------------------------------------------------------------ */

struct qb {
	char sql[8192];
	size_t len;
	const char *params[LIST_MAX_PARAMS];
	char *owned[LIST_MAX_PARAMS];
	int n;
	int overflow;
};

static void qb_add(struct qb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qb_add(struct qb *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(b->sql + b->len, sizeof(b->sql) - b->len, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(b->sql) - b->len)
		b->overflow = 1;
	else
		b->len += (size_t)k;
}

/* Adds a parameter (copied) and returns its number, or 0 when full. */
static int qb_param(struct qb *b, const char *v)
{
	if (b->n >= LIST_MAX_PARAMS) {
		b->overflow = 1;
		return 0;
	}
	b->owned[b->n] = xstrdup(v);
	b->params[b->n] = b->owned[b->n];
	return ++b->n;
}

static void qb_release(struct qb *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->owned[i]);
}

/* The filters of the query string as SQL conditions on v. */
static void add_filters(struct req *r, const struct net_res *res, struct qb *b)
{
	for (size_t i = 0; res->filters[i]; i++) {
		const char *k = res->filters[i];
		const char *vals[16];
		int nv = req_query_all(r, k, vals, 16);
		if (nv <= 0)
			continue;
		qb_add(b, " AND (");
		for (int j = 0; j < nv; j++) {
			const char *v = vals[j];
			char norm[8];
			if (in_list(k, res->bools)) {
				int bv = wire_bool(v);
				snprintf(norm, sizeof norm, "%s", bv == 1 ? "true" : "false");
				v = bv < 0 ? "invalid" : norm;
			}
			int p = qb_param(b, v);
			if (!strcmp(k, "tenant_id") || !strcmp(k, "project_id"))
				qb_add(b, "%sv.project_id = $%d", j ? " OR " : "", p);
			else
				qb_add(b, "%sv.body->>'%s' = $%d", j ? " OR " : "", k, p);
		}
		qb_add(b, ")");
	}
	/* tags: all of them; tags-any: one of them; not-tags, not-tags-any: the opposite */
	static const struct {
		const char *key, *op;
		int neg;
	} tagf[] = {{"tags", "?&", 0},
	            {"tags-any", "?|", 0},
	            {"not-tags", "?&", 1},
	            {"not-tags-any", "?|", 1}};
	for (size_t i = 0; i < sizeof(tagf) / sizeof(tagf[0]); i++) {
		const char *v = req_query(r, tagf[i].key);
		if (!v)
			continue;
		int p = qb_param(b, v);
		qb_add(b, " AND %s((v.body->'tags')::jsonb %s string_to_array($%d, ','))",
		       tagf[i].neg ? "NOT " : "", tagf[i].op, p);
	}
	/* ports: fixed_ips=ip_address=X / fixed_ips=subnet_id=Y (the CLI's --fixed-ip) */
	if (res == &net_res_port) {
		const char *vals[8];
		int nv = req_query_all(r, "fixed_ips", vals, 8);
		for (int j = 0; j < nv; j++) {
			const char *col = NULL, *v = NULL;
			if (!strncmp(vals[j], "ip_address=", 11))
				col = "host(i.ip)", v = vals[j] + 11;
			else if (!strncmp(vals[j], "subnet_id=", 10))
				col = "i.subnet_id", v = vals[j] + 10;
			else if (!strncmp(vals[j], "ip_address_substr=", 18))
				col = "host(i.ip) LIKE '%%' || $%d || '%%' AND ''",
				v = vals[j] + 18;
			if (!col)
				continue;
			int p = qb_param(b, v);
			if (strstr(col, "LIKE"))
				qb_add(b,
				       " AND EXISTS (SELECT 1 FROM net_ips i WHERE i.port_id = "
				       "v.id AND "
				       "strpos(host(i.ip), $%d) > 0)",
				       p);
			else
				qb_add(b,
				       " AND EXISTS (SELECT 1 FROM net_ips i WHERE i.port_id = "
				       "v.id AND "
				       "%s = $%d)",
				       col, p);
		}
	}
}

void net_list(struct req *r, struct resp *w, const struct net_res *res)
{
	struct qb b = {.len = 0};
	char vis[128], err[512];
	const char *fields[LIST_MAX_FIELDS];
	int nf = req_query_all(r, "fields", fields, LIST_MAX_FIELDS);
	const char *skeys[LIST_MAX_SORT], *sdirs[LIST_MAX_SORT];
	int nsk = req_query_all(r, "sort_key", skeys, LIST_MAX_SORT);
	int nsd = req_query_all(r, "sort_dir", sdirs, LIST_MAX_SORT);
	long limit = wire_nonneg(req_query(r, "limit"));
	const char *marker = req_query(r, "marker");
	int reverse = wire_bool(req_query(r, "page_reverse")) == 1;
	if (limit == -EINVAL) {
		net_error(r, w, 400, "BadRequest",
		          "Bad limit request: Limit must be an integer 0 or greater and not '%s'.",
		          req_query(r, "limit"));
		return;
	}
	for (int i = 0; i < nsk; i++)
		if (!in_list(skeys[i], res->filters) && strcmp(skeys[i], "id") &&
		    strcmp(skeys[i], "created_at") && strcmp(skeys[i], "updated_at")) {
			net_error(r, w, 400, "HTTPBadRequest",
			          "%s is invalid attribute for sort_key", skeys[i]);
			return;
		}
	for (int i = 0; i < nsd; i++)
		if (strcmp(sdirs[i], "asc") && strcmp(sdirs[i], "desc")) {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "%s is invalid value for sort_dir, valid values are 'asc' and 'desc'",
			    sdirs[i]);
			return;
		}
	qb_param(&b, net_project(r));
	qb_param(&b, net_is_admin(r) ? "true" : "false");
	visible_sql(res, vis, sizeof vis);
	qb_add(&b, "SELECT v.id, v.body::text FROM %s v WHERE %s", res->view, vis);
	add_filters(r, res, &b);

	/* the order: the sort keys, then id, all in the first key's direction (a row
	 * comparison continues after the marker's row); page_reverse walks backwards */
	int desc = nsd > 0 && !strcmp(sdirs[0], "desc");
	if (reverse)
		desc = !desc;
	char order[512] = "", cmp_v[512] = "", cmp_m[512] = "";
	size_t ol = 0, vl = 0, ml = 0;
	for (int i = 0; i <= nsk; i++) {
		const char *k = i < nsk ? skeys[i] : "id";
		char ev[96], em[96];
		if (!strcmp(k, "id")) {
			snprintf(ev, sizeof ev, "v.id");
			snprintf(em, sizeof em, "m.id");
		} else {
			snprintf(ev, sizeof ev, "(v.body->>'%s')", k);
			snprintf(em, sizeof em, "(m.body->>'%s')", k);
		}
		ol += (size_t)snprintf(order + ol, sizeof order - ol, "%s%s %s", i ? ", " : "", ev,
		                       desc ? "DESC" : "ASC");
		vl += (size_t)snprintf(cmp_v + vl, sizeof cmp_v - vl, "%s%s", i ? ", " : "", ev);
		ml += (size_t)snprintf(cmp_m + ml, sizeof cmp_m - ml, "%s%s", i ? ", " : "", em);
		if (!strcmp(k, "id"))
			break;
	}
	if (marker) {
		int p = qb_param(&b, marker);
		qb_add(&b, " AND (%s) %s (SELECT %s FROM %s m WHERE m.id = $%d)", cmp_v,
		       desc ? "<" : ">", cmp_m, res->view, p);
	}
	qb_add(&b, " ORDER BY %s LIMIT %ld", order,
	       limit > 0 ? limit + 1 : (limit == 0 ? LIST_DEFAULT_MAX : LIST_DEFAULT_MAX));
	if (b.overflow) {
		net_error(r, w, 400, "HTTPBadRequest", "too many filters");
		qb_release(&b);
		return;
	}
	PGresult *q = db_query(r->ctx->db, b.sql, b.n, b.params, err, sizeof err, NULL);
	qb_release(&b);
	if (!q) {
		resp_db_error(r, w, err);
		return;
	}
	int rows = PQntuples(q);
	int more = limit > 0 && rows > limit;
	if (more)
		rows = (int)limit;
	json_t *list = json_array();
	for (int i = 0; i < rows; i++) {
		int k = reverse ? rows - 1 - i : i;
		json_t *body = json_loads(PQgetvalue(q, k, 1), 0, NULL);
		if (body)
			json_array_append_new(list, shape(r, res, body, fields, nf));
	}
	json_t *out = json_pack("{s:o}", res->plural, list);
	if (limit > 0 && rows > 0) {
		json_t *links = json_array();
		char *qs = NULL;
		char lim[24];
		snprintf(lim, sizeof lim, "%ld", limit);
		const char *last = PQgetvalue(q, reverse ? 0 : rows - 1, 0);
		const char *first = PQgetvalue(q, reverse ? rows - 1 : 0, 0);
		if (more || reverse) {
			qs = wire_query_append(NULL, "limit", lim);
			qs = wire_query_append(qs, "marker", last);
			char *href = xasprintf("%s/network/v2.0/%s?%s", r->ctx->api->public_url,
			                       res->plural, qs + 1);
			json_array_append_new(links,
			                      json_pack("{s:s,s:s}", "rel", "next", "href", href));
			free(href);
			free(qs);
		}
		if (marker || (reverse && more)) {
			qs = wire_query_append(NULL, "limit", lim);
			qs = wire_query_append(qs, "marker", first);
			qs = wire_query_append(qs, "page_reverse", "True");
			char *href = xasprintf("%s/network/v2.0/%s?%s", r->ctx->api->public_url,
			                       res->plural, qs + 1);
			json_array_append_new(
			    links, json_pack("{s:s,s:s}", "rel", "previous", "href", href));
			free(href);
			free(qs);
		}
		char key[64];
		snprintf(key, sizeof key, "%s_links", res->plural);
		if (json_array_size(links))
			json_object_set_new(out, key, links);
		else
			json_decref(links);
	}
	PQclear(q);
	resp_json(w, 200, out);
}

/* ---- quotas ----------------------------------------------------------------------- */

const struct net_quota_def net_quota_defs[] = {
    {"network", 100},
    {"subnet", 100},
    {"port", 500},
    {"router", 10},
    {"floatingip", 50},
    {"security_group", 10},
    {"security_group_rule", 100},
    {"subnetpool", -1},
    {"rbac_policy", 10},
};
const size_t net_quota_ndefs = sizeof(net_quota_defs) / sizeof(net_quota_defs[0]);

long net_quota_limit(PGconn *db, const char *project, const char *resource)
{
	char err[256];
	long def = -1;
	for (size_t i = 0; i < net_quota_ndefs; i++)
		if (!strcmp(net_quota_defs[i].resource, resource))
			def = net_quota_defs[i].def;
	PGresult *q =
	    DBQ(db, err, sizeof err,
	        "SELECT hard_limit FROM net_quotas WHERE project_id = $1 AND resource = $2",
	        project, resource);
	long v = q && PQntuples(q) == 1 ? db_long(q, 0, 0, def) : def;
	PQclear(q);
	return v;
}

int net_quota_take(struct req *r, struct resp *w, PGconn *db, const char *project,
                   const char *resource, const char *count_sql)
{
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT pg_advisory_xact_lock(hashtext('netq:' || $1))", project);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(q);
	long lim = net_quota_limit(db, project, resource);
	if (lim < 0)
		return 0;
	q = DBQ(db, err, sizeof err, count_sql, project);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	long used = db_long(q, 0, 0, 0);
	PQclear(q);
	if (used + 1 > lim) {
		net_error(r, w, 409, "OverQuota", "Quota exceeded for resources: ['%s'].",
		          resource);
		return -EDQUOT;
	}
	return 0;
}

/* ---- transactions and the desired state ------------------------------------------ */

int net_tx(struct req *r, struct resp *w, int (*fn)(struct req *r, struct resp *w, void *arg),
           void *arg)
{
	PGconn *db = r->ctx->db;
	if (net_in_bulk()) /* the bulk's transaction: it commits or rolls back */
		return fn(r, w, arg);
	if (db_begin(db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	int rc = fn(r, w, arg);
	if (rc < 0) {
		db_rollback(db);
		return rc;
	}
	if (db_commit(db) < 0) {
		resp_db_error(r, w, "commit failed");
		return -EIO;
	}
	return 0;
}

int net_touch(PGconn *db, const char *request_id, char *err, size_t errlen)
{
	/* one open net.sync per host is enough: the scheduler builds the document when
	 * it sends it, so a later change is in it too */
	PGresult *q =
	    DBQ(db, err, errlen,
	        "UPDATE net_hosts h SET generation = generation + 1 RETURNING h.id, h.host,"
	        " EXISTS (SELECT 1 FROM tasks t WHERE t.resource_kind = 'nethost' AND"
	        " t.resource_id = h.id AND t.status = 'pending')");
	if (!q)
		return -EIO;
	int rc = 0;
	for (int i = 0; i < PQntuples(q) && rc == 0; i++) {
		if (!strcmp(PQgetvalue(q, i, 2), "t"))
			continue;
		char agent[MSG_HOST_MAX];
		snprintf(agent, sizeof agent, "%s.net", PQgetvalue(q, i, 1));
		struct outbox_task t = {.kind = MSG_RES_NETHOST,
		                        .resource_id = PQgetvalue(q, i, 0),
		                        .action = TASK_NET_SYNC,
		                        .host = agent,
		                        .request_id = request_id};
		rc = outbox_insert(db, &t, NULL, err, errlen);
	}
	PQclear(q);
	return rc;
}

int net_default_sg(PGconn *db, const char *project, char id[UUID_STR_LEN], char *err, size_t errlen)
{
	char nid[UUID_STR_LEN];
	uuid_generate_str(nid);
	PGresult *q =
	    DBQ(db, err, errlen,
	        "WITH g AS (INSERT INTO net_secgroups (id, project_id, name, description)"
	        " VALUES ($1, $2, 'default', 'Default security group')"
	        " ON CONFLICT (project_id) WHERE name = 'default' DO NOTHING RETURNING id),"
	        " r AS (INSERT INTO net_sg_rules (id, project_id, sg_id, direction,"
	        " ethertype, remote_group_id)"
	        " SELECT gen_random_uuid()::text, $2, g.id, d.dir, d.eth,"
	        " CASE WHEN d.dir = 'ingress' THEN g.id END FROM g,"
	        " (VALUES ('ingress', 'IPv4'), ('ingress', 'IPv6'), ('egress', 'IPv4'),"
	        " ('egress', 'IPv6')) AS d(dir, eth) RETURNING 1)"
	        " SELECT (SELECT count(*) FROM r), coalesce((SELECT id FROM g),"
	        " (SELECT id FROM net_secgroups WHERE project_id = $2 AND name = 'default'))",
	        nid, project);
	if (!q)
		return -EIO;
	if (id) {
		const char *v = db_val(q, 0, 1);
		snprintf(id, UUID_STR_LEN, "%s", v ? v : "");
	}
	PQclear(q);
	return 0;
}

/* ---- addresses -------------------------------------------------------------------- */

int net_ip_parse(const char *s, unsigned *out)
{
	unsigned a[4];
	int n = 0;
	char tail;
	if (!s || strlen(s) > 15 ||
	    sscanf(s, "%3u.%3u.%3u.%3u%n%c", &a[0], &a[1], &a[2], &a[3], &n, &tail) != 4)
		return 0;
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return 0;
	/* no leading zeros, no signs or spaces: digits and dots only */
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return 0;
	for (const char *p = s; *p; p++)
		if (*p == '0' && (p == s || p[-1] == '.') && p[1] >= '0' && p[1] <= '9')
			return 0;
	*out = a[0] << 24 | a[1] << 16 | a[2] << 8 | a[3];
	return 1;
}

int net_cidr_parse(const char *s, unsigned *addr, int *prefix)
{
	char buf[32];
	if (!s || strlen(s) >= sizeof buf)
		return 0;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	if (!slash)
		return 0;
	*slash = 0;
	const char *pl = slash + 1;
	if (!*pl || strlen(pl) > 2 || (pl[0] == '0' && pl[1]))
		return 0;
	for (const char *p = pl; *p; p++)
		if (*p < '0' || *p > '9')
			return 0;
	int len = atoi(pl);
	unsigned a;
	if (len > 32 || !net_ip_parse(buf, &a))
		return 0;
	unsigned mask = len ? 0xffffffffu << (32 - len) : 0;
	*addr = a & mask;
	*prefix = len;
	return 1;
}

int net_cidr_overlap(unsigned a, int alen, unsigned b, int blen)
{
	int len = alen < blen ? alen : blen;
	unsigned mask = len ? 0xffffffffu << (32 - len) : 0;
	return (a & mask) == (b & mask);
}

void net_ip_str(unsigned a, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

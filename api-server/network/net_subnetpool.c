/* Subnet pools (/v2.0/subnetpools, Neutron's subnet_allocation): a set of IPv4 prefixes a
 * subnet is carved from by prefix length instead of a CIDR. Prefixes are stored
 * canonical, sorted, with any prefix inside another dropped; an update may only add
 * address space. A subnet allocated from a pool is a row of net_subnet_pools; the pool
 * row is locked while one is taken, so two creates never get overlapping blocks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

#define POOL_MAX_USED 4096

static const char *const pool_filters[] = {"id",
                                           "name",
                                           "tenant_id",
                                           "project_id",
                                           "description",
                                           "shared",
                                           "is_default",
                                           "ip_version",
                                           "default_prefixlen",
                                           "min_prefixlen",
                                           "max_prefixlen",
                                           "revision_number",
                                           NULL};
static const char *const pool_bools[] = {"shared", "is_default", NULL};

const struct net_res net_res_subnetpool = {"SubnetPool",
                                           "Subnet pool %s could not be found.",
                                           "subnetpool",
                                           "subnetpools",
                                           "net_subnetpools_v",
                                           1,
                                           pool_filters,
                                           pool_bools,
                                           NULL};

/* ---- pure: prefixes --------------------------------------------------------------- */

static unsigned prefix_size(int len)
{
	return len ? 1u << (32 - len) : 0; /* 0 stands for 2^32 */
}

/* The last address of p. */
static unsigned prefix_last(struct net_prefix p)
{
	return p.addr + (prefix_size(p.len) - 1u);
}

int net_pool_pick(const struct net_prefix *pool, size_t np, const struct net_prefix *used,
                  size_t nu, int want, unsigned *out)
{
	if (want < 0 || want > 32)
		return 0;
	unsigned bs = prefix_size(want);
	for (size_t i = 0; i < np; i++) {
		if (want < pool[i].len)
			continue;
		unsigned last = prefix_last(pool[i]);
		unsigned long long a = pool[i].addr;
		while (a <= last) {
			/* the first used block that overlaps [a, a + bs) moves a past it */
			unsigned long long next = 0;
			for (size_t k = 0; k < nu; k++)
				if (net_cidr_overlap((unsigned)a, want, used[k].addr,
				                     used[k].len)) {
					unsigned long long end =
					    (unsigned long long)prefix_last(used[k]) + 1;
					if (end > next)
						next = end;
				}
			if (!next) {
				*out = (unsigned)a;
				return 1;
			}
			/* aligned up to the block size */
			unsigned long long step = bs ? bs : (1ull << 32);
			a = (next + step - 1) / step * step;
		}
	}
	return 0;
}

/* Parses the list into canonical prefixes: sorted, none inside another. n or -EINVAL
 * with the bad item in bad. */
static int prefixes_parse(const struct jstrlist *l, struct net_prefix *out, const char **bad)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		struct net_prefix p;
		if (!net_cidr_parse(l->items[i], &p.addr, &p.len)) {
			*bad = l->items[i];
			return -EINVAL;
		}
		out[n++] = p;
	}
	/* insertion sort by (addr, len): the wider of two at one address first */
	for (size_t i = 1; i < n; i++)
		for (size_t k = i;
		     k > 0 && (out[k].addr < out[k - 1].addr ||
		               (out[k].addr == out[k - 1].addr && out[k].len < out[k - 1].len));
		     k--) {
			struct net_prefix t = out[k];
			out[k] = out[k - 1];
			out[k - 1] = t;
		}
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m ||
		    !net_cidr_overlap(out[i].addr, out[i].len, out[m - 1].addr, out[m - 1].len))
			out[m++] = out[i];
	return (int)m;
}

static json_t *prefixes_json(const struct net_prefix *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char ip[16], s[24];
		net_ip_str(p[i].addr, ip);
		snprintf(s, sizeof s, "%s/%d", ip, p[i].len);
		json_array_append_new(a, json_string(s));
	}
	return a;
}

/* Reads a stored prefix list (JSON text) into out; the count. */
static size_t prefixes_load(const char *text, struct net_prefix *out, size_t max)
{
	json_t *a = json_loads(text, 0, NULL);
	size_t i, n = 0;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (n < max && net_cidr_parse(json_string_value(v), &out[n].addr, &out[n].len))
			n++;
	}
	json_decref(a);
	return n;
}

/* ---- create, update, delete -------------------------------------------------------- */

struct pool_in {
	char *name, *description, *project_id, *tenant_id, *scope;
	struct jstrlist prefixes;
	long def, min, max, quota, ip_version;
	int shared, is_default;
	int has_prefixes;
};

#define F(m) JF(struct pool_in, m)
static const struct jfield pool_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"address_scope_id", J_STR, F(scope), 0, 64, 0, 1, 0},
    {"prefixes", J_STRLIST, F(prefixes), 0, NET_POOL_MAX_PREFIXES, 0, 1, 0},
    {"default_prefixlen", J_INT, F(def), 0, 32, 0, 1, 0},
    {"min_prefixlen", J_INT, F(min), 0, 32, 0, 1, 0},
    {"max_prefixlen", J_INT, F(max), 0, 32, 0, 1, 0},
    {"default_quota", J_INT, F(quota), 0, 1L << 30, 0, 1, 0},
    {"ip_version", J_INT, F(ip_version), 0, 99, 0, 1, 0},
    {"shared", J_BOOL, F(shared), 0, 0, 0, 1, 0},
    {"is_default", J_BOOL, F(is_default), 0, 0, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(pool_fields) / sizeof(pool_fields[0]))

static void pool_in_init(struct pool_in *in)
{
	memset(in, 0, sizeof(*in));
	in->def = in->min = in->max = in->quota = in->ip_version = -1;
	in->shared = in->is_default = -1;
}

/* Parses {"subnetpool": {...}} and its prefixes; 0 or answered. */
static int pool_parse(struct req *r, struct resp *w, struct pool_in *in, struct net_prefix *p,
                      int *np)
{
	if (wire_parse_wrapped(r, w, "subnetpool", pool_fields, NFIELDS, in) < 0)
		return -EINVAL;
	json_t *o = json_object_get(r->json, "subnetpool");
	in->has_prefixes = json_object_get(o, "prefixes") != NULL;
	const char *bad = NULL;
	if (in->ip_version == 6) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: IPv6 subnet pools are not supported.");
		return -EINVAL;
	}
	if (in->scope) {
		net_error(r, w, 404, "AddressScopeNotFound", "Address scope %s could not be found.",
		          in->scope);
		return -ENOENT;
	}
	int n = prefixes_parse(&in->prefixes, p, &bad);
	if (n < 0) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for prefixes. Reason: '%s' is not a valid IP subnet.",
		          bad);
		return -EINVAL;
	}
	*np = n;
	return 0;
}

static int pool_admin_attrs(struct req *r, struct resp *w, const struct pool_in *in,
                            const char *verb)
{
	if (net_is_admin(r))
		return 0;
	const char *attr = in->shared >= 0                                            ? "shared"
	                   : in->is_default >= 0                                      ? "is_default"
	                   : in->project_id && strcmp(in->project_id, net_project(r)) ? "project_id"
	                   : in->tenant_id && strcmp(in->tenant_id, net_project(r))   ? "tenant_id"
	                                                                              : NULL;
	if (!attr)
		return 0;
	net_error(r, w, 403, "PolicyNotAuthorized",
	          "(rule:%s_subnetpool and rule:%s_subnetpool:%s) is disallowed by policy", verb,
	          verb, attr);
	return -EACCES;
}

static int pool_bounds(struct req *r, struct resp *w, long def, long min, long max)
{
	if (min <= def && def <= max)
		return 0;
	net_error(r, w, 400, "IllegalSubnetPoolPrefixBounds",
	          "Illegal prefix bounds: min_prefixlen=%ld, default_prefixlen=%ld, "
	          "max_prefixlen=%ld.",
	          min, def, max);
	return -EINVAL;
}

struct pool_create {
	struct pool_in in;
	const char *project;
	char *prefixes; /* JSON text, owned */
	char def[24], min[24], max[24], quota[24];
	char id[UUID_STR_LEN];
};

static int pool_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct pool_create *c = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	if (net_quota_take(r, w, db, c->project, "subnetpool",
	                   "SELECT count(*) FROM net_subnetpools WHERE project_id = $1") < 0)
		return -EDQUOT;
	uuid_generate_str(c->id);
	if (DBX(db, err, sizeof err,
	        "INSERT INTO net_subnetpools (id, project_id, name, description, prefixes,"
	        " default_prefixlen, min_prefixlen, max_prefixlen, shared, is_default,"
	        " default_quota) VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::jsonb,"
	        " $6::int, $7::int, $8::int, $9::boolean, $10::boolean, $11::int)",
	        c->id, c->project, c->in.name, c->in.description, c->prefixes, c->def, c->min,
	        c->max, c->in.shared == 1 ? "true" : "false",
	        c->in.is_default == 1 ? "true" : "false", c->quota[0] ? c->quota : NULL) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void pool_create(struct req *r, struct resp *w)
{
	if (net_bulk(r, w, &net_res_subnetpool, pool_create))
		return;
	struct pool_create c = {.prefixes = NULL};
	struct net_prefix p[NET_POOL_MAX_PREFIXES];
	int np = 0;
	pool_in_init(&c.in);
	if (pool_parse(r, w, &c.in, p, &np) < 0 || pool_admin_attrs(r, w, &c.in, "create") < 0)
		goto out;
	if (np == 0) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Failed to parse request. Required attribute 'prefixes' not specified");
		goto out;
	}
	long min = c.in.min >= 0 ? c.in.min : 8, max = c.in.max >= 0 ? c.in.max : 32;
	long def = c.in.def >= 0 ? c.in.def : min;
	if (pool_bounds(r, w, def, min, max) < 0)
		goto out;
	snprintf(c.def, sizeof c.def, "%ld", def);
	snprintf(c.min, sizeof c.min, "%ld", min);
	snprintf(c.max, sizeof c.max, "%ld", max);
	if (c.in.quota >= 0)
		snprintf(c.quota, sizeof c.quota, "%ld", c.in.quota);
	json_t *pj = prefixes_json(p, (size_t)np);
	c.prefixes = json_dumps(pj, JSON_COMPACT);
	json_decref(pj);
	if (!(c.project =
	          net_create_project(r, w, c.in.project_id, c.in.tenant_id, "create_subnetpool")))
		goto out;
	if (net_tx(r, w, pool_create_tx, &c) == 0)
		net_answer(r, w, &net_res_subnetpool, c.id, 201);
out:
	free(c.prefixes);
	jparse_release(pool_fields, NFIELDS, &c.in);
}

static void pool_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_subnetpool);
}

static void pool_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_subnetpool, r->params[0]);
}

struct pool_update {
	struct pool_in in;
	const char *id;
	struct net_prefix p[NET_POOL_MAX_PREFIXES];
	int np;
};

static int pool_update_tx(struct req *r, struct resp *w, void *arg)
{
	struct pool_update *u = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT prefixes::text, default_prefixlen, min_prefixlen, max_prefixlen"
	                  " FROM net_subnetpools WHERE id = $1 FOR UPDATE",
	                  u->id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (PQntuples(q) != 1) {
		PQclear(q);
		net_not_found(r, w, &net_res_subnetpool, u->id);
		return -ENOENT;
	}
	struct net_prefix old[NET_POOL_MAX_PREFIXES];
	size_t nold = prefixes_load(PQgetvalue(q, 0, 0), old, NET_POOL_MAX_PREFIXES);
	long def = u->in.def >= 0 ? u->in.def : db_long(q, 0, 1, 0);
	long min = u->in.min >= 0 ? u->in.min : db_long(q, 0, 2, 0);
	long max = u->in.max >= 0 ? u->in.max : db_long(q, 0, 3, 0);
	PQclear(q);
	if (pool_bounds(r, w, def, min, max) < 0)
		return -EINVAL;
	char *prefixes = NULL;
	if (u->in.has_prefixes) {
		/* only growing: every old prefix must lie inside a new one */
		for (size_t i = 0; i < nold; i++) {
			int in = 0;
			for (int k = 0; k < u->np && !in; k++)
				in = u->p[k].len <= old[i].len &&
				     net_cidr_overlap(u->p[k].addr, u->p[k].len, old[i].addr,
				                      old[i].len);
			if (!in) {
				char ip[16];
				net_ip_str(old[i].addr, ip);
				net_error(r, w, 400, "IllegalSubnetPoolPrefixUpdate",
				          "Illegal update to prefixes: %s/%d would be removed from "
				          "the subnet pool.",
				          ip, old[i].len);
				return -EINVAL;
			}
		}
		json_t *pj = prefixes_json(u->p, (size_t)u->np);
		prefixes = json_dumps(pj, JSON_COMPACT);
		json_decref(pj);
	}
	char sd[24], smin[24], smax[24], isd[16];
	snprintf(sd, sizeof sd, "%ld", def);
	snprintf(smin, sizeof smin, "%ld", min);
	snprintf(smax, sizeof smax, "%ld", max);
	snprintf(isd, sizeof isd, "%d", u->in.is_default);
	int n = DBX(db, err, sizeof err,
	            "UPDATE net_subnetpools SET name = coalesce($2, name),"
	            " description = coalesce($3, description),"
	            " prefixes = coalesce($4::jsonb, prefixes), default_prefixlen = $5::int,"
	            " min_prefixlen = $6::int, max_prefixlen = $7::int,"
	            " is_default = CASE WHEN $8::int < 0 THEN is_default ELSE $8::int = 1 END,"
	            " updated_at = now(), revision = revision + 1 WHERE id = $1",
	            u->id, u->in.name, u->in.description, prefixes, sd, smin, smax, isd);
	free(prefixes);
	if (n < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void pool_update(struct req *r, struct resp *w)
{
	struct pool_update u = {.id = r->params[0]};
	pool_in_init(&u.in);
	if (pool_parse(r, w, &u.in, u.p, &u.np) < 0)
		goto out;
	if (u.in.shared >= 0 || u.in.project_id || u.in.tenant_id) {
		net_error(r, w, 400, "HTTPBadRequest", "Cannot update read-only attribute %s",
		          u.in.shared >= 0 ? "shared" : "project_id");
		goto out;
	}
	if (u.in.has_prefixes && u.np == 0) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for prefixes. Reason: must not be empty.");
		goto out;
	}
	if (pool_admin_attrs(r, w, &u.in, "update") < 0 ||
	    net_owned(r, w, &net_res_subnetpool, "net_subnetpools", u.id, NULL, 0) < 0)
		goto out;
	if (net_tx(r, w, pool_update_tx, &u) == 0)
		net_answer(r, w, &net_res_subnetpool, u.id, 200);
out:
	jparse_release(pool_fields, NFIELDS, &u.in);
}

static int pool_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	int used = DBX(db, err, sizeof err,
	               "SELECT 1 FROM net_subnetpools p JOIN net_subnet_pools s ON s.pool_id = p.id"
	               " WHERE p.id = $1 FOR UPDATE OF p",
	               id);
	if (used > 0) {
		net_error(
		    r, w, 409, "SubnetPoolInUse",
		    "Unable to complete operation on subnet pool %s. Subnet pool has existing "
		    "allocations.",
		    id);
		return -EBUSY;
	}
	if (used < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_subnetpools WHERE id = $1", id) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void pool_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_subnetpool, "net_subnetpools", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, pool_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

/* ---- subnets from a pool ------------------------------------------------------------ */

/* The pool's subnets' CIDRs into used; the count, or -EIO with err. */
static int pool_used(PGconn *db, const char *pool_id, struct net_prefix *used, size_t max,
                     const char *cidr, char *err, size_t errlen)
{
	PGresult *q = DBQ(db, err, errlen,
	                  "SELECT s.cidr::text FROM net_subnet_pools sp JOIN net_subnets s ON"
	                  " s.id = sp.subnet_id WHERE sp.pool_id = $1 AND"
	                  " ($2::cidr IS NULL OR s.cidr && $2::cidr) ORDER BY s.cidr LIMIT 4096",
	                  pool_id, cidr);
	if (!q)
		return -EIO;
	size_t n = 0;
	for (int i = 0; i < PQntuples(q) && n < max; i++)
		if (net_cidr_parse(PQgetvalue(q, i, 0), &used[n].addr, &used[n].len))
			n++;
	PQclear(q);
	return (int)n;
}

int net_subnetpool_choose(struct req *r, struct resp *w, PGconn *db, const char *pool_id,
                          const char *cidr, long prefixlen, char out[24])
{
	char err[512];
	json_t *seen = net_fetch(r, &net_res_subnetpool, pool_id);
	if (!seen) {
		net_not_found(r, w, &net_res_subnetpool, pool_id);
		return -ENOENT;
	}
	json_decref(seen);
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT prefixes::text, default_prefixlen, min_prefixlen, max_prefixlen"
	                  " FROM net_subnetpools WHERE id = $1",
	                  pool_id);
	if (!q || PQntuples(q) != 1) {
		if (q)
			net_not_found(r, w, &net_res_subnetpool, pool_id);
		else
			resp_db_error(r, w, err);
		PQclear(q);
		return q ? -ENOENT : -EIO;
	}
	struct net_prefix pool[NET_POOL_MAX_PREFIXES];
	size_t np = prefixes_load(PQgetvalue(q, 0, 0), pool, NET_POOL_MAX_PREFIXES);
	long def = db_long(q, 0, 1, 0), min = db_long(q, 0, 2, 0), max = db_long(q, 0, 3, 32);
	PQclear(q);
	struct net_prefix want = {0, (int)(prefixlen >= 0 ? prefixlen : def)};
	if (cidr && !net_cidr_parse(cidr, &want.addr, &want.len)) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for cidr. Reason: '%s' is not a valid IP subnet.", cidr);
		return -EINVAL;
	}
	if (want.len > max || want.len < min) {
		net_error(r, w, 400,
		          want.len > max ? "MaxPrefixSubnetAllocationError"
		                         : "MinPrefixSubnetAllocationError",
		          "Unable to allocate subnet with prefix length %d, %s allowed prefix is "
		          "%ld.",
		          want.len, want.len > max ? "maximum" : "minimum",
		          want.len > max ? max : min);
		return -EINVAL;
	}
	static __thread struct net_prefix used[POOL_MAX_USED];
	int nu = pool_used(db, pool_id, used, POOL_MAX_USED, NULL, err, sizeof err);
	if (nu < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	unsigned addr;
	if (cidr) {
		/* the block must be free and inside the pool: pick it from itself */
		int inside = 0;
		for (size_t i = 0; i < np && !inside; i++)
			inside = pool[i].len <= want.len &&
			         net_cidr_overlap(pool[i].addr, pool[i].len, want.addr, want.len);
		if (!inside || !net_pool_pick(&want, 1, used, (size_t)nu, want.len, &addr)) {
			net_error(
			    r, w, 409, "SubnetAllocationError",
			    "Failed to allocate subnet: Cannot allocate requested subnet from "
			    "the available set of prefixes.");
			return -EBUSY;
		}
	} else if (!net_pool_pick(pool, np, used, (size_t)nu, want.len, &addr)) {
		net_error(r, w, 409, "SubnetAllocationError",
		          "Failed to allocate subnet: Insufficient prefix space to allocate subnet "
		          "size /%d.",
		          want.len);
		return -EBUSY;
	}
	char ip[16];
	net_ip_str(addr, ip);
	snprintf(out, 24, "%s/%d", ip, want.len);
	return 0;
}

int net_subnetpool_lock(PGconn *db, const char *pool_id, int lock)
{
	char err[256];
	/* in a bulk the hold lives as long as its transaction, as the pool row its claim
	 * locks does: a session hold given back after item 1 would let another request take
	 * it and then wait for the row while item 2 waits for the hold (a deadlock) */
	if (net_in_bulk() && !lock)
		return 0;
	return DBX(db, err, sizeof err,
	           net_in_bulk() ? "SELECT pg_advisory_xact_lock(hashtext('netpool:' || $1))"
	           : lock        ? "SELECT pg_advisory_lock(hashtext('netpool:' || $1))"
	                         : "SELECT pg_advisory_unlock(hashtext('netpool:' || $1))",
	           pool_id) < 0
	           ? -EIO
	           : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int net_subnetpool_lock_bulk(PGconn *db, const json_t *items)
{
	const char *ids[NET_BULK_MAX];
	size_t n = 0, i;
	json_t *item;
	json_array_foreach(items, i, item)
	{
		const char *id = json_string_value(json_object_get(item, "subnetpool_id"));
		if (id && n < NET_BULK_MAX)
			ids[n++] = id;
	}
	qsort(ids, n, sizeof(ids[0]), cmp_str); /* one order for every bulk */
	for (i = 0; i < n; i++)
		if ((i == 0 || strcmp(ids[i], ids[i - 1])) &&
		    net_subnetpool_lock(db, ids[i], 1) < 0)
			return -EIO;
	return 0;
}

int net_subnetpool_claim_tx(struct req *r, struct resp *w, PGconn *db, const char *pool_id,
                            const char *subnet_id, const char *cidr)
{
	char err[512];
	int n = DBX(db, err, sizeof err, "SELECT 1 FROM net_subnetpools WHERE id = $1 FOR UPDATE",
	            pool_id);
	if (n == 0) {
		net_not_found(r, w, &net_res_subnetpool, pool_id);
		return -ENOENT;
	}
	struct net_prefix clash[1];
	int nu = n < 0 ? -EIO : pool_used(db, pool_id, clash, 1, cidr, err, sizeof err);
	if (nu < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (nu > 0) {
		net_error(r, w, 409, "SubnetAllocationError",
		          "Failed to allocate subnet: %s was allocated from the pool concurrently.",
		          cidr);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err,
	        "INSERT INTO net_subnet_pools (subnet_id, pool_id) VALUES ($1, $2)", subnet_id,
	        pool_id) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static const struct httpd_route pool_route_list[] = {
    {"GET", "/network/v2.0/subnetpools", pool_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/subnetpools", pool_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/subnetpools/{}", pool_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/subnetpools/{}", pool_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/subnetpools/{}", pool_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(subnetpool_routes, pool_route_list, &network_hooks);

/* Nova os-quota-sets (show, defaults, detail, update, delete) and os-quota-class-sets
 * (show, update). instances, cores, ram and key_pairs come from quota.h and are
 * enforced; the other keys are stored and reported but nothing consumes them yet. Each
 * key is shown at the microversions Nova shows it (network quotas leave the quota sets
 * at 2.36 and the classes at 2.50, injected files both at 2.57). The default class's
 * values are the defaults every project starts from. */
#include "compute/quota_sets.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jparse.h"
#include "policy.h"
#include "quota.h"
#include "wire.h"

#define UNSET LONG_MIN

/* Every key of a 2.1 quota set, in Nova's order; res < 0 marks keys not enforced. */
static const struct qkey {
	const char *name;
	long def; /* for res < 0; enforced keys take quota_defaults() */
	int res;
	int sets_until;               /* quota sets show it below 2.<sets_until> (0: always) */
	int class_since, class_until; /* quota classes show it in [2.since, 2.until) */
} qkeys[] = {
    {"instances", 0, QUOTA_INSTANCES, 0, 0, 0},
    {"cores", 0, QUOTA_CORES, 0, 0, 0},
    {"ram", 0, QUOTA_RAM, 0, 0, 0},
    {"key_pairs", 0, QUOTA_KEY_PAIRS, 0, 0, 0},
    {"metadata_items", 128, -1, 0, 0, 0},
    {"injected_files", 5, -1, 57, 0, 57},
    {"injected_file_content_bytes", 10240, -1, 57, 0, 57},
    {"injected_file_path_bytes", 255, -1, 57, 0, 57},
    {"server_groups", 10, -1, 0, 50, 0},
    {"server_group_members", 10, -1, 0, 50, 0},
    {"floating_ips", 10, -1, 36, 0, 50},
    {"fixed_ips", -1, -1, 36, 0, 50},
    {"security_groups", 10, -1, 36, 0, 50},
    {"security_group_rules", 20, -1, 36, 0, 50},
};
#define NQKEYS ((int)(sizeof(qkeys) / sizeof(qkeys[0])))

/* Whether key i belongs to a quota set (class = 0) or a quota class (1) at 2.mv. */
static int qkey_shown(int i, int mv, int class)
{
	const struct qkey *k = &qkeys[i];
	if (class)
		return mv >= k->class_since && (!k->class_until || mv < k->class_until);
	return !k->sets_until || mv < k->sets_until;
}

/* The values of quota class name: Nova's defaults overlaid with the class's rows. */
static int qs_class(PGconn *db, const char *name, long out[NQKEYS])
{
	char err[256];
	struct quota_set d;
	quota_defaults(&d);
	for (int i = 0; i < NQKEYS; i++)
		out[i] = qkeys[i].res >= 0 ? d.v[qkeys[i].res] : qkeys[i].def;
	PGresult *res =
	    DBQ(db, err, sizeof err,
	        "SELECT resource, hard_limit FROM quota_classes WHERE class_name = $1", name);
	if (!res)
		return -EIO;
	for (int k = 0; k < PQntuples(res); k++)
		for (int i = 0; i < NQKEYS; i++)
			if (!strcmp(db_val(res, k, 0), qkeys[i].name))
				out[i] = db_long(res, k, 1, out[i]);
	PQclear(res);
	return 0;
}

static int qs_defaults(PGconn *db, long out[NQKEYS])
{
	return qs_class(db, "default", out);
}

/* The project's limits for every key. 0 or -EIO. */
static int qs_load(PGconn *db, const char *pid, long out[NQKEYS])
{
	char err[256];
	struct quota_set lim;
	if (qs_defaults(db, out) < 0 || quota_limits(db, pid, &lim) < 0)
		return -EIO;
	PGresult *res = DBQ(db, err, sizeof err,
	                    "SELECT resource, hard_limit FROM quotas WHERE project_id = $1", pid);
	if (!res)
		return -EIO;
	for (int i = 0; i < NQKEYS; i++) {
		if (qkeys[i].res >= 0) {
			out[i] = lim.v[qkeys[i].res];
			continue;
		}
		for (int k = 0; k < PQntuples(res); k++)
			if (!strcmp(db_val(res, k, 0), qkeys[i].name))
				out[i] = db_long(res, k, 1, out[i]);
	}
	PQclear(res);
	return 0;
}

/* What is in use per key: instances/cores/ram of the project, key_pairs of the caller
 * (Nova counts key pairs per user), 0 for keys nothing consumes. 0 or -EIO. */
static int qs_in_use(struct req *r, const char *pid, long out[NQKEYS])
{
	char err[256];
	struct quota_set used;
	if (quota_usage(r->ctx->db, pid, &used) < 0)
		return -EIO;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, "SELECT count(*) FROM keypairs WHERE user_id = $1",
	        r->ctx->auth.user_id);
	if (!res)
		return -EIO;
	used.v[QUOTA_KEY_PAIRS] = db_long(res, 0, 0, 0);
	PQclear(res);
	for (int i = 0; i < NQKEYS; i++)
		out[i] = qkeys[i].res >= 0 ? used.v[qkeys[i].res] : 0;
	return 0;
}

/* {"id"?: pid, key: limit...} with the keys of a quota set (class = 0) or class (1)
 * at 2.mv. */
static json_t *qs_json(const char *pid, const long v[NQKEYS], int mv, int class)
{
	json_t *q = json_object();
	if (pid)
		json_object_set_new(q, "id", json_string(pid));
	for (int i = 0; i < NQKEYS; i++)
		if (qkey_shown(i, mv, class))
			json_object_set_new(q, qkeys[i].name, json_integer(v[i]));
	return q;
}

/* A reader sees its own project's quotas; only an admin sees another's. */
static int qs_may_read(struct req *r, struct resp *w, const char *pid)
{
	if (!strcmp(pid, r->ctx->auth.project_id) || policy_is_admin(&r->ctx->auth))
		return 0;
	resp_error(r, w, 403,
	           "Policy doesn't allow os_compute_api:os-quota-sets:show to be "
	           "performed.");
	return -EACCES;
}

void quota_sets_show(struct req *r, struct resp *w)
{
	long v[NQKEYS];
	const char *pid = r->params[0];
	if (qs_may_read(r, w, pid) < 0)
		return;
	if (qs_load(r->ctx->db, pid, v) < 0) {
		resp_db_error(r, w, "quota load failed");
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "quota_set", qs_json(pid, v, r->ctx->mv_minor, 0)));
}

void quota_sets_defaults(struct req *r, struct resp *w)
{
	long v[NQKEYS];
	if (qs_defaults(r->ctx->db, v) < 0) {
		resp_db_error(r, w, "quota defaults failed");
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:o}", "quota_set", qs_json(r->params[0], v, r->ctx->mv_minor, 0)));
}

void quota_sets_detail(struct req *r, struct resp *w)
{
	long lim[NQKEYS], used[NQKEYS];
	const char *pid = r->params[0];
	if (qs_may_read(r, w, pid) < 0)
		return;
	if (qs_load(r->ctx->db, pid, lim) < 0 || qs_in_use(r, pid, used) < 0) {
		resp_db_error(r, w, "quota load failed");
		return;
	}
	json_t *q = json_pack("{s:s}", "id", pid);
	for (int i = 0; i < NQKEYS; i++)
		if (qkey_shown(i, r->ctx->mv_minor, 0))
			json_object_set_new(q, qkeys[i].name,
			                    json_pack("{s:I,s:I,s:i}", "in_use",
			                              (json_int_t)used[i], "limit",
			                              (json_int_t)lim[i], "reserved", 0));
	resp_json(w, 200, json_pack("{s:o}", "quota_set", q));
}

struct quota_in {
	long v[NQKEYS]; /* UNSET when absent */
	int force;
};

/* Parses {"quota_set": {key: int|"int", ..., "force"?}}; unknown keys are refused as
 * Nova does. Answers 400 and returns -EINVAL on bad input. */
static int qs_parse(struct req *r, struct resp *w, const char *wrapper, int class,
                    struct quota_in *in)
{
	char err[256];
	struct jfield f[NQKEYS + 1];
	for (int i = 0; i < NQKEYS; i++) {
		in->v[i] = UNSET;
		f[i] = (struct jfield){qkeys[i].name,
		                       J_INT,
		                       offsetof(struct quota_in, v) + (size_t)i * sizeof(long),
		                       -1,
		                       INT_MAX,
		                       0,
		                       0};
	}
	in->force = 0;
	f[NQKEYS] = (struct jfield){"force", J_BOOL, offsetof(struct quota_in, force), 0, 0, 0, 1};
	json_t *body =
	    wire_unwrap(r->json, wrapper, f, NQKEYS + (class ? 0 : 1), in, err, sizeof(err));
	if (!body) {
		resp_error(r, w, 400, "%s", err);
		return -EINVAL;
	}
	const char *key;
	json_t *val;
	json_object_foreach(body, key, val)
	{
		int known = !class && !strcmp(key, "force");
		for (int i = 0; i < NQKEYS && !known; i++)
			known =
			    !strcmp(key, qkeys[i].name) && qkey_shown(i, r->ctx->mv_minor, class);
		if (!known) {
			/* echo only a short key: a cut could split a UTF-8 sequence */
			resp_error(
			    r, w, 400,
			    "Invalid input for field/attribute %s. Additional properties are "
			    "not allowed ('%s' was unexpected)",
			    wrapper, strlen(key) <= 64 ? key : "");
			return -EINVAL;
		}
	}
	return 0;
}

/* Inside the caller's transaction: every limit in sets stores with upsert ($1 owner,
 * the project or the class; $2 the resource; $3 the limit). 0, or answers and < 0. */
static int qs_store(struct req *r, struct resp *w, const struct quota_in *in, const char *owner,
                    const char *upsert)
{
	char err[256];
	for (int i = 0; i < NQKEYS; i++) {
		if (in->v[i] == UNSET)
			continue;
		char val[24];
		snprintf(val, sizeof(val), "%ld", in->v[i]);
		if (DBX(r->ctx->db, err, sizeof err, upsert, owner, qkeys[i].name, val) < 0) {
			resp_db_error(r, w, err);
			return -EIO;
		}
	}
	return 0;
}

void quota_sets_update(struct req *r, struct resp *w)
{
	char err[256];
	struct quota_in in;
	long used[NQKEYS], v[NQKEYS];
	const char *pid = r->params[0];
	if (qs_parse(r, w, "quota_set", 0, &in) < 0)
		return;
	/* The project row lock orders this against instance creates checking quota. */
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM projects WHERE id = $1 FOR UPDATE",
	            pid);
	if (n != 1) {
		if (n < 0)
			resp_db_error(r, w, err);
		else
			resp_error(r, w, 400, "Project ID %s is not a valid project.", pid);
		return;
	}
	if (!in.force) {
		if (qs_in_use(r, pid, used) < 0) {
			resp_db_error(r, w, "quota usage failed");
			return;
		}
		for (int i = 0; i < NQKEYS; i++)
			if (qkeys[i].res >= 0 && qkeys[i].res != QUOTA_KEY_PAIRS &&
			    in.v[i] != UNSET && in.v[i] >= 0 && in.v[i] < used[i]) {
				resp_error(
				    r, w, 400,
				    "Quota limit %ld for %s must be greater than or equal to "
				    "already used and reserved %ld.",
				    in.v[i], qkeys[i].name, used[i]);
				return;
			}
	}
	if (qs_store(r, w, &in, pid,
	             "INSERT INTO quotas (project_id, resource, hard_limit)"
	             " VALUES ($1, $2, $3::bigint) ON CONFLICT (project_id, resource)"
	             " DO UPDATE SET hard_limit = EXCLUDED.hard_limit") < 0)
		return; /* db_release rolls back */
	if (db_commit(r->ctx->db) < 0 || qs_load(r->ctx->db, pid, v) < 0) {
		resp_db_error(r, w, "quota update failed");
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "quota_set", qs_json(NULL, v, r->ctx->mv_minor, 0)));
}

void quota_sets_delete(struct req *r, struct resp *w)
{
	char err[256];
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM quotas WHERE project_id = $1",
	        r->params[0]) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 202);
}

/* A quota class name: Nova's 1..255 characters of [a-zA-Z0-9-_]... we take the same. */
static int class_name_ok(struct req *r, struct resp *w, const char *name)
{
	if (wire_charset_ok(name, 255, "-_"))
		return 0;
	resp_error(r, w, 400, "Invalid input for field/attribute id.");
	return -EINVAL;
}

void quota_classes_show(struct req *r, struct resp *w)
{
	long v[NQKEYS];
	const char *name = r->params[0];
	if (class_name_ok(r, w, name) < 0)
		return;
	if (qs_class(r->ctx->db, name, v) < 0) {
		resp_db_error(r, w, "quota class load failed");
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:o}", "quota_class_set", qs_json(name, v, r->ctx->mv_minor, 1)));
}

void quota_classes_update(struct req *r, struct resp *w)
{
	struct quota_in in;
	long v[NQKEYS];
	const char *name = r->params[0];
	if (class_name_ok(r, w, name) < 0 || qs_parse(r, w, "quota_class_set", 1, &in) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	if (qs_store(r, w, &in, name,
	             "INSERT INTO quota_classes (class_name, resource, hard_limit)"
	             " VALUES ($1, $2, $3::bigint) ON CONFLICT (class_name, resource)"
	             " DO UPDATE SET hard_limit = EXCLUDED.hard_limit") < 0)
		return; /* db_release rolls back */
	if (db_commit(r->ctx->db) < 0 || qs_class(r->ctx->db, name, v) < 0) {
		resp_db_error(r, w, "quota class update failed");
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:o}", "quota_class_set", qs_json(NULL, v, r->ctx->mv_minor, 1)));
}

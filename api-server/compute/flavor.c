/* Compute flavors (/compute/v2.1/flavors): list, detail, show, admin-only create and
 * delete, and the os-extra_specs key/value map of each flavor. Microversions: a
 * description (2.55, also the admin's PUT), extra_specs inside the flavor (2.61), swap
 * 0 rather than "" (2.75). A private flavor is visible to admins and to the projects
 * os-flavor-access shares it with. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compute/flavor.h"
#include "compute/server.h"
#include "disk_qos.h"
#include "jparse.h"
#include "jsonw.h"
#include "policy.h"
#include "routes.h"
#include "wire.h"

#define FLAVOR_COLS                                                                                \
	"id, name, ram_mb, disk_gb, vcpus, swap_mb, ephemeral_gb, rxtx_factor, is_public, "        \
	"disabled, description, extra_specs::text"
#define FLAVOR_ID_MAX 255
#define FLAVOR_NAME_MAX 255
#define SPEC_KEY_MAX 255
#define SPEC_VALUE_MAX 255
#define SPECS_MAX 100 /* keys per flavor */
#define FLAVOR_DESCRIPTION_MAX 65535
#define LIST_LIMIT_MAX 1000

/* The flavor rows the caller may see: $1 id, $2 whether the caller is an admin, $3
 * the caller's project (a private flavor shared with it through os-flavor-access). */
#define WHERE_VISIBLE                                                                              \
	" WHERE id = $1 AND (is_public OR $2::boolean OR EXISTS (SELECT 1 FROM flavor_projects"    \
	" fp WHERE fp.flavor_id = flavors.id AND fp.project_id = $3))"

void flavor_row_from(const PGresult *res, int row, struct flavor_row *f)
{
	f->id = db_val(res, row, 0);
	f->name = db_val(res, row, 1);
	f->ram_mb = db_long(res, row, 2, 0);
	f->disk_gb = db_long(res, row, 3, 0);
	f->vcpus = db_long(res, row, 4, 0);
	f->swap_mb = db_long(res, row, 5, 0);
	f->ephemeral_gb = db_long(res, row, 6, 0);
	f->rxtx_factor = db_val(res, row, 7);
	f->is_public = db_val(res, row, 8) && db_val(res, row, 8)[0] == 't';
	f->disabled = db_val(res, row, 9) && db_val(res, row, 9)[0] == 't';
	f->description = db_val(res, row, 10);
	f->extra_specs = db_val(res, row, 11);
}

/* Answers {"<key>": view of row 0 of res} (a FLAVOR_COLS result): show, create and
 * update. */
static void flavor_answer(struct req *r, struct resp *w, const PGresult *res)
{
	struct flavor_row f;
	struct jsonw out;
	flavor_row_from(res, 0, &f);
	jsonw_init(&out, 1024);
	jsonw_obj_begin(&out);
	JSONW_KEY(&out, "flavor");
	flavor_view_write(&out, &f, r->ctx->api->public_url, r->ctx->mv_minor, 0);
	jsonw_obj_end(&out);
	resp_json_text(w, 200, &out);
}

/* A non-negative int query filter (wire_nonneg); -1 when absent, -EINVAL when bad. */
static long query_nonneg(struct req *r, const char *key)
{
	long x = wire_nonneg(req_query(r, key));
	return x > INT_MAX ? -EINVAL : x;
}

static void flavors_list_common(struct req *r, struct resp *w, int brief)
{
	char err[256], ram[24], disk[24], lim[24];
	/* Nova: is_public defaults to true; the literal "None" means all (admins only). */
	const char *pub = req_query(r, "is_public");
	const char *is_public = "true";
	if (pub && policy_is_admin(&r->ctx->auth)) {
		int b = *pub ? server_bool_param(pub) : -EINVAL; /* oslo's strict strings */
		if (!strcasecmp(pub, "none"))
			is_public = NULL;
		else if (b < 0) {
			resp_error(r, w, 400, "Invalid is_public filter [%s]", pub);
			return;
		} else
			is_public = b ? "true" : "false";
	}
	long min_ram = query_nonneg(r, "minRam"), min_disk = query_nonneg(r, "minDisk");
	long limit = query_nonneg(r, "limit");
	if (min_ram == -EINVAL || min_disk == -EINVAL || limit == -EINVAL) {
		resp_error(r, w, 400, "minRam, minDisk and limit must be non-negative integers");
		return;
	}
	snprintf(ram, sizeof(ram), "%ld", min_ram < 0 ? 0 : min_ram);
	snprintf(disk, sizeof(disk), "%ld", min_disk < 0 ? 0 : min_disk);
	snprintf(lim, sizeof(lim), "%ld",
	         limit < 0 || limit > LIST_LIMIT_MAX ? LIST_LIMIT_MAX : limit);
	const char *marker = req_query(r, "marker");
	if (marker &&
	    DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM flavors WHERE id = $1", marker) != 1) {
		resp_error(r, w, 400, "marker [%s] not found", marker);
		return;
	}
	/* a member sees the public flavors and the private ones shared with its project,
	 * whatever is_public says (Nova) */
	const char *member_of = policy_is_admin(&r->ctx->auth) ? NULL : r->ctx->auth.project_id;
	if (member_of)
		is_public = NULL;
	static const struct db_stmt list = {
	    "flavors_list",
	    "SELECT " FLAVOR_COLS " FROM flavors"
	    " WHERE ($1::boolean IS NULL OR is_public = $1::boolean)"
	    " AND ($6::text IS NULL OR is_public OR EXISTS (SELECT 1 FROM flavor_projects fp"
	    " WHERE fp.flavor_id = flavors.id AND fp.project_id = $6))"
	    " AND ram_mb >= $2::int AND disk_gb >= $3::int"
	    " AND ($4::text IS NULL OR id > $4) ORDER BY id LIMIT $5::int",
	    1 /* cached: flavors change rarely (flavor_projects bumps the generation too) */};
	PGresult *res =
	    DBQS(r->ctx->db, err, sizeof err, &list, is_public, ram, disk, marker, lim, member_of);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	/* written straight into the body: no tree per flavor (issue 6) */
	int n = PQntuples(res);
	struct jsonw out;
	jsonw_init(&out, (size_t)(brief ? 256 : 640) * (size_t)(n + 1));
	jsonw_obj_begin(&out);
	JSONW_KEY(&out, "flavors");
	jsonw_arr_begin(&out);
	for (int i = 0; i < n; i++) {
		struct flavor_row f;
		flavor_row_from(res, i, &f);
		flavor_view_write(&out, &f, r->ctx->api->public_url, r->ctx->mv_minor, brief);
	}
	jsonw_arr_end(&out);
	jsonw_obj_end(&out);
	PQclear(res);
	resp_json_text(w, 200, &out);
}

static void flavors_list(struct req *r, struct resp *w)
{
	flavors_list_common(r, w, 1);
}

static void flavors_detail(struct req *r, struct resp *w)
{
	flavors_list_common(r, w, 0);
}

/* Runs sql (a SELECT from flavors ending in WHERE_VISIBLE) for flavor id; answers
 * 404/500 and returns NULL unless the caller may see the flavor. */
static PGresult *flavor_load(struct req *r, struct resp *w, const char *sql, const char *id)
{
	char err[256];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err, sql, id,
	        policy_is_admin(&r->ctx->auth) ? "true" : "false", r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Flavor %s could not be found.", id);
}

static void flavors_show(struct req *r, struct resp *w)
{
	PGresult *res =
	    flavor_load(r, w, "SELECT " FLAVOR_COLS " FROM flavors" WHERE_VISIBLE, r->params[0]);
	if (!res)
		return;
	flavor_answer(r, w, res);
	PQclear(res);
}

struct flavor_in {
	char *name, *id, *description;
	long ram, vcpus, disk, swap, ephemeral;
	int is_public;
	double rxtx_factor;
};

static const struct jfield f_flavor[] = {
    {"name", J_STR, JF(struct flavor_in, name), 0, FLAVOR_NAME_MAX, 1, 0},
    {"id", J_STR_OR_INT, JF(struct flavor_in, id), 0, FLAVOR_ID_MAX, 0, 1},
    {"ram", J_INT, JF(struct flavor_in, ram), 1, INT_MAX, 1, 0},
    {"vcpus", J_INT, JF(struct flavor_in, vcpus), 1, INT_MAX, 1, 0},
    {"disk", J_INT, JF(struct flavor_in, disk), 0, INT_MAX, 1, 0},
    {"swap", J_INT, JF(struct flavor_in, swap), 0, INT_MAX, 0, 1},
    {"OS-FLV-EXT-DATA:ephemeral", J_INT, JF(struct flavor_in, ephemeral), 0, INT_MAX, 0, 1},
    {"os-flavor-access:is_public", J_BOOL, JF(struct flavor_in, is_public), 0, 0, 0, 1},
    {"rxtx_factor", J_DOUBLE, JF(struct flavor_in, rxtx_factor), 0, 0, 0, 1},
    {"description", J_STR, JF(struct flavor_in, description), 0, FLAVOR_DESCRIPTION_MAX, 0, 1},
};
static const struct server_since flavor_since[] = {
    {"description", 55, 0},
};

/* Nova's flavor description: printable (no control characters), NULL allowed. */
static int description_ok(const char *d)
{
	for (; d && *d; d++)
		if ((unsigned char)*d < 0x20 || *d == 0x7f)
			return 0;
	return 1;
}

static int flavor_parse(struct req *r, struct resp *w, struct flavor_in *f)
{
	memset(f, 0, sizeof(*f));
	f->is_public = 1;
	f->rxtx_factor = 1.0;
	char err[256];
	/* Nova's schema: nothing else (description from 2.55) */
	if (wire_parse_closed(r, w, "flavor", f_flavor, JCOUNT(f_flavor), NULL, f) < 0)
		return -EINVAL;
	if (server_since_check(json_object_get(r->json, "flavor"), flavor_since,
	                       JCOUNT(flavor_since), r->ctx->mv_minor, "flavor", err,
	                       sizeof(err)) < 0)
		resp_error(r, w, 400, "%s", err);
	else if (!description_ok(f->description))
		resp_error(r, w, 400, "Invalid input for field/attribute description.");
	else if (!wire_name_ok(f->name, FLAVOR_NAME_MAX))
		resp_error(r, w, 400,
		           "name: must be 1 to %d printable characters without "
		           "leading or trailing spaces",
		           FLAVOR_NAME_MAX);
	else if (f->id && strcmp(f->id, "auto") &&
	         (!wire_charset_ok(f->id, FLAVOR_ID_MAX, "._- ") || f->id[0] == ' ' ||
	          f->id[strlen(f->id) - 1] == ' '))
		resp_error(r, w, 400, "id: letters, digits, '.', '_', '-' and inner spaces only");
	else
		return 0;
	jparse_release(f_flavor, JCOUNT(f_flavor), f);
	return -EINVAL;
}

static void flavors_create(struct req *r, struct resp *w)
{
	struct flavor_in f;
	char err[256], state[6] = "", id[UUID_STR_LEN], ram[24], vcpus[24], disk[24], swap[24],
	               eph[24], rxtx[40];
	if (flavor_parse(r, w, &f) < 0)
		return;
	if (!f.id || !strcmp(f.id, "auto"))
		uuid_generate_str(id);
	snprintf(ram, sizeof(ram), "%ld", f.ram);
	snprintf(vcpus, sizeof(vcpus), "%ld", f.vcpus);
	snprintf(disk, sizeof(disk), "%ld", f.disk);
	snprintf(swap, sizeof(swap), "%ld", f.swap);
	snprintf(eph, sizeof(eph), "%ld", f.ephemeral);
	snprintf(rxtx, sizeof(rxtx), "%.17g", f.rxtx_factor);
	const char *fid = !f.id || !strcmp(f.id, "auto") ? id : f.id;
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO flavors (id, name, ram_mb, vcpus, disk_gb, swap_mb, ephemeral_gb,"
	    " rxtx_factor, is_public, description) VALUES ($1, $2, $3::int, $4::int, $5::int,"
	    " $6::int, $7::int, $8::double precision, $9::boolean, $10) RETURNING " FLAVOR_COLS,
	    10,
	    (const char *const[]){fid, f.name, ram, vcpus, disk, swap, eph, rxtx,
	                          f.is_public ? "true" : "false", f.description},
	    err, sizeof(err), state);
	if (res) {
		flavor_answer(r, w, res);
	} else if (!strcmp(state, SQLSTATE_UNIQUE)) {
		/* Which one clashed: the id or the name. */
		if (DBX(r->ctx->db, err, sizeof err, "SELECT 1 FROM flavors WHERE id = $1", fid) >
		    0)
			resp_error(r, w, 409, "Flavor with ID %s already exists.", fid);
		else
			resp_error(r, w, 409, "Flavor with name %s already exists.", f.name);
	} else {
		resp_db_error(r, w, err);
	}
	PQclear(res);
	jparse_release(f_flavor, JCOUNT(f_flavor), &f);
}

static void flavors_delete(struct req *r, struct resp *w)
{
	char err[256];
	/* Instances keep their own copy of vcpus/ram/disk, so a flavor in use may go. */
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM flavors WHERE id = $1", r->params[0]);
	wire_answer_rows(r, w, n, err, 202, "Flavor %s could not be found.", r->params[0]);
}

/* PUT /flavors/{id} (2.55): the description is all a flavor lets change. */
struct flavor_update {
	char *description;
};
static const struct jfield f_flavor_update[] = {
    {"description", J_STR, JF(struct flavor_update, description), 0, FLAVOR_DESCRIPTION_MAX, 0, 1},
};

static void flavors_update(struct req *r, struct resp *w)
{
	struct flavor_update u = {0};
	char err[256];
	if (r->ctx->mv_minor < 55) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	if (wire_parse_closed(r, w, "flavor", f_flavor_update, JCOUNT(f_flavor_update), NULL, &u) <
	    0)
		return;
	if (!json_object_get(json_object_get(r->json, "flavor"), "description")) {
		resp_error(r, w, 400,
		           "Invalid input for field/attribute flavor. 'description' is a required "
		           "property");
		goto out;
	}
	if (!description_ok(u.description)) {
		resp_error(r, w, 400, "Invalid input for field/attribute description.");
		goto out;
	}
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "UPDATE flavors SET description = $2 WHERE id = $1 RETURNING " FLAVOR_COLS,
	        r->params[0], u.description);
	res = wire_one_row(r, w, res, err, 404, "Flavor %s could not be found.", r->params[0]);
	if (res) {
		flavor_answer(r, w, res);
		PQclear(res);
	}
out:
	jparse_release(f_flavor_update, JCOUNT(f_flavor_update), &u);
}

/* ---- os-flavor-access ---- */

/* {"flavor_access": [{flavor_id, tenant_id}...]} of flavor id. */
static void access_answer(struct req *r, struct resp *w, const char *id)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT project_id FROM flavor_projects WHERE flavor_id = $1"
	                    " ORDER BY project_id",
	                    id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(
		    a, json_pack("{s:s,s:s}", "flavor_id", id, "tenant_id", db_val(res, i, 0)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "flavor_access", a));
}

/* The flavor's is_public (1/0), or -1 after answering 404/500. */
static int access_flavor_public(struct req *r, struct resp *w, const char *id)
{
	PGresult *res = flavor_load(r, w, "SELECT is_public FROM flavors" WHERE_VISIBLE, id);
	if (!res)
		return -1;
	int pub = db_val(res, 0, 0)[0] == 't';
	PQclear(res);
	return pub;
}

/* GET /flavors/{id}/os-flavor-access: who a private flavor is shared with. */
static void access_list(struct req *r, struct resp *w)
{
	int pub = access_flavor_public(r, w, r->params[0]);
	if (pub < 0)
		return;
	if (pub)
		resp_error(r, w, 404, "Access list not available for public flavors.");
	else
		access_answer(r, w, r->params[0]);
}

/* {"addTenantAccess" | "removeTenantAccess": {"tenant": "<project id>"}} */
struct access_in {
	char *tenant;
};
static const struct jfield f_access[] = {
    {"tenant", J_STR, JF(struct access_in, tenant), 0, 255, 1, 0},
};

/* POST /flavors/{id}/action: share a private flavor with a project or stop sharing it
 * (admins). From 2.7 sharing a public flavor is 409. */
static void flavor_action(struct req *r, struct resp *w)
{
	struct access_in in = {0};
	char err[256], state[6] = "";
	const char *id = r->params[0];
	json_t *add = json_object_get(r->json, "addTenantAccess");
	json_t *del = json_object_get(r->json, "removeTenantAccess");
	json_t *arg = add ? add : del;
	if (!json_is_object(r->json) || !arg || json_object_size(r->json) != 1 ||
	    jparse(arg, f_access, JCOUNT(f_access), &in, err, sizeof(err)) < 0 ||
	    jparse_known(arg, f_access, JCOUNT(f_access), NULL, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute %s.",
		           add   ? "addTenantAccess"
		           : del ? "removeTenantAccess"
		                 : "action");
		goto out;
	}
	int pub = access_flavor_public(r, w, id);
	if (pub < 0)
		goto out;
	if (add) {
		if (pub && r->ctx->mv_minor >= 7) {
			resp_error(r, w, 409, "Can not add access to a public flavor.");
			goto out;
		}
		PGresult *res =
		    db_query(r->ctx->db,
		             "INSERT INTO flavor_projects (flavor_id, project_id)"
		             " VALUES ($1, $2)",
		             2, (const char *const[]){id, in.tenant}, err, sizeof(err), state);
		if (!res) {
			if (!strcmp(state, SQLSTATE_UNIQUE))
				resp_error(
				    r, w, 409,
				    "Flavor access already exists for flavor %s and project %s "
				    "combination.",
				    id, in.tenant);
			else
				resp_db_error(r, w, err);
			goto out;
		}
		PQclear(res);
	} else {
		int n = DBX(r->ctx->db, err, sizeof err,
		            "DELETE FROM flavor_projects WHERE flavor_id = $1 AND project_id = $2",
		            id, in.tenant);
		if (n <= 0) {
			if (n < 0)
				resp_db_error(r, w, err);
			else
				resp_error(r, w, 404,
				           "Flavor access not found for %s / %s combination.", id,
				           in.tenant);
			goto out;
		}
	}
	access_answer(r, w, id);
out:
	jparse_release(f_access, JCOUNT(f_access), &in);
}

/* ---- os-extra_specs ---- */

/* Loads the flavor's extra specs as a new JSON object; answers 404/500 and returns
 * NULL when the flavor is not visible. */
static json_t *specs_load(struct req *r, struct resp *w)
{
	PGresult *res =
	    flavor_load(r, w, "SELECT extra_specs::text FROM flavors" WHERE_VISIBLE, r->params[0]);
	if (!res)
		return NULL;
	json_t *specs = json_loads(db_val(res, 0, 0), 0, NULL);
	if (!json_is_object(specs)) {
		json_decref(specs);
		specs = NULL;
		resp_db_error(r, w, "extra_specs is not an object");
	}
	PQclear(res);
	return specs;
}

/* Nova's rules for extra specs beyond their types: 1 to SPECS_MAX keys of letters,
 * digits and '-_:. '. Returns the specs as a new JSON object, or NULL with err. */
static json_t *specs_check(const struct jstrmap *m, char *err, size_t errlen)
{
	if (m->n == 0 || m->n > SPECS_MAX) {
		snprintf(err, errlen, "extra_specs: must be an object of 1 to %d keys", SPECS_MAX);
		return NULL;
	}
	for (size_t i = 0; i < m->n; i++)
		if (!wire_charset_ok(m->keys[i], SPEC_KEY_MAX, "-_:. ")) {
			snprintf(err, errlen,
			         "extra_specs: bad key (letters, digits, '-_:. ' only)");
			return NULL;
		}
	return jstrmap_to_json(m);
}

/* POST os-extra_specs: {"extra_specs": {...}}, nothing else. Numbers and booleans are
 * stored as their text, as Nova does. */
struct specs_body {
	struct jstrmap specs;
};

static const struct jfield f_specs[] = {
    {"extra_specs", J_SCALARMAP, JF(struct specs_body, specs), 0, SPECS_MAX, 1, 0},
};

/* Merges add into the flavor's specs (admin), in one transaction with the check of
 * what results: the disk I/O limits among them (quota:disk_*) must be ones QEMU takes
 * (common/disk_qos.h), the whole set as well as each value (a total limit added beside
 * an earlier read limit is refused). 0, or answers and returns -EIO/-ENOENT/-EINVAL. */
static int specs_merge(struct req *r, struct resp *w, const json_t *add)
{
	char err[256], why[256];
	char max[16];
	struct disk_qos qos;
	char *txt = json_dumps(add, JSON_COMPACT);
	snprintf(max, sizeof(max), "%d", SPECS_MAX);
	if (db_begin(r->ctx->db) < 0) {
		free(txt);
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "UPDATE flavors SET extra_specs = extra_specs || $2::jsonb WHERE id = $1"
	        " AND (SELECT count(*) FROM jsonb_object_keys(extra_specs || $2::jsonb)) <= $3::int"
	        " RETURNING extra_specs::text",
	        r->params[0], txt, max);
	free(txt);
	if (!res) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		return -EIO;
	}
	int n = PQntuples(res);
	json_t *merged = n == 1 ? json_loads(db_val(res, 0, 0), 0, NULL) : NULL;
	int bad = n == 1 && disk_qos_from_specs(merged, DISK_QOS_NOVA, &qos, why, sizeof(why)) < 0;
	json_decref(merged);
	PQclear(res);
	if (n == 0 || bad) {
		db_rollback(r->ctx->db);
		if (bad) {
			resp_error(r, w, 400, "Invalid extra_specs: %s.", why);
			return -EINVAL;
		}
		json_t *cur = specs_load(r, w);
		if (cur) {
			json_decref(cur);
			resp_error(r, w, 400, "a flavor holds at most %d extra specs", SPECS_MAX);
		}
		return -ENOENT;
	}
	if (db_commit(r->ctx->db) < 0) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, "commit failed");
		return -EIO;
	}
	return 0;
}

static void specs_list(struct req *r, struct resp *w)
{
	json_t *specs = specs_load(r, w);
	if (specs)
		resp_json(w, 200, json_pack("{s:o}", "extra_specs", specs));
}

static void specs_create(struct req *r, struct resp *w)
{
	char err[256];
	struct specs_body b = {0};
	json_t *add = NULL;
	if (!r->json || jparse(r->json, f_specs, 1, &b, err, sizeof(err)) < 0 ||
	    jparse_known(r->json, f_specs, 1, NULL, err, sizeof(err)) < 0 ||
	    !(add = specs_check(&b.specs, err, sizeof(err)))) {
		resp_error(r, w, 400, "%s", r->json ? err : "request body required");
		goto out;
	}
	if (specs_merge(r, w, add) == 0)
		resp_json(w, 200, json_pack("{s:O}", "extra_specs", add));
out:
	json_decref(add);
	jparse_release(f_specs, 1, &b);
}

static void specs_show(struct req *r, struct resp *w)
{
	json_t *specs = specs_load(r, w);
	if (!specs)
		return;
	json_t *v = json_object_get(specs, r->params[1]);
	if (!v)
		resp_error(r, w, 404, "Flavor %s has no extra specs with key %s.", r->params[0],
		           r->params[1]);
	else
		resp_json(w, 200, json_pack("{s:O}", r->params[1], v));
	json_decref(specs);
}

static void specs_update(struct req *r, struct resp *w)
{
	char err[256];
	struct jstrmap m = {0};
	json_t *add = NULL;
	if (!r->json ||
	    jparse_map(r->json, J_SCALARMAP, 1, "extra_specs", &m, err, sizeof(err)) < 0 ||
	    !(add = specs_check(&m, err, sizeof(err)))) {
		resp_error(r, w, 400, "%s", r->json ? err : "request body required");
		goto out;
	}
	if (strcmp(m.keys[0], r->params[1]))
		resp_error(r, w, 400, "Request body and URI mismatch");
	else if (specs_merge(r, w, add) == 0)
		resp_json(w, 200, json_incref(add));
out:
	json_decref(add);
	jstrmap_release(&m);
}

static void specs_delete(struct req *r, struct resp *w)
{
	char err[256];
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE flavors SET extra_specs = extra_specs - $2 WHERE id = $1"
	            " AND extra_specs ? $2",
	            r->params[0], r->params[1]);
	/* Nova answers 200 with no body */
	wire_answer_rows(r, w, n, err, 200, "Flavor %s has no extra specs with key %s.",
	                 r->params[0], r->params[1]);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/flavors", flavors_list, POL_COMPUTE_FLAVOR_READ, 0},
    {"GET", C "/flavors/detail", flavors_detail, POL_COMPUTE_FLAVOR_READ, 0},
    {"POST", C "/flavors", flavors_create, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"GET", C "/flavors/{}", flavors_show, POL_COMPUTE_FLAVOR_READ, 0},
    {"DELETE", C "/flavors/{}", flavors_delete, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"PUT", C "/flavors/{}", flavors_update, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"POST", C "/flavors/{}/action", flavor_action, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"GET", C "/flavors/{}/os-flavor-access", access_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/flavors/{}/os-extra_specs", specs_list, POL_COMPUTE_FLAVOR_READ, 0},
    {"POST", C "/flavors/{}/os-extra_specs", specs_create, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"GET", C "/flavors/{}/os-extra_specs/{}", specs_show, POL_COMPUTE_FLAVOR_READ, 0},
    {"PUT", C "/flavors/{}/os-extra_specs/{}", specs_update, POL_COMPUTE_FLAVOR_WRITE, 0},
    {"DELETE", C "/flavors/{}/os-extra_specs/{}", specs_delete, POL_COMPUTE_FLAVOR_WRITE, 0},
};
HTTPD_TABLE(flavor_routes, routes, &compute_hooks);

/* Block Storage v3 volume types (/volume/v3/{project_id}/types): the default type
 * (__DEFAULT__, made by migration 0013), list and show for everyone, create, update
 * and delete for admins, their extra specs, and their encryption specs (kept and
 * shown; a volume of an encrypted type is refused, see volume_type_encryption_refuse). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define TYPE_COLS "id, name, description, is_public, extra_specs::text"

static json_t *type_view(const PGresult *res, int i)
{
	json_t *specs = json_loads(db_val(res, i, 4), 0, NULL);
	int pub = db_val(res, i, 3)[0] == 't';
	return json_pack("{s:s,s:s,s:o,s:b,s:b,s:o}", "id", db_val(res, i, 0), "name",
	                 db_val(res, i, 1), "description", wire_string_or_null(db_val(res, i, 2)),
	                 "is_public", pub, "os-volume-type-access:is_public", pub, "extra_specs",
	                 specs ? specs : json_object());
}

/* The type of params[1] (id or name); NULL after answering 404. */
static PGresult *type_find(struct req *r, struct resp *w)
{
	char err[512];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " TYPE_COLS " FROM volume_types WHERE id = $1 OR name = $1"
	                    " ORDER BY id = $1 DESC LIMIT 1",
	                    r->params[1]);
	return wire_one_row(r, w, res, err, 404, "Volume type %s could not be found.",
	                    r->params[1]);
}

static void types_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int admin = policy_is_admin(&r->ctx->auth);
	const char *pub = req_query(r, "is_public");
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " TYPE_COLS " FROM volume_types WHERE is_public OR ($1 AND"
	                    " ($2::text IS NULL OR $2 IN ('None', 'none', 'all', 'false'))) OR"
	                    " id IN (SELECT type_id FROM volume_type_access WHERE project_id = $3)"
	                    " ORDER BY name",
	                    admin ? "true" : "false", pub, r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, type_view(res, i));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "volume_types", list));
}

static void type_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	if (!strcmp(r->params[1], "default"))
		r->params[1] = "__DEFAULT__";
	PGresult *res = type_find(r, w);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "volume_type", type_view(res, 0)));
	PQclear(res);
}

struct type_body {
	char *name, *description;
	int is_public;
	struct jstrmap extra_specs;
};

static const struct jfield f_type[] = {
    {"name", J_STR, JF(struct type_body, name), 0, 255, 0, 1},
    {"description", J_STR, JF(struct type_body, description), 0, 255, 0, 1},
    {"os-volume-type-access:is_public", J_BOOL, JF(struct type_body, is_public), 0, 1, 0, 1},
    {"is_public", J_BOOL, JF(struct type_body, is_public), 0, 1, 0, 1},
    {"extra_specs", J_SCALARMAP, JF(struct type_body, extra_specs), 0, 128, 0, 1},
};

static void type_create(struct req *r, struct resp *w)
{
	struct type_body b = {0};
	char err[512], sqlstate[6] = "", id[UUID_STR_LEN];
	if (volume_project_check(r, w) < 0)
		return;
	b.is_public = 1;
	if (wire_parse_wrapped(r, w, "volume_type", f_type, JCOUNT(f_type), &b) < 0)
		return;
	if (!b.name || !wire_name_ok(b.name, 255)) {
		resp_error(r, w, 400, "Invalid input received: Volume type name can not be empty.");
		goto out;
	}
	uuid_generate_str(id);
	json_t *sj = jstrmap_to_json(&b.extra_specs);
	char *specs = json_dumps(sj, JSON_COMPACT);
	json_decref(sj);
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO volume_types (id, name, description, is_public, extra_specs) VALUES"
	    " ($1, $2, $3, $4::boolean, $5::jsonb) RETURNING " TYPE_COLS,
	    5,
	    (const char *const[]){id, b.name, b.description, b.is_public ? "true" : "false", specs},
	    err, sizeof(err), sqlstate);
	free(specs);
	if (!res) {
		if (!strcmp(sqlstate, SQLSTATE_UNIQUE))
			resp_error(r, w, 409, "Volume Type %s already exists.", b.name);
		else
			resp_db_error(r, w, err);
		goto out;
	}
	resp_json(w, 200, json_pack("{s:o}", "volume_type", type_view(res, 0)));
	PQclear(res);
out:
	jparse_release(f_type, JCOUNT(f_type), &b);
}

static void type_update(struct req *r, struct resp *w)
{
	struct type_body b = {0};
	char err[512], sqlstate[6] = "";
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "volume_type", f_type, JCOUNT(f_type), &b) < 0)
		return;
	json_t *inner = json_object_get(r->json, "volume_type");
	const char *pub = NULL;
	if (json_object_get(inner, "is_public") ||
	    json_object_get(inner, "os-volume-type-access:is_public"))
		pub = b.is_public ? "true" : "false";
	char old[VQUOTA_NAME_MAX] = "";
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		jparse_release(f_type, JCOUNT(f_type), &b);
		return;
	}
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT name FROM volume_types WHERE id = $1 FOR UPDATE", r->params[1]);
	if (res && PQntuples(res) == 1)
		snprintf(old, sizeof(old), "%s", db_val(res, 0, 0));
	PQclear(res);
	res = db_query(
	    r->ctx->db,
	    "UPDATE volume_types SET name = coalesce($2, name), description = CASE WHEN $3 THEN"
	    " $4 ELSE description END, is_public = coalesce($5::boolean, is_public) WHERE id = $1"
	    " RETURNING " TYPE_COLS,
	    5,
	    (const char *const[]){r->params[1], b.name,
	                          json_object_get(inner, "description") ? "true" : "false",
	                          b.description, pub},
	    err, sizeof(err), sqlstate);
	/* the type's quotas follow its name (Cinder's update_quota_resource) */
	int renamed = res && PQntuples(res) == 1 && strcmp(old, db_val(res, 0, 1));
	if (renamed &&
	    vquota_type_rename(r->ctx->db, old, db_val(res, 0, 1), err, sizeof err) < 0) {
		PQclear(res);
		res = NULL;
	}
	jparse_release(f_type, JCOUNT(f_type), &b);
	if (!res || PQntuples(res) != 1 || db_commit(r->ctx->db) < 0) {
		db_rollback(r->ctx->db);
		if (!res && !strcmp(sqlstate, SQLSTATE_UNIQUE))
			resp_error(r, w, 409, "Volume Type already exists.");
		else if (!res)
			resp_db_error(r, w, err);
		else if (PQntuples(res) != 1)
			resp_error(r, w, 404, "Volume type %s could not be found.", r->params[1]);
		else
			resp_db_error(r, w, "commit failed");
		PQclear(res);
		return;
	}
	/* Cinder's update answer has no os-volume-type-access:is_public */
	json_t *v = type_view(res, 0);
	json_object_del(v, "os-volume-type-access:is_public");
	resp_json(w, 200, json_pack("{s:o}", "volume_type", v));
	PQclear(res);
}

static void type_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT name, EXISTS (SELECT 1 FROM volumes WHERE type_id = $1)"
	                    " FROM volume_types WHERE id = $1",
	                    r->params[1]);
	res = wire_one_row(r, w, res, err, 404, "Volume type %s could not be found.", r->params[1]);
	if (!res)
		return;
	int dflt = !strcmp(db_val(res, 0, 0), "__DEFAULT__"), used = db_val(res, 0, 1)[0] == 't';
	char name[VQUOTA_NAME_MAX];
	snprintf(name, sizeof(name), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (dflt) {
		resp_error(r, w, 400,
		           "Invalid volume type: Default volume type can not be deleted.");
		return;
	}
	if (used) {
		resp_error(r, w, 400, "Target volume type is still in use.");
		return;
	}
	/* its quotas go with it: Cinder lists only the types that exist */
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM volume_types WHERE id = $1",
	            r->params[1]);
	if (n == 1 && vquota_type_rename(r->ctx->db, name, NULL, err, sizeof err) < 0)
		n = -EIO;
	if (n != 1 || db_commit(r->ctx->db) < 0) {
		db_rollback(r->ctx->db);
		wire_answer_rows(r, w, n == 1 ? -EIO : n, n == 1 ? "commit failed" : err, 202,
		                 "Volume type %s could not be found.", r->params[1]);
		return;
	}
	resp_empty(w, 202);
}

/* ---- extra specs ---- */

static void specs_answer(struct req *r, struct resp *w, const char *key)
{
	PGresult *res = type_find(r, w);
	if (!res)
		return;
	json_t *specs = json_loads(db_val(res, 0, 4), 0, NULL);
	PQclear(res);
	if (!specs)
		specs = json_object();
	if (!key) {
		resp_json(w, 200, json_pack("{s:o}", "extra_specs", specs));
		return;
	}
	json_t *v = json_object_get(specs, key);
	if (v)
		resp_json(w, 200, json_pack("{s:O}", key, v));
	else
		resp_error(r, w, 404, "Volume Type %s has no extra specs with key %s.",
		           r->params[1], key);
	json_decref(specs);
}

static void specs_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		specs_answer(r, w, NULL);
}

static void specs_key_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		specs_answer(r, w, r->params[2]);
}

/* POST {"extra_specs": {...}} merges; PUT /{key} {"<key>": "v"} sets one. */
static void specs_write(struct req *r, struct resp *w, const json_t *obj, const char *key)
{
	char err[512];
	struct jstrmap m = {0};
	if (!json_is_object(obj) ||
	    jparse_map(obj, J_SCALARMAP, 128, "extra_specs", &m, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Malformed request body");
		return;
	}
	if (key && (m.n != 1 || strcmp(m.keys[0], key))) {
		jstrmap_release(&m);
		resp_error(r, w, 400, "Request body and URI mismatch");
		return;
	}
	json_t *mj = jstrmap_to_json(&m);
	char *text = json_dumps(mj, JSON_COMPACT);
	jstrmap_release(&m);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_types SET extra_specs = extra_specs || $2::jsonb WHERE id = $1",
	            r->params[1], text);
	free(text);
	if (n <= 0) {
		json_decref(mj);
		wire_answer_rows(r, w, n, err, 200, "Volume type %s could not be found.",
		                 r->params[1]);
		return;
	}
	resp_json(w, 200, key ? mj : json_pack("{s:o}", "extra_specs", mj));
}

static void specs_merge(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		specs_write(r, w, json_object_get(r->json, "extra_specs"), NULL);
}

static void specs_key_put(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) == 0)
		specs_write(r, w, r->json, r->params[2]);
}

static void specs_key_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_types SET extra_specs = extra_specs - $2 WHERE id = $1 AND"
	            " extra_specs ? $2",
	            r->params[1], r->params[2]);
	wire_answer_rows(r, w, n, err, 202, "Volume Type %s has no extra specs with key %s.",
	                 r->params[1], r->params[2]);
}

/* ---- project access to private types ---- */

static void access_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = type_find(r, w);
	if (!res)
		return;
	int pub = db_val(res, 0, 3)[0] == 't';
	char id[UUID_STR_LEN];
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (pub) {
		resp_error(r, w, 404, "Access list not available for public volume types.");
		return;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT project_id FROM volume_type_access WHERE type_id = $1 ORDER BY"
	          " project_id",
	          id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, json_pack("{s:s,s:s}", "volume_type_id", id,
		                                      "project_id", db_val(res, i, 0)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "volume_type_access", list));
}

/* POST types/{id}/action {"addProjectAccess"|"removeProjectAccess": {"project": p}}. */
static void type_action(struct req *r, struct resp *w)
{
	char err[512], sqlstate[6] = "";
	if (volume_project_check(r, w) < 0)
		return;
	int add = json_object_get(r->json, "addProjectAccess") != NULL;
	json_t *arg = json_object_get(r->json, add ? "addProjectAccess" : "removeProjectAccess");
	const char *project = json_string_value(json_object_get(arg, "project"));
	if (!json_is_object(r->json) || json_object_size(r->json) != 1 || !project ||
	    !wire_charset_ok(project, 64, "-_")) {
		resp_error(r, w, 400,
		           "Invalid input received: addProjectAccess or "
		           "removeProjectAccess with a project is required.");
		return;
	}
	PGresult *res = type_find(r, w);
	if (!res)
		return;
	int pub = db_val(res, 0, 3)[0] == 't';
	char id[UUID_STR_LEN];
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	if (pub) {
		resp_error(r, w, 400,
		           "Invalid volume type: Type access modification is not applicable to "
		           "public volume type.");
		return;
	}
	if (!add) {
		int n = DBX(r->ctx->db, err, sizeof err,
		            "DELETE FROM volume_type_access WHERE type_id = $1 AND project_id = $2",
		            id, project);
		wire_answer_rows(r, w, n, err, 202,
		                 "Volume type access not found for %s / %.64s combination.", id,
		                 project);
		return;
	}
	res = db_query(r->ctx->db,
	               "INSERT INTO volume_type_access (type_id, project_id) VALUES ($1, $2)", 2,
	               (const char *const[]){id, project}, err, sizeof(err), sqlstate);
	if (!res) {
		if (!strcmp(sqlstate, SQLSTATE_UNIQUE))
			resp_error(r, w, 409,
			           "Volume type access for %s / %.64s combination already exists.",
			           id, project);
		else
			resp_db_error(r, w, err);
		return;
	}
	PQclear(res);
	resp_empty(w, 202);
}

/* ---- encryption ---- */

/* A type's encryption spec is kept and shown as Cinder does; Nubo has no key manager
 * and encrypts no volume, so volume_type_encryption_refuse stops volumes of such a type
 * from being created, and the specs of a type in use cannot change. */

#define ENC_COLS                                                                                   \
	"type_id, encryption_id, provider, cipher, key_size, control_location, " VOLUME_TS(        \
	    "created_at") ", " VOLUME_TS("updated_at")

struct enc_body {
	char *provider, *cipher, *control_location;
	long key_size;
};

static const struct jfield f_enc[] = {
    {"provider", J_STR, JF(struct enc_body, provider), 0, 255, 0, 0},
    {"cipher", J_STR, JF(struct enc_body, cipher), 0, 255, 0, 1},
    {"key_size", J_INT, JF(struct enc_body, key_size), 0, 65536, 0, 1},
    {"control_location", J_STR, JF(struct enc_body, control_location), 0, 16, 0, 0},
};

/* full: the show view (with Cinder's deleted and time fields); else the create one. */
static json_t *enc_view(const PGresult *res, int full)
{
	json_t *e = json_pack("{s:s,s:s,s:s,s:o,s:o,s:s}", "volume_type_id", db_val(res, 0, 0),
	                      "encryption_id", db_val(res, 0, 1), "provider", db_val(res, 0, 2),
	                      "cipher", wire_string_or_null(db_val(res, 0, 3)), "key_size",
	                      db_val(res, 0, 4) ? json_integer(db_long(res, 0, 4, 0)) : json_null(),
	                      "control_location", db_val(res, 0, 5));
	if (full) {
		json_object_set_new(e, "deleted", json_false());
		json_object_set_new(e, "created_at", json_string(db_val(res, 0, 6)));
		json_object_set_new(e, "updated_at", wire_string_or_null(db_val(res, 0, 7)));
		json_object_set_new(e, "deleted_at", json_null());
	}
	return e;
}

/* The type of params[1] (by id) with whether volumes use it: 1 used, 0 not; or
 * answers 404 (or the database error) and returns < 0. */
static int enc_type_used(struct req *r, struct resp *w)
{
	char err[512];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT EXISTS (SELECT 1 FROM volumes WHERE type_id = $1) FROM"
	                    " volume_types WHERE id = $1",
	                    r->params[1]);
	res = wire_one_row(r, w, res, err, 404, "Volume type %s could not be found.", r->params[1]);
	if (!res)
		return -ENOENT;
	int used = db_val(res, 0, 0)[0] == 't';
	PQclear(res);
	return used;
}

/* The project check, the type's existence (404) and Cinder's 400 while a volume has
 * the type: 0 with a transaction open that holds the type's row (FOR UPDATE: a volume
 * create, which takes it FOR SHARE before its encryption check, cannot slip a volume of
 * the type in between; review s7 L7), to be ended by enc_end; or answered, with no
 * transaction. verb names the change in the message. Like Cinder, the URL's
 * {encryption_id} is not compared: a type has one spec. */
static int enc_writable(struct req *r, struct resp *w, const char *verb)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return -EPERM;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	/* the lock first; the check after it, in a statement whose snapshot is newer */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM volume_types WHERE id = $1 FOR UPDATE", r->params[1]);
	int used = n < 0 ? -EIO : enc_type_used(r, w);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (used > 0)
		resp_error(r, w, 400,
		           "Invalid input received: Cannot %s encryption specification. Volume"
		           " type in use.",
		           verb);
	if (used != 0) {
		db_rollback(r->ctx->db);
		return used < 0 ? used : -EBUSY;
	}
	return 0;
}

/* Ends enc_writable's transaction: committed when the change was made (ok), rolled
 * back otherwise; a failed commit replaces the answer with the database error. */
static void enc_end(struct req *r, struct resp *w, int ok)
{
	if (!ok)
		db_rollback(r->ctx->db);
	else if (db_commit(r->ctx->db) < 0)
		resp_db_error(r, w, "commit failed");
}

/* Parses {"encryption": {...}} into b; required: create's provider. 0 or answered. */
static int enc_parse(struct req *r, struct resp *w, struct enc_body *b, int create)
{
	b->key_size = -1;
	if (wire_parse_wrapped(r, w, "encryption", f_enc, JCOUNT(f_enc), b) < 0)
		return -EINVAL;
	const char *cl = b->control_location;
	if ((create && (!b->provider || !b->provider[0])) ||
	    (cl && strcmp(cl, "front-end") && strcmp(cl, "back-end"))) {
		resp_error(r, w, 400,
		           "Invalid input received: provider must be set; control_location is"
		           " front-end or back-end.");
		jparse_release(f_enc, JCOUNT(f_enc), b);
		return -EINVAL;
	}
	return 0;
}

/* The project check, the type's existence (404), then its encryption spec's row (none
 * or one): the result, or NULL answered. */
static PGresult *enc_select(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0 || enc_type_used(r, w) < 0)
		return NULL;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT " ENC_COLS " FROM volume_type_encryption WHERE type_id = $1", r->params[1]);
	if (!res)
		resp_db_error(r, w, err);
	return res;
}

static void enc_show(struct req *r, struct resp *w)
{
	PGresult *res = enc_select(r, w);
	if (!res)
		return;
	/* a type without a spec: {} as Cinder */
	resp_json(w, 200, PQntuples(res) == 1 ? enc_view(res, 1) : json_object());
	PQclear(res);
}

static void enc_key_show(struct req *r, struct resp *w)
{
	PGresult *res = enc_select(r, w);
	if (!res)
		return;
	if (PQntuples(res) != 1) {
		PQclear(res);
		resp_error(r, w, 404, "Volume type encryption for type %s does not exist.",
		           r->params[1]);
		return;
	}
	json_t *e = enc_view(res, 1);
	PQclear(res);
	json_t *v = json_object_get(e, r->params[2]);
	if (v)
		resp_json(w, 200, json_pack("{s:O}", r->params[2], v));
	else
		resp_error(r, w, 404, "The resource could not be found.");
	json_decref(e);
}

static void enc_create(struct req *r, struct resp *w)
{
	struct enc_body b = {0};
	char err[512], sqlstate[6] = "", id[UUID_STR_LEN], ks[24];
	if (enc_writable(r, w, "create") < 0)
		return;
	if (enc_parse(r, w, &b, 1) < 0) {
		enc_end(r, w, 0);
		goto out;
	}
	uuid_generate_str(id);
	snprintf(ks, sizeof(ks), "%ld", b.key_size);
	PGresult *res = db_query(
	    r->ctx->db,
	    "INSERT INTO volume_type_encryption (type_id, encryption_id, provider, cipher,"
	    " key_size, control_location) VALUES ($1, $2, $3, $4, nullif($5::int, -1),"
	    " coalesce($6, 'front-end')) RETURNING " ENC_COLS,
	    6,
	    (const char *const[]){r->params[1], id, b.provider, b.cipher, ks, b.control_location},
	    err, sizeof(err), sqlstate);
	if (!res) {
		if (!strcmp(sqlstate, SQLSTATE_UNIQUE))
			resp_error(r, w, 400,
			           "Invalid input received: Volume type encryption for type %s"
			           " already exists.",
			           r->params[1]);
		else
			resp_db_error(r, w, err);
		enc_end(r, w, 0);
		goto out;
	}
	resp_json(w, 200, json_pack("{s:o}", "encryption", enc_view(res, 0)));
	PQclear(res);
	enc_end(r, w, 1);
out:
	jparse_release(f_enc, JCOUNT(f_enc), &b);
}

/* PUT types/{id}/encryption/{encryption_id}: the given fields change; Cinder answers
 * with what was given. */
static void enc_update(struct req *r, struct resp *w)
{
	struct enc_body b = {0};
	char err[512], ks[24];
	if (enc_writable(r, w, "update") < 0)
		return;
	if (enc_parse(r, w, &b, 0) < 0) {
		enc_end(r, w, 0);
		return;
	}
	json_t *given = json_object_get(r->json, "encryption");
	snprintf(ks, sizeof(ks), "%ld", b.key_size);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE volume_type_encryption SET provider = coalesce($2, provider),"
	            " cipher = CASE WHEN $3 THEN $4 ELSE cipher END, key_size = CASE WHEN $5 THEN"
	            " nullif($6::int, -1) ELSE key_size END, control_location = coalesce($7,"
	            " control_location), updated_at = now() WHERE type_id = $1",
	            r->params[1], b.provider && b.provider[0] ? b.provider : NULL,
	            json_object_get(given, "cipher") ? "true" : "false", b.cipher,
	            json_object_get(given, "key_size") ? "true" : "false", ks, b.control_location);
	if (n == 1)
		resp_json(w, 200, json_pack("{s:O}", "encryption", given));
	else
		wire_answer_rows(r, w, n, err, 200,
		                 "Volume type encryption for type %s does not exist.",
		                 r->params[1]);
	enc_end(r, w, n == 1);
	jparse_release(f_enc, JCOUNT(f_enc), &b);
}

static void enc_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (enc_writable(r, w, "delete") < 0)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM volume_type_encryption WHERE type_id = $1", r->params[1]);
	wire_answer_rows(r, w, n, err, 202, "Volume type encryption for type %s does not exist.",
	                 r->params[1]);
	enc_end(r, w, n == 1);
}

int volume_type_encryption_refuse(struct req *r, struct resp *w, const char *type_id)
{
	char err[512];
	/* the type's row held FOR SHARE (in the caller's transaction) before the check: an
	 * encryption spec being written waits, or this waits for it and then sees it */
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM volume_types WHERE id = $1 FOR SHARE", type_id);
	if (n >= 0)
		n = DBX(r->ctx->db, err, sizeof err,
		        "SELECT 1 FROM volume_type_encryption WHERE type_id = $1", type_id);
	if (n == 0)
		return 0;
	if (n < 0)
		resp_db_error(r, w, err);
	else
		resp_error(r, w, 400,
		           "Invalid input received: Volume type %s is encrypted; Nubo has no key"
		           " manager and cannot create encrypted volumes.",
		           type_id);
	return -EINVAL;
}

#define V "/volume/v3/{}"
static const struct httpd_route type_rows[] = {
    {"GET", V "/types", types_list, POL_VOLUME_READ, 0},
    {"POST", V "/types", type_create, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}", type_show, POL_VOLUME_READ, 0},
    {"PUT", V "/types/{}", type_update, POL_VOLUME_ADMIN, 0},
    {"DELETE", V "/types/{}", type_delete, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}/extra_specs", specs_show, POL_VOLUME_READ, 0},
    {"POST", V "/types/{}/extra_specs", specs_merge, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}/extra_specs/{}", specs_key_show, POL_VOLUME_READ, 0},
    {"PUT", V "/types/{}/extra_specs/{}", specs_key_put, POL_VOLUME_ADMIN, 0},
    {"DELETE", V "/types/{}/extra_specs/{}", specs_key_delete, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}/os-volume-type-access", access_list, POL_VOLUME_ADMIN, 0},
    {"POST", V "/types/{}/action", type_action, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}/encryption", enc_show, POL_VOLUME_ADMIN, 0},
    {"POST", V "/types/{}/encryption", enc_create, POL_VOLUME_ADMIN, 0},
    {"GET", V "/types/{}/encryption/{}", enc_key_show, POL_VOLUME_ADMIN, 0},
    {"PUT", V "/types/{}/encryption/{}", enc_update, POL_VOLUME_ADMIN, 0},
    {"DELETE", V "/types/{}/encryption/{}", enc_delete, POL_VOLUME_ADMIN, 0},
};
HTTPD_TABLE(volume_type_routes, type_rows, &volume_hooks);

/* Block Storage v3 QoS specs (/volume/v3/{project_id}/qos-specs), admin only: create,
 * list, show, delete (refused while associated unless forced), set and unset keys, and
 * association with volume types (volume_types.qos_specs_id, migration 0018). A spec's
 * keys are kept as Cinder keeps them; the compute side reads a type's front-end specs
 * as it reads its extra specs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disk_qos.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define QOS_KEYS_MAX 64
#define QOS_COLS "id, name, consumer, specs::text"

static const char *const consumers[] = {"front-end", "back-end", "both", NULL};

static json_t *qos_view(const PGresult *res, int i)
{
	json_t *specs = json_loads(db_val(res, i, 3), 0, NULL);
	return json_pack("{s:s,s:s,s:s,s:o}", "id", db_val(res, i, 0), "name", db_val(res, i, 1),
	                 "consumer", db_val(res, i, 2), "specs", specs ? specs : json_object());
}

static json_t *qos_links(const struct req *r, const char *id)
{
	char *self =
	    xasprintf("%s/volume/v3/%s/qos-specs/%s", r->ctx->api->public_url, r->params[0], id);
	char *book =
	    xasprintf("%s/volume/%s/qos-specs/%s", r->ctx->api->public_url, r->params[0], id);
	json_t *l = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self, "rel",
	                      "bookmark", "href", book);
	free(self);
	free(book);
	return l;
}

static PGresult *qos_find(struct req *r, struct resp *w)
{
	char err[512];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " QOS_COLS " FROM qos_specs WHERE id = $1", r->params[1]);
	return wire_one_row(r, w, res, err, 404, "QoS Specs %s could not be found.", r->params[1]);
}

/* The keys of obj other than skip (NULL-terminated) as a specs object, each value a
 * string or a number; NULL after answering 400. */
static json_t *specs_parse(struct req *r, struct resp *w, const json_t *obj,
                           const char *const *skip)
{
	const char *key;
	json_t *v, *out = json_object();
	json_object_foreach((json_t *)obj, key, v)
	{
		int skipped = 0;
		for (const char *const *s = skip; s && *s; s++)
			skipped |= !strcmp(key, *s);
		if (skipped)
			continue;
		char num[32];
		const char *text =
		    json_is_string(v) ? json_string_value(v)
		    : json_is_integer(v)
		        ? (snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v)),
		           num)
		        : NULL;
		if (!text || !*key || strlen(key) > 255 || strlen(text) > 255 ||
		    json_object_size(out) >= QOS_KEYS_MAX) {
			resp_error(r, w, 400, "Invalid input received: bad QoS spec %.64s.", key);
			json_decref(out);
			return NULL;
		}
		json_object_set_new(out, key, json_string(text));
	}
	return out;
}

/* 0 when the front-end limits among specs are ones QEMU takes (common/disk_qos.h: whole
 * numbers in range, no total beside a read or write limit, bursts above their
 * average); else answers 400 and returns -EINVAL. Other keys are the back end's. */
static int specs_limits_ok(struct req *r, struct resp *w, const json_t *specs)
{
	char why[256];
	struct disk_qos q;
	if (disk_qos_from_specs(specs, DISK_QOS_CINDER, &q, why, sizeof(why)) == 0)
		return 0;
	resp_error(r, w, 400, "Invalid input received: %s.", why);
	return -EINVAL;
}

static void qos_create(struct req *r, struct resp *w)
{
	char err[512], sqlstate[6] = "", id[UUID_STR_LEN];
	static const char *const skip[] = {"name", "consumer", NULL};
	if (volume_project_check(r, w) < 0)
		return;
	json_t *in = json_object_get(r->json, "qos_specs");
	const char *name = json_string_value(json_object_get(in, "name"));
	const char *consumer = json_object_get(in, "consumer")
	                           ? json_string_value(json_object_get(in, "consumer"))
	                           : "back-end";
	if (!json_is_object(in)) {
		resp_error(r, w, 400, "Missing required element 'qos_specs' in request body.");
		return;
	}
	if (!name || !wire_name_ok(name, 255)) {
		resp_error(r, w, 400,
		           "Invalid input received: Please specify a name for QoS specs.");
		return;
	}
	int ok = 0;
	for (const char *const *c = consumers; consumer && *c; c++)
		ok |= !strcmp(consumer, *c);
	if (!ok) {
		resp_error(r, w, 400,
		           "Invalid input received: Valid consumer of QoS specs are: "
		           "['front-end', 'back-end', 'both']");
		return;
	}
	json_t *specs = specs_parse(r, w, in, skip);
	if (!specs)
		return;
	if (specs_limits_ok(r, w, specs) < 0) {
		json_decref(specs);
		return;
	}
	char *text = json_dumps(specs, JSON_COMPACT);
	json_decref(specs);
	uuid_generate_str(id);
	PGresult *res = db_query(r->ctx->db,
	                         "INSERT INTO qos_specs (id, name, consumer, specs) VALUES ($1, $2,"
	                         " $3, $4::jsonb) RETURNING " QOS_COLS,
	                         4, (const char *const[]){id, name, consumer, text}, err,
	                         sizeof(err), sqlstate);
	free(text);
	if (!res) {
		if (!strcmp(sqlstate, SQLSTATE_UNIQUE))
			resp_error(r, w, 409, "QoS Specs %s already exists.", name);
		else
			resp_db_error(r, w, err);
		return;
	}
	resp_json(w, 200,
	          json_pack("{s:o,s:o}", "qos_specs", qos_view(res, 0), "links", qos_links(r, id)));
	PQclear(res);
}

static void qos_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " QOS_COLS " FROM qos_specs WHERE $1::text = $1"
	                    " ORDER BY created_at, id LIMIT 1000",
	                    "qos");
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, qos_view(res, i));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "qos_specs", list));
}

static void qos_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = qos_find(r, w);
	if (!res)
		return;
	resp_json(w, 200,
	          json_pack("{s:o,s:o}", "qos_specs", qos_view(res, 0), "links",
	                    qos_links(r, r->params[1])));
	PQclear(res);
}

static void qos_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int force = wire_bool(req_query(r, "force"));
	if (force == -EINVAL) {
		resp_error(r, w, 400, "Invalid value '%s' for force.", req_query(r, "force"));
		return;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	int used =
	    DBX(r->ctx->db, err, sizeof err,
	        "SELECT 1 FROM volume_types WHERE qos_specs_id = $1 FOR UPDATE", r->params[1]);
	if (used > 0 && force != 1) {
		db_rollback(r->ctx->db);
		resp_error(r, w, 400, "QoS Specs %s is still associated with entities.",
		           r->params[1]);
		return;
	}
	int n = used < 0
	            ? -1
	            : DBX(r->ctx->db, err, sizeof err,
	                  "UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = $1",
	                  r->params[1]);
	if (n >= 0)
		n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM qos_specs WHERE id = $1",
		        r->params[1]);
	if (n <= 0) {
		db_rollback(r->ctx->db);
		wire_answer_rows(r, w, n, err, 202, "QoS Specs %s could not be found.",
		                 r->params[1]);
		return;
	}
	if (db_commit(r->ctx->db) < 0) { /* rolled back: never a 202 for it */
		db_rollback(r->ctx->db);
		resp_db_error(r, w, "commit failed");
		return;
	}
	resp_empty(w, 202);
}

/* PUT {"qos_specs": {k: v, ...}}: sets (adds or replaces) those keys; the limits of
 * the result are checked in the same transaction. */
static void qos_set_keys(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	json_t *in = json_object_get(r->json, "qos_specs");
	if (!json_is_object(in)) {
		resp_error(r, w, 400, "Missing required element 'qos_specs' in request body.");
		return;
	}
	json_t *specs = specs_parse(r, w, in, NULL);
	if (!specs)
		return;
	if (db_begin(r->ctx->db) < 0) {
		json_decref(specs);
		resp_db_error(r, w, "begin failed");
		return;
	}
	char *text = json_dumps(specs, JSON_COMPACT);
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "UPDATE qos_specs SET specs = specs || $2::jsonb WHERE id = $1"
	                    " RETURNING specs::text",
	                    r->params[1], text);
	free(text);
	int n = res ? PQntuples(res) : -1, rc = 0;
	json_t *merged = n == 1 ? json_loads(db_val(res, 0, 0), 0, NULL) : NULL;
	PQclear(res);
	if (n <= 0) {
		wire_answer_rows(r, w, n, err, 200, "QoS Specs %s could not be found.",
		                 r->params[1]);
		rc = -ENOENT;
	} else if ((rc = specs_limits_ok(r, w, merged)) == 0 && db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		rc = -EIO;
	}
	json_decref(merged);
	if (rc < 0) {
		db_rollback(r->ctx->db);
		json_decref(specs);
		return;
	}
	resp_json(w, 200, json_pack("{s:o}", "qos_specs", specs));
}

/* PUT {"keys": [...]}: removes them; 404 for a key the spec lacks. */
static void qos_delete_keys(struct req *r, struct resp *w)
{
	char err[512];
	struct qos_keys {
		struct jstrlist keys;
	} k = {{0}};
	static const struct jfield f[] = {
	    {"keys", J_STRLIST, JF(struct qos_keys, keys), 0, QOS_KEYS_MAX, 1, 0},
	};
	struct jstrlist keys;
	if (volume_project_check(r, w) < 0)
		return;
	if (!json_is_object(r->json) || jparse(r->json, f, JCOUNT(f), &k, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Missing required element 'keys' in request body.");
		return;
	}
	keys = k.keys;
	PGresult *res = qos_find(r, w);
	if (!res) {
		jparse_release(f, JCOUNT(f), &k);
		return;
	}
	json_t *specs = json_loads(db_val(res, 0, 3), 0, NULL);
	PQclear(res);
	for (size_t i = 0; i < keys.n; i++)
		if (!json_object_get(specs, keys.items[i])) {
			resp_error(r, w, 404, "QoS spec %.64s has no key %.64s.", r->params[1],
			           keys.items[i]);
			json_decref(specs);
			jparse_release(f, JCOUNT(f), &k);
			return;
		}
	for (size_t i = 0; i < keys.n; i++)
		json_object_del(specs, keys.items[i]);
	jparse_release(f, JCOUNT(f), &k);
	/* a burst left without its average, an I/O size without an I/O limit: refused */
	if (specs_limits_ok(r, w, specs) < 0) {
		json_decref(specs);
		return;
	}
	char *text = json_dumps(specs, JSON_COMPACT);
	json_decref(specs);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE qos_specs SET specs = $2::jsonb WHERE id = $1", r->params[1], text);
	free(text);
	wire_answer_rows(r, w, n, err, 202, "QoS Specs %s could not be found.", r->params[1]);
}

static void qos_associations(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = qos_find(r, w);
	if (!res)
		return;
	PQclear(res);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT id, name FROM volume_types WHERE qos_specs_id = $1 ORDER BY name",
	          r->params[1]);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "association_type",
		                                      "volume_type", "id", db_val(res, i, 0),
		                                      "name", db_val(res, i, 1)));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "qos_associations", list));
}

/* associate (vol_type_id set, link) or disassociate (unlink; all: every type). */
static void qos_link(struct req *r, struct resp *w, int link, int all)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	const char *type_id = req_query(r, "vol_type_id");
	if (!all && !type_id) {
		resp_error(r, w, 400, "Invalid input received: missing vol_type_id.");
		return;
	}
	PGresult *res = qos_find(r, w);
	if (!res)
		return;
	PQclear(res);
	int n;
	if (all)
		n = DBX(r->ctx->db, err, sizeof err,
		        "UPDATE volume_types SET qos_specs_id = NULL WHERE qos_specs_id = $1",
		        r->params[1]);
	else if (link) {
		res = DBQ(r->ctx->db, err, sizeof err,
		          "SELECT qos_specs_id FROM volume_types WHERE id = $1", type_id);
		res = wire_one_row(r, w, res, err, 404, "Volume type %s could not be found.",
		                   type_id);
		if (!res)
			return;
		const char *cur = db_val(res, 0, 0);
		int other = cur && strcmp(cur, r->params[1]);
		PQclear(res);
		if (other) {
			resp_error(r, w, 400,
			           "Type %s is already associated with another qos specs.",
			           type_id);
			return;
		}
		n = DBX(r->ctx->db, err, sizeof err,
		        "UPDATE volume_types SET qos_specs_id = $2 WHERE id = $1", type_id,
		        r->params[1]);
	} else
		n = DBX(r->ctx->db, err, sizeof err,
		        "UPDATE volume_types SET qos_specs_id = NULL WHERE id = $1 AND"
		        " qos_specs_id = $2",
		        type_id, r->params[1]);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0 && link)
		resp_error(r, w, 404, "Volume type %s could not be found.", type_id);
	else
		resp_empty(w, 202);
}

static void qos_associate(struct req *r, struct resp *w)
{
	qos_link(r, w, 1, 0);
}

static void qos_disassociate(struct req *r, struct resp *w)
{
	qos_link(r, w, 0, 0);
}

static void qos_disassociate_all(struct req *r, struct resp *w)
{
	qos_link(r, w, 0, 1);
}

#define V "/volume/v3/{}"
static const struct httpd_route qos_rows[] = {
    {"POST", V "/qos-specs", qos_create, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs", qos_list, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs/{}", qos_show, POL_VOLUME_ADMIN, 0},
    {"PUT", V "/qos-specs/{}", qos_set_keys, POL_VOLUME_ADMIN, 0},
    {"DELETE", V "/qos-specs/{}", qos_delete, POL_VOLUME_ADMIN, 0},
    {"PUT", V "/qos-specs/{}/delete_keys", qos_delete_keys, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs/{}/associations", qos_associations, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs/{}/associate", qos_associate, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs/{}/disassociate", qos_disassociate, POL_VOLUME_ADMIN, 0},
    {"GET", V "/qos-specs/{}/disassociate_all", qos_disassociate_all, POL_VOLUME_ADMIN, 0},
};
HTTPD_TABLE(qos_routes, qos_rows, &volume_hooks);

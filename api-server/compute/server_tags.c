/* Server tags (microversion 2.26): /servers/{id}/tags as a set of up to 50 strings,
 * replaced whole, cleared, or changed one at a time. Below 2.26 the routes do not
 * exist (404, as in Nova). Changes need a server that is not in the middle of a task
 * and in one of the states Nova allows (409 otherwise). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "jparse.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* The server of the request, if the version has tags; for a change, locked and in a
 * state that allows it (verb names the change in the 409). Returns the row (caller
 * PQclear()s), or NULL after answering. */
static PGresult *tags_server(struct req *r, struct resp *w, const char *verb)
{
	if (r->ctx->mv_minor < 26) {
		resp_error(r, w, 404, "The resource could not be found.");
		return NULL;
	}
	PGresult *res = server_find(r, w, r->params[0], verb != NULL);
	if (!res || !verb)
		return res;
	struct server_row s;
	server_row_from(res, 0, &s);
	unsigned ok = VMS_ACTIVE | VMS_PAUSED | VMS_STOPPED | VMS_SUSPENDED;
	if (!(server_vm_state_bit(s.vm_state) & ok) || s.task_state) {
		resp_error(r, w, 409,
		           "Instance %s in %s %s. Cannot %s while the instance is in this state.",
		           s.id, s.task_state ? "task_state" : "vm_state",
		           s.task_state ? s.task_state : s.vm_state, verb);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* {"tags": [...]} of the server id, sorted. */
static void tags_answer(struct req *r, struct resp *w, const char *id, int status)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT coalesce(json_agg(tag ORDER BY tag), '[]')::text FROM"
	                    " instance_tags WHERE instance_id = $1",
	                    id);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *tags = json_loads(db_val(res, 0, 0), 0, NULL);
	PQclear(res);
	resp_json(w, status, json_pack("{s:o}", "tags", tags ? tags : json_array()));
}

static void tags_list(struct req *r, struct resp *w)
{
	PGresult *res = tags_server(r, w, NULL);
	if (!res)
		return;
	char id[UUID_STR_LEN];
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	tags_answer(r, w, id, 200);
}

struct tags_in {
	struct jstrlist tags;
};
static const struct jfield f_tags[] = {
    {"tags", J_STRLIST, JF(struct tags_in, tags), 0, SERVER_TAGS_MAX, 1, 0},
};

/* PUT /servers/{id}/tags: the whole set. */
static void tags_replace(struct req *r, struct resp *w)
{
	struct tags_in in = {0};
	char err[256], id[UUID_STR_LEN];
	PGresult *res = NULL;
	if (!r->json || jparse(r->json, f_tags, JCOUNT(f_tags), &in, err, sizeof(err)) < 0 ||
	    jparse_known(r->json, f_tags, JCOUNT(f_tags), NULL, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute tags. %s", err);
		goto out;
	}
	for (size_t i = 0; i < in.tags.n; i++)
		if (!server_tag_valid(in.tags.items[i])) {
			resp_error(r, w, 400, "Invalid input for field/attribute tags.");
			goto out;
		}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	if (!(res = tags_server(r, w, "update tags")))
		goto out; /* db_release rolls back */
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM instance_tags WHERE instance_id = $1",
	        id) < 0)
		goto dberr;
	for (size_t i = 0; i < in.tags.n; i++)
		if (DBX(r->ctx->db, err, sizeof err,
		        "INSERT INTO instance_tags (instance_id, tag) VALUES ($1, $2)"
		        " ON CONFLICT DO NOTHING",
		        id, in.tags.items[i]) < 0)
			goto dberr;
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE instances SET updated_at = now() WHERE id = $1", id) < 0 ||
	    db_commit(r->ctx->db) < 0)
		goto dberr;
	tags_answer(r, w, id, 200);
	goto out;
dberr:
	resp_db_error(r, w, err);
out:
	PQclear(res);
	jparse_release(f_tags, JCOUNT(f_tags), &in);
}

/* DELETE /servers/{id}/tags: none left. */
static void tags_clear(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = tags_server(r, w, "delete tags");
	if (!res)
		return;
	int n = DBX(r->ctx->db, err, sizeof err, "DELETE FROM instance_tags WHERE instance_id = $1",
	            db_val(res, 0, 0));
	PQclear(res);
	if (n < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

static void tag_check(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = tags_server(r, w, NULL);
	if (!res)
		return;
	char id[UUID_STR_LEN];
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	int n = DBX(r->ctx->db, err, sizeof err,
	            "SELECT 1 FROM instance_tags WHERE instance_id = $1 AND tag = $2", id,
	            r->params[1]);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0)
		resp_error(r, w, 404, "Instance %s has no tag '%s'", id, r->params[1]);
	else
		resp_empty(w, 204);
}

/* PUT /servers/{id}/tags/{tag}: 201 with its Location when new, 204 when it was there. */
static void tag_add(struct req *r, struct resp *w)
{
	char err[256], id[UUID_STR_LEN];
	const char *tag = r->params[1];
	if (!server_tag_valid(tag)) {
		resp_error(r, w, 400, "Tag '%s' is invalid: 1 to %d characters without '/' or ','",
		           strlen(tag) <= 64 ? tag : "", SERVER_TAG_MAX);
		return;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = tags_server(r, w, "update tag");
	if (!res)
		return; /* db_release rolls back */
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT count(*), count(*) FILTER (WHERE tag = $2) FROM instance_tags"
	          " WHERE instance_id = $1",
	          id, tag);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	long count = db_long(res, 0, 0, 0), have = db_long(res, 0, 1, 0);
	PQclear(res);
	if (have) {
		db_rollback(r->ctx->db);
		resp_empty(w, 204);
		return;
	}
	if (count >= SERVER_TAGS_MAX) {
		db_rollback(r->ctx->db);
		resp_error(r, w, 400, "Instance %s has too many tags (at most %d)", id,
		           SERVER_TAGS_MAX);
		return;
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO instance_tags (instance_id, tag) VALUES ($1, $2)", id, tag) < 0 ||
	    db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, err);
		return;
	}
	char *enc = wire_query_append(NULL, "t", tag); /* "&t=" then the tag percent-encoded */
	char *loc =
	    xasprintf("%s/compute/v2.1/servers/%s/tags/%s", r->ctx->api->public_url, id, enc + 3);
	free(enc);
	resp_header(w, "Location", loc);
	free(loc);
	resp_empty(w, 201);
}

static void tag_delete(struct req *r, struct resp *w)
{
	char err[256], id[UUID_STR_LEN];
	PGresult *res = tags_server(r, w, "delete tag");
	if (!res)
		return;
	snprintf(id, sizeof(id), "%s", db_val(res, 0, 0));
	PQclear(res);
	int n =
	    DBX(r->ctx->db, err, sizeof err,
	        "DELETE FROM instance_tags WHERE instance_id = $1 AND tag = $2", id, r->params[1]);
	if (n < 0)
		resp_db_error(r, w, err);
	else if (n == 0)
		resp_error(r, w, 404, "Instance %s has no tag '%s'", id, r->params[1]);
	else
		resp_empty(w, 204);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/servers/{}/tags", tags_list, POL_COMPUTE_READ, 0},
    {"PUT", C "/servers/{}/tags", tags_replace, POL_COMPUTE_WRITE, 0},
    {"DELETE", C "/servers/{}/tags", tags_clear, POL_COMPUTE_WRITE, 0},
    {"GET", C "/servers/{}/tags/{}", tag_check, POL_COMPUTE_READ, 0},
    {"PUT", C "/servers/{}/tags/{}", tag_add, POL_COMPUTE_WRITE, 0},
    {"DELETE", C "/servers/{}/tags/{}", tag_delete, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(server_tag_routes, routes, &compute_hooks);

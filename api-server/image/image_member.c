/* Image members (Glance v2 sharing): /image/v2/images/{id}/members[/{member_id}].
 * The owner of an image whose visibility is 'shared' adds and removes projects;
 * each member project answers for itself (pending -> accepted or rejected, and back).
 * Who may do what follows Glance's default policy: add and delete by the owner (or an
 * admin), status by the member itself (or an admin), list and show by the owner (all
 * members) or a member (its own membership only). A project that is neither never
 * learns the image exists (404). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "policy.h"
#include "xalloc.h"

#define IMAGE_MAX_MEMBERS 128 /* Glance image_member_quota */
#define MEMBER_ID_MAX 255

#define MEMBER_COLS                                                                                \
	"image_id, member, status,"                                                                \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"               \
	" to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char *const member_statuses[] = {"pending", "accepted", "rejected"};

static json_t *member_to_json(const PGresult *res, int row)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "image_id", db_val(res, row, 0), "member_id",
	                 db_val(res, row, 1), "status", db_val(res, row, 2), "created_at",
	                 db_val(res, row, 3), "updated_at", db_val(res, row, 4), "schema",
	                 "/v2/schemas/member");
}

static int is_admin(const struct req *r)
{
	return policy_is_admin(&r->ctx->auth);
}

static int is_owner(const struct req *r, const struct image *img)
{
	return img->owner && r->ctx->auth.project_id[0] &&
	       !strcmp(img->owner, r->ctx->auth.project_id);
}

/* 1 when the caller is project member_id (answering for its own membership). */
static int is_self(const struct req *r, const char *member_id)
{
	return r->ctx->auth.project_id[0] && !strcmp(r->ctx->auth.project_id, member_id);
}

/* The image of r->params[0] as the caller sees it (404 otherwise), with its row locked
 * in a transaction begun here when lock is set. 0 or a negative errno after answering. */
static int member_image(struct req *r, struct resp *w, int lock, struct image *img)
{
	if (lock && db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	return image_find(r, w, r->params[0], lock, img);
}

/* One membership row (MEMBER_COLS) of image_id, or NULL: absent (after 404) or a
 * database error (after 500). */
static PGresult *member_row(struct req *r, struct resp *w, const char *image_id,
                            const char *member_id)
{
	char err[256];
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " MEMBER_COLS " FROM image_members WHERE image_id = $1 AND"
	                    " member = $2",
	                    image_id, member_id);
	if (!res) {
		resp_db_error(r, w, err);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		resp_error(r, w, 404, "%s not found in the member list of the image %s.", member_id,
		           image_id);
		return NULL;
	}
	return res;
}

/* Body {"member": "<project id>"} of an add. NULL after answering 400. */
static const char *member_body(struct req *r, struct resp *w)
{
	const json_t *m = json_is_object(r->json) ? json_object_get(r->json, "member") : NULL;
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "Expected a member in the form: {\"member\": \"image_id\"}");
		return NULL;
	}
	if (!m) {
		resp_error(r, w, 400, "Member to be added not specified");
		return NULL;
	}
	if (!json_is_string(m) || !json_string_value(m)[0]) {
		resp_error(r, w, 400, "Member can't be empty");
		return NULL;
	}
	if (strlen(json_string_value(m)) > MEMBER_ID_MAX) {
		resp_error(r, w, 400, "Member must be at most %d bytes", MEMBER_ID_MAX);
		return NULL;
	}
	return json_string_value(m);
}

/* POST /images/{id}/members */
void image_members_add(struct req *r, struct resp *w)
{
	struct image img = {0};
	PGresult *res = NULL;
	char err[256];
	const char *member = member_body(r, w);
	if (!member || member_image(r, w, 1, &img) < 0)
		goto out;
	if (strcmp(img.visibility, "shared") || (!is_admin(r) && !is_owner(r, &img))) {
		resp_error(r, w, 403, "Not allowed to create members for image %s.", img.id);
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT count(*) FROM image_members WHERE image_id = $1", img.id);
	long have = res ? db_long(res, 0, 0, -1) : -1;
	PQclear(res);
	if (have < 0) {
		resp_db_error(r, w, err);
		res = NULL;
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "INSERT INTO image_members (image_id, member) VALUES ($1, $2)"
	          " ON CONFLICT DO NOTHING RETURNING " MEMBER_COLS,
	          img.id, member);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		resp_error(r, w, 409, "Member %s is duplicated for image %s", member, img.id);
		goto out;
	}
	if (have >= IMAGE_MAX_MEMBERS) {
		resp_error(r, w, 413,
		           "Image member limit exceeded for image %s: Maximum number of image"
		           " members (%d) exceeded.",
		           img.id, IMAGE_MAX_MEMBERS);
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	resp_json(w, 200, member_to_json(res, 0));
out:
	PQclear(res);
	image_release(&img); /* db_release rolls back what was not committed */
}

/* GET /images/{id}/members */
void image_members_list(struct req *r, struct resp *w)
{
	struct image img = {0};
	PGresult *res = NULL;
	char err[256];
	if (member_image(r, w, 0, &img) < 0)
		goto out;
	if (strcmp(img.visibility, "shared")) {
		resp_error(r, w, 403,
		           "Not allowed to list members for image %s: Only shared images have"
		           " members.",
		           img.id);
		goto out;
	}
	/* the owner sees every member; a member only its own membership */
	int all = is_admin(r) || is_owner(r, &img);
	res = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT " MEMBER_COLS " FROM image_members WHERE image_id = $1 AND"
	          " ($2::boolean OR member = $3) ORDER BY created_at, member",
	          img.id, all ? "true" : "false", r->ctx->auth.project_id);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, member_to_json(res, i));
	resp_json(w, 200, json_pack("{s:o,s:s}", "members", list, "schema", "/v2/schemas/members"));
out:
	PQclear(res);
	image_release(&img);
}

/* GET /images/{id}/members/{member_id} */
void image_member_show(struct req *r, struct resp *w)
{
	struct image img = {0};
	PGresult *res = NULL;
	const char *member = r->params[1];
	if (member_image(r, w, 0, &img) < 0)
		goto out;
	if (strcmp(img.visibility, "shared")) {
		resp_error(r, w, 404, "Only shared images have members.");
		goto out;
	}
	if (!is_admin(r) && !is_owner(r, &img) && !is_self(r, member)) {
		resp_error(r, w, 404, "%s not found in the member list of the image %s.", member,
		           img.id);
		goto out;
	}
	res = member_row(r, w, img.id, member);
	if (res)
		resp_json(w, 200, member_to_json(res, 0));
out:
	PQclear(res);
	image_release(&img);
}

/* PUT /images/{id}/members/{member_id} {"status": "accepted"} */
void image_member_update(struct req *r, struct resp *w)
{
	struct image img = {0};
	PGresult *res = NULL;
	char err[256];
	const char *member = r->params[1];
	const json_t *st = json_is_object(r->json) ? json_object_get(r->json, "status") : NULL;
	if (!json_is_object(r->json)) {
		resp_error(r, w, 400, "Expected a status in the form: {\"status\": \"status\"}");
		goto out;
	}
	if (!st) {
		resp_error(r, w, 400, "Status not specified");
		goto out;
	}
	const char *status = json_string_value(st);
	size_t k = 0;
	while (status && k < sizeof(member_statuses) / sizeof(member_statuses[0]) &&
	       strcmp(status, member_statuses[k]))
		k++;
	if (!status || k == sizeof(member_statuses) / sizeof(member_statuses[0])) {
		resp_error(r, w, 400,
		           "Incorrect request: Status must be \"pending\", \"accepted\" or"
		           " \"rejected\".");
		goto out;
	}
	if (member_image(r, w, 1, &img) < 0)
		goto out;
	/* only the member answers for itself: the owner may not accept on its behalf */
	if (strcmp(img.visibility, "shared") || (!is_admin(r) && !is_self(r, member))) {
		resp_error(r, w, 403, "Not allowed to update members for image %s.", img.id);
		goto out;
	}
	res = DBQ(r->ctx->db, err, sizeof err,
	          "UPDATE image_members SET status = $3, updated_at = now() WHERE image_id = $1"
	          " AND member = $2 RETURNING " MEMBER_COLS,
	          img.id, member, status);
	if (!res) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (PQntuples(res) != 1) {
		resp_error(r, w, 404, "%s not found in the member list of the image %s.", member,
		           img.id);
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	resp_json(w, 200, member_to_json(res, 0));
out:
	PQclear(res);
	image_release(&img);
}

/* DELETE /images/{id}/members/{member_id} */
void image_member_delete(struct req *r, struct resp *w)
{
	struct image img = {0};
	char err[256];
	const char *member = r->params[1];
	if (member_image(r, w, 1, &img) < 0)
		goto out;
	if (strcmp(img.visibility, "shared") || (!is_admin(r) && !is_owner(r, &img))) {
		resp_error(r, w, 403, "Not allowed to delete members for image %s.", img.id);
		goto out;
	}
	int n =
	    DBX(r->ctx->db, err, sizeof err,
	        "DELETE FROM image_members WHERE image_id = $1 AND member = $2", img.id, member);
	if (n < 0 || (n > 0 && db_commit(r->ctx->db) < 0)) {
		resp_db_error(r, w, n < 0 ? err : "commit failed");
		goto out;
	}
	if (n == 0) {
		resp_error(r, w, 404, "%s not found in the member list of the image %s.", member,
		           img.id);
		goto out;
	}
	resp_empty(w, 204);
out:
	image_release(&img);
}

/* ---- schemas ---- */

static const char member_schema_text[] =
    "{\"name\": \"member\","
    " \"properties\": {"
    "  \"created_at\": {\"type\": \"string\", \"description\": \"Date and time of image member"
    " creation\"},"
    "  \"image_id\": {\"type\": \"string\", \"description\": \"An identifier for the image\","
    "   \"pattern\": \"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}"
    "-([0-9a-fA-F]){12}$\"},"
    "  \"member_id\": {\"type\": \"string\", \"description\": \"An identifier for the image"
    " member (tenantId)\"},"
    "  \"status\": {\"type\": \"string\", \"description\": \"The status of this image member\","
    "   \"enum\": [\"pending\", \"accepted\", \"rejected\"]},"
    "  \"updated_at\": {\"type\": \"string\", \"description\": \"Date and time of last"
    " modification of image member\"},"
    "  \"schema\": {\"type\": \"string\", \"readOnly\": true}"
    " }}";

static json_t *member_schema(void)
{
	json_t *s = json_loads(member_schema_text, 0, NULL);
	return s ? s : json_object(); /* the text is ours: parsing cannot fail */
}

void image_schema_member(struct req *r, struct resp *w)
{
	resp_json(w, 200, member_schema());
}

void image_schema_members(struct req *r, struct resp *w)
{
	resp_json(w, 200,
	          json_pack("{s:s,s:{s:{s:s,s:o},s:{s:s}},s:[{s:s,s:s}]}", "name", "members",
	                    "properties", "members", "type", "array", "items", member_schema(),
	                    "schema", "type", "string", "links", "rel", "describedby", "href",
	                    "{schema}"));
}

/* Block Storage v3 volume transfers (/volume/v3/{project_id}/os-volume-transfer): the
 * owner of an available volume offers it (the volume waits in "awaiting-transfer"),
 * gets a random auth key once, and any project that presents the transfer id and the
 * key takes the volume, its snapshots and with them their quota usage (usage is
 * counted from the rows; the taker's quota is checked under its project lock). The
 * key is kept only as a salted BLAKE2b digest (key_hash, see key_hash_make);
 * deleting the offer puts the volume back to available. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"
#include "xalloc.h"

#define AUTH_KEY_BYTES 8 /* 16 hex digits, as Cinder's auth_key_length */
#define XFER_COLS                                                                                  \
	"t.id, t.name, t.volume_id, " VOLUME_TS("t.created_at") ", t.project_id, t.key_hash"
enum { T_ID, T_NAME, T_VOLUME, T_CREATED, T_PROJECT, T_HASH };

/* key_hash: "b2$<salt>$<digest>" in hex, the digest BLAKE2b (crypto_generichash) of
 * the key keyed with a random per-transfer salt. The key is 64 random bits, so a slow
 * password hash would buy nothing and cost every accept, right or wrong, its time. */
#define KEY_SALT_BYTES crypto_generichash_KEYBYTES
#define KEY_DIGEST_BYTES crypto_generichash_BYTES
#define KEY_HASH_LEN (3 + 2 * KEY_SALT_BYTES + 1 + 2 * KEY_DIGEST_BYTES)

static void key_digest(const char *key, const unsigned char *salt, unsigned char *out)
{
	crypto_generichash(out, KEY_DIGEST_BYTES, (const unsigned char *)key, strlen(key), salt,
	                   KEY_SALT_BYTES);
}

/* Fills out (KEY_HASH_LEN + 1) with the key_hash of key under a new salt. */
static void key_hash_make(const char *key, char *out)
{
	unsigned char salt[KEY_SALT_BYTES], digest[KEY_DIGEST_BYTES];
	randombytes_buf(salt, sizeof(salt));
	key_digest(key, salt, digest);
	memcpy(out, "b2$", 3);
	sodium_bin2hex(out + 3, 2 * KEY_SALT_BYTES + 1, salt, sizeof(salt));
	out[3 + 2 * KEY_SALT_BYTES] = '$';
	sodium_bin2hex(out + 4 + 2 * KEY_SALT_BYTES, 2 * KEY_DIGEST_BYTES + 1, digest,
	               sizeof(digest));
}

/* 0 when key matches key_hash stored (compared in constant time), else -EACCES. */
static int key_hash_check(const char *stored, const char *key)
{
	unsigned char salt[KEY_SALT_BYTES], want[KEY_DIGEST_BYTES], got[KEY_DIGEST_BYTES];
	size_t ns = 0, nd = 0;
	if (strlen(stored) != KEY_HASH_LEN || strncmp(stored, "b2$", 3) ||
	    stored[3 + 2 * KEY_SALT_BYTES] != '$' ||
	    sodium_hex2bin(salt, sizeof(salt), stored + 3, 2 * KEY_SALT_BYTES, NULL, &ns, NULL) ||
	    ns != sizeof(salt) ||
	    sodium_hex2bin(want, sizeof(want), stored + 4 + 2 * KEY_SALT_BYTES,
	                   2 * KEY_DIGEST_BYTES, NULL, &nd, NULL) ||
	    nd != sizeof(want))
		return -EACCES;
	key_digest(key, salt, got);
	return sodium_memcmp(got, want, sizeof(want)) ? -EACCES : 0;
}

static json_t *xfer_links(const struct req *r, const char *id)
{
	const char *base = r->ctx->api->public_url;
	char *self = xasprintf("%s/volume/v3/%s/os-volume-transfer/%s", base, r->params[0], id);
	char *book = xasprintf("%s/volume/%s/os-volume-transfer/%s", base, r->params[0], id);
	json_t *l = json_pack("[{s:s,s:s},{s:s,s:s}]", "rel", "self", "href", self, "rel",
	                      "bookmark", "href", book);
	free(self);
	free(book);
	return l;
}

/* detail: 0 the list's {id, name, volume_id, links}; 1 with created_at. */
static json_t *xfer_view(const struct req *r, const PGresult *res, int i, int detail)
{
	json_t *t =
	    json_pack("{s:s,s:o,s:s,s:o}", "id", db_val(res, i, T_ID), "name",
	              wire_string_or_null(db_val(res, i, T_NAME)), "volume_id",
	              db_val(res, i, T_VOLUME), "links", xfer_links(r, db_val(res, i, T_ID)));
	if (detail)
		json_object_set_new(t, "created_at", json_string(db_val(res, i, T_CREATED)));
	return t;
}

/* The transfer of params[1]; mine: only the caller's project's (admins: any). Locked
 * when for_update. NULL after answering 404 (or the database error). */
static PGresult *xfer_find(struct req *r, struct resp *w, int mine, int for_update)
{
	char err[512];
	int any = !mine || policy_is_admin(&r->ctx->auth);
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        for_update ? "SELECT " XFER_COLS " FROM volume_transfers t WHERE t.id = $1 AND"
	                     " ($2 OR t.project_id = $3) FOR UPDATE"
	                   : "SELECT " XFER_COLS " FROM volume_transfers t WHERE t.id = $1 AND"
	                     " ($2 OR t.project_id = $3)",
	        r->params[1], any ? "true" : "false", r->ctx->auth.project_id);
	return wire_one_row(r, w, res, err, 404, "Transfer %s could not be found.", r->params[1]);
}

struct xfer_create {
	char *volume_id, *name;
};

static const struct jfield f_create[] = {
    {"volume_id", J_STR, JF(struct xfer_create, volume_id), 0, 36, 1, 0},
    {"name", J_STR, JF(struct xfer_create, name), 0, 255, 0, 1},
};

static void xfer_create(struct req *r, struct resp *w)
{
	struct xfer_create c = {0};
	char err[512], id[UUID_STR_LEN], key[2 * AUTH_KEY_BYTES + 1];
	char hash[KEY_HASH_LEN + 1];
	unsigned char raw[AUTH_KEY_BYTES];
	int began = 0;
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "transfer", f_create, JCOUNT(f_create), &c) < 0)
		return;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(key, sizeof(key), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	key_hash_make(key, hash);
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	began = 1;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT status, attached_server IS NOT NULL FROM volumes WHERE id = $1"
	                    " AND project_id = $2 FOR UPDATE",
	                    c.volume_id, r->ctx->auth.project_id);
	res = wire_one_row(r, w, res, err, 404, "Volume %s could not be found.", c.volume_id);
	if (!res)
		goto out;
	int ok = !strcmp(db_val(res, 0, 0), "available") && db_val(res, 0, 1)[0] == 'f';
	PQclear(res);
	if (!ok) {
		resp_error(r, w, 400, "Invalid volume: status must be available");
		goto out;
	}
	uuid_generate_str(id);
	if (DBX(r->ctx->db, err, sizeof err,
	        "INSERT INTO volume_transfers (id, volume_id, project_id, name, key_hash) VALUES"
	        " ($1, $2, $3, $4, $5)",
	        id, c.volume_id, r->ctx->auth.project_id, c.name, hash) != 1 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'awaiting-transfer', updated_at = now() WHERE id = $1",
	        c.volume_id) != 1) {
		resp_db_error(r, w, err);
		goto out;
	}
	r->params[1] = id;
	res = xfer_find(r, w, 1, 0);
	if (!res)
		goto out;
	if (db_commit(r->ctx->db) < 0) {
		PQclear(res);
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	began = 0;
	json_t *view = xfer_view(r, res, 0, 1);
	PQclear(res);
	json_object_set_new(view, "auth_key", json_string(key));
	resp_json(w, 202, json_pack("{s:o}", "transfer", view));
	log_info("volume %s offered for transfer %s by project %s", c.volume_id, id,
	         r->ctx->auth.project_id);
out:
	sodium_memzero(key, sizeof(key));
	if (began)
		db_rollback(r->ctx->db);
	jparse_release(f_create, JCOUNT(f_create), &c);
}

static void xfers_list_common(struct req *r, struct resp *w, int detail)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	int all = wire_bool(req_query(r, "all_tenants"));
	if (all == -EINVAL) {
		resp_error(r, w, 400, "Invalid input received: all_tenants must be a boolean.");
		return;
	}
	const char *scope =
	    policy_is_admin(&r->ctx->auth) && all == 1 ? NULL : r->ctx->auth.project_id;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    "SELECT " XFER_COLS " FROM volume_transfers t WHERE ($1::text IS NULL"
	                    " OR t.project_id = $1) ORDER BY t.created_at DESC, t.id LIMIT 1000",
	                    scope);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, xfer_view(r, res, i, detail));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "transfers", list));
}

static void xfers_list(struct req *r, struct resp *w)
{
	xfers_list_common(r, w, 0);
}

static void xfers_detail(struct req *r, struct resp *w)
{
	xfers_list_common(r, w, 1);
}

static void xfer_show(struct req *r, struct resp *w)
{
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = xfer_find(r, w, 1, 0);
	if (!res)
		return;
	resp_json(w, 200, json_pack("{s:o}", "transfer", xfer_view(r, res, 0, 1)));
	PQclear(res);
}

static void xfer_delete(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return;
	}
	PGresult *res = xfer_find(r, w, 1, 1);
	if (!res) {
		db_rollback(r->ctx->db);
		return;
	}
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET status = 'available', updated_at = now() WHERE id = $1 AND"
	        " status = 'awaiting-transfer'",
	        db_val(res, 0, T_VOLUME)) < 0 ||
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM volume_transfers WHERE id = $1",
	        r->params[1]) != 1) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		return;
	}
	PQclear(res);
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		return;
	}
	resp_empty(w, 202);
}

struct xfer_accept {
	char *auth_key;
};

static const struct jfield f_accept[] = {
    {"auth_key", J_STR, JF(struct xfer_accept, auth_key), 0, 64, 1, 0},
};

static void xfer_accept(struct req *r, struct resp *w)
{
	struct xfer_accept a = {0};
	char err[512];
	PGresult *res = NULL, *vol = NULL;
	if (volume_project_check(r, w) < 0)
		return;
	if (wire_parse_wrapped(r, w, "accept", f_accept, JCOUNT(f_accept), &a) < 0)
		return;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	res = xfer_find(r, w, 0, 1);
	if (!res)
		goto fail;
	if (key_hash_check(db_val(res, 0, T_HASH), a.auth_key) < 0) {
		resp_error(r, w, 400,
		           "Invalid auth key: Attempt to transfer %s with invalid auth key.",
		           r->params[1]);
		goto fail;
	}
	const char *vid = db_val(res, 0, T_VOLUME);
	vol = DBQ(r->ctx->db, err, sizeof err,
	          "SELECT v.size_gb, (SELECT count(*) FROM volume_snapshots s WHERE s.volume_id ="
	          " v.id), (SELECT coalesce(sum(size_gb), 0) FROM volume_snapshots s WHERE"
	          " s.volume_id = v.id), v.status, v.type_id FROM volumes v WHERE v.id = $1 FOR"
	          " UPDATE OF v",
	          vid);
	vol = wire_one_row(r, w, vol, err, 404, "Volume %s could not be found.", vid);
	if (!vol)
		goto fail;
	if (strcmp(db_val(vol, 0, 3), "awaiting-transfer")) {
		resp_error(r, w, 400, "Invalid volume: status must be awaiting-transfer");
		goto fail;
	}
	struct vquota_set want = {
	    {1, db_long(vol, 0, 0, 0) + db_long(vol, 0, 2, 0), db_long(vol, 0, 1, 0)}};
	if (vquota_reserve(r, w, NULL, db_val(vol, 0, 4), &want, NULL) < 0)
		goto fail;
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volumes SET project_id = $2, user_id = $3, status = 'available',"
	        " updated_at = now() WHERE id = $1",
	        vid, r->ctx->auth.project_id, r->ctx->auth.user_id) != 1 ||
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE volume_snapshots SET project_id = $2, user_id = $3, updated_at = now()"
	        " WHERE volume_id = $1",
	        vid, r->ctx->auth.project_id, r->ctx->auth.user_id) < 0 ||
	    DBX(r->ctx->db, err, sizeof err, "DELETE FROM volume_transfers WHERE id = $1",
	        r->params[1]) != 1) {
		resp_db_error(r, w, err);
		goto fail;
	}
	json_t *view = xfer_view(r, res, 0, 0);
	if (db_commit(r->ctx->db) < 0) {
		json_decref(view);
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	log_info("volume %s transferred (%s) to project %s", vid, r->params[1],
	         r->ctx->auth.project_id);
	resp_json(w, 202, json_pack("{s:o}", "transfer", view));
	goto out;
fail:
	db_rollback(r->ctx->db);
out:
	PQclear(vol);
	PQclear(res);
	jparse_release(f_accept, JCOUNT(f_accept), &a);
}

#define V "/volume/v3/{}"
static const struct httpd_route transfer_rows[] = {
    {"POST", V "/os-volume-transfer", xfer_create, POL_VOLUME_WRITE, 0},
    {"GET", V "/os-volume-transfer", xfers_list, POL_VOLUME_READ, 0},
    {"GET", V "/os-volume-transfer/detail", xfers_detail, POL_VOLUME_READ, 0},
    {"GET", V "/os-volume-transfer/{}", xfer_show, POL_VOLUME_READ, 0},
    {"DELETE", V "/os-volume-transfer/{}", xfer_delete, POL_VOLUME_WRITE, 0},
    {"POST", V "/os-volume-transfer/{}/accept", xfer_accept, POL_VOLUME_WRITE, 0},
};
HTTPD_TABLE(transfer_routes, transfer_rows, &volume_hooks);

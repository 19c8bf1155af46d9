/* Compute key pairs (/compute/v2.1/os-keypairs), per user: create (generated with
 * ssh-keygen, the private key returned once and never stored), import (checked with
 * ssh-keygen), list, show and delete, with the key_pairs quota. Microversions: the
 * key type and 201/204 from 2.2, an admin's user_id from 2.10, paging from 2.35. */
#include "compute/keypair.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compute/server.h"
#include "md5.h"
#include "policy.h"
#include "fsutil.h"
#include "proc.h"
#include "quota.h"
#include "routes.h"
#include "wire.h"
#include "xalloc.h"

#define KEYGEN_TIMEOUT_MS 30000
#define PRIVATE_KEY_MAX 16384

/* ---- pure cores ---- */

static const char *const key_types[] = {
    "ssh-rsa",
    "ssh-dss",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

int keypair_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return wire_charset_ok(name, KEYPAIR_NAME_MAX, " _-.@") && name[0] != ' ' &&
	       name[n - 1] != ' ';
}

int keypair_public_key_parse(char *key)
{
	size_t n = strlen(key);
	while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r' || key[n - 1] == ' ' ||
	                 key[n - 1] == '\t'))
		key[--n] = '\0';
	if (n == 0 || n > KEYPAIR_KEY_MAX || strpbrk(key, "\r\n"))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++) {
		size_t t = strlen(key_types[i]);
		if (!strncmp(key, key_types[i], t) && key[t] == ' ')
			return 0;
	}
	return -EINVAL;
}

int keypair_fingerprint(const char *key, char out[KEYPAIR_FP_LEN])
{
	const char *b64 = strchr(key, ' ');
	if (!b64)
		return -EINVAL;
	b64++;
	size_t b64len = strcspn(b64, " ");
	if (b64len == 0 || b64len > KEYPAIR_KEY_MAX)
		return -EINVAL;
	size_t cap = b64len / 4 * 3 + 3, bin_len = 0;
	unsigned char *bin = xmalloc(cap);
	const char *end = NULL;
	int rc = -EINVAL;
	if (sodium_base642bin(bin, cap, b64, b64len, NULL, &bin_len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64len || bin_len == 0)
		goto out;
	struct md5 m;
	char hex[33];
	md5_init(&m);
	md5_update(&m, bin, bin_len);
	md5_final_hex(&m, hex);
	for (int i = 0; i < 16; i++) {
		out[i * 3] = hex[i * 2];
		out[i * 3 + 1] = hex[i * 2 + 1];
		out[i * 3 + 2] = i == 15 ? '\0' : ':';
	}
	rc = 0;
out:
	free(bin);
	return rc;
}

/* ---- ssh-keygen in a private temporary directory ---- */

struct keydir {
	char dir[256];
	char key[300], pub[300]; /* <dir>/k and <dir>/k.pub */
};

static int keydir_make(struct keydir *k)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(k->dir, sizeof(k->dir), "%s/nubo-keypair-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(k->dir)) /* mode 0700 */
		return -errno;
	snprintf(k->key, sizeof(k->key), "%s/k", k->dir);
	snprintf(k->pub, sizeof(k->pub), "%s/k.pub", k->dir);
	return 0;
}

static void keydir_remove(struct keydir *k)
{
	unlink(k->key);
	unlink(k->pub);
	rmdir(k->dir);
}

static int file_write(const char *path, const char *data)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	size_t n = strlen(data), done = 0;
	int rc = 0;
	while (done < n) {
		ssize_t k = write(fd, data + done, n - done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = -errno;
			break;
		}
		done += (size_t)k;
	}
	if (rc == 0 && write(fd, "\n", 1) != 1)
		rc = -EIO;
	close(fd);
	return rc;
}

/* Generates an RSA 2048 key pair commented with name. Fills priv (PEM) and pub (one
 * line). Returns 0 or a negative errno. */
static int keypair_generate(const char *name, char *priv, size_t privlen, char *pub, size_t publen)
{
	struct keydir k;
	char out[512];
	int rc = keydir_make(&k);
	if (rc < 0)
		return rc;
	const char *const argv[] = {"ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-m", "PEM",
	                            "-N",         "",   "-C", name,  "-f", k.key,  NULL};
	rc = proc_run(argv, KEYGEN_TIMEOUT_MS, out, sizeof(out));
	if (rc != 0)
		rc = rc < 0 ? rc : -EIO;
	else if ((rc = fs_read_into(k.key, priv, privlen)) == 0)
		rc = fs_read_into(k.pub, pub, publen);
	keydir_remove(&k);
	return rc;
}

/* Nova's x509 fingerprint from openssl's "SHA1 Fingerprint=AB:CD:..." line: the hex
 * pairs in lower case. 0, or -EINVAL when out is not that line. */
static int x509_fingerprint_parse(const char *line, char fp[KEYPAIR_X509_FP_LEN])
{
	const char *eq = strchr(line, '=');
	if (!eq)
		return -EINVAL;
	size_t n = strcspn(eq + 1, "\r\n");
	if (n != KEYPAIR_X509_FP_LEN - 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = eq[1 + i];
		if (i % 3 == 2 ? c != ':' : !strchr("0123456789ABCDEFabcdef", c))
			return -EINVAL;
		fp[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
	}
	fp[n] = '\0';
	return 0;
}

/* An x509 key pair (microversion 2.2's "type": "x509"): with pem (an imported
 * certificate) checks it with openssl; without, makes a self-signed RSA 2048
 * certificate for CN=name, its key into priv and the certificate into cert. Either way
 * the SHA-1 fingerprint goes to fp. Returns 0, -EINVAL for a certificate openssl
 * refuses, or another negative errno. */
static int keypair_x509(const char *name, const char *pem, char *priv, size_t privlen, char *cert,
                        size_t certlen, char fp[KEYPAIR_X509_FP_LEN])
{
	struct keydir k;
	char out[512], subj[300];
	int rc = keydir_make(&k);
	if (rc < 0)
		return rc;
	if (pem) {
		rc = file_write(k.pub, pem);
	} else {
		snprintf(subj, sizeof(subj), "/CN=%s", name); /* names are [A-Za-z0-9 _.@-] */
		const char *const argv[] = {
		    "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", k.key,
		    "-out",    k.pub, "-subj", subj,      "-days",    "3650",   "-batch",  NULL};
		rc = proc_run(argv, KEYGEN_TIMEOUT_MS, out, sizeof(out));
		if (rc != 0)
			rc = rc < 0 ? rc : -EIO;
		else if ((rc = fs_read_into(k.key, priv, privlen)) == 0)
			rc = fs_read_into(k.pub, cert, certlen);
	}
	if (rc == 0) {
		const char *const argv[] = {"openssl", "x509", "-noout", "-fingerprint",
		                            "-sha1",   "-in",  k.pub,    NULL};
		rc = proc_run(argv, KEYGEN_TIMEOUT_MS, out, sizeof(out));
		if (rc > 0 && pem)
			rc = -EINVAL; /* not a certificate */
		else if (rc > 0)
			rc = -EIO;
		else if (rc == 0)
			rc = x509_fingerprint_parse(out, fp);
	}
	keydir_remove(&k);
	return rc;
}

/* Lets ssh-keygen parse an imported public key. 0 when it is a valid key, -EINVAL
 * when not, another negative errno when the check could not run. */
static int keypair_validate(const char *pub)
{
	struct keydir k;
	char out[512];
	int rc = keydir_make(&k);
	if (rc < 0)
		return rc;
	if ((rc = file_write(k.pub, pub)) == 0) {
		const char *const argv[] = {"ssh-keygen", "-l", "-f", k.pub, NULL};
		rc = proc_run(argv, KEYGEN_TIMEOUT_MS, out, sizeof(out));
		if (rc == 127) /* not installed */
			rc = -ENOEXEC;
		else if (rc > 0)
			rc = -EINVAL;
	}
	keydir_remove(&k);
	return rc;
}

/* ---- handlers ---- */

struct keypair_in {
	char *name, *public_key, *type, *user_id;
};

static const struct jfield f_keypair[] = {
    {"name", J_STR, JF(struct keypair_in, name), 0, KEYPAIR_NAME_MAX, 1, 0},
    {"public_key", J_STR, JF(struct keypair_in, public_key), 0, KEYPAIR_KEY_MAX + 64, 0, 1},
    {"type", J_STR, JF(struct keypair_in, type), 0, 16, 0, 1},
    {"user_id", J_STR, JF(struct keypair_in, user_id), 0, 255, 0, 1},
};
static const struct server_since keypair_since[] = {
    {"type", 2, 0},
    {"user_id", 10, 0},
};

/* The user whose key pairs the request is about: the caller, or from 2.10 the user_id
 * an admin names (query, or asked for the create body). NULL after a 403. */
static const char *keypair_user(struct req *r, struct resp *w, const char *asked,
                                const char *policy)
{
	if (r->ctx->mv_minor < 10 || !asked || !strcmp(asked, r->ctx->auth.user_id))
		return r->ctx->auth.user_id;
	if (policy_is_admin(&r->ctx->auth))
		return asked;
	resp_error(r, w, 403, "Policy doesn't allow os_compute_api:os-keypairs:%s to be performed.",
	           policy);
	return NULL;
}

/* Inserts the key pair under the user's row lock, enforcing key_pairs. Answers the
 * error itself and returns a negative errno on failure. */
/* Checks the caller's key_pairs quota for one more key, answering 403/500 itself.
 * Inside a transaction, lock serialises concurrent creates of the same user (the user
 * row is locked). Returns 0, -EDQUOT or -EIO. */
static int keypair_quota_check(struct req *r, struct resp *w, const char *uid, int lock)
{
	char err[256];
	struct quota_set lim;
	int rc = -EIO;
	PGresult *res = DBQ(r->ctx->db, err, sizeof err,
	                    lock ? "SELECT (SELECT count(*) FROM keypairs WHERE user_id = $1) FROM"
	                           " users WHERE id = $1 FOR UPDATE"
	                         : "SELECT (SELECT count(*) FROM keypairs WHERE user_id = $1) FROM"
	                           " users WHERE id = $1",
	                    uid);
	if (res && PQntuples(res) == 0) { /* an admin named a user that does not exist */
		resp_error(r, w, 400, "User %s could not be found.",
		           wire_charset_ok(uid, 64, "-") ? uid : "(not shown)");
		rc = -ENOENT;
		goto out;
	}
	if (!res || PQntuples(res) != 1 ||
	    quota_limits(r->ctx->db, r->ctx->auth.project_id, &lim) < 0) {
		resp_db_error(r, w, res ? "quota lookup failed" : err);
		goto out;
	}
	long used = db_long(res, 0, 0, 0);
	if (lim.v[QUOTA_KEY_PAIRS] >= 0 && used + 1 > lim.v[QUOTA_KEY_PAIRS]) {
		resp_error(r, w, 403, "Quota exceeded, too many key pairs.");
		rc = -EDQUOT;
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc;
}

static int keypair_store(struct req *r, struct resp *w, const char *uid, const char *name,
                         const char *type, const char *pub, const char *fp)
{
	char err[256], state[6] = "";
	PGresult *res = NULL;
	int rc = -EIO;
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		return -EIO;
	}
	rc = keypair_quota_check(r, w, uid, 1);
	if (rc < 0)
		goto out;
	rc = -EIO;
	res = db_query(r->ctx->db,
	               "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint)"
	               " VALUES ($1, $2, $5, $3, $4)",
	               5, (const char *const[]){uid, name, pub, fp, type}, err, sizeof(err), state);
	if (!res) {
		if (!strcmp(state, SQLSTATE_UNIQUE)) {
			resp_error(r, w, 409, "Key pair '%s' already exists.", name);
			rc = -EEXIST;
		} else {
			resp_db_error(r, w, err);
		}
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	return rc; /* db_release rolls back what is still open */
}

static void keypairs_create(struct req *r, struct resp *w)
{
	struct keypair_in in = {0};
	char *priv = NULL, *pub = NULL, fp[KEYPAIR_X509_FP_LEN];
	char err[256];
	const char *uid;
	/* Nova's schema: type from 2.2, user_id from 2.10, anything else unknown is 400 */
	if (wire_parse_closed(r, w, "keypair", f_keypair, JCOUNT(f_keypair), NULL, &in) < 0)
		return;
	if (server_since_check(json_object_get(r->json, "keypair"), keypair_since,
	                       JCOUNT(keypair_since), r->ctx->mv_minor, "keypair", err,
	                       sizeof(err)) < 0) {
		resp_error(r, w, 400, "%s", err);
		goto out;
	}
	if (!(uid = keypair_user(r, w, in.user_id, "create")))
		goto out;
	if (!keypair_name_ok(in.name)) {
		resp_error(r, w, 400,
		           "Keypair name must be 1 to %d letters, digits, spaces and "
		           "'_-.@', without leading or trailing spaces.",
		           KEYPAIR_NAME_MAX);
		goto out;
	}
	int x509 = in.type && !strcmp(in.type, "x509");
	if (in.type && strcmp(in.type, "ssh") && !x509) {
		resp_error(r, w, 400,
		           "Invalid input for field/attribute type. Value: %s. '%s' is not one of "
		           "['ssh', 'x509']",
		           strlen(in.type) <= 16 ? in.type : "",
		           strlen(in.type) <= 16 ? in.type : "");
		goto out;
	}
	/* The quota is the project's: an unscoped token has none to count against. */
	if (!r->ctx->auth.project_id[0]) {
		resp_error(r, w, 403, "Key pairs need a project-scoped token.");
		goto out;
	}
	/* Refuse early, before ssh-keygen spends CPU; keypair_store checks again locked. */
	if (keypair_quota_check(r, w, uid, 0) < 0)
		goto out;
	if (x509) {
		int v, import = in.public_key != NULL;
		if (import) {
			pub = in.public_key;
			in.public_key = NULL;
		} else {
			priv = sodium_malloc(PRIVATE_KEY_MAX);
			pub = xmalloc(KEYPAIR_KEY_MAX);
			if (!priv) {
				resp_error(r, w, 500, "key pair generation failed");
				goto out;
			}
		}
		v = keypair_x509(in.name, import ? pub : NULL, priv, PRIVATE_KEY_MAX,
		                 import ? NULL : pub, KEYPAIR_KEY_MAX, fp);
		if (v == -EINVAL) {
			resp_error(r, w, 400, "Keypair data is invalid: not an X.509 certificate");
			goto out;
		}
		if (v < 0) {
			resp_error(r, w, 500, "x509 key pair %s failed",
			           import ? "check" : "generation");
			goto out;
		}
	} else if (in.public_key) {
		int v;
		pub = in.public_key;
		in.public_key = NULL;
		if (keypair_public_key_parse(pub) < 0 || keypair_fingerprint(pub, fp) < 0 ||
		    (v = keypair_validate(pub)) == -EINVAL) {
			resp_error(r, w, 400, "Keypair data is invalid: not an OpenSSH public key");
			goto out;
		}
		if (v < 0) {
			resp_error(r, w, 500, "could not check the public key");
			goto out;
		}
	} else {
		priv = sodium_malloc(PRIVATE_KEY_MAX);
		pub = xmalloc(KEYPAIR_KEY_MAX);
		if (!priv ||
		    keypair_generate(in.name, priv, PRIVATE_KEY_MAX, pub, KEYPAIR_KEY_MAX) < 0 ||
		    keypair_public_key_parse(pub) < 0 || keypair_fingerprint(pub, fp) < 0) {
			resp_error(r, w, 500, "key pair generation failed");
			goto out;
		}
	}
	if (keypair_store(r, w, uid, in.name, x509 ? "x509" : "ssh", pub, fp) < 0)
		goto out;
	json_t *kp = json_pack("{s:s,s:s,s:s,s:s}", "name", in.name, "public_key", pub,
	                       "fingerprint", fp, "user_id", uid);
	if (priv)
		json_object_set_new(kp, "private_key", json_string(priv));
	if (r->ctx->mv_minor >= 2)
		json_object_set_new(kp, "type", json_string(x509 ? "x509" : "ssh"));
	resp_json(w, r->ctx->mv_minor >= 2 ? 201 : 200, json_pack("{s:o}", "keypair", kp));
out:
	if (priv)
		sodium_free(priv); /* zeroes it */
	free(pub);
	jparse_release(f_keypair, JCOUNT(f_keypair), &in);
}

static void keypairs_list(struct req *r, struct resp *w)
{
	char err[256], lim[24];
	int mv = r->ctx->mv_minor;
	const char *uid = keypair_user(r, w, req_query(r, "user_id"), "index");
	if (!uid)
		return;
	/* 2.35: paging by name */
	long limit = mv >= 35 ? wire_nonneg(req_query(r, "limit")) : -1;
	const char *marker = mv >= 35 ? req_query(r, "marker") : NULL;
	if (limit == -EINVAL) {
		resp_error(r, w, 400, "limit param must be an integer");
		return;
	}
	snprintf(lim, sizeof(lim), "%ld", limit < 0 || limit > 1000 ? 1000 : limit);
	if (marker &&
	    DBX(r->ctx->db, err, sizeof err,
	        "SELECT 1 FROM keypairs WHERE user_id = $1 AND name = $2", uid, marker) != 1) {
		resp_error(r, w, 400, "marker [%s] not found", marker);
		return;
	}
	/* below 2.35 (no paging) the plain statement: every key of the user, by name */
	PGresult *res = mv < 35 ? DBQ(r->ctx->db, err, sizeof err,
	                              "SELECT name, public_key, fingerprint, type FROM keypairs"
	                              " WHERE user_id = $1 ORDER BY name",
	                              uid)
	                        : DBQ(r->ctx->db, err, sizeof err,
	                              "SELECT name, public_key, fingerprint, type FROM keypairs"
	                              " WHERE user_id = $1 AND ($2::text IS NULL OR name > $2)"
	                              " ORDER BY name LIMIT $3::int",
	                              uid, marker, lim);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *a = json_array();
	int n = PQntuples(res);
	for (int i = 0; i < n; i++) {
		json_t *k = json_pack("{s:s,s:s,s:s}", "name", db_val(res, i, 0), "public_key",
		                      db_val(res, i, 1), "fingerprint", db_val(res, i, 2));
		if (mv >= 2)
			json_object_set_new(k, "type", json_string(db_val(res, i, 3)));
		json_array_append_new(a, json_pack("{s:o}", "keypair", k));
	}
	json_t *body = json_pack("{s:o}", "keypairs", a);
	if (mv >= 35 && limit > 0 && n == limit) {
		char *href = xasprintf("%s/compute/v2.1/os-keypairs?limit=%ld",
		                       r->ctx->api->public_url, limit);
		href = wire_query_append(href, "marker", db_val(res, n - 1, 0));
		if (uid != r->ctx->auth.user_id)
			href = wire_query_append(href, "user_id", uid);
		json_object_set_new(body, "keypairs_links",
		                    json_pack("[{s:s,s:s}]", "rel", "next", "href", href));
		free(href);
	}
	PQclear(res);
	resp_json(w, 200, body);
}

static void keypairs_show(struct req *r, struct resp *w)
{
	char err[256];
	const char *uid = keypair_user(r, w, req_query(r, "user_id"), "show");
	if (!uid)
		return;
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT id, name, public_key, fingerprint, user_id, to_char(created_at"
	        " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), type FROM keypairs"
	        " WHERE user_id = $1 AND name = $2",
	        uid, r->params[0]);
	res = wire_one_row(r, w, res, err, 404, "Keypair %s not found for user %s", r->params[0],
	                   uid);
	if (!res)
		return;
	json_t *k = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:n,s:b,s:n}", "id",
	                      (json_int_t)db_long(res, 0, 0, 0), "name", db_val(res, 0, 1),
	                      "public_key", db_val(res, 0, 2), "fingerprint", db_val(res, 0, 3),
	                      "user_id", db_val(res, 0, 4), "created_at", db_val(res, 0, 5),
	                      "updated_at", "deleted", 0, "deleted_at");
	if (r->ctx->mv_minor >= 2)
		json_object_set_new(k, "type", json_string(db_val(res, 0, 6)));
	resp_json(w, 200, json_pack("{s:o}", "keypair", k));
	PQclear(res);
}

static void keypairs_delete(struct req *r, struct resp *w)
{
	char err[256];
	const char *uid = keypair_user(r, w, req_query(r, "user_id"), "delete");
	if (!uid)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM keypairs WHERE user_id = $1 AND name = $2", uid, r->params[0]);
	wire_answer_rows(r, w, n, err, r->ctx->mv_minor >= 2 ? 204 : 202,
	                 "Keypair %s not found for user %s", r->params[0], uid);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/os-keypairs", keypairs_list, POL_COMPUTE_KEYPAIR, 0},
    {"POST", C "/os-keypairs", keypairs_create, POL_COMPUTE_KEYPAIR, 0},
    {"GET", C "/os-keypairs/{}", keypairs_show, POL_COMPUTE_KEYPAIR, 0},
    {"DELETE", C "/os-keypairs/{}", keypairs_delete, POL_COMPUTE_KEYPAIR, 0},
};
HTTPD_TABLE(keypair_routes, routes, &compute_hooks);

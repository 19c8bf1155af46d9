/* The S3 front end (see s3.h): a request is parsed once (s3_request.c), authenticated
 * (SigV4 via common/sigv4, the credential via common/cred_seal), resolved to the
 * bucket owner's account (table s3_buckets, migration 0015), then run by the row of
 * `ops` for its operation: `begin` for what needs no body, `finish` once the body
 * arrived (XML documents kept in memory up to S3_XML_MAX_BODY; object bytes streamed
 * into store_put as they come, through the aws-chunked decoder when signed so). */
#include "s3.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cred_seal.h"
#include "db.h"
#include "md5.h"
#include "objquota.h"
#include "s3_request.h"
#include "s3_version.h"
#include "s3_view.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "store.h"
#include "xalloc.h"

#define HEADERS_MAX 128
#define SEGMENTS "+segments"
#define PART_MIN (5u << 20) /* every part but the last */
#define ACCOUNT_MAX 80

static struct {
	uint8_t key[CRED_KEY_BYTES];
	char domain[256], region[64];
	struct db_pool *db;
} cfg;

struct s3_state {
	struct s3_request rq;
	enum s3_err parse_err;
	int anonymous;
	struct sigv4_auth auth;
	uint8_t signing_key[32];
	char user_id[65], project_id[65];
	char account[ACCOUNT_MAX]; /* the caller's, "" when anonymous */
	char owner[ACCOUNT_MAX];   /* the bucket owner's account */
	enum s3_acl acl;           /* the bucket's */
	int registered;            /* the bucket is in s3_buckets */
	enum s3_vstate vstate;     /* the bucket's versioning */
	struct s3_vwrite vw;       /* a PutObject on a versioned bucket */
	int vw_active;
	/* body */
	struct sigv4_chunks *chunks;
	long long decoded_length; /* x-amz-decoded-content-length, -1 */
	int check_sha;
	char want_sha[SIGV4_HEX];
	crypto_hash_sha256_state sha;
	struct store_put *put;
	enum store_err put_err;
	char *body;
	size_t body_len;
	int body_over;
	int body_err; /* a sink or decoder error: the answer is an error */
	uint64_t part_bytes;
};

/* ---- answers ---- */

static void s3_fail(struct px_req *r, enum s3_err e, const char *msg, const char *const *extra,
                    size_t nextra)
{
	struct s3_state *st = px_state(r);
	if (px_answered(r))
		return;
	px_add_header(r, "x-amz-request-id", px_trans_id(r));
	if (!strcmp(px_method(r), "HEAD")) {
		px_answer(r, s3_err_status(e), NULL, NULL, 0);
		return;
	}
	const char *resource = px_raw_path(r);
	const char *bucket_extra[] = {"BucketName", st && st->rq.bucket[0] ? st->rq.bucket : NULL};
	if (!extra && (e == S3E_NO_SUCH_BUCKET || e == S3E_BUCKET_NOT_EMPTY ||
	               e == S3E_BUCKET_ALREADY_EXISTS || e == S3E_BUCKET_ALREADY_OWNED)) {
		extra = bucket_extra;
		nextra = 1;
	}
	char *doc = s3_error_doc(e, msg, resource, px_trans_id(r), extra, nextra);
	px_answer(r, s3_err_status(e), "application/xml", doc, strlen(doc));
	free(doc);
}

static void s3_xml(struct px_req *r, int status, char *doc)
{
	px_add_header(r, "x-amz-request-id", px_trans_id(r));
	px_answer(r, status, "application/xml", doc, strlen(doc));
	free(doc);
}

static void s3_empty(struct px_req *r, int status)
{
	px_add_header(r, "x-amz-request-id", px_trans_id(r));
	px_answer(r, status, NULL, NULL, 0);
}

static enum s3_err from_store(enum store_err e, int object_level)
{
	switch (e) {
	case STORE_OK:
		return S3_OK;
	case STORE_NOT_FOUND:
		return object_level ? S3E_NO_SUCH_KEY : S3E_NO_SUCH_BUCKET;
	case STORE_CONFLICT:
		return S3E_BUCKET_NOT_EMPTY;
	case STORE_BAD_REQUEST:
		return S3E_INVALID_ARGUMENT;
	case STORE_ETAG_MISMATCH:
		return S3E_BAD_DIGEST;
	case STORE_RANGE:
		return S3E_INVALID_RANGE;
	case STORE_TOO_LARGE:
		return S3E_ENTITY_TOO_LARGE;
	case STORE_LENGTH_MISMATCH:
		return S3E_INCOMPLETE_BODY;
	case STORE_UNAVAILABLE:
		return S3E_SERVICE_UNAVAILABLE;
	default:
		return S3E_INTERNAL;
	}
}

static struct s3_owner owner_of(const struct s3_state *st)
{
	const char *acc = st->owner[0] ? st->owner : st->account;
	return (struct s3_owner){acc + (strncmp(acc, "AUTH_", 5) ? 0 : 5), NULL};
}

/* ---- authentication ---- */

struct hdrs {
	struct sigv4_header h[HEADERS_MAX];
	size_t n;
	int over;
};

static void hdr_collect(void *arg, const char *k, const char *v)
{
	struct hdrs *h = arg;
	if (h->n == HEADERS_MAX) {
		h->over = 1;
		return;
	}
	h->h[h->n++] = (struct sigv4_header){k, v};
}

static int deliver(void *arg, const void *data, size_t n);

/* Who signed r: fills st (account, signing key) or answers. 0 or -1. */
static int s3_authenticate(struct px_req *r, struct s3_state *st)
{
	const char *authz = px_header(r, "Authorization");
	const char *payload = px_header(r, "x-amz-content-sha256");
	char err[256];
	int rc;
	if (authz) {
		rc = sigv4_parse_header(authz, &st->auth);
		const char *date = px_header(r, "x-amz-date");
		if (rc == -ENOTSUP) {
			s3_fail(r, S3E_INVALID_REQUEST,
			        "The authorization mechanism you have provided is "
			        "not supported. Please use AWS4-HMAC-SHA256.",
			        NULL, 0);
			return -1;
		}
		if (rc < 0 || !date || strlen(date) != SIGV4_AMZDATE - 1) {
			s3_fail(r, S3E_AUTH_HEADER_MALFORMED, NULL, NULL, 0);
			return -1;
		}
		memcpy(st->auth.amz_date, date, SIGV4_AMZDATE);
		if (!payload) {
			s3_fail(r, S3E_INVALID_REQUEST,
			        "Missing required header for this request: "
			        "x-amz-content-sha256",
			        NULL, 0);
			return -1;
		}
	} else {
		rc = sigv4_parse_query(px_raw_query(r), &st->auth);
		if (rc == -ENOENT && px_query_has(r, "AWSAccessKeyId") &&
		    px_query_has(r, "Signature")) {
			s3_fail(r, S3E_INVALID_REQUEST,
			        "The authorization mechanism you have provided is "
			        "not supported. Please use AWS4-HMAC-SHA256.",
			        NULL, 0);
			return -1; /* a SigV2 presigned URL: refused, not taken as anonymous */
		}
		if (rc == -ENOENT) {
			st->anonymous = 1;
			return 0;
		}
		if (rc < 0) {
			s3_fail(r, S3E_AUTH_HEADER_MALFORMED,
			        "Error parsing the X-Amz-Credential parameter", NULL, 0);
			return -1;
		}
		payload = SIGV4_UNSIGNED;
	}
	rc = sigv4_check_time(&st->auth, time(NULL));
	if (rc == -EKEYEXPIRED) {
		s3_fail(r, S3E_EXPIRED_TOKEN, NULL, NULL, 0);
		return -1;
	}
	if (rc == -ETIME) {
		s3_fail(r, S3E_REQUEST_TIME_TOO_SKEWED, NULL, NULL, 0);
		return -1;
	}
	if (rc < 0) {
		s3_fail(r, S3E_AUTH_HEADER_MALFORMED, "The date of the request is malformed", NULL,
		        0);
		return -1;
	}
	struct cred_ec2 cred;
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	if (!db) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return -1;
	}
	rc = cred_ec2_find(db, cfg.key, st->auth.access, &cred, err, sizeof err);
	db_release(cfg.db, db);
	if (rc == -ENOENT) {
		s3_fail(r, S3E_INVALID_ACCESS_KEY_ID, NULL, NULL, 0);
		return -1;
	}
	if (rc == -EACCES) {
		s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
		return -1;
	}
	if (rc < 0) {
		s3_fail(r, rc == -EIO ? S3E_SERVICE_UNAVAILABLE : S3E_INTERNAL, NULL, NULL, 0);
		return -1;
	}
	struct hdrs h = {.n = 0};
	px_headers_each(r, hdr_collect, &h);
	struct sigv4_request sr = {
	    px_method(r), px_raw_path(r), px_raw_query(r), h.h, h.n, payload, 1};
	char *creq = NULL;
	rc = h.over ? -EINVAL : sigv4_verify(&sr, &st->auth, cred.secret, &creq);
	if (rc == 0)
		sigv4_signing_key(cred.secret, &st->auth, st->signing_key);
	snprintf(st->user_id, sizeof st->user_id, "%s", cred.user_id);
	snprintf(st->project_id, sizeof st->project_id, "%s", cred.project_id);
	cred_ec2_release(&cred);
	if (rc < 0) {
		char *sts = creq ? sigv4_string_to_sign(&st->auth, creq) : NULL;
		const char *extra[] = {
		    "AWSAccessKeyId",    st->auth.access,    "StringToSign",     sts,
		    "SignatureProvided", st->auth.signature, "CanonicalRequest", creq};
		s3_fail(r, S3E_SIGNATURE_DOES_NOT_MATCH, NULL, extra, 4);
		free(sts);
		free(creq);
		return -1;
	}
	free(creq);
	snprintf(st->account, sizeof st->account, "AUTH_%s", st->project_id);
	/* what the body must be */
	if (!strcmp(payload, SIGV4_STREAMING)) {
		const char *dl = px_header(r, "x-amz-decoded-content-length");
		st->decoded_length = dl ? strtoll(dl, NULL, 10) : -1;
		st->chunks = sigv4_chunks_new(st->signing_key, &st->auth, deliver, r);
	} else if (strcmp(payload, SIGV4_UNSIGNED)) {
		if (strlen(payload) != SIGV4_HEX - 1) {
			s3_fail(r, S3E_INVALID_ARGUMENT,
			        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, "
			        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, or a valid "
			        "sha256 value.",
			        NULL, 0);
			return -1;
		}
		st->check_sha = 1;
		memcpy(st->want_sha, payload, SIGV4_HEX);
		crypto_hash_sha256_init(&st->sha);
	}
	return 0;
}

/* ---- buckets ---- */

static const char *const acl_names[] = {"private", "public-read", "public-read-write",
                                        "authenticated-read"};

/* The bucket's owner account and ACL into st. 0, or answers. */
static int bucket_resolve(struct px_req *r, struct s3_state *st)
{
	char err[256];
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	if (!db) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return -1;
	}
	PGresult *res =
	    DBQ(db, err, sizeof err,
	        "SELECT account, acl, versioning FROM s3_buckets WHERE name = $1", st->rq.bucket);
	db_release(cfg.db, db);
	if (!res) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return -1;
	}
	st->acl = S3_ACL_PRIVATE;
	if (PQntuples(res) == 1) {
		st->registered = 1;
		snprintf(st->owner, sizeof st->owner, "%s", db_val(res, 0, 0));
		(void)s3_acl_parse_canned(db_val(res, 0, 1), &st->acl);
		st->vstate = s3_vstate_parse(db_val(res, 0, 2));
	} else {
		snprintf(st->owner, sizeof st->owner, "%s", st->account);
	}
	PQclear(res);
	if (!st->owner[0]) { /* anonymous, and not a bucket S3 knows */
		s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
		return -1;
	}
	return 0;
}

/* May the caller do op on a bucket owned by someone else (or anonymously)? */
static int acl_allows(const struct s3_state *st, enum s3_op op)
{
	int read = op == S3_GET_OBJECT || op == S3_HEAD_OBJECT || op == S3_LIST_OBJECTS ||
	           op == S3_LIST_OBJECTS_V2 || op == S3_HEAD_BUCKET ||
	           op == S3_LIST_OBJECT_VERSIONS;
	int write = op == S3_PUT_OBJECT || op == S3_DELETE_OBJECT;
	if (!strcmp(st->owner, st->account))
		return 1;
	if (read && (st->acl == S3_ACL_PUBLIC_READ || st->acl == S3_ACL_PUBLIC_READ_WRITE))
		return 1;
	if (read && st->acl == S3_ACL_AUTH_READ && !st->anonymous)
		return 1;
	return write && st->acl == S3_ACL_PUBLIC_READ_WRITE;
}

/* The Swift read ACL that says the same as acl. */
static const char *swift_read_acl(enum s3_acl acl)
{
	return acl == S3_ACL_PUBLIC_READ || acl == S3_ACL_PUBLIC_READ_WRITE ? ".r:*,.rlistings"
	                                                                    : "";
}

static void op_list_buckets(struct px_req *r, struct s3_state *st)
{
	struct store_list l = {0};
	struct store_list_query q = {.limit = 10000};
	enum store_err e = store_list_containers(px_store(r), st->account, &q, &l);
	if (e == STORE_NOT_FOUND)
		e = STORE_OK; /* an account with nothing yet */
	if (e != STORE_OK) {
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return;
	}
	struct s3_bucket_entry *b = xcalloc(l.n + 1, sizeof *b);
	size_t n = 0;
	for (size_t i = 0; i < l.n; i++) {
		size_t len = strlen(l.e[i].name);
		if (len > strlen(SEGMENTS) &&
		    !strcmp(l.e[i].name + len - strlen(SEGMENTS), SEGMENTS))
			continue;
		if (!s3_bucket_name_valid(l.e[i].name))
			continue; /* a Swift container S3 cannot name */
		b[n++] = (struct s3_bucket_entry){l.e[i].name, l.e[i].timestamp};
	}
	struct s3_owner o = owner_of(st);
	s3_xml(r, 200, s3_view_list_buckets(&o, b, n));
	free(b);
	store_list_release(&l);
}

static void op_create_bucket(struct px_req *r, struct s3_state *st)
{
	char loc[64], err[256];
	enum s3_acl acl = S3_ACL_PRIVATE;
	enum s3_err e = s3_parse_location(st->body ? st->body : "", st->body_len, loc);
	const char *canned = px_header(r, "x-amz-acl");
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	if (canned && s3_acl_parse_canned(canned, &acl) < 0) {
		s3_fail(r, S3E_INVALID_ARGUMENT, NULL, NULL, 0);
		return;
	}
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	if (!db) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	PGresult *res =
	    DBQ(db, err, sizeof err,
	        "WITH n AS (INSERT INTO s3_buckets (name, account, acl) VALUES ($1, $2, $3)"
	        " ON CONFLICT (name) DO NOTHING RETURNING account)"
	        " SELECT account, true FROM n UNION ALL"
	        " SELECT account, false FROM s3_buckets WHERE name = $1",
	        st->rq.bucket, st->account, acl_names[acl]);
	db_release(cfg.db, db);
	if (!res || PQntuples(res) < 1) {
		PQclear(res);
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	int made = !strcmp(db_val(res, 0, 1), "t");
	int mine = !strcmp(db_val(res, 0, 0), st->account);
	PQclear(res);
	if (!made) {
		s3_fail(r, mine ? S3E_BUCKET_ALREADY_OWNED : S3E_BUCKET_ALREADY_EXISTS, NULL, NULL,
		        0);
		return;
	}
	struct store_kv kv[] = {{"X-Container-Read", (char *)swift_read_acl(acl)}};
	int created = 0;
	enum store_err se = store_container_put(px_store(r), st->account, st->rq.bucket, kv,
	                                        acl == S3_ACL_PRIVATE ? 0 : 1, &created);
	if (se != STORE_OK) {
		db = db_acquire_timed(cfg.db, 5000);
		if (db) {
			(void)DBX(db, err, sizeof err, "DELETE FROM s3_buckets WHERE name = $1",
			          st->rq.bucket);
			db_release(cfg.db, db);
		}
		s3_fail(r, from_store(se, 0), NULL, NULL, 0);
		return;
	}
	char *where = xasprintf("/%s", st->rq.bucket);
	px_add_header(r, "Location", where);
	free(where);
	s3_empty(r, 200);
}

/* 1 when versions or delete markers of the bucket remain (S3 then refuses to delete
 * it), 0 when none, -1 when the database cannot say. */
static int bucket_has_versions(const struct s3_state *st)
{
	char err[256];
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	PGresult *res = db ? DBQ(db, err, sizeof err,
	                         "SELECT 1 FROM s3_versions WHERE account = $1 AND bucket = $2"
	                         " LIMIT 1",
	                         st->owner, st->rq.bucket)
	                   : NULL;
	if (db)
		db_release(cfg.db, db);
	int n = res ? PQntuples(res) > 0 : -1;
	PQclear(res);
	return n;
}

static void op_delete_bucket(struct px_req *r, struct s3_state *st)
{
	int versions = bucket_has_versions(st);
	if (versions) {
		s3_fail(r, versions < 0 ? S3E_SERVICE_UNAVAILABLE : S3E_BUCKET_NOT_EMPTY, NULL,
		        NULL, 0);
		return;
	}
	char err[256], *seg = xasprintf("%s" SEGMENTS, st->rq.bucket);
	char *vc = xasprintf("%s" S3_VERSIONS_SUFFIX, st->rq.bucket);
	enum store_err e = store_container_delete(px_store(r), st->owner, st->rq.bucket);
	if (e == STORE_OK || (e == STORE_NOT_FOUND && st->registered)) {
		(void)store_container_delete(px_store(r), st->owner, seg);
		(void)store_container_delete(px_store(r), st->owner, vc);
		PGconn *db = db_acquire_timed(cfg.db, 5000);
		if (db) {
			(void)DBX(db, err, sizeof err, "DELETE FROM s3_buckets WHERE name = $1",
			          st->rq.bucket);
			(void)DBX(db, err, sizeof err,
			          "DELETE FROM s3_uploads WHERE account = $1 AND bucket = $2",
			          st->owner, st->rq.bucket);
			db_release(cfg.db, db);
		}
	}
	free(seg);
	free(vc);
	if (e != STORE_OK)
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
	else
		s3_empty(r, 204);
}

static void op_head_bucket(struct px_req *r, struct s3_state *st)
{
	struct store_container_info ci = {0};
	enum store_err e = store_container_head(px_store(r), st->owner, st->rq.bucket, &ci);
	store_container_info_release(&ci);
	if (e != STORE_OK)
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
	else
		s3_empty(r, 200);
}

/* 0 when the bucket exists (as a container), else answers NoSuchBucket. */
static int bucket_exists(struct px_req *r, struct s3_state *st)
{
	struct store_container_info ci = {0};
	enum store_err e = store_container_head(px_store(r), st->owner, st->rq.bucket, &ci);
	store_container_info_release(&ci);
	if (e != STORE_OK) {
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return -1;
	}
	return 0;
}

static void op_location(struct px_req *r, struct s3_state *st)
{
	if (bucket_exists(r, st) == 0)
		s3_xml(r, 200, s3_view_location(cfg.region));
}

static void op_get_bucket_acl(struct px_req *r, struct s3_state *st)
{
	struct s3_owner o = owner_of(st);
	if (bucket_exists(r, st) == 0)
		s3_xml(r, 200, s3_view_acl(&o, st->acl));
}

static void op_put_bucket_acl(struct px_req *r, struct s3_state *st)
{
	enum s3_acl acl = S3_ACL_PRIVATE;
	const char *canned = px_header(r, "x-amz-acl");
	char err[256];
	if (canned ? s3_acl_parse_canned(canned, &acl) < 0
	           : s3_parse_acl(st->body ? st->body : "", st->body_len, &acl) != S3_OK) {
		s3_fail(r, canned ? S3E_INVALID_ARGUMENT : S3E_MALFORMED_XML, NULL, NULL, 0);
		return;
	}
	if (bucket_exists(r, st) < 0)
		return;
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	if (!db) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	int n = DBX(db, err, sizeof err,
	            "INSERT INTO s3_buckets (name, account, acl) VALUES ($1, $2, $3)"
	            " ON CONFLICT (name) DO UPDATE SET acl = $3 WHERE s3_buckets.account = $2",
	            st->rq.bucket, st->owner, acl_names[acl]);
	db_release(cfg.db, db);
	struct store_kv kv[] = {{"X-Container-Read", (char *)swift_read_acl(acl)}};
	enum store_err e = n < 0
	                       ? STORE_UNAVAILABLE
	                       : store_container_post(px_store(r), st->owner, st->rq.bucket, kv, 1);
	if (e != STORE_OK)
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
	else
		s3_empty(r, 200);
}

static void op_get_versioning(struct px_req *r, struct s3_state *st)
{
	char err[256];
	if (bucket_exists(r, st) < 0)
		return;
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	PGresult *res = db ? DBQ(db, err, sizeof err,
	                         "SELECT versioning FROM s3_buckets WHERE name = $1", st->rq.bucket)
	                   : NULL;
	if (db)
		db_release(cfg.db, db);
	if (!res) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	s3_xml(r, 200, s3_view_versioning(PQntuples(res) ? db_val(res, 0, 0) : NULL));
	PQclear(res);
}

/* Enabled or Suspended, as S3 has them (object-store/s3_version.h). */
static void op_put_versioning(struct px_req *r, struct s3_state *st)
{
	int enabled = 0;
	char err[256];
	enum s3_err e = s3_parse_versioning(st->body ? st->body : "", st->body_len, &enabled);
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	if (bucket_exists(r, st) < 0)
		return;
	/* where the versions the bucket keeps from now on go */
	char *vc = xasprintf("%s" S3_VERSIONS_SUFFIX, st->rq.bucket);
	int created = 0;
	enum store_err se = store_container_put(px_store(r), st->owner, vc, NULL, 0, &created);
	free(vc);
	if (se != STORE_OK) {
		s3_fail(r, from_store(se, 0), NULL, NULL, 0);
		return;
	}
	const char *state = enabled ? "Enabled" : "Suspended";
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	int n = db ? DBX(db, err, sizeof err,
	                 "INSERT INTO s3_buckets (name, account, versioning) VALUES ($1, $2,"
	                 " $3) ON CONFLICT (name) DO UPDATE SET versioning = $3"
	                 " WHERE s3_buckets.account = $2",
	                 st->rq.bucket, st->owner, state)
	           : -EIO;
	if (db)
		db_release(cfg.db, db);
	if (n < 0)
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
	else
		s3_empty(r, 200);
}

/* ---- listings ---- */

/* A marker that is a rolled-up prefix (ends with the one-byte delimiter) skips the
 * whole prefix: its last byte is raised by one. Owned. */
static char *marker_past(const char *marker, const char *delimiter)
{
	if (!marker)
		return NULL;
	char *m = xstrdup(marker);
	size_t n = strlen(m);
	if (delimiter && strlen(delimiter) == 1 && n && m[n - 1] == delimiter[0] &&
	    (unsigned char)m[n - 1] < 0xff)
		m[n - 1]++;
	return m;
}

static void op_list_objects(struct px_req *r, struct s3_state *st)
{
	struct s3_request *q = &st->rq;
	int version = q->op == S3_LIST_OBJECTS_V2 ? 2 : q->op == S3_LIST_OBJECT_VERSIONS ? 3 : 1;
	char *after = NULL;
	if (version == 2 && q->continuation_token) {
		after = s3_token_decode(q->continuation_token);
		if (!after) {
			s3_fail(r, S3E_INVALID_ARGUMENT,
			        "The continuation token provided is incorrect", NULL, 0);
			return;
		}
	} else {
		const char *m = version == 2   ? q->start_after
		                : version == 3 ? q->key_marker
		                               : q->marker;
		after = m ? xstrdup(m) : NULL;
	}
	char *skip = marker_past(after, q->delimiter);
	struct store_list l = {0};
	struct store_list_query lq = {q->prefix, q->delimiter, skip, NULL,
	                              q->max_keys > 0 ? (unsigned)q->max_keys : 1};
	enum store_err e = store_list_objects(px_store(r), st->owner, q->bucket, &lq, &l);
	free(skip);
	if (e != STORE_OK) {
		free(after);
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return;
	}
	size_t n = q->max_keys > 0 ? l.n : 0;
	struct s3_object_entry *en = xcalloc(n + 1, sizeof *en);
	for (size_t i = 0; i < n; i++)
		en[i] = (struct s3_object_entry){l.e[i].name,
		                                 l.e[i].subdir,
		                                 l.e[i].timestamp,
		                                 l.e[i].etag,
		                                 l.e[i].bytes,
		                                 NULL,
		                                 0};
	int truncated = q->max_keys > 0 ? l.truncated : 0;
	char *next_token = truncated && n ? s3_token_encode(l.e[n - 1].name) : NULL;
	struct s3_owner o = owner_of(st);
	struct s3_list_view v = {
	    .version = version,
	    .bucket = q->bucket,
	    .prefix = q->prefix,
	    .delimiter = q->delimiter,
	    .encoding_type = q->encoding_type,
	    .max_keys = q->max_keys,
	    .truncated = truncated,
	    .marker = version == 3 ? q->key_marker : q->marker,
	    .next_marker = truncated && n ? l.e[n - 1].name : NULL,
	    .continuation_token = q->continuation_token,
	    .next_continuation_token = next_token,
	    .start_after = q->start_after,
	    .fetch_owner = q->fetch_owner,
	    .owner = &o,
	    .e = en,
	    .n = n,
	};
	s3_xml(r, 200, s3_view_list_objects(&v));
	free(next_token);
	free(en);
	free(after);
	store_list_release(&l);
}

static struct s3_vctx vctx_of(struct px_req *r, const struct s3_state *st)
{
	return (struct s3_vctx){cfg.db, px_store(r), st->owner, st->rq.bucket, st->vstate};
}

/* ListObjectVersions: on any bucket (one that never had versioning lists its objects
 * as "null" versions). */
static void op_list_versions(struct px_req *r, struct s3_state *st)
{
	struct s3_request *q = &st->rq;
	if (bucket_exists(r, st) < 0)
		return;
	struct s3_vctx c = vctx_of(r, st);
	struct s3_vlist_query lq = {q->prefix, q->delimiter, q->key_marker, q->version_id_marker,
	                            q->max_keys};
	struct s3_vlist l;
	enum s3_err e = s3_version_list(&c, &lq, &l);
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	struct s3_object_entry *en = xcalloc(l.n + 1, sizeof *en);
	for (size_t i = 0; i < l.n; i++)
		en[i] = (struct s3_object_entry){.key = l.e[i].key,
		                                 .prefix = l.e[i].prefix,
		                                 .last_modified = l.e[i].ts,
		                                 .etag = l.e[i].etag,
		                                 .size = l.e[i].size,
		                                 .version_id = l.e[i].version_id,
		                                 .delete_marker = l.e[i].delete_marker,
		                                 .not_latest = !l.e[i].latest};
	const struct s3_ventry *last = l.n ? &l.e[l.n - 1] : NULL;
	struct s3_owner o = owner_of(st);
	struct s3_list_view v = {
	    .version = 3,
	    .bucket = q->bucket,
	    .prefix = q->prefix,
	    .delimiter = q->delimiter,
	    .encoding_type = q->encoding_type,
	    .max_keys = q->max_keys,
	    .truncated = l.truncated,
	    .marker = q->key_marker,
	    .next_marker = l.truncated && last ? last->key : NULL,
	    .version_id_marker = q->version_id_marker,
	    .next_version_id_marker = last && !last->prefix ? last->version_id : NULL,
	    .owner = &o,
	    .e = en,
	    .n = l.n,
	};
	s3_xml(r, 200, s3_view_list_objects(&v));
	free(en);
	s3_vlist_release(&l);
}

/* ---- objects ---- */

/* Request headers that become stored metadata: x-amz-meta-* and the content headers
 * S3 keeps. Fills kv (names and values owned) and returns the count, or -1 when over
 * the store's bounds. */
struct meta_acc {
	struct store_kv kv[STORE_MAX_META];
	int n, over;
	size_t bytes;
};

static void meta_collect(void *arg, const char *k, const char *v)
{
	struct meta_acc *m = arg;
	static const char *const kept[] = {"Content-Encoding", "Content-Disposition",
	                                   "Content-Language", "Cache-Control", "Expires"};
	char *name = NULL;
	if (!strncasecmp(k, "x-amz-meta-", 11) && k[11])
		name = xasprintf("X-Object-Meta-%s", k + 11);
	for (size_t i = 0; !name && i < sizeof kept / sizeof *kept; i++)
		if (!strcasecmp(k, kept[i]))
			name = xstrdup(kept[i]);
	if (!name)
		return;
	if (!strcasecmp(name, "Content-Encoding") && !strncmp(v, "aws-chunked", 11)) {
		/* the transfer's, not the object's */
		const char *rest = v + 11;
		while (*rest == ',' || *rest == ' ')
			rest++;
		if (!*rest) {
			free(name);
			return;
		}
		v = rest;
	}
	m->bytes += strlen(name) + strlen(v);
	if (m->n == STORE_MAX_META || m->bytes > STORE_MAX_META_BYTES) {
		m->over = 1;
		free(name);
		return;
	}
	m->kv[m->n].name = name;
	m->kv[m->n].value = xstrdup(v);
	m->n++;
}

static void meta_release(struct meta_acc *m)
{
	for (int i = 0; i < m->n; i++) {
		free(m->kv[i].name);
		free(m->kv[i].value);
	}
	m->n = 0;
}

#define META_MULTIPART_ETAG S3_META_MULTIPART_ETAG

/* The object's headers as S3 sends them. */
static void object_headers(struct px_req *r, const struct store_meta *m)
{
	char lm[40], *et;
	const char *mp = store_meta_get(m, META_MULTIPART_ETAG);
	et = xasprintf("\"%s\"", mp ? mp : m->etag);
	px_add_header(r, "ETag", et);
	free(et);
	s3_time_http(m->timestamp, lm);
	px_add_header(r, "Last-Modified", lm);
	px_add_header(r, "Accept-Ranges", "bytes");
	px_add_header(r, "Content-Type",
	              m->content_type[0] ? m->content_type : "application/octet-stream");
	for (int i = 0; i < m->nkv; i++) {
		const char *k = m->kv[i].name;
		if (!strcasecmp(k, META_MULTIPART_ETAG))
			continue;
		if (!strncasecmp(k, "X-Object-Meta-", 14)) {
			char *h = xasprintf("x-amz-meta-%s", k + 14);
			px_add_header(r, h, m->kv[i].value);
			free(h);
		} else if (strcasecmp(k, "Content-Type")) {
			px_add_header(r, k, m->kv[i].value);
		}
	}
}

/* "bytes=a-b" | "bytes=a-" | "bytes=-n" into first/last as store_get_open takes them.
 * 1 when a single range was parsed, 0 when absent or not one S3 honours. */
static int range_parse(const char *h, int64_t *first, int64_t *last)
{
	long long a = -1, b = -1;
	char *end;
	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	const char *p = h + 6;
	if (*p == '-') {
		b = strtoll(p + 1, &end, 10);
		if (end == p + 1 || *end || b <= 0)
			return 0;
		*first = -1;
		*last = b;
		return 1;
	}
	a = strtoll(p, &end, 10);
	if (end == p || *end != '-' || a < 0)
		return 0;
	p = end + 1;
	if (*p) {
		b = strtoll(p, &end, 10);
		if (*end || b < a)
			return 0;
	}
	*first = a;
	*last = b;
	return 1;
}

static int version_id_ok(struct px_req *r, const char *id)
{
	if (!s3_version_id_valid(id)) {
		s3_fail(r, S3E_INVALID_ARGUMENT, "Invalid version id specified", NULL, 0);
		return 0;
	}
	return 1;
}

/* Where the versionId of the request is: 0, or answers (NoSuchVersion; a delete
 * marker: MethodNotAllowed with x-amz-delete-marker, as S3 does). */
static int version_where(struct px_req *r, struct s3_state *st, struct s3_vwhere *w)
{
	if (!version_id_ok(r, st->rq.version_id))
		return -1;
	struct s3_vctx c = vctx_of(r, st);
	enum s3_err e = s3_version_find(&c, st->rq.key, st->rq.version_id, w);
	if (e == S3_OK && !w->found)
		e = S3E_NO_SUCH_VERSION;
	if (e == S3_OK && w->delete_marker) {
		px_add_header(r, "x-amz-delete-marker", "true");
		px_add_header(r, "x-amz-version-id", w->version_id);
		e = S3E_METHOD_NOT_ALLOWED;
	}
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return -1;
	}
	return 0;
}

/* The latest version's headers on a versioned bucket: its id, and whether it is a
 * delete marker. */
static void latest_headers(struct px_req *r, struct s3_state *st, int want_marker)
{
	struct s3_vwhere w;
	struct s3_vctx c = vctx_of(r, st);
	if (st->vstate == S3_VER_OFF || s3_version_find(&c, st->rq.key, NULL, &w) != S3_OK ||
	    !w.found || w.delete_marker != want_marker)
		return;
	if (want_marker)
		px_add_header(r, "x-amz-delete-marker", "true");
	px_add_header(r, "x-amz-version-id", w.version_id);
}

static void op_get_object(struct px_req *r, struct s3_state *st)
{
	struct store_meta m = {0};
	struct store_get *g = NULL;
	uint64_t off = 0, len = 0;
	int64_t first = 0, last = -1;
	int ranged = range_parse(px_header(r, "Range"), &first, &last);
	int head = st->rq.op == S3_HEAD_OBJECT;
	struct s3_vwhere vw = {0};
	if (st->rq.version_id && version_where(r, st, &vw) < 0)
		return;
	const char *container = vw.found ? vw.container : st->rq.bucket;
	const char *object = vw.found ? vw.object : st->rq.key;
	enum store_err e = head ? store_head(px_store(r), st->owner, container, object, &m)
	                        : store_get_open(px_store(r), st->owner, container, object, first,
	                                         last, &m, &off, &len, &g);
	if (e != STORE_OK) {
		store_meta_release(&m);
		if (e == STORE_NOT_FOUND && !vw.found)
			latest_headers(r, st, 1);
		s3_fail(r,
		        e == STORE_NOT_FOUND && bucket_exists(r, st) < 0 ? S3E_NO_SUCH_BUCKET
		                                                         : from_store(e, 1),
		        NULL, NULL, 0);
		return;
	}
	if (vw.found) {
		snprintf(m.timestamp, sizeof m.timestamp, "%s", vw.ts);
		px_add_header(r, "x-amz-version-id", vw.version_id);
	} else {
		latest_headers(r, st, 0);
	}
	object_headers(r, &m);
	px_add_header(r, "x-amz-request-id", px_trans_id(r));
	if (head) {
		px_answer_head(r, 200, m.size);
	} else {
		if (ranged) {
			char cr[96];
			snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)off,
			         (unsigned long long)(off + len - (len ? 1 : 0)),
			         (unsigned long long)m.size);
			px_add_header(r, "Content-Range", cr);
		}
		px_answer_get(r, ranged ? 206 : 200, g, len);
	}
	store_meta_release(&m);
}

/* DeleteObject on a versioned bucket, or of one version: answers. */
static void delete_versioned(struct px_req *r, struct s3_state *st)
{
	struct s3_vctx c = vctx_of(r, st);
	char id[S3_VERSION_ID_LEN + 1];
	int marker = 1;
	enum s3_err e;
	if (st->rq.version_id) {
		if (!version_id_ok(r, st->rq.version_id))
			return;
		e = s3_version_delete(&c, st->rq.key, st->rq.version_id, &marker);
		snprintf(id, sizeof id, "%s", st->rq.version_id);
	} else {
		e = s3_version_delete_current(&c, st->rq.key, id);
	}
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	if (marker)
		px_add_header(r, "x-amz-delete-marker", "true");
	px_add_header(r, "x-amz-version-id", id);
	s3_empty(r, 204);
}

static void op_delete_object(struct px_req *r, struct s3_state *st)
{
	/* s3:DeleteObjectVersion is the bucket owner's alone: a WRITE ACL only adds markers */
	if (st->rq.version_id && strcmp(st->owner, st->account)) {
		s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
		return;
	}
	if (st->rq.version_id || st->vstate != S3_VER_OFF) {
		delete_versioned(r, st);
		return;
	}
	enum store_err e = store_delete(px_store(r), st->owner, st->rq.bucket, st->rq.key);
	if (e == STORE_NOT_FOUND && bucket_exists(r, st) < 0)
		return;
	if (e != STORE_OK && e != STORE_NOT_FOUND) /* deleting nothing is a success in S3 */
		s3_fail(r, from_store(e, 1), NULL, NULL, 0);
	else
		s3_empty(r, 204);
}

static void op_delete_objects(struct px_req *r, struct s3_state *st)
{
	struct s3_delete_req d;
	enum s3_err e = s3_parse_delete(st->body ? st->body : "", st->body_len, &d);
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	struct s3_delete_entry *out = xcalloc(d.n, sizeof *out);
	char(*ids)[S3_VERSION_ID_LEN + 1] = xcalloc(d.n, sizeof *ids);
	for (size_t i = 0; i < d.n; i++) {
		out[i].key = d.keys[i];
		out[i].version_id = d.version_ids[i];
		if (d.version_ids[i] && !s3_version_id_valid(d.version_ids[i])) {
			out[i].err = S3E_NO_SUCH_VERSION;
			continue;
		}
		if (d.version_ids[i] || st->vstate != S3_VER_OFF) {
			struct s3_vctx c = vctx_of(r, st);
			if (d.version_ids[i]) {
				out[i].err = s3_version_delete(&c, d.keys[i], d.version_ids[i],
				                               &out[i].delete_marker);
			} else {
				out[i].marker_version_id = ids[i];
				out[i].delete_marker = 1;
				out[i].err = s3_version_delete_current(&c, d.keys[i], ids[i]);
			}
			continue;
		}
		enum store_err se = store_delete(px_store(r), st->owner, st->rq.bucket, d.keys[i]);
		out[i].err = se == STORE_OK || se == STORE_NOT_FOUND ? S3_OK : from_store(se, 1);
	}
	s3_xml(r, 200, s3_view_delete_result(out, d.n, d.quiet));
	free(ids);
	free(out);
	s3_delete_req_release(&d);
}

/* Content-MD5 (base64) as hex into out; 0, 1 when absent, -1 when malformed. */
static int content_md5(const char *b64, char out[33])
{
	unsigned char bin[16];
	size_t n = 0;
	if (!b64)
		return 1;
	if (sodium_base642bin(bin, sizeof bin, b64, strlen(b64), NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    n != 16)
		return -1;
	sodium_bin2hex(out, 33, bin, 16);
	return 0;
}

/* The quotas (objquota.h) a write of len bytes (-1: unknown) into container (NULL: none:
 * an upload's part) of the bucket owner's account must keep; account_too 0 when the bytes
 * are already counted there (CompleteMultipartUpload). 0, or answers EntityTooLarge as
 * Swift's s3api does for a 413 of its quota middlewares. */
static int quota_refuses(struct px_req *r, struct s3_state *st, const char *container,
                         int account_too, int64_t len)
{
	if (!objquota_over(px_store(r), st->owner, container, account_too, len, NULL))
		return 0;
	s3_fail(r, S3E_ENTITY_TOO_LARGE, NULL, NULL, 0);
	return -1;
}

/* The size of object (container, object) of account, -1 when it cannot be read (the copy
 * then answers why itself). */
static int64_t source_size(struct px_req *r, const char *account, const char *container,
                           const char *object)
{
	struct store_meta m = {0};
	int64_t size = -1;
	if (store_head(px_store(r), account, container, object, &m) == STORE_OK)
		size = (int64_t)m.size;
	store_meta_release(&m);
	return size;
}

/* Opens the store_put a PutObject or UploadPart streams into. container/object name
 * where the bytes go. 0, or answers. */
static int put_open(struct px_req *r, struct s3_state *st, const char *container,
                    const char *object, int with_meta)
{
	char md5[33];
	struct meta_acc m = {.n = 0};
	int md = content_md5(px_header(r, "Content-MD5"), md5);
	if (md < 0) {
		s3_fail(r, S3E_INVALID_DIGEST, NULL, NULL, 0);
		return -1;
	}
	int64_t length = st->chunks ? st->decoded_length : px_content_length(r);
	if (length < 0 && !st->chunks) {
		s3_fail(r, S3E_MISSING_CONTENT_LENGTH, NULL, NULL, 0);
		return -1;
	}
	if (length >= 0 && (uint64_t)length > STORE_MAX_OBJECT) {
		s3_fail(r, S3E_ENTITY_TOO_LARGE, NULL, NULL, 0);
		return -1;
	}
	/* a PutObject lands in the bucket; a part (with_meta 0) counts against the account */
	if (quota_refuses(r, st, with_meta ? st->rq.bucket : NULL, 1, length) < 0)
		return -1;
	if (with_meta)
		px_headers_each(r, meta_collect, &m);
	if (m.over) {
		meta_release(&m);
		s3_fail(r, S3E_INVALID_ARGUMENT,
		        "Your metadata headers exceed the maximum allowed "
		        "metadata size.",
		        NULL, 0);
		return -1;
	}
	struct store_put_opts o = {length, md == 0 ? md5 : NULL,
	                           with_meta ? px_header(r, "Content-Type") : NULL, m.kv, m.n};
	enum store_err e = store_put_begin(px_store(r), st->owner, container, object, &o, &st->put);
	meta_release(&m);
	if (e != STORE_OK) {
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return -1;
	}
	return 0;
}

/* A write to a versioned bucket keeps the current version first (s3_version.h):
 * 0, or answers. */
static int version_write_begin(struct px_req *r, struct s3_state *st)
{
	if (st->vstate == S3_VER_OFF)
		return 0;
	struct s3_vctx c = vctx_of(r, st);
	enum s3_err e = s3_version_write_prepare(&c, st->rq.key, &st->vw);
	if (e != S3_OK) {
		store_meta_release(&st->vw.current);
		s3_fail(r, e, NULL, NULL, 0);
		return -1;
	}
	st->vw_active = 1;
	return 0;
}

/* ...and records the new version once written (m: its meta), or drops what
 * begin kept aside (m NULL). Adds x-amz-version-id; 0, or -1 when the version could
 * not be recorded (not answered). */
static int version_write_end(struct px_req *r, struct s3_state *st, const struct store_meta *m)
{
	if (!st->vw_active)
		return 0;
	struct s3_vctx c = vctx_of(r, st);
	st->vw_active = 0;
	if (!m) {
		s3_version_write_abort(&c, &st->vw);
		return 0;
	}
	if (s3_version_write_commit(&c, st->rq.key, &st->vw, m) != S3_OK)
		return -1;
	px_add_header(r, "x-amz-version-id", st->vw.new_id);
	return 0;
}

static void op_put_object_begin(struct px_req *r, struct s3_state *st)
{
	if (px_header(r, "x-amz-acl")) {
		enum s3_acl acl;
		if (s3_acl_parse_canned(px_header(r, "x-amz-acl"), &acl) < 0) {
			s3_fail(r, S3E_INVALID_ARGUMENT, NULL, NULL, 0);
			return;
		}
	}
	if (version_write_begin(r, st) < 0)
		return;
	if (put_open(r, st, st->rq.bucket, st->rq.key, 1) < 0)
		version_write_end(r, st, NULL);
}

static void op_put_object_finish(struct px_req *r, struct s3_state *st)
{
	struct store_meta m = {0};
	enum store_err e = store_put_finish(st->put, &m);
	st->put = NULL;
	if (e != STORE_OK) {
		store_meta_release(&m);
		version_write_end(r, st, NULL);
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return;
	}
	if (version_write_end(r, st, &m) < 0) {
		store_meta_release(&m);
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	char *et = xasprintf("\"%s\"", m.etag);
	px_add_header(r, "ETag", et);
	free(et);
	store_meta_release(&m);
	s3_empty(r, 200);
}

/* x-amz-copy-source "[/]bucket/key[?versionId=ID]", URL-encoded. 0 with bucket, key
 * and version id (owned, NULL when absent), or answers. */
static int copy_source(struct px_req *r, char bucket[S3_BUCKET_MAX + 1], char **key, char **vid)
{
	const char *src = px_header(r, "x-amz-copy-source");
	char *dec = NULL, *q;
	*key = *vid = NULL;
	if (!src || !(dec = px_unescape(src[0] == '/' ? src + 1 : src, 0)))
		goto bad;
	if ((q = strstr(dec, "?versionId="))) {
		if (!s3_version_id_valid(q + 11))
			goto bad;
		*vid = xstrdup(q + 11);
		*q = 0;
	}
	char *slash = strchr(dec, '/');
	if (!slash || slash - dec > S3_BUCKET_MAX || !slash[1] || strlen(slash + 1) > S3_KEY_MAX)
		goto bad;
	*slash = 0;
	if (!s3_bucket_name_valid(dec))
		goto bad;
	strcpy(bucket, dec);
	*key = xstrdup(slash + 1);
	free(dec);
	return 0;
bad:
	free(*vid);
	*vid = NULL;
	free(dec);
	s3_fail(r, S3E_INVALID_ARGUMENT,
	        "Copy Source must mention the source bucket and key: "
	        "sourcebucket/sourcekey",
	        NULL, 0);
	return -1;
}

/* The account that owns src_bucket when the caller may read it, else answers. */
static int copy_source_account(struct px_req *r, struct s3_state *st, const char *src_bucket,
                               char out[ACCOUNT_MAX])
{
	struct s3_state probe = {.anonymous = st->anonymous};
	snprintf(probe.account, sizeof probe.account, "%s", st->account);
	snprintf(probe.rq.bucket, sizeof probe.rq.bucket, "%s", src_bucket);
	if (bucket_resolve(r, &probe) < 0)
		return -1;
	if (!acl_allows(&probe, S3_GET_OBJECT)) {
		s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
		return -1;
	}
	snprintf(out, ACCOUNT_MAX, "%s", probe.owner);
	return 0;
}

/* Where version vid of the copy source is: 0, or answers. */
static int copy_source_version(struct px_req *r, const char *account, const char *bucket,
                               const char *key, const char *vid, struct s3_vwhere *w)
{
	struct s3_vctx c = {cfg.db, px_store(r), account, bucket, S3_VER_OFF};
	enum s3_err e = s3_version_find(&c, key, vid, w);
	if (e == S3_OK && !w->found)
		e = S3E_NO_SUCH_VERSION;
	if (e == S3_OK && w->delete_marker) {
		s3_fail(r, S3E_INVALID_REQUEST,
		        "The source of a copy request may not specifically refer to a delete "
		        "marker by version id.",
		        NULL, 0);
		return -1;
	}
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return -1;
	}
	return 0;
}

static void op_copy_object(struct px_req *r, struct s3_state *st)
{
	char sb[S3_BUCKET_MAX + 1], *sk = NULL, *svid = NULL, sacc[ACCOUNT_MAX];
	struct store_meta m = {0};
	struct meta_acc meta = {.n = 0};
	if (copy_source(r, sb, &sk, &svid) < 0)
		return;
	if (copy_source_account(r, st, sb, sacc) < 0)
		goto out;
	const char *dir = px_header(r, "x-amz-metadata-directive");
	int replace = dir && !strcasecmp(dir, "REPLACE");
	if (!replace && !svid && !strcmp(sb, st->rq.bucket) && !strcmp(sk, st->rq.key)) {
		s3_fail(r, S3E_INVALID_REQUEST,
		        "This copy request is illegal because it is trying to copy an object to "
		        "itself without changing the object's metadata, storage class, website "
		        "redirect location or encryption attributes.",
		        NULL, 0);
		goto out;
	}
	if (replace)
		px_headers_each(r, meta_collect, &meta);
	struct s3_vwhere src = {0};
	if (svid && copy_source_version(r, sacc, sb, sk, svid, &src) < 0)
		goto out;
	if (quota_refuses(r, st, st->rq.bucket, 1,
	                  source_size(r, sacc, src.found ? src.container : sb,
	                              src.found ? src.object : sk)) < 0)
		goto out;
	if (version_write_begin(r, st) < 0)
		goto out;
	enum store_err e = store_copy(px_store(r), sacc, src.found ? src.container : sb,
	                              src.found ? src.object : sk, st->owner, st->rq.bucket,
	                              st->rq.key, replace ? meta.kv : NULL, meta.n,
	                              replace ? px_header(r, "Content-Type") : NULL, &m);
	if (e != STORE_OK) {
		version_write_end(r, st, NULL);
		s3_fail(r, from_store(e, 1), NULL, NULL, 0);
	} else if (version_write_end(r, st, &m) < 0) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
	} else {
		if (src.found)
			px_add_header(r, "x-amz-copy-source-version-id", src.version_id);
		s3_xml(r, 200, s3_view_copy_result(m.etag, m.timestamp, 0));
	}
out:
	meta_release(&meta);
	store_meta_release(&m);
	free(svid);
	free(sk);
}

static void op_get_object_acl(struct px_req *r, struct s3_state *st)
{
	struct store_meta m = {0};
	enum store_err e = store_head(px_store(r), st->owner, st->rq.bucket, st->rq.key, &m);
	store_meta_release(&m);
	struct s3_owner o = owner_of(st);
	if (e != STORE_OK)
		s3_fail(r, from_store(e, 1), NULL, NULL, 0);
	else
		s3_xml(r, 200, s3_view_acl(&o, st->acl));
}

/* Objects carry their bucket's ACL: setting the one they already have is accepted,
 * another refused rather than pretended. */
static void op_put_object_acl(struct px_req *r, struct s3_state *st)
{
	enum s3_acl acl = S3_ACL_PRIVATE;
	const char *canned = px_header(r, "x-amz-acl");
	if (canned ? s3_acl_parse_canned(canned, &acl) < 0
	           : s3_parse_acl(st->body ? st->body : "", st->body_len, &acl) != S3_OK) {
		s3_fail(r, canned ? S3E_INVALID_ARGUMENT : S3E_MALFORMED_XML, NULL, NULL, 0);
		return;
	}
	if (acl != st->acl) {
		s3_fail(r, S3E_NOT_IMPLEMENTED, "Objects carry their bucket's ACL in this store",
		        NULL, 0);
		return;
	}
	s3_empty(r, 200);
}

/* ---- multipart ---- */

static char *segments_of(const char *bucket)
{
	return xasprintf("%s" SEGMENTS, bucket);
}

static char *part_name(const char *upload_id, long n)
{
	return xasprintf("%s/%05ld", upload_id, n);
}

static void op_create_multipart(struct px_req *r, struct s3_state *st)
{
	char id[33], err[256];
	unsigned char raw[16];
	struct meta_acc m = {.n = 0};
	if (bucket_exists(r, st) < 0)
		return;
	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(id, sizeof id, raw, sizeof raw);
	px_headers_each(r, meta_collect, &m);
	json_t *meta = json_object();
	for (int i = 0; i < m.n; i++)
		json_object_set_new(meta, m.kv[i].name, json_string(m.kv[i].value));
	char *mtext = json_dumps(meta, JSON_COMPACT);
	json_decref(meta);
	int over = m.over;
	meta_release(&m);
	char *seg = segments_of(st->rq.bucket);
	int created = 0;
	enum store_err e =
	    over ? STORE_BAD_REQUEST
	         : store_container_put(px_store(r), st->owner, seg, NULL, 0, &created);
	free(seg);
	if (e != STORE_OK) {
		free(mtext);
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return;
	}
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	int n =
	    db ? DBX(db, err, sizeof err,
	             "INSERT INTO s3_uploads (upload_id, account, bucket, key, content_type, meta)"
	             " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
	             id, st->owner, st->rq.bucket, st->rq.key, px_header(r, "Content-Type"), mtext)
	       : -EIO;
	if (db)
		db_release(cfg.db, db);
	free(mtext);
	if (n != 1)
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
	else
		s3_xml(r, 200, s3_view_initiate_multipart(st->rq.bucket, st->rq.key, id));
}

/* The upload's row (content_type, meta, initiated) when it belongs to this bucket
 * and key; NULL after answering NoSuchUpload. */
static PGresult *upload_find(struct px_req *r, struct s3_state *st)
{
	char err[256];
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	PGresult *res =
	    db ? DBQ(db, err, sizeof err,
	             "SELECT content_type, meta::text, extract(epoch FROM initiated)::text"
	             " FROM s3_uploads WHERE upload_id = $1 AND account = $2 AND"
	             " bucket = $3 AND key = $4",
	             st->rq.upload_id, st->owner, st->rq.bucket, st->rq.key)
	       : NULL;
	if (db)
		db_release(cfg.db, db);
	if (!res) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return NULL;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		s3_fail(r, S3E_NO_SUCH_UPLOAD, NULL, NULL, 0);
		return NULL;
	}
	return res;
}

static void op_upload_part_begin(struct px_req *r, struct s3_state *st)
{
	PGresult *up = upload_find(r, st);
	if (!up)
		return;
	PQclear(up);
	char *seg = segments_of(st->rq.bucket),
	     *name = part_name(st->rq.upload_id, st->rq.part_number);
	(void)put_open(r, st, seg, name, 0);
	free(seg);
	free(name);
}

static void op_upload_part_copy(struct px_req *r, struct s3_state *st)
{
	char sb[S3_BUCKET_MAX + 1], *sk = NULL, *svid = NULL, sacc[ACCOUNT_MAX];
	struct store_meta m = {0};
	if (px_header(r, "x-amz-copy-source-range")) {
		s3_fail(r, S3E_NOT_IMPLEMENTED, "x-amz-copy-source-range is not implemented", NULL,
		        0);
		return;
	}
	PGresult *up = upload_find(r, st);
	if (!up)
		return;
	PQclear(up);
	if (copy_source(r, sb, &sk, &svid) < 0)
		return;
	struct s3_vwhere src = {0};
	if (copy_source_account(r, st, sb, sacc) == 0 &&
	    (!svid || copy_source_version(r, sacc, sb, sk, svid, &src) == 0) &&
	    quota_refuses(r, st, NULL, 1,
	                  source_size(r, sacc, src.found ? src.container : sb,
	                              src.found ? src.object : sk)) == 0) {
		char *seg = segments_of(st->rq.bucket),
		     *name = part_name(st->rq.upload_id, st->rq.part_number);
		enum store_err e = store_copy(px_store(r), sacc, src.found ? src.container : sb,
		                              src.found ? src.object : sk, st->owner, seg, name,
		                              NULL, 0, NULL, &m);
		if (e != STORE_OK)
			s3_fail(r, from_store(e, 1), NULL, NULL, 0);
		else
			s3_xml(r, 200, s3_view_copy_result(m.etag, m.timestamp, 1));
		free(seg);
		free(name);
	}
	store_meta_release(&m);
	free(svid);
	free(sk);
}

/* The parts stored for the upload (names "<id>/<nnnnn>"), in order. */
static enum store_err parts_list(struct px_req *r, struct s3_state *st, struct store_list *l)
{
	char *seg = segments_of(st->rq.bucket), *prefix = xasprintf("%s/", st->rq.upload_id);
	struct store_list_query q = {.prefix = prefix, .limit = 10000};
	enum store_err e = store_list_objects(px_store(r), st->owner, seg, &q, l);
	free(seg);
	free(prefix);
	return e;
}

static void parts_delete(struct px_req *r, struct s3_state *st, const struct store_list *l)
{
	char *seg = segments_of(st->rq.bucket);
	for (size_t i = 0; i < l->n; i++)
		(void)store_delete(px_store(r), st->owner, seg, l->e[i].name);
	free(seg);
}

static void upload_forget(struct s3_state *st)
{
	char err[256];
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	if (db) {
		(void)DBX(db, err, sizeof err, "DELETE FROM s3_uploads WHERE upload_id = $1",
		          st->rq.upload_id);
		db_release(cfg.db, db);
	}
}

static void op_abort_multipart(struct px_req *r, struct s3_state *st)
{
	struct store_list l = {0};
	PGresult *up = upload_find(r, st);
	if (!up)
		return;
	PQclear(up);
	if (parts_list(r, st, &l) == STORE_OK)
		parts_delete(r, st, &l);
	store_list_release(&l);
	upload_forget(st);
	s3_empty(r, 204);
}

static long part_number_of(const char *name)
{
	const char *slash = strrchr(name, '/');
	return slash ? strtol(slash + 1, NULL, 10) : -1;
}

static void op_list_parts(struct px_req *r, struct s3_state *st)
{
	struct store_list l = {0};
	PGresult *up = upload_find(r, st);
	if (!up)
		return;
	PQclear(up);
	enum store_err e = parts_list(r, st, &l);
	if (e != STORE_OK) {
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		return;
	}
	struct s3_part_entry *p = xcalloc(l.n + 1, sizeof *p);
	size_t n = 0;
	int truncated = 0;
	for (size_t i = 0; i < l.n; i++) {
		long num = part_number_of(l.e[i].name);
		if (num <= st->rq.part_number_marker)
			continue;
		if ((long)n == st->rq.max_keys) {
			truncated = 1;
			break;
		}
		p[n++] = (struct s3_part_entry){num, l.e[i].timestamp, l.e[i].etag, l.e[i].bytes};
	}
	struct s3_owner o = owner_of(st);
	struct s3_parts_view v = {st->rq.bucket,
	                          st->rq.key,
	                          st->rq.upload_id,
	                          &o,
	                          st->rq.part_number_marker,
	                          n ? p[n - 1].number : 0,
	                          st->rq.max_keys,
	                          truncated,
	                          p,
	                          n};
	s3_xml(r, 200, s3_view_list_parts(&v));
	free(p);
	store_list_release(&l);
}

static void op_list_uploads(struct px_req *r, struct s3_state *st)
{
	char err[256], limit[24];
	if (bucket_exists(r, st) < 0)
		return;
	snprintf(limit, sizeof limit, "%ld", st->rq.max_keys + 1);
	PGconn *db = db_acquire_timed(cfg.db, 5000);
	PGresult *res =
	    db ? DBQ(db, err, sizeof err,
	             "SELECT key, upload_id, extract(epoch FROM initiated)::text FROM s3_uploads"
	             " WHERE account = $1 AND bucket = $2 AND key LIKE replace(replace(replace("
	             "coalesce($3, ''), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'"
	             " AND (key COLLATE \"C\", upload_id) > (coalesce($4, '') COLLATE \"C\","
	             " coalesce($5, '')) ORDER BY key COLLATE \"C\", upload_id LIMIT $6::int",
	             st->owner, st->rq.bucket, st->rq.prefix, st->rq.key_marker,
	             st->rq.upload_id_marker, limit)
	       : NULL;
	if (db)
		db_release(cfg.db, db);
	if (!res) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		return;
	}
	size_t rows = (size_t)PQntuples(res);
	int truncated = rows > (size_t)st->rq.max_keys;
	size_t n = truncated ? (size_t)st->rq.max_keys : rows;
	struct s3_upload_entry *u = xcalloc(n + 1, sizeof *u);
	for (size_t i = 0; i < n; i++)
		u[i] = (struct s3_upload_entry){db_val(res, (int)i, 0), db_val(res, (int)i, 1),
		                                db_val(res, (int)i, 2)};
	struct s3_owner o = owner_of(st);
	struct s3_uploads_view v = {.bucket = st->rq.bucket,
	                            .prefix = st->rq.prefix,
	                            .delimiter = st->rq.delimiter,
	                            .key_marker = st->rq.key_marker,
	                            .upload_id_marker = st->rq.upload_id_marker,
	                            .next_key_marker = truncated && n ? u[n - 1].key : NULL,
	                            .next_upload_id_marker =
	                                truncated && n ? u[n - 1].upload_id : NULL,
	                            .max_uploads = st->rq.max_keys,
	                            .truncated = truncated,
	                            .owner = &o,
	                            .u = u,
	                            .n = n};
	s3_xml(r, 200, s3_view_list_uploads(&v));
	free(u);
	PQclear(res);
}

/* Streams part `name` of the segments container into put; md5 of its bytes into
 * whole. STORE_OK or the first error. */
static enum store_err part_stream(struct px_req *r, struct s3_state *st, const char *seg,
                                  const char *name, struct store_put *put)
{
	struct store_meta m = {0};
	struct store_get *g = NULL;
	uint64_t off, len;
	enum store_err e =
	    store_get_open(px_store(r), st->owner, seg, name, 0, -1, &m, &off, &len, &g);
	store_meta_release(&m);
	if (e != STORE_OK)
		return e;
	char *buf = xmalloc(64 * 1024);
	ssize_t got;
	while (e == STORE_OK && (got = store_get_read(g, buf, 64 * 1024)) != 0) {
		if (got < 0)
			e = STORE_UNAVAILABLE;
		else
			e = store_put_write(put, buf, (size_t)got);
	}
	free(buf);
	store_get_close(g);
	return e;
}

static void op_complete_multipart(struct px_req *r, struct s3_state *st)
{
	struct s3_complete_part *parts = NULL;
	size_t np = 0;
	struct store_list l = {0};
	struct store_put *put = NULL;
	struct store_meta done = {0};
	struct store_kv *kv = NULL;
	char *seg = NULL, *mp_etag = NULL;
	json_t *meta = NULL;
	int nkv = 0;
	PGresult *up = upload_find(r, st);
	if (!up)
		return;
	enum s3_err se = s3_parse_complete(st->body ? st->body : "", st->body_len, &parts, &np);
	if (se != S3_OK) {
		s3_fail(r, se, NULL, NULL, 0);
		goto out;
	}
	enum store_err e = parts_list(r, st, &l);
	if (e != STORE_OK) {
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		goto out;
	}
	/* every part named is stored with that ETag; all but the last at least 5 MiB */
	uint64_t total = 0;
	struct md5 whole;
	md5_init(&whole);
	const struct store_entry **use = xcalloc(np, sizeof *use);
	for (size_t i = 0; i < np; i++) {
		for (size_t k = 0; k < l.n && !use[i]; k++)
			if (part_number_of(l.e[k].name) == parts[i].number &&
			    !strcmp(l.e[k].etag, parts[i].etag))
				use[i] = &l.e[k];
		if (!use[i]) {
			se = S3E_INVALID_PART;
			break;
		}
		if (i + 1 < np && use[i]->bytes < PART_MIN) {
			se = S3E_ENTITY_TOO_SMALL;
			break;
		}
		unsigned char bin[16];
		sodium_hex2bin(bin, sizeof bin, parts[i].etag, 32, NULL, NULL, NULL);
		md5_update(&whole, bin, sizeof bin);
		total += use[i]->bytes;
	}
	if (se != S3_OK) {
		free(use);
		s3_fail(r, se, NULL, NULL, 0);
		goto out;
	}
	char hex[33];
	md5_final_hex(&whole, hex);
	mp_etag = xasprintf("%s-%zu", hex, np);
	/* the object's metadata as the upload was created, plus its multipart ETag */
	meta = json_loads(db_val(up, 0, 1), 0, NULL);
	kv = xcalloc(json_object_size(meta) + 1, sizeof *kv);
	const char *k;
	json_t *v;
	json_object_foreach(meta, k, v)
	{
		kv[nkv].name = (char *)k;
		kv[nkv].value = (char *)json_string_value(v);
		nkv++;
	}
	kv[nkv].name = META_MULTIPART_ETAG;
	kv[nkv].value = mp_etag;
	nkv++;
	struct store_put_opts o = {(int64_t)total, NULL,
	                           PQgetisnull(up, 0, 0) ? NULL : db_val(up, 0, 0), kv, nkv};
	/* the parts already count against the account; the bucket gains the whole */
	if (quota_refuses(r, st, st->rq.bucket, 0, (int64_t)total) < 0)
		goto out;
	if (version_write_begin(r, st) < 0)
		goto out;
	e = store_put_begin(px_store(r), st->owner, st->rq.bucket, st->rq.key, &o, &put);
	seg = segments_of(st->rq.bucket);
	for (size_t i = 0; e == STORE_OK && i < np; i++)
		e = part_stream(r, st, seg, use[i]->name, put);
	free(use);
	if (e != STORE_OK) {
		if (put)
			store_put_abort(put);
		version_write_end(r, st, NULL);
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		goto out;
	}
	e = store_put_finish(put, &done);
	if (e != STORE_OK) {
		version_write_end(r, st, NULL);
		s3_fail(r, from_store(e, 0), NULL, NULL, 0);
		goto out;
	}
	if (version_write_end(r, st, &done) < 0) {
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, NULL, NULL, 0);
		goto out;
	}
	parts_delete(r, st, &l);
	upload_forget(st);
	char *location = xasprintf("/%s/%s", st->rq.bucket, st->rq.key);
	s3_xml(r, 200, s3_view_complete_multipart(location, st->rq.bucket, st->rq.key, mp_etag));
	free(location);
out:
	store_meta_release(&done);
	json_decref(meta);
	free(kv);
	free(mp_etag);
	free(seg);
	free(parts);
	store_list_release(&l);
	PQclear(up);
}

/* ---- the table ---- */

enum body { B_NONE, B_XML, B_STREAM };

static const struct op_row {
	enum s3_op op;
	enum body body;
	int bucket;     /* resolve the bucket's owner first */
	int owner_only; /* only the owner, whatever the ACL */
	void (*begin)(struct px_req *r, struct s3_state *st);
	void (*finish)(struct px_req *r, struct s3_state *st);
} ops[] = {
    {S3_LIST_BUCKETS, B_NONE, 0, 0, op_list_buckets, NULL},
    {S3_CREATE_BUCKET, B_XML, 0, 0, NULL, op_create_bucket},
    {S3_DELETE_BUCKET, B_NONE, 1, 1, op_delete_bucket, NULL},
    {S3_HEAD_BUCKET, B_NONE, 1, 0, op_head_bucket, NULL},
    {S3_GET_BUCKET_LOCATION, B_NONE, 1, 1, op_location, NULL},
    {S3_LIST_OBJECTS, B_NONE, 1, 0, op_list_objects, NULL},
    {S3_LIST_OBJECTS_V2, B_NONE, 1, 0, op_list_objects, NULL},
    {S3_LIST_OBJECT_VERSIONS, B_NONE, 1, 0, op_list_versions, NULL},
    {S3_LIST_MULTIPART_UPLOADS, B_NONE, 1, 1, op_list_uploads, NULL},
    {S3_GET_BUCKET_ACL, B_NONE, 1, 1, op_get_bucket_acl, NULL},
    {S3_PUT_BUCKET_ACL, B_XML, 1, 1, NULL, op_put_bucket_acl},
    {S3_GET_BUCKET_VERSIONING, B_NONE, 1, 1, op_get_versioning, NULL},
    {S3_PUT_BUCKET_VERSIONING, B_XML, 1, 1, NULL, op_put_versioning},
    {S3_DELETE_OBJECTS, B_XML, 1, 1, NULL, op_delete_objects},
    {S3_PUT_OBJECT, B_STREAM, 1, 0, op_put_object_begin, op_put_object_finish},
    {S3_COPY_OBJECT, B_NONE, 1, 1, op_copy_object, NULL},
    {S3_GET_OBJECT, B_NONE, 1, 0, op_get_object, NULL},
    {S3_HEAD_OBJECT, B_NONE, 1, 0, op_get_object, NULL},
    {S3_DELETE_OBJECT, B_NONE, 1, 0, op_delete_object, NULL},
    {S3_GET_OBJECT_ACL, B_NONE, 1, 1, op_get_object_acl, NULL},
    {S3_PUT_OBJECT_ACL, B_XML, 1, 1, NULL, op_put_object_acl},
    {S3_CREATE_MULTIPART, B_NONE, 1, 1, op_create_multipart, NULL},
    {S3_UPLOAD_PART, B_STREAM, 1, 1, op_upload_part_begin, op_put_object_finish},
    {S3_UPLOAD_PART_COPY, B_NONE, 1, 1, op_upload_part_copy, NULL},
    {S3_COMPLETE_MULTIPART, B_XML, 1, 1, NULL, op_complete_multipart},
    {S3_ABORT_MULTIPART, B_NONE, 1, 1, op_abort_multipart, NULL},
    {S3_LIST_PARTS, B_NONE, 1, 1, op_list_parts, NULL},
};

static const struct op_row *op_row_of(enum s3_op op)
{
	for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
		if (ops[i].op == op)
			return &ops[i];
	return NULL;
}

/* ---- the front end's hooks ---- */

static int s3_match(const char *raw_path, const char *host)
{
	/* Swift's: /v1/..., /info, /healthcheck ("v1", "info" are no bucket names) */
	return strncmp(raw_path, "/v1/", 4) && strcmp(raw_path, "/info") &&
	       strcmp(raw_path, "/healthcheck");
}

static void s3_begin(struct px_req *r)
{
	struct s3_state *st = xcalloc(1, sizeof *st);
	st->decoded_length = -1;
	px_set_state(r, st);
	if (!cfg.db) { /* s3_frontend_init refused: no key to verify with */
		s3_fail(r, S3E_SERVICE_UNAVAILABLE, "S3 is not configured on this proxy", NULL, 0);
		return;
	}
	struct s3_wire w = {px_method(r),    px_raw_path(r),
	                    px_raw_query(r), px_header(r, "Host"),
	                    cfg.domain,      px_header(r, "x-amz-copy-source")};
	enum s3_err e = s3_request_parse(&w, &st->rq);
	if (e != S3_OK) {
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	const struct op_row *row = op_row_of(st->rq.op);
	if (!row) {
		s3_fail(r, S3E_NOT_IMPLEMENTED, NULL, NULL, 0);
		return;
	}
	if (s3_authenticate(r, st) < 0)
		return;
	if (st->anonymous && !row->bucket) {
		s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
		return;
	}
	if (row->bucket) {
		if (bucket_resolve(r, st) < 0)
			return;
		if ((row->owner_only && strcmp(st->owner, st->account)) ||
		    (!row->owner_only && !acl_allows(st, st->rq.op))) {
			s3_fail(r, S3E_ACCESS_DENIED, NULL, NULL, 0);
			return;
		}
	}
	if (row->begin)
		row->begin(r, st);
}

/* Payload bytes after the aws-chunked framing (or all of them). */
static int deliver(void *arg, const void *data, size_t n)
{
	struct px_req *r = arg;
	struct s3_state *st = px_state(r);
	const struct op_row *row = op_row_of(st->rq.op);
	if (st->put) {
		enum store_err e = store_put_write(st->put, data, n);
		if (e != STORE_OK) {
			st->put_err = e;
			return -EIO;
		}
		return 0;
	}
	if (row && row->body == B_XML) {
		if (st->body_len + n > S3_XML_MAX_BODY) {
			st->body_over = 1;
			return -EFBIG;
		}
		st->body = xrealloc(st->body, st->body_len + n + 1);
		memcpy(st->body + st->body_len, data, n);
		st->body_len += n;
		st->body[st->body_len] = 0;
	}
	return 0;
}

static int s3_body(struct px_req *r, const char *data, size_t n)
{
	struct s3_state *st = px_state(r);
	int rc;
	if (!st || px_answered(r))
		return 1;
	if (st->check_sha)
		crypto_hash_sha256_update(&st->sha, (const unsigned char *)data, n);
	if (st->chunks) /* the decoder hands the payload to deliver() */
		rc = sigv4_chunks_feed(st->chunks, data, n);
	else {
		rc = deliver(r, data, n);
	}
	if (rc < 0) {
		st->body_err = rc;
		return 1;
	}
	return 0;
}

static void s3_finish(struct px_req *r)
{
	struct s3_state *st = px_state(r);
	if (!st || px_answered(r))
		return;
	const struct op_row *row = op_row_of(st->rq.op);
	enum s3_err e = S3_OK;
	if (st->body_err == -EACCES)
		e = S3E_SIGNATURE_DOES_NOT_MATCH;
	else if (st->body_over)
		e = S3E_MALFORMED_XML;
	else if (st->put_err != STORE_OK)
		e = from_store(st->put_err, 0);
	else if (st->body_err == -EFBIG)
		e = S3E_ENTITY_TOO_LARGE;
	else if (st->body_err)
		e = S3E_INCOMPLETE_BODY;
	else if (st->chunks) {
		int rc = sigv4_chunks_finish(st->chunks, st->decoded_length);
		e = rc == -EACCES ? S3E_SIGNATURE_DOES_NOT_MATCH
		    : rc < 0      ? S3E_INCOMPLETE_BODY
		                  : S3_OK;
	} else if (st->check_sha) {
		unsigned char h[32];
		char hex[SIGV4_HEX];
		crypto_hash_sha256_final(&st->sha, h);
		sodium_bin2hex(hex, sizeof hex, h, sizeof h);
		if (!sigv4_equal(hex, st->want_sha))
			e = S3E_XAMZ_CONTENT_SHA256_MISMATCH;
	}
	if (e != S3_OK) {
		if (st->put) {
			store_put_abort(st->put); /* nothing of a refused body is kept */
			st->put = NULL;
		}
		version_write_end(r, st, NULL);
		s3_fail(r, e, NULL, NULL, 0);
		return;
	}
	if (row && row->finish)
		row->finish(r, st);
	else if (!px_answered(r))
		s3_fail(r, S3E_INTERNAL, NULL, NULL, 0);
}

static void s3_end(struct px_req *r)
{
	struct s3_state *st = px_state(r);
	if (!st)
		return;
	if (st->put)
		store_put_abort(st->put);
	version_write_end(r, st, NULL);
	sigv4_chunks_free(st->chunks);
	s3_request_release(&st->rq);
	free(st->body);
	sodium_memzero(st->signing_key, sizeof st->signing_key);
	free(st);
	px_set_state(r, NULL);
}

const struct px_frontend s3_frontend = {"s3", s3_match, s3_begin, s3_body, s3_finish, s3_end};

int s3_frontend_init(const struct conf *c, struct db_pool *db, char *err, size_t errlen)
{
	if (cred_key_parse(conf_get(c, "identity", "credential_key", NULL), cfg.key) < 0) {
		snprintf(err, errlen, "S3 needs [identity] credential_key (64 hex digits)");
		return -EINVAL;
	}
	snprintf(cfg.domain, sizeof cfg.domain, "%s", conf_get(c, "objstore", "s3_domain", ""));
	snprintf(cfg.region, sizeof cfg.region, "%s",
	         conf_get(c, "objstore", "s3_region", "us-east-1"));
	cfg.db = db;
	return 0;
}

void s3_frontend_fini(void)
{
	cfg.db = NULL;
	sodium_memzero(cfg.key, sizeof cfg.key);
}

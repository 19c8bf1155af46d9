/* S3 bucket versioning (see s3_version.h): rows of s3_versions say which version is
 * where; the bytes move with store_copy/store_delete between the bucket and its
 * "<bucket>+versions" container. Order of every move: the bytes are copied aside
 * before they can be lost, the rows change after the bytes are in place, and what
 * became unreachable is deleted last. */
#include "s3_version.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "store_impl.h"
#include "xalloc.h"

#define DB_WAIT_MS 5000
#define LIST_BATCH "1000"
#define LIST_BATCH_N 1000
/* seq of an implicit "null" version (a key without rows): after every real row */
#define SEQ_IMPLICIT "9223372036854775806"
/* a cursor seq that takes every version of its key */
#define SEQ_ALL "9223372036854775807"

static const char id_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

enum s3_vstate s3_vstate_parse(const char *s)
{
	if (s && !strcmp(s, "Enabled"))
		return S3_VER_ENABLED;
	if (s && !strcmp(s, "Suspended"))
		return S3_VER_SUSPENDED;
	return S3_VER_OFF;
}

void s3_version_id_new(char out[S3_VERSION_ID_LEN + 1])
{
	uint8_t b[S3_VERSION_ID_LEN];
	randombytes_buf(b, sizeof b);
	for (size_t i = 0; i < S3_VERSION_ID_LEN; i++)
		out[i] = id_chars[b[i] % (sizeof id_chars - 1)];
	out[S3_VERSION_ID_LEN] = '\0';
}

int s3_version_id_valid(const char *id)
{
	if (!id)
		return 0;
	if (!strcmp(id, "null"))
		return 1;
	return strlen(id) == S3_VERSION_ID_LEN && strspn(id, id_chars) == S3_VERSION_ID_LEN;
}

/* ---- database ---- */

/* One statement on a pooled connection: the result, or NULL (database down or the
 * statement failed). */
static PGresult *vq(const struct s3_vctx *c, const char *sql, int n, const char *const *p)
{
	char err[256];
	PGconn *db = db_acquire_timed(c->db, DB_WAIT_MS);
	if (!db)
		return NULL;
	PGresult *res = db_query(db, sql, n, p, err, sizeof err, NULL);
	db_release(c->db, db);
	return res;
}
#define VQ(c, sql, ...) vq((c), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__})

static void versions_of(const char *bucket, char out[STORE_MAX_CONTAINER + 16])
{
	snprintf(out, STORE_MAX_CONTAINER + 16, "%s" S3_VERSIONS_SUFFIX, bucket);
}

static enum s3_err from_store(enum store_err e)
{
	return e == STORE_OK            ? S3_OK
	       : e == STORE_UNAVAILABLE ? S3E_SERVICE_UNAVAILABLE
	                                : S3E_INTERNAL;
}

/* The S3 ETag of a stored object: the multipart one when it has one. */
static const char *s3_etag_of(const struct store_meta *m)
{
	const char *mp = store_meta_get(m, S3_META_MULTIPART_ETAG);
	return mp ? mp : m->etag;
}

#define COLS_LATEST "version_id, delete_marker, archive, ts"
static const char sql_latest[] = "SELECT " COLS_LATEST " FROM s3_versions WHERE account = $1"
                                 " AND bucket = $2 AND key = $3 ORDER BY seq DESC LIMIT 1";
static const char sql_one[] =
    "SELECT " COLS_LATEST ", seq = (SELECT max(seq) FROM s3_versions w WHERE w.account = $1"
    " AND w.bucket = $2 AND w.key = $3) FROM s3_versions WHERE account = $1 AND bucket = $2"
    " AND key = $3 AND version_id = $4";
static const char sql_any[] =
    "SELECT 1 FROM s3_versions WHERE account = $1 AND bucket = $2 AND key = $3 LIMIT 1";

/* Copies the bucket's key into the versions container under a fresh name (into
 * archive). The container is made on first need. */
static enum store_err archive_copy(const struct s3_vctx *c, const char *key,
                                   char archive[S3_VERSION_ID_LEN + 2])
{
	char id[S3_VERSION_ID_LEN + 1], vc[STORE_MAX_CONTAINER + 16];
	struct store_meta m = {0};
	s3_version_id_new(id);
	snprintf(archive, S3_VERSION_ID_LEN + 2, "v%s", id);
	versions_of(c->bucket, vc);
	enum store_err e = store_copy(c->store, c->account, c->bucket, key, c->account, vc, archive,
	                              NULL, 0, NULL, &m);
	store_meta_release(&m);
	if (e == STORE_NOT_FOUND) {
		int created = 0;
		if (store_container_put(c->store, c->account, vc, NULL, 0, &created) == STORE_OK) {
			e = store_copy(c->store, c->account, c->bucket, key, c->account, vc,
			               archive, NULL, 0, NULL, &m);
			store_meta_release(&m);
		}
	}
	if (e != STORE_OK)
		archive[0] = '\0';
	return e;
}

static void archive_delete(const struct s3_vctx *c, const char *archive)
{
	char vc[STORE_MAX_CONTAINER + 16];
	if (!archive || !archive[0])
		return;
	versions_of(c->bucket, vc);
	(void)store_delete(c->store, c->account, vc, archive);
}

/* ---- writes ---- */

enum s3_err s3_version_write_prepare(const struct s3_vctx *c, const char *key, struct s3_vwrite *w)
{
	memset(w, 0, sizeof *w);
	if (c->state == S3_VER_ENABLED)
		s3_version_id_new(w->new_id);
	else
		strcpy(w->new_id, "null");
	PGresult *res = VQ(c, sql_latest, c->account, c->bucket, key);
	if (!res)
		return S3E_SERVICE_UNAVAILABLE;
	if (PQntuples(res) == 1) {
		if (strcmp(db_val(res, 0, 1), "t")) {
			w->had_current = w->current_row = 1;
			snprintf(w->current_id, sizeof w->current_id, "%s", db_val(res, 0, 0));
		}
	} else {
		enum store_err e =
		    store_head_newest(c->store, c->account, c->bucket, key, &w->current);
		if (e != STORE_OK && e != STORE_NOT_FOUND) {
			PQclear(res);
			return from_store(e);
		}
		if (e == STORE_OK) {
			w->had_current = 1;
			strcpy(w->current_id, "null");
		}
	}
	PQclear(res);
	/* Suspended: the current "null" version is replaced, anything else kept */
	if (w->had_current && (c->state == S3_VER_ENABLED || strcmp(w->current_id, "null"))) {
		enum store_err e = archive_copy(c, key, w->archive);
		if (e == STORE_NOT_FOUND) /* gone under us: nothing to keep */
			w->had_current = 0;
		else if (e != STORE_OK)
			return from_store(e);
	}
	return S3_OK;
}

void s3_version_write_abort(const struct s3_vctx *c, struct s3_vwrite *w)
{
	archive_delete(c, w->archive);
	w->archive[0] = '\0';
	store_meta_release(&w->current);
}

/* A commit that failed after the new bytes replaced the bucket's object: the archived
 * copy is now the only one of the previous version's bytes, so it stays (an orphan costs
 * less than a lost version); w is released. */
static void write_keep(struct s3_vwrite *w)
{
	w->archive[0] = '\0';
	store_meta_release(&w->current);
}

enum s3_err s3_version_write_commit(const struct s3_vctx *c, const char *key, struct s3_vwrite *w,
                                    const struct store_meta *m)
{
	char err[256], ts[STORE_TS_LEN], size[24];
	PGresult *gone = NULL;
	PGconn *db = db_acquire_timed(c->db, DB_WAIT_MS);
	if (!db) {
		write_keep(w);
		return S3E_SERVICE_UNAVAILABLE;
	}
	int ok = db_begin(db) == 0;
	if (ok && w->had_current && w->archive[0] && !w->current_row) {
		/* the implicit "null" version that was current gets its row */
		snprintf(size, sizeof size, "%llu", (unsigned long long)w->current.size);
		ok =
		    DBX(db, err, sizeof err,
		        "INSERT INTO s3_versions (account, bucket, key, version_id, ts, size, etag,"
		        " archive) VALUES ($1, $2, $3, 'null', $4, $5, $6, $7) ON CONFLICT DO "
		        "NOTHING",
		        c->account, c->bucket, key, w->current.timestamp, size,
		        s3_etag_of(&w->current), w->archive) >= 0;
	} else if (ok && w->had_current && w->archive[0]) {
		ok = DBX(db, err, sizeof err,
		         "UPDATE s3_versions SET archive = $5 WHERE account = $1 AND bucket = $2"
		         " AND key = $3 AND version_id = $4 AND archive IS NULL AND NOT "
		         "delete_marker",
		         c->account, c->bucket, key, w->current_id, w->archive) >= 0;
	}
	if (ok && c->state != S3_VER_ENABLED) {
		gone = DBQ(db, err, sizeof err,
		           "DELETE FROM s3_versions WHERE account = $1 AND bucket = $2 AND key = $3"
		           " AND version_id = 'null' RETURNING archive",
		           c->account, c->bucket, key);
		ok = gone != NULL;
	}
	if (m) {
		snprintf(size, sizeof size, "%llu", (unsigned long long)m->size);
		snprintf(ts, sizeof ts, "%s", m->timestamp);
	} else {
		strcpy(size, "0");
		store_ts_now(ts);
	}
	if (ok)
		ok =
		    DBX(db, err, sizeof err,
		        "INSERT INTO s3_versions (account, bucket, key, version_id, ts, size, etag,"
		        " delete_marker) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		        c->account, c->bucket, key, w->new_id, ts, size, m ? s3_etag_of(m) : "",
		        m ? "false" : "true") >= 0;
	if (ok)
		ok = db_commit(db) == 0;
	else
		db_rollback(db);
	db_release(c->db, db);
	if (!ok) {
		PQclear(gone);
		write_keep(w);
		return S3E_SERVICE_UNAVAILABLE;
	}
	for (int i = 0; gone && i < PQntuples(gone); i++)
		archive_delete(c, db_val(gone, i, 0));
	PQclear(gone);
	store_meta_release(&w->current);
	return S3_OK;
}

enum s3_err s3_version_delete_current(const struct s3_vctx *c, const char *key,
                                      char marker_id[S3_VERSION_ID_LEN + 1])
{
	struct s3_vwrite w;
	enum s3_err e = s3_version_write_prepare(c, key, &w);
	if (e != S3_OK) {
		store_meta_release(&w.current);
		return e;
	}
	if (w.had_current) {
		enum store_err se = store_delete(c->store, c->account, c->bucket, key);
		if (se != STORE_OK && se != STORE_NOT_FOUND) {
			s3_version_write_abort(c, &w);
			return from_store(se);
		}
	}
	snprintf(marker_id, S3_VERSION_ID_LEN + 1, "%s", w.new_id);
	return s3_version_write_commit(c, key, &w, NULL);
}

/* The bucket's object of key, gone (absent already is fine). */
static enum s3_err bucket_clear(const struct s3_vctx *c, const char *key)
{
	enum store_err se = store_delete(c->store, c->account, c->bucket, key);
	return se == STORE_OK || se == STORE_NOT_FOUND ? S3_OK : from_store(se);
}

/* After the latest version went (its bytes still in the bucket when clear): the one now
 * latest gets its bytes copied over the bucket's object; a delete marker or nothing
 * leaves the key absent there. The copy replaces the old bytes in one step, so a failed
 * copy leaves them, never a key absent while a data version is latest (reads by the
 * rows serve the new latest from its archive meanwhile). */
static enum s3_err promote(const struct s3_vctx *c, const char *key, int clear)
{
	char vc[STORE_MAX_CONTAINER + 16];
	struct store_meta m = {0};
	PGresult *res = VQ(c, sql_latest, c->account, c->bucket, key);
	if (!res)
		return S3E_SERVICE_UNAVAILABLE;
	if (PQntuples(res) != 1 || !strcmp(db_val(res, 0, 1), "t") || !db_val(res, 0, 2)) {
		PQclear(res);
		return clear ? bucket_clear(c, key) : S3_OK;
	}
	versions_of(c->bucket, vc);
	char *archive = xstrdup(db_val(res, 0, 2));
	enum store_err e = store_copy(c->store, c->account, vc, archive, c->account, c->bucket, key,
	                              NULL, 0, NULL, &m);
	store_meta_release(&m);
	enum s3_err out = from_store(e);
	if (e == STORE_OK) {
		PGresult *u = VQ(c,
		                 "UPDATE s3_versions SET archive = NULL WHERE account = $1 AND"
		                 " bucket = $2 AND key = $3 AND version_id = $4 AND archive = $5",
		                 c->account, c->bucket, key, db_val(res, 0, 0), archive);
		if (u)
			archive_delete(c, archive);
		else
			out = S3E_SERVICE_UNAVAILABLE;
		PQclear(u);
	}
	free(archive);
	PQclear(res);
	return out;
}

enum s3_err s3_version_delete(const struct s3_vctx *c, const char *key, const char *version_id,
                              int *was_marker)
{
	*was_marker = 0;
	PGresult *res = VQ(c, sql_one, c->account, c->bucket, key, version_id);
	if (!res)
		return S3E_SERVICE_UNAVAILABLE;
	if (PQntuples(res) != 1) {
		PQclear(res);
		if (strcmp(version_id, "null"))
			return S3_OK;
		PGresult *any = VQ(c, sql_any, c->account, c->bucket, key);
		if (!any)
			return S3E_SERVICE_UNAVAILABLE;
		int rows = PQntuples(any);
		PQclear(any);
		if (rows)
			return S3_OK;
		/* the implicit "null" version: the bucket's object itself */
		enum store_err e = store_delete(c->store, c->account, c->bucket, key);
		return e == STORE_NOT_FOUND ? S3_OK : from_store(e);
	}
	int marker = !strcmp(db_val(res, 0, 1), "t");
	int latest = !strcmp(db_val(res, 0, 4), "t");
	char *archive = db_val(res, 0, 2) ? xstrdup(db_val(res, 0, 2)) : NULL;
	PQclear(res);
	*was_marker = marker;
	res = VQ(c,
	         "DELETE FROM s3_versions WHERE account = $1 AND bucket = $2 AND key = $3"
	         " AND version_id = $4",
	         c->account, c->bucket, key, version_id);
	if (!res) {
		free(archive);
		return S3E_SERVICE_UNAVAILABLE;
	}
	PQclear(res);
	archive_delete(c, archive);
	free(archive);
	return latest ? promote(c, key, !marker) : S3_OK;
}

enum s3_err s3_version_find(const struct s3_vctx *c, const char *key, const char *version_id,
                            struct s3_vwhere *out)
{
	memset(out, 0, sizeof *out);
	PGresult *res = version_id ? VQ(c, sql_one, c->account, c->bucket, key, version_id)
	                           : VQ(c, sql_latest, c->account, c->bucket, key);
	if (!res)
		return S3E_SERVICE_UNAVAILABLE;
	if (PQntuples(res) == 1) {
		const char *archive = db_val(res, 0, 2);
		out->found = 1;
		out->delete_marker = !strcmp(db_val(res, 0, 1), "t");
		out->latest = version_id ? !strcmp(db_val(res, 0, 4), "t") : 1;
		snprintf(out->version_id, sizeof out->version_id, "%s", db_val(res, 0, 0));
		snprintf(out->ts, sizeof out->ts, "%s", db_val(res, 0, 3));
		if (archive) {
			versions_of(c->bucket, out->container);
			snprintf(out->object, sizeof out->object, "%s", archive);
		} else {
			snprintf(out->container, sizeof out->container, "%s", c->bucket);
			snprintf(out->object, sizeof out->object, "%s", key);
		}
		PQclear(res);
		return S3_OK;
	}
	PQclear(res);
	if (!version_id || strcmp(version_id, "null"))
		return S3_OK;
	PGresult *any = VQ(c, sql_any, c->account, c->bucket, key);
	if (!any)
		return S3E_SERVICE_UNAVAILABLE;
	if (PQntuples(any) == 0) { /* the implicit "null" version */
		out->found = out->latest = 1;
		strcpy(out->version_id, "null");
		snprintf(out->container, sizeof out->container, "%s", c->bucket);
		snprintf(out->object, sizeof out->object, "%s", key);
	}
	PQclear(any);
	return S3_OK;
}

/* ---- listing ---- */

/* Every version of the bucket's keys after the cursor ($4 key, $5 seq: versions of
 * that key older than it, then the keys after it), with prefix $3: the rows, and the
 * bucket's objects without rows as their implicit "null" versions. Latest first. */
static const char sql_list[] =
    "SELECT key, version_id, ts, size, etag, delete_marker, latest, seq FROM ("
    " SELECT v.key, v.version_id, v.ts, v.size, v.etag, v.delete_marker,"
    "  NOT EXISTS (SELECT 1 FROM s3_versions w WHERE w.account = v.account"
    "   AND w.bucket = v.bucket AND w.key = v.key AND w.seq > v.seq) AS latest, v.seq"
    " FROM s3_versions v WHERE v.account = $1 AND v.bucket = $2"
    " UNION ALL"
    " SELECT o.name, 'null', o.ts, o.size, o.etag, false, true, " SEQ_IMPLICIT "::bigint"
    " FROM obj_objects o WHERE o.account = $1 AND o.container = $2 AND NOT o.deleted"
    "  AND NOT EXISTS (SELECT 1 FROM s3_versions w WHERE w.account = $1 AND w.bucket = $2"
    "   AND w.key = o.name)) x"
    " WHERE x.key >= $3 AND starts_with(x.key, $3) AND x.key >= $4"
    "  AND (x.key > $4 OR x.seq < $5::bigint)"
    " ORDER BY x.key, x.seq DESC LIMIT " LIST_BATCH;

static void vlist_push(struct s3_vlist *l, const char *key, int prefix)
{
	l->e = xrealloc(l->e, (l->n + 1) * sizeof *l->e);
	struct s3_ventry *e = &l->e[l->n++];
	memset(e, 0, sizeof *e);
	e->key = xstrdup(key);
	e->prefix = prefix;
}

void s3_vlist_release(struct s3_vlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].key);
	free(l->e);
	memset(l, 0, sizeof *l);
}

/* The cursor a request's markers say: after key_marker (past all of it when it is a
 * rolled-up prefix), or after its version version_id_marker. */
static enum s3_err cursor_of(const struct s3_vctx *c, const struct s3_vlist_query *q, char **ck,
                             char cseq[24])
{
	const char *km = q->key_marker ? q->key_marker : "";
	size_t n = strlen(km);
	*ck = xstrdup(km);
	strcpy(cseq, "0"); /* none of km's versions */
	if (!n)
		return S3_OK;
	size_t dl = q->delimiter ? strlen(q->delimiter) : 0;
	char above[STORE_MAX_OBJECT_NAME + 8];
	size_t pl = q->prefix ? strlen(q->prefix) : 0;
	/* a rolled-up prefix: the delimiter's first place after the prefix ends km */
	const char *d = dl && n >= pl + dl && !strncmp(km, q->prefix ? q->prefix : "", pl)
	                    ? strstr(km + pl, q->delimiter)
	                    : NULL;
	if (d && d == km + n - dl && store_name_successor(km, above, sizeof above) == 0) {
		free(*ck);
		*ck = xstrdup(above);
		strcpy(cseq, SEQ_ALL);
		return S3_OK;
	}
	if (!q->version_id_marker || !*q->version_id_marker)
		return S3_OK;
	PGresult *res = VQ(c,
	                   "SELECT seq FROM s3_versions WHERE account = $1 AND bucket = $2"
	                   " AND key = $3 AND version_id = $4",
	                   c->account, c->bucket, km, q->version_id_marker);
	if (!res)
		return S3E_SERVICE_UNAVAILABLE;
	snprintf(cseq, 24, "%s", PQntuples(res) == 1 ? db_val(res, 0, 0) : SEQ_IMPLICIT);
	PQclear(res);
	return S3_OK;
}

enum s3_err s3_version_list(const struct s3_vctx *c, const struct s3_vlist_query *q,
                            struct s3_vlist *out)
{
	memset(out, 0, sizeof *out);
	if (q->max_keys <= 0)
		return S3_OK;
	size_t want = (size_t)q->max_keys + 1;
	char *ck = NULL, cseq[24], sub[STORE_MAX_OBJECT_NAME + 2];
	enum s3_err e = cursor_of(c, q, &ck, cseq);
	struct store_list_query lq = {q->prefix, q->delimiter, NULL, NULL, 0};
	/* every query yields at least one entry (a version or a new common prefix of an ASCII
	 * delimiter), so the work of one request is bounded by max-keys queries of
	 * LIST_BATCH rows each */
	int more = 1;
	while (e == S3_OK && out->n < want && more) {
		PGresult *res =
		    VQ(c, sql_list, c->account, c->bucket, q->prefix ? q->prefix : "", ck, cseq);
		if (!res) {
			e = S3E_SERVICE_UNAVAILABLE;
			break;
		}
		int rows = PQntuples(res);
		more = rows == LIST_BATCH_N;
		for (int i = 0; i < rows && out->n < want; i++) {
			const char *key = db_val(res, i, 0);
			int cls = store_list_classify(&lq, key, sub, sizeof sub);
			if (cls == 2) {
				if (!out->n || !out->e[out->n - 1].prefix ||
				    strcmp(out->e[out->n - 1].key, sub))
					vlist_push(out, sub, 1);
				/* past every version under the prefix (review finding 13: they
				 * were fetched batch by batch only to be dropped): from the
				 * prefix's successor, whatever its delimiter's last character
				 * (review s6 8), all of that key's versions */
				char above[STORE_MAX_OBJECT_NAME + 8];
				if (store_name_successor(sub, above, sizeof above) == 0) {
					free(ck);
					ck = xstrdup(above);
					strcpy(cseq, SEQ_ALL);
					more = 1;
					break;
				}
			} else if (cls == 1) {
				vlist_push(out, key, 0);
				struct s3_ventry *v = &out->e[out->n - 1];
				snprintf(v->version_id, sizeof v->version_id, "%s",
				         db_val(res, i, 1));
				snprintf(v->ts, sizeof v->ts, "%s", db_val(res, i, 2));
				v->size = (uint64_t)strtoull(db_val(res, i, 3), NULL, 10);
				snprintf(v->etag, sizeof v->etag, "%s", db_val(res, i, 4));
				v->delete_marker = !strcmp(db_val(res, i, 5), "t");
				v->latest = !strcmp(db_val(res, i, 6), "t");
			}
			free(ck);
			ck = xstrdup(key);
			snprintf(cseq, sizeof cseq, "%s", db_val(res, i, 7));
		}
		PQclear(res);
	}
	free(ck);
	if (e != S3_OK) {
		s3_vlist_release(out);
		return e;
	}
	if (out->n == want) {
		free(out->e[--out->n].key);
		out->truncated = 1;
	}
	return S3_OK;
}

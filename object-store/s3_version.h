/* S3 bucket versioning on the store (see migration 0020_s3_versions.sql): which
 * version of a key is where, and the moves that keep it so. The latest data version of
 * a key lives in the bucket itself (so Swift, ListObjects and plain GETs see it as
 * before); older versions are copied, before they are overwritten or deleted, into the
 * hidden container "<bucket>+versions" under a fresh name; a delete marker is a row
 * only. A bucket that never had versioning has no rows: its objects are "null"
 * versions. Suspended versioning follows AWS: new writes are the "null" version, which
 * replaces the previous "null" version; other versions stay.
 *
 * Writes to one key of a versioned bucket are not serialised across requests: two
 * concurrent overwrites of the same key may keep only one of the two older versions. */
#ifndef NUBO_S3_VERSION_H
#define NUBO_S3_VERSION_H
#include <stddef.h>
#include <stdint.h>

#include "s3_error.h"
#include "store.h"

#define S3_VERSION_ID_LEN 32
#define S3_VERSIONS_SUFFIX "+versions"
/* The stored metadata item holding a multipart object's S3 ETag ("<md5>-<parts>"). */
#define S3_META_MULTIPART_ETAG "X-Object-Meta-Nubo-S3-Etag"
#define S3_ETAG_MAX 48

struct db_pool;

/* A bucket's versioning state, as s3_buckets.versioning says it. */
enum s3_vstate { S3_VER_OFF, S3_VER_ENABLED, S3_VER_SUSPENDED };
/* "Enabled" / "Suspended" / NULL or anything else (off). Pure. */
enum s3_vstate s3_vstate_parse(const char *s);

/* A fresh version id: S3_VERSION_ID_LEN characters of [A-Za-z0-9] (random). */
void s3_version_id_new(char out[S3_VERSION_ID_LEN + 1]);
/* 1 when id is "null" or one s3_version_id_new could have made. Pure. */
int s3_version_id_valid(const char *id);

/* What the operations work on: one key's bucket (borrowed strings). */
struct s3_vctx {
	struct db_pool *db;
	struct store *store;
	const char *account, *bucket;
	enum s3_vstate state;
};

/* A write (PutObject, CopyObject, CompleteMultipartUpload) or a delete marker in
 * progress on a bucket whose state is not OFF. prepare copies the current version's
 * bytes aside when they must survive the write; commit records the new version (or
 * marker) once the write succeeded; abort drops what prepare copied. */
struct s3_vwrite {
	int had_current; /* a data version was current in the bucket */
	int current_row; /* ...with a row (0: an implicit "null" of obj_objects) */
	char current_id[S3_VERSION_ID_LEN + 1];
	struct store_meta current;           /* its size, etag, timestamp (implicit null only) */
	char archive[S3_VERSION_ID_LEN + 2]; /* where prepare copied it, "" when not */
	char new_id[S3_VERSION_ID_LEN + 1];  /* the version the write makes */
};
enum s3_err s3_version_write_prepare(const struct s3_vctx *c, const char *key, struct s3_vwrite *w);
/* m: the new version's meta (NULL for a delete marker). */
enum s3_err s3_version_write_commit(const struct s3_vctx *c, const char *key, struct s3_vwrite *w,
                                    const struct store_meta *m);
void s3_version_write_abort(const struct s3_vctx *c, struct s3_vwrite *w);

/* DeleteObject without versionId on a bucket whose state is not OFF: the current
 * version is kept aside and a delete marker becomes the latest. marker_id: its id. */
enum s3_err s3_version_delete_current(const struct s3_vctx *c, const char *key,
                                      char marker_id[S3_VERSION_ID_LEN + 1]);
/* DeleteObject with versionId (any state): removes that version for good; when it was
 * the latest, the next one becomes current again (its bytes back in the bucket).
 * *was_marker: the version removed was a delete marker. Deleting a version that does
 * not exist succeeds, as in S3. */
enum s3_err s3_version_delete(const struct s3_vctx *c, const char *key, const char *version_id,
                              int *was_marker);

/* Where one version of key is. */
struct s3_vwhere {
	int found;
	int delete_marker;
	int latest;
	char container[STORE_MAX_CONTAINER + 16]; /* the bucket or its versions container */
	char object[STORE_MAX_OBJECT_NAME + 1];
	char version_id[S3_VERSION_ID_LEN + 1];
	char ts[STORE_TS_LEN]; /* when the version was made */
};
/* version_id NULL: the latest. S3_OK with found 0 when there is none. */
enum s3_err s3_version_find(const struct s3_vctx *c, const char *key, const char *version_id,
                            struct s3_vwhere *out);

/* ListObjectVersions (on any bucket). */
struct s3_vlist_query {
	const char *prefix, *delimiter, *key_marker, *version_id_marker;
	long max_keys; /* 0..1000 */
};
struct s3_ventry {
	char *key; /* owned; a common prefix when prefix */
	int prefix;
	char version_id[S3_VERSION_ID_LEN + 1];
	char ts[STORE_TS_LEN];
	char etag[S3_ETAG_MAX];
	uint64_t size;
	int delete_marker, latest;
};
struct s3_vlist {
	struct s3_ventry *e; /* owned */
	size_t n;
	int truncated;
};
enum s3_err s3_version_list(const struct s3_vctx *c, const struct s3_vlist_query *q,
                            struct s3_vlist *out);
void s3_vlist_release(struct s3_vlist *l);

#endif

/* The object store's internal interface inside nubo-objproxy: what the Swift and S3
 * front ends call. Objects are named (account, container, object); an account is
 * "AUTH_<project_id>" for both front ends, an S3 bucket is a container. Object bytes are
 * streamed: a PUT is pushed chunk by chunk to the replicas (quorum 2 of 3, each fsynced
 * before it answers), a GET is pulled chunk by chunk from one healthy replica; no call
 * holds a whole object in memory. Listings and usage live in PostgreSQL (see
 * docs/objstore-api.md). Every function is safe to call from any request thread. */
#ifndef NUBO_OBJSTORE_STORE_H
#define NUBO_OBJSTORE_STORE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Every store call answers one of these; the front end maps them to its status codes
 * (store_err_status gives Swift's). */
enum store_err {
	STORE_OK = 0,
	STORE_NOT_FOUND,       /* container or object absent (or deleted) */
	STORE_CONFLICT,        /* container not empty on delete */
	STORE_BAD_REQUEST,     /* a name or header breaks a bound (length, NUL, UTF-8) */
	STORE_ETAG_MISMATCH,   /* the body's MD5 differs from the ETag the client sent */
	STORE_RANGE,           /* unsatisfiable range */
	STORE_TOO_LARGE,       /* object over STORE_MAX_OBJECT or over the account's quota */
	STORE_LENGTH_MISMATCH, /* body shorter or longer than the announced length */
	STORE_UNAVAILABLE,     /* quorum not reached, no replica answered, database down */
	STORE_INTERNAL,
};

#define STORE_MAX_ACCOUNT 256
#define STORE_MAX_CONTAINER 256 /* bytes, UTF-8, no '/' */
#define STORE_MAX_OBJECT_NAME 1024
#define STORE_MAX_META 64             /* metadata items on one object or container */
#define STORE_MAX_META_BYTES 4096     /* names + values of one object's metadata */
#define STORE_MAX_OBJECT (5ULL << 30) /* 5 GiB, Swift's single-object bound */
#define STORE_TS_LEN 17               /* "1700000000.12345" + NUL: Swift's X-Timestamp */

/* One metadata item. Names are the canonical header name the item travels under in
 * Swift ("X-Object-Meta-Color", "X-Container-Meta-Quota-Bytes", "Content-Type",
 * "Content-Encoding", "Content-Disposition", "X-Delete-At"); the S3 front end maps
 * x-amz-meta-NAME to X-Object-Meta-NAME so both APIs see the same metadata. */
struct store_kv {
	char *name;
	char *value;
};

struct store_meta {
	uint64_t size;                /* object bytes */
	char etag[33];                /* lowercase hex MD5 of the bytes */
	char timestamp[STORE_TS_LEN]; /* the version's X-Timestamp */
	char content_type[256];
	struct store_kv kv[STORE_MAX_META]; /* owned; store_meta_release frees */
	int nkv;
};
void store_meta_release(struct store_meta *m);
/* Value of name in m (case-insensitive), or NULL. */
const char *store_meta_get(const struct store_meta *m, const char *name);

struct store;

/* Options of a PUT. */
struct store_put_opts {
	int64_t length;            /* announced length, -1 for chunked (unknown) */
	const char *etag;          /* expected MD5 hex or NULL */
	const char *content_type;  /* NULL: application/octet-stream */
	const struct store_kv *kv; /* metadata to store (borrowed) */
	int nkv;
};

/* A PUT in progress. begin checks the container exists and opens the streams to the
 * replicas (primaries, or handoffs for those down or full); write pushes bytes to all
 * open streams; finish ends them, waits for the replicas' answers, and returns
 * STORE_OK only when at least 2 of 3 wrote and fsynced (then the listing is updated, or
 * queued when the database is down). Exactly one of finish/abort ends a put. */
struct store_put;
enum store_err store_put_begin(struct store *s, const char *account, const char *container,
                               const char *object, const struct store_put_opts *o,
                               struct store_put **out);
enum store_err store_put_write(struct store_put *p, const void *buf, size_t n);
/* Fills meta (etag, timestamp, size) on STORE_OK. Frees p. */
enum store_err store_put_finish(struct store_put *p, struct store_meta *meta);
void store_put_abort(struct store_put *p);

/* A GET in progress. first/last: a byte range (last = -1 for "to the end"; first = -1
 * with last = N for the final N bytes; first = 0, last = -1 for the whole object).
 * open fills meta (the whole object's size and headers) and *off, *len (the bytes read
 * will return); read returns bytes (0 at the end, < 0 when the replica broke off: the
 * front end then cuts the connection, the answer's length being already sent). */
struct store_get;
enum store_err store_get_open(struct store *s, const char *account, const char *container,
                              const char *object, int64_t first, int64_t last,
                              struct store_meta *meta, uint64_t *off, uint64_t *len,
                              struct store_get **out);
/* store_get_open reads from the first replica that has the object (the next ones only
 * past a 404), as Swift does; _newest asks every replica and serves the newest version
 * (Swift's X-Newest: true). store_head and store_head_newest likewise. */
enum store_err store_get_open_newest(struct store *s, const char *account, const char *container,
                                     const char *object, int64_t first, int64_t last,
                                     struct store_meta *meta, uint64_t *off, uint64_t *len,
                                     struct store_get **out);
ssize_t store_get_read(struct store_get *g, void *buf, size_t max);
void store_get_close(struct store_get *g);

enum store_err store_head(struct store *s, const char *account, const char *container,
                          const char *object, struct store_meta *meta);
enum store_err store_head_newest(struct store *s, const char *account, const char *container,
                                 const char *object, struct store_meta *meta);
/* Writes a tombstone on the replicas (quorum) and drops the listing row. */
enum store_err store_delete(struct store *s, const char *account, const char *container,
                            const char *object);
/* Expires the object's version `version` (the expirer): writes tombstones one timestamp
 * step after that version, never at the time now, so a version written after it (an
 * overwrite, a POST, a delete) is newer than the tombstone everywhere and survives it,
 * on every replica and in the listing, whatever order things arrive in. Answers as
 * store_delete; STORE_BAD_REQUEST when version is not an X-Timestamp. */
enum store_err store_expire(struct store *s, const char *account, const char *container,
                            const char *object, const char *version);

/* Records that version `version` of the object expires at delete_at, when the listing
 * row of that version does not know it yet (a version written before the listing kept
 * expiries): the expirer then removes it. Best effort: nothing when the row is another
 * version, already knows, or the database does not answer. */
void store_expiry_note(struct store *s, const char *account, const char *container,
                       const char *object, const char *version, int64_t delete_at);

/* Objects due to expire (the listing's newest versions with X-Delete-At <= now), in
 * (delete_at, account, container, name) order, after `after` (NULL: from the start),
 * at most limit (1..STORE_EXPIRING_MAX; 0 means the most). 0 with *out (owned: free with
 * store_expiring_release) and *n, or -EIO when the database does not answer. */
#define STORE_EXPIRING_MAX 1000
struct store_expiring {
	char *account, *container, *object;
	char version[STORE_TS_LEN]; /* the expiring version's X-Timestamp */
	int64_t delete_at;
};
int store_expiring_list(struct store *s, int64_t now, const struct store_expiring *after,
                        unsigned limit, struct store_expiring **out, size_t *n);
void store_expiring_release(struct store_expiring *x, size_t n);

/* Replaces an object's metadata (Swift POST): the object is re-written with the new
 * metadata as a new version (server side, streamed). */
enum store_err store_post(struct store *s, const char *account, const char *container,
                          const char *object, const struct store_kv *kv, int nkv,
                          const char *content_type);
/* Server-side copy, streamed. kv/nkv: metadata of the new object; NULL keeps the
 * source's. Fills meta of the new object. */
enum store_err store_copy(struct store *s, const char *src_account, const char *src_container,
                          const char *src_object, const char *account, const char *container,
                          const char *object, const struct store_kv *kv, int nkv,
                          const char *content_type, struct store_meta *meta);

/* Containers and accounts (PostgreSQL). */
struct store_container_info {
	uint64_t object_count, bytes_used;
	char created[STORE_TS_LEN];
	struct store_kv kv[STORE_MAX_META]; /* X-Container-Meta-*, X-Container-Read/Write */
	int nkv;
};
struct store_account_info {
	uint64_t container_count, object_count, bytes_used;
	struct store_kv kv[STORE_MAX_META]; /* X-Account-Meta-* */
	int nkv;
};
void store_container_info_release(struct store_container_info *c);
void store_account_info_release(struct store_account_info *a);

/* Creates the container, or merges kv into its metadata when it exists: *created says
 * which (201/202 in Swift). An item with an empty value removes that item. */
enum store_err store_container_put(struct store *s, const char *account, const char *container,
                                   const struct store_kv *kv, int nkv, int *created);
enum store_err store_container_post(struct store *s, const char *account, const char *container,
                                    const struct store_kv *kv, int nkv);
/* STORE_CONFLICT when objects remain. */
enum store_err store_container_delete(struct store *s, const char *account, const char *container);
enum store_err store_container_head(struct store *s, const char *account, const char *container,
                                    struct store_container_info *out);
enum store_err store_account_head(struct store *s, const char *account,
                                  struct store_account_info *out);
enum store_err store_account_post(struct store *s, const char *account, const struct store_kv *kv,
                                  int nkv);
/* 1 when the container (NULL: skip) or, with account_too, the account carries a quota
 * item (X-Container-Meta-Quota-*, X-Account-Meta-Quota-*), 0 when neither does, -EIO when
 * the database cannot say. One indexed lookup: the usage counts that
 * store_container_head and store_account_head add up are needed only when it is 1. */
int store_quota_set(struct store *s, const char *account, const char *container, int account_too);

/* Listings: names in byte order (C collation), after marker, before end_marker, with
 * prefix; with a delimiter, names that have it after the prefix roll up into one
 * "subdir" entry (prefix through the delimiter). limit 1..10000 (0 means 10000).
 * reverse (Swift's reverse=true): names in descending order, before marker and after
 * end_marker; the first `limit` of them from the top. */
struct store_list_query {
	const char *prefix, *delimiter, *marker, *end_marker; /* NULL or "" when absent */
	unsigned limit;
	int reverse;
};
struct store_entry {
	char *name;     /* owned */
	int subdir;     /* 1: a rolled-up prefix; the other fields are empty */
	uint64_t bytes; /* object: size; container: bytes used */
	uint64_t count; /* container: objects */
	char etag[33];
	char timestamp[STORE_TS_LEN]; /* last modified */
	char content_type[256];
};
struct store_list {
	struct store_entry *e; /* owned */
	size_t n;
	int truncated; /* more entries follow the last one */
};
void store_list_release(struct store_list *l);
enum store_err store_list_objects(struct store *s, const char *account, const char *container,
                                  const struct store_list_query *q, struct store_list *out);
enum store_err store_list_containers(struct store *s, const char *account,
                                     const struct store_list_query *q, struct store_list *out);

/* Swift's status for e (404, 409, 400, 422, 416, 413, 499→400, 503, 500). */
int store_err_status(enum store_err e);
/* "Not Found", ...: the plain-text body Swift sends with that status. */
const char *store_err_text(enum store_err e);

/* Formats t (seconds since the epoch) as an X-Timestamp ("%016.5f" style, 10.5
 * digits), and the time now. Pure. */
void store_ts_format(double t, char out[STORE_TS_LEN]);
void store_ts_now(char out[STORE_TS_LEN]);
/* The X-Timestamp one step (10 us) after ts into out: 0, or -1 when ts is not one (or is
 * the last). Pure. */
int store_ts_next(const char *ts, char out[STORE_TS_LEN]);
/* An X-Delete-At value (decimal epoch seconds) as a number; 0 when it is not one. Pure. */
int64_t store_delete_at_parse(const char *v);

#endif

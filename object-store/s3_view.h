/* S3's XML documents: the answers (ListAllMyBucketsResult, ListBucketResult v1 and v2,
 * ListVersionsResult, multipart, copy, delete, ACL, versioning, location) rendered
 * from typed views, and the request bodies S3 accepts parsed into typed structs with
 * bounds. Every text is escaped; with encoding-type=url, keys and prefixes are
 * URL-encoded as S3 does. Pure. */
#ifndef NUBO_S3_VIEW_H
#define NUBO_S3_VIEW_H
#include <stddef.h>
#include <stdint.h>

#include "s3_error.h"

struct s3_owner {
	const char *id, *display_name;
};

/* "2023-11-14T22:13:20.123Z" from a Swift X-Timestamp ("1700000000.12345") into out;
 * "1970-01-01T00:00:00.000Z" when ts is not one. */
void s3_time_iso(const char *ts, char out[32]);
/* "Tue, 14 Nov 2023 22:13:20 GMT" (Last-Modified) from an X-Timestamp. */
void s3_time_http(const char *ts, char out[40]);

/* The opaque continuation token of ListObjectsV2 for the last key of a page
 * (hex, owned), and back (owned; NULL when the token is not one of ours). */
char *s3_token_encode(const char *key);
char *s3_token_decode(const char *token);

struct s3_bucket_entry {
	const char *name, *created; /* created: X-Timestamp */
};
char *s3_view_list_buckets(const struct s3_owner *o, const struct s3_bucket_entry *b, size_t n);

/* One object or common prefix of a listing. */
struct s3_object_entry {
	const char *key;
	int prefix;                /* 1: a CommonPrefixes entry (key holds the prefix) */
	const char *last_modified; /* X-Timestamp */
	const char *etag;          /* without quotes */
	uint64_t size;
	const char *version_id; /* ListVersions: NULL renders "null" */
	int delete_marker;      /* ListVersions */
	int not_latest;         /* ListVersions: IsLatest false */
};

struct s3_list_view {
	int version; /* 1: ListObjects, 2: ListObjectsV2, 3: ListObjectVersions */
	const char *bucket, *prefix, *delimiter, *encoding_type;
	long max_keys;
	int truncated;
	const char *marker, *next_marker;                         /* v1 (and 3: key-marker) */
	const char *continuation_token, *next_continuation_token; /* v2 */
	const char *start_after;                                  /* v2 */
	const char *version_id_marker, *next_version_id_marker;   /* 3; next: NULL renders "null" */
	int fetch_owner;                                          /* v2: Owner shown */
	const struct s3_owner *owner;
	const struct s3_object_entry *e;
	size_t n;
};
char *s3_view_list_objects(const struct s3_list_view *v);

char *s3_view_initiate_multipart(const char *bucket, const char *key, const char *upload_id);
char *s3_view_complete_multipart(const char *location, const char *bucket, const char *key,
                                 const char *etag);

struct s3_part_entry {
	long number;
	const char *last_modified, *etag;
	uint64_t size;
};
struct s3_parts_view {
	const char *bucket, *key, *upload_id;
	const struct s3_owner *owner;
	long part_number_marker, next_part_number_marker, max_parts;
	int truncated;
	const struct s3_part_entry *p;
	size_t n;
};
char *s3_view_list_parts(const struct s3_parts_view *v);

struct s3_upload_entry {
	const char *key, *upload_id, *initiated; /* initiated: X-Timestamp */
};
struct s3_uploads_view {
	const char *bucket, *prefix, *delimiter, *key_marker, *upload_id_marker;
	const char *next_key_marker, *next_upload_id_marker;
	long max_uploads;
	int truncated;
	const struct s3_owner *owner;
	const struct s3_upload_entry *u;
	size_t n;
};
char *s3_view_list_uploads(const struct s3_uploads_view *v);

/* CopyObjectResult, or CopyPartResult when part. */
char *s3_view_copy_result(const char *etag, const char *last_modified, int part);

struct s3_delete_entry {
	const char *key, *version_id;
	enum s3_err err;               /* S3_OK: deleted */
	int delete_marker;             /* a delete marker was made or removed */
	const char *marker_version_id; /* the marker made (DeleteMarkerVersionId) */
};
/* DeleteResult: with quiet only the errors. */
char *s3_view_delete_result(const struct s3_delete_entry *d, size_t n, int quiet);

/* Canned ACLs Nubo keeps (as the container's Swift read/write ACL). */
enum s3_acl { S3_ACL_PRIVATE, S3_ACL_PUBLIC_READ, S3_ACL_PUBLIC_READ_WRITE, S3_ACL_AUTH_READ };
/* x-amz-acl value to the enum: 0, or -EINVAL for a value S3 does not define or Nubo
 * cannot keep (bucket-owner-*, log-delivery-write map to private). */
int s3_acl_parse_canned(const char *s, enum s3_acl *out);
char *s3_view_acl(const struct s3_owner *o, enum s3_acl acl);
char *s3_view_versioning(const char *status); /* NULL: never enabled */
char *s3_view_location(const char *region);   /* "us-east-1" renders empty */

/* ---- request bodies ---- */
struct s3_complete_part {
	long number;
	char etag[33]; /* quotes stripped, lowercase hex */
};
/* CompleteMultipartUpload: parts in ascending order, 1..S3_MAX_PARTS of them.
 * S3_OK with *parts owned; S3E_MALFORMED_XML, S3E_INVALID_PART_ORDER, S3E_INVALID_PART
 * (an ETag that is not an MD5). */
enum s3_err s3_parse_complete(const char *body, size_t len, struct s3_complete_part **parts,
                              size_t *n);

struct s3_delete_req {
	char **keys;
	char **version_ids; /* entries NULL when absent */
	size_t n;           /* 1..1000 */
	int quiet;
};
enum s3_err s3_parse_delete(const char *body, size_t len, struct s3_delete_req *out);
void s3_delete_req_release(struct s3_delete_req *d);

/* VersioningConfiguration: *enabled 1 (Enabled) or 0 (Suspended). */
enum s3_err s3_parse_versioning(const char *body, size_t len, int *enabled);
/* CreateBucketConfiguration: the LocationConstraint into out ("" when absent or empty
 * body). */
enum s3_err s3_parse_location(const char *body, size_t len, char out[64]);
/* AccessControlPolicy: what the grants amount to among the canned ACLs (AllUsers READ
 * -> public-read, + WRITE -> public-read-write, AuthenticatedUsers READ ->
 * authenticated-read, else private). */
enum s3_err s3_parse_acl(const char *body, size_t len, enum s3_acl *out);

#endif

/* An S3 request parsed once at the edge: the bucket (path-style, or virtual-host
 * style from the Host header under the configured domain), the key, the operation
 * chosen from one table by method, level and subresource, and the query parameters
 * S3 defines, decoded and bounded. Pure. */
#ifndef NUBO_S3_REQUEST_H
#define NUBO_S3_REQUEST_H
#include <stddef.h>

#include "s3_error.h"

#define S3_BUCKET_MAX 63
#define S3_KEY_MAX 1024
#define S3_MAX_KEYS 1000
#define S3_MAX_PARTS 10000
#define S3_PARAM_MAX 1024 /* any other decoded query value */

enum s3_op {
	S3_OP_NONE = 0,
	S3_LIST_BUCKETS,
	S3_CREATE_BUCKET,
	S3_DELETE_BUCKET,
	S3_HEAD_BUCKET,
	S3_GET_BUCKET_LOCATION,
	S3_LIST_OBJECTS,
	S3_LIST_OBJECTS_V2,
	S3_LIST_OBJECT_VERSIONS,
	S3_LIST_MULTIPART_UPLOADS,
	S3_GET_BUCKET_ACL,
	S3_PUT_BUCKET_ACL,
	S3_GET_BUCKET_VERSIONING,
	S3_PUT_BUCKET_VERSIONING,
	S3_DELETE_OBJECTS,
	S3_PUT_OBJECT,
	S3_COPY_OBJECT,
	S3_GET_OBJECT,
	S3_HEAD_OBJECT,
	S3_DELETE_OBJECT,
	S3_GET_OBJECT_ACL,
	S3_PUT_OBJECT_ACL,
	S3_CREATE_MULTIPART,
	S3_UPLOAD_PART,
	S3_UPLOAD_PART_COPY,
	S3_COMPLETE_MULTIPART,
	S3_ABORT_MULTIPART,
	S3_LIST_PARTS,
	S3_OP_COUNT
};

/* "ListObjectsV2", ...: the operation's name in S3's API reference. */
const char *s3_op_name(enum s3_op op);

struct s3_request {
	enum s3_op op;
	int virtual_host;               /* the bucket came from Host */
	char bucket[S3_BUCKET_MAX + 1]; /* "" at the service level */
	char *key;                      /* decoded, owned; NULL above the object level */
	/* decoded query values, owned, NULL when absent */
	char *prefix, *delimiter, *marker, *continuation_token, *start_after, *encoding_type;
	char *upload_id, *version_id, *key_marker, *version_id_marker, *upload_id_marker;
	long max_keys;    /* max-keys / max-uploads / max-parts, default 1000 */
	long part_number; /* partNumber, 0 when absent */
	long part_number_marker;
	int fetch_owner;
	int list_type; /* list-type: 2, or 0 */
};
void s3_request_release(struct s3_request *r);

/* What the parser needs of the wire request. domain: the virtual-host base ("s3.
 * example.com"), NULL or "" for path-style only. copy_source: the x-amz-copy-source
 * header or NULL. */
struct s3_wire {
	const char *method, *raw_path, *raw_query, *host, *domain, *copy_source;
};

/* Parses w into out (out is released first by the caller's s3_request_release on
 * every path). Returns S3_OK, or the error S3 answers: InvalidBucketName, KeyTooLong,
 * InvalidArgument (a bad max-keys, partNumber, encoding-type...), InvalidURI as
 * InvalidArgument, MethodNotAllowed, NotImplemented (a subresource Nubo lacks). */
enum s3_err s3_request_parse(const struct s3_wire *w, struct s3_request *out);

/* 1 when name is a valid bucket name (3..63 of [a-z0-9.-], starting and ending
 * with a letter or digit, no "..", not an IPv4 address). */
int s3_bucket_name_valid(const char *name);

#endif

/* S3's errors: one table of code, HTTP status and message, and the XML error document
 * S3 answers with (<Error><Code/><Message/><Resource/><RequestId/></Error>). Pure. */
#ifndef NUBO_S3_ERROR_H
#define NUBO_S3_ERROR_H
#include <stddef.h>

enum s3_err {
	S3_OK = 0,
	S3E_ACCESS_DENIED,
	S3E_ACCOUNT_PROBLEM,
	S3E_AUTH_HEADER_MALFORMED,
	S3E_BAD_DIGEST,
	S3E_BUCKET_ALREADY_EXISTS,
	S3E_BUCKET_ALREADY_OWNED,
	S3E_BUCKET_NOT_EMPTY,
	S3E_ENTITY_TOO_LARGE,
	S3E_ENTITY_TOO_SMALL,
	S3E_EXPIRED_TOKEN, /* an expired presigned URL: AccessDenied "Request has expired" */
	S3E_INCOMPLETE_BODY,
	S3E_INTERNAL,
	S3E_INVALID_ACCESS_KEY_ID,
	S3E_INVALID_ARGUMENT,
	S3E_INVALID_BUCKET_NAME,
	S3E_INVALID_DIGEST,
	S3E_INVALID_PART,
	S3E_INVALID_PART_ORDER,
	S3E_INVALID_RANGE,
	S3E_INVALID_REQUEST,
	S3E_KEY_TOO_LONG,
	S3E_MALFORMED_XML,
	S3E_METHOD_NOT_ALLOWED,
	S3E_MISSING_CONTENT_LENGTH,
	S3E_MISSING_SECURITY_HEADER,
	S3E_NO_SUCH_BUCKET,
	S3E_NO_SUCH_KEY,
	S3E_NO_SUCH_UPLOAD,
	S3E_NO_SUCH_VERSION,
	S3E_NOT_IMPLEMENTED,
	S3E_PRECONDITION_FAILED,
	S3E_REQUEST_TIME_TOO_SKEWED,
	S3E_SERVICE_UNAVAILABLE,
	S3E_SIGNATURE_DOES_NOT_MATCH,
	S3E_XAMZ_CONTENT_SHA256_MISMATCH,
	S3E_COUNT
};

/* "NoSuchBucket", ... */
const char *s3_err_code(enum s3_err e);
/* The HTTP status S3 answers with (404, 409, 403, ...). */
int s3_err_status(enum s3_err e);
/* S3's message for e. */
const char *s3_err_message(enum s3_err e);

/* The error document for e: resource (the request path, may be NULL), request_id,
 * and message (NULL: the table's). Extra elements S3 adds (BucketName, Key,
 * StringToSign, CanonicalRequest, ...) come as name/value pairs in extra (nextra
 * pairs, values may be NULL to skip). Returns owned XML text with its declaration. */
char *s3_error_doc(enum s3_err e, const char *message, const char *resource, const char *request_id,
                   const char *const *extra, size_t nextra);

#endif

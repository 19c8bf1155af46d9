/* S3's error table and error documents (see s3_error.h). */
#include "s3_error.h"

#include <stdlib.h>

#include "s3_xml.h"

static const struct {
	const char *code;
	int status;
	const char *message;
} errors[S3E_COUNT] = {
    [S3_OK] = {"OK", 200, "OK"},
    [S3E_ACCESS_DENIED] = {"AccessDenied", 403, "Access Denied"},
    [S3E_ACCOUNT_PROBLEM] = {"AccountProblem", 403,
                             "There is a problem with your account that prevents the "
                             "operation from completing successfully."},
    [S3E_AUTH_HEADER_MALFORMED] = {"AuthorizationHeaderMalformed", 400,
                                   "The authorization header is malformed."},
    [S3E_BAD_DIGEST] = {"BadDigest", 400,
                        "The Content-MD5 you specified did not match what we received."},
    [S3E_BUCKET_ALREADY_EXISTS] = {"BucketAlreadyExists", 409,
                                   "The requested bucket name is not available. The bucket "
                                   "namespace is shared by all users of the system. Please "
                                   "select a different name and try again."},
    [S3E_BUCKET_ALREADY_OWNED] = {"BucketAlreadyOwnedByYou", 409,
                                  "Your previous request to create the named bucket "
                                  "succeeded and you already own it."},
    [S3E_BUCKET_NOT_EMPTY] = {"BucketNotEmpty", 409, "The bucket you tried to delete is not empty"},
    [S3E_ENTITY_TOO_LARGE] = {"EntityTooLarge", 400,
                              "Your proposed upload exceeds the maximum allowed size"},
    [S3E_ENTITY_TOO_SMALL] = {"EntityTooSmall", 400,
                              "Your proposed upload is smaller than the minimum allowed "
                              "object size."},
    [S3E_EXPIRED_TOKEN] = {"AccessDenied", 403, "Request has expired"},
    [S3E_INCOMPLETE_BODY] = {"IncompleteBody", 400,
                             "You did not provide the number of bytes specified by the "
                             "Content-Length HTTP header."},
    [S3E_INTERNAL] = {"InternalError", 500, "We encountered an internal error. Please try again."},
    [S3E_INVALID_ACCESS_KEY_ID] = {"InvalidAccessKeyId", 403,
                                   "The AWS Access Key Id you provided does not exist in our "
                                   "records."},
    [S3E_INVALID_ARGUMENT] = {"InvalidArgument", 400, "Invalid Argument"},
    [S3E_INVALID_BUCKET_NAME] = {"InvalidBucketName", 400, "The specified bucket is not valid."},
    [S3E_INVALID_DIGEST] = {"InvalidDigest", 400, "The Content-MD5 you specified is not valid."},
    [S3E_INVALID_PART] = {"InvalidPart", 400,
                          "One or more of the specified parts could not be found. The part "
                          "may not have been uploaded, or the specified entity tag may not "
                          "match the part's entity tag."},
    [S3E_INVALID_PART_ORDER] = {"InvalidPartOrder", 400,
                                "The list of parts was not in ascending order. The parts "
                                "list must be specified in order by part number."},
    [S3E_INVALID_RANGE] = {"InvalidRange", 416, "The requested range is not satisfiable"},
    [S3E_INVALID_REQUEST] = {"InvalidRequest", 400, "Invalid Request"},
    [S3E_KEY_TOO_LONG] = {"KeyTooLongError", 400, "Your key is too long"},
    [S3E_MALFORMED_XML] = {"MalformedXML", 400,
                           "The XML you provided was not well-formed or did not validate "
                           "against our published schema"},
    [S3E_METHOD_NOT_ALLOWED] = {"MethodNotAllowed", 405,
                                "The specified method is not allowed against this resource."},
    [S3E_MISSING_CONTENT_LENGTH] = {"MissingContentLength", 411,
                                    "You must provide the Content-Length HTTP header."},
    [S3E_MISSING_SECURITY_HEADER] = {"MissingSecurityHeader", 400,
                                     "Your request was missing a required header"},
    [S3E_NO_SUCH_BUCKET] = {"NoSuchBucket", 404, "The specified bucket does not exist"},
    [S3E_NO_SUCH_KEY] = {"NoSuchKey", 404, "The specified key does not exist."},
    [S3E_NO_SUCH_UPLOAD] = {"NoSuchUpload", 404,
                            "The specified upload does not exist. The upload ID may be "
                            "invalid, or the upload may have been aborted or completed."},
    [S3E_NO_SUCH_VERSION] = {"NoSuchVersion", 404, "The specified version does not exist."},
    [S3E_NOT_IMPLEMENTED] = {"NotImplemented", 501,
                             "A header you provided implies functionality that is not "
                             "implemented"},
    [S3E_PRECONDITION_FAILED] = {"PreconditionFailed", 412,
                                 "At least one of the pre-conditions you specified did not "
                                 "hold"},
    [S3E_REQUEST_TIME_TOO_SKEWED] = {"RequestTimeTooSkewed", 403,
                                     "The difference between the request time and the "
                                     "current time is too large."},
    [S3E_SERVICE_UNAVAILABLE] = {"ServiceUnavailable", 503, "Please reduce your request rate."},
    [S3E_SIGNATURE_DOES_NOT_MATCH] = {"SignatureDoesNotMatch", 403,
                                      "The request signature we calculated does not match "
                                      "the signature you provided. Check your key and "
                                      "signing method."},
    [S3E_XAMZ_CONTENT_SHA256_MISMATCH] = {"XAmzContentSHA256Mismatch", 400,
                                          "The provided 'x-amz-content-sha256' header does "
                                          "not match what was computed."},
};

static int valid(enum s3_err e)
{
	return e >= 0 && e < S3E_COUNT && errors[e].code;
}

const char *s3_err_code(enum s3_err e)
{
	return valid(e) ? errors[e].code : "InternalError";
}

int s3_err_status(enum s3_err e)
{
	return valid(e) ? errors[e].status : 500;
}

const char *s3_err_message(enum s3_err e)
{
	return valid(e) ? errors[e].message : errors[S3E_INTERNAL].message;
}

char *s3_error_doc(enum s3_err e, const char *message, const char *resource, const char *request_id,
                   const char *const *extra, size_t nextra)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "Error", NULL);
	s3_xw_text(&w, "Code", s3_err_code(e));
	s3_xw_text(&w, "Message", message ? message : s3_err_message(e));
	for (size_t i = 0; i < nextra; i++)
		s3_xw_text(&w, extra[2 * i], extra[2 * i + 1]);
	s3_xw_text(&w, "Resource", resource);
	s3_xw_text(&w, "RequestId", request_id);
	s3_xw_close(&w, "Error");
	return s3_xw_finish(&w);
}

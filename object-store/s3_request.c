/* S3 request routing and query parsing (see s3_request.h). */
#include "s3_request.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "xalloc.h"

#define QUERY_MAX 8192
#define QUERY_PARAMS_MAX 64

static const char *const op_names[S3_OP_COUNT] = {
    [S3_OP_NONE] = "None",
    [S3_LIST_BUCKETS] = "ListBuckets",
    [S3_CREATE_BUCKET] = "CreateBucket",
    [S3_DELETE_BUCKET] = "DeleteBucket",
    [S3_HEAD_BUCKET] = "HeadBucket",
    [S3_GET_BUCKET_LOCATION] = "GetBucketLocation",
    [S3_LIST_OBJECTS] = "ListObjects",
    [S3_LIST_OBJECTS_V2] = "ListObjectsV2",
    [S3_LIST_OBJECT_VERSIONS] = "ListObjectVersions",
    [S3_LIST_MULTIPART_UPLOADS] = "ListMultipartUploads",
    [S3_GET_BUCKET_ACL] = "GetBucketAcl",
    [S3_PUT_BUCKET_ACL] = "PutBucketAcl",
    [S3_GET_BUCKET_VERSIONING] = "GetBucketVersioning",
    [S3_PUT_BUCKET_VERSIONING] = "PutBucketVersioning",
    [S3_DELETE_OBJECTS] = "DeleteObjects",
    [S3_PUT_OBJECT] = "PutObject",
    [S3_COPY_OBJECT] = "CopyObject",
    [S3_GET_OBJECT] = "GetObject",
    [S3_HEAD_OBJECT] = "HeadObject",
    [S3_DELETE_OBJECT] = "DeleteObject",
    [S3_GET_OBJECT_ACL] = "GetObjectAcl",
    [S3_PUT_OBJECT_ACL] = "PutObjectAcl",
    [S3_CREATE_MULTIPART] = "CreateMultipartUpload",
    [S3_UPLOAD_PART] = "UploadPart",
    [S3_UPLOAD_PART_COPY] = "UploadPartCopy",
    [S3_COMPLETE_MULTIPART] = "CompleteMultipartUpload",
    [S3_ABORT_MULTIPART] = "AbortMultipartUpload",
    [S3_LIST_PARTS] = "ListParts",
};

const char *s3_op_name(enum s3_op op)
{
	return op >= 0 && op < S3_OP_COUNT && op_names[op] ? op_names[op] : "None";
}

/* The subresources that select an operation; a request names at most one. */
enum sub {
	SUB_NONE = 0,
	SUB_ACL,
	SUB_VERSIONING,
	SUB_VERSIONS,
	SUB_LOCATION,
	SUB_UPLOADS,
	SUB_UPLOAD_ID, /* uploadId without partNumber */
	SUB_PART,      /* uploadId with partNumber */
	SUB_DELETE,
	SUB_LIST_V2,
};

enum level { L_SERVICE, L_BUCKET, L_OBJECT };

#define COPY 1 /* the row wants x-amz-copy-source */
#define NOCOPY 2

static const struct route {
	const char *method;
	enum level level;
	enum sub sub;
	int copy;
	enum s3_op op;
} routes[] = {
    {"GET", L_SERVICE, SUB_NONE, 0, S3_LIST_BUCKETS},
    {"PUT", L_BUCKET, SUB_NONE, 0, S3_CREATE_BUCKET},
    {"DELETE", L_BUCKET, SUB_NONE, 0, S3_DELETE_BUCKET},
    {"HEAD", L_BUCKET, SUB_NONE, 0, S3_HEAD_BUCKET},
    {"GET", L_BUCKET, SUB_LOCATION, 0, S3_GET_BUCKET_LOCATION},
    {"GET", L_BUCKET, SUB_NONE, 0, S3_LIST_OBJECTS},
    {"GET", L_BUCKET, SUB_LIST_V2, 0, S3_LIST_OBJECTS_V2},
    {"GET", L_BUCKET, SUB_VERSIONS, 0, S3_LIST_OBJECT_VERSIONS},
    {"GET", L_BUCKET, SUB_UPLOADS, 0, S3_LIST_MULTIPART_UPLOADS},
    {"GET", L_BUCKET, SUB_ACL, 0, S3_GET_BUCKET_ACL},
    {"PUT", L_BUCKET, SUB_ACL, 0, S3_PUT_BUCKET_ACL},
    {"GET", L_BUCKET, SUB_VERSIONING, 0, S3_GET_BUCKET_VERSIONING},
    {"PUT", L_BUCKET, SUB_VERSIONING, 0, S3_PUT_BUCKET_VERSIONING},
    {"POST", L_BUCKET, SUB_DELETE, 0, S3_DELETE_OBJECTS},
    {"PUT", L_OBJECT, SUB_NONE, NOCOPY, S3_PUT_OBJECT},
    {"PUT", L_OBJECT, SUB_NONE, COPY, S3_COPY_OBJECT},
    {"GET", L_OBJECT, SUB_NONE, 0, S3_GET_OBJECT},
    {"HEAD", L_OBJECT, SUB_NONE, 0, S3_HEAD_OBJECT},
    {"DELETE", L_OBJECT, SUB_NONE, 0, S3_DELETE_OBJECT},
    {"GET", L_OBJECT, SUB_ACL, 0, S3_GET_OBJECT_ACL},
    {"PUT", L_OBJECT, SUB_ACL, 0, S3_PUT_OBJECT_ACL},
    {"POST", L_OBJECT, SUB_UPLOADS, 0, S3_CREATE_MULTIPART},
    {"PUT", L_OBJECT, SUB_PART, NOCOPY, S3_UPLOAD_PART},
    {"PUT", L_OBJECT, SUB_PART, COPY, S3_UPLOAD_PART_COPY},
    {"POST", L_OBJECT, SUB_UPLOAD_ID, 0, S3_COMPLETE_MULTIPART},
    {"DELETE", L_OBJECT, SUB_UPLOAD_ID, 0, S3_ABORT_MULTIPART},
    {"GET", L_OBJECT, SUB_UPLOAD_ID, 0, S3_LIST_PARTS},
};

/* Subresources S3 has and Nubo does not: NotImplemented rather than a wrong answer. */
static const char *const unsupported[] = {
    "accelerate",
    "analytics",
    "cors",
    "encryption",
    "intelligent-tiering",
    "inventory",
    "legal-hold",
    "lifecycle",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "ownershipControls",
    "policy",
    "policyStatus",
    "publicAccessBlock",
    "replication",
    "requestPayment",
    "restore",
    "retention",
    "select",
    "tagging",
    "torrent",
    "website",
    "attributes",
};

/* ---- query ---- */

enum qtype { Q_STR, Q_LONG, Q_FLAG };

static const struct qfield {
	const char *name;
	enum qtype type;
	size_t off;
	long min, max;
} qfields[] = {
    {"prefix", Q_STR, offsetof(struct s3_request, prefix), 0, S3_KEY_MAX},
    {"delimiter", Q_STR, offsetof(struct s3_request, delimiter), 0, S3_PARAM_MAX},
    {"marker", Q_STR, offsetof(struct s3_request, marker), 0, S3_KEY_MAX},
    {"continuation-token", Q_STR, offsetof(struct s3_request, continuation_token), 0,
     S3_PARAM_MAX * 3},
    {"start-after", Q_STR, offsetof(struct s3_request, start_after), 0, S3_KEY_MAX},
    {"encoding-type", Q_STR, offsetof(struct s3_request, encoding_type), 0, 16},
    {"uploadId", Q_STR, offsetof(struct s3_request, upload_id), 1, 128},
    {"versionId", Q_STR, offsetof(struct s3_request, version_id), 1, 128},
    {"key-marker", Q_STR, offsetof(struct s3_request, key_marker), 0, S3_KEY_MAX},
    {"version-id-marker", Q_STR, offsetof(struct s3_request, version_id_marker), 0, 128},
    {"upload-id-marker", Q_STR, offsetof(struct s3_request, upload_id_marker), 0, 128},
    {"max-keys", Q_LONG, offsetof(struct s3_request, max_keys), 0, 2147483647},
    {"max-uploads", Q_LONG, offsetof(struct s3_request, max_keys), 0, 2147483647},
    {"max-parts", Q_LONG, offsetof(struct s3_request, max_keys), 0, 2147483647},
    {"partNumber", Q_LONG, offsetof(struct s3_request, part_number), 1, S3_MAX_PARTS},
    {"part-number-marker", Q_LONG, offsetof(struct s3_request, part_number_marker), 0,
     S3_MAX_PARTS},
    {"list-type", Q_LONG, offsetof(struct s3_request, list_type), 2, 2},
    {"fetch-owner", Q_FLAG, offsetof(struct s3_request, fetch_owner), 0, 0},
};

static int hexv(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decodes s[0..n) ('+' as space when plus); NULL on a bad escape or a NUL. */
static char *decode(const char *s, size_t n, int plus)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 1 < n ? hexv((unsigned char)s[i + 1]) : -1;
			int lo = i + 2 < n ? hexv((unsigned char)s[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi | lo) == 0) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = plus && s[i] == '+' ? ' ' : s[i];
		}
	}
	*o = 0;
	return out;
}

static int is_unsupported(const char *k)
{
	for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
		if (!strcmp(k, unsupported[i]))
			return 1;
	return 0;
}

/* One decoded key=value: a subresource, a query field, or ignored. */
static enum s3_err query_take(struct s3_request *r, const char *k, const char *v, int *subs)
{
	static const struct {
		const char *name;
		int bit;
	} subnames[] = {{"acl", 1 << SUB_ACL},           {"versioning", 1 << SUB_VERSIONING},
	                {"versions", 1 << SUB_VERSIONS}, {"location", 1 << SUB_LOCATION},
	                {"uploads", 1 << SUB_UPLOADS},   {"delete", 1 << SUB_DELETE}};
	for (size_t i = 0; i < sizeof subnames / sizeof *subnames; i++)
		if (!strcmp(k, subnames[i].name)) {
			*subs |= subnames[i].bit;
			return S3_OK;
		}
	if (is_unsupported(k))
		return S3E_NOT_IMPLEMENTED;
	for (size_t i = 0; i < sizeof qfields / sizeof *qfields; i++) {
		const struct qfield *f = &qfields[i];
		if (strcmp(k, f->name))
			continue;
		char *base = (char *)r + f->off;
		size_t len = strlen(v);
		switch (f->type) {
		case Q_STR:
			if (len < (size_t)f->min || len > (size_t)f->max || *(char **)base)
				return S3E_INVALID_ARGUMENT;
			*(char **)base = xstrdup(v);
			return S3_OK;
		case Q_LONG: {
			char *end;
			if (!len || len > 10 || !isdigit((unsigned char)v[0]))
				return S3E_INVALID_ARGUMENT;
			long n = strtol(v, &end, 10);
			if (*end || n < f->min || n > f->max)
				return S3E_INVALID_ARGUMENT;
			if (f->off == offsetof(struct s3_request, list_type))
				r->list_type = (int)n;
			else
				*(long *)base = n;
			return S3_OK;
		}
		case Q_FLAG:
			*(int *)base = !strcasecmp(v, "true");
			return S3_OK;
		}
	}
	return S3_OK; /* X-Amz-* of presigned URLs, response-* overrides, ... */
}

static enum s3_err query_parse(struct s3_request *r, const char *q, int *subs)
{
	size_t count = 0;
	enum s3_err e = S3_OK;
	if (!q)
		return S3_OK;
	if (strlen(q) > QUERY_MAX)
		return S3E_INVALID_ARGUMENT;
	while (*q && e == S3_OK) {
		size_t n = strcspn(q, "&");
		if (n) {
			if (++count > QUERY_PARAMS_MAX)
				return S3E_INVALID_ARGUMENT;
			const char *eq = memchr(q, '=', n);
			size_t kl = eq ? (size_t)(eq - q) : n;
			char *k = decode(q, kl, 1);
			char *v = eq ? decode(eq + 1, n - kl - 1, 1) : xstrdup("");
			e = k && v ? query_take(r, k, v, subs) : S3E_INVALID_ARGUMENT;
			free(k);
			free(v);
		}
		q += n;
		if (*q == '&')
			q++;
	}
	return e;
}

int s3_bucket_name_valid(const char *name)
{
	size_t n = strlen(name);
	int dots = 0, digits_only = 1;
	if (n < 3 || n > S3_BUCKET_MAX || !isalnum((unsigned char)name[0]) ||
	    !isalnum((unsigned char)name[n - 1]) || strstr(name, ".."))
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '-'))
			return 0;
		dots += c == '.';
		if (!isdigit(c) && c != '.')
			digits_only = 0;
	}
	return !(digits_only && dots == 3); /* 192.168.5.4 */
}

/* Host without its port, lowercased into out. */
static void host_name(const char *host, char *out, size_t n)
{
	size_t i = 0;
	for (; host && host[i] && host[i] != ':' && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)host[i]);
	out[i] = 0;
}

enum s3_err s3_request_parse(const struct s3_wire *w, struct s3_request *out)
{
	memset(out, 0, sizeof *out);
	out->max_keys = S3_MAX_KEYS;
	const char *path = w->raw_path ? w->raw_path : "/";
	if (path[0] != '/' || strlen(path) > 3 * (S3_BUCKET_MAX + S3_KEY_MAX + 2))
		return S3E_INVALID_ARGUMENT;
	path++;

	/* the bucket: from Host under the domain, else the first path segment */
	char host[256];
	host_name(w->host, host, sizeof host);
	size_t hl = strlen(host), dl = w->domain ? strlen(w->domain) : 0;
	const char *rest;
	if (dl && hl > dl + 1 && host[hl - dl - 1] == '.' &&
	    !strcasecmp(host + hl - dl, w->domain)) {
		if (hl - dl - 1 > S3_BUCKET_MAX)
			return S3E_INVALID_BUCKET_NAME;
		memcpy(out->bucket, host, hl - dl - 1);
		out->bucket[hl - dl - 1] = 0;
		out->virtual_host = 1;
		rest = path;
	} else {
		size_t bl = strcspn(path, "/");
		char *b = decode(path, bl, 0);
		if (!b)
			return S3E_INVALID_ARGUMENT;
		if (strlen(b) > S3_BUCKET_MAX) {
			free(b);
			return S3E_INVALID_BUCKET_NAME;
		}
		strcpy(out->bucket, b);
		free(b);
		rest = path[bl] == '/' ? path + bl + 1 : NULL;
	}
	if (out->bucket[0] && !s3_bucket_name_valid(out->bucket))
		return S3E_INVALID_BUCKET_NAME;
	if (rest && *rest) {
		out->key = decode(rest, strlen(rest), 0);
		if (!out->key)
			return S3E_INVALID_ARGUMENT;
		if (strlen(out->key) > S3_KEY_MAX)
			return S3E_KEY_TOO_LONG;
	}

	int subs = 0;
	enum s3_err e = query_parse(out, w->raw_query, &subs);
	if (e != S3_OK)
		return e;
	if (out->encoding_type && strcmp(out->encoding_type, "url"))
		return S3E_INVALID_ARGUMENT;
	if (out->max_keys > S3_MAX_KEYS)
		out->max_keys = S3_MAX_KEYS;

	enum level level = !out->bucket[0] ? L_SERVICE : out->key ? L_OBJECT : L_BUCKET;
	enum sub sub = SUB_NONE;
	if (out->upload_id)
		subs |= out->part_number ? 1 << SUB_PART : 1 << SUB_UPLOAD_ID;
	else if (out->part_number && level == L_OBJECT && strcmp(w->method, "GET") &&
	         strcmp(w->method, "HEAD"))
		return S3E_INVALID_ARGUMENT; /* partNumber of a GET reads one part: allowed */
	if (out->list_type == 2 && level == L_BUCKET)
		subs |= 1 << SUB_LIST_V2;
	if (subs) {
		if (subs & (subs - 1))
			return S3E_INVALID_REQUEST; /* two subresources at once */
		sub = (enum sub)__builtin_ctz((unsigned)subs);
	}
	int has_copy = w->copy_source && *w->copy_source;
	int known_method = 0;
	for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
		const struct route *rt = &routes[i];
		if (strcmp(rt->method, w->method))
			continue;
		known_method = 1;
		if (rt->level != level || rt->sub != sub)
			continue;
		if ((rt->copy == COPY && !has_copy) || (rt->copy == NOCOPY && has_copy))
			continue;
		out->op = rt->op;
		return S3_OK;
	}
	return known_method && level != L_SERVICE && sub != SUB_NONE ? S3E_INVALID_REQUEST
	                                                             : S3E_METHOD_NOT_ALLOWED;
}

void s3_request_release(struct s3_request *r)
{
	free(r->key);
	free(r->prefix);
	free(r->delimiter);
	free(r->marker);
	free(r->continuation_token);
	free(r->start_after);
	free(r->encoding_type);
	free(r->upload_id);
	free(r->version_id);
	free(r->key_marker);
	free(r->version_id_marker);
	free(r->upload_id_marker);
	memset(r, 0, sizeof *r);
}

/* S3's XML answers and request bodies (see s3_view.h). */
#include "s3_view.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "markup.h"
#include "s3_request.h"
#include "s3_xml.h"
#include "sigv4.h"
#include "xalloc.h"

#define DELETE_MAX 1000

/* ---- times and tokens ---- */

static int ts_split(const char *ts, time_t *sec, int *ms)
{
	char *end;
	if (!ts || !isdigit((unsigned char)ts[0]))
		return -EINVAL;
	long long s = strtoll(ts, &end, 10);
	if (s < 0 || s > 253402300799LL)
		return -EINVAL;
	*ms = 0;
	if (*end == '.') {
		int digits = 0;
		for (const char *p = end + 1; isdigit((unsigned char)*p) && digits < 3;
		     p++, digits++)
			*ms = *ms * 10 + (*p - '0');
		for (; digits < 3; digits++)
			*ms *= 10;
	}
	*sec = (time_t)s;
	return 0;
}

void s3_time_iso(const char *ts, char out[32])
{
	time_t t = 0;
	int ms = 0;
	struct tm tm;
	if (ts_split(ts, &t, &ms) < 0)
		t = 0, ms = 0;
	gmtime_r(&t, &tm);
	char buf[24];
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 32, "%s.%03dZ", buf, ms % 1000);
}

void s3_time_http(const char *ts, char out[40])
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	time_t t = 0;
	int ms;
	struct tm tm;
	if (ts_split(ts, &t, &ms) < 0)
		t = 0;
	gmtime_r(&t, &tm);
	char hms[12];
	strftime(hms, sizeof hms, "%H:%M:%S", &tm);
	snprintf(out, 40, "%s, %02d %s %04d %s GMT", days[tm.tm_wday % 7], tm.tm_mday % 100,
	         months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000, hms);
}

char *s3_token_encode(const char *key)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = strlen(key);
	char *out = xmalloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[(unsigned char)key[i] >> 4];
		out[2 * i + 1] = hex[(unsigned char)key[i] & 15];
	}
	out[2 * n] = 0;
	return out;
}

static int hexdig(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

char *s3_token_decode(const char *token)
{
	size_t n = strlen(token);
	if (n % 2 || n > 2 * S3_KEY_MAX)
		return NULL;
	char *out = xmalloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hexdig(token[2 * i]), lo = hexdig(token[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi | lo) == 0) {
			free(out);
			return NULL;
		}
		out[i] = (char)(hi << 4 | lo);
	}
	out[n / 2] = 0;
	return out;
}

/* ---- answers ---- */

static void owner(struct s3_xw *w, const char *tag, const struct s3_owner *o)
{
	if (!o)
		return;
	s3_xw_open(w, tag, NULL);
	s3_xw_text(w, "ID", o->id);
	s3_xw_text(w, "DisplayName", o->display_name ? o->display_name : o->id);
	s3_xw_close(w, tag);
}

static void etag(struct s3_xw *w, const char *tag, const char *e)
{
	char *q = xasprintf("\"%s\"", e ? e : "");
	s3_xw_text(w, tag, q);
	free(q);
}

static void iso(struct s3_xw *w, const char *tag, const char *ts)
{
	char t[32];
	s3_time_iso(ts, t);
	s3_xw_text(w, tag, t);
}

char *s3_view_list_buckets(const struct s3_owner *o, const struct s3_bucket_entry *b, size_t n)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "ListAllMyBucketsResult", S3_XML_NS);
	owner(&w, "Owner", o);
	s3_xw_open(&w, "Buckets", NULL);
	for (size_t i = 0; i < n; i++) {
		s3_xw_open(&w, "Bucket", NULL);
		s3_xw_text(&w, "Name", b[i].name);
		iso(&w, "CreationDate", b[i].created);
		s3_xw_close(&w, "Bucket");
	}
	s3_xw_close(&w, "Buckets");
	s3_xw_close(&w, "ListAllMyBucketsResult");
	return s3_xw_finish(&w);
}

/* A key or prefix, URL-encoded when the request asked encoding-type=url. */
static void keytext(struct s3_xw *w, const char *tag, const char *s, int url)
{
	if (!s)
		return;
	if (!url) {
		s3_xw_text(w, tag, s);
		return;
	}
	char *e = sigv4_uri_encode(s, strlen(s), 1);
	s3_xw_text(w, tag, e);
	free(e);
}

char *s3_view_list_objects(const struct s3_list_view *v)
{
	struct s3_xw w;
	int url = v->encoding_type && !strcmp(v->encoding_type, "url");
	const char *root = v->version == 3 ? "ListVersionsResult" : "ListBucketResult";
	s3_xw_init(&w);
	s3_xw_open(&w, root, S3_XML_NS);
	s3_xw_text(&w, "Name", v->bucket);
	keytext(&w, "Prefix", v->prefix ? v->prefix : "", url);
	if (v->version == 1) {
		keytext(&w, "Marker", v->marker ? v->marker : "", url);
		if (v->truncated && v->next_marker)
			keytext(&w, "NextMarker", v->next_marker, url);
	} else if (v->version == 2) {
		s3_xw_text(&w, "ContinuationToken", v->continuation_token);
		s3_xw_text(&w, "NextContinuationToken",
		           v->truncated ? v->next_continuation_token : NULL);
		keytext(&w, "StartAfter", v->start_after, url);
		s3_xw_long(&w, "KeyCount", (long long)v->n); /* keys and common prefixes */
	} else {
		keytext(&w, "KeyMarker", v->marker ? v->marker : "", url);
		s3_xw_text(&w, "VersionIdMarker", v->version_id_marker ? v->version_id_marker : "");
		if (v->truncated && v->next_marker) {
			keytext(&w, "NextKeyMarker", v->next_marker, url);
			s3_xw_text(&w, "NextVersionIdMarker",
			           v->next_version_id_marker ? v->next_version_id_marker : "null");
		}
	}
	s3_xw_long(&w, "MaxKeys", v->max_keys);
	keytext(&w, "Delimiter", v->delimiter && *v->delimiter ? v->delimiter : NULL, url);
	s3_xw_text(&w, "EncodingType", url ? "url" : NULL);
	s3_xw_bool(&w, "IsTruncated", v->truncated);
	for (size_t i = 0; i < v->n; i++) {
		const struct s3_object_entry *e = &v->e[i];
		if (e->prefix)
			continue;
		const char *tag = v->version != 3    ? "Contents"
		                  : e->delete_marker ? "DeleteMarker"
		                                     : "Version";
		s3_xw_open(&w, tag, NULL);
		keytext(&w, "Key", e->key, url);
		if (v->version == 3) {
			s3_xw_text(&w, "VersionId", e->version_id ? e->version_id : "null");
			s3_xw_bool(&w, "IsLatest", !e->not_latest);
		}
		iso(&w, "LastModified", e->last_modified);
		if (!e->delete_marker) {
			etag(&w, "ETag", e->etag);
			s3_xw_long(&w, "Size", (long long)e->size);
		}
		if (v->version != 2 || v->fetch_owner)
			owner(&w, "Owner", v->owner);
		if (!e->delete_marker)
			s3_xw_text(&w, "StorageClass", "STANDARD");
		s3_xw_close(&w, tag);
	}
	for (size_t i = 0; i < v->n; i++) {
		if (!v->e[i].prefix)
			continue;
		s3_xw_open(&w, "CommonPrefixes", NULL);
		keytext(&w, "Prefix", v->e[i].key, url);
		s3_xw_close(&w, "CommonPrefixes");
	}
	s3_xw_close(&w, root);
	return s3_xw_finish(&w);
}

char *s3_view_initiate_multipart(const char *bucket, const char *key, const char *upload_id)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "InitiateMultipartUploadResult", S3_XML_NS);
	s3_xw_text(&w, "Bucket", bucket);
	s3_xw_text(&w, "Key", key);
	s3_xw_text(&w, "UploadId", upload_id);
	s3_xw_close(&w, "InitiateMultipartUploadResult");
	return s3_xw_finish(&w);
}

char *s3_view_complete_multipart(const char *location, const char *bucket, const char *key,
                                 const char *e)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "CompleteMultipartUploadResult", S3_XML_NS);
	s3_xw_text(&w, "Location", location);
	s3_xw_text(&w, "Bucket", bucket);
	s3_xw_text(&w, "Key", key);
	etag(&w, "ETag", e);
	s3_xw_close(&w, "CompleteMultipartUploadResult");
	return s3_xw_finish(&w);
}

char *s3_view_list_parts(const struct s3_parts_view *v)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "ListPartsResult", S3_XML_NS);
	s3_xw_text(&w, "Bucket", v->bucket);
	s3_xw_text(&w, "Key", v->key);
	s3_xw_text(&w, "UploadId", v->upload_id);
	owner(&w, "Initiator", v->owner);
	owner(&w, "Owner", v->owner);
	s3_xw_text(&w, "StorageClass", "STANDARD");
	s3_xw_long(&w, "PartNumberMarker", v->part_number_marker);
	s3_xw_long(&w, "NextPartNumberMarker", v->next_part_number_marker);
	s3_xw_long(&w, "MaxParts", v->max_parts);
	s3_xw_bool(&w, "IsTruncated", v->truncated);
	for (size_t i = 0; i < v->n; i++) {
		s3_xw_open(&w, "Part", NULL);
		s3_xw_long(&w, "PartNumber", v->p[i].number);
		iso(&w, "LastModified", v->p[i].last_modified);
		etag(&w, "ETag", v->p[i].etag);
		s3_xw_long(&w, "Size", (long long)v->p[i].size);
		s3_xw_close(&w, "Part");
	}
	s3_xw_close(&w, "ListPartsResult");
	return s3_xw_finish(&w);
}

char *s3_view_list_uploads(const struct s3_uploads_view *v)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "ListMultipartUploadsResult", S3_XML_NS);
	s3_xw_text(&w, "Bucket", v->bucket);
	s3_xw_text(&w, "KeyMarker", v->key_marker ? v->key_marker : "");
	s3_xw_text(&w, "UploadIdMarker", v->upload_id_marker ? v->upload_id_marker : "");
	s3_xw_text(&w, "NextKeyMarker", v->next_key_marker ? v->next_key_marker : "");
	s3_xw_text(&w, "NextUploadIdMarker",
	           v->next_upload_id_marker ? v->next_upload_id_marker : "");
	s3_xw_text(&w, "Prefix", v->prefix ? v->prefix : "");
	s3_xw_text(&w, "Delimiter", v->delimiter && *v->delimiter ? v->delimiter : NULL);
	s3_xw_long(&w, "MaxUploads", v->max_uploads);
	s3_xw_bool(&w, "IsTruncated", v->truncated);
	for (size_t i = 0; i < v->n; i++) {
		s3_xw_open(&w, "Upload", NULL);
		s3_xw_text(&w, "Key", v->u[i].key);
		s3_xw_text(&w, "UploadId", v->u[i].upload_id);
		owner(&w, "Initiator", v->owner);
		owner(&w, "Owner", v->owner);
		s3_xw_text(&w, "StorageClass", "STANDARD");
		iso(&w, "Initiated", v->u[i].initiated);
		s3_xw_close(&w, "Upload");
	}
	s3_xw_close(&w, "ListMultipartUploadsResult");
	return s3_xw_finish(&w);
}

char *s3_view_copy_result(const char *e, const char *last_modified, int part)
{
	struct s3_xw w;
	const char *root = part ? "CopyPartResult" : "CopyObjectResult";
	s3_xw_init(&w);
	s3_xw_open(&w, root, S3_XML_NS);
	iso(&w, "LastModified", last_modified);
	etag(&w, "ETag", e);
	s3_xw_close(&w, root);
	return s3_xw_finish(&w);
}

char *s3_view_delete_result(const struct s3_delete_entry *d, size_t n, int quiet)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "DeleteResult", S3_XML_NS);
	for (size_t i = 0; i < n; i++) {
		if (d[i].err == S3_OK && quiet)
			continue;
		const char *tag = d[i].err == S3_OK ? "Deleted" : "Error";
		s3_xw_open(&w, tag, NULL);
		s3_xw_text(&w, "Key", d[i].key);
		s3_xw_text(&w, "VersionId", d[i].version_id);
		if (d[i].err == S3_OK && d[i].delete_marker) {
			s3_xw_bool(&w, "DeleteMarker", 1);
			s3_xw_text(&w, "DeleteMarkerVersionId", d[i].marker_version_id);
		}
		if (d[i].err != S3_OK) {
			s3_xw_text(&w, "Code", s3_err_code(d[i].err));
			s3_xw_text(&w, "Message", s3_err_message(d[i].err));
		}
		s3_xw_close(&w, tag);
	}
	s3_xw_close(&w, "DeleteResult");
	return s3_xw_finish(&w);
}

int s3_acl_parse_canned(const char *s, enum s3_acl *out)
{
	static const struct {
		const char *name;
		enum s3_acl acl;
	} canned[] = {
	    {"private", S3_ACL_PRIVATE},
	    {"public-read", S3_ACL_PUBLIC_READ},
	    {"public-read-write", S3_ACL_PUBLIC_READ_WRITE},
	    {"authenticated-read", S3_ACL_AUTH_READ},
	    {"bucket-owner-read", S3_ACL_PRIVATE},
	    {"bucket-owner-full-control", S3_ACL_PRIVATE},
	    {"log-delivery-write", S3_ACL_PRIVATE},
	    {"aws-exec-read", S3_ACL_PRIVATE},
	};
	for (size_t i = 0; s && i < sizeof canned / sizeof *canned; i++)
		if (!strcmp(s, canned[i].name)) {
			*out = canned[i].acl;
			return 0;
		}
	return -EINVAL;
}

#define ALL_USERS "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTH_USERS "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

static void grant_group(struct s3_xw *w, const char *uri, const char *perm)
{
	fputs("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
	      " xsi:type=\"Group\">",
	      w->f);
	s3_xw_text(w, "URI", uri);
	fputs("</Grantee>", w->f);
	s3_xw_text(w, "Permission", perm);
	fputs("</Grant>", w->f);
}

char *s3_view_acl(const struct s3_owner *o, enum s3_acl acl)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "AccessControlPolicy", S3_XML_NS);
	owner(&w, "Owner", o);
	s3_xw_open(&w, "AccessControlList", NULL);
	fputs("<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
	      " xsi:type=\"CanonicalUser\">",
	      w.f);
	s3_xw_text(&w, "ID", o->id);
	s3_xw_text(&w, "DisplayName", o->display_name ? o->display_name : o->id);
	fputs("</Grantee>", w.f);
	s3_xw_text(&w, "Permission", "FULL_CONTROL");
	fputs("</Grant>", w.f);
	if (acl == S3_ACL_PUBLIC_READ || acl == S3_ACL_PUBLIC_READ_WRITE)
		grant_group(&w, ALL_USERS, "READ");
	if (acl == S3_ACL_PUBLIC_READ_WRITE)
		grant_group(&w, ALL_USERS, "WRITE");
	if (acl == S3_ACL_AUTH_READ)
		grant_group(&w, AUTH_USERS, "READ");
	s3_xw_close(&w, "AccessControlList");
	s3_xw_close(&w, "AccessControlPolicy");
	return s3_xw_finish(&w);
}

char *s3_view_versioning(const char *status)
{
	struct s3_xw w;
	s3_xw_init(&w);
	s3_xw_open(&w, "VersioningConfiguration", S3_XML_NS);
	s3_xw_text(&w, "Status", status);
	s3_xw_close(&w, "VersioningConfiguration");
	return s3_xw_finish(&w);
}

char *s3_view_location(const char *region)
{
	struct s3_xw w;
	s3_xw_init(&w);
	fputs("<LocationConstraint xmlns=\"" S3_XML_NS "\">", w.f);
	if (region && strcmp(region, "us-east-1"))
		markup_escape(w.f, region);
	fputs("</LocationConstraint>", w.f);
	return s3_xw_finish(&w);
}

/* ---- request bodies ---- */

static struct s3_xnode *root_named(const char *body, size_t len, const char *name)
{
	struct s3_xnode *root = s3_xml_parse(body, len);
	if (root && strcmp(root->name, name)) {
		s3_xml_free(root);
		return NULL;
	}
	return root;
}

/* A decimal in 1..max, whitespace around allowed. */
static long number(const char *s, long max)
{
	char *end;
	while (s && isspace((unsigned char)*s))
		s++;
	if (!s || !isdigit((unsigned char)*s) || strlen(s) > 12)
		return -1;
	long n = strtol(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	return *end || n < 1 || n > max ? -1 : n;
}

/* An ETag as clients send it back: optional quotes around 32 hex digits (or a
 * multipart "hex-N"); lowercase hex into out. */
static int etag_take(const char *s, char out[33])
{
	size_t n = s ? strlen(s) : 0;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	while (n && isspace((unsigned char)*s))
		s++, n--;
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"')
		s++, n -= 2;
	if (n != 32)
		return -EINVAL;
	for (size_t i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)s[i]))
			return -EINVAL;
		out[i] = (char)tolower((unsigned char)s[i]);
	}
	out[32] = 0;
	return 0;
}

enum s3_err s3_parse_complete(const char *body, size_t len, struct s3_complete_part **parts,
                              size_t *n)
{
	struct s3_xnode *root = root_named(body, len, "CompleteMultipartUpload");
	enum s3_err e = S3_OK;
	size_t count = 0;
	*parts = NULL;
	*n = 0;
	if (!root)
		return S3E_MALFORMED_XML;
	for (const struct s3_xnode *c = root->child; c; c = c->next)
		if (!strcmp(c->name, "Part"))
			count++;
	if (count == 0 || count > S3_MAX_PARTS) {
		s3_xml_free(root);
		return S3E_MALFORMED_XML;
	}
	struct s3_complete_part *p = xcalloc(count, sizeof *p);
	size_t i = 0;
	for (const struct s3_xnode *c = root->child; c && e == S3_OK; c = c->next) {
		if (strcmp(c->name, "Part"))
			continue;
		p[i].number = number(s3_xml_child_text(c, "PartNumber"), S3_MAX_PARTS);
		if (p[i].number < 0)
			e = S3E_MALFORMED_XML;
		else if (etag_take(s3_xml_child_text(c, "ETag"), p[i].etag) < 0)
			e = S3E_INVALID_PART;
		else if (i > 0 && p[i].number <= p[i - 1].number)
			e = S3E_INVALID_PART_ORDER;
		i++;
	}
	s3_xml_free(root);
	if (e != S3_OK) {
		free(p);
		return e;
	}
	*parts = p;
	*n = count;
	return S3_OK;
}

void s3_delete_req_release(struct s3_delete_req *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->keys[i]);
		free(d->version_ids[i]);
	}
	free(d->keys);
	free(d->version_ids);
	memset(d, 0, sizeof *d);
}

enum s3_err s3_parse_delete(const char *body, size_t len, struct s3_delete_req *out)
{
	memset(out, 0, sizeof *out);
	struct s3_xnode *root = root_named(body, len, "Delete");
	size_t count = 0;
	if (!root)
		return S3E_MALFORMED_XML;
	for (const struct s3_xnode *c = root->child; c; c = c->next)
		count += !strcmp(c->name, "Object");
	const char *q = s3_xml_child_text(root, "Quiet");
	out->quiet = q && !strcmp(q, "true");
	if (count == 0 || count > DELETE_MAX) {
		s3_xml_free(root);
		return S3E_MALFORMED_XML;
	}
	out->keys = xcalloc(count, sizeof *out->keys);
	out->version_ids = xcalloc(count, sizeof *out->version_ids);
	enum s3_err e = S3_OK;
	for (const struct s3_xnode *c = root->child; c; c = c->next) {
		if (strcmp(c->name, "Object"))
			continue;
		const char *k = s3_xml_child_text(c, "Key");
		const char *v = s3_xml_child_text(c, "VersionId");
		if (!k || !*k || strlen(k) > S3_KEY_MAX || (v && strlen(v) > 128))
			e = S3E_MALFORMED_XML;
		out->keys[out->n] = xstrdup(k ? k : "");
		out->version_ids[out->n] = v ? xstrdup(v) : NULL;
		out->n++;
	}
	s3_xml_free(root);
	if (e != S3_OK)
		s3_delete_req_release(out);
	return e;
}

enum s3_err s3_parse_versioning(const char *body, size_t len, int *enabled)
{
	struct s3_xnode *root = root_named(body, len, "VersioningConfiguration");
	enum s3_err e = S3E_MALFORMED_XML;
	const char *s = root ? s3_xml_child_text(root, "Status") : NULL;
	if (s && !strcmp(s, "Enabled"))
		*enabled = 1, e = S3_OK;
	else if (s && !strcmp(s, "Suspended"))
		*enabled = 0, e = S3_OK;
	s3_xml_free(root);
	return e;
}

enum s3_err s3_parse_location(const char *body, size_t len, char out[64])
{
	out[0] = 0;
	size_t i = 0;
	while (i < len && isspace((unsigned char)body[i]))
		i++;
	if (i == len)
		return S3_OK;
	struct s3_xnode *root = root_named(body, len, "CreateBucketConfiguration");
	if (!root)
		return S3E_MALFORMED_XML;
	const char *c = s3_xml_child_text(root, "LocationConstraint");
	enum s3_err e = S3_OK;
	if (c && strlen(c) < 64)
		strcpy(out, c);
	else if (c)
		e = S3E_INVALID_ARGUMENT;
	s3_xml_free(root);
	return e;
}

enum s3_err s3_parse_acl(const char *body, size_t len, enum s3_acl *out)
{
	struct s3_xnode *root = root_named(body, len, "AccessControlPolicy");
	const struct s3_xnode *list = root ? s3_xml_child(root, "AccessControlList") : NULL;
	int all_read = 0, all_write = 0, auth_read = 0;
	if (!list) {
		s3_xml_free(root);
		return S3E_MALFORMED_XML;
	}
	for (const struct s3_xnode *g = list->child; g; g = g->next) {
		if (strcmp(g->name, "Grant"))
			continue;
		const struct s3_xnode *who = s3_xml_child(g, "Grantee");
		const char *perm = s3_xml_child_text(g, "Permission");
		const char *uri = who ? s3_xml_child_text(who, "URI") : NULL;
		if (!who || !perm) {
			s3_xml_free(root);
			return S3E_MALFORMED_XML;
		}
		int read = !strcmp(perm, "READ") || !strcmp(perm, "FULL_CONTROL");
		int write = !strcmp(perm, "WRITE") || !strcmp(perm, "FULL_CONTROL");
		if (uri && !strcmp(uri, ALL_USERS)) {
			all_read |= read;
			all_write |= write;
		} else if (uri && !strcmp(uri, AUTH_USERS)) {
			auth_read |= read;
		}
	}
	s3_xml_free(root);
	*out = all_read && all_write ? S3_ACL_PUBLIC_READ_WRITE
	       : all_read            ? S3_ACL_PUBLIC_READ
	       : auth_read           ? S3_ACL_AUTH_READ
	                             : S3_ACL_PRIVATE;
	return S3_OK;
}

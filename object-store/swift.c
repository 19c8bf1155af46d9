/* The Swift v1 API over the store. */
#include "swift.h"
#include "swift_impl.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bulk.h"
#include "formpost.h"
#include "largeobj.h"
#include "markup.h"
#include "objquota.h"
#include "objauth.h"
#include "objclient.h"
#include "staticweb.h"
#include "store_impl.h"
#include "tempurl.h"
#include "xalloc.h"

#define SWIFT_MAX_META_NAME 128
#define SWIFT_MAX_META_VALUE 256
#define SWIFT_MAX_META_COUNT STORE_MAX_META /* what the store keeps on one item */
#define SWIFT_LISTING_LIMIT 10000

static struct objauth *swift_auth;

void swift_set_auth(struct objauth *a)
{
	swift_auth = a;
}

/* ------------------------------------------------------------------ pure helpers */

int swift_path_parse(const char *raw, char **account, char **container, char **object)
{
	*account = *container = *object = NULL;
	if (strncmp(raw, "/v1/", 4))
		return -EINVAL;
	const char *a = raw + 4, *s = strchr(a, '/');
	size_t alen = s ? (size_t)(s - a) : strlen(a);
	if (alen == 0)
		return -EINVAL;
	char *tmp = xstrndup(a, alen);
	*account = px_unescape(tmp, 0);
	free(tmp);
	if (!*account)
		goto fail;
	if (!s || !s[1])
		return 0;
	const char *c = s + 1, *t = strchr(c, '/');
	size_t clen = t ? (size_t)(t - c) : strlen(c);
	tmp = xstrndup(c, clen);
	*container = px_unescape(tmp, 0);
	free(tmp);
	if (!*container || !**container)
		goto fail;
	if (!t || !t[1])
		return 0;
	*object = px_unescape(t + 1, 0);
	if (!*object)
		goto fail;
	return 0;
fail:
	free(*account);
	free(*container);
	free(*object);
	*account = *container = *object = NULL;
	return -EINVAL;
}

void swift_meta_name(const char *in, char *out, size_t n)
{
	size_t i = 0;
	int up = 1;
	for (; in[i] && i + 1 < n; i++) {
		char ch = in[i] == '_' ? '-' : in[i];
		out[i] = (char)(up ? toupper((unsigned char)ch) : tolower((unsigned char)ch));
		up = ch == '-';
	}
	out[i] = '\0';
}

static void ts_split(const char *ts, time_t *sec, long *usec)
{
	double t = ts && *ts ? strtod(ts, NULL) : 0;
	*sec = (time_t)t;
	*usec = (long)((t - (double)*sec) * 1e6 + 0.5);
	if (*usec >= 1000000) {
		(*sec)++;
		*usec -= 1000000;
	}
}

static void ts_iso(const char *ts, char *out, size_t n)
{
	time_t sec;
	long usec;
	ts_split(ts, &sec, &usec);
	struct tm tm;
	gmtime_r(&sec, &tm);
	char b[32];
	strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, n, "%s.%06ld", b, usec);
}

/* Last-Modified: the timestamp rounded up to a whole second (an object written at
 * .5 is not "modified since" that second's end). */
static void ts_http(const char *ts, char *out, size_t n)
{
	time_t sec;
	long usec;
	ts_split(ts, &sec, &usec);
	if (usec)
		sec++;
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

char *swift_listing(const struct store_list *l, const char *fmt, char level, const char *name,
                    size_t *len)
{
	char *buf = NULL, lm[40];
	FILE *f = open_memstream(&buf, len);
	if (!strcmp(fmt, "json")) {
		json_t *arr = json_array();
		for (size_t i = 0; i < l->n; i++) {
			const struct store_entry *e = &l->e[i];
			json_t *o;
			ts_iso(e->timestamp, lm, sizeof(lm));
			if (e->subdir)
				o = json_pack("{s:s}", "subdir", e->name);
			else if (level == 'c')
				o = json_pack("{s:s,s:s,s:I,s:s,s:s}", "name", e->name, "hash",
				              e->etag, "bytes", (json_int_t)e->bytes,
				              "content_type", e->content_type, "last_modified", lm);
			else
				o = json_pack("{s:s,s:I,s:I,s:s}", "name", e->name, "count",
				              (json_int_t)e->count, "bytes", (json_int_t)e->bytes,
				              "last_modified", lm);
			json_array_append_new(arr, o);
		}
		char *s = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
		fputs(s, f);
		free(s);
		json_decref(arr);
	} else if (!strcmp(fmt, "xml")) {
		fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
		fprintf(f, "<%s name=\"", level == 'c' ? "container" : "account");
		markup_escape(f, name);
		fputs("\">", f);
		for (size_t i = 0; i < l->n; i++) {
			const struct store_entry *e = &l->e[i];
			ts_iso(e->timestamp, lm, sizeof(lm));
			if (e->subdir) {
				fputs("<subdir name=\"", f);
				markup_escape(f, e->name);
				fputs("\"><name>", f);
				markup_escape(f, e->name);
				fputs("</name></subdir>", f);
				continue;
			}
			fputs(level == 'c' ? "<object><name>" : "<container><name>", f);
			markup_escape(f, e->name);
			fputs("</name>", f);
			if (level == 'c') {
				fprintf(f, "<hash>%s</hash><bytes>%llu</bytes><content_type>",
				        e->etag, (unsigned long long)e->bytes);
				markup_escape(f, e->content_type);
				fprintf(f,
				        "</content_type><last_modified>%s</last_modified></object>",
				        lm);
			} else
				fprintf(f,
				        "<count>%llu</count><bytes>%llu</bytes><last_modified>%s"
				        "</last_modified></container>",
				        (unsigned long long)e->count, (unsigned long long)e->bytes,
				        lm);
		}
		fprintf(f, "</%s>", level == 'c' ? "container" : "account");
	} else
		for (size_t i = 0; i < l->n; i++)
			fprintf(f, "%s\n", l->e[i].name);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------------ answers */

void swift_answer_err(struct px_req *r, int status, const char *text)
{
	char body[512];
	int n = snprintf(body, sizeof(body), "<html><h1>%s</h1><p>%s</p></html>",
	                 store_err_text(status == 404   ? STORE_NOT_FOUND
	                                : status == 409 ? STORE_CONFLICT
	                                : status == 422 ? STORE_ETAG_MISMATCH
	                                : status == 416 ? STORE_RANGE
	                                : status == 413 ? STORE_TOO_LARGE
	                                : status == 503 ? STORE_UNAVAILABLE
	                                : status == 500 ? STORE_INTERNAL
	                                                : STORE_BAD_REQUEST),
	                 text);
	if (status == 401)
		n = snprintf(body, sizeof(body), "<html><h1>Unauthorized</h1><p>%s</p></html>",
		             text);
	else if (status == 403)
		n = snprintf(body, sizeof(body), "<html><h1>Forbidden</h1><p>%s</p></html>", text);
	else if (status == 411 || status == 412 || status == 405)
		n = snprintf(body, sizeof(body), "%s", text);
	if (status == 416) {
		px_answer(r, status, "text/html; charset=UTF-8", body, (size_t)n);
		return;
	}
	px_answer(r, status, "text/html; charset=UTF-8", body, (size_t)n);
}

void swift_answer_store_err(struct px_req *r, enum store_err e)
{
	static const char *const why[] = {
	    [STORE_NOT_FOUND] = "The resource could not be found.",
	    [STORE_CONFLICT] = "There was a conflict when trying to complete your request.",
	    [STORE_BAD_REQUEST] = "The request is malformed or breaks a limit.",
	    [STORE_ETAG_MISMATCH] = "The body's MD5 does not match the ETag sent.",
	    [STORE_RANGE] = "The range cannot be satisfied.",
	    [STORE_TOO_LARGE] = "The object is too large.",
	    [STORE_LENGTH_MISMATCH] = "The body's length differs from its Content-Length.",
	    [STORE_UNAVAILABLE] = "Not enough object servers or the listing database answered.",
	    [STORE_INTERNAL] = "Internal error.",
	};
	swift_answer_err(r, store_err_status(e),
	                 (unsigned)e < sizeof(why) / sizeof(why[0]) && why[e] ? why[e] : "Error.");
}

static void add_u64(struct px_req *r, const char *name, uint64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%llu", (unsigned long long)v);
	px_add_header(r, name, b);
}

static void add_kv(struct px_req *r, const struct store_kv *kv, int n)
{
	for (int i = 0; i < n; i++)
		if (strncasecmp(kv[i].name, "X-Object-Sysmeta-", 17)) /* internal, never shown */
			px_add_header(r, kv[i].name, kv[i].value);
}

/* ------------------------------------------------------------------ request metadata */

struct collect {
	struct swift_req *q;
	const char *prefix; /* "X-Object-Meta-" ... */
	const char *remove; /* "X-Remove-Container-Meta-" or NULL */
	int object;         /* also Content-Encoding, Content-Disposition, X-Delete-At */
	int bad;
	int count;     /* metadata items (not removals) */
	char why[300]; /* Swift's reason for the first bad header */
};

static void collect_bad(struct collect *c, const char *fmt, const char *a, int n)
{
	if (!c->bad)
		snprintf(c->why, sizeof(c->why), fmt, a ? a : "", n);
	c->bad = 1;
}

static void kv_add(struct swift_req *q, const char *name, const char *value, int *bad)
{
	if (q->nkv >= (int)(sizeof(q->kv) / sizeof(q->kv[0])) || q->nkv >= SWIFT_MAX_META_COUNT) {
		*bad = 1;
		return;
	}
	q->kv[q->nkv].name = xstrdup(name);
	q->kv[q->nkv].value = xstrdup(value);
	q->nkv++;
}

static void collect_one(void *arg, const char *k, const char *v)
{
	struct collect *c = arg;
	char name[SWIFT_MAX_META_NAME + 64];
	size_t pl = strlen(c->prefix);
	if (!strncasecmp(k, c->prefix, pl)) {
		/* Swift's constraints, in its order and words */
		if (strlen(k) == pl)
			collect_bad(c, "Metadata name cannot be empty%s", NULL, 0);
		else if (strlen(k) - pl > SWIFT_MAX_META_NAME)
			collect_bad(c, "Metadata name too long: %.200s", k, 0);
		else if (strlen(v) > SWIFT_MAX_META_VALUE)
			collect_bad(c, "Metadata value longer than %2$d: %1$.200s", k,
			            SWIFT_MAX_META_VALUE);
		else if (++c->count > SWIFT_MAX_META_COUNT)
			collect_bad(c, "%sToo many metadata items; max %d", NULL,
			            SWIFT_MAX_META_COUNT);
		if (c->bad)
			return;
		swift_meta_name(k, name, sizeof(name));
		kv_add(c->q, name, v, &c->bad);
		return;
	}
	if (c->remove && !strncasecmp(k, c->remove, strlen(c->remove))) {
		char full[SWIFT_MAX_META_NAME + 64];
		snprintf(full, sizeof(full), "%s%s", c->prefix, k + strlen(c->remove));
		swift_meta_name(full, name, sizeof(name));
		kv_add(c->q, name, "", &c->bad);
		return;
	}
	static const char *const object_headers[] = {"Content-Encoding", "Content-Disposition",
	                                             "X-Delete-At", "X-Object-Manifest"};
	static const char *const container_headers[] = {"X-Container-Read", "X-Container-Write",
	                                                "X-Versions-Location"};
	const char *const *list = c->object ? object_headers : container_headers;
	size_t nlist = c->object ? 4 : 3;
	for (size_t i = 0; i < nlist; i++)
		if (!strcasecmp(k, list[i])) {
			if (strlen(v) > 1024) {
				c->bad = 1;
				return;
			}
			kv_add(c->q, list[i], v, &c->bad);
		}
	if (c->object && !strcasecmp(k, "X-Delete-After")) {
		char *end;
		long long after = strtoll(v, &end, 10);
		if (*end || after < 0) {
			c->bad = 1;
			return;
		}
		char at[32];
		snprintf(at, sizeof(at), "%lld", (long long)time(NULL) + after);
		kv_add(c->q, "X-Delete-At", at, &c->bad);
	}
}

/* Reads the request's metadata headers into q->kv. 0, or -EINVAL (answered). */
static int collect_meta(struct px_req *r, struct swift_req *q, const char *prefix,
                        const char *remove, int object)
{
	struct collect c = {q, prefix, remove, object, 0};
	px_headers_each(r, collect_one, &c);
	size_t total = 0;
	for (int i = 0; i < q->nkv; i++)
		total += strlen(q->kv[i].name) - strlen(prefix) + strlen(q->kv[i].value);
	const char *da = NULL;
	for (int i = 0; i < q->nkv; i++)
		if (!strcmp(q->kv[i].name, "X-Delete-At"))
			da = q->kv[i].value;
	if (da && *da) {
		char *end;
		long long at = strtoll(da, &end, 10);
		if (*end || at <= (long long)time(NULL)) {
			swift_answer_err(r, 400, "X-Delete-At in past");
			return -EINVAL;
		}
	}
	if (!c.bad && total > STORE_MAX_META_BYTES)
		collect_bad(&c, "%sTotal metadata too large; max %d", NULL, STORE_MAX_META_BYTES);
	if (c.bad) {
		if (!c.why[0])
			snprintf(c.why, sizeof(c.why), "Too many headers; max %d", STORE_MAX_META);
		swift_answer_err(r, 400, c.why);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------------ access */

/* 1 when acl (a comma-separated X-Container-Read/Write value) names the caller: ".r:*"
 * (anyone, read only), "<project>:*", "<project>:<user>", "*:*". */
static int acl_allows(const char *acl, const struct swift_req *q, int anonymous_ok)
{
	if (!acl)
		return 0;
	char *copy = xstrdup(acl), *save = NULL;
	int ok = 0;
	for (char *t = strtok_r(copy, ",", &save); t && !ok; t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		char *e = t + strlen(t);
		while (e > t && e[-1] == ' ')
			*--e = '\0';
		if (anonymous_ok && (!strcmp(t, ".r:*") || !strcmp(t, ".r:*,.rlistings")))
			ok = 1;
		if (!q->authed)
			continue;
		char *colon = strchr(t, ':');
		if (!colon || t[0] == '.')
			continue;
		*colon = '\0';
		const char *p = t, *u = colon + 1;
		if ((!strcmp(p, "*") || !strcmp(p, q->who.project_id)) &&
		    (!strcmp(u, "*") || !strcmp(u, q->who.user_id)))
			ok = 1;
	}
	free(copy);
	return ok;
}

/* 1 when the caller may read (write 0) or write (1) in container c of q's account: the
 * account's project (a writer to write) or an admin, else the container's ACLs; object:
 * an object in it (a listing needs .rlistings from an anonymous caller). Answers nothing. */
int swift_container_allows(struct px_req *r, const struct swift_req *q, const char *c, int write,
                           int object)
{
	if (q->authed && (q->who.admin || !strcmp(q->account + 5, q->who.project_id)))
		return !write || q->who.writer;
	/* a large object's segments: in the signer's account for an account key, in the
	 * URL's own container for a container key (Swift's authorize_same_container) */
	if (q->tempurl && !write)
		return q->tempurl == TEMPURL_ACCOUNT || (c && !strcmp(c, q->container));
	struct store_container_info ci;
	if (!c || store_container_head(px_store(r), q->account, c, &ci) != STORE_OK)
		return 0;
	const char *rd = NULL, *wr = NULL;
	for (int i = 0; i < ci.nkv; i++) {
		if (!strcmp(ci.kv[i].name, "X-Container-Read"))
			rd = ci.kv[i].value;
		if (!strcmp(ci.kv[i].name, "X-Container-Write"))
			wr = ci.kv[i].value;
	}
	int ok = write ? (object && acl_allows(wr, q, 0))
	               : acl_allows(rd, q, object || (rd && strstr(rd, ".rlistings")));
	store_container_info_release(&ci);
	return ok;
}

/* Answers 401 (no token) or 403 (a caller without the right). */
static void answer_denied(struct px_req *r, const struct swift_req *q)
{
	if (!q->authed)
		swift_answer_err(r, 401, "This server could not verify that you are authorized.");
	else
		swift_answer_err(r, 403, "Access was denied to this resource.");
}

/* Decides whether the caller may do this; answers 401/403 when not. */
static int swift_authorize(struct px_req *r, struct swift_req *q, int write)
{
	if (swift_container_allows(r, q, q->container, write, q->object != NULL))
		return 0;
	answer_denied(r, q);
	return -EACCES;
}

/* The index of the first segment of lo in a container the caller may not read (write 0)
 * or delete from (write 1), as Swift's sub-requests made as the caller; -1 when none.
 * Each distinct container is looked up once. */
static ssize_t segments_denied(struct px_req *r, const struct swift_req *q,
                               const struct largeobj *lo, int write)
{
	for (size_t i = 0; i < lo->n; i++) {
		size_t k = 0;
		while (k < i && strcmp(lo->seg[k].container, lo->seg[i].container))
			k++;
		if (k == i && !swift_container_allows(r, q, lo->seg[i].container, write, 1))
			return (ssize_t)i;
	}
	return -1;
}

/* largeobj_slo_check's may_read: arg is {r, q}. */
struct seg_auth {
	struct px_req *r;
	const struct swift_req *q;
};
static int seg_may_read(void *arg, const char *container)
{
	const struct seg_auth *a = arg;
	return swift_container_allows(a->r, a->q, container, 0, 1);
}

/* ------------------------------------------------------------------ temp URLs */

void swift_tempurl_keys(const struct store_kv *kv, int n, const char *prefix, const char **keys)
{
	char k1[64], k2[64];
	snprintf(k1, sizeof(k1), "%sTemp-Url-Key", prefix);
	snprintf(k2, sizeof(k2), "%sTemp-Url-Key-2", prefix);
	for (int i = 0; i < n; i++) {
		if (!strcasecmp(kv[i].name, k1))
			keys[0] = kv[i].value;
		if (!strcasecmp(kv[i].name, k2))
			keys[1] = kv[i].value;
	}
}

/* 1 when sig signs method m on path under one of the n keys; ip: the URL's
 * temp_url_ip_range or NULL. */
static int tempurl_sig_method(const char *sig, const char *ip, const char *m, int64_t when,
                              const char *path, const char **keys, int n)
{
	return ip ? tempurl_sig_ok_ip(sig, ip, m, when, path, keys, n)
	          : tempurl_sig_ok(sig, m, when, path, keys, n);
}

/* 1 when sig signs method m (a HEAD: or GET, POST or PUT; tempurl_sig_methods) on path
 * under one of the n keys. */
static int tempurl_sig_matches(const char *sig, const char *ip, const char *m, int64_t when,
                               const char *path, const char **keys, int n)
{
	const char *ms[TEMPURL_MAX_SIG_METHODS];
	int nm = tempurl_sig_methods(m, ms), ok = 0;
	for (int i = 0; i < nm && !ok; i++)
		ok = tempurl_sig_method(sig, ip, ms[i], when, path, keys, n);
	return ok;
}

/* A temp URL bound to addresses (temp_url_ip_range) is good only from one of them. */
static int tempurl_peer_ok(struct px_req *r)
{
	if (!px_query_has(r, "temp_url_ip_range"))
		return 1;
	char peer[64];
	px_peer(r, peer, sizeof(peer));
	return tempurl_ip_in_range(peer, px_query(r, "temp_url_ip_range")) == 1;
}

/* A request with temp_url_* parameters: Swift's tempurl decides alone (a token is not
 * looked at). 0 to go on as the URL's signer (q->tempurl: TEMPURL_ACCOUNT when an
 * account key signed it, TEMPURL_CONTAINER when the container's did), else -EACCES
 * (answered 401) or -EINVAL (400: a large object manifest may not be written through a
 * temp URL, Swift's rule since CVE-2015-5223). */
static int tempurl_authorize(struct px_req *r, struct swift_req *q)
{
	static const char *const methods[] = {"GET", "HEAD", "PUT", "POST", "DELETE"};
	const char *sig = px_query(r, "temp_url_sig"), *prefix = px_query(r, "temp_url_prefix");
	const char *m = px_method(r);
	int64_t when = tempurl_expires_parse(px_query(r, "temp_url_expires"));
	const char *ip =
	    px_query_has(r, "temp_url_ip_range") ? px_query(r, "temp_url_ip_range") : NULL;
	int ok = q->object && sig && when > (int64_t)time(NULL) && tempurl_peer_ok(r) &&
	         !px_header(r, "X-Copy-From") &&
	         (!prefix || !strncmp(q->object, prefix, strlen(prefix)));
	int allowed = 0;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		allowed |= !strcmp(m, methods[i]);
	struct store_account_info ai;
	struct store_container_info ci;
	int have_ai = 0, have_ci = 0, scope = 0;
	const char *keys[TEMPURL_MAX_KEYS] = {0};
	if (ok && allowed) {
		have_ai = store_account_head(px_store(r), q->account, &ai) == STORE_OK;
		if (have_ai)
			swift_tempurl_keys(ai.kv, ai.nkv, "X-Account-Meta-", keys);
		have_ci =
		    store_container_head(px_store(r), q->account, q->container, &ci) == STORE_OK;
		if (have_ci)
			swift_tempurl_keys(ci.kv, ci.nkv, "X-Container-Meta-", keys + 2);
		char *path =
		    prefix ? xasprintf("prefix:/v1/%s/%s/%s", q->account, q->container, prefix)
		           : xasprintf("/v1/%s/%s/%s", q->account, q->container, q->object);
		/* a HEAD may use a URL signed for GET, POST or PUT too; which key signed it sets
		 * what its large object segments may be read from */
		if (tempurl_sig_matches(sig, ip, m, when, path, keys, 2))
			scope = TEMPURL_ACCOUNT;
		else if (tempurl_sig_matches(sig, ip, m, when, path, keys + 2, 2))
			scope = TEMPURL_CONTAINER;
		ok = scope != 0;
		free(path);
	}
	if (have_ai)
		store_account_info_release(&ai);
	if (have_ci)
		store_container_info_release(&ci);
	if (!ok || !allowed) {
		px_add_header(r, "WWW-Authenticate", "Swift realm=\"unknown\"");
		swift_answer_err(r, 401, "Temp URL invalid");
		return -EACCES;
	}
	if ((!strcmp(m, "PUT") || !strcmp(m, "POST")) && px_header(r, "X-Object-Manifest")) {
		swift_answer_err(r, 400,
		                 "The header 'X-Object-Manifest' is not allowed in this tempurl");
		return -EINVAL;
	}
	q->tempurl = scope;
	return 0;
}

/* What a temp URL's GET/HEAD shows (Swift's defaults): no X-Object-Meta-* but
 * X-Object-Meta-Public-*, a Content-Disposition (tempurl_disposition) and an Expires:
 * the URL's expiry as an HTTP date. Edits m->kv. */
static void tempurl_outgoing(struct px_req *r, const struct swift_req *q, struct store_meta *m)
{
	if (!q->tempurl)
		return;
	const char *fn = px_query(r, "filename");
	int existing = store_meta_get(m, "Content-Disposition") != NULL;
	char *disp = tempurl_disposition(px_query_has(r, "inline"), fn && *fn ? fn : NULL,
	                                 q->object, existing);
	int n = 0;
	for (int i = 0; i < m->nkv; i++) {
		const char *k = m->kv[i].name;
		int drop = (!strncasecmp(k, "X-Object-Meta-", 14) &&
		            strncasecmp(k, "X-Object-Meta-Public-", 21)) ||
		           (disp && !strcasecmp(k, "Content-Disposition"));
		if (drop) {
			free(m->kv[i].name);
			free(m->kv[i].value);
		} else
			m->kv[n++] = m->kv[i];
	}
	m->nkv = n;
	if (disp)
		px_add_header(r, "Content-Disposition", disp);
	free(disp);
	char when[24], date[64];
	snprintf(when, sizeof(when), "%lld",
	         (long long)tempurl_expires_parse(px_query(r, "temp_url_expires")));
	ts_http(when, date, sizeof(date));
	px_add_header(r, "Expires", date);
}

/* ------------------------------------------------------------------ bulk */

/* 'd' for ?bulk-delete (DELETE or POST), 'x' for ?extract-archive (PUT), else 0. */
static int bulk_kind(struct px_req *r)
{
	const char *m = px_method(r);
	if (px_query_has(r, "bulk-delete") && (!strcmp(m, "DELETE") || !strcmp(m, "POST")))
		return 'd';
	if (px_query_has(r, "extract-archive") && !strcmp(m, "PUT"))
		return 'x';
	return 0;
}

/* bulk_target's may_write: arg is the request. */
static int bulk_may_write(void *arg, const char *container, int object)
{
	struct px_req *r = arg;
	return swift_container_allows(r, px_state(r), container, 1, object);
}

/* Starts a bulk request of kind (bulk_kind) for an authenticated caller; its body goes
 * to bulk_body and swift_finish answers. */
static void bulk_begin(struct px_req *r, struct swift_req *q, int kind)
{
	if (!q->authed) {
		answer_denied(r, q);
		return;
	}
	struct bulk_target t = {px_store(r), q->account, bulk_may_write, r};
	if (kind == 'd') {
		q->bulk = bulk_delete_new(&t);
		return;
	}
	const char *fmt = px_query(r, "extract-archive");
	if (!fmt || strcmp(fmt, "tar")) { /* no gzip or bzip2 decoder here */
		swift_answer_err(r, 400, "Unsupported archive format");
		return;
	}
	q->bulk = bulk_extract_new(&t, q->container, q->object);
}

static void bulk_answer(struct px_req *r, struct swift_req *q)
{
	const char *acc = px_header(r, "Accept");
	int json = acc && strstr(acc, "application/json");
	size_t len;
	char *body = bulk_finish(q->bulk, json, &len);
	px_answer(r, 200, json ? "application/json; charset=utf-8" : "text/plain; charset=utf-8",
	          body, len);
	free(body);
}

/* ------------------------------------------------------------------ listings */

static const char *listing_format(struct px_req *r)
{
	const char *f = px_query(r, "format");
	if (f && (!strcmp(f, "json") || !strcmp(f, "xml") || !strcmp(f, "plain")))
		return f;
	const char *acc = px_header(r, "Accept");
	if (acc && strstr(acc, "application/json"))
		return "json";
	if (acc && (strstr(acc, "application/xml") || strstr(acc, "text/xml")))
		return "xml";
	return "plain";
}

static const char *format_type(const char *fmt)
{
	return !strcmp(fmt, "json")  ? "application/json; charset=utf-8"
	       : !strcmp(fmt, "xml") ? "application/xml; charset=utf-8"
	                             : "text/plain; charset=utf-8";
}

/* Reads the listing parameters; answers 412/400 when they break Swift's rules. */
static int list_query(struct px_req *r, struct store_list_query *lq)
{
	memset(lq, 0, sizeof(*lq));
	const char *limit = px_query(r, "limit");
	lq->limit = SWIFT_LISTING_LIMIT;
	if (limit && *limit) {
		char *end;
		long v = strtol(limit, &end, 10);
		if (*end || v < 0) {
			swift_answer_err(r, 412, "Value of limit must be a positive integer");
			return -EINVAL;
		}
		if (v > SWIFT_LISTING_LIMIT) {
			swift_answer_err(r, 412, "Maximum limit is 10000");
			return -EINVAL;
		}
		if (v == 0) {
			lq->limit = 0;
			return 1; /* an empty listing */
		}
		lq->limit = (unsigned)v;
	}
	lq->prefix = px_query(r, "prefix");
	lq->delimiter = px_query(r, "delimiter");
	lq->marker = px_query(r, "marker");
	lq->end_marker = px_query(r, "end_marker");
	if (lq->delimiter && strlen(lq->delimiter) > 1) {
		swift_answer_err(r, 412, "Bad delimiter");
		return -EINVAL;
	}
	const char *vals[] = {lq->prefix, lq->marker, lq->end_marker};
	for (size_t i = 0; i < 3; i++)
		if (vals[i] && strlen(vals[i]) > STORE_MAX_OBJECT_NAME) {
			swift_answer_err(r, 400, "Parameter too long");
			return -EINVAL;
		}
	return 0;
}

/* ?reverse=true: Swift lists downward from the marker to the end_marker; the store
 * walks the names in descending order (store_list_query.reverse). */
static void reverse_query(struct px_req *r, struct store_list_query *lq)
{
	static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
	const char *v = px_query(r, "reverse");
	for (size_t i = 0; v && i < sizeof(yes) / sizeof(yes[0]); i++)
		lq->reverse |= !strcasecmp(v, yes[i]);
}

static void answer_listing(struct px_req *r, struct store_list *l, char level, const char *name)
{
	const char *fmt = listing_format(r);
	size_t len;
	char *body = swift_listing(l, fmt, level, name, &len);
	int status = l->n == 0 && !strcmp(fmt, "plain") ? 204 : 200;
	if (!strcmp(px_method(r), "HEAD"))
		status = 204;
	if (status == 204)
		px_answer(r, 204, format_type(fmt), NULL, 0);
	else
		px_answer(r, 200, format_type(fmt), body, len);
	free(body);
}

/* ------------------------------------------------------------------ account */

/* 1 for the metadata names that hold a temp URL key (account or container, key or
 * key-2): they sign writes, so only who may write sees them, as Swift shows them only
 * to the owner. */
static int temp_url_key_name(const char *name)
{
	static const char *const names[] = {
	    "X-Account-Meta-Temp-Url-Key", "X-Account-Meta-Temp-Url-Key-2",
	    "X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(name, names[i]))
			return 1;
	return 0;
}

static void account_headers(struct px_req *r, const struct swift_req *q,
                            const struct store_account_info *ai)
{
	add_u64(r, "X-Account-Container-Count", ai->container_count);
	add_u64(r, "X-Account-Object-Count", ai->object_count);
	add_u64(r, "X-Account-Bytes-Used", ai->bytes_used);
	/* the one storage policy's usage, as Swift reports per policy */
	add_u64(r, "X-Account-Storage-Policy-Policy-0-Container-Count", ai->container_count);
	add_u64(r, "X-Account-Storage-Policy-Policy-0-Object-Count", ai->object_count);
	add_u64(r, "X-Account-Storage-Policy-Policy-0-Bytes-Used", ai->bytes_used);
	char ts[STORE_TS_LEN];
	store_ts_now(ts);
	px_add_header(r, "X-Timestamp", ts);
	px_add_header(r, "X-Put-Timestamp", ts);
	/* the account's key signs URLs for every container: a reader must not see it */
	int keys_shown =
	    q->authed &&
	    (q->who.admin || (!strcmp(q->account + 5, q->who.project_id) && q->who.writer));
	for (int i = 0; i < ai->nkv; i++)
		if (keys_shown || !temp_url_key_name(ai->kv[i].name))
			add_kv(r, &ai->kv[i], 1);
}

static void account_get(struct px_req *r, struct swift_req *q)
{
	struct store_account_info ai;
	enum store_err e = store_account_head(px_store(r), q->account, &ai);
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	account_headers(r, q, &ai);
	store_account_info_release(&ai);
	if (!strcmp(px_method(r), "HEAD")) {
		px_answer(r, 204, format_type(listing_format(r)), NULL, 0);
		return;
	}
	struct store_list_query lq;
	struct store_list l = {0};
	int rc = list_query(r, &lq);
	if (rc < 0)
		return;
	reverse_query(r, &lq);
	if (rc == 0 && (e = store_list_containers(px_store(r), q->account, &lq, &l)) != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	answer_listing(r, &l, 'a', q->account);
	store_list_release(&l);
}

static void account_post(struct px_req *r, struct swift_req *q)
{
	if (collect_meta(r, q, "X-Account-Meta-", "X-Remove-Account-Meta-", 0) < 0)
		return;
	/* the project's quota is the operator's to set, as Swift's reseller admin does */
	for (int i = 0; i < q->nkv; i++)
		if (!strncasecmp(q->kv[i].name, "X-Account-Meta-Quota-", 21) && !q->who.admin) {
			swift_answer_err(r, 403, "Only an admin may set the account's quota.");
			return;
		}
	enum store_err e = store_account_post(px_store(r), q->account, q->kv, q->nkv);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, 204, "text/html; charset=UTF-8", NULL, 0);
}

/* ------------------------------------------------------------------ container */

static void container_get(struct px_req *r, struct swift_req *q)
{
	struct store_container_info ci;
	enum store_err e = store_container_head(px_store(r), q->account, q->container, &ci);
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	add_u64(r, "X-Container-Object-Count", ci.object_count);
	add_u64(r, "X-Container-Bytes-Used", ci.bytes_used);
	px_add_header(r, "X-Timestamp", ci.created);
	px_add_header(r, "X-Put-Timestamp", ci.created);
	char lm[64];
	ts_http(ci.created, lm, sizeof(lm));
	px_add_header(r, "Last-Modified", lm);
	px_add_header(r, "Accept-Ranges", "bytes");
	px_add_header(r, "X-Storage-Policy", "Policy-0");
	/* a temp URL key signs writes: shown only to who may write the container itself (a
	 * reader through an ACL would sign PUT and DELETE URLs with it), as Swift does */
	int keys_shown = swift_container_allows(r, q, q->container, 1, 0);
	for (int i = 0; i < ci.nkv; i++)
		if (keys_shown || !temp_url_key_name(ci.kv[i].name))
			add_kv(r, &ci.kv[i], 1);
	store_container_info_release(&ci);
	if (!strcmp(px_method(r), "HEAD")) {
		px_answer(r, 204, format_type(listing_format(r)), NULL, 0);
		return;
	}
	struct store_list_query lq;
	struct store_list l = {0};
	int rc = list_query(r, &lq);
	if (rc < 0)
		return;
	reverse_query(r, &lq);
	if (rc == 0 &&
	    (e = store_list_objects(px_store(r), q->account, q->container, &lq, &l)) != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	answer_listing(r, &l, 'c', q->container);
	store_list_release(&l);
}

static void container_put(struct px_req *r, struct swift_req *q)
{
	if (strlen(q->container) > STORE_MAX_CONTAINER) {
		char why[96];
		snprintf(why, sizeof(why), "Container name length of %zu longer than %d",
		         strlen(q->container), STORE_MAX_CONTAINER);
		swift_answer_err(r, 400, why);
		return;
	}
	if (collect_meta(r, q, "X-Container-Meta-", "X-Remove-Container-Meta-", 0) < 0)
		return;
	int created = 0;
	enum store_err e =
	    store_container_put(px_store(r), q->account, q->container, q->kv, q->nkv, &created);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, created ? 201 : 202, "text/html; charset=UTF-8", NULL, 0);
}

static void container_post(struct px_req *r, struct swift_req *q)
{
	if (collect_meta(r, q, "X-Container-Meta-", "X-Remove-Container-Meta-", 0) < 0)
		return;
	enum store_err e =
	    store_container_post(px_store(r), q->account, q->container, q->kv, q->nkv);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, 204, "text/html; charset=UTF-8", NULL, 0);
}

static void container_delete(struct px_req *r, struct swift_req *q)
{
	enum store_err e = store_container_delete(px_store(r), q->account, q->container);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, 204, "text/html; charset=UTF-8", NULL, 0);
}

/* ------------------------------------------------------------------ object */

int swift_expired(const struct store_meta *m)
{
	const char *da = store_meta_get(m, "X-Delete-At");
	return da && *da && strtoll(da, NULL, 10) <= (long long)time(NULL);
}

/* An expired object met by a read: queued for the expirer should its listing row not
 * know its expiry (a version written before migration 0029). */
static void expired_note(struct px_req *r, const struct swift_req *q, const struct store_meta *m)
{
	store_expiry_note(px_store(r), q->account, q->container, q->object, m->timestamp,
	                  store_delete_at_parse(store_meta_get(m, "X-Delete-At")));
}

static void object_headers(struct px_req *r, const struct store_meta *m, int large)
{
	char lm[64], et[40];
	px_add_header(r, "Content-Type",
	              m->content_type[0] ? m->content_type : "application/octet-stream");
	snprintf(et, sizeof(et), large ? "\"%s\"" : "%s", m->etag); /* Swift quotes LO ETags */
	px_add_header(r, "Etag", et);
	px_add_header(r, "X-Timestamp", m->timestamp);
	ts_http(m->timestamp, lm, sizeof(lm));
	px_add_header(r, "Last-Modified", lm);
	px_add_header(r, "Accept-Ranges", "bytes");
	add_kv(r, m->kv, m->nkv);
}

/* One entity tag of an If-Match / If-None-Match list matches etag. */
static int etag_matches(const char *list, const char *etag)
{
	char *copy = xstrdup(list), *save = NULL;
	int hit = 0;
	for (char *t = strtok_r(copy, ", ", &save); t && !hit; t = strtok_r(NULL, ", ", &save)) {
		if (!strncmp(t, "W/", 2))
			t += 2;
		size_t n = strlen(t);
		if (n >= 2 && t[0] == '"' && t[n - 1] == '"') {
			t[n - 1] = '\0';
			t++;
		}
		hit = !strcmp(t, "*") || !strcmp(t, etag);
	}
	free(copy);
	return hit;
}

static time_t http_date(const char *s)
{
	struct tm tm = {0};
	if (!s || !strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm))
		return (time_t)-1;
	return timegm(&tm);
}

/* The conditional headers against m: 0 to go on, else the status (304/412). */
static int conditions(struct px_req *r, const struct store_meta *m)
{
	const char *im = px_header(r, "If-Match"), *inm = px_header(r, "If-None-Match");
	time_t sec;
	long usec;
	ts_split(m->timestamp, &sec, &usec);
	if (usec)
		sec++;
	if (im && !etag_matches(im, m->etag))
		return 412;
	if (inm && etag_matches(inm, m->etag))
		return 304;
	time_t ims = http_date(px_header(r, "If-Modified-Since"));
	if (!inm && ims != (time_t)-1 && sec <= ims)
		return 304;
	time_t ius = http_date(px_header(r, "If-Unmodified-Since"));
	if (!im && ius != (time_t)-1 && sec > ius)
		return 412;
	return 0;
}

/* "bytes=A-B" / "bytes=A-" / "bytes=-N": first/last for store_get_open; 0 when the header
 * is absent or not a single range (the whole object is sent). */
static int parse_range(const char *h, int64_t *first, int64_t *last)
{
	*first = 0;
	*last = -1;
	if (!h || strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	const char *p = h + 6;
	char *end;
	if (*p == '-') {
		if (!isdigit((unsigned char)p[1]))
			return 0;
		long long n = strtoll(p + 1, &end, 10);
		if (*end)
			return 0;
		*first = -1;
		*last = n;
		return 1;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	long long a = strtoll(p, &end, 10);
	if (*end != '-')
		return 0;
	p = end + 1;
	if (!*p) {
		*first = a;
		return 1;
	}
	if (!isdigit((unsigned char)*p))
		return 0;
	long long b = strtoll(p, &end, 10);
	if (*end || b < a)
		return 0;
	*first = a;
	*last = b;
	return 1;
}

/* 'd' for a dynamic, 's' for a static large object served as one, 0 otherwise (also
 * with ?multipart-manifest=get, which asks for the manifest itself). */
static int largeobj_kind(struct px_req *r, const struct store_meta *m)
{
	const char *mm = px_query(r, "multipart-manifest");
	if (mm && !strcmp(mm, "get"))
		return 0;
	const char *slo = store_meta_get(m, "X-Static-Large-Object");
	if (slo && !strcasecmp(slo, "true"))
		return 's';
	return store_meta_get(m, "X-Object-Manifest") ? 'd' : 0;
}

/* GET/HEAD of a large object: its segments one after the other. Takes m. */
static void object_get_large(struct px_req *r, struct swift_req *q, struct store_meta *m,
                             int64_t first, int64_t last, int ranged)
{
	struct largeobj lo;
	enum store_err e =
	    largeobj_kind(r, m) == 's'
	        ? largeobj_slo_load(px_store(r), q->account, q->container, q->object, &lo)
	        : largeobj_dlo_load(px_store(r), q->account, store_meta_get(m, "X-Object-Manifest"),
	                            &lo);
	if (e != STORE_OK) {
		store_meta_release(m);
		swift_answer_store_err(r, e);
		return;
	}
	if (segments_denied(r, q, &lo, 0) >= 0) { /* a segment the caller may not read */
		largeobj_release(&lo);
		store_meta_release(m);
		answer_denied(r, q);
		return;
	}
	m->size = lo.size;
	memcpy(m->etag, lo.etag, sizeof(m->etag));
	if (swift_expired(m)) {
		expired_note(r, q, m);
		largeobj_release(&lo);
		store_meta_release(m);
		swift_answer_store_err(r, STORE_NOT_FOUND);
		return;
	}
	int cond = conditions(r, m);
	tempurl_outgoing(r, q, m);
	object_headers(r, m, 1);
	store_meta_release(m);
	if (cond) {
		largeobj_release(&lo);
		if (cond == 304)
			px_answer(r, 304, NULL, NULL, 0);
		else
			swift_answer_err(r, 412, "Precondition Failed");
		return;
	}
	uint64_t size = lo.size, off, len;
	struct largeobj_get *g;
	e = largeobj_get_open(px_store(r), q->account, &lo, ranged ? first : 0, ranged ? last : -1,
	                      &off, &len, &g);
	if (e == STORE_RANGE) {
		char cr[64];
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
		px_add_header(r, "Content-Range", cr);
		swift_answer_err(r, 416, "Requested Range Not Satisfiable");
		return;
	}
	int status = 200;
	if (ranged) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
		         (unsigned long long)(len ? off + len - 1 : 0), (unsigned long long)size);
		px_add_header(r, "Content-Range", cr);
		status = 206;
	}
	px_answer_stream(r, status, len, largeobj_get_read, largeobj_get_close, g);
}

void swift_object_get(struct px_req *r, struct swift_req *q)
{
	int64_t first, last;
	int ranged = parse_range(px_header(r, "Range"), &first, &last);
	struct store_meta m;
	uint64_t off, len;
	struct store_get *g = NULL;
	enum store_err e;
	const char *xn = px_header(r, "X-Newest");
	int newest = xn && (!strcasecmp(xn, "true") || !strcmp(xn, "1") || !strcasecmp(xn, "yes") ||
	                    !strcasecmp(xn, "on") || !strcasecmp(xn, "t") || !strcasecmp(xn, "y"));
	if (!strcmp(px_method(r), "HEAD")) {
		e = (newest ? store_head_newest : store_head)(px_store(r), q->account, q->container,
		                                              q->object, &m);
		off = 0;
		len = m.size;
		ranged = 0;
	} else
		e = (newest ? store_get_open_newest
		            : store_get_open)(px_store(r), q->account, q->container, q->object,
		                              first, last, &m, &off, &len, &g);
	if (e == STORE_RANGE &&
	    store_head(px_store(r), q->account, q->container, q->object, &m) == STORE_OK) {
		/* a manifest's own bytes are not the object's: a range past them may fit */
		if (largeobj_kind(r, &m)) {
			object_get_large(r, q, &m, first, last, ranged);
			return;
		}
		store_meta_release(&m);
		e = STORE_RANGE;
	}
	if (e == STORE_OK && largeobj_kind(r, &m)) {
		store_get_close(g);
		object_get_large(r, q, &m, first, last, ranged);
		return;
	}
	if (e == STORE_RANGE) {
		char cr[64];
		snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)m.size);
		px_add_header(r, "Content-Range", cr);
		swift_answer_err(r, 416, "Requested Range Not Satisfiable");
		return;
	}
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	if (swift_expired(&m)) {
		expired_note(r, q, &m);
		store_get_close(g);
		store_meta_release(&m);
		swift_answer_store_err(r, STORE_NOT_FOUND);
		return;
	}
	int cond = conditions(r, &m);
	tempurl_outgoing(r, q, &m);
	object_headers(r, &m, 0);
	if (cond) {
		store_get_close(g);
		store_meta_release(&m);
		if (cond == 304)
			px_answer(r, 304, NULL, NULL, 0);
		else
			swift_answer_err(r, 412, "Precondition Failed");
		return;
	}
	int status = 200;
	if (ranged && !(off == 0 && len == m.size && first == 0)) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)off,
		         (unsigned long long)(off + len - 1), (unsigned long long)m.size);
		px_add_header(r, "Content-Range", cr);
		status = 206;
	} else if (ranged) {
		char cr[96];
		snprintf(cr, sizeof(cr), "bytes 0-%llu/%llu",
		         (unsigned long long)(len ? len - 1 : 0), (unsigned long long)m.size);
		px_add_header(r, "Content-Range", cr);
		status = 206;
	}
	store_meta_release(&m);
	if (g)
		px_answer_get(r, status, g, len);
	else
		px_answer_head(r, status, len);
}

/* "container/object" (URL-encoded, optional leading '/') into its parts. */
static int split_copy_path(const char *v, char **c, char **o)
{
	*c = *o = NULL;
	char *d = px_unescape(v, 0);
	if (!d)
		return -EINVAL;
	const char *p = d[0] == '/' ? d + 1 : d;
	const char *s = strchr(p, '/');
	if (!s || s == p || !s[1]) {
		free(d);
		return -EINVAL;
	}
	*c = xstrndup(p, (size_t)(s - p));
	*o = xstrdup(s + 1);
	free(d);
	return 0;
}

/* Swift's container_quotas and account_quotas (objquota.h): a write of len bytes into
 * container that would take it or the account past a quota is refused with 413. len -1
 * (chunked): the bytes are counted as they come (q->quota_left). 0, or -EDQUOT (answered). */
static int quota_check(struct px_req *r, struct swift_req *q, const char *container, int64_t len)
{
	if (objquota_over(px_store(r), q->account, container, 1, len, &q->quota_left)) {
		swift_answer_err(r, 413, "Upload exceeds quota.");
		return -EDQUOT;
	}
	return 0;
}

/* Copies src to the request's object: the source's metadata with the request's on top. */
static void object_copy(struct px_req *r, struct swift_req *q, const char *sc, const char *so,
                        const char *dc, const char *dobj)
{
	struct store_meta src, m;
	/* the source is read and the destination written as the caller */
	if (!swift_container_allows(r, q, sc, 0, 1) || !swift_container_allows(r, q, dc, 1, 1)) {
		answer_denied(r, q);
		return;
	}
	enum store_err e = store_head_newest(px_store(r), q->account, sc, so, &src);
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	if (quota_check(r, q, dc, (int64_t)src.size) < 0) { /* a copy counts as Swift's does */
		store_meta_release(&src);
		return;
	}
	struct store_kv kv[STORE_MAX_META];
	int n = 0;
	const char *fresh = px_header(r, "X-Fresh-Metadata");
	int keep = !(fresh && (!strcasecmp(fresh, "true") || !strcmp(fresh, "1")));
	for (int i = 0; keep && i < src.nkv && n < STORE_MAX_META; i++) {
		int overridden = 0;
		for (int k = 0; k < q->nkv; k++)
			overridden |= !strcasecmp(q->kv[k].name, src.kv[i].name);
		if (!overridden)
			kv[n++] = src.kv[i];
	}
	for (int k = 0; k < q->nkv && n < STORE_MAX_META; k++)
		kv[n++] = q->kv[k];
	const char *ct = px_header(r, "Content-Type");
	char src_ts[STORE_TS_LEN];
	memcpy(src_ts, src.timestamp, sizeof(src_ts));
	memset(&m, 0, sizeof(m));
	e = store_copy(px_store(r), q->account, sc, so, q->account, dc, dobj, kv, n,
	               ct ? ct : src.content_type, &m);
	if (e == STORE_OK)
		add_kv(r, kv, n); /* Swift's copy answers with the new object's metadata */
	store_meta_release(&src);
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	char lm[64];
	px_add_header(r, "Etag", m.etag);
	ts_http(m.timestamp, lm, sizeof(lm));
	px_add_header(r, "Last-Modified", lm);
	/* Swift's X-Copied-From: the source as <container>/<object>, URL-quoted */
	char *qc = oc_quote(sc), *qo = oc_quote(so), *from = xasprintf("%s/%s", qc, qo);
	px_add_header(r, "X-Copied-From", from);
	free(qc);
	free(qo);
	free(from);
	ts_http(src_ts, lm, sizeof(lm));
	px_add_header(r, "X-Copied-From-Last-Modified", lm);
	store_meta_release(&m);
	px_answer(r, 201, "text/html; charset=UTF-8", NULL, 0);
}

static void object_put_begin(struct px_req *r, struct swift_req *q)
{
	if (strlen(q->object) > STORE_MAX_OBJECT_NAME) {
		char why[96];
		snprintf(why, sizeof(why), "Object name length of %zu longer than %d",
		         strlen(q->object), STORE_MAX_OBJECT_NAME);
		swift_answer_err(r, 400, why);
		return;
	}
	if (collect_meta(r, q, "X-Object-Meta-", NULL, 1) < 0)
		return;
	const char *te = px_header(r, "Transfer-Encoding");
	int64_t len = px_content_length(r);
	if (len < 0 && !(te && !strcasecmp(te, "chunked"))) {
		swift_answer_err(r, 411, "Length Required");
		return;
	}
	if (len > (int64_t)STORE_MAX_OBJECT) {
		swift_answer_store_err(r, STORE_TOO_LARGE);
		return;
	}
	const char *from = px_header(r, "X-Copy-From");
	if (from) {
		char *sc, *so;
		if (split_copy_path(from, &sc, &so) < 0) {
			swift_answer_err(
			    r, 412,
			    "X-Copy-From header must be of the form <container name>/<object "
			    "name>");
			return;
		}
		object_copy(r, q, sc, so, q->container, q->object);
		free(sc);
		free(so);
		return;
	}
	if (quota_check(r, q, q->container, len) < 0)
		return;
	const char *ct = px_header(r, "Content-Type");
	snprintf(q->content_type, sizeof(q->content_type), "%s",
	         ct && *ct ? ct : "application/octet-stream");
	const char *mm = px_query(r, "multipart-manifest");
	if (mm && !strcmp(mm, "put")) {
		if (len > (int64_t)LARGEOBJ_MAX_MANIFEST) {
			swift_answer_err(r, 413, "Manifest File > 2097152 bytes");
			return;
		}
		q->slo = 1; /* the body is gathered, checked and stored by slo_put_finish */
		return;
	}
	const char *etag = px_header(r, "Etag");
	char et[40] = "";
	if (etag) {
		snprintf(et, sizeof(et), "%s", etag[0] == '"' ? etag + 1 : etag);
		char *qt = strchr(et, '"');
		if (qt)
			*qt = '\0';
	}
	struct store_put_opts o = {.length = len,
	                           .etag = et[0] ? et : NULL,
	                           .content_type = q->content_type,
	                           .kv = q->kv,
	                           .nkv = q->nkv};
	enum store_err e =
	    store_put_begin(px_store(r), q->account, q->container, q->object, &o, &q->put);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
}

static void object_put_finish(struct px_req *r, struct swift_req *q)
{
	if (!q->put) {
		swift_answer_store_err(r, STORE_INTERNAL);
		return;
	}
	if (q->put_err != STORE_OK) {
		store_put_abort(q->put);
		q->put = NULL;
		swift_answer_store_err(r, q->put_err);
		return;
	}
	struct store_meta m;
	enum store_err e = store_put_finish(q->put, &m);
	q->put = NULL;
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	char lm[64];
	px_add_header(r, "Etag", m.etag);
	ts_http(m.timestamp, lm, sizeof(lm));
	px_add_header(r, "Last-Modified", lm);
	store_meta_release(&m);
	px_answer(r, 201, "text/html; charset=UTF-8", NULL, 0);
}

static void object_post(struct px_req *r, struct swift_req *q)
{
	if (collect_meta(r, q, "X-Object-Meta-", NULL, 1) < 0)
		return;
	/* a static large object stays one: its marker and sysmeta survive a POST */
	struct store_meta cur;
	if (store_head_newest(px_store(r), q->account, q->container, q->object, &cur) == STORE_OK) {
		int bad = 0;
		for (int i = 0; i < cur.nkv; i++)
			if (!strcasecmp(cur.kv[i].name, "X-Static-Large-Object") ||
			    !strncasecmp(cur.kv[i].name, "X-Object-Sysmeta-", 17))
				kv_add(q, cur.kv[i].name, cur.kv[i].value, &bad);
		store_meta_release(&cur);
	}
	enum store_err e = store_post(px_store(r), q->account, q->container, q->object, q->kv,
	                              q->nkv, px_header(r, "Content-Type"));
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, 202, "text/html; charset=UTF-8", NULL, 0);
}

static void slo_delete(struct px_req *r, struct swift_req *q);

static void object_delete(struct px_req *r, struct swift_req *q)
{
	const char *mm = px_query(r, "multipart-manifest");
	if (mm && !strcmp(mm, "delete")) {
		slo_delete(r, q);
		return;
	}
	enum store_err e = store_delete(px_store(r), q->account, q->container, q->object);
	if (e != STORE_OK)
		swift_answer_store_err(r, e);
	else
		px_answer(r, 204, "text/html; charset=UTF-8", NULL, 0);
}

static void object_copy_method(struct px_req *r, struct swift_req *q)
{
	const char *dest = px_header(r, "Destination");
	char *dc, *dobj;
	if (!dest || split_copy_path(dest, &dc, &dobj) < 0) {
		swift_answer_err(r, 412,
		                 "Destination header must be of the form <container name>/<object "
		                 "name>");
		return;
	}
	if (collect_meta(r, q, "X-Object-Meta-", NULL, 1) == 0)
		object_copy(r, q, q->container, q->object, dc, dobj);
	free(dc);
	free(dobj);
}

/* ?multipart-manifest=put: checks the segments and stores the manifest object. */
static void slo_put_finish(struct px_req *r, struct swift_req *q)
{
	if (q->put_err != STORE_OK) {
		swift_answer_err(r, 413, "Manifest File > 2097152 bytes");
		return;
	}
	struct largeobj lo;
	char why[512];
	struct seg_auth sa = {r, q};
	enum store_err e =
	    largeobj_slo_check(px_store(r), q->account, q->slo_body ? q->slo_body : "", q->slo_len,
	                       seg_may_read, &sa, &lo, why, sizeof(why));
	if (e == STORE_BAD_REQUEST) {
		px_answer(r, 400, "text/plain; charset=UTF-8", why, strlen(why));
		return;
	}
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	char *body = largeobj_slo_format(&lo), size[32];
	snprintf(size, sizeof(size), "%llu", (unsigned long long)lo.size);
	struct store_kv kv[STORE_MAX_META];
	int n = 0;
	for (int i = 0; i < q->nkv && n < STORE_MAX_META - 3; i++)
		if (strcasecmp(q->kv[i].name, "X-Object-Manifest"))
			kv[n++] = q->kv[i];
	kv[n++] = (struct store_kv){"X-Static-Large-Object", "True"};
	kv[n++] = (struct store_kv){LARGEOBJ_SLO_ETAG, lo.etag};
	kv[n++] = (struct store_kv){LARGEOBJ_SLO_SIZE, size};
	struct store_put_opts o = {
	    .length = (int64_t)strlen(body), .content_type = q->content_type, .kv = kv, .nkv = n};
	struct store_put *p;
	struct store_meta m;
	e = store_put_begin(px_store(r), q->account, q->container, q->object, &o, &p);
	if (e == STORE_OK && (e = store_put_write(p, body, strlen(body))) != STORE_OK)
		store_put_abort(p);
	else if (e == STORE_OK)
		e = store_put_finish(p, &m);
	free(body);
	if (e != STORE_OK) {
		largeobj_release(&lo);
		swift_answer_store_err(r, e);
		return;
	}
	char lm[64], et[40];
	snprintf(et, sizeof(et), "\"%s\"", lo.etag);
	px_add_header(r, "Etag", et);
	ts_http(m.timestamp, lm, sizeof(lm));
	px_add_header(r, "Last-Modified", lm);
	store_meta_release(&m);
	largeobj_release(&lo);
	px_answer(r, 201, "text/html; charset=UTF-8", NULL, 0);
}

/* DELETE ?multipart-manifest=delete of an SLO: its segments, then the manifest; Swift's
 * bulk-delete report (JSON when asked, else plain text). */
static void slo_delete(struct px_req *r, struct swift_req *q)
{
	struct store_meta m;
	enum store_err e = store_head_newest(px_store(r), q->account, q->container, q->object, &m);
	if (e != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	const char *slo = store_meta_get(&m, "X-Static-Large-Object");
	int is_slo = slo && !strcasecmp(slo, "true");
	store_meta_release(&m);
	struct largeobj lo = {0};
	if (is_slo && (e = largeobj_slo_load(px_store(r), q->account, q->container, q->object,
	                                     &lo)) != STORE_OK) {
		swift_answer_store_err(r, e);
		return;
	}
	unsigned deleted = 0, missing = 0, errors = 0;
	if (segments_denied(r, q, &lo, 1) >= 0) { /* Swift deletes nothing then */
		largeobj_release(&lo);
		answer_denied(r, q);
		return;
	}
	for (size_t i = 0; i <= lo.n; i++) {
		e = i < lo.n ? store_delete(px_store(r), q->account, lo.seg[i].container,
		                            lo.seg[i].object)
		             : store_delete(px_store(r), q->account, q->container, q->object);
		deleted += e == STORE_OK;
		missing += e == STORE_NOT_FOUND;
		errors += e != STORE_OK && e != STORE_NOT_FOUND;
	}
	largeobj_release(&lo);
	const char *acc = px_header(r, "Accept");
	const char *status = errors ? "400 Bad Request" : "200 OK";
	char body[512];
	int len;
	if (acc && strstr(acc, "application/json")) {
		len = snprintf(body, sizeof(body),
		               "{\"Number Deleted\": %u, \"Number Not Found\": %u, \"Response "
		               "Body\": \"\", \"Response Status\": \"%s\", \"Errors\": []}",
		               deleted, missing, status);
		px_answer(r, 200, "application/json; charset=utf-8", body, (size_t)len);
	} else {
		len = snprintf(body, sizeof(body),
		               "Number Deleted: %u\nNumber Not Found: %u\nResponse Body: \n"
		               "Response Status: %s\nErrors: \n",
		               deleted, missing, status);
		px_answer(r, 200, "text/plain; charset=utf-8", body, (size_t)len);
	}
}

/* ------------------------------------------------------------------ dispatch */

struct swift_op {
	char level; /* 'a', 'c', 'o' */
	const char *method;
	int write;
	void (*fn)(struct px_req *r, struct swift_req *q);
};

static const struct swift_op swift_ops[] = {
    {'a', "GET", 0, account_get},      {'a', "HEAD", 0, account_get},
    {'a', "POST", 1, account_post},    {'c', "GET", 0, container_get},
    {'c', "HEAD", 0, container_get},   {'c', "PUT", 1, container_put},
    {'c', "POST", 1, container_post},  {'c', "DELETE", 1, container_delete},
    {'o', "GET", 0, swift_object_get}, {'o', "HEAD", 0, swift_object_get},
    {'o', "PUT", 1, object_put_begin}, {'o', "POST", 1, object_post},
    {'o', "DELETE", 1, object_delete}, {'o', "COPY", 1, object_copy_method},
};

static int swift_match(const char *raw_path, const char *host)
{
	return !strncmp(raw_path, "/v1/", 4) || !strcmp(raw_path, "/info") ||
	       !strcmp(raw_path, "/healthcheck");
}

static void swift_info(struct px_req *r)
{
	json_t *sw = json_object();
	json_object_set_new(sw, "version", json_string("2.30.0"));
	json_object_set_new(sw, "max_file_size", json_integer((json_int_t)STORE_MAX_OBJECT));
	json_object_set_new(sw, "container_listing_limit", json_integer(SWIFT_LISTING_LIMIT));
	json_object_set_new(sw, "account_listing_limit", json_integer(SWIFT_LISTING_LIMIT));
	json_object_set_new(sw, "max_meta_name_length", json_integer(SWIFT_MAX_META_NAME));
	json_object_set_new(sw, "max_meta_value_length", json_integer(SWIFT_MAX_META_VALUE));
	json_object_set_new(sw, "max_meta_count", json_integer(SWIFT_MAX_META_COUNT));
	json_object_set_new(sw, "max_meta_overall_size", json_integer(STORE_MAX_META_BYTES));
	json_object_set_new(sw, "max_header_size", json_integer(8192));
	json_object_set_new(sw, "max_object_name_length", json_integer(STORE_MAX_OBJECT_NAME));
	json_object_set_new(sw, "max_container_name_length", json_integer(STORE_MAX_CONTAINER));
	json_object_set_new(sw, "extra_header_count", json_integer(0));
	json_object_set_new(sw, "strict_cors_mode", json_true());
	json_object_set_new(sw, "policies",
	                    json_pack("[{s:s,s:b}]", "name", "Policy-0", "default", 1));
	json_t *j =
	    json_pack("{s:o,s:{s:i,s:i,s:i,s:i},s:{s:i},s:{}}", "swift", sw, "slo",
	              "max_manifest_segments", LARGEOBJ_MAX_SEGMENTS, "max_manifest_size",
	              (int)LARGEOBJ_MAX_MANIFEST, "min_segment_size", LARGEOBJ_MIN_SEGMENT,
	              "yield_frequency", 10, "dlo", "max_segments", 10000, "container_quotas");
	json_object_set_new(j, "account_quotas", json_object());
	json_object_set_new(j, "staticweb", json_object());
	json_object_set_new(j, "formpost", json_object());
	json_object_set_new(j, "bulk_delete",
	                    json_pack("{s:i,s:i}", "max_deletes_per_request", BULK_MAX_DELETES,
	                              "max_failed_deletes", BULK_MAX_FAILED));
	json_object_set_new(j, "bulk_upload",
	                    json_pack("{s:i,s:i}", "max_containers_per_extraction",
	                              BULK_MAX_CONTAINERS, "max_failed_extractions",
	                              BULK_MAX_FAILED));
	json_object_set_new(
	    j, "tempurl",
	    json_pack("{s:[sssss],s:[s],s:[],s:[s],s:[s],s:[sss]}", "methods", "GET", "HEAD", "PUT",
	              "POST", "DELETE", "incoming_remove_headers", "x-timestamp",
	              "incoming_allow_headers", "outgoing_remove_headers", "x-object-meta-*",
	              "outgoing_allow_headers", "x-object-meta-public-*", "allowed_digests", "sha1",
	              "sha256", "sha512"));
	char *s = json_dumps(j, JSON_COMPACT);
	px_answer(r, 200, "application/json; charset=utf-8", s, strlen(s));
	free(s);
	json_decref(j);
}

static void swift_begin(struct px_req *r)
{
	const char *path = px_raw_path(r), *m = px_method(r);
	if (!strcmp(path, "/info") || !strcmp(path, "/healthcheck")) {
		if (strcmp(m, "GET") && strcmp(m, "HEAD"))
			swift_answer_err(r, 405, "Method Not Allowed");
		else if (!strcmp(path, "/info"))
			swift_info(r);
		else
			px_answer(r, 200, "text/plain", "OK", 2);
		return;
	}
	struct swift_req *q = xcalloc(1, sizeof(*q));
	px_set_state(r, q);
	if (swift_path_parse(path, &q->account, &q->container, &q->object) < 0) {
		swift_answer_err(r, 400, "Invalid path.");
		return;
	}
	if (!store_account_name_ok(q->account)) {
		swift_answer_err(r, 400, "Invalid account.");
		return;
	}
	if ((q->container && !store_container_name_ok(q->container) &&
	     strlen(q->container) <= STORE_MAX_CONTAINER) ||
	    (q->object && !store_object_name_ok(q->object) &&
	     strlen(q->object) <= STORE_MAX_OBJECT_NAME)) {
		swift_answer_err(r, 412, "Invalid UTF8 or contains NULL");
		return;
	}
	char level = q->object ? 'o' : q->container ? 'c' : 'a';
	const struct swift_op *op = NULL;
	for (size_t i = 0; i < sizeof(swift_ops) / sizeof(swift_ops[0]); i++)
		if (swift_ops[i].level == level && !strcmp(swift_ops[i].method, m))
			op = &swift_ops[i];
	int bulk = bulk_kind(r);
	if (!op && !bulk) {
		px_add_header(r, "Allow",
		              level == 'a'   ? "GET, HEAD, POST"
		              : level == 'c' ? "GET, HEAD, PUT, POST, DELETE"
		                             : "GET, HEAD, PUT, POST, DELETE, COPY");
		swift_answer_err(r, 405, "Method Not Allowed");
		return;
	}
	/* a form POST is decided by its signature, whatever token comes with it */
	if (!bulk && formpost_begin(r, q))
		return;
	if (px_query_has(r, "temp_url_sig") || px_query_has(r, "temp_url_expires")) {
		if (bulk) /* a temp URL signs one object's method, never a bulk request */
			swift_answer_err(r, 401, "Temp URL invalid");
		else if (tempurl_authorize(r, q) == 0)
			op->fn(r, q);
		return;
	}
	const char *token = px_header(r, "X-Auth-Token");
	if (!token)
		token = px_header(r, "X-Storage-Token");
	if (token && *token) {
		int rc = swift_auth ? objauth_check(swift_auth, token, &q->who) : -EIO;
		if (rc == -EIO) {
			swift_answer_err(r, 503, "The identity service did not answer.");
			return;
		}
		q->authed = rc == 0;
		if (!q->authed) {
			swift_answer_err(r, 401,
			                 "This server could not verify that you are authorized.");
			return;
		}
		/* a token limited to one account (a storage agent's, for a backup) */
		if (q->who.only_account[0] && strcmp(q->account, q->who.only_account)) {
			swift_answer_err(r, 403, "This token is limited to another account.");
			return;
		}
	}
	if (bulk) {
		bulk_begin(r, q, bulk);
		return;
	}
	if (staticweb_serve(r, q))
		return;
	if (swift_authorize(r, q, op->write) < 0)
		return;
	op->fn(r, q);
}

static int swift_body(struct px_req *r, const char *data, size_t n)
{
	struct swift_req *q = px_state(r);
	if (q && q->bulk)
		return bulk_body(q->bulk, data, n);
	if (q && q->formpost)
		return formpost_body(q, data, n);
	if (q && q->slo) {
		if (q->slo_len + n > LARGEOBJ_MAX_MANIFEST) {
			q->put_err = STORE_TOO_LARGE;
			return 1;
		}
		q->slo_body = xrealloc(q->slo_body, q->slo_len + n + 1);
		memcpy(q->slo_body + q->slo_len, data, n);
		q->slo_len += n;
		return 0;
	}
	if (!q || !q->put)
		return 1;
	if (q->quota_left >= 0) {
		if ((uint64_t)q->quota_left < n) {
			q->put_err = STORE_TOO_LARGE;
			return 1;
		}
		q->quota_left -= (int64_t)n;
	}
	enum store_err e = store_put_write(q->put, data, n);
	if (e != STORE_OK) {
		q->put_err = e;
		return 1;
	}
	return 0;
}

static void swift_finish(struct px_req *r)
{
	struct swift_req *q = px_state(r);
	if (q && q->bulk) {
		bulk_answer(r, q);
		return;
	}
	if (q && q->formpost) {
		formpost_finish(r, q);
		return;
	}
	if (q && q->slo) {
		slo_put_finish(r, q);
		return;
	}
	if (q && q->put) {
		object_put_finish(r, q);
		return;
	}
	swift_answer_store_err(r, STORE_INTERNAL);
}

static void swift_end(struct px_req *r)
{
	struct swift_req *q = px_state(r);
	if (!q)
		return;
	store_put_abort(q->put);
	bulk_free(q->bulk);
	formpost_free(q->formpost);
	free(q->slo_body);
	for (int i = 0; i < q->nkv; i++) {
		free(q->kv[i].name);
		free(q->kv[i].value);
	}
	free(q->account);
	free(q->container);
	free(q->object);
	free(q);
}

const struct px_frontend swift_frontend = {
    .name = "swift",
    .match = swift_match,
    .begin = swift_begin,
    .body = swift_body,
    .finish = swift_finish,
    .end = swift_end,
};

/* Swift's formpost: a signed HTML form uploads files into a container. The body is
 * parsed as it arrives (object-store/multipart.c); fields are kept (bounded), each file
 * is checked against the signature and limits when its part begins and streamed to the
 * replicas part by part. */
#include "formpost.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "markup.h"
#include "multipart.h"
#include "objquota.h"
#include "sigv4.h"
#include "staticweb.h"
#include "store.h"
#include "swift_impl.h"
#include "tempurl.h"
#include "xalloc.h"

/* The fields the form may send (lowercased names, as Swift keys them). */
enum fp_field {
	FP_REDIRECT,
	FP_MAX_FILE_SIZE,
	FP_MAX_FILE_COUNT,
	FP_EXPIRES,
	FP_SIGNATURE,
	FP_X_DELETE_AT,
	FP_X_DELETE_AFTER,
	FP_CONTENT_TYPE,
	FP_CONTENT_ENCODING,
	FP_NFIELDS
};
static const char *const field_names[FP_NFIELDS] = {
    [FP_REDIRECT] = "redirect",
    [FP_MAX_FILE_SIZE] = "max_file_size",
    [FP_MAX_FILE_COUNT] = "max_file_count",
    [FP_EXPIRES] = "expires",
    [FP_SIGNATURE] = "signature",
    [FP_X_DELETE_AT] = "x_delete_at",
    [FP_X_DELETE_AFTER] = "x_delete_after",
    [FP_CONTENT_TYPE] = "content-type",
    [FP_CONTENT_ENCODING] = "content-encoding",
};

struct formpost {
	struct px_req *r;
	struct swift_req *q;
	struct multipart *mp;
	char *field[FP_NFIELDS]; /* owned values, NULL when not sent */
	int cur;                 /* the field being read: its index, -1 another one, -2 a file */
	char value[FORMPOST_MAX_VALUE + 1];
	size_t vlen;
	char *keys[TEMPURL_MAX_KEYS]; /* account key, key-2, container key, key-2 */
	char *path;                   /* the decoded request path, as signed */
	int files;
	struct store_put *put;
	uint64_t got;       /* bytes of the file being written */
	int64_t max_size;   /* its max_file_size */
	int64_t quota_left; /* bytes its container's or account's quota allows, -1: none */
	int status;         /* of the last file written (Swift's sub-request), 0: none */
	char message[128];  /* with it ("max file count exceeded") */
	int fail;           /* 400 or 401: the form itself is refused, never redirected */
	char fail_text[160];
};

/* ------------------------------------------------------------------ pure parts */

int64_t formpost_int(const char *s, int *bad)
{
	if (!s || !*s)
		return 0;
	const char *p = s + (*s == '-' || *s == '+');
	size_t n = strlen(p);
	if (n == 0 || n > 18 || strspn(p, "0123456789") != n) {
		*bad = 1;
		return -1;
	}
	return (int64_t)strtoll(s, NULL, 10);
}

int formpost_sig_ok(const char *sig, const char *path, const char *redirect,
                    const char *max_file_size, const char *max_file_count, const char *expires,
                    const char *const *keys, int nkeys)
{
	char *msg = xasprintf("%s\n%s\n%s\n%s\n%s", path, redirect ? redirect : "",
	                      max_file_size && *max_file_size ? max_file_size : "0",
	                      max_file_count && *max_file_count ? max_file_count : "0",
	                      expires && *expires ? expires : "0");
	int ok = sig && tempurl_mac_ok(sig, msg, keys, nkeys);
	free(msg);
	return ok;
}

char *formpost_location(const char *redirect, int status, const char *message)
{
	char *m = sigv4_uri_encode(message, strlen(message), 0);
	char *loc = xasprintf("%s%cstatus=%d&message=%s", redirect,
	                      strchr(redirect, '?') ? '&' : '?', status, m);
	free(m);
	return loc;
}

/* ------------------------------------------------------------------ the form */

static void form_fail(struct formpost *f, int status, const char *text)
{
	if (f->fail)
		return;
	f->fail = status;
	snprintf(f->fail_text, sizeof(f->fail_text), "FormPost: %s", text);
}

/* The result of one file, as Swift's sub-request status. */
static void file_status(struct formpost *f, int status, const char *message)
{
	f->status = status;
	snprintf(f->message, sizeof(f->message), "%s", message ? message : "");
}

static int has_control(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 1;
	return 0;
}

/* A file part begins: Swift's checks, in its order, then the write. 0 to go on, 1 when
 * the form is decided. */
static int file_begin(struct formpost *f, const struct multipart_part *p)
{
	int bad = 0;
	int64_t max_count = formpost_int(f->field[FP_MAX_FILE_COUNT], &bad);
	if (bad) {
		form_fail(f, 400, "max_file_count not an integer");
		return 1;
	}
	if (++f->files > max_count) {
		file_status(f, 400, "max file count exceeded");
		return 1;
	}
	const char *const *keys = (const char *const *)f->keys;
	if (!keys[0] && !keys[1] && !keys[2] && !keys[3]) {
		form_fail(f, 401, "Invalid Signature");
		return 1;
	}
	f->max_size = formpost_int(f->field[FP_MAX_FILE_SIZE], &bad);
	if (bad) {
		form_fail(f, 400, "max_file_size not an integer");
		return 1;
	}
	int64_t delete_at = formpost_int(f->field[FP_X_DELETE_AT], &bad);
	if (bad) {
		form_fail(f, 400, "x_delete_at not an integer: Unix timestamp required.");
		return 1;
	}
	int64_t after = formpost_int(f->field[FP_X_DELETE_AFTER], &bad);
	if (bad) {
		form_fail(f, 400, "x_delete_after not an integer: Number of seconds required.");
		return 1;
	}
	int64_t expires = formpost_int(f->field[FP_EXPIRES], &bad);
	if (bad) {
		form_fail(f, 400, "expired not an integer");
		return 1;
	}
	if (expires < (int64_t)time(NULL)) {
		form_fail(f, 401, "Form Expired");
		return 1;
	}
	if (!formpost_sig_ok(f->field[FP_SIGNATURE], f->path, f->field[FP_REDIRECT],
	                     f->field[FP_MAX_FILE_SIZE], f->field[FP_MAX_FILE_COUNT],
	                     f->field[FP_EXPIRES], keys, TEMPURL_MAX_KEYS)) {
		form_fail(f, 401, "Invalid Signature");
		return 1;
	}
	/* signed: the file goes to <object part of the path><filename> */
	struct swift_req *q = f->q;
	char *name = xasprintf("%s%s", q->object ? q->object : "",
	                       p->filename[0] ? p->filename : "filename");
	const char *ct = f->field[FP_CONTENT_TYPE] ? f->field[FP_CONTENT_TYPE] : p->content_type;
	const char *ce =
	    f->field[FP_CONTENT_ENCODING] ? f->field[FP_CONTENT_ENCODING] : p->content_encoding;
	struct store_kv kv[2];
	int nkv = 0;
	char at[32];
	if (f->field[FP_X_DELETE_AFTER] && f->field[FP_X_DELETE_AFTER][0])
		delete_at = (int64_t)time(NULL) + after;
	if (delete_at) {
		snprintf(at, sizeof(at), "%lld", (long long)delete_at);
		kv[nkv++] = (struct store_kv){"X-Delete-At", at};
	}
	if (ce && *ce)
		kv[nkv++] = (struct store_kv){"Content-Encoding", (char *)ce};
	struct store_put_opts o = {.length = -1,
	                           .content_type = ct && *ct ? ct : "application/octet-stream",
	                           .kv = kv,
	                           .nkv = nkv};
	enum store_err e = STORE_OK;
	if (delete_at && delete_at <= (int64_t)time(NULL))
		e = STORE_BAD_REQUEST; /* X-Delete-At in past */
	else if (strlen(name) > STORE_MAX_OBJECT_NAME || has_control(ct) || has_control(ce))
		e = STORE_BAD_REQUEST;
	else if (objquota_over(px_store(f->r), q->account, q->container, 1, -1, &f->quota_left))
		e = STORE_TOO_LARGE;
	else
		e = store_put_begin(px_store(f->r), q->account, q->container, name, &o, &f->put);
	free(name);
	f->got = 0;
	if (e != STORE_OK) {
		file_status(f, store_err_status(e), NULL);
		return 1;
	}
	return 0;
}

static int file_data(struct formpost *f, const char *data, size_t n)
{
	f->got += n;
	if ((int64_t)f->got > f->max_size) {
		store_put_abort(f->put);
		f->put = NULL;
		form_fail(f, 400, "max_file_size exceeded");
		return 1;
	}
	if (f->quota_left >= 0 && f->got > (uint64_t)f->quota_left) {
		store_put_abort(f->put);
		f->put = NULL;
		file_status(f, 413, NULL);
		return 1;
	}
	enum store_err e = store_put_write(f->put, data, n);
	if (e != STORE_OK) {
		store_put_abort(f->put);
		f->put = NULL;
		file_status(f, store_err_status(e), NULL);
		return 1;
	}
	return 0;
}

static int file_end(struct formpost *f)
{
	enum store_err e = store_put_finish(f->put, NULL);
	f->put = NULL;
	file_status(f, e == STORE_OK ? 201 : store_err_status(e), NULL);
	return e == STORE_OK ? 0 : 1;
}

static int on_begin(void *arg, const struct multipart_part *p)
{
	struct formpost *f = arg;
	f->vlen = 0;
	if (p->form_data && p->filename[0]) {
		f->cur = -2;
		return file_begin(f, p);
	}
	f->cur = -1;
	for (int i = 0; i < FP_NFIELDS; i++)
		if (!strcasecmp(p->name, field_names[i]))
			f->cur = i;
	return 0;
}

static int on_data(void *arg, const char *data, size_t n)
{
	struct formpost *f = arg;
	if (f->cur == -2)
		return file_data(f, data, n);
	if (f->cur >= 0) { /* a field keeps its first FORMPOST_MAX_VALUE bytes, as Swift's */
		size_t k = FORMPOST_MAX_VALUE - f->vlen < n ? FORMPOST_MAX_VALUE - f->vlen : n;
		memcpy(f->value + f->vlen, data, k);
		f->vlen += k;
	}
	return 0;
}

static int on_end(void *arg)
{
	struct formpost *f = arg;
	if (f->cur == -2)
		return file_end(f);
	if (f->cur >= 0) {
		f->value[f->vlen] = '\0';
		free(f->field[f->cur]);
		f->field[f->cur] = xstrdup(f->value);
	}
	f->cur = -1;
	return 0;
}

static const struct multipart_cb form_cb = {on_begin, on_data, on_end};

/* The keys that may sign: the account's and the container's Temp-URL-Key[-2]. */
static void keys_load(struct formpost *f)
{
	struct store *s = px_store(f->r);
	struct store_account_info ai;
	struct store_container_info ci;
	const char *k[TEMPURL_MAX_KEYS] = {0};
	int have_ai = store_account_head(s, f->q->account, &ai) == STORE_OK;
	int have_ci = store_container_head(s, f->q->account, f->q->container, &ci) == STORE_OK;
	if (have_ai)
		swift_tempurl_keys(ai.kv, ai.nkv, "X-Account-Meta-", k);
	if (have_ci)
		swift_tempurl_keys(ci.kv, ci.nkv, "X-Container-Meta-", k + 2);
	for (int i = 0; i < TEMPURL_MAX_KEYS; i++)
		f->keys[i] = k[i] ? xstrdup(k[i]) : NULL;
	if (have_ai)
		store_account_info_release(&ai);
	if (have_ci)
		store_container_info_release(&ci);
}

int formpost_begin(struct px_req *r, struct swift_req *q)
{
	char boundary[MULTIPART_MAX_BOUNDARY + 1];
	if (strcmp(px_method(r), "POST") || !q->container ||
	    multipart_boundary(px_header(r, "Content-Type"), boundary) < 0)
		return 0;
	struct formpost *f = xcalloc(1, sizeof(*f));
	f->r = r;
	f->q = q;
	f->cur = -1;
	f->quota_left = -1;
	f->path = px_unescape(px_raw_path(r), 0);
	if (!f->path)
		f->path = xstrdup("");
	f->mp = multipart_new(boundary, &form_cb, f);
	keys_load(f);
	q->formpost = f;
	return 1;
}

int formpost_body(struct swift_req *q, const char *data, size_t n)
{
	struct formpost *f = q->formpost;
	int rc = multipart_feed(f->mp, data, n);
	if (rc == -EINVAL)
		form_fail(f, 400,
		          multipart_started(f->mp) ? "invalid multipart body"
		                                   : "invalid starting boundary");
	else if (rc == -E2BIG)
		form_fail(f, 400, "a form field's name or header is too long");
	return rc != 0;
}

void formpost_finish(struct px_req *r, struct swift_req *q)
{
	struct formpost *f = q->formpost;
	if (!f->fail && !multipart_started(f->mp))
		form_fail(f, 400, "invalid starting boundary");
	if (f->put) { /* the body ended inside a file: nothing of it is stored */
		store_put_abort(f->put);
		f->put = NULL;
		form_fail(f, 400, "the body ended inside a file");
	}
	const char *redirect = f->field[FP_REDIRECT];
	if (!f->fail && redirect && has_control(redirect))
		form_fail(f, 400, "invalid redirect");
	if (f->fail) {
		px_answer(r, f->fail, "text/plain", f->fail_text, strlen(f->fail_text));
		return;
	}
	if (!f->status)
		file_status(f, 400, "no files to process");
	const char *reason = f->status == 201   ? "Created"
	                     : f->status == 400 ? "Bad Request"
	                     : f->status == 413 ? "Request Entity Too Large"
	                     : f->status == 404 ? "Not Found"
	                     : f->status == 503 ? "Service Unavailable"
	                                        : "Error";
	if (!redirect || !*redirect) {
		char body[256], msg[160];
		/* Swift's message.title(): each word capitalized */
		snprintf(msg, sizeof(msg), "%s", f->message);
		for (size_t i = 0; msg[i]; i++)
			msg[i] = (char)(i == 0 || !isalpha((unsigned char)msg[i - 1])
			                    ? toupper((unsigned char)msg[i])
			                    : tolower((unsigned char)msg[i]));
		int n = snprintf(body, sizeof(body), "%d %s%s%s", f->status, reason,
		                 msg[0] ? "\r\nFormPost: " : "", msg);
		px_answer(r, f->status, "text/plain", body, (size_t)n);
		return;
	}
	char *loc = formpost_location(redirect, f->status, f->message);
	char *body = NULL;
	size_t len;
	FILE *fb = open_memstream(&body, &len);
	fputs("<html><body><p><a href=\"", fb);
	markup_escape(fb, loc);
	fputs("\">Click to continue...</a></p></body></html>", fb);
	fclose(fb);
	px_add_header(r, "Location", loc);
	px_answer(r, 303, "text/html; charset=UTF-8", body, len);
	free(body);
	free(loc);
}

void formpost_free(struct formpost *f)
{
	if (!f)
		return;
	store_put_abort(f->put);
	multipart_free(f->mp);
	for (int i = 0; i < FP_NFIELDS; i++)
		free(f->field[i]);
	for (int i = 0; i < TEMPURL_MAX_KEYS; i++)
		free(f->keys[i]);
	free(f->path);
	free(f);
}

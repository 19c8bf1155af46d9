/* Swift's bulk delete and archive extraction (see bulk.h). */
#include "bulk.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "objquota.h"
#include "proxy.h"
#include "store_impl.h"
#include "xalloc.h"

#define BULK_MAX_LINE (3 * (STORE_MAX_CONTAINER + STORE_MAX_OBJECT_NAME) + 8)

enum tar_state { TAR_HEADER, TAR_DATA, TAR_META, TAR_SKIP, TAR_END };

/* The bound a request passed: BULK_MAX_DELETES, BULK_MAX_CONTAINERS, BULK_MAX_FAILED. */
enum over {
	OVER_NONE,
	OVER_DELETES,
	OVER_CONTAINERS,
	OVER_FAILED_DELETES,
	OVER_FAILED_EXTRACTIONS
};

struct bulk_failure {
	char *name;
	int status;
};

struct bulk {
	struct bulk_target t;
	int extract;
	/* delete */
	char *line; /* the partial line (BULK_MAX_LINE + 1) */
	size_t nline;
	int line_too_long;
	unsigned deleted, not_found, lines;
	/* extract */
	char *container, *prefix;
	enum tar_state st;
	unsigned char hdr[512];
	size_t nhdr;
	uint64_t left, pad; /* bytes of the entry's payload still to come, then its padding */
	char meta_type;     /* 'x' or 'L' while gathering a record */
	char *meta;         /* the record (BULK_MAX_META) */
	size_t nmeta;
	char *next_name;       /* a pax path or GNU long name for the next entry */
	struct store_put *put; /* the file being stored */
	char *put_name;
	char last_container[STORE_MAX_CONTAINER + 1];
	unsigned created, containers;
	int bad_archive;
	/* both */
	struct bulk_failure fail[BULK_MAX_FAILED];
	unsigned nfail;
	int too_many;   /* stopped: a bound below was passed */
	enum over over; /* which */
};

/* The summary's Response Body for the bound that stopped a request. */
static const char *const over_text[] = {
    [OVER_DELETES] = "Maximum Bulk Deletes: 10000 per request",
    [OVER_CONTAINERS] = "More than 10000 containers to create from tar.",
    [OVER_FAILED_DELETES] = "Max delete failures exceeded",
    [OVER_FAILED_EXTRACTIONS] = "Max extraction failures exceeded",
};

static const struct {
	int status;
	const char *reason;
} reasons[] = {
    {200, "OK"},
    {201, "Created"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {409, "Conflict"},
    {411, "Length Required"},
    {413, "Request Entity Too Large"},
    {422, "Unprocessable Entity"},
    {499, "Client Disconnect"},
    {500, "Internal Server Error"},
    {503, "Service Unavailable"},
};

static const char *reason(int status)
{
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Error";
}

static void over_stop(struct bulk *b, enum over why)
{
	b->too_many = 1;
	if (!b->over)
		b->over = why;
}

/* name as Python's quote() writes it (Swift's wsgi_quote): letters, digits, "_.-~" and
 * '/' stay, every other byte is %XX. Owned. */
static char *name_quote(const char *name)
{
	char *out = xmalloc(3 * strlen(name) + 1), *p = out;
	for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
		if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
		    (*c >= '0' && *c <= '9') || strchr("_.-~/", *c))
			*p++ = (char)*c;
		else
			p += sprintf(p, "%%%02X", *c);
	}
	*p = '\0';
	return out;
}

/* Records a failed item. An extracted file's name is shown quoted as Swift does; a
 * delete line as sent (it is URL-encoded already) unless it is not UTF-8, which JSON
 * cannot carry: then quoted too. */
static void fail(struct bulk *b, const char *name, int status)
{
	if (b->nfail >= BULK_MAX_FAILED) {
		over_stop(b, b->extract ? OVER_FAILED_EXTRACTIONS : OVER_FAILED_DELETES);
		return;
	}
	b->fail[b->nfail].name =
	    b->extract || !jsonw_utf8_valid(name, strlen(name)) ? name_quote(name) : xstrdup(name);
	b->fail[b->nfail].status = status;
	b->nfail++;
}

/* ------------------------------------------------------------------ delete */

int bulk_delete_path(const char *line, size_t n, char **container, char **object)
{
	*container = *object = NULL;
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	if (n == 0)
		return 1;
	char *raw = xstrndup(line, n);
	char *path = px_unescape(raw, 0);
	free(raw);
	if (!path)
		return -EINVAL;
	char *p = path;
	while (*p == '/')
		p++;
	char *slash = strchr(p, '/');
	int rc = 0;
	if (!*p || (slash && slash == p)) {
		rc = -EINVAL;
	} else if (slash && slash[1]) {
		*container = xstrndup(p, (size_t)(slash - p));
		*object = xstrdup(slash + 1);
	} else {
		*container = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
	}
	free(path);
	return rc;
}

struct bulk *bulk_delete_new(const struct bulk_target *t)
{
	struct bulk *b = xcalloc(1, sizeof(*b));
	b->t = *t;
	b->line = xmalloc(BULK_MAX_LINE + 1);
	return b;
}

static void delete_line(struct bulk *b, const char *line, size_t n)
{
	char *c, *o;
	int rc = bulk_delete_path(line, n, &c, &o);
	if (rc == 1)
		return;
	if (++b->lines > BULK_MAX_DELETES) {
		over_stop(b, OVER_DELETES);
		free(c);
		free(o);
		return;
	}
	char *shown = xstrndup(line, n);
	if (rc < 0 || !store_container_name_ok(c) || (o && !store_object_name_ok(o))) {
		fail(b, shown, 400);
	} else if (!b->t.may_write(b->t.arg, c, o != NULL)) {
		fail(b, shown, 403);
	} else {
		enum store_err e = o ? store_delete(b->t.s, b->t.account, c, o)
		                     : store_container_delete(b->t.s, b->t.account, c);
		if (e == STORE_OK)
			b->deleted++;
		else if (e == STORE_NOT_FOUND)
			b->not_found++;
		else
			fail(b, shown, store_err_status(e));
	}
	free(shown);
	free(c);
	free(o);
}

static int delete_body(struct bulk *b, const char *data, size_t n)
{
	for (size_t i = 0; i < n && !b->too_many; i++) {
		if (data[i] == '\n') {
			if (b->line_too_long)
				fail(b, "<line too long>", 400);
			else
				delete_line(b, b->line, b->nline);
			b->nline = 0;
			b->line_too_long = 0;
		} else if (b->nline >= BULK_MAX_LINE) {
			b->line_too_long = 1;
		} else {
			b->line[b->nline++] = data[i];
		}
	}
	return b->too_many;
}

/* ------------------------------------------------------------------ tar */

static uint64_t octal(const unsigned char *p, size_t n, int *bad)
{
	uint64_t v = 0;
	size_t i = 0;
	while (i < n && (p[i] == ' ' || p[i] == '\0'))
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '7'; i++) {
		if (v > (UINT64_MAX >> 3))
			*bad = 1;
		v = v * 8 + (uint64_t)(p[i] - '0');
	}
	for (; i < n; i++)
		if (p[i] != ' ' && p[i] != '\0')
			*bad = 1;
	return v;
}

int bulk_tar_header_parse(const unsigned char block[512], struct bulk_tar_header *h)
{
	memset(h, 0, sizeof(*h));
	int zero = 1;
	for (int i = 0; i < 512 && zero; i++)
		zero = block[i] == 0;
	if (zero)
		return 1;
	int bad = 0;
	uint64_t want = octal(block + 148, 8, &bad), sum = 0;
	for (int i = 0; i < 512; i++)
		sum += (i >= 148 && i < 156) ? ' ' : block[i];
	if (bad || want != sum || (block[124] & 0x80)) /* no base-256 sizes */
		return -EINVAL;
	h->size = octal(block + 124, 12, &bad);
	if (bad || h->size > STORE_MAX_OBJECT)
		return -EINVAL;
	h->type = (char)block[156];
	char name[101], prefix[156] = "";
	memcpy(name, block, 100);
	name[100] = '\0';
	/* POSIX ustar only: GNU's "ustar  \0" keeps atime and ctime where the prefix is */
	if (!memcmp(block + 257,
	            "ustar\0"
	            "00",
	            8)) {
		memcpy(prefix, block + 345, 155);
		prefix[155] = '\0';
	}
	if (prefix[0])
		snprintf(h->name, sizeof(h->name), "%s/%s", prefix, name);
	else
		snprintf(h->name, sizeof(h->name), "%s", name);
	return 0;
}

int bulk_pax_path(const char *rec, size_t n, char **path)
{
	size_t off = 0;
	*path = NULL;
	while (off < n) {
		size_t len = 0, i = off;
		for (; i < n && i - off < 12 && rec[i] >= '0' && rec[i] <= '9'; i++)
			len = len * 10 + (size_t)(rec[i] - '0');
		/* LEN: digits only, then ' '; it covers its own "LEN " and at least a '\n' */
		if (i == off || i >= n || rec[i] != ' ' || len > n - off || len <= i + 1 - off)
			goto bad;
		const char *kv = rec + i + 1, *stop = rec + off + len;
		if (stop[-1] != '\n' || !memchr(kv, '=', (size_t)(stop - kv)))
			goto bad;
		if ((size_t)(stop - kv) > 5 && !memcmp(kv, "path=", 5)) {
			free(*path);
			*path = xstrndup(kv + 5, (size_t)(stop - 1 - (kv + 5)));
		}
		off += len;
	}
	return 0;
bad:
	free(*path);
	*path = NULL;
	return -EINVAL;
}

struct bulk *bulk_extract_new(const struct bulk_target *t, const char *container,
                              const char *prefix)
{
	struct bulk *b = xcalloc(1, sizeof(*b));
	b->t = *t;
	b->extract = 1;
	b->container = container ? xstrdup(container) : NULL;
	b->prefix = prefix && *prefix ? xstrdup(prefix) : NULL;
	return b;
}

/* Where a file of the archive goes: owned container and object, or a failure status. */
static int file_target(struct bulk *b, const char *name, char **c, char **o)
{
	*c = *o = NULL;
	while (!strncmp(name, "./", 2))
		name += 2;
	while (*name == '/')
		name++;
	if (!*name)
		return 400;
	if (b->container) {
		*c = xstrdup(b->container);
		*o = b->prefix ? xasprintf("%s%s%s", b->prefix,
		                           b->prefix[strlen(b->prefix) - 1] == '/' ? "" : "/", name)
		               : xstrdup(name);
	} else {
		const char *slash = strchr(name, '/');
		if (!slash || !slash[1])
			return 400;
		*c = xstrndup(name, (size_t)(slash - name));
		*o = xstrdup(slash + 1);
	}
	if (strlen(*c) > STORE_MAX_CONTAINER || strlen(*o) > STORE_MAX_OBJECT_NAME ||
	    !store_container_name_ok(*c) || !store_object_name_ok(*o))
		return 400;
	return 0;
}

/* A regular file of size bytes begins: opens its put (or records why not). */
static void file_begin(struct bulk *b, const char *name, uint64_t size)
{
	char *c, *o;
	int status = file_target(b, name, &c, &o);
	if (!status && !b->t.may_write(b->t.arg, c, 1))
		status = 403;
	if (!status && strcmp(c, b->last_container)) {
		/* a container of the archive, or the URL's: created when missing (Swift) */
		struct store_container_info ci;
		enum store_err e = store_container_head(b->t.s, b->t.account, c, &ci);
		if (e == STORE_OK) {
			store_container_info_release(&ci);
		} else if (e == STORE_NOT_FOUND) {
			int created = 0;
			if (++b->containers > BULK_MAX_CONTAINERS) {
				over_stop(b, OVER_CONTAINERS);
				status = 400;
			} else if (!b->t.may_write(b->t.arg, c, 0)) {
				status = 403;
			} else if ((e = store_container_put(b->t.s, b->t.account, c, NULL, 0,
			                                    &created)) != STORE_OK) {
				status = store_err_status(e);
			}
		} else {
			status = store_err_status(e);
		}
		if (!status)
			snprintf(b->last_container, sizeof(b->last_container), "%s", c);
	}
	if (!status && objquota_over(b->t.s, b->t.account, c, 1, (int64_t)size, NULL))
		status = 413;
	if (!status) {
		struct store_put_opts po = {.length = (int64_t)size};
		enum store_err e = store_put_begin(b->t.s, b->t.account, c, o, &po, &b->put);
		if (e != STORE_OK) {
			b->put = NULL;
			status = store_err_status(e);
		}
	}
	b->put_name = c && o ? xasprintf("/%s/%s", c, o) : xstrdup(name);
	if (status) {
		fail(b, b->put_name, status);
		free(b->put_name);
		b->put_name = NULL;
	}
	free(c);
	free(o);
}

static void file_end(struct bulk *b, enum store_err e)
{
	if (b->put) {
		if (e == STORE_OK) {
			struct store_meta m;
			e = store_put_finish(b->put, &m);
			if (e == STORE_OK)
				store_meta_release(&m);
		} else {
			store_put_abort(b->put);
		}
		b->put = NULL;
		if (e == STORE_OK)
			b->created++;
		else
			fail(b, b->put_name, store_err_status(e));
	}
	free(b->put_name);
	b->put_name = NULL;
}

/* A header block is complete: what follows it. */
static void tar_header(struct bulk *b)
{
	struct bulk_tar_header h;
	int rc = bulk_tar_header_parse(b->hdr, &h);
	if (rc == 1) {
		b->st = TAR_END;
		return;
	}
	if (rc < 0) {
		b->bad_archive = 1;
		b->st = TAR_END;
		return;
	}
	b->left = h.size;
	b->pad = (512 - h.size % 512) % 512;
	if (h.type == 'x' || h.type == 'L') {
		if (h.size > BULK_MAX_META) {
			b->bad_archive = 1;
			b->st = TAR_END;
			return;
		}
		b->meta_type = h.type;
		b->meta = xrealloc(b->meta, h.size + 1);
		b->nmeta = 0;
		b->st = TAR_META;
	} else if (h.type == '0' || h.type == '\0' || h.type == '7') {
		char *name = b->next_name ? b->next_name : xstrdup(h.name);
		b->next_name = NULL;
		file_begin(b, name, h.size);
		free(name);
		b->st = TAR_DATA;
	} else { /* directories, links, global pax headers...: not objects */
		free(b->next_name);
		b->next_name = NULL;
		b->st = TAR_SKIP;
	}
	if (b->st == TAR_DATA && b->left == 0)
		file_end(b, STORE_OK);
}

static int extract_body(struct bulk *b, const char *data, size_t n)
{
	while (n > 0 && b->st != TAR_END && !b->too_many) {
		size_t k;
		switch (b->st) {
		case TAR_HEADER:
			k = 512 - b->nhdr < n ? 512 - b->nhdr : n;
			memcpy(b->hdr + b->nhdr, data, k);
			b->nhdr += k;
			if (b->nhdr == 512) {
				b->nhdr = 0;
				tar_header(b);
			}
			break;
		case TAR_DATA:
		case TAR_META:
			k = b->left < n ? (size_t)b->left : n;
			if (b->st == TAR_META) {
				memcpy(b->meta + b->nmeta, data, k);
				b->nmeta += k;
			} else if (b->put) {
				enum store_err e = store_put_write(b->put, data, k);
				if (e != STORE_OK)
					file_end(b, e);
			}
			b->left -= k;
			if (b->left == 0) {
				if (b->st == TAR_META) {
					b->meta[b->nmeta] = '\0';
					free(b->next_name);
					b->next_name = NULL;
					if (b->meta_type == 'L')
						b->next_name =
						    xstrndup(b->meta, strnlen(b->meta, b->nmeta));
					else if (bulk_pax_path(b->meta, b->nmeta, &b->next_name) <
					         0) {
						b->bad_archive = 1;
						b->st = TAR_END;
						break;
					}
				} else {
					file_end(b, STORE_OK);
				}
				b->left = b->pad;
				b->pad = 0;
				b->st = b->left ? TAR_SKIP : TAR_HEADER;
			}
			break;
		case TAR_SKIP:
			k = b->left < n ? (size_t)b->left : n;
			b->left -= k;
			if (b->left == 0) {
				b->left = b->pad;
				b->pad = 0;
				if (b->left == 0)
					b->st = TAR_HEADER;
			}
			break;
		default:
			k = n;
			break;
		}
		data += k;
		n -= k;
	}
	return b->st == TAR_END || b->too_many;
}

/* ------------------------------------------------------------------ both */

int bulk_body(struct bulk *b, const char *data, size_t n)
{
	return b->extract ? extract_body(b, data, n) : delete_body(b, data, n);
}

char *bulk_finish(struct bulk *b, int json, size_t *len)
{
	const char *body = "";
	int status;
	if (b->extract) {
		/* stopped at a bound: the rest was not read (a put under way is aborted) */
		if (!b->over && (b->put || b->st == TAR_DATA)) /* it ended inside a file */
			file_end(b, STORE_LENGTH_MISMATCH);
		if (b->over)
			body = over_text[b->over];
		else if (b->bad_archive || (b->st != TAR_END && b->st != TAR_HEADER) ||
		         (b->st == TAR_HEADER && b->nhdr))
			body = "Invalid Tar File: truncated or bad header";
		else if (!b->created && !b->nfail)
			body = "Invalid Tar File: No Valid Files";
		status = body[0] || b->nfail ? 400 : 201;
	} else {
		if (!b->too_many && b->nline > 0 && !b->line_too_long)
			delete_line(b, b->line, b->nline); /* a last line without its newline */
		if (b->over)
			body = over_text[b->over];
		status = b->lines > BULK_MAX_DELETES ? 413 : b->nfail ? 400 : 200;
	}
	char st[64];
	snprintf(st, sizeof(st), "%d %s", status, reason(status));
	char *out;
	if (json) {
		json_t *errs = json_array();
		for (unsigned i = 0; i < b->nfail; i++) {
			char fs[64];
			snprintf(fs, sizeof(fs), "%d %s", b->fail[i].status,
			         reason(b->fail[i].status));
			json_array_append_new(errs, json_pack("[s,s]", b->fail[i].name, fs));
		}
		json_t *j = b->extract ? json_pack("{s:I,s:s,s:s,s:o}", "Number Files Created",
		                                   (json_int_t)b->created, "Response Body", body,
		                                   "Response Status", st, "Errors", errs)
		                       : json_pack("{s:I,s:I,s:s,s:s,s:o}", "Number Deleted",
		                                   (json_int_t)b->deleted, "Number Not Found",
		                                   (json_int_t)b->not_found, "Response Body", body,
		                                   "Response Status", st, "Errors", errs);
		out = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	} else {
		size_t cap = 512 + strlen(body);
		for (unsigned i = 0; i < b->nfail; i++)
			cap += strlen(b->fail[i].name) + 64;
		out = xmalloc(cap);
		int k = b->extract
		            ? snprintf(out, cap, "Number Files Created: %u\n", b->created)
		            : snprintf(out, cap, "Number Deleted: %u\nNumber Not Found: %u\n",
		                       b->deleted, b->not_found);
		k += snprintf(out + k, cap - (size_t)k,
		              "Response Body: %s\nResponse Status: %s\nErrors: \n", body, st);
		for (unsigned i = 0; i < b->nfail; i++)
			k += snprintf(out + k, cap - (size_t)k, "%s, %d %s\n", b->fail[i].name,
			              b->fail[i].status, reason(b->fail[i].status));
	}
	*len = strlen(out);
	return out;
}

void bulk_free(struct bulk *b)
{
	if (!b)
		return;
	store_put_abort(b->put);
	for (unsigned i = 0; i < b->nfail; i++)
		free(b->fail[i].name);
	free(b->line);
	free(b->container);
	free(b->prefix);
	free(b->meta);
	free(b->next_name);
	free(b->put_name);
	free(b);
}

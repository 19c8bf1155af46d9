/* Swift's dynamic and static large objects (see largeobj.h). */
#include "largeobj.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "md5.h"
#include "xalloc.h"

void largeobj_release(struct largeobj *lo)
{
	for (size_t i = 0; i < lo->n; i++) {
		free(lo->seg[i].container);
		free(lo->seg[i].object);
	}
	free(lo->seg);
	lo->seg = NULL;
	lo->n = 0;
	lo->size = 0;
}

static struct largeobj_seg *seg_push(struct largeobj *lo, const char *c, const char *o)
{
	lo->seg = xrealloc(lo->seg, (lo->n + 1) * sizeof(*lo->seg));
	struct largeobj_seg *g = &lo->seg[lo->n++];
	memset(g, 0, sizeof(*g));
	g->container = xstrdup(c);
	g->object = xstrdup(o);
	return g;
}

/* The size and the large-object ETag from the segments. */
static void lo_sum(struct largeobj *lo)
{
	struct md5 m;
	md5_init(&m);
	lo->size = 0;
	for (size_t i = 0; i < lo->n; i++) {
		lo->size += lo->seg[i].size;
		md5_update(&m, lo->seg[i].etag, strlen(lo->seg[i].etag));
	}
	md5_final_hex(&m, lo->etag);
}

enum store_err largeobj_dlo_load(struct store *s, const char *account, const char *manifest,
                                 struct largeobj *out)
{
	memset(out, 0, sizeof(*out));
	const char *slash = strchr(manifest, '/');
	if (!slash || slash == manifest)
		return STORE_BAD_REQUEST;
	char *container = xstrndup(manifest, (size_t)(slash - manifest));
	struct store_list_query q = {.prefix = slash + 1, .limit = 10000};
	struct store_list l = {0};
	enum store_err e = store_list_objects(s, account, container, &q, &l);
	if (e == STORE_OK && (l.truncated || l.n > 10000))
		e = STORE_TOO_LARGE;
	for (size_t i = 0; e == STORE_OK && i < l.n; i++) {
		if (l.e[i].subdir)
			continue;
		struct largeobj_seg *g = seg_push(out, container, l.e[i].name);
		g->size = l.e[i].bytes;
		memcpy(g->etag, l.e[i].etag, sizeof(g->etag));
	}
	if (e == STORE_NOT_FOUND) /* no segment container: an empty object */
		e = STORE_OK;
	store_list_release(&l);
	free(container);
	if (e != STORE_OK)
		largeobj_release(out);
	else
		lo_sum(out);
	return e;
}

/* "/container/object" into its parts (owned); -EINVAL when it is not that. */
static int seg_path(const char *path, char **c, char **o)
{
	const char *p = path[0] == '/' ? path + 1 : path, *slash = strchr(p, '/');
	if (!slash || slash == p || !slash[1])
		return -EINVAL;
	*c = xstrndup(p, (size_t)(slash - p));
	*o = xstrdup(slash + 1);
	return 0;
}

enum store_err largeobj_slo_check(struct store *s, const char *account, const char *body,
                                  size_t len, int (*may_read)(void *arg, const char *container),
                                  void *arg, struct largeobj *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "Manifest must be valid JSON.\n");
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr);
	enum store_err e = STORE_BAD_REQUEST;
	if (!json_is_array(j))
		goto out;
	if (json_array_size(j) == 0 || json_array_size(j) > LARGEOBJ_MAX_SEGMENTS) {
		snprintf(why, whylen, "Manifest must have between 1 and %d segments.\n",
		         LARGEOBJ_MAX_SEGMENTS);
		goto out;
	}
	size_t i;
	json_t *it;
	json_array_foreach(j, i, it)
	{
		json_t *path = json_object_get(it, "path"), *etag = json_object_get(it, "etag"),
		       *size = json_object_get(it, "size_bytes");
		char *c = NULL, *o = NULL;
		if (!json_is_object(it) || !json_is_string(path) ||
		    seg_path(json_string_value(path), &c, &o) < 0 ||
		    !(json_is_null(etag) || !etag || json_is_string(etag)) ||
		    !(json_is_null(size) || !size || json_is_integer(size))) {
			snprintf(why, whylen,
			         "Index %zu: invalid segment (path, etag, size_bytes).\n", i);
			goto out;
		}
		if (may_read && !may_read(arg, c)) { /* before any look that would tell */
			free(c);
			free(o);
			snprintf(why, whylen, "Errors:\n%s, 403 Forbidden\n",
			         json_string_value(path));
			goto out;
		}
		struct store_meta m;
		enum store_err he = store_head_newest(s, account, c, o, &m);
		struct largeobj_seg *g = seg_push(out, c, o);
		free(c);
		free(o);
		if (he == STORE_NOT_FOUND) {
			snprintf(why, whylen, "Errors:\n%s, 404 Not Found\n",
			         json_string_value(path));
			goto out;
		}
		if (he != STORE_OK) {
			e = he;
			goto out;
		}
		g->size = m.size;
		memcpy(g->etag, m.etag, sizeof(g->etag));
		memcpy(g->timestamp, m.timestamp, sizeof(g->timestamp));
		snprintf(g->content_type, sizeof(g->content_type), "%s", m.content_type);
		store_meta_release(&m);
		if (json_is_string(etag) && strcmp(json_string_value(etag), g->etag)) {
			snprintf(why, whylen, "Errors:\n%s, Etag Mismatch\n",
			         json_string_value(path));
			goto out;
		}
		if (json_is_integer(size) && (uint64_t)json_integer_value(size) != g->size) {
			snprintf(why, whylen, "Errors:\n%s, Size Mismatch\n",
			         json_string_value(path));
			goto out;
		}
		if (g->size < LARGEOBJ_MIN_SEGMENT && i + 1 < json_array_size(j)) {
			snprintf(why, whylen,
			         "Errors:\n%s, Too Small; each segment must be at least 1 byte.\n",
			         json_string_value(path));
			goto out;
		}
	}
	lo_sum(out);
	e = STORE_OK;
out:
	json_decref(j);
	if (e != STORE_OK)
		largeobj_release(out);
	return e;
}

char *largeobj_slo_format(const struct largeobj *lo)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < lo->n; i++) {
		const struct largeobj_seg *g = &lo->seg[i];
		char *name = xasprintf("/%s/%s", g->container, g->object);
		json_array_append_new(arr, json_pack("{s:s,s:s,s:I,s:s,s:s}", "name", name, "hash",
		                                     g->etag, "bytes", (json_int_t)g->size,
		                                     "content_type", g->content_type,
		                                     "last_modified", g->timestamp));
		free(name);
	}
	char *s = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return s;
}

int largeobj_slo_parse(const char *body, size_t len, struct largeobj *out)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *j = json_loadb(body, len, 0, &jerr), *it;
	int rc = -EINVAL;
	size_t i;
	if (!json_is_array(j) || json_array_size(j) > LARGEOBJ_MAX_SEGMENTS)
		goto out;
	json_array_foreach(j, i, it)
	{
		const char *name = json_string_value(json_object_get(it, "name")),
		           *hash = json_string_value(json_object_get(it, "hash"));
		json_t *bytes = json_object_get(it, "bytes");
		char *c, *o;
		if (!name || !hash || strlen(hash) > 32 || !json_is_integer(bytes) ||
		    json_integer_value(bytes) < 0 || seg_path(name, &c, &o) < 0)
			goto out;
		struct largeobj_seg *g = seg_push(out, c, o);
		free(c);
		free(o);
		g->size = (uint64_t)json_integer_value(bytes);
		snprintf(g->etag, sizeof(g->etag), "%s", hash);
	}
	lo_sum(out);
	rc = 0;
out:
	json_decref(j);
	if (rc < 0)
		largeobj_release(out);
	return rc;
}

enum store_err largeobj_slo_load(struct store *s, const char *account, const char *container,
                                 const char *object, struct largeobj *out)
{
	memset(out, 0, sizeof(*out));
	struct store_meta m;
	uint64_t off, len;
	struct store_get *g;
	enum store_err e =
	    store_get_open_newest(s, account, container, object, 0, -1, &m, &off, &len, &g);
	if (e != STORE_OK)
		return e;
	store_meta_release(&m);
	if (len > LARGEOBJ_MAX_MANIFEST) {
		store_get_close(g);
		return STORE_INTERNAL;
	}
	char *buf = xmalloc(len + 1);
	size_t have = 0;
	while (have < len) {
		ssize_t k = store_get_read(g, buf + have, len - have);
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	store_get_close(g);
	e = have == len && largeobj_slo_parse(buf, len, out) == 0 ? STORE_OK : STORE_INTERNAL;
	free(buf);
	return e;
}

/* ------------------------------------------------------------------ reads */

struct largeobj_get {
	struct store *s;
	char *account;
	struct largeobj lo;
	size_t i;         /* segment being read */
	uint64_t seg_off; /* where in segment i the next byte is */
	uint64_t left;    /* bytes still to send */
	struct store_get *g;
	uint64_t g_left; /* bytes of segment i still to take from g */
};

enum store_err largeobj_get_open(struct store *s, const char *account, struct largeobj *lo,
                                 int64_t first, int64_t last, uint64_t *off, uint64_t *len,
                                 struct largeobj_get **out)
{
	*out = NULL;
	uint64_t size = lo->size, a = 0, b = size ? size - 1 : 0;
	if (first < 0) { /* the final `last` bytes */
		if (last <= 0 || size == 0)
			goto range;
		a = (uint64_t)last >= size ? 0 : size - (uint64_t)last;
	} else if (!(first == 0 && last < 0)) {
		if ((uint64_t)first >= size)
			goto range;
		a = (uint64_t)first;
		if (last >= 0 && (uint64_t)last < b)
			b = (uint64_t)last;
	}
	struct largeobj_get *g = xcalloc(1, sizeof(*g));
	g->s = s;
	g->account = xstrdup(account);
	g->lo = *lo;
	memset(lo, 0, sizeof(*lo));
	g->left = size ? b - a + 1 : 0;
	/* the segment holding byte a */
	uint64_t pos = 0;
	while (g->i < g->lo.n && pos + g->lo.seg[g->i].size <= a)
		pos += g->lo.seg[g->i++].size;
	g->seg_off = a - pos;
	*off = a;
	*len = g->left;
	*out = g;
	return STORE_OK;
range:
	largeobj_release(lo);
	return STORE_RANGE;
}

ssize_t largeobj_get_read(void *cls, void *buf, size_t max)
{
	struct largeobj_get *g = cls;
	while (g->left > 0 && !g->g_left) {
		store_get_close(g->g);
		g->g = NULL;
		if (g->i >= g->lo.n)
			return -EIO;
		const struct largeobj_seg *sg = &g->lo.seg[g->i];
		if (g->seg_off >= sg->size) { /* an empty segment, or this one is done */
			g->i++;
			g->seg_off = 0;
			continue;
		}
		struct store_meta m;
		uint64_t off, len;
		enum store_err e = store_get_open(g->s, g->account, sg->container, sg->object,
		                                  (int64_t)g->seg_off, -1, &m, &off, &len, &g->g);
		if (e != STORE_OK)
			return -EIO;
		int changed = m.size != sg->size || strcmp(m.etag, sg->etag);
		store_meta_release(&m);
		if (changed) /* the segment was replaced since the manifest was read */
			return -EIO;
		g->g_left = len;
		g->i++;
		g->seg_off = 0;
	}
	if (g->left == 0)
		return 0;
	if (max > g->left)
		max = (size_t)g->left;
	if (max > g->g_left)
		max = (size_t)g->g_left;
	ssize_t k = store_get_read(g->g, buf, max);
	if (k <= 0)
		return k < 0 ? k : -EIO;
	g->left -= (uint64_t)k;
	g->g_left -= (uint64_t)k;
	return k;
}

void largeobj_get_close(void *cls)
{
	struct largeobj_get *g = cls;
	if (!g)
		return;
	store_get_close(g->g);
	largeobj_release(&g->lo);
	free(g->account);
	free(g);
}

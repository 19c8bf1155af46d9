/* Swift's staticweb: container metadata turns a public container into a web site
 * (index pages, HTML listings, error pages), for anonymous GETs and HEADs. */
#include "staticweb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "markup.h"
#include "sigv4.h"
#include "swift_impl.h"
#include "xalloc.h"

#define STATICWEB_LISTING_MAX 10000 /* entries in one HTML listing (Swift's listing limit) */

static const struct {
	const char *name;
	size_t off; /* of the const char * in struct staticweb_conf */
} conf_items[] = {
    {"X-Container-Meta-Web-Index", offsetof(struct staticweb_conf, index)},
    {"X-Container-Meta-Web-Error", offsetof(struct staticweb_conf, error)},
    {"X-Container-Meta-Web-Listings-Css", offsetof(struct staticweb_conf, css)},
    {"X-Container-Meta-Web-Directory-Type", offsetof(struct staticweb_conf, dir_type)},
};

/* Swift's config_true_value. */
static int true_value(const char *v)
{
	static const char *const yes[] = {"true", "1", "yes", "on", "t", "y"};
	for (size_t i = 0; v && i < sizeof(yes) / sizeof(yes[0]); i++)
		if (!strcasecmp(v, yes[i]))
			return 1;
	return 0;
}

void staticweb_conf_from_kv(const struct store_kv *kv, int n, struct staticweb_conf *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		if (!kv[i].value[0])
			continue;
		if (!strcasecmp(kv[i].name, "X-Container-Meta-Web-Listings"))
			out->listings = true_value(kv[i].value);
		for (size_t k = 0; k < sizeof(conf_items) / sizeof(conf_items[0]); k++)
			if (!strcasecmp(kv[i].name, conf_items[k].name))
				*(const char **)((char *)out + conf_items[k].off) = kv[i].value;
	}
}

/* ------------------------------------------------------------------ the listing page */

/* An href: percent-encoded, '/' kept, then escaped for the attribute. */
static void href(FILE *f, const char *prefix, const char *name)
{
	char *enc = sigv4_uri_encode(name, strlen(name), 1);
	fputs(prefix, f);
	markup_escape(f, enc);
	free(enc);
}

/* Swift's human_readable: 1023, 1Ki, 17Mi ... */
static void human_size(uint64_t v, char *out, size_t n)
{
	static const char suffix[] = "KMGTPEZY";
	int i = -1;
	while (v >= 1024 && i + 1 < (int)sizeof(suffix) - 1) {
		v = (v + 512) / 1024;
		i++;
	}
	if (i < 0)
		snprintf(out, n, "%llu", (unsigned long long)v);
	else
		snprintf(out, n, "%llu%ci", (unsigned long long)v, suffix[i]);
}

/* " type-text type-html" from a content type: its two halves, [a-z0-9-] only. */
static void type_classes(FILE *f, const char *ct)
{
	const char *p = ct;
	for (int part = 0; part < 2 && *p && *p != ';'; part++) {
		fputs(" type-", f);
		for (; *p && *p != '/' && *p != ';'; p++)
			fputc(isalnum((unsigned char)*p) ? tolower((unsigned char)*p) : '-', f);
		if (*p == '/')
			p++;
	}
}

char *staticweb_listing_html(const struct store_list *l, const char *path, const char *prefix,
                             const char *css, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	fputs("<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01 Transitional//EN\" "
	      "\"http://www.w3.org/TR/html4/loose.dtd\">\n<html>\n <head>\n  <title>Listing of ",
	      f);
	markup_escape(f, path);
	fputs("</title>\n", f);
	if (css) {
		/* a relative sheet is the container's: climb out of the prefix's levels */
		int depth = 0;
		if (css[0] != '/' && !strstr(css, "://"))
			for (const char *p = prefix; *p; p++)
				depth += *p == '/';
		fputs("  <link rel=\"stylesheet\" type=\"text/css\" href=\"", f);
		for (int i = 0; i < depth; i++)
			fputs("../", f);
		markup_escape(f, css);
		fputs("\" />\n", f);
	} else
		fputs("  <style type=\"text/css\">\n"
		      "   h1 {font-size: 1em; font-weight: bold;}\n"
		      "   th {text-align: left; padding: 0px 1em 0px 1em;}\n"
		      "   td {padding: 0px 1em 0px 1em;}\n"
		      "   a {text-decoration: none;}\n"
		      "  </style>\n",
		      f);
	fputs(" </head>\n <body>\n  <h1 id=\"title\">Listing of ", f);
	markup_escape(f, path);
	fputs("</h1>\n  <table id=\"listing\">\n   <tr id=\"heading\">\n"
	      "    <th class=\"colname\">Name</th>\n    <th class=\"colsize\">Size</th>\n"
	      "    <th class=\"coldate\">Date</th>\n   </tr>\n",
	      f);
	if (prefix[0])
		fputs(
		    "   <tr id=\"parent\" class=\"item\">\n"
		    "    <td class=\"colname\"><a href=\"../\">../</a></td>\n"
		    "    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n"
		    "   </tr>\n",
		    f);
	size_t pl = strlen(prefix);
	for (size_t i = 0; i < l->n; i++) {
		const struct store_entry *e = &l->e[i];
		const char *rel = strncmp(e->name, prefix, pl) ? e->name : e->name + pl;
		if (!rel[0])
			continue; /* the directory marker itself */
		fputs(e->subdir ? "   <tr class=\"item type-directory\">\n" : "   <tr class=\"item",
		      f);
		if (!e->subdir) {
			type_classes(f, e->content_type);
			fputs("\">\n", f);
		}
		fputs("    <td class=\"colname\"><a href=\"", f);
		href(f, "", rel);
		fputs("\">", f);
		markup_escape(f, rel);
		fputs("</a></td>\n", f);
		if (e->subdir) {
			fputs("    <td class=\"colsize\">&nbsp;</td>\n"
			      "    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n",
			      f);
			continue;
		}
		char size[32], date[32];
		human_size(e->bytes, size, sizeof(size));
		time_t t = (time_t)strtoll(e->timestamp, NULL, 10);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(f,
		        "    <td class=\"colsize\">%s</td>\n    <td class=\"coldate\">%s</td>\n"
		        "   </tr>\n",
		        size, date);
	}
	fputs("  </table>\n </body>\n</html>\n", f);
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------------ serving */

struct sw {
	struct px_req *r;
	struct swift_req *q;
	struct staticweb_conf conf;
	const char *raw; /* the request's raw path */
};

static int is_head(const struct sw *w)
{
	return !strcmp(px_method(w->r), "HEAD");
}

static int raw_slash(const struct sw *w)
{
	size_t n = strlen(w->raw);
	return n > 0 && w->raw[n - 1] == '/';
}

/* 301 to the request's path with a '/' added (a "directory" is addressed with one). */
static void redirect_slash(struct sw *w)
{
	char *loc = xasprintf("%s/", w->raw);
	px_add_header(w->r, "Location", loc);
	free(loc);
	px_answer(w->r, 301, "text/html; charset=UTF-8", NULL, 0);
}

/* status, with the container's error page "<status><error>" for its body when it has
 * one, else Swift's plain error. */
static void error_answer(struct sw *w, int status)
{
	if (w->conf.error && strlen(w->conf.error) < STORE_MAX_OBJECT_NAME - 4) {
		char name[STORE_MAX_OBJECT_NAME + 1];
		snprintf(name, sizeof(name), "%d%s", status, w->conf.error);
		struct store_meta m;
		uint64_t off, len;
		struct store_get *g = NULL;
		enum store_err e = store_get_open(px_store(w->r), w->q->account, w->q->container,
		                                  name, 0, -1, &m, &off, &len, &g);
		if (e == STORE_OK && !swift_expired(&m)) {
			px_add_header(w->r, "Content-Type",
			              m.content_type[0] ? m.content_type : "text/html");
			store_meta_release(&m);
			if (is_head(w)) {
				store_get_close(g);
				px_answer_head(w->r, status, len);
			} else
				px_answer_get(w->r, status, g, len);
			return;
		}
		if (e == STORE_OK) {
			store_get_close(g);
			store_meta_release(&m);
		}
	}
	swift_answer_err(w->r, status,
	                 status == 401 ? "This server could not verify that you are authorized."
	                               : "The resource could not be found.");
}

/* The object name, or 0 when it is absent (or expired, or a directory marker: a
 * zero- or one-byte object of the directory type). */
static int object_exists(struct sw *w, const char *name)
{
	struct store_meta m;
	if (store_head(px_store(w->r), w->q->account, w->q->container, name, &m) != STORE_OK)
		return 0;
	const char *dt = w->conf.dir_type ? w->conf.dir_type : "application/directory";
	int ok = !swift_expired(&m) && !(m.size <= 1 && !strcmp(m.content_type, dt));
	store_meta_release(&m);
	return ok;
}

/* Serves object name in place of the one asked for. */
static void serve_object(struct sw *w, const char *name)
{
	free(w->q->object);
	w->q->object = xstrdup(name);
	swift_object_get(w->r, w->q);
}

/* The HTML listing under prefix ("" or ending in '/'). */
static void listing_answer(struct sw *w, const char *prefix)
{
	if (!w->conf.listings) {
		error_answer(w, 404);
		return;
	}
	if (!swift_container_allows(w->r, w->q, w->q->container, 0, 0)) {
		error_answer(w, 401);
		return;
	}
	struct store_list_query lq = {
	    .prefix = prefix, .delimiter = "/", .limit = STATICWEB_LISTING_MAX};
	struct store_list l = {0};
	enum store_err e =
	    store_list_objects(px_store(w->r), w->q->account, w->q->container, &lq, &l);
	if (e != STORE_OK) {
		swift_answer_store_err(w->r, e);
		return;
	}
	if (l.n == 0 && prefix[0]) {
		store_list_release(&l);
		error_answer(w, 404);
		return;
	}
	char *path = xasprintf("/v1/%s/%s/%s", w->q->account, w->q->container, prefix);
	size_t len;
	char *html = staticweb_listing_html(&l, path, prefix, w->conf.css, &len);
	store_list_release(&l);
	free(path);
	if (is_head(w)) {
		px_add_header(w->r, "Content-Type", "text/html; charset=UTF-8");
		px_answer_head(w->r, 200, len);
	} else
		px_answer(w->r, 200, "text/html; charset=UTF-8", html, len);
	free(html);
}

/* GET /v1/a/c or /v1/a/c/: the index, else the listing. */
static int serve_container(struct sw *w, int web_mode)
{
	if (!w->conf.index && !w->conf.listings) {
		if (!web_mode)
			return 0;
		swift_answer_err(w->r, 404, "The resource could not be found.");
		return 1;
	}
	if (!raw_slash(w))
		redirect_slash(w);
	else if (w->conf.index && object_exists(w, w->conf.index))
		serve_object(w, w->conf.index);
	else
		listing_answer(w, "");
	return 1;
}

/* GET /v1/a/c/path: the object; else, for a "directory" path, its index or listing. */
static int serve_path(struct sw *w)
{
	const char *obj = w->q->object;
	if (object_exists(w, obj))
		return 0; /* the plain object GET serves it */
	if (!w->conf.index && !w->conf.listings)
		return 0; /* a plain 404 */
	size_t n = strlen(obj);
	char *dir = xasprintf("%s%s", obj, obj[n - 1] == '/' ? "" : "/");
	char *index = w->conf.index ? xasprintf("%s%s", dir, w->conf.index) : NULL;
	if (index && strlen(index) <= STORE_MAX_OBJECT_NAME && object_exists(w, index)) {
		if (!raw_slash(w))
			redirect_slash(w);
		else
			serve_object(w, index);
	} else if (!raw_slash(w)) {
		/* a "directory" when something is under it */
		struct store_list_query lq = {.prefix = dir, .delimiter = "/", .limit = 1};
		struct store_list l = {0};
		if (store_list_objects(px_store(w->r), w->q->account, w->q->container, &lq, &l) ==
		        STORE_OK &&
		    l.n > 0)
			redirect_slash(w);
		else
			error_answer(w, 404);
		store_list_release(&l);
	} else
		listing_answer(w, dir);
	free(index);
	free(dir);
	return 1;
}

int staticweb_serve(struct px_req *r, struct swift_req *q)
{
	const char *m = px_method(r), *wm = px_header(r, "X-Web-Mode");
	int web_mode = true_value(wm);
	if ((strcmp(m, "GET") && strcmp(m, "HEAD")) || !q->container || (q->authed && !web_mode) ||
	    q->tempurl)
		return 0;
	struct store_container_info ci;
	if (store_container_head(px_store(r), q->account, q->container, &ci) != STORE_OK)
		return 0;
	struct sw w = {.r = r, .q = q, .raw = px_raw_path(r)};
	staticweb_conf_from_kv(ci.kv, ci.nkv, &w.conf);
	int rc = 0;
	/* a site is served to whoever may read its objects (.r:* for anonymous callers) */
	if ((w.conf.index || w.conf.listings || web_mode) &&
	    swift_container_allows(r, q, q->container, 0, 1))
		rc = q->object ? serve_path(&w) : serve_container(&w, web_mode);
	store_container_info_release(&ci);
	return rc;
}

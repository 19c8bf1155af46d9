/* S3's XML writer and bounded body parser (see s3_xml.h). */
#include "s3_xml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "markup.h"
#include "xalloc.h"

/* ---- writer ---- */

void s3_xw_init(struct s3_xw *w)
{
	w->buf = NULL;
	w->len = 0;
	w->f = open_memstream(&w->buf, &w->len);
	if (!w->f)
		abort();
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", w->f);
}

char *s3_xw_finish(struct s3_xw *w)
{
	fclose(w->f);
	w->f = NULL;
	return w->buf;
}

void s3_xw_open(struct s3_xw *w, const char *name, const char *ns)
{
	if (ns)
		fprintf(w->f, "<%s xmlns=\"%s\">", name, ns);
	else
		fprintf(w->f, "<%s>", name);
}

void s3_xw_close(struct s3_xw *w, const char *name)
{
	fprintf(w->f, "</%s>", name);
}

void s3_xw_text(struct s3_xw *w, const char *name, const char *text)
{
	if (!text)
		return;
	fprintf(w->f, "<%s>", name);
	markup_escape(w->f, text);
	fprintf(w->f, "</%s>", name);
}

void s3_xw_long(struct s3_xw *w, const char *name, long long v)
{
	fprintf(w->f, "<%s>%lld</%s>", name, v, name);
}

void s3_xw_bool(struct s3_xw *w, const char *name, int v)
{
	fprintf(w->f, "<%s>%s</%s>", name, v ? "true" : "false", name);
}

/* ---- parser ---- */

struct xp {
	const char *p, *end;
	unsigned nodes;
};

static int at(const struct xp *x, const char *lit)
{
	size_t n = strlen(lit);
	return (size_t)(x->end - x->p) >= n && !memcmp(x->p, lit, n);
}

static void skip_ws(struct xp *x)
{
	while (x->p < x->end && (*x->p == ' ' || *x->p == '\t' || *x->p == '\r' || *x->p == '\n'))
		x->p++;
}

/* Skips past the next occurrence of lit; -1 when there is none. */
static int skip_past(struct xp *x, const char *lit)
{
	size_t n = strlen(lit);
	for (; x->p + n <= x->end; x->p++)
		if (!memcmp(x->p, lit, n)) {
			x->p += n;
			return 0;
		}
	return -1;
}

static int is_name_char(char c)
{
	return c && !strchr(" \t\r\n/>=<\"'&!?", c);
}

/* A name at x->p: returns its length (>0) or 0. */
static size_t name_len(const struct xp *x)
{
	size_t n = 0;
	while (x->p + n < x->end && is_name_char(x->p[n]))
		n++;
	return n;
}

/* Appends the UTF-8 of code point cp to out at *o. -1 for a point XML forbids. */
static int put_utf8(char *out, size_t *o, unsigned long cp)
{
	if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return -1;
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xC0 | cp >> 6);
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xE0 | cp >> 12);
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	} else {
		out[(*o)++] = (char)(0xF0 | cp >> 18);
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[(*o)++] = (char)(0x80 | (cp & 0x3F));
	}
	return 0;
}

/* Unescapes s[0..n) (entities and character references) into a new string; NULL
 * when an entity is unknown or malformed. */
static char *unescape(const char *s, size_t n)
{
	static const struct {
		const char *name;
		char c;
	} ents[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '&') {
			out[o++] = s[i];
			continue;
		}
		const char *semi = memchr(s + i, ';', n - i);
		size_t elen = semi ? (size_t)(semi - s - i - 1) : 0;
		const char *e = s + i + 1;
		int ok = 0;
		if (elen >= 2 && elen <= 10 && e[0] == '#') {
			char buf[12], *end;
			int hex = e[1] == 'x';
			memcpy(buf, e + 1 + hex, elen - 1 - hex);
			buf[elen - 1 - hex] = 0;
			unsigned long cp = strtoul(buf, &end, hex ? 16 : 10);
			ok = buf[0] && !*end && buf[0] != '-' && buf[0] != '+' &&
			     put_utf8(out, &o, cp) == 0;
		} else {
			for (size_t k = 0; k < sizeof ents / sizeof *ents && !ok; k++)
				if (strlen(ents[k].name) == elen &&
				    !memcmp(e, ents[k].name, elen)) {
					out[o++] = ents[k].c;
					ok = 1;
				}
		}
		if (!ok) {
			free(out);
			return NULL;
		}
		i += elen + 1;
	}
	out[o] = 0;
	return out;
}

/* Appends n bytes (already unescaped) to node->text. */
static void text_append(struct s3_xnode *node, const char *s, size_t n)
{
	size_t old = node->text ? strlen(node->text) : 0;
	node->text = xrealloc(node->text, old + n + 1);
	memcpy(node->text + old, s, n);
	node->text[old + n] = 0;
}

static const char *local_name(const char *q)
{
	const char *colon = strrchr(q, ':');
	return colon ? colon + 1 : q;
}

/* Attributes up to '>' or '/>'; keeps the one whose local name is "type". */
static int parse_attrs(struct xp *x, struct s3_xnode *node)
{
	for (;;) {
		skip_ws(x);
		if (x->p >= x->end)
			return -1;
		if (*x->p == '>' || at(x, "/>"))
			return 0;
		size_t n = name_len(x);
		if (n == 0)
			return -1;
		char *aname = xstrndup(x->p, n);
		x->p += n;
		skip_ws(x);
		if (x->p >= x->end || *x->p != '=') {
			free(aname);
			return -1;
		}
		x->p++;
		skip_ws(x);
		char q = x->p < x->end ? *x->p : 0;
		const char *close =
		    (q == '"' || q == '\'') ? memchr(x->p + 1, q, x->end - x->p - 1) : NULL;
		if (!close || memchr(x->p + 1, '<', close - x->p - 1)) {
			free(aname);
			return -1;
		}
		char *val = unescape(x->p + 1, (size_t)(close - x->p - 1));
		x->p = close + 1;
		if (!val) {
			free(aname);
			return -1;
		}
		if (!strcmp(local_name(aname), "type") && !node->type)
			node->type = val;
		else
			free(val);
		free(aname);
	}
}

static struct s3_xnode *parse_element(struct xp *x, int depth);

/* Content of node up to and including its end tag named qname. */
static int parse_content(struct xp *x, struct s3_xnode *node, const char *qname, int depth)
{
	struct s3_xnode **tail = &node->child;
	while (x->p < x->end) {
		if (at(x, "<!--")) {
			if (skip_past(x, "-->") < 0)
				return -1;
		} else if (at(x, "<![CDATA[")) {
			x->p += 9;
			const char *start = x->p;
			if (skip_past(x, "]]>") < 0)
				return -1;
			text_append(node, start, (size_t)(x->p - 3 - start));
		} else if (at(x, "<?")) {
			if (skip_past(x, "?>") < 0)
				return -1;
		} else if (at(x, "<!")) {
			return -1; /* DOCTYPE and friends */
		} else if (at(x, "</")) {
			x->p += 2;
			size_t n = name_len(x);
			if (n != strlen(qname) || memcmp(x->p, qname, n))
				return -1;
			x->p += n;
			skip_ws(x);
			if (x->p >= x->end || *x->p != '>')
				return -1;
			x->p++;
			return 0;
		} else if (*x->p == '<') {
			struct s3_xnode *c = parse_element(x, depth + 1);
			if (!c)
				return -1;
			*tail = c;
			tail = &c->next;
		} else {
			const char *lt = memchr(x->p, '<', x->end - x->p);
			if (!lt)
				return -1;
			char *t = unescape(x->p, (size_t)(lt - x->p));
			if (!t)
				return -1;
			text_append(node, t, strlen(t));
			free(t);
			x->p = lt;
		}
	}
	return -1;
}

static struct s3_xnode *parse_element(struct xp *x, int depth)
{
	if (depth > S3_XML_MAX_DEPTH || ++x->nodes > S3_XML_MAX_NODES || x->p >= x->end ||
	    *x->p != '<')
		return NULL;
	x->p++;
	size_t n = name_len(x);
	if (n == 0)
		return NULL;
	char *qname = xstrndup(x->p, n);
	x->p += n;
	struct s3_xnode *node = xcalloc(1, sizeof *node);
	node->name = xstrdup(local_name(qname));
	int rc = parse_attrs(x, node);
	if (rc == 0 && at(x, "/>")) {
		x->p += 2;
	} else if (rc == 0) {
		x->p++; /* '>' */
		rc = parse_content(x, node, qname, depth);
	}
	free(qname);
	if (rc < 0) {
		s3_xml_free(node);
		return NULL;
	}
	return node;
}

/* Whitespace, comments and processing instructions outside the root. */
static int skip_misc(struct xp *x)
{
	for (;;) {
		skip_ws(x);
		if (at(x, "<!--")) {
			if (skip_past(x, "-->") < 0)
				return -1;
		} else if (at(x, "<?")) {
			if (skip_past(x, "?>") < 0)
				return -1;
		} else {
			return 0;
		}
	}
}

struct s3_xnode *s3_xml_parse(const char *buf, size_t len)
{
	if (!buf || len > S3_XML_MAX_BODY || memchr(buf, 0, len))
		return NULL;
	struct xp x = {buf, buf + len, 0};
	if (at(&x, "\xEF\xBB\xBF"))
		x.p += 3;
	if (skip_misc(&x) < 0)
		return NULL;
	struct s3_xnode *root = parse_element(&x, 1);
	if (root && (skip_misc(&x) < 0 || x.p != x.end)) {
		s3_xml_free(root);
		return NULL;
	}
	return root;
}

void s3_xml_free(struct s3_xnode *n)
{
	while (n) {
		struct s3_xnode *next = n->next;
		s3_xml_free(n->child);
		free(n->name);
		free(n->text);
		free(n->type);
		free(n);
		n = next;
	}
}

const struct s3_xnode *s3_xml_child(const struct s3_xnode *n, const char *name)
{
	for (const struct s3_xnode *c = n ? n->child : NULL; c; c = c->next)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

const char *s3_xml_child_text(const struct s3_xnode *n, const char *name)
{
	const struct s3_xnode *c = s3_xml_child(n, name);
	return c ? (c->text ? c->text : "") : NULL;
}

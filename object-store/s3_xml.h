/* S3's XML: a small writer that escapes every text and attribute (used by the
 * renderers of s3_view.c and s3_error.c), and a bounded parser for the request bodies
 * S3 accepts (CompleteMultipartUpload, Delete, AccessControlPolicy,
 * VersioningConfiguration, CreateBucketConfiguration) into a tree. The parser takes
 * no DTD, no entity but the five predefined ones and character references, and caps
 * depth, node count and size; element names lose their namespace prefix. Pure. */
#ifndef NUBO_S3_XML_H
#define NUBO_S3_XML_H
#include <stddef.h>
#include <stdio.h>

#define S3_XML_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define S3_XML_MAX_BODY (2u << 20) /* a request body we parse */
#define S3_XML_MAX_DEPTH 16
#define S3_XML_MAX_NODES 20000

/* ---- writer ---- */
struct s3_xw {
	FILE *f;
	char *buf;
	size_t len;
};
/* Starts a document with its XML declaration. */
void s3_xw_init(struct s3_xw *w);
/* Ends it: returns the text (owned), the writer is spent. */
char *s3_xw_finish(struct s3_xw *w);
/* <name> or <name xmlns="ns"> when ns is not NULL. */
void s3_xw_open(struct s3_xw *w, const char *name, const char *ns);
void s3_xw_close(struct s3_xw *w, const char *name);
/* <name>escaped text</name>; text NULL writes nothing at all. */
void s3_xw_text(struct s3_xw *w, const char *name, const char *text);
void s3_xw_long(struct s3_xw *w, const char *name, long long v);
void s3_xw_bool(struct s3_xw *w, const char *name, int v);

/* ---- parser ---- */
struct s3_xnode {
	char *name; /* local name (prefix dropped) */
	char *text; /* concatenated character data of this element (unescaped) */
	char *type; /* the value of an attribute named type (xsi:type), or NULL */
	struct s3_xnode *child, *next;
};
/* Parses len bytes into a tree (one root element). Returns owned, or NULL when the
 * text is not well-formed, uses a DTD or unknown entity, or breaks a bound. */
struct s3_xnode *s3_xml_parse(const char *buf, size_t len);
void s3_xml_free(struct s3_xnode *n);
/* First child of n named name, or NULL. */
const struct s3_xnode *s3_xml_child(const struct s3_xnode *n, const char *name);
/* Text of the first child named name, or NULL. */
const char *s3_xml_child_text(const struct s3_xnode *n, const char *name);

#endif

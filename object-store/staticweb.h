/* Swift's staticweb middleware: a container whose metadata asks for it serves a web
 * site to anonymous GETs and HEADs (and to token holders that send X-Web-Mode: true):
 *   X-Container-Meta-Web-Index           the object served for a "directory" (index.html)
 *   X-Container-Meta-Web-Listings        true: an HTML listing where there is no index
 *   X-Container-Meta-Web-Listings-CSS    the listing's style sheet
 *   X-Container-Meta-Web-Error           error pages: object "<status><suffix>" (404error.html)
 *   X-Container-Meta-Web-Directory-Type  content type of directory markers
 *                                        (application/directory)
 * Anonymous callers still need the container's read ACL (.r:*; .rlistings for a listing). */
#ifndef NUBO_OBJSTORE_STATICWEB_H
#define NUBO_OBJSTORE_STATICWEB_H
#include <stddef.h>
#include <stdio.h>

#include "store.h"

struct px_req;
struct swift_req;

/* A container's staticweb settings, borrowed from its metadata (NULL when unset). */
struct staticweb_conf {
	const char *index, *error, *css, *dir_type;
	int listings;
};
/* Reads them from a container's metadata items. Pure. */
void staticweb_conf_from_kv(const struct store_kv *kv, int n, struct staticweb_conf *out);

/* The HTML listing of l (the objects and subdirs under prefix, prefix "" at the
 * container's top) titled with path (the decoded /v1/account/container/prefix), with the
 * style sheet css (NULL: a built-in style; a relative one is taken from the container's
 * top). Names are HTML-escaped and their links percent-encoded. Owned string, *len its
 * length. Pure. */
char *staticweb_listing_html(const struct store_list *l, const char *path, const char *prefix,
                             const char *css, size_t *len);

/* Serves q's GET or HEAD through the container's staticweb settings when they apply.
 * Returns 1 when it answered, 0 when the request goes on as a plain Swift request. */
int staticweb_serve(struct px_req *r, struct swift_req *q);

#endif

/* Swift's bulk middleware over the store:
 *  - ?bulk-delete (DELETE or POST): the body lists URL-encoded "/container/object" or
 *    "/container" paths, one a line (at most BULK_MAX_DELETES); each is deleted in order
 *    as its line arrives (objects before the containers that hold them, as the caller
 *    orders them);
 *  - ?extract-archive=tar (PUT): each regular file of the tar stream becomes an object:
 *    under the request's account its first path part names the container (created when
 *    missing, at most BULK_MAX_CONTAINERS) and the rest the object; under a container
 *    (and prefix), created when missing too, the whole path is the object name. Files
 *    stream to the store.
 * Both answer 200 with Swift's summary (plain text, or JSON for Accept: application/json):
 * counts, "Response Status" (400 when an item failed), a "Response Body" naming the bound
 * that stopped the request, and the failed items (an extracted file's name quoted as
 * Python's quote() does, as Swift shows it). Memory is
 * bounded: one partial line, one tar header and at most BULK_MAX_META bytes of a pax or
 * GNU long-name record per request. */
#ifndef NUBO_OBJSTORE_BULK_H
#define NUBO_OBJSTORE_BULK_H
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define BULK_MAX_DELETES 10000
#define BULK_MAX_CONTAINERS 10000
#define BULK_MAX_FAILED 1000 /* failed items listed (and the most a request may fail) */
#define BULK_MAX_META 65536  /* a pax header or GNU long name */

/* Where a bulk request acts: the account, and whether the caller may write (object 1:
 * put/delete an object in container; 0: create/delete the container itself). */
struct bulk_target {
	struct store *s;
	const char *account;
	int (*may_write)(void *arg, const char *container, int object);
	void *arg;
};

struct bulk;

/* A bulk delete. */
struct bulk *bulk_delete_new(const struct bulk_target *t);
/* An extraction under container (NULL: the account) and prefix (NULL: none). */
struct bulk *bulk_extract_new(const struct bulk_target *t, const char *container,
                              const char *prefix);
/* Feeds n more body bytes. 0 to go on; 1 when the rest of the body is not needed. */
int bulk_body(struct bulk *b, const char *data, size_t n);
/* Ends the request: Swift's summary as an owned body of *len bytes, JSON when json. */
char *bulk_finish(struct bulk *b, int json, size_t *len);
void bulk_free(struct bulk *b);

/* One bulk-delete line: URL-decoded, leading '/' dropped, split into an owned container
 * and object (NULL for a container). 0; 1 for an empty line; -EINVAL when malformed. Pure. */
int bulk_delete_path(const char *line, size_t n, char **container, char **object);

/* A tar header block: 0 filled in, 1 the end-of-archive (zero) block, -EINVAL when the
 * checksum or a field is bad. name: "prefix/name" of a POSIX ustar header (magic
 * "ustar\0" "00"), the name field alone otherwise (GNU's "ustar  \0" keeps atime and
 * ctime where ustar has the prefix), NUL-terminated. Pure. */
struct bulk_tar_header {
	char name[256 + 2];
	char type;
	uint64_t size;
};
int bulk_tar_header_parse(const unsigned char block[512], struct bulk_tar_header *h);

/* The path of a pax extended header's n bytes of records ("LEN key=value\n"...; LEN
 * decimal digits only, counting the whole record): 0 with *path owned (NULL when no
 * record is "path"; the last one wins), or -EINVAL with *path NULL when a record is
 * malformed. Pure. */
int bulk_pax_path(const char *rec, size_t n, char **path);

#endif

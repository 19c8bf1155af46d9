/* Swift's large objects over the store. A dynamic large object (DLO) is an object with
 * X-Object-Manifest: <container>/<prefix>: its bytes are those of the container's objects
 * under that prefix, in name order, as they are at the time of the read. A static large
 * object (SLO) is a manifest object written with ?multipart-manifest=put: a JSON list of
 * segments checked when it is written and kept in the manifest's body. Both are served as
 * one object, pulled segment after segment from the store (never whole in memory). */
#ifndef NUBO_OBJSTORE_LARGEOBJ_H
#define NUBO_OBJSTORE_LARGEOBJ_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define LARGEOBJ_MAX_SEGMENTS 1000                    /* Swift's max_manifest_segments */
#define LARGEOBJ_MAX_MANIFEST (2u << 20)              /* bytes of a manifest body */
#define LARGEOBJ_MIN_SEGMENT 1                        /* Swift's min_segment_size (1 byte) */
#define LARGEOBJ_SLO_ETAG "X-Object-Sysmeta-Slo-Etag" /* on the manifest object */
#define LARGEOBJ_SLO_SIZE "X-Object-Sysmeta-Slo-Size"

struct largeobj_seg {
	char *container, *object; /* owned */
	uint64_t size;
	char etag[33];
	char content_type[256];
	char timestamp[STORE_TS_LEN];
};

struct largeobj {
	struct largeobj_seg *seg; /* owned */
	size_t n;
	uint64_t size; /* sum of the segments' sizes */
	char etag[33]; /* MD5 of the segments' ETags concatenated (Swift's large-object ETag) */
};
void largeobj_release(struct largeobj *lo);

/* The DLO of manifest value "<container>/<prefix>" (as stored; the prefix may be empty):
 * lists the segments. STORE_BAD_REQUEST for a value without '/', STORE_TOO_LARGE past
 * LARGEOBJ_MAX_SEGMENTS. */
enum store_err largeobj_dlo_load(struct store *s, const char *account, const char *manifest,
                                 struct largeobj *out);

/* Parses a client's ?multipart-manifest=put body (JSON list of {"path": "/c/o", "etag":
 * hex or null, "size_bytes": n or null}) and checks every segment against the store
 * (exists, ETag and size as given). On STORE_BAD_REQUEST writes Swift's reason into why.
 * Fills out (segments with their real size and ETag). may_read (NULL: all) says whether
 * the caller may read a segment's container; it is asked before the segment is looked at,
 * and a refusal is Swift's "403 Forbidden" reason (STORE_BAD_REQUEST). */
enum store_err largeobj_slo_check(struct store *s, const char *account, const char *body,
                                  size_t len, int (*may_read)(void *arg, const char *container),
                                  void *arg, struct largeobj *out, char *why, size_t whylen);
/* The manifest body Swift stores and answers ?multipart-manifest=get with: [{"name":
 * "/c/o", "hash": etag, "bytes": n, "content_type": ..., "last_modified": ...}]. Pure. */
char *largeobj_slo_format(const struct largeobj *lo);
/* Parses a stored manifest body (largeobj_slo_format's). -EINVAL when it is not one. Pure. */
int largeobj_slo_parse(const char *body, size_t len, struct largeobj *out);
/* Reads the SLO manifest object (account, container, object) and parses it. */
enum store_err largeobj_slo_load(struct store *s, const char *account, const char *container,
                                 const char *object, struct largeobj *out);

/* A read of bytes first..last (store_get_open's convention) of lo (taken: freed by close).
 * *off, *len: the bytes read will return; STORE_RANGE when unsatisfiable. */
struct largeobj_get;
enum store_err largeobj_get_open(struct store *s, const char *account, struct largeobj *lo,
                                 int64_t first, int64_t last, uint64_t *off, uint64_t *len,
                                 struct largeobj_get **out);
/* px_answer_stream's reader and closer (cls is a struct largeobj_get). */
ssize_t largeobj_get_read(void *cls, void *buf, size_t max);
void largeobj_get_close(void *cls);

#endif

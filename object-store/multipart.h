/* A streaming multipart/form-data parser (RFC 7578 over RFC 2046's framing) for Swift's
 * form POST: bytes go in as they arrive, in pieces of any size; each part's headers come
 * out parsed and its body as data pieces, never gathered. Memory is bounded
 * (MULTIPART_BUF + the boundary) whatever the body's size. Pure: no I/O. */
#ifndef NUBO_OBJSTORE_MULTIPART_H
#define NUBO_OBJSTORE_MULTIPART_H
#include <stddef.h>

#define MULTIPART_MAX_BOUNDARY 70   /* RFC 2046 */
#define MULTIPART_MAX_HEADERS 8192  /* bytes of one part's header block */
#define MULTIPART_MAX_NAME 256      /* a field's name */
#define MULTIPART_MAX_FILENAME 1024 /* a file's name (Swift's object name bound) */
#define MULTIPART_MAX_VALUE 256     /* Content-Type, Content-Encoding of a part */
#define MULTIPART_BUF 65536         /* bytes held at most, beside the boundary */

/* One part's headers. Strings are NUL-terminated, "" when absent. */
struct multipart_part {
	int form_data;    /* Content-Disposition: form-data */
	int has_filename; /* a filename parameter was given (it may be "") */
	char name[MULTIPART_MAX_NAME + 1];
	char filename[MULTIPART_MAX_FILENAME + 1];
	char content_type[MULTIPART_MAX_VALUE + 1];
	char content_encoding[MULTIPART_MAX_VALUE + 1];
};

/* What the parser calls. A non-zero return stops the parse: multipart_feed returns it. */
struct multipart_cb {
	int (*part_begin)(void *arg, const struct multipart_part *p);
	int (*part_data)(void *arg, const char *data, size_t n);
	int (*part_end)(void *arg);
};

struct multipart;

/* The boundary parameter of a Content-Type value "multipart/form-data; boundary=B" (B
 * a token or a quoted string) into out: 0, or -EINVAL when the type is not
 * multipart/form-data or B is absent, empty, longer than MULTIPART_MAX_BOUNDARY or holds
 * a character RFC 2046 forbids. */
int multipart_boundary(const char *content_type, char out[MULTIPART_MAX_BOUNDARY + 1]);

/* A parser for boundary (as multipart_boundary gives it); cb and arg are borrowed. */
struct multipart *multipart_new(const char *boundary, const struct multipart_cb *cb, void *arg);
/* Feeds n bytes. 0; -EINVAL when the body is not multipart (it does not start with the
 * boundary line, a part's headers are malformed or too large); -E2BIG when a part's
 * name, filename or header value passes its bound; or a callback's non-zero return.
 * After a non-zero return the parser takes nothing more. */
int multipart_feed(struct multipart *m, const char *data, size_t n);
/* 1 once the closing boundary was seen, 0 before. */
int multipart_done(const struct multipart *m);
/* 1 once the first boundary line was seen (the body is multipart), 0 before. */
int multipart_started(const struct multipart *m);
void multipart_free(struct multipart *m);

#endif

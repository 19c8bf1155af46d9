/* nubo-objproxy's HTTP front: one libmicrohttpd server, thread per connection, that hands
 * each request to a front end (Swift at /v1/, S3 for the rest) through the phases below.
 * It does not use common/httpd: object names hold '/', bodies go to the replicas as they
 * arrive (not to a temp file), and SigV4 needs the path and query exactly as sent, so the
 * URL is kept raw here and decoded by the front end. */
#ifndef NUBO_OBJSTORE_PROXY_H
#define NUBO_OBJSTORE_PROXY_H
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct px_req;

/* A front end. Every hook runs on the connection's thread and may block. */
struct px_frontend {
	const char *name; /* "swift", "s3" */
	/* 1 when this front end serves the request (path raw as sent, Host header). */
	int (*match)(const char *raw_path, const char *host);
	/* Headers complete: authenticate, parse, decide. Answer now (px_answer_*) to end the
	 * request (its body is read and dropped), or return without answering to receive
	 * the body through body() and then finish(). */
	void (*begin)(struct px_req *r);
	/* Body bytes as they arrive (n > 0). A non-zero return stops calling body; the
	 * remaining bytes are dropped and finish still runs. */
	int (*body)(struct px_req *r, const char *data, size_t n);
	/* Body complete (also when there was none): answer. */
	void (*finish)(struct px_req *r);
	/* Always last, also after an early answer or a broken connection: free state. */
	void (*end)(struct px_req *r);
};

/* Request accessors (borrowed strings, valid until end). */
const char *px_method(const struct px_req *r);
const char *px_raw_path(const struct px_req *r);  /* as sent, percent-escapes kept */
const char *px_raw_query(const struct px_req *r); /* after '?', as sent, or "" */
/* Query value of key, percent- and '+'-decoded (borrowed, NULL when absent; "" for a
 * key without a value). px_query_has: 1 when present at all. */
const char *px_query(struct px_req *r, const char *key);
int px_query_has(struct px_req *r, const char *key);
const char *px_header(const struct px_req *r, const char *name);
/* Calls fn for every request header. */
void px_headers_each(const struct px_req *r, void (*fn)(void *arg, const char *k, const char *v),
                     void *arg);
/* "tx<hex>": the transaction id (also sent as X-Trans-Id and X-Openstack-Request-Id). */
const char *px_trans_id(const struct px_req *r);
#define PX_TRANS_ID_LEN 40
/* A new transaction id into out, in Swift's form: "tx", 21 random hex digits, "-", now
 * in 10 hex digits (34 characters). The random bytes come from getrandom, a block at a
 * time per thread. */
void px_trans_id_make(char out[PX_TRANS_ID_LEN], time_t now);
int64_t px_content_length(const struct px_req *r); /* -1 when chunked or absent */
void px_peer(const struct px_req *r, char *out, size_t n);
/* The front end's per-request state. */
void px_set_state(struct px_req *r, void *state);
void *px_state(const struct px_req *r);
struct store *px_store(const struct px_req *r);

/* Answers. A header added before the answer goes out with it (copied). */
void px_add_header(struct px_req *r, const char *name, const char *value);
/* Answers with body text (copied; may be NULL with len 0). content_type NULL: none. */
void px_answer(struct px_req *r, int status, const char *content_type, const char *text,
               size_t len);
/* HEAD-style answer: no body, but Content-Length: len. */
void px_answer_head(struct px_req *r, int status, uint64_t len);
/* Answers with len bytes pulled from g (owned: closed when the answer ends). */
void px_answer_get(struct px_req *r, int status, struct store_get *g, uint64_t len);
/* Answers with len bytes pulled from read(cls) (> 0 bytes, 0 at the end, < 0 when the
 * source broke off: the connection is cut); close(cls) runs once when the answer ends
 * (at once for HEAD or len 0). */
void px_answer_stream(struct px_req *r, int status, uint64_t len,
                      ssize_t (*read)(void *cls, void *buf, size_t max), void (*close)(void *cls),
                      void *cls);
int px_answered(const struct px_req *r);

/* Percent-decodes src (no '+' rule) into a new string; NULL when it holds a bad escape
 * or decodes to a NUL. Pure. */
char *px_unescape(const char *src, int plus_is_space);

#endif

/* What the Swift front end (swift.c) shares with the middlewares it runs (staticweb.c,
 * formpost.c): the per-request state, and the answers and handlers they hand a request
 * on to, each as the plain Swift API would give it. */
#ifndef NUBO_OBJSTORE_SWIFT_IMPL_H
#define NUBO_OBJSTORE_SWIFT_IMPL_H
#include <stdint.h>

#include "objauth.h"
#include "proxy.h"
#include "store.h"

struct bulk;
struct formpost;
struct store_put;

/* Per request. */
struct swift_req {
	char *account, *container, *object; /* decoded; container and object NULL when absent */
	struct objauth_who who;
	int authed; /* a valid token */
	struct store_kv kv[STORE_MAX_META + 8];
	int nkv;
	struct store_put *put;
	enum store_err put_err;
	char content_type[256];
	char *slo_body; /* ?multipart-manifest=put: the manifest as it arrives */
	size_t slo_len;
	int slo;
	int64_t quota_left;        /* bytes the container's quota still allows, -1: no quota */
	int tempurl;               /* authorized by a temp URL's signature: TEMPURL_ACCOUNT or
	                            * TEMPURL_CONTAINER, the key that signed it (0: not) */
	struct bulk *bulk;         /* ?bulk-delete or ?extract-archive (bulk.h) */
	struct formpost *formpost; /* a form POST in progress (formpost.h) */
};

/* Swift's error answer: status with its HTML body naming text. */
void swift_answer_err(struct px_req *r, int status, const char *text);
/* The answer Swift gives for a store error. */
void swift_answer_store_err(struct px_req *r, enum store_err e);
/* 1 when the caller of q may read (write 0) or write (1) in container c of q's account
 * (object 1: an object in it; 0: its listing, which an anonymous caller may only read
 * with .rlistings), else 0. Answers nothing. */
int swift_container_allows(struct px_req *r, const struct swift_req *q, const char *c, int write,
                           int object);
/* GET or HEAD (px_method) of q's object, as the Swift API answers it: ranges,
 * conditions, large objects, expiry. */
void swift_object_get(struct px_req *r, struct swift_req *q);
/* The values of the items of kv named prefix "Temp-Url-Key" and "...-2" into keys[0..1]
 * (borrowed from kv; left as they were when absent). */
void swift_tempurl_keys(const struct store_kv *kv, int n, const char *prefix, const char **keys);
/* 1 when m's X-Delete-At has passed. */
int swift_expired(const struct store_meta *m);

#endif

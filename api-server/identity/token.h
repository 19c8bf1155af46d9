/* Keystone tokens: "nubo" + 32 random bytes in base64url (a token limited to the object
 * store: "nubs" + its Swift account + "." + the same, common/objtoken.h); only their
 * SHA-256 is stored. */
#ifndef NUBO_TOKEN_H
#define NUBO_TOKEN_H
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"
#include "identity/token_cache.h"

#define TOKEN_STR_MAX 144   /* a limited token's prefix (objtoken.h) and 43 characters */
#define TOKEN_PREFIX "nubo" /* then 43 base64url characters of 32 random bytes */

/* What a new token is made of: its user, its scope (a project, a domain, or neither:
 * unscoped), the methods that proved the user (comma-separated, as stored; NULL =
 * "password"), the application credential it comes from (NULL: none), and a
 * timestamp it may never outlive (e.g. the expiry of the token it is made from, so
 * re-scoping cannot extend a token's life; NULL = no cap). */
struct token_req {
	const char *user_id, *project_id, *domain_id, *methods, *app_cred_id, *not_after;
	int system; /* scoped to the system ("system": {"all": true}); project/domain NULL */
	/* NULL, or the Swift account ("AUTH_<project>") the token is limited to: it then
	 * opens that account of the object store and no API of nubo-api (objtoken.h) */
	const char *object_account;
};

/* Creates a token as t says, valid ttl seconds (but never past t->not_after). Writes
 * the token into out and fills a (as token_validate would). Returns 0, -EINVAL (a
 * malformed t->object_account) or -EIO. */
int token_issue(PGconn *db, const struct token_req *t, long ttl, char out[TOKEN_STR_MAX],
                struct auth *a);
/* Fills a when token is known, unrevoked, unexpired, and its user, its scope and
 * their domains are enabled (and its application credential, if any, still exists); a->valid stays
 * 0 otherwise. Answers from tc (NULL: none) when it holds the token, else asks db and keeps a valid
 * answer in tc. Returns 0, -EACCES (no such valid token) or -EIO when the database could not answer
 * (err says why): that is not a bad token. */
int token_validate(PGconn *db, struct token_cache *tc, const char *token, struct auth *a, char *err,
                   size_t errlen);
/* Revokes by hash. Returns 0 or -EIO. */
int token_revoke(PGconn *db, const char *hash);
/* Revokes every token of a user (disable, delete, password change). */
int token_revoke_user(PGconn *db, const char *user_id);

#endif

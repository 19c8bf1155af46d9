/* Keystone tokens: "nubo" + 32 random bytes in base64url; only their SHA-256 is
 * stored. */
#ifndef NUBO_TOKEN_H
#define NUBO_TOKEN_H
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"
#include "identity/token_cache.h"

#define TOKEN_STR_MAX 64
#define TOKEN_PREFIX "nubo" /* then 43 base64url characters of 32 random bytes */

/* Creates a token for user (scoped to project_id, or unscoped when NULL), valid ttl
 * seconds but never past not_after (a timestamp, e.g. the expiry of the token it is
 * made from; NULL = no cap), so re-scoping cannot extend a token's life. Writes the token into out
 * and fills a (as token_validate would). Returns 0 or -EIO. */
int token_issue(PGconn *db, const char *user_id, const char *project_id, long ttl,
                const char *not_after, char out[TOKEN_STR_MAX], struct auth *a);
/* Fills a when token is known, unrevoked, unexpired, and its user and project are
 * enabled; a->valid stays 0 otherwise. Answers from tc (NULL: none) when it holds the
 * token, else asks db and keeps a valid answer in tc. Returns 0, -EACCES (no such
 * valid token) or -EIO when the database could not answer (err says why): that is not
 * a bad token. */
int token_validate(PGconn *db, struct token_cache *tc, const char *token, struct auth *a, char *err,
                   size_t errlen);
/* Revokes by hash. Returns 0 or -EIO. */
int token_revoke(PGconn *db, const char *hash);
/* Revokes every token of a user (disable, delete, password change). */
int token_revoke_user(PGconn *db, const char *user_id);

#endif

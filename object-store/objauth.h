/* Keystone token validation for nubo-objproxy: asks nubo-api (GET /identity/v3/auth/tokens
 * with the token as its own subject) and caches the answer for a bounded time, keyed by
 * the token's SHA-256 (the token itself is never kept or logged). */
#ifndef NUBO_OBJSTORE_OBJAUTH_H
#define NUBO_OBJSTORE_OBJAUTH_H

struct objauth;

struct objauth_who {
	char project_id[65];
	char user_id[65];
	int admin;  /* holds the admin role */
	int writer; /* admin or member: may change the project's objects */
	int reader; /* any role on the project */
	/* a token limited to the object store (common/objtoken.h): the one account it
	 * opens ("" for any other token); project_id is then that account's project and
	 * admin is 0 (it acts as the account's owner, never as the reseller admin) */
	char only_account[80];
};

/* identity_url: nubo-api's Identity root ("http://127.0.0.1:8080/identity"); ttl: seconds
 * a validation is reused (bounded by the token's expiry). */
struct objauth *objauth_new(const char *identity_url, long ttl);
void objauth_free(struct objauth *a);
/* 0 with who filled; -EACCES for a token Keystone refuses (or one without a project
 * scope, or a malformed limited one); -EIO when nubo-api is unreachable. */
int objauth_check(struct objauth *a, const char *token, struct objauth_who *who);
/* Pure: narrows who (as Keystone validated token) to the one account a token limited to
 * the object store opens (see only_account); nothing for any other token. 0, or -EACCES
 * for a malformed limited token. */
int objauth_limit(const char *token, struct objauth_who *who);

#endif

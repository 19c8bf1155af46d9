/* Tokens limited to the object store: a Keystone token minted for a storage agent's
 * task (a volume backup writes into its owner's Swift account) that opens one Swift
 * account and nothing else. The limit is part of the token's own text: "nubs" + the
 * account + "." + the random part, while every other token is "nubo" + the random part.
 * Only the token's SHA-256 is stored, so the account in a valid token is the one it was
 * minted with (changing a byte makes another, unknown token), as Keystone's Fernet
 * tokens carry their scope. nubo-api refuses such a token on every API but the
 * validation of itself; the object store's proxy accepts it for that account only. */
#ifndef NUBO_OBJTOKEN_H
#define NUBO_OBJTOKEN_H
#include <stddef.h>

#define OBJTOKEN_PREFIX "nubs"
#define OBJTOKEN_ACCOUNT_MAX 80 /* "AUTH_" + a project id, with its NUL */

/* Pure: the Swift account token is limited to. 1 with account (of n bytes, at least
 * OBJTOKEN_ACCOUNT_MAX) filled when token is limited to one; 0 when it is not (account
 * ""); -EINVAL when it starts as a limited token but names no well-formed account
 * (such a token is never valid: treat it as limited to nothing). */
int objtoken_account(const char *token, char *account, size_t n);

/* Pure: the text a token limited to account starts with ("nubs" + account + "."),
 * into out of n bytes. Returns its length, or -EINVAL when account is not "AUTH_" and
 * 1..64 characters of [A-Za-z0-9_-] or out is too small. */
int objtoken_prefix(const char *account, char *out, size_t n);

#endif

/* Tokens limited to one Swift account (see objtoken.h). */
#include "objtoken.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Length of a well-formed account at the start of s ("AUTH_" + 1..64 of
 * [A-Za-z0-9_-]), ended by end (a character not of the set); 0 when it is not one. */
static size_t account_len(const char *s)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
	if (strncmp(s, "AUTH_", 5))
		return 0;
	size_t n = strspn(s + 5, set);
	return n >= 1 && n <= 64 ? 5 + n : 0;
}

int objtoken_account(const char *token, char *account, size_t n)
{
	const size_t plen = sizeof(OBJTOKEN_PREFIX) - 1;
	if (n)
		account[0] = '\0';
	if (!token || strncmp(token, OBJTOKEN_PREFIX, plen))
		return 0;
	size_t len = account_len(token + plen);
	if (!len || token[plen + len] != '.' || !token[plen + len + 1] || len >= n)
		return -EINVAL;
	memcpy(account, token + plen, len);
	account[len] = '\0';
	return 1;
}

int objtoken_prefix(const char *account, char *out, size_t n)
{
	size_t len = account ? account_len(account) : 0;
	if (!len || account[len])
		return -EINVAL;
	int w = snprintf(out, n, "%s%s.", OBJTOKEN_PREFIX, account);
	return w < 0 || (size_t)w >= n ? -EINVAL : w;
}

/* The pure cores of the key pair API (name and key checks, Nova's MD5 fingerprint),
 * exported for unit tests. keypair.c serves /compute/v2.1/os-keypairs with them. */
#ifndef NUBO_KEYPAIR_H
#define NUBO_KEYPAIR_H
#include <stddef.h>

#define KEYPAIR_NAME_MAX 255
#define KEYPAIR_KEY_MAX 16384  /* an OpenSSH public key line, bytes */
#define KEYPAIR_FP_LEN 48      /* "xx:" * 16 - 1 + NUL */
#define KEYPAIR_X509_FP_LEN 60 /* an x509 key pair's SHA-1: "xx:" * 20 - 1 + NUL */

/* 1 when name is 1..255 of letters, digits, ' ', '_', '-', '.', '@' with no leading
 * or trailing space (Nova 2.92's set; older Nova lacks '.' and '@'). Else 0. */
int keypair_name_ok(const char *name);

/* Trims trailing whitespace (the newline of a .pub file) from key in place. Returns 0
 * when what is left is one line "<type> <base64> [comment]" of a known OpenSSH key type,
 * else -EINVAL. It does not check the key material; ssh-keygen does. */
int keypair_public_key_parse(char *key);

/* Nova's fingerprint: MD5 of the base64-decoded key blob as lowercase colon hex
 * ("aa:bb:…", 47 chars) into out. Returns 0, or -EINVAL when key is not
 * "<type> <base64> ..." with valid base64. */
int keypair_fingerprint(const char *key, char out[KEYPAIR_FP_LEN]);

#endif

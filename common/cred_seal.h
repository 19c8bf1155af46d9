/* Credential blobs sealed at rest: XChaCha20-Poly1305 (libsodium) under the
 * [identity] credential_key of nubo.conf (64 hex digits), the credential's id as
 * associated data so a sealed blob cannot be moved to another row. A sealed text is
 * "ae1:" + base64(nonce || box). Pure except cred_seal_rows (which only queries);
 * never logs: plaintexts are secrets. */
#ifndef NUBO_CRED_SEAL_H
#define NUBO_CRED_SEAL_H
#include <stddef.h>
#include <stdint.h>

#include "db.h"

#define CRED_KEY_BYTES 32
#define CRED_SEAL_PREFIX "ae1:"

/* Parses the key's 64 hex digits. 0, or -EINVAL (absent, wrong length, not hex). */
int cred_key_parse(const char *hex, uint8_t key[CRED_KEY_BYTES]);

/* Seals plain for the credential id. Returns owned text. */
char *cred_seal(const uint8_t key[CRED_KEY_BYTES], const char *id, const char *plain);

/* A per-use secret derived from key, so that it need not be stored: HMAC-SHA256 of
 * "context:id" under key, as 64 lowercase hex digits and a NUL in out (the NBD export
 * key of an attachment: context "nbd-psk", id the attachment id). */
void cred_derive_hex(const uint8_t key[CRED_KEY_BYTES], const char *context, const char *id,
                     char out[65]);

/* 1 when s has the sealed form's prefix. */
int cred_is_sealed(const char *s);

/* Opens a sealed text of credential id. 0 with *plain owned (wipe it with
 * sodium_memzero before free), -EINVAL (not of the sealed form) or -EBADMSG (another
 * key, another id, or tampered). */
int cred_open(const uint8_t key[CRED_KEY_BYTES], const char *id, const char *sealed, char **plain);

/* Seals every credentials row still in plaintext (written before migration 0015)
 * and validates the credentials_blob_sealed constraint. Returns the number of rows
 * sealed, or -EIO with err filled. */
int cred_seal_rows(PGconn *db, const uint8_t key[CRED_KEY_BYTES], char *err, size_t errlen);

/* An EC2 credential as the S3 front end needs it. */
struct cred_ec2 {
	char user_id[65], project_id[65];
	char *secret; /* owned: wipe with sodium_memzero, then free (cred_ec2_release) */
	int admin;    /* the user holds the admin role on the project */
};
void cred_ec2_release(struct cred_ec2 *c);

/* The EC2 credential of access key `access` (its row id is the key's SHA-256) when it
 * may be used now: its user and project enabled and the user still holding a role on
 * the project (directly or through a group; a revoked grant revokes the key). 0 with
 * *out filled, -ENOENT (no such key), -EACCES (disabled, or no role left), -EBADMSG
 * (the blob does not open under key), -EIO with err (database). */
int cred_ec2_find(PGconn *db, const uint8_t key[CRED_KEY_BYTES], const char *access,
                  struct cred_ec2 *out, char *err, size_t errlen);

#endif

/* Sealing credential blobs at rest (see cred_seal.h). */
#include "cred_seal.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util.h"
#include "xalloc.h"

#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define SEALED_MAX (1u << 20)

int cred_key_parse(const char *hex, uint8_t key[CRED_KEY_BYTES])
{
	size_t n = 0;
	const char *end = NULL;
	if (!hex || strlen(hex) != 2 * CRED_KEY_BYTES)
		return -EINVAL;
	if (sodium_hex2bin(key, CRED_KEY_BYTES, hex, strlen(hex), NULL, &n, &end) < 0 ||
	    n != CRED_KEY_BYTES || *end) {
		sodium_memzero(key, CRED_KEY_BYTES);
		return -EINVAL;
	}
	return 0;
}

void cred_derive_hex(const uint8_t key[CRED_KEY_BYTES], const char *context, const char *id,
                     char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, CRED_KEY_BYTES);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)context, strlen(context));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)":", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)id, strlen(id));
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

int cred_is_sealed(const char *s)
{
	return s && !strncmp(s, CRED_SEAL_PREFIX, strlen(CRED_SEAL_PREFIX));
}

char *cred_seal(const uint8_t key[CRED_KEY_BYTES], const char *id, const char *plain)
{
	size_t plen = strlen(plain), blen = NONCE + plen + TAG;
	unsigned char *box = xmalloc(blen);
	unsigned long long clen = 0;
	randombytes_buf(box, NONCE);
	crypto_aead_xchacha20poly1305_ietf_encrypt(box + NONCE, &clen, (const unsigned char *)plain,
	                                           plen, (const unsigned char *)id, strlen(id),
	                                           NULL, box, key);
	size_t b64 = sodium_base64_encoded_len(blen, sodium_base64_VARIANT_ORIGINAL);
	size_t pre = strlen(CRED_SEAL_PREFIX);
	char *out = xmalloc(pre + b64);
	memcpy(out, CRED_SEAL_PREFIX, pre);
	sodium_bin2base64(out + pre, b64, box, blen, sodium_base64_VARIANT_ORIGINAL);
	free(box);
	return out;
}

int cred_open(const uint8_t key[CRED_KEY_BYTES], const char *id, const char *sealed, char **plain)
{
	unsigned char *box = NULL;
	size_t blen = 0, pre = strlen(CRED_SEAL_PREFIX);
	unsigned long long mlen = 0;
	int rc = -EINVAL;
	*plain = NULL;
	if (!cred_is_sealed(sealed) || strlen(sealed) > SEALED_MAX)
		return -EINVAL;
	size_t slen = strlen(sealed + pre);
	box = xmalloc(slen + 1);
	if (sodium_base642bin(box, slen + 1, sealed + pre, slen, NULL, &blen, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) < 0 ||
	    blen < NONCE + TAG)
		goto out;
	char *m = xmalloc(blen - NONCE - TAG + 1);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt((unsigned char *)m, &mlen, NULL, box + NONCE,
	                                               blen - NONCE, (const unsigned char *)id,
	                                               strlen(id), box, key) < 0) {
		free(m);
		rc = -EBADMSG;
		goto out;
	}
	m[mlen] = 0;
	*plain = m;
	rc = 0;
out:
	free(box);
	return rc;
}

int cred_seal_rows(PGconn *db, const uint8_t key[CRED_KEY_BYTES], char *err, size_t errlen)
{
	int sealed = 0, rc = 0;
	PGresult *res = db_query(db, "SELECT id, blob FROM credentials WHERE blob NOT LIKE 'ae1:%'",
	                         0, NULL, err, errlen, NULL);
	if (!res)
		return -EIO;
	for (int i = 0; i < PQntuples(res) && rc == 0; i++) {
		char *s = cred_seal(key, db_val(res, i, 0), db_val(res, i, 1));
		/* only if still the plaintext read: a concurrent writer wins */
		int n = DBX(db, err, errlen,
		            "UPDATE credentials SET blob = $2 WHERE id = $1 AND blob = $3",
		            db_val(res, i, 0), s, db_val(res, i, 1));
		free(s);
		if (n < 0)
			rc = -EIO;
		else
			sealed += n;
	}
	PQclear(res);
	if (rc == 0 &&
	    db_exec(db,
	            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname ="
	            " 'credentials_blob_sealed' AND NOT convalidated) THEN ALTER TABLE"
	            " credentials VALIDATE CONSTRAINT credentials_blob_sealed; END IF; END $$",
	            0, NULL, err, errlen) < 0)
		rc = -EIO;
	return rc < 0 ? rc : sealed;
}

void cred_ec2_release(struct cred_ec2 *c)
{
	if (c->secret) {
		sodium_memzero(c->secret, strlen(c->secret));
		free(c->secret);
	}
	c->secret = NULL;
}

int cred_ec2_find(PGconn *db, const uint8_t key[CRED_KEY_BYTES], const char *access,
                  struct cred_ec2 *out, char *err, size_t errlen)
{
	char id[65], *plain = NULL;
	int rc;
	memset(out, 0, sizeof *out);
	if (!access || !*access || strlen(access) > 128)
		return -ENOENT;
	sha256_hex(access, strlen(access), id);
	PGresult *res = DBQ(
	    db, err, errlen,
	    "SELECT c.id, c.user_id, c.project_id, c.blob, u.enabled AND p.enabled,"
	    " EXISTS (SELECT 1 FROM role_assignments ra WHERE ra.project_id = c.project_id"
	    "  AND (ra.user_id = c.user_id OR ra.group_id IN (SELECT group_id FROM group_members"
	    "  WHERE user_id = c.user_id))),"
	    " EXISTS (SELECT 1 FROM role_assignments ra JOIN roles r ON r.id = ra.role_id"
	    "  WHERE r.name = 'admin' AND ra.project_id = c.project_id AND (ra.user_id = c.user_id"
	    "  OR ra.group_id IN (SELECT group_id FROM group_members WHERE user_id = c.user_id)))"
	    " FROM credentials c JOIN users u ON u.id = c.user_id JOIN projects p ON"
	    " p.id = c.project_id WHERE c.id = $1 AND c.type = 'ec2'",
	    id);
	if (!res)
		return -EIO;
	if (PQntuples(res) != 1) {
		rc = -ENOENT;
		goto out;
	}
	if (strcmp(db_val(res, 0, 4), "t") || strcmp(db_val(res, 0, 5), "t")) {
		rc = -EACCES;
		goto out;
	}
	if ((rc = cred_open(key, id, db_val(res, 0, 3), &plain)) < 0) {
		rc = -EBADMSG;
		goto out;
	}
	json_t *b = json_loads(plain, 0, NULL);
	const char *a = json_string_value(json_object_get(b, "access"));
	const char *sec = json_string_value(json_object_get(b, "secret"));
	if (a && sec && !strcmp(a, access) && strlen(db_val(res, 0, 1)) < sizeof out->user_id &&
	    strlen(db_val(res, 0, 2)) < sizeof out->project_id) {
		snprintf(out->user_id, sizeof out->user_id, "%s", db_val(res, 0, 1));
		snprintf(out->project_id, sizeof out->project_id, "%s", db_val(res, 0, 2));
		out->secret = xstrdup(sec);
		out->admin = !strcmp(db_val(res, 0, 6), "t");
	} else {
		rc = -EBADMSG;
	}
	if (b) {
		/* the secret's copy inside jansson's string */
		if (sec)
			sodium_memzero((char *)sec, strlen(sec));
		json_decref(b);
	}
out:
	if (plain) {
		sodium_memzero(plain, strlen(plain));
		free(plain);
	}
	PQclear(res);
	return rc;
}

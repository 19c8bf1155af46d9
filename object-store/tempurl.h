/* Swift's temporary URLs (the tempurl middleware): a GET, HEAD, PUT, POST or DELETE of one
 * object without a token, signed with a key the account (X-Account-Meta-Temp-URL-Key[-2])
 * or the container (X-Container-Meta-Temp-URL-Key[-2]) holds:
 *   ?temp_url_sig=SIG&temp_url_expires=WHEN[&temp_url_prefix=P][&temp_url_ip_range=R]
 *    [&inline][&filename=F]
 * SIG is the HMAC of "METHOD\nEXPIRES\nPATH" (PATH the decoded /v1/AUTH_a/c/o, or
 * "prefix:/v1/AUTH_a/c/P" for a prefix-based URL) under the key: hex of SHA-1, SHA-256 or
 * SHA-512 (told apart by its length), or "<digest>:<base64 of the MAC>". WHEN is a Unix
 * time or an ISO 8601 "YYYY-MM-DDTHH:MM:SSZ". These functions are pure. */
#ifndef NUBO_OBJSTORE_TEMPURL_H
#define NUBO_OBJSTORE_TEMPURL_H
#include <stddef.h>
#include <stdint.h>

#define TEMPURL_MAX_KEYS 4   /* account key, key-2, container key, key-2 */
#define TEMPURL_ACCOUNT 1    /* a temp URL signed with the account's key */
#define TEMPURL_CONTAINER 2  /* with its container's key */
#define TEMPURL_MAX_MAC 64   /* SHA-512 */
#define TEMPURL_MAX_KEY 1024 /* bytes of one key (a metadata value is shorter) */

enum tempurl_digest { TEMPURL_SHA1, TEMPURL_SHA256, TEMPURL_SHA512 };

/* SHA-1 of n bytes of p into out[20]. */
void tempurl_sha1(const void *p, size_t n, unsigned char out[20]);

/* HMAC of msg under key with digest d into out; returns the MAC's length (20/32/64). */
size_t tempurl_hmac(enum tempurl_digest d, const char *key, size_t klen, const char *msg,
                    size_t mlen, unsigned char out[TEMPURL_MAX_MAC]);

/* Parses a temp_url_sig into its digest and MAC bytes. 0, or -EINVAL. */
int tempurl_sig_parse(const char *sig, enum tempurl_digest *d, unsigned char mac[TEMPURL_MAX_MAC],
                      size_t *maclen);

/* Parses temp_url_expires (decimal Unix time, or ISO 8601 UTC "YYYY-MM-DDTHH:MM:SSZ"). The
 * time, or -1 when malformed. */
int64_t tempurl_expires_parse(const char *s);

/* 1 when sig is the MAC of "method\nexpires\npath" under one of the nkeys keys (NULL keys
 * skipped; compared in constant time), else 0. */
int tempurl_sig_ok(const char *sig, const char *method, int64_t expires, const char *path,
                   const char *const *keys, int nkeys);

/* 1 when sig (as tempurl_sig_parse reads it) is the MAC of the string msg under one of the
 * nkeys keys (NULL or empty keys skipped; compared in constant time), else 0. The form
 * POST's signature is checked with it too. */
int tempurl_mac_ok(const char *sig, const char *msg, const char *const *keys, int nkeys);

/* tempurl_sig_ok for a URL bound to client addresses (temp_url_ip_range=ip_range): the MAC
 * is of "ip=<ip_range>\nmethod\nexpires\npath". */
int tempurl_sig_ok_ip(const char *sig, const char *ip_range, const char *method, int64_t expires,
                      const char *path, const char *const *keys, int nkeys);

/* Whether the client address addr (IPv4 or IPv6 text) lies in range: an address, or a
 * network "address/prefix" with no host bits set (as Python's ip_network, which Swift
 * uses). 1 inside, 0 outside (or of the other family), -1 when range is malformed. */
int tempurl_ip_in_range(const char *addr, const char *range);

/* The methods whose signature admits a request of method (Swift's): a HEAD may use a
 * URL signed for HEAD, GET, POST or PUT; any other method only its own. Fills out (borrowed
 * strings) and returns how many (1..4). */
#define TEMPURL_MAX_SIG_METHODS 4
int tempurl_sig_methods(const char *method, const char *out[TEMPURL_MAX_SIG_METHODS]);

/* The Content-Disposition a temp URL GET answers with (Swift's): "inline" (inline set, no
 * filename), "[inline|attachment]; filename=\"F\"; filename*=UTF-8''F%" for filename F
 * (NULL: the object name's last '/'-part when not inline), or NULL (keep the object's own)
 * when existing is set and neither inline nor filename was asked. A CR or LF in F is
 * written %0D / %0A in the quoted filename too (a header value holds no line break).
 * Owned string. */
char *tempurl_disposition(int inl, const char *filename, const char *object, int existing);

#endif

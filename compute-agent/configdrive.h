/* The config drive: an ISO 9660 image labelled "config-2" carrying OpenStack-style
 * metadata (openstack/latest/ and openstack/2012-08-10/: meta_data.json,
 * network_data.json, vendor_data.json, user_data) for cloud-init-like guests.
 * The JSON generators are pure; configdrive_build() writes files and runs
 * genisoimage (or xorriso) from an argv. */
#ifndef NUBO_CONFIGDRIVE_H
#define NUBO_CONFIGDRIVE_H
#include <stddef.h>

#include "msg.h"

#define CONFIGDRIVE_USER_DATA_MAX (64 * 1024) /* decoded bytes, as Nova */

struct configdrive_meta {
	const char *uuid;
	const char *name;           /* display name; NULL = uuid */
	const char *hostname;       /* NULL = derived from name */
	const char *az;             /* availability zone */
	const char *key_name;       /* NULL = no key */
	const char *public_key;     /* with key_name */
	const struct msg_nic *nics; /* the NICs (network_data.json), n_nics of them */
	int n_nics;
};

/* meta_data.json text (owned, ends with a newline). */
char *configdrive_meta_data(const struct configdrive_meta *m);
/* network_data.json text (owned) of m's NICs, as the metadata service serves it: a
 * link per NIC (tap name, port id, MAC, MTU), a static "ipv4" network per NIC with an
 * address (netmask, default route via the gateway) and the distinct DNS servers as
 * services. Without NICs: empty lists. */
char *configdrive_network_data(const struct configdrive_meta *m);
/* Writes a DNS label derived from name into out (lowercase [a-z0-9-], at most 63
 * characters, "instance" when nothing is left). */
void configdrive_hostname(const char *name, char *out, size_t outlen);
/* Decodes base64 user_data (whitespace allowed). Returns 0 with *out owned (may hold
 * zero bytes; not NUL-terminated data, but a NUL is appended) and *outlen, or -EINVAL
 * (not base64) / -E2BIG (more than CONFIGDRIVE_USER_DATA_MAX bytes) with err. */
int configdrive_user_data(const char *b64, unsigned char **out, size_t *outlen, char *err,
                          size_t errlen);
/* Builds iso_path (atomically: written beside it, then renamed), using a scratch
 * directory under tmp_dir. user_data_b64 may be NULL. Returns 0 or a negative errno
 * with err. */
int configdrive_build(const struct configdrive_meta *m, const char *user_data_b64,
                      const char *iso_path, const char *tmp_dir, char *err, size_t errlen);

#endif

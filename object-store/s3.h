/* The S3 front end of nubo-objproxy: one struct px_frontend (object-store/proxy.h)
 * that authenticates with SigV4 (header, presigned query, aws-chunked bodies) against
 * the EC2 credentials of Identity, read from PostgreSQL and opened with the
 * [identity] credential_key (common/cred_seal.h), and serves S3's bucket, object,
 * multipart and ACL operations on object-store/store.h. */
#ifndef NUBO_S3_H
#define NUBO_S3_H
#include <stddef.h>

#include "conf.h"
#include "db.h"
#include "proxy.h"

/* The proxy's row for S3 (before Swift's catch-all). */
extern const struct px_frontend s3_frontend;

/* Reads [identity] credential_key, [objstore] s3_domain (virtual-host base, optional)
 * and s3_region (default us-east-1); db (borrowed, the proxy's pool) serves the
 * credential and bucket lookups. 0, or -EINVAL with err: without a key S3 cannot
 * verify anything and answers 503 to every request. */
int s3_frontend_init(const struct conf *c, struct db_pool *db, char *err, size_t errlen);
void s3_frontend_fini(void);

#endif

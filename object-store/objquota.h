/* The object store's quotas, as Swift's container_quotas and account_quotas middlewares:
 * X-Container-Meta-Quota-Bytes/-Count on a container (set by its owner) and
 * X-Account-Meta-Quota-Bytes/-Count on an account (set by an admin only). Every write that
 * adds an object or bytes asks before it stores anything: Swift's PUT and copies, S3's
 * PutObject, CopyObject, UploadPart(Copy) and CompleteMultipartUpload. */
#ifndef NUBO_OBJSTORE_OBJQUOTA_H
#define NUBO_OBJSTORE_OBJQUOTA_H
#include <stdint.h>

#include "store.h"

/* Would one more object of len bytes (-1: not known yet) take container (NULL: skip) of
 * account, or the account (account_too 0: skip), past a quota? 1 over, 0 within (also when
 * the container or account cannot be read: the write answers that itself). *left (may be
 * NULL): the bytes the tightest byte quota still allows, -1 when none applies. */
int objquota_over(struct store *s, const char *account, const char *container, int account_too,
                  int64_t len, int64_t *left);

#endif

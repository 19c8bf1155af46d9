/* The object store's quotas (see objquota.h). */
#include "objquota.h"

#include <stdlib.h>
#include <strings.h>

/* The value of quota item name in kv (X-Container-Meta-Quota-Bytes, ...), or -1. */
static int64_t quota_value(const struct store_kv *kv, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcasecmp(kv[i].name, name)) {
			char *end;
			long long v = strtoll(kv[i].value, &end, 10);
			return *end || v < 0 || !kv[i].value[0] ? -1 : v;
		}
	return -1;
}

/* Applies one quota (bytes qb, objects qc; -1 none) holding used/count to a write of len
 * bytes: 1 when it is over; narrows *left. */
static int quota_apply(int64_t qb, int64_t qc, uint64_t used, uint64_t count, int64_t len,
                       int64_t *left)
{
	int over = qc >= 0 && count + 1 > (uint64_t)qc;
	if (qb >= 0) {
		int64_t l = used >= (uint64_t)qb ? 0 : qb - (int64_t)used;
		if (*left < 0 || l < *left)
			*left = l;
		over |= len >= 0 && len > l;
	}
	return over;
}

int objquota_over(struct store *s, const char *account, const char *container, int account_too,
                  int64_t len, int64_t *left)
{
	int64_t l = -1;
	int over = 0;
	/* the usage is added up only where a quota is set (the heads count every object) */
	if (store_quota_set(s, account, container, account_too) == 0) {
		if (left)
			*left = -1;
		return 0;
	}
	struct store_container_info ci;
	if (container && store_container_head(s, account, container, &ci) == STORE_OK) {
		over = quota_apply(quota_value(ci.kv, ci.nkv, "X-Container-Meta-Quota-Bytes"),
		                   quota_value(ci.kv, ci.nkv, "X-Container-Meta-Quota-Count"),
		                   ci.bytes_used, ci.object_count, len, &l);
		store_container_info_release(&ci);
	}
	struct store_account_info ai;
	if (!over && account_too && store_account_head(s, account, &ai) == STORE_OK) {
		over = quota_apply(quota_value(ai.kv, ai.nkv, "X-Account-Meta-Quota-Bytes"),
		                   quota_value(ai.kv, ai.nkv, "X-Account-Meta-Quota-Count"),
		                   ai.bytes_used, ai.object_count, len, &l);
		store_account_info_release(&ai);
	}
	if (left)
		*left = l;
	return over;
}

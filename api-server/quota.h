/* Compute quotas (instances, cores, ram): limits per project with defaults, usage from
 * the instances table, and the pure check used under the project row lock. */
#ifndef NUBO_QUOTA_H
#define NUBO_QUOTA_H
#include <libpq-fe.h>
#include <stddef.h>

enum quota_resource { QUOTA_INSTANCES, QUOTA_CORES, QUOTA_RAM, QUOTA_KEY_PAIRS, QUOTA_COUNT };

struct quota_set {
	long v[QUOTA_COUNT]; /* -1 = unlimited */
};

/* Resource name as the Nova API spells it ("instances", "cores", "ram", "key_pairs"). */
const char *quota_name(enum quota_resource q);
/* Nova's defaults: instances 10, cores 20, ram 51200, key_pairs 100. */
void quota_defaults(struct quota_set *s);
/* Limits of project: Nova's defaults overlaid with the default quota class's rows, then
 * with the project's quotas rows. 0 or -EIO. */
int quota_limits(PGconn *db, const char *project_id, struct quota_set *out);
/* Current usage of project from its non-deleted instances. 0 or -EIO. */
int quota_usage(PGconn *db, const char *project_id, struct quota_set *out);
/* Pure: 0 when usage + request fits limits; else -EDQUOT with a message such as
 * "Quota exceeded for instances: Requested 1, but already used 1 of 1 instances". */
int quota_check(const struct quota_set *limits, const struct quota_set *usage,
                const struct quota_set *request, char *msg, size_t msglen);

#endif

/* The server group of an instance being placed (os-server-groups, migration 0010), read
 * for placement_choose_grouped(). */
#ifndef NUBO_SCHED_GROUP_H
#define NUBO_SCHED_GROUP_H
#include <libpq-fe.h>
#include <stddef.h>

#include "placement.h"

struct sched_group {
	struct placement_group pg; /* strings borrowed from res / hosts */
	PGresult *res;
	const char **hosts;
};

/* Loads the group of instance id and the hosts of its other placed members. Returns
 * 1 with g filled, 0 when the instance is in no group (g zeroed), -EIO with err. Call
 * sched_group_release() either way. */
int sched_group_load(PGconn *c, const char *instance_id, struct sched_group *g, char *err,
                     size_t errlen);
void sched_group_release(struct sched_group *g);

#endif

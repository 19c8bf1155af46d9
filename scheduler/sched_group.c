/* One query: the instance's group policy and rule, and one row per other member with
 * its host (NULL while unplaced or deleted). */
#include "sched_group.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "xalloc.h"

int sched_group_load(PGconn *c, const char *instance_id, struct sched_group *g, char *err,
                     size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->res = DBQ(c, err, errlen,
	             "SELECT g.policy, coalesce(g.max_server_per_host, 1), i.host"
	             " FROM server_group_members m JOIN server_groups g ON g.id = m.group_id"
	             " LEFT JOIN server_group_members o ON o.group_id = g.id"
	             " AND o.instance_id <> m.instance_id"
	             " LEFT JOIN instances i ON i.id = o.instance_id AND NOT i.deleted"
	             " WHERE m.instance_id = $1",
	             instance_id);
	if (!g->res)
		return -EIO;
	int n = PQntuples(g->res);
	if (n == 0)
		return 0;
	g->hosts = xcalloc((size_t)n, sizeof(*g->hosts));
	for (int i = 0; i < n; i++)
		g->hosts[i] = db_val(g->res, i, 2);
	g->pg.policy = db_val(g->res, 0, 0);
	g->pg.max_per_host = db_long(g->res, 0, 1, 1);
	g->pg.member_hosts = g->hosts;
	g->pg.n_members = (size_t)n;
	return 1;
}

void sched_group_release(struct sched_group *g)
{
	PQclear(g->res);
	free(g->hosts);
	memset(g, 0, sizeof(*g));
}

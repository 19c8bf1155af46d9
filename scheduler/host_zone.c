/* Host zones for placement: aggregates override the zone an agent reports. */
#include "host_zone.h"

#include <string.h>

#include "db.h"

PGresult *host_zone_apply(PGconn *c, struct placement_host *hosts, size_t n, char *err,
                          size_t errlen)
{
	PGresult *r =
	    db_query(c, "SELECT host, az FROM compute_host_zones", 0, NULL, err, errlen, NULL);
	if (!r)
		return NULL;
	for (size_t k = 0; k < n; k++)
		for (int j = 0; j < PQntuples(r); j++)
			if (!strcmp(db_val(r, j, 0), hosts[k].name)) {
				hosts[k].az = db_val(r, j, 1);
				break;
			}
	return r;
}

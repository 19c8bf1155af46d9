/* The availability zone of each compute host as placement must see it: the zone an
 * aggregate puts the host in (os-aggregates' availability_zone metadata), else the
 * zone its agent reports (migration 0009's compute_host_zones view). */
#ifndef NUBO_SCHED_HOST_ZONE_H
#define NUBO_SCHED_HOST_ZONE_H
#include <libpq-fe.h>
#include <stddef.h>

#include "placement.h"

/* Points hosts[i].az of every host the view knows at its zone there. Returns the
 * result those strings live in (the caller PQclear()s it after its last use of
 * hosts), or NULL with err (hosts untouched). */
PGresult *host_zone_apply(PGconn *c, struct placement_host *hosts, size_t n, char *err,
                          size_t errlen);

#endif

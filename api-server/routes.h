/* Every resource file's route table, gathered in one list that http.c searches. */
#ifndef NUBO_ROUTES_H
#define NUBO_ROUTES_H
#include "http.h"

extern const struct route_table versions_routes;   /* versions.c: version documents */
extern const struct route_table auth_routes;	     /* auth.c: /identity/v3/auth/... */
extern const struct route_table identity_routes;   /* identity.c: projects, users, roles */
extern const struct route_table server_routes;     /* server.c: /compute/v2.1/servers */
extern const struct route_table server_action_routes; /* server_action.c */
extern const struct route_table flavor_routes;     /* flavor.c */
extern const struct route_table keypair_routes;    /* keypair.c */
extern const struct route_table compute_misc_routes; /* compute_misc.c: limits, AZ, hypervisors */
extern const struct route_table quota_routes;      /* quota.c: os-quota-sets */
extern const struct route_table image_routes;	     /* image.c: /image/v2 */

extern const struct route_table *const routes_all[];
extern const size_t routes_count;

#endif

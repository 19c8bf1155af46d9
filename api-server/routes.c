/* The list of route tables, in match order. Adding a resource is adding a line. */
#include "routes.h"

const struct route_table *const routes_all[] = {
	&versions_routes, &auth_routes,	 &identity_routes,     &server_routes,
	&server_action_routes, &flavor_routes, &keypair_routes, &compute_misc_routes,
	&quota_routes,	  &image_routes,
};
const size_t routes_count = sizeof(routes_all) / sizeof(routes_all[0]);

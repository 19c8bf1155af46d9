/* Placeholder until this resource is written. */
#include "routes.h"

static const struct route routes[] = {
	{"GET", "/nubo-placeholder/compute_misc", 0, "public", SVC_NONE, 0},
};
ROUTE_TABLE(compute_misc_routes, routes);

/* Placeholder until this resource is written. */
#include "routes.h"

static const struct route routes[] = {
	{"GET", "/nubo-placeholder/flavor", 0, "public", SVC_NONE, 0},
};
ROUTE_TABLE(flavor_routes, routes);

/* Placeholder until this resource is written. */
#include "routes.h"

static const struct route routes[] = {
	{"GET", "/nubo-placeholder/identity", 0, "public", SVC_NONE, 0},
};
ROUTE_TABLE(identity_routes, routes);

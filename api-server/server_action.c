/* Placeholder until this resource is written. */
#include "routes.h"

static const struct route routes[] = {
	{"GET", "/nubo-placeholder/server_action", 0, "public", SVC_NONE, 0},
};
ROUTE_TABLE(server_action_routes, routes);

/* Catalog rows: service type, name and the path under public_url ("%s" = project id). */
#include "identity/catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

static const struct {
	const char *type, *name, *path;
} services[] = {
    {"identity", "keystone", "/identity"},
    {"compute", "nova", "/compute/v2.1"},
    {"image", "glance", "/image"},
};

json_t *catalog_build(const struct api *api, const char *project_id)
{
	json_t *cat = json_array();
	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		char path[256];
		snprintf(path, sizeof(path), services[i].path, project_id);
		char *url = xasprintf("%s%s", api->public_url, path);
		char eid[80];
		snprintf(eid, sizeof(eid), "%s-public", services[i].type);
		json_t *ep = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", eid, "interface", "public",
		                       "region", api->region, "region_id", api->region, "url", url);
		json_array_append_new(cat, json_pack("{s:s,s:s,s:s,s:[o]}", "id", services[i].type,
		                                     "type", services[i].type, "name",
		                                     services[i].name, "endpoints", ep));
		free(url);
	}
	return cat;
}

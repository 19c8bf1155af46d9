/* The service catalog placed in every project-scoped token. */
#ifndef NUBO_CATALOG_H
#define NUBO_CATALOG_H
#include <jansson.h>

#include "api.h"

/* Returns a new JSON array of catalog entries for project_id (URLs that embed the
 * project are built per project). */
json_t *catalog_build(const struct api *api, const char *project_id);

#endif

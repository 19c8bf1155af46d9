/* The service catalog placed in every scoped token, built from the regions, services
 * and endpoints tables (migration 5) and kept in memory between changes. */
#ifndef NUBO_CATALOG_H
#define NUBO_CATALOG_H
#include <jansson.h>
#include <libpq-fe.h>

#include "api.h"

/* Returns a new JSON array of catalog entries for project_id ("" for a token without a
 * project: endpoints whose URL needs the project are left out), or NULL when db could
 * not answer. URLs may carry "%(project_id)s", "$(project_id)s" or "%(tenant_id)s".
 * The rows are read once and kept while api->tokens' revocation generation stays the
 * same (every change of the catalog tables appends a revocation event); without a
 * working token cache they are read every time. While no service is registered, the
 * built-in catalog (identity, compute, image under api->public_url) is served. */
json_t *catalog_build(struct api *api, PGconn *db, const char *project_id);

/* Pure: url with every project placeholder replaced by project_id; NULL when url has
 * one and project_id is empty. Free the result. */
char *catalog_url(const char *url, const char *project_id);

#endif

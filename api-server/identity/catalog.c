/* The catalog: rows read once per revocation generation, URLs filled per project. */
#include "identity/catalog.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "identity/token_cache.h"
#include "xalloc.h"

#define CATALOG_MAX_ROWS 512

/* What a catalog is made of before a project fills its URLs: the services in order,
 * each {"id", "type", "name", "endpoints": [{"id", "interface", "region", "region_id",
 * "url" (a template)}]}. */
static struct {
	pthread_mutex_t lock;
	json_t *rows; /* NULL: nothing cached */
	uint64_t gen;
} cache = {PTHREAD_MUTEX_INITIALIZER, NULL, 0};

/* Before any service is registered (a database bootstrapped by an older nubo-manage). */
static const struct {
	const char *type, *name, *path;
} builtin[] = {
    {"identity", "keystone", "/identity"},
    {"compute", "nova", "/compute/v2.1"},
    {"image", "glance", "/image"},
};

static const char *const placeholders[] = {"%(project_id)s", "$(project_id)s", "%(tenant_id)s"};

char *catalog_url(const char *url, const char *project_id)
{
	size_t n = strlen(url) + 1, pl = strlen(project_id);
	char *out = xmalloc(n), *o = out;
	for (const char *s = url; *s;) {
		size_t i, k = sizeof(placeholders) / sizeof(placeholders[0]);
		for (i = 0; i < k; i++)
			if (!strncmp(s, placeholders[i], strlen(placeholders[i])))
				break;
		if (i == k) {
			*o++ = *s++;
			continue;
		}
		if (!pl) {
			free(out);
			return NULL;
		}
		size_t at = (size_t)(o - out);
		n += pl;
		out = xrealloc(out, n);
		o = out + at;
		memcpy(o, project_id, pl);
		o += pl;
		s += strlen(placeholders[i]);
	}
	*o = '\0';
	return out;
}

static json_t *endpoint_json(const char *id, const char *interface, const char *region,
                             const char *url)
{
	json_t *ep = json_pack("{s:s,s:s,s:s}", "id", id, "interface", interface, "url", url);
	json_object_set_new(ep, "region", region[0] ? json_string(region) : json_null());
	json_object_set_new(ep, "region_id", region[0] ? json_string(region) : json_null());
	return ep;
}

static json_t *builtin_rows(const struct api *api)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
		char *url = xasprintf("%s%s", api->public_url, builtin[i].path);
		char *eid = xasprintf("%s-public", builtin[i].type);
		json_array_append_new(
		    rows, json_pack("{s:s,s:s,s:s,s:[o]}", "id", builtin[i].type, "type",
		                    builtin[i].type, "name", builtin[i].name, "endpoints",
		                    endpoint_json(eid, "public", api->region, url)));
		free(url);
		free(eid);
	}
	return rows;
}

/* Reads the enabled services with their enabled endpoints. NULL when db failed. */
static json_t *rows_read(const struct api *api, PGconn *db)
{
	char err[256];
	PGresult *r = DBQ(db, err, sizeof err,
	                  "SELECT s.id, s.type, s.name, e.id, e.interface,"
	                  " coalesce(e.region_id, ''), e.url FROM services s"
	                  " JOIN endpoints e ON e.service_id = s.id AND e.enabled"
	                  " WHERE s.enabled AND $1 ORDER BY s.type, s.id, e.interface, e.id LIMIT "
	                  "512",
	                  "true");
	if (!r)
		return NULL;
	json_t *rows = json_array(), *svc = NULL;
	for (int i = 0; i < PQntuples(r) && i < CATALOG_MAX_ROWS; i++) {
		if (!svc ||
		    strcmp(json_string_value(json_object_get(svc, "id")), db_val(r, i, 0))) {
			svc = json_pack("{s:s,s:s,s:s,s:[]}", "id", db_val(r, i, 0), "type",
			                db_val(r, i, 1), "name", db_val(r, i, 2), "endpoints");
			json_array_append_new(rows, svc);
		}
		json_array_append_new(json_object_get(svc, "endpoints"),
		                      endpoint_json(db_val(r, i, 3), db_val(r, i, 4),
		                                    db_val(r, i, 5), db_val(r, i, 6)));
	}
	int none = PQntuples(r) == 0;
	PQclear(r);
	if (none) {
		/* no endpoint at all: is anything registered? */
		r = DBQ(db, err, sizeof err, "SELECT count(*) FROM services WHERE $1", "true");
		if (!r) {
			json_decref(rows);
			return NULL;
		}
		if (db_long(r, 0, 0, 0) == 0) {
			json_decref(rows);
			rows = builtin_rows(api);
		}
		PQclear(r);
	}
	return rows;
}

/* The cached rows (a new reference), read again when the generation moved. */
static json_t *rows_get(struct api *api, PGconn *db)
{
	int usable = token_cache_enabled(api->tokens);
	uint64_t gen = token_cache_gen(api->tokens);
	if (usable) {
		pthread_mutex_lock(&cache.lock);
		json_t *rows = cache.rows && cache.gen == gen ? json_incref(cache.rows) : NULL;
		pthread_mutex_unlock(&cache.lock);
		if (rows)
			return rows;
	}
	json_t *rows = rows_read(api, db);
	if (rows && usable) {
		pthread_mutex_lock(&cache.lock);
		json_decref(cache.rows);
		cache.rows = json_incref(rows);
		cache.gen = gen;
		pthread_mutex_unlock(&cache.lock);
	}
	return rows;
}

json_t *catalog_build(struct api *api, PGconn *db, const char *project_id)
{
	json_t *rows = rows_get(api, db);
	if (!rows)
		return NULL;
	json_t *cat = json_array(), *svc;
	size_t i;
	json_array_foreach(rows, i, svc)
	{
		json_t *eps = json_array(), *ep;
		size_t j;
		json_array_foreach(json_object_get(svc, "endpoints"), j, ep)
		{
			char *url =
			    catalog_url(json_string_value(json_object_get(ep, "url")), project_id);
			if (!url)
				continue;
			json_t *e = json_copy(ep);
			json_object_set_new(e, "url", json_string(url));
			json_array_append_new(eps, e);
			free(url);
		}
		json_t *s = json_copy(svc);
		json_object_set_new(s, "endpoints", eps);
		json_array_append_new(cat, s);
	}
	json_decref(rows);
	return cat;
}

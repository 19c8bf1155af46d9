/* Version discovery documents at each service root. Advertise only what we serve:
 * Identity v3.14, Compute 2.1 up to MICROVERSION_MAX (compute/microversion.h), Image v2. */
#include <stdlib.h>

#include "compute/microversion.h"

#include "policy.h"
#include "routes.h"
#include "xalloc.h"

static json_t *link_self(const struct api *api, const char *path)
{
	char *href = xasprintf("%s%s", api->public_url, path);
	json_t *l = json_pack("[{s:s,s:s}]", "rel", "self", "href", href);
	free(href);
	return l;
}

static json_t *identity_version(const struct api *api)
{
	return json_pack("{s:s,s:s,s:s,s:o,s:[{s:s,s:s}]}", "id", "v3.14", "status", "stable",
	                 "updated", "2020-04-07T00:00:00Z", "links",
	                 link_self(api, "/identity/v3/"), "media-types", "base", "application/json",
	                 "type", "application/vnd.openstack.identity-v3+json");
}

static void identity_root(struct req *r, struct resp *w)
{
	resp_json(w, 300,
	          json_pack("{s:{s:[o]}}", "versions", "values", identity_version(r->ctx->api)));
}

static void identity_v3(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:o}", "version", identity_version(r->ctx->api)));
}

static json_t *compute_version(const struct api *api, int v21)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:[{s:s,s:s}]}", "id", v21 ? "v2.1" : "v2.0",
	                 "status", v21 ? "CURRENT" : "SUPPORTED", "version",
	                 v21 ? MICROVERSION_MAX_STR : "", "min_version", v21 ? "2.1" : "",
	                 "updated", v21 ? "2013-07-23T11:33:21Z" : "2011-01-21T11:33:21Z", "links",
	                 link_self(api, v21 ? "/compute/v2.1/" : "/compute/v2/"), "media-types",
	                 "base", "application/json", "type",
	                 v21 ? "application/vnd.openstack.compute+json;version=2.1"
	                     : "application/vnd.openstack.compute+json;version=2");
}

static void compute_root(struct req *r, struct resp *w)
{
	resp_json(w, 200,
	          json_pack("{s:[o,o]}", "versions", compute_version(r->ctx->api, 0),
	                    compute_version(r->ctx->api, 1)));
}

static void compute_v20(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:o}", "version", compute_version(r->ctx->api, 0)));
}

static void compute_v21(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:o}", "version", compute_version(r->ctx->api, 1)));
}

static json_t *image_versions(const struct api *api)
{
	json_t *list = json_array();
	static const char *const ids[] = {"v2.6", "v2.5", "v2.4", "v2.3", "v2.2", "v2.1", "v2.0"};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:o}", "id", ids[i], "status",
		                                      i == 0 ? "CURRENT" : "SUPPORTED", "links",
		                                      link_self(api, "/image/v2/")));
	return list;
}

static void image_root(struct req *r, struct resp *w)
{
	resp_json(w, 300, json_pack("{s:o}", "versions", image_versions(r->ctx->api)));
}

static void image_versions_doc(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:o}", "versions", image_versions(r->ctx->api)));
}

/* One table per family: each answers errors in its own shape. */
static const struct httpd_route identity_version_routes[] = {
    {"GET", "/", identity_root, POL_PUBLIC, 0},
    {"GET", "/identity", identity_root, POL_PUBLIC, 0},
    {"GET", "/identity/v3", identity_v3, POL_PUBLIC, 0},
};
HTTPD_TABLE(identity_versions_routes, identity_version_routes, &identity_hooks);

static const struct httpd_route compute_version_routes[] = {
    {"GET", "/compute", compute_root, POL_PUBLIC, 0},
    {"GET", "/compute/v2", compute_v20, POL_PUBLIC, 0},
    {"GET", "/compute/v2.0", compute_v20, POL_PUBLIC, 0},
    {"GET", "/compute/v2.1", compute_v21, POL_PUBLIC, 0},
};
HTTPD_TABLE(compute_versions_routes, compute_version_routes, &compute_hooks);

static const struct httpd_route image_version_routes[] = {
    {"GET", "/image", image_root, POL_PUBLIC, 0},
    {"GET", "/image/versions", image_versions_doc, POL_PUBLIC, 0},
};
HTTPD_TABLE(image_versions_routes, image_version_routes, &image_hooks);

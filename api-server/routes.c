/* The list of route tables, in match order. Adding a resource is adding a line. */
#include "routes.h"

const struct httpd_table *const routes_all[] = {
    &identity_versions_routes,
    &compute_versions_routes,
    &image_versions_routes,
    &auth_routes,
    &identity_routes,
    &server_routes,
    &server_action_routes,
    &flavor_routes,
    &keypair_routes,
    &compute_misc_routes,
    &image_routes,
    &instance_action_routes,
    &server_tag_routes,
    &catalog_routes,
    &group_routes,
    &app_cred_routes,
    &credential_routes,
    &policy_store_routes,
    &volume_versions_routes,
    &volume_routes,
    &snapshot_routes,
    &volume_type_routes,
    &volume_quota_routes,
    &volume_attach_routes,
};
const size_t routes_count = sizeof(routes_all) / sizeof(routes_all[0]);

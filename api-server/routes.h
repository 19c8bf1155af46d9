/* Every API family's route tables, gathered in one list that the server searches. */
#ifndef NUBO_ROUTES_H
#define NUBO_ROUTES_H
#include "http.h"

extern const struct httpd_table identity_versions_routes; /* versions.c */
extern const struct httpd_table compute_versions_routes;  /* versions.c */
extern const struct httpd_table image_versions_routes;    /* versions.c */
extern const struct httpd_table auth_routes;              /* identity/auth.c */
extern const struct httpd_table identity_routes;          /* identity/identity.c */
extern const struct httpd_table server_routes;            /* compute/server.c */
extern const struct httpd_table server_action_routes;     /* compute/server_action.c */
extern const struct httpd_table flavor_routes;            /* compute/flavor.c */
extern const struct httpd_table keypair_routes;           /* compute/keypair.c */
extern const struct httpd_table compute_misc_routes;      /* compute/compute_misc.c */
extern const struct httpd_table instance_action_routes;   /* compute/instance_action.c */
extern const struct httpd_table server_tag_routes;        /* compute/server_tags.c */
extern const struct httpd_table image_routes;             /* image/image.c */
extern const struct httpd_table catalog_routes;           /* identity/service.c */
extern const struct httpd_table group_routes;             /* identity/group.c */
extern const struct httpd_table app_cred_routes;          /* identity/app_cred.c */
extern const struct httpd_table credential_routes;        /* identity/credential.c */
extern const struct httpd_table policy_store_routes;      /* identity/policy_store.c */
extern const struct httpd_table aggregate_routes;         /* compute/aggregate.c */
extern const struct httpd_table compute_admin_routes;     /* compute/compute_admin.c */
extern const struct httpd_table os_host_routes;           /* compute/os_host.c */
extern const struct httpd_table compute_image_routes;     /* compute/compute_image.c */
extern const struct httpd_table server_group_routes;      /* compute/server_group.c */
extern const struct httpd_table endpoint_group_routes;    /* identity/endpoint_group.c */
extern const struct httpd_table domain_config_routes;     /* identity/domain_config.c */
extern const struct httpd_table oauth_consumer_routes;    /* identity/oauth_consumer.c */

extern const struct httpd_table network_routes;       /* network/net_network.c */
extern const struct httpd_table subnet_routes;        /* network/net_subnet.c */
extern const struct httpd_table port_routes;          /* network/net_port.c */
extern const struct httpd_table router_routes;        /* network/net_router.c */
extern const struct httpd_table floatingip_routes;    /* network/net_floatingip.c */
extern const struct httpd_table secgroup_routes;      /* network/net_secgroup.c */
extern const struct httpd_table net_quota_routes;     /* network/net_quota.c */
extern const struct httpd_table net_tag_routes;       /* network/net_tag.c */
extern const struct httpd_table network_proxy_routes; /* compute/network_proxy.c */
/* compute/floating_ip_proxy.c */
extern const struct httpd_table floating_ip_proxy_routes;
extern const struct httpd_table net_metadata_routes; /* network/net_metadata.c */

extern const struct httpd_table subnetpool_routes;       /* network/net_subnetpool.c */
extern const struct httpd_table server_interface_routes; /* compute/interface.c */

extern const struct httpd_table volume_versions_routes; /* volume/volume.c */
extern const struct httpd_table volume_routes;          /* volume/volume.c */
extern const struct httpd_table snapshot_routes;        /* volume/snapshot.c */
extern const struct httpd_table volume_type_routes;     /* volume/volume_type.c */
extern const struct httpd_table volume_quota_routes;    /* volume/volume_quota.c */
extern const struct httpd_table volume_zone_routes;     /* volume/volume_zone.c */
extern const struct httpd_table volume_attach_routes;   /* compute/volume_attach.c */
extern const struct httpd_table volume_proxy_routes;    /* compute/volume_proxy.c */
extern const struct httpd_table volume_ext_routes;      /* volume/volume_ext.c */
extern const struct httpd_table qos_routes;             /* volume/qos.c */
extern const struct httpd_table transfer_routes;        /* volume/transfer.c */
extern const struct httpd_table volume_backup_routes;   /* volume/volume_backup.c */

extern const struct httpd_table *const routes_all[];
extern const size_t routes_count;

#endif

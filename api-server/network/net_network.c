/* Networks (/v2.0/networks), the Network API's version documents, its extension list
 * and availability zones. A tenant network gets a VXLAN VNI from a sequence; admins
 * may create shared, external and flat/VLAN provider networks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

static const char *const network_filters[] = {"id",
                                              "name",
                                              "tenant_id",
                                              "project_id",
                                              "description",
                                              "admin_state_up",
                                              "shared",
                                              "router:external",
                                              "status",
                                              "mtu",
                                              "provider:network_type",
                                              "provider:segmentation_id",
                                              "provider:physical_network",
                                              "port_security_enabled",
                                              "revision_number",
                                              NULL};
static const char *const network_bools[] = {"admin_state_up", "shared", "router:external",
                                            "port_security_enabled", NULL};
static const char *const network_admin_only[] = {
    "provider:network_type", "provider:segmentation_id", "provider:physical_network", NULL};

const struct net_res net_res_network = {"Network",         "Network %s could not be found.",
                                        "network",         "networks",
                                        "net_networks_v",  1,
                                        network_filters,   network_bools,
                                        network_admin_only};

struct network_in {
	char *name, *description, *project_id, *tenant_id;
	char *net_type, *physnet;
	long seg_id, mtu;
	int admin_state_up, shared, external, port_security;
};

#define F(m) JF(struct network_in, m)
static const struct jfield network_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"provider:network_type", J_STR, F(net_type), 0, 16, 0, 1, 0},
    {"provider:physical_network", J_STR, F(physnet), 0, 64, 0, 1, 0},
    {"provider:segmentation_id", J_INT, F(seg_id), 0, 16777215, 0, 1, 0},
    {"mtu", J_INT, F(mtu), 68, 9000, 0, 1, 0},
    {"admin_state_up", J_BOOL, F(admin_state_up), 0, 0, 0, 1, 0},
    {"shared", J_BOOL, F(shared), 0, 0, 0, 1, 0},
    {"router:external", J_BOOL, F(external), 0, 0, 0, 1, 0},
    {"port_security_enabled", J_BOOL, F(port_security), 0, 0, 0, 1, 0},
};
#undef F
#define NFIELDS (sizeof(network_fields) / sizeof(network_fields[0]))

static void network_in_init(struct network_in *in)
{
	memset(in, 0, sizeof(*in));
	in->seg_id = in->mtu = -1;
	in->admin_state_up = in->shared = in->external = in->port_security = -1;
}

static const char *tf(int v)
{
	return v ? "true" : "false";
}

/* The admin-only attributes a member may not set (Neutron answers 403). */
static int network_admin_attrs(struct req *r, struct resp *w, const struct network_in *in)
{
	if (net_is_admin(r))
		return 0;
	const char *attr = in->shared >= 0     ? "shared"
	                   : in->external >= 0 ? "router:external"
	                   : in->net_type      ? "provider:network_type"
	                   : in->seg_id >= 0   ? "provider:segmentation_id"
	                   : in->physnet       ? "provider:physical_network"
	                   : in->project_id && strcmp(in->project_id, net_project(r)) ? "project_id"
	                   : in->tenant_id && strcmp(in->tenant_id, net_project(r))   ? "tenant_id"
	                                                                              : NULL;
	if (!attr)
		return 0;
	net_error(r, w, 403, "PolicyNotAuthorized",
	          "(rule:create_network and rule:create_network:%s) is disallowed by policy", attr);
	return -EACCES;
}

struct network_create {
	struct network_in in;
	char id[UUID_STR_LEN];
};

static int network_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct network_create *c = arg;
	struct network_in *in = &c->in;
	PGconn *db = r->ctx->db;
	char err[512], state[8] = "";
	const char *project = in->project_id  ? in->project_id
	                      : in->tenant_id ? in->tenant_id
	                                      : net_project(r);
	if (net_quota_take(r, w, db, project, "network",
	                   "SELECT count(*) FROM net_networks WHERE project_id = $1") < 0)
		return -EDQUOT;
	const char *type = in->net_type ? in->net_type : "vxlan";
	char seg[24] = "", mtu[24];
	if (!strcmp(type, "vxlan")) {
		if (in->seg_id > 0)
			snprintf(seg, sizeof seg, "%ld", in->seg_id);
	} else if (!strcmp(type, "vlan")) {
		if (in->seg_id < 1 || in->seg_id > 4094) {
			net_error(
			    r, w, 400, "InvalidInput",
			    "Invalid input for operation: segmentation_id requires a VLAN tag "
			    "between 1 and 4094.");
			return -EINVAL;
		}
		snprintf(seg, sizeof seg, "%ld", in->seg_id);
	} else if (strcmp(type, "flat")) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: network_type value '%s' not supported.",
		          type);
		return -EINVAL;
	}
	snprintf(mtu, sizeof mtu, "%ld",
	         in->mtu > 0              ? in->mtu
	         : !strcmp(type, "vxlan") ? 1450
	                                  : 1500);
	uuid_generate_str(c->id);
	PGresult *q =
	    db_query(db,
	             "INSERT INTO net_networks (id, project_id, name, description, admin_state_up,"
	             " shared, external, net_type, seg_id, physical_network, mtu, port_security)"
	             " VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5, $6, $7, $8,"
	             " CASE WHEN $8 = 'vxlan' THEN coalesce($9::int, nextval('net_vni_seq')::int)"
	             " ELSE $9::int END, $10, $11::int, $12)",
	             12,
	             (const char *const[]){c->id, project, in->name, in->description,
	                                   tf(in->admin_state_up != 0), tf(in->shared == 1),
	                                   tf(in->external == 1), type, seg[0] ? seg : NULL,
	                                   in->physnet, mtu, tf(in->port_security != 0)},
	             err, sizeof err, state);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE))
			net_error(r, w, 409, "SegmentationIdInUse",
			          "Unable to create the network. The segmentation ID %s is in use.",
			          seg);
		else
			resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(q);
	return 0;
}

static void network_create(struct req *r, struct resp *w)
{
	if (net_bulk(r, w, &net_res_network, network_create))
		return;
	struct network_create c;
	network_in_init(&c.in);
	if (wire_parse_wrapped(r, w, "network", network_fields, NFIELDS, &c.in) < 0)
		return;
	if (network_admin_attrs(r, w, &c.in) == 0 && net_tx(r, w, network_create_tx, &c) == 0)
		net_answer(r, w, &net_res_network, c.id, 201);
	jparse_release(network_fields, NFIELDS, &c.in);
}

static void network_list(struct req *r, struct resp *w)
{
	net_list(r, w, &net_res_network);
}

static void network_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_network, r->params[0]);
}

static void network_update(struct req *r, struct resp *w)
{
	struct network_in in;
	char err[512];
	const char *id = r->params[0];
	network_in_init(&in);
	if (wire_parse_wrapped(r, w, "network", network_fields, NFIELDS, &in) < 0)
		return;
	if (in.net_type || in.seg_id >= 0 || in.physnet) {
		net_error(r, w, 400, "InvalidInput",
		          "Invalid input for operation: Plugin does not support updating provider "
		          "attributes.");
		goto out;
	}
	if (network_admin_attrs(r, w, &in) < 0 ||
	    net_owned(r, w, &net_res_network, "net_networks", id, NULL, 0) < 0)
		goto out;
	char asu[8], sh[8], ex[8], ps[8];
	snprintf(asu, sizeof asu, "%d", in.admin_state_up);
	snprintf(sh, sizeof sh, "%d", in.shared);
	snprintf(ex, sizeof ex, "%d", in.external);
	snprintf(ps, sizeof ps, "%d", in.port_security);
	int n =
	    DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_networks SET name = coalesce($2, name),"
	        " description = coalesce($3, description),"
	        " admin_state_up = CASE WHEN $4::int < 0 THEN admin_state_up ELSE $4::int = 1 END,"
	        " shared = CASE WHEN $5::int < 0 THEN shared ELSE $5::int = 1 END,"
	        " external = CASE WHEN $6::int < 0 THEN external ELSE $6::int = 1 END,"
	        " port_security = CASE WHEN $7::int < 0 THEN port_security ELSE $7::int = 1 END,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        id, in.name, in.description, asu, sh, ex, ps);
	if (n < 0)
		resp_db_error(r, w, err);
	else
		net_answer(r, w, &net_res_network, id, 200);
out:
	jparse_release(network_fields, NFIELDS, &in);
}

static int network_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT count(*) FROM net_ports WHERE network_id = $1 AND"
	                  " device_owner NOT IN ('network:dhcp', 'network:floatingip')",
	                  id);
	if (!q) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	long used = db_long(q, 0, 0, 0);
	PQclear(q);
	if (used > 0) {
		net_error(r, w, 409, "NetworkInUse",
		          "Unable to complete operation on network %s. There are one or more ports "
		          "still in use on the network.",
		          id);
		return -EBUSY;
	}
	/* Neutron: an external network's floating IPs go with it (their ports are the
	 * network's own, not "in use") */
	if (DBX(db, err, sizeof err,
	        "WITH f AS (DELETE FROM net_floatingips WHERE network_id = $1 RETURNING id)"
	        " DELETE FROM net_tags WHERE resource_id IN (SELECT id FROM f)",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_ports WHERE network_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err,
	        "DELETE FROM net_tags WHERE resource_id = $1 OR resource_id IN"
	        " (SELECT id FROM net_subnets WHERE network_id = $1)",
	        id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_networks WHERE id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void network_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_network, "net_networks", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, network_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

/* ---- versions, extensions, availability zones ------------------------------------- */

static json_t *network_version(struct req *r)
{
	char *href = xasprintf("%s/network/v2.0/", r->ctx->api->public_url);
	json_t *v = json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "id", "v2.0", "status", "CURRENT", "links",
	                      "href", href, "rel", "self");
	free(href);
	return v;
}

static void network_root(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:[o]}", "versions", network_version(r)));
}

static void network_v2(struct req *r, struct resp *w)
{
	json_t *res = json_array();
	static const char *const colls[][2] = {{"network", "networks"},
	                                       {"subnet", "subnets"},
	                                       {"port", "ports"},
	                                       {"router", "routers"},
	                                       {"floatingip", "floatingips"},
	                                       {"security_group", "security-groups"},
	                                       {"security_group_rule", "security-group-rules"},
	                                       {"subnetpool", "subnetpools"}};
	for (size_t i = 0; i < sizeof(colls) / sizeof(colls[0]); i++) {
		char *href = xasprintf("%s/network/v2.0/%s", r->ctx->api->public_url, colls[i][1]);
		json_array_append_new(res, json_pack("{s:s,s:s,s:[{s:s,s:s}]}", "name", colls[i][0],
		                                     "collection", colls[i][1], "links", "href",
		                                     href, "rel", "self"));
		free(href);
	}
	resp_json(w, 200, json_pack("{s:o}", "resources", res));
}

/* Exactly what this API implements. */
static const struct {
	const char *alias, *name, *description;
} extensions[] = {
    {"router", "Neutron L3 Router",
     "Router abstraction for basic L3 forwarding between L2 "
     "Neutron networks and access to external networks via a "
     "NAT gateway."},
    {"ext-gw-mode", "Neutron L3 Configurable external gateway mode",
     "Extension of the router abstraction for specifying whether SNAT should occur on the "
     "external gateway"},
    {"external-net", "Neutron external network",
     "Adds external network attribute to network "
     "resource."},
    {"security-group", "security-group", "The security groups extension."},
    {"port-security", "Port Security", "Provides port security"},
    {"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
    {"quotas", "Quota management support", "Expose functions for quotas management per tenant"},
    {"quota_details", "Quota details management support",
     "Expose functions for quotas usage statistics per project"},
    {"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
    {"binding", "Port Binding",
     "Expose port bindings of a virtual port to external "
     "application"},
    {"standard-attr-description", "standard-attr-description",
     "Extension to add descriptions to standard attributes"},
    {"standard-attr-timestamp", "Resource timestamps",
     "Adds created_at and updated_at fields to all Neutron resources that have Neutron "
     "standard attributes."},
    {"standard-attr-revisions", "Resource revision numbers",
     "This extension will display the revision number of neutron resources."},
    {"standard-attr-tag",
     "Tag support for resources with standard attribute: subnet, trunk, "
     "network_segment_range, router, network, policy, subnetpool, port, "
     "security_group, floatingip",
     "Enables to set tag on resources with standard attribute."},
    {"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
    {"availability_zone", "Availability Zone", "The availability zone extension."},
    {"network_availability_zone", "Network Availability Zone",
     "Availability zone support for network."},
    {"router_availability_zone", "Router Availability Zone",
     "Availability zone support for router."},
    {"pagination", "Pagination support",
     "Extension that indicates that pagination is "
     "enabled."},
    {"sorting", "Sorting support", "Extension that indicates that sorting is enabled."},
    {"fip-port-details", "Floating IP Port Details Extension",
     "Add port_details attribute to Floating IP resource"},
    {"project-id", "project_id field enabled",
     "Extension that indicates that project_id field "
     "is enabled."},
    {"subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"},
    {"stateful-security-group", "Stateful security group",
     "Indicates if the security group is stateful or not"},
    {"service-type", "Neutron Service Type Management",
     "API for retrieving service providers for Neutron advanced services"},
};

static json_t *extension_json(size_t i)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:[]}", "alias", extensions[i].alias, "name",
	                 extensions[i].name, "description", extensions[i].description, "updated",
	                 "2013-01-20T00:00:00-00:00", "links");
}

static void extension_list(struct req *r, struct resp *w)
{
	json_t *list = json_array();
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		json_array_append_new(list, extension_json(i));
	resp_json(w, 200, json_pack("{s:o}", "extensions", list));
}

static void extension_show(struct req *r, struct resp *w)
{
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (!strcmp(extensions[i].alias, r->params[0])) {
			resp_json(w, 200, json_pack("{s:o}", "extension", extension_json(i)));
			return;
		}
	net_error(r, w, 404, "ExtensionNotFound", "Extension with alias %s does not exist",
	          r->params[0]);
}

static void availability_zone_list(struct req *r, struct resp *w)
{
	json_t *list = json_array();
	static const char *const kinds[] = {"network", "router"};
	for (size_t i = 0; i < 2; i++)
		json_array_append_new(list, json_pack("{s:s,s:s,s:s}", "name", "nova", "resource",
		                                      kinds[i], "state", "available"));
	resp_json(w, 200, json_pack("{s:o}", "availability_zones", list));
}

/* No Neutron agents: nubo-net hosts are not listed here (the list is empty). */
static void agent_list(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:[]}", "agents"));
}

/* Neutron lists the drivers configured for its advanced services here; Nubo has
 * none to choose from (routers are nubo-net's, one kind), so the list is empty. */
static void service_provider_list(struct req *r, struct resp *w)
{
	resp_json(w, 200, json_pack("{s:[]}", "service_providers"));
}

static const struct httpd_route network_route_list[] = {
    {"GET", "/network/v2.0/agents", agent_list, POL_NETWORK_READ, 0},
    {"GET", "/network", network_root, POL_PUBLIC, 0},
    {"GET", "/network/v2.0", network_v2, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/extensions", extension_list, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/extensions/{}", extension_show, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/availability_zones", availability_zone_list, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/service-providers", service_provider_list, POL_NETWORK_READ, 0},
    {"GET", "/network/v2.0/networks", network_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/networks", network_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/networks/{}", network_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/networks/{}", network_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/networks/{}", network_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(network_routes, network_route_list, &network_hooks);

/* Security groups and their rules (/v2.0/security-groups, /v2.0/security-group-rules).
 * Every project has a `default` group, made on its first use (ingress from the same
 * group, all egress); a new group allows all egress; a rule that exists already is 409
 * (a unique index over its normalised fields decides, race-free). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "network.h"
#include "policy.h"
#include "wire.h"
#include "xalloc.h"

static const char *const sg_filters[] = {"id",          "name",     "tenant_id",       "project_id",
                                         "description", "stateful", "revision_number", NULL};
static const char *const sg_bools[] = {"stateful", NULL};

const struct net_res net_res_secgroup = {"SecurityGroup",
                                         "Security group %s does not exist",
                                         "security_group",
                                         "security_groups",
                                         "net_secgroups_v",
                                         0,
                                         sg_filters,
                                         sg_bools,
                                         NULL};

static const char *const rule_filters[] = {"id",
                                           "tenant_id",
                                           "project_id",
                                           "security_group_id",
                                           "direction",
                                           "ethertype",
                                           "protocol",
                                           "port_range_min",
                                           "port_range_max",
                                           "remote_ip_prefix",
                                           "remote_group_id",
                                           "description",
                                           "revision_number",
                                           NULL};

const struct net_res net_res_sg_rule = {"SecurityGroupRule",
                                        "Security group rule %s does not exist",
                                        "security_group_rule",
                                        "security_group_rules",
                                        "net_sg_rules_v",
                                        0,
                                        rule_filters,
                                        NULL,
                                        NULL};

/* The caller's default group exists before any read or write of groups. */
static int sg_ensure_default(struct req *r, struct resp *w)
{
	char err[512];
	if (!net_project(r)[0])
		return 0;
	if (net_default_sg(r->ctx->db, net_project(r), NULL, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

struct sg_in {
	char *name, *description, *project_id, *tenant_id;
	int stateful;
};

#define F(m) JF(struct sg_in, m)
static const struct jfield sg_fields[] = {
    {"name", J_STR, F(name), 0, 255, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"stateful", J_BOOL, F(stateful), 0, 0, 0, 1, 0},
};
#undef F
#define NSG (sizeof(sg_fields) / sizeof(sg_fields[0]))

struct sg_create {
	struct sg_in in;
	const char *project;
	char id[UUID_STR_LEN];
};

static int sg_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct sg_create *c = arg;
	PGconn *db = r->ctx->db;
	char err[512], state[8] = "";
	if (net_default_sg(db, c->project, NULL, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	if (net_quota_take(r, w, db, c->project, "security_group",
	                   "SELECT count(*) FROM net_secgroups WHERE project_id = $1") < 0)
		return -EDQUOT;
	uuid_generate_str(c->id);
	PGresult *q = db_query(
	    db,
	    "WITH g AS (INSERT INTO net_secgroups (id, project_id, name, description, stateful)"
	    " VALUES ($1, $2, coalesce($3, ''), coalesce($4, ''), $5::boolean) RETURNING id)"
	    " INSERT INTO net_sg_rules (id, project_id, sg_id, direction, ethertype)"
	    " SELECT gen_random_uuid()::text, $2, g.id, 'egress', e FROM g,"
	    " (VALUES ('IPv4'), ('IPv6')) AS x(e)",
	    5,
	    (const char *const[]){c->id, c->project, c->in.name, c->in.description,
	                          c->in.stateful != 0 ? "true" : "false"},
	    err, sizeof err, state);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE))
			net_error(r, w, 409, "SecurityGroupDefaultAlreadyExists",
			          "Default security group already exists.");
		else
			resp_db_error(r, w, err);
		return -EIO;
	}
	PQclear(q);
	return 0;
}

static void sg_create(struct req *r, struct resp *w)
{
	struct sg_create c;
	memset(&c.in, 0, sizeof c.in);
	c.in.stateful = -1;
	if (wire_parse_wrapped(r, w, "security_group", sg_fields, NSG, &c.in) < 0)
		return;
	c.project =
	    net_create_project(r, w, c.in.project_id, c.in.tenant_id, "create_security_group");
	if (c.project && c.in.name && !strcmp(c.in.name, "default") && !net_is_admin(r))
		net_error(r, w, 409, "SecurityGroupDefaultAlreadyExists",
		          "Default security group already exists.");
	else if (c.project && net_tx(r, w, sg_create_tx, &c) == 0)
		net_answer(r, w, &net_res_secgroup, c.id, 201);
	jparse_release(sg_fields, NSG, &c.in);
}

static void sg_list(struct req *r, struct resp *w)
{
	if (sg_ensure_default(r, w) == 0)
		net_list(r, w, &net_res_secgroup);
}

static void sg_show(struct req *r, struct resp *w)
{
	if (sg_ensure_default(r, w) == 0)
		net_show(r, w, &net_res_secgroup, r->params[0]);
}

static void sg_update(struct req *r, struct resp *w)
{
	struct sg_in in;
	char err[512];
	const char *id = r->params[0];
	memset(&in, 0, sizeof in);
	in.stateful = -1;
	if (wire_parse_wrapped(r, w, "security_group", sg_fields, NSG, &in) < 0)
		return;
	if (net_owned(r, w, &net_res_secgroup, "net_secgroups", id, NULL, 0) < 0)
		goto out;
	PGresult *q = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT name = 'default' FROM net_secgroups WHERE id = $1", id);
	int is_default = q && PQntuples(q) == 1 && !strcmp(PQgetvalue(q, 0, 0), "t");
	PQclear(q);
	if (is_default && in.name && strcmp(in.name, "default")) {
		net_error(r, w, 409, "SecurityGroupCannotUpdateDefault",
		          "Updating default security group not allowed.");
		goto out;
	}
	if (in.name && !strcmp(in.name, "default") && !is_default) {
		net_error(r, w, 409, "SecurityGroupDefaultAlreadyExists",
		          "Default security group already exists.");
		goto out;
	}
	char st[8];
	snprintf(st, sizeof st, "%d", in.stateful);
	if (DBX(r->ctx->db, err, sizeof err,
	        "UPDATE net_secgroups SET name = coalesce($2, name),"
	        " description = coalesce($3, description),"
	        " stateful = CASE WHEN $4::int < 0 THEN stateful ELSE $4::int = 1 END,"
	        " updated_at = now(), revision = revision + 1 WHERE id = $1",
	        id, in.name, in.description, st) < 0)
		resp_db_error(r, w, err);
	else
		net_answer(r, w, &net_res_secgroup, id, 200);
out:
	jparse_release(sg_fields, NSG, &in);
}

static int sg_delete_tx(struct req *r, struct resp *w, void *arg)
{
	const char *id = arg;
	PGconn *db = r->ctx->db;
	char err[512];
	PGresult *q = DBQ(db, err, sizeof err,
	                  "SELECT name = 'default', (SELECT count(*) FROM net_port_sgs WHERE"
	                  " sg_id = $1) FROM net_secgroups WHERE id = $1 FOR UPDATE",
	                  id);
	if (!q || PQntuples(q) != 1) {
		resp_db_error(r, w, err);
		PQclear(q);
		return -EIO;
	}
	int is_default = !strcmp(PQgetvalue(q, 0, 0), "t");
	long used = db_long(q, 0, 1, 0);
	PQclear(q);
	if (is_default && !net_is_admin(r)) {
		net_error(r, w, 409, "SecurityGroupCannotRemoveDefault",
		          "Insufficient rights for removing default security group.");
		return -EBUSY;
	}
	if (used > 0) {
		net_error(r, w, 409, "SecurityGroupInUse", "Security Group %s in use.", id);
		return -EBUSY;
	}
	if (DBX(db, err, sizeof err, "DELETE FROM net_tags WHERE resource_id = $1", id) < 0 ||
	    DBX(db, err, sizeof err, "DELETE FROM net_secgroups WHERE id = $1", id) < 0 ||
	    net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static void sg_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	if (net_owned(r, w, &net_res_secgroup, "net_secgroups", id, NULL, 0) < 0)
		return;
	if (net_tx(r, w, sg_delete_tx, (void *)id) == 0)
		resp_empty(w, 204);
}

/* ---- rules ------------------------------------------------------------------------ */

struct rule_in {
	char *sg_id, *direction, *ethertype, *protocol, *prefix, *remote_group, *description,
	    *project_id, *tenant_id;
	long pmin, pmax;
};

#define F(m) JF(struct rule_in, m)
static const struct jfield rule_fields[] = {
    {"security_group_id", J_STR, F(sg_id), 0, 64, 0, 1, 0},
    {"direction", J_STR, F(direction), 0, 16, 0, 1, 0},
    {"ethertype", J_STR, F(ethertype), 0, 16, 0, 1, 0},
    {"protocol", J_STR_OR_INT, F(protocol), 0, 32, 0, 1, 0},
    {"remote_ip_prefix", J_STR, F(prefix), 0, 64, 0, 1, 0},
    {"remote_group_id", J_STR, F(remote_group), 0, 64, 0, 1, 0},
    {"description", J_STR, F(description), 0, 255, 0, 1, 0},
    {"project_id", J_STR, F(project_id), 0, 64, 0, 1, 0},
    {"tenant_id", J_STR, F(tenant_id), 0, 64, 0, 1, 0},
    {"port_range_min", J_INT, F(pmin), -1000000, 1000000, 0, 1, 0},
    {"port_range_max", J_INT, F(pmax), -1000000, 1000000, 0, 1, 0},
};
#undef F
#define NRULE (sizeof(rule_fields) / sizeof(rule_fields[0]))
#define PORT_ABSENT (-2000000) /* port_range_min/max not given */

/* Protocol names Neutron takes, and their numbers. */
static const struct {
	const char *name;
	int num;
} protocols[] = {{"tcp", 6},        {"udp", 17},   {"icmp", 1},       {"icmpv6", 58},
                 {"ipv6-icmp", 58}, {"sctp", 132}, {"gre", 47},       {"esp", 50},
                 {"ah", 51},        {"dccp", 33},  {"igmp", 2},       {"ipip", 4},
                 {"ospf", 89},      {"pgm", 113},  {"rsvp", 46},      {"vrrp", 112},
                 {"udplite", 136},  {"egp", 8},    {"ipv6-encap", 41}};

/* Normalises in->protocol (lowercase name, number text, or NULL for any). -1 when it is
 * none of these. Sets *ported when ports apply (tcp, udp, sctp, dccp, udplite). */
static int rule_protocol(struct rule_in *in, int *ported, int *icmp)
{
	*ported = *icmp = 0;
	if (!in->protocol)
		return 0;
	char *p = in->protocol;
	for (char *c = p; *c; c++)
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	if (!strcmp(p, "any") || !strcmp(p, "")) {
		free(in->protocol);
		in->protocol = NULL;
		return 0;
	}
	int num = -1;
	for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
		if (!strcmp(p, protocols[i].name))
			num = protocols[i].num;
	if (num < 0) {
		char *end;
		long v = strtol(p, &end, 10);
		if (*end || end == p || v < 0 || v > 255)
			return -1;
		num = (int)v;
	}
	*ported = num == 6 || num == 17 || num == 132 || num == 33 || num == 136;
	*icmp = num == 1 || num == 58;
	return 0;
}

struct rule_create {
	struct rule_in in;
	const char *project;
	char id[UUID_STR_LEN];
	char prefix[64];
};

static int rule_create_tx(struct req *r, struct resp *w, void *arg)
{
	struct rule_create *c = arg;
	struct rule_in *in = &c->in;
	PGconn *db = r->ctx->db;
	char err[512], state[8] = "", pmin[24], pmax[24];
	if (net_quota_take(r, w, db, c->project, "security_group_rule",
	                   "SELECT count(*) FROM net_sg_rules WHERE project_id = $1") < 0)
		return -EDQUOT;
	snprintf(pmin, sizeof pmin, "%ld", in->pmin == PORT_ABSENT ? -1 : in->pmin);
	snprintf(pmax, sizeof pmax, "%ld", in->pmax == PORT_ABSENT ? -1 : in->pmax);
	uuid_generate_str(c->id);
	PGresult *q = db_query(
	    db,
	    "INSERT INTO net_sg_rules (id, project_id, sg_id, direction, ethertype, protocol,"
	    " port_min, port_max, remote_ip_prefix, remote_group_id, description) VALUES ($1, $2,"
	    " $3, $4, $5, $6, nullif($7::int, -1), nullif($8::int, -1), $9::cidr, $10,"
	    " coalesce($11, ''))",
	    11,
	    (const char *const[]){c->id, c->project, in->sg_id, in->direction,
	                          in->ethertype ? in->ethertype : "IPv4", in->protocol, pmin, pmax,
	                          c->prefix[0] ? c->prefix : NULL, in->remote_group,
	                          in->description},
	    err, sizeof err, state);
	if (!q) {
		if (!strcmp(state, SQLSTATE_UNIQUE)) {
			PGresult *e =
			    DBQ(db, err, sizeof err,
			        "SELECT id FROM net_sg_rules WHERE sg_id = $1 AND direction = $2"
			        " AND ethertype = $3 AND coalesce(protocol, '') = coalesce($4, '')"
			        " AND coalesce(port_min, -1) = $5::int AND coalesce(port_max, -1) ="
			        " $6::int AND coalesce(remote_ip_prefix::text, '') = $7 AND"
			        " coalesce(remote_group_id, '') = coalesce($8, '')",
			        in->sg_id, in->direction, in->ethertype ? in->ethertype : "IPv4",
			        in->protocol, pmin, pmax, c->prefix, in->remote_group);
			net_error(r, w, 409, "SecurityGroupRuleExists",
			          "Security group rule already exists. Rule id is %s.",
			          e && PQntuples(e) == 1 ? PQgetvalue(e, 0, 0) : "?");
			PQclear(e);
		} else if (!strcmp(state, SQLSTATE_FOREIGN_KEY)) {
			net_error(r, w, 404, "SecurityGroupNotFound",
			          "Security group %s does not exist",
			          in->remote_group ? in->remote_group : in->sg_id);
		} else {
			resp_db_error(r, w, err);
		}
		return -EIO;
	}
	PQclear(q);
	if (net_touch(db, r->id, err, sizeof err) < 0) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	return 0;
}

static int rule_bad(struct req *r, struct resp *w, const char *type, const char *msg)
{
	net_error(r, w, 400, type, "%s", msg);
	return -EINVAL;
}

/* Checks the rule's fields (Neutron's validation) and normalises the prefix. */
static int rule_validate(struct req *r, struct resp *w, struct rule_create *c)
{
	struct rule_in *in = &c->in;
	int ported, icmp;
	if (!in->sg_id)
		return rule_bad(
		    r, w, "HTTPBadRequest",
		    "Failed to parse request. Required attribute 'security_group_id' not "
		    "specified");
	if (!in->direction || (strcmp(in->direction, "ingress") && strcmp(in->direction, "egress")))
		return rule_bad(r, w, "HTTPBadRequest",
		                "Invalid input for direction. Reason: direction must be ingress or "
		                "egress.");
	if (in->ethertype && strcmp(in->ethertype, "IPv4") && strcmp(in->ethertype, "IPv6")) {
		if (!strcasecmp(in->ethertype, "ipv4") || !strcasecmp(in->ethertype, "ipv6")) {
			in->ethertype[0] = 'I';
			in->ethertype[1] = 'P';
			in->ethertype[2] = 'v';
		} else {
			return rule_bad(
			    r, w, "HTTPBadRequest",
			    "Invalid input for ethertype. Reason: ethertype must be IPv4 or "
			    "IPv6.");
		}
	}
	if (rule_protocol(in, &ported, &icmp) < 0) {
		net_error(
		    r, w, 400, "SecurityGroupRuleInvalidProtocol",
		    "Security group rule protocol %s not supported. Only protocol values [None, "
		    "tcp, udp, icmp, ...] and integer representations [0 to 255] are supported.",
		    in->protocol);
		return -EINVAL;
	}
	if ((in->pmin != PORT_ABSENT || in->pmax != PORT_ABSENT) && !ported && !icmp)
		return rule_bad(
		    r, w, "SecurityGroupInvalidPortRange",
		    "Invalid protocol for port range, only supported for TCP, UDP, UDPLITE, "
		    "SCTP and DCCP and ICMP and ICMPv6");
	long bad_port = in->pmin != PORT_ABSENT && (in->pmin < 0 || in->pmin > 65535)   ? in->pmin
	                : in->pmax != PORT_ABSENT && (in->pmax < 0 || in->pmax > 65535) ? in->pmax
	                                                                                : -1;
	if (ported && bad_port != -1) {
		net_error(r, w, 400, "SecurityGroupInvalidPortValue", "Invalid value for port %ld",
		          bad_port);
		return -EINVAL;
	}
	if (ported && in->pmin == PORT_ABSENT && in->pmax != PORT_ABSENT) {
		net_error(r, w, 400, "SecurityGroupInvalidPortRange",
		          "For TCP/UDP protocols, port_range_min must be <= port_range_max");
		return -EINVAL;
	}
	if (ported && in->pmin != PORT_ABSENT && in->pmax != PORT_ABSENT &&
	    (in->pmin > in->pmax || in->pmin == 0)) {
		net_error(r, w, 400, "SecurityGroupInvalidPortRange",
		          "For TCP/UDP protocols, port_range_min must be <= port_range_max");
		return -EINVAL;
	}
	if (ported && in->pmin != PORT_ABSENT && in->pmax == PORT_ABSENT)
		in->pmax = in->pmin;
	if (icmp && in->pmin == PORT_ABSENT && in->pmax != PORT_ABSENT) {
		net_error(
		    r, w, 400, "SecurityGroupMissingIcmpType",
		    "ICMP code (port-range-max) %ld is provided but ICMP type (port-range-min) is "
		    "missing.",
		    in->pmax);
		return -EINVAL;
	}
	if (icmp && ((in->pmin != PORT_ABSENT && (in->pmin < 0 || in->pmin > 255)) ||
	             (in->pmax != PORT_ABSENT && (in->pmax < 0 || in->pmax > 255)) ||
	             (in->pmax != PORT_ABSENT && in->pmin == PORT_ABSENT))) {
		net_error(r, w, 400, "SecurityGroupInvalidIcmpValue",
		          "Invalid value for ICMP %s (%s) %ld. It must be 0 to 255.",
		          in->pmin > 255 ? "type" : "code",
		          in->pmin > 255 ? "port-range-min" : "port-range-max",
		          in->pmin > 255 ? in->pmin : in->pmax);
		return -EINVAL;
	}
	if (in->prefix && in->remote_group)
		return rule_bad(r, w, "SecurityGroupRemoteGroupAndRemoteIpPrefix",
		                "Only remote_ip_prefix or remote_group_id may be provided.");
	if (in->prefix) {
		unsigned a;
		int l;
		const char *eth = in->ethertype ? in->ethertype : "IPv4";
		int v4 = net_cidr_parse(in->prefix, &a, &l),
		    v4ip = !v4 && net_ip_parse(in->prefix, &a);
		if (v4 || v4ip) {
			if (strcmp(eth, "IPv4")) {
				net_error(r, w, 400, "SecurityGroupRuleParameterConflict",
				          "Conflicting value ethertype %s for CIDR %s", eth,
				          in->prefix);
				return -EINVAL;
			}
			char s[16];
			net_ip_str(a, s);
			snprintf(c->prefix, sizeof c->prefix, "%s/%d", s, v4ip ? 32 : l);
		} else if (strchr(in->prefix, ':')) {
			if (strcmp(eth, "IPv6")) {
				net_error(r, w, 400, "SecurityGroupRuleParameterConflict",
				          "Conflicting value ethertype %s for CIDR %s", eth,
				          in->prefix);
				return -EINVAL;
			}
			snprintf(c->prefix, sizeof c->prefix, "%s", in->prefix); /* SQL checks it */
		} else {
			net_error(
			    r, w, 400, "HTTPBadRequest",
			    "Invalid input for remote_ip_prefix. Reason: '%s' is not a valid IP "
			    "prefix.",
			    in->prefix);
			return -EINVAL;
		}
	}
	return 0;
}

static void rule_create(struct req *r, struct resp *w)
{
	struct rule_create c = {.prefix = ""};
	memset(&c.in, 0, sizeof c.in);
	c.in.pmin = c.in.pmax = PORT_ABSENT;
	if (wire_parse_wrapped(r, w, "security_group_rule", rule_fields, NRULE, &c.in) < 0)
		return;
	if (rule_validate(r, w, &c) < 0)
		goto out;
	char owner[96];
	if (sg_ensure_default(r, w) < 0 || net_owned(r, w, &net_res_secgroup, "net_secgroups",
	                                             c.in.sg_id, owner, sizeof owner) < 0)
		goto out;
	if (c.in.remote_group) {
		json_t *g = net_fetch(r, &net_res_secgroup, c.in.remote_group);
		if (!g) {
			net_not_found(r, w, &net_res_secgroup, c.in.remote_group);
			goto out;
		}
		json_decref(g);
	}
	c.project = owner;
	if (net_tx(r, w, rule_create_tx, &c) == 0)
		net_answer(r, w, &net_res_sg_rule, c.id, 201);
out:
	jparse_release(rule_fields, NRULE, &c.in);
}

static void rule_list(struct req *r, struct resp *w)
{
	if (sg_ensure_default(r, w) == 0)
		net_list(r, w, &net_res_sg_rule);
}

static void rule_show(struct req *r, struct resp *w)
{
	net_show(r, w, &net_res_sg_rule, r->params[0]);
}

static void rule_delete(struct req *r, struct resp *w)
{
	const char *id = r->params[0];
	char err[512];
	if (net_owned(r, w, &net_res_sg_rule, "net_sg_rules", id, NULL, 0) < 0)
		return;
	if (DBX(r->ctx->db, err, sizeof err, "DELETE FROM net_sg_rules WHERE id = $1", id) < 0 ||
	    net_touch(r->ctx->db, r->id, err, sizeof err) < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

static const struct httpd_route sg_route_list[] = {
    {"GET", "/network/v2.0/security-groups", sg_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/security-groups", sg_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/security-groups/{}", sg_show, POL_NETWORK_READ, 0},
    {"PUT", "/network/v2.0/security-groups/{}", sg_update, POL_NETWORK_WRITE, 0},
    {"DELETE", "/network/v2.0/security-groups/{}", sg_delete, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/security-group-rules", rule_list, POL_NETWORK_READ, 0},
    {"POST", "/network/v2.0/security-group-rules", rule_create, POL_NETWORK_WRITE, 0},
    {"GET", "/network/v2.0/security-group-rules/{}", rule_show, POL_NETWORK_READ, 0},
    {"DELETE", "/network/v2.0/security-group-rules/{}", rule_delete, POL_NETWORK_WRITE, 0},
};
HTTPD_TABLE(secgroup_routes, sg_route_list, &network_hooks);

/* RBAC: a typed rule per kind of API operation, and who may perform it. Routes name
 * their rule in httpd_route.policy; a rule that does not exist cannot be named. */
#ifndef NUBO_POLICY_H
#define NUBO_POLICY_H
#include "http.h"

enum policy {
	POL_PUBLIC,
	/* identity */
	POL_IDENTITY_TOKEN,
	POL_IDENTITY_READ_SELF,
	POL_IDENTITY_ADMIN,       /* admin in a project or on the system */
	POL_IDENTITY_SYSTEM_READ, /* that, or reader on the system */
	/* compute */
	POL_COMPUTE_READ,
	POL_COMPUTE_WRITE,
	POL_COMPUTE_ADMIN,
	POL_COMPUTE_FLAVOR_READ,
	POL_COMPUTE_FLAVOR_WRITE,
	POL_COMPUTE_KEYPAIR,
	POL_COMPUTE_QUOTA_READ,
	POL_COMPUTE_QUOTA_WRITE,
	/* image */
	POL_IMAGE_READ,
	POL_IMAGE_WRITE,
	POL_IMAGE_DOWNLOAD,
	/* network */
	POL_NETWORK_READ,
	POL_NETWORK_WRITE,
	POL_NETWORK_ADMIN,
	/* block storage */
	POL_VOLUME_READ,
	POL_VOLUME_WRITE,
	POL_VOLUME_ADMIN,
	POL_COUNT
};

/* 0 when a may perform operations under rule; -EPERM when a token is needed and
 * absent/invalid (401); -EACCES when the caller lacks the role (403). Roles count
 * only in a project-scoped token (a domain-scoped one passes only token rules). A value outside
 * the table denies (-EACCES, or -EPERM without a token). */
int policy_check(unsigned rule, const struct auth *a);
/* The rule's name for messages ("compute:write"), or NULL when rule is not a rule. */
const char *policy_name(unsigned rule);
/* 1 when the caller holds the admin role in its project (never for a domain scope). */
int policy_is_admin(const struct auth *a);
/* Pure: may token (X-Auth-Token) reach a route of route_flags, subject being the
 * request's X-Subject-Token (may be NULL)? 0 for every token that is not limited to the
 * object store (common/objtoken.h); a limited one only validates itself (a
 * ROUTE_SELF_TOKEN_OK route with subject equal to token): -EACCES (403) anywhere else. */
int policy_token_limit_check(const char *token, const char *subject, unsigned route_flags);

#endif

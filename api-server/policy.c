/* The policy table: rule -> minimum requirement. Reader may read, member may write
 * within its project, admin may do everything (including other projects). Roles
 * count only in a project scope: a domain-scoped token carries its domain's roles
 * (Keystone's token shows them), but no rule here takes them, so "member on a domain"
 * reaches no project's servers or images and "admin on a domain" is no cloud admin. */
#include "policy.h"

#include <errno.h>
#include <string.h>

#include "objtoken.h"

enum requirement {
	REQ_NONE,
	REQ_PUBLIC,
	REQ_TOKEN,
	REQ_READER,
	REQ_MEMBER,
	REQ_ADMIN,
	REQ_CLOUD_ADMIN,  /* admin in a project or on the system (Keystone's admin_required) */
	REQ_SYSTEM_READER /* that, or reader on the system (Keystone's system reader) */
};

static const struct {
	const char *name;
	enum requirement req;
} policies[POL_COUNT] = {
    [POL_PUBLIC] = {"public", REQ_PUBLIC},
    [POL_IDENTITY_TOKEN] = {"identity:token", REQ_TOKEN},
    [POL_IDENTITY_READ_SELF] = {"identity:read_self", REQ_TOKEN},
    [POL_IDENTITY_ADMIN] = {"identity:admin", REQ_CLOUD_ADMIN},
    [POL_IDENTITY_SYSTEM_READ] = {"identity:system_read", REQ_SYSTEM_READER},
    [POL_COMPUTE_READ] = {"compute:read", REQ_READER},
    [POL_COMPUTE_WRITE] = {"compute:write", REQ_MEMBER},
    [POL_COMPUTE_ADMIN] = {"compute:admin", REQ_ADMIN},
    [POL_COMPUTE_FLAVOR_READ] = {"compute:flavor:read", REQ_TOKEN},
    [POL_COMPUTE_FLAVOR_WRITE] = {"compute:flavor:write", REQ_ADMIN},
    [POL_COMPUTE_KEYPAIR] = {"compute:keypair", REQ_TOKEN},
    [POL_COMPUTE_QUOTA_READ] = {"compute:quota:read", REQ_READER},
    [POL_COMPUTE_QUOTA_WRITE] = {"compute:quota:write", REQ_ADMIN},
    [POL_IMAGE_READ] = {"image:read", REQ_READER},
    [POL_IMAGE_WRITE] = {"image:write", REQ_MEMBER},
    [POL_IMAGE_DOWNLOAD] = {"image:download", REQ_READER},
    [POL_NETWORK_READ] = {"network:read", REQ_READER},
    [POL_NETWORK_WRITE] = {"network:write", REQ_MEMBER},
    [POL_NETWORK_ADMIN] = {"network:admin", REQ_ADMIN},
    [POL_VOLUME_READ] = {"volume:read", REQ_READER},
    [POL_VOLUME_WRITE] = {"volume:write", REQ_MEMBER},
    [POL_VOLUME_ADMIN] = {"volume:admin", REQ_ADMIN},
};

/* The role bits that count: those of a project-scoped token. */
static unsigned project_roles(const struct auth *a)
{
	return a->project_id[0] ? a->roles : 0;
}

/* The role bits of a system-scoped token (Keystone's system scope: the identity
 * service's own administration, never a project's resources). */
static unsigned system_roles(const struct auth *a)
{
	return a->system ? a->roles : 0;
}

int policy_is_admin(const struct auth *a)
{
	return a->valid && (project_roles(a) & ROLE_ADMIN);
}

const char *policy_name(unsigned rule)
{
	return rule < POL_COUNT && policies[rule].req != REQ_NONE ? policies[rule].name : NULL;
}

int policy_check(unsigned rule, const struct auth *a)
{
	enum requirement req = rule < POL_COUNT ? policies[rule].req : REQ_NONE;
	if (req == REQ_PUBLIC)
		return 0;
	if (!a->valid)
		return -EPERM;
	switch (req) {
	case REQ_TOKEN:
		return 0;
	case REQ_READER:
		return project_roles(a) & (ROLE_READER | ROLE_MEMBER | ROLE_ADMIN) ? 0 : -EACCES;
	case REQ_MEMBER:
		return project_roles(a) & (ROLE_MEMBER | ROLE_ADMIN) ? 0 : -EACCES;
	case REQ_ADMIN:
		return project_roles(a) & ROLE_ADMIN ? 0 : -EACCES;
	case REQ_CLOUD_ADMIN:
		return (project_roles(a) | system_roles(a)) & ROLE_ADMIN ? 0 : -EACCES;
	case REQ_SYSTEM_READER:
		return project_roles(a) & ROLE_ADMIN ||
		               system_roles(a) & (ROLE_READER | ROLE_MEMBER | ROLE_ADMIN)
		           ? 0
		           : -EACCES;
	default:
		return -EACCES;
	}
}

int policy_token_limit_check(const char *token, const char *subject, unsigned route_flags)
{
	char account[OBJTOKEN_ACCOUNT_MAX];
	if (objtoken_account(token, account, sizeof(account)) == 0)
		return 0;
	if ((route_flags & ROUTE_SELF_TOKEN_OK) && subject && !strcmp(subject, token))
		return 0;
	return -EACCES;
}

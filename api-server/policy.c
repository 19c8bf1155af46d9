/* The policy table: rule name -> minimum requirement. Reader may read, member may
 * write within its project, admin may do everything (including other projects). */
#include "policy.h"

#include <errno.h>
#include <string.h>

enum requirement { REQ_PUBLIC, REQ_TOKEN, REQ_READER, REQ_MEMBER, REQ_ADMIN };

static const struct {
	const char *rule;
	enum requirement req;
} policies[] = {
	{"public", REQ_PUBLIC},
	/* identity */
	{"identity:token", REQ_TOKEN},
	{"identity:read_self", REQ_TOKEN},
	{"identity:admin", REQ_ADMIN},
	/* compute */
	{"compute:read", REQ_READER},
	{"compute:write", REQ_MEMBER},
	{"compute:admin", REQ_ADMIN},
	{"compute:flavor:read", REQ_TOKEN},
	{"compute:flavor:write", REQ_ADMIN},
	{"compute:keypair", REQ_TOKEN},
	{"compute:quota:read", REQ_READER},
	{"compute:quota:write", REQ_ADMIN},
	/* image */
	{"image:read", REQ_READER},
	{"image:write", REQ_MEMBER},
	{"image:download", REQ_READER},
};

int policy_is_admin(const struct auth *a)
{
	return a->valid && (a->roles & ROLE_ADMIN);
}

int policy_check(const char *rule, const struct auth *a)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		if (strcmp(policies[i].rule, rule))
			continue;
		enum requirement req = policies[i].req;
		if (req == REQ_PUBLIC)
			return 0;
		if (!a->valid)
			return -EPERM;
		switch (req) {
		case REQ_TOKEN:
			return 0;
		case REQ_READER:
			return a->roles & (ROLE_READER | ROLE_MEMBER | ROLE_ADMIN) ? 0 : -EACCES;
		case REQ_MEMBER:
			return a->roles & (ROLE_MEMBER | ROLE_ADMIN) ? 0 : -EACCES;
		case REQ_ADMIN:
			return a->roles & ROLE_ADMIN ? 0 : -EACCES;
		default:
			return -EACCES;
		}
	}
	return a->valid ? -EACCES : -EPERM;
}

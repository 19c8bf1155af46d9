/* RBAC: one table mapping each API operation's rule name to who may do it. */
#ifndef NUBO_POLICY_H
#define NUBO_POLICY_H
#include "http.h"

/* 0 when a may perform the operation named rule; -EPERM when a token is needed and
 * absent/invalid (401); -EACCES when the caller lacks the role (403). An unknown rule
 * name denies (-EACCES). */
int policy_check(const char *rule, const struct auth *a);
/* 1 when the caller holds the admin role in its project. */
int policy_is_admin(const struct auth *a);

#endif

/* Nova's server groups (os-server-groups, server_group.c): CRUD, the members a server
 * create adds through the scheduler hint "group", and the group ids a server shows at
 * 2.71. Placement enforces the policy (scheduler/placement.c). */
#ifndef NUBO_SERVER_GROUP_H
#define NUBO_SERVER_GROUP_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"
#include "util.h"

/* The hint "group" of a server create body (os:scheduler_hints or
 * OS-SCH-HNT:scheduler_hints), lower-cased into group. Returns 1 with it, 0 when the
 * body names none, -EINVAL with Nova's 400 text in err (not a UUID, hints not an
 * object). Pure. */
int server_group_hint(const json_t *body, char group[UUID_STR_LEN], char *err, size_t errlen);
/* Inside server create's transaction: locks group (the caller's project's, any for an
 * admin) and checks that n more members fit the server_group_members quota. 0; or
 * after answering 400 (no such group), 403 (quota) or 500: a negative errno. */
int server_group_reserve(struct req *r, struct resp *w, const char *group, long n);
/* Inside the same transaction: instance joins group. 0 or -EIO with err. */
int server_group_join(PGconn *db, const char *group, const char *instance_id, char *err,
                      size_t errlen);
/* The ids of the groups instance is in as JSON array text (owned; "[]" on error). */
char *server_group_ids(PGconn *db, const char *instance_id);

#endif

/* The Nova os-quota-sets endpoints over quota.h. quota.c keeps routes.c's quota_routes
 * slot empty, so these handlers are listed in compute_misc.c's route table. */
#ifndef NUBO_QUOTA_SETS_H
#define NUBO_QUOTA_SETS_H
#include "http.h"

/* GET /os-quota-sets/{project_id}: the project's limits (own project, or admin). */
void quota_sets_show(struct req *r, struct resp *w);
/* GET /os-quota-sets/{project_id}/defaults */
void quota_sets_defaults(struct req *r, struct resp *w);
/* GET /os-quota-sets/{project_id}/detail: {"in_use", "limit", "reserved"} per key. */
void quota_sets_detail(struct req *r, struct resp *w);
/* PUT /os-quota-sets/{project_id} (admin): sets limits; refuses a limit below what is
 * in use unless "force" is true. */
void quota_sets_update(struct req *r, struct resp *w);
/* DELETE /os-quota-sets/{project_id} (admin): back to the defaults. */
void quota_sets_delete(struct req *r, struct resp *w);

/* GET /os-quota-class-sets/{class}: the class's values (Nova's defaults where it has
 * none); "default" is the class every project's limits start from. */
void quota_classes_show(struct req *r, struct resp *w);
/* PUT /os-quota-class-sets/{class} (admins): sets the given keys. */
void quota_classes_update(struct req *r, struct resp *w);

#endif

/* Block Storage v3 (/volume/v3/{project_id}): what the resource files share: the
 * project in the path, the project's limits and usage, and the volume view. */
#ifndef NUBO_VOLUME_H
#define NUBO_VOLUME_H
#include <jansson.h>
#include <libpq-fe.h>

#include "http.h"
#include "volume/volume_state.h"

/* 0 when the {project_id} of the path (r->params[0]) is the caller's project, or the
 * caller is an admin; else answers 400 and returns -EINVAL. */
int volume_project_check(struct req *r, struct resp *w);

/* One verb of a resource's POST .../action {"verb": arg} (Cinder's action bodies). */
struct volume_action {
	const char *name;
	void (*fn)(struct req *r, struct resp *w, const json_t *arg);
};

/* The project check, then the verb of an action body that is exactly one {"verb": ...}
 * (Cinder's 400 "Malformed request body" otherwise): the verb, or NULL answered. */
const char *volume_action_verb(struct req *r, struct resp *w);
/* Runs verb's function from t (n rows) with its argument: 1, or 0 when t has no such
 * verb (nothing answered). */
int volume_action_run(struct req *r, struct resp *w, const char *verb,
                      const struct volume_action *t, size_t n);

/* The next page's link of a full list page: base ("%s/volume/v3/<project>/<what>") with
 * the request's own values of the keep[] filters (n of them), limit, marker and the sort
 * key and direction when given. Owned. */
char *volume_next_link(struct req *r, const char *base, const char *const *keep, size_t n,
                       long limit, const char *marker, const char *key, const char *dir);

/* The (resource, hard_limit) rows that override the built-in defaults for project $1:
 * the "default" quota class's first, then the project's own quotas rows. */
#define VQUOTA_LIMITS_SQL                                                                          \
	"SELECT resource, hard_limit FROM (SELECT 0 AS k, resource, hard_limit FROM"               \
	" volume_quota_classes WHERE class_name = 'default' UNION ALL SELECT 1, resource,"         \
	" hard_limit FROM quotas WHERE project_id = $1) q ORDER BY k"

/* Limits of project (volume_quota.c): for type NULL its global ones, Cinder's defaults
 * overlaid with the default quota class and its quotas rows; for a volume type's name
 * the volumes_<type>, gigabytes_<type> and snapshots_<type> ones, -1 (unlimited) unless
 * set the same way. 0 or -EIO. */
int vquota_limits(PGconn *db, const char *project_id, const char *type, struct vquota_set *out);
/* Usage of project (volume_quota.c): for type_id NULL all its volumes, their and its
 * snapshots' gigabytes, its snapshots; else only its volumes of that type and the
 * snapshots of them (a snapshot counts against its volume's type, as a retype moves
 * them in Cinder). The type's name into type_name (NULL: not wanted) when type_id is
 * given. 0, -ENOENT (no such type) or -EIO. */
int vquota_usage(PGconn *db, const char *project_id, const char *type_id, struct vquota_set *out,
                 char type_name[VQUOTA_NAME_MAX]);
/* Locks project_id (NULL: the caller's; the row every quota-consuming write of it
 * locks) and checks that want fits its global quotas and, when type_id is not NULL,
 * typed_want (want when NULL) those of the volume type type_id; answers Cinder's 413
 * (or the database error) and returns < 0 when not. Inside the caller's transaction.
 * (volume_quota.c) */
int vquota_reserve(struct req *r, struct resp *w, const char *project_id, const char *type_id,
                   const struct vquota_set *want, const struct vquota_set *typed_want);
/* 1 when key is volumes_, gigabytes_ or snapshots_ and the name of an existing volume
 * type (held FOR SHARE to the end of the caller's transaction); 0 when not; -EIO.
 * (volume_quota.c) */
int vquota_type_key(PGconn *db, const char *key);

/* A quota limit as a client sends it: an integer or its text; < -1 when it is neither. */
long vquota_limit_value(const json_t *v);
/* Follows a volume type's renaming (to, from from) or deletion (to NULL) in the quotas
 * and quota classes rows of its volumes_<type>, gigabytes_<type> and snapshots_<type>
 * (Cinder's update_quota_resource; a deleted type's rows are dropped so that a new type
 * of the same name starts unlimited). Inside the caller's transaction. 0, or -EIO with
 * the database error in err. (volume_quota.c) */
int vquota_type_rename(PGconn *db, const char *from, const char *to, char *err, size_t errlen);
/* Adds the quotas of every volume type to q (volumes_<type>, gigabytes_<type>,
 * snapshots_<type>): their limits from rows ((resource, hard_limit) rows such as
 * VQUOTA_LIMITS_SQL's, a later row overriding an earlier; -1 when none); with usage of
 * project_id (not NULL) as Cinder's {limit, in_use, reserved, allocated}. Rows of types
 * that do not exist are not listed. 0 or -EIO. (volume_quota.c) */
int vquota_types_view(PGconn *db, json_t *q, const PGresult *rows, const char *project_id);

/* The id of the volume type named or identified by ref (NULL: the default type) into
 * out. 0, -ENOENT (answered 404) or -EIO (answered). */
int volume_type_resolve(struct req *r, struct resp *w, const char *ref, char out[37]);

/* The zone of a storage host whose agent names none (Cinder's
 * storage_availability_zone), and the longest zone name an agent may report. */
#define VOLUME_DEFAULT_AZ "nova"
#define VOLUME_AZ_MAX 64

/* 0 when a volume may be created in zone az: a zone some storage host is in (or the
 * default zone while no storage host is known). Else answers Cinder's 400 "Availability
 * zone 'X' is invalid." (or the database error) and returns < 0. (volume_zone.c) */
int volume_zone_check(struct req *r, struct resp *w, const char *az);

/* 0 when volumes of type type_id may be created; else answers 400 (Nubo encrypts no
 * volume, so a type with an encryption spec is refused) or the database error and
 * returns < 0. (volume_type.c) */
int volume_type_encryption_refuse(struct req *r, struct resp *w, const char *type_id);

/* The quota class class_name as Cinder lists it: the built-in defaults overlaid with
 * its rows (per-type keys such as volumes_<type> included). New object, or NULL on a
 * database error. (volume_ext.c) */
json_t *vquota_class_view(PGconn *db, const char *class_name);

/* The backups of project and their gigabytes (volume_backup.c). 0 or -EIO. */
int backup_usage(PGconn *db, const char *project_id, long *count, long *gb);

/* SQL over a volumes row: why a copy of it (a snapshot, a clone) cannot be made now
 * when Compute has plugged it: '' when it may (not plugged, or its server is on a host
 * with no task under way), else 'no host' or the server's task_state. */
#define VOLUME_PLUGGED_BUSY                                                                        \
	"CASE WHEN attached_server IS NOT NULL AND attach_compute THEN"                            \
	" coalesce((SELECT CASE WHEN i.host IS NULL OR i.deleted THEN 'no host'"                   \
	" ELSE coalesce(i.task_state, '') END FROM instances i"                                    \
	" WHERE i.id = attached_server), 'no host') ELSE '' END"

#define VOLUME_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"

#endif

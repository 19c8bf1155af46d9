/* The instance state writes: one UPDATE for a state change, one for deletion. */
#include "instance.h"

#include <errno.h>
#include <stdio.h>

#include "db.h"
#include "instance_volumes.h"

int instance_set_state(PGconn *c, const char *id, const struct vmstate *st, int clear_task_state,
                       const char *fault, char *err, size_t errlen)
{
	char power[16];
	snprintf(power, sizeof(power), "%d", st->power);
	static const char sql[] =
	    "UPDATE instances SET status = $2, vm_state = $3, power_state = $4::int,"
	    /* an open task (e.g. a delete that overtook this one) keeps its task_state */
	    " task_state = CASE WHEN $5::boolean AND NOT EXISTS (SELECT 1 FROM tasks t"
	    "   WHERE t.resource_kind = 'instance' AND t.resource_id = $1"
	    " AND t.status IN ('pending', 'dispatched'))"
	    "   THEN NULL ELSE task_state END,"
	    " fault_message = CASE WHEN $6::text IS NOT NULL THEN $6::text"
	    "   WHEN $2 = 'ERROR' THEN fault_message ELSE NULL END,"
	    " fault_code = CASE WHEN $6::text IS NOT NULL THEN 500"
	    "   WHEN $2 = 'ERROR' THEN fault_code ELSE NULL END,"
	    " launched_at = CASE WHEN $2 = 'ACTIVE' THEN coalesce(launched_at, now())"
	    "   ELSE launched_at END,"
	    " updated_at = now()"
	    " WHERE id = $1 AND NOT deleted";
	const char *params[] = {
	    id, st->status, st->vm_state, power, clear_task_state ? "true" : "false", fault};
	return db_exec(c, sql, 6, params, err, errlen);
}

int instance_mark_deleted(PGconn *c, const char *id, char *err, size_t errlen)
{
	static const char sql[] =
	    "UPDATE instances SET status = 'DELETED', vm_state = 'deleted', power_state = 0,"
	    " task_state = NULL, deleted = true,"
	    " terminated_at = coalesce(terminated_at, now()),"
	    " updated_at = now() WHERE id = $1 AND NOT deleted";
	const char *params[] = {id};
	int n = db_exec(c, sql, 1, params, err, errlen);
	return n == 1 && instance_volumes_release(c, id, err, errlen) < 0 ? -EIO : n;
}

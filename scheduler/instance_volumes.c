/* Volumes of a deleted instance (see instance_volumes.h). */
#include "instance_volumes.h"

#include <errno.h>
#include <string.h>

#include "db.h"
#include "msg.h"
#include "outbox.h"
#include "util.h"

int instance_volumes_release(PGconn *c, const char *id, char *err, size_t errlen)
{
	static const char sql[] =
	    "UPDATE volumes SET status = CASE WHEN status IN ('in-use', 'attaching',"
	    " 'detaching') THEN 'available' ELSE status END, attached_server = NULL,"
	    " attachment_id = NULL, attach_device = NULL, updated_at = now()"
	    " WHERE attached_server = $1";
	const char *params[] = {id};
	return db_exec(c, sql, 1, params, err, errlen);
}

/* The actions after which the instance runs in a QEMU started anew. */
static const char *const restarting[] = {TASK_START, TASK_REBOOT, TASK_HARD_REBOOT, TASK_REBUILD,
                                         TASK_RESUME};

int instance_volumes_replug(PGconn *c, const char *id, const char *action, const char *reported,
                            char *err, size_t errlen)
{
	int restarts = 0;
	for (size_t i = 0; i < sizeof(restarting) / sizeof(restarting[0]); i++)
		restarts |= !strcmp(action, restarting[i]);
	if (!restarts || (reported && *reported && strcmp(reported, VM_RUNNING)))
		return 0;
	const char *params[] = {id};
	PGresult *r = db_query(c,
	                       "SELECT v.id FROM volumes v JOIN instances i ON i.id ="
	                       " v.attached_server AND i.project_id = v.project_id WHERE"
	                       " v.attached_server = $1 AND v.status = 'in-use' AND"
	                       " v.attach_compute ORDER BY v.id",
	                       1, params, err, errlen, NULL);
	if (!r)
		return -EIO;
	int n = PQntuples(r), rc = n;
	for (int i = 0; i < n && rc >= 0; i++) {
		struct outbox_task t = {
		    MSG_RES_ATTACHMENT, PQgetvalue(r, i, 0), TASK_ATTACH, NULL, NULL, NULL};
		if (outbox_insert(c, &t, NULL, err, errlen) < 0)
			rc = -EIO;
	}
	PQclear(r);
	return rc;
}

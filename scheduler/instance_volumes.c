/* Volumes of a deleted instance (see instance_volumes.h). */
#include "instance_volumes.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "msg.h"
#include "outbox.h"
#include "util.h"
#include "xalloc.h"

int instance_volumes_release(PGconn *c, const char *id, char *err, size_t errlen)
{
	static const char doomed[] =
	    "UPDATE volumes SET status = 'deleting', attached_server = NULL,"
	    " attachment_id = NULL, attach_device = NULL, delete_on_termination = false,"
	    " updated_at = now() WHERE attached_server = $1 AND delete_on_termination"
	    " RETURNING id, host";
	static const char sql[] =
	    "UPDATE volumes SET status = CASE WHEN status IN ('in-use', 'attaching',"
	    " 'detaching') THEN 'available' ELSE status END, attached_server = NULL,"
	    " attachment_id = NULL, attach_device = NULL, updated_at = now()"
	    " WHERE attached_server = $1";
	const char *params[] = {id};
	PGresult *r = db_query(c, doomed, 1, params, err, errlen, NULL);
	if (!r)
		return -EIO;
	int n = PQntuples(r), rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *host = PQgetisnull(r, i, 1) ? NULL : PQgetvalue(r, i, 1);
		struct outbox_task t = {
		    MSG_RES_VOLUME, PQgetvalue(r, i, 0), TASK_DELETE, host, NULL, NULL};
		if (outbox_insert(c, &t, NULL, err, errlen) < 0)
			rc = -EIO;
	}
	PQclear(r);
	if (rc < 0)
		return rc;
	rc = db_exec(c, sql, 1, params, err, errlen);
	return rc < 0 ? rc : rc + n;
}

int instance_volumes_boot(PGconn *c, const char *id, char vol[UUID_STR_LEN],
                          char host[MSG_HOST_MAX], char *err, size_t errlen)
{
	const char *params[] = {id};
	PGresult *r = db_query(c, "SELECT boot_volume_id FROM instances WHERE id = $1", 1, params,
	                       err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = 0;
	if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0) || !*PQgetvalue(r, 0, 0))
		goto out;
	if (strlcpy_checked(vol, PQgetvalue(r, 0, 0), UUID_STR_LEN) < 0 || !uuid_is_valid(vol)) {
		snprintf(err, errlen, "boot volume id of instance %s is not a UUID", id);
		rc = -EINVAL;
		goto out;
	}
	PQclear(r);
	const char *vparams[] = {vol};
	r = db_query(c,
	             "SELECT status, coalesce(host, ''), coalesce(attached_server, '') FROM volumes"
	             " WHERE id = $1 FOR UPDATE",
	             1, vparams, err, errlen, NULL);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		snprintf(err, errlen, "boot volume %s is gone", vol);
		rc = -EINVAL;
		goto out;
	}
	const char *status = PQgetvalue(r, 0, 0);
	if (strcmp(PQgetvalue(r, 0, 2), id)) {
		snprintf(err, errlen, "boot volume %s is not attached to instance %s", vol, id);
		rc = -EINVAL;
	} else if (!strcmp(status, "creating") || !strcmp(status, "downloading")) {
		rc = -EAGAIN;
	} else if (strcmp(status, "available") && strcmp(status, "attaching") &&
	           strcmp(status, "in-use")) {
		snprintf(err, errlen, "boot volume %s is %s", vol, status);
		rc = -EINVAL;
	} else if (strlcpy_checked(host, PQgetvalue(r, 0, 1), MSG_HOST_MAX) < 0 || !*host) {
		snprintf(err, errlen, "boot volume %s has no storage host", vol);
		rc = -EINVAL;
	} else if (db_exec(c,
	                   "UPDATE volumes SET status = 'in-use', updated_at = now() WHERE id = $1"
	                   " AND status <> 'in-use'",
	                   1, vparams, err, errlen) < 0) {
		rc = -EIO;
	} else {
		rc = 1;
	}
out:
	PQclear(r);
	return rc;
}

/* The actions after which the instance runs in a QEMU started anew. */
static const char *const restarting[] = {TASK_START, TASK_REBOOT, TASK_HARD_REBOOT, TASK_REBUILD,
                                         TASK_RESUME};

int instance_volumes_restarts(const char *action)
{
	for (size_t i = 0; i < sizeof(restarting) / sizeof(restarting[0]); i++)
		if (!strcmp(action, restarting[i]))
			return 1;
	return 0;
}

int instance_volumes_replug(PGconn *c, const char *id, const char *action, const char *reported,
                            char *err, size_t errlen)
{
	if (!instance_volumes_restarts(action) ||
	    (reported && *reported && strcmp(reported, VM_RUNNING)))
		return 0;
	const char *params[] = {id};
	PGresult *r = db_query(c,
	                       "SELECT v.id FROM volumes v JOIN instances i ON i.id ="
	                       " v.attached_server AND i.project_id = v.project_id WHERE"
	                       " v.attached_server = $1 AND v.status = 'in-use' AND"
	                       " v.attach_compute AND v.id IS DISTINCT FROM i.boot_volume_id"
	                       " ORDER BY v.id",
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

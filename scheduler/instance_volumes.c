/* Volumes of a deleted instance (see instance_volumes.h). */
#include "instance_volumes.h"

#include <errno.h>

#include "db.h"

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

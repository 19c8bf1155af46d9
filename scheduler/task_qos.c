/* Disk I/O limits for tasks, from the instance and volume type rows (see task_qos.h). */
#include "task_qos.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "db.h"

/* The limits in the specs object of the first row of sql($1 = id) under dialect d; no
 * row or SQL NULL is none. what names the row in err. */
static int qos_read(PGconn *c, const char *sql, const char *id, enum disk_qos_dialect d,
                    const char *what, struct disk_qos *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	const char *params[] = {id};
	PGresult *r = db_query(c, sql, 1, params, err, errlen, NULL);
	if (!r)
		return -EIO;
	int rc = 0;
	if (PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
		char why[256];
		json_t *specs = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
		if (disk_qos_from_specs(specs, d, out, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "%s %s: %s", what, PQgetvalue(r, 0, 1), why);
			rc = -EINVAL;
		}
		json_decref(specs);
	}
	PQclear(r);
	return rc;
}

int task_qos_instance(PGconn *c, const char *id, struct disk_qos *out, char *err, size_t errlen)
{
	return qos_read(c,
	                "SELECT flavor_extra_specs::text, coalesce(flavor_name, flavor_id)"
	                " FROM instances WHERE id = $1",
	                id, DISK_QOS_NOVA, "the extra specs of flavor", out, err, errlen);
}

int task_qos_volume(PGconn *c, const char *id, struct disk_qos *out, char *err, size_t errlen)
{
	return qos_read(c,
	                "SELECT q.specs::text, q.name FROM volumes v JOIN volume_types t ON"
	                " t.id = v.type_id JOIN qos_specs q ON q.id = t.qos_specs_id AND"
	                " q.consumer IN ('front-end', 'both') WHERE v.id = $1",
	                id, DISK_QOS_CINDER, "the QoS specs", out, err, errlen);
}

/* Block Storage availability zones: the zones of the storage hosts (the zone each
 * storage agent reports in its hello, [storage] az in nubo.conf, "nova" when it names
 * none), as Cinder's are the zones of its cinder-volume services. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "policy.h"
#include "routes.h"
#include "volume/volume.h"
#include "wire.h"

/* The zones of the storage agents with whether any of a zone's agents is up (the
 * liveness os-services shows), in name order. */
#define ZONES_SQL                                                                                  \
	"SELECT az, bool_or(state = 'up' AND last_seen > now() - interval '60 seconds')"           \
	" FROM agents WHERE kind = 'storage' GROUP BY az ORDER BY az"

int volume_zone_check(struct req *r, struct resp *w, const char *az)
{
	char err[512];
	PGresult *res =
	    DBQ(r->ctx->db, err, sizeof err,
	        "SELECT EXISTS (SELECT 1 FROM agents WHERE kind = 'storage' AND az = $1),"
	        " EXISTS (SELECT 1 FROM agents WHERE kind = 'storage')",
	        az);
	if (!res) {
		resp_db_error(r, w, err);
		return -EIO;
	}
	int known = db_val(res, 0, 0)[0] == 't', hosts = db_val(res, 0, 1)[0] == 't';
	PQclear(res);
	/* before any storage host has said hello, the default zone is the one there is */
	if (known || (!hosts && !strcmp(az, VOLUME_DEFAULT_AZ)))
		return 0;
	resp_error(r, w, 400, "Availability zone '%s' is invalid.", az);
	return -EINVAL;
}

/* GET os-availability-zone: each storage host's zone, available while one of its hosts
 * is up (Cinder: an empty list before any cinder-volume service has reported). */
static void zone_list(struct req *r, struct resp *w)
{
	char err[512];
	if (volume_project_check(r, w) < 0)
		return;
	PGresult *res = db_query(r->ctx->db, ZONES_SQL, 0, NULL, err, sizeof err, NULL);
	if (!res) {
		resp_db_error(r, w, err);
		return;
	}
	json_t *list = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, json_pack("{s:s,s:{s:b}}", "zoneName",
		                                      db_val(res, i, 0), "zoneState", "available",
		                                      db_val(res, i, 1)[0] == 't'));
	PQclear(res);
	resp_json(w, 200, json_pack("{s:o}", "availabilityZoneInfo", list));
}

static const struct httpd_route zone_rows[] = {
    {"GET", "/volume/v3/{}/os-availability-zone", zone_list, POL_VOLUME_READ, 0},
};
HTTPD_TABLE(volume_zone_routes, zone_rows, &volume_hooks);

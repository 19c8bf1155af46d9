/* Nova's backup rotation (see image.h): run by the Image API once a backup's bytes have
 * made it active, since only the Image API may remove an image's bytes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "log.h"

#define ROTATE_MAX 100 /* deleted in one rotation; the next one goes on */

/* Deletes image id as DELETE /images/{id} does (image_destroy: the row, then its
 * bytes), unless it is protected (Glance refuses; Nova goes on) or gone. 1 when
 * deleted, 0 when kept, -EIO with err. */
static int rotate_one(struct req *r, const char *id, char *err, size_t errlen)
{
	if (db_begin(r->ctx->db) < 0) {
		snprintf(err, errlen, "begin failed");
		return -EIO;
	}
	PGresult *p = DBQ(r->ctx->db, err, errlen,
	                  "SELECT protected FROM images WHERE id = $1 FOR UPDATE", id);
	if (!p) {
		db_rollback(r->ctx->db);
		return -EIO;
	}
	int keep = PQntuples(p) != 1 || db_val(p, 0, 0)[0] == 't';
	PQclear(p);
	if (keep) {
		db_rollback(r->ctx->db);
		return 0;
	}
	struct image img = {0};
	snprintf(img.id, sizeof(img.id), "%s", id);
	if (image_destroy(r, &img, err, errlen) < 0) {
		db_rollback(r->ctx->db);
		return -EIO;
	}
	return 1;
}

int image_backup_rotate(struct req *r, const char *id, char *err, size_t errlen)
{
	PGresult *t = NULL, *old = NULL;
	int rc = -EIO, n = 0;
	t = DBQ(r->ctx->db, err, errlen,
	        "SELECT t.resource_id, t.payload->>'backup_type', t.payload->>'rotation', i.owner"
	        " FROM tasks t JOIN images i ON i.id = $1 WHERE t.payload->>'image_id' = $1 AND"
	        " t.resource_kind = 'instance' AND t.action = 'snapshot' AND t.status IN"
	        " ('pending', 'dispatched') AND t.payload ? 'rotation' AND i.owner IS NOT NULL"
	        " LIMIT 1",
	        id);
	if (!t)
		goto out;
	rc = 0;
	if (PQntuples(t) != 1)
		goto out; /* no backup of an open task: nothing to rotate */
	const char *rot = db_val(t, 0, 2);
	char *end;
	long rotation = strtol(rot, &end, 10);
	if (!*rot || *end || rotation < 0) {
		snprintf(err, errlen, "task payload of image %s has rotation %.32s", id, rot);
		rc = -EIO;
		goto out;
	}
	char off[24], lim[24];
	snprintf(off, sizeof(off), "%ld", rotation);
	snprintf(lim, sizeof(lim), "%d", ROTATE_MAX);
	/* Nova's _rotate_backups: the server's backups of that type, newest first, past
	 * the first `rotation` (0: every one, the new one too) */
	old = DBQ(r->ctx->db, err, errlen,
	          "SELECT id FROM images WHERE owner = $1 AND properties->>'image_type' = 'backup'"
	          " AND properties->>'backup_type' = $2 AND properties->>'instance_uuid' = $3"
	          " ORDER BY created_at DESC, id DESC OFFSET $4::bigint LIMIT $5::int",
	          db_val(t, 0, 3), db_val(t, 0, 1), db_val(t, 0, 0), off, lim);
	if (!old) {
		rc = -EIO;
		goto out;
	}
	for (int i = 0; i < PQntuples(old); i++) {
		int d = rotate_one(r, db_val(old, i, 0), err, errlen);
		if (d < 0) {
			rc = -EIO;
			goto out;
		}
		if (d > 0) {
			log_info("image %s: backup %s of instance %s rotated out (rotation %ld)",
			         id, db_val(old, i, 0), db_val(t, 0, 0), rotation);
			n++;
		}
	}
	rc = n;
out:
	PQclear(old);
	PQclear(t);
	return rc;
}

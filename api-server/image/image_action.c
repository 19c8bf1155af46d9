/* POST /image/v2/images/{id}/actions/deactivate and .../reactivate: an owner (or an
 * admin) takes an active image out of use and back. A deactivated image keeps its
 * data and metadata; only admins may download it, and servers do not boot from it
 * (compute boots active images only). Asking for the state the image is already in
 * changes nothing; any other status is refused, as Glance does. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "image/image.h"
#include "log.h"

/* One transition: from -> to, named verb in messages. */
static void image_transition(struct req *r, struct resp *w, const char *verb, const char *from,
                             const char *to)
{
	struct image img = {0};
	char err[256];
	if (image_find(r, w, r->params[0], 0, &img) < 0)
		goto out;
	if (!image_may_modify(r, &img)) {
		resp_error(r, w, 403, "You are not authorized to complete %s action.", verb);
		goto out;
	}
	int n = DBX(r->ctx->db, err, sizeof err,
	            "UPDATE images SET status = $3, updated_at = now() WHERE id = $1 AND"
	            " status = $2",
	            img.id, from, to);
	if (n < 0) {
		resp_db_error(r, w, err);
		goto out;
	}
	if (n == 0 && strcmp(img.status, to) && strcmp(img.status, from)) {
		resp_error(r, w, 403, "Not allowed to %s image in status '%s'", verb, img.status);
		goto out;
	}
	/* n == 0 with status from: a concurrent request changed it; what it asked
	 * stands either way (status to, or it went elsewhere and ours lost the race) */
	if (n > 0)
		log_info("image %s: %s", img.id, to);
	resp_empty(w, 204);
out:
	image_release(&img);
}

void image_deactivate(struct req *r, struct resp *w)
{
	image_transition(r, w, "deactivate", "active", "deactivated");
}

void image_reactivate(struct req *r, struct resp *w)
{
	image_transition(r, w, "reactivate", "deactivated", "active");
}

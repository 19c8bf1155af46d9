/* Cinder's os-volume_upload_image volume action: a volume's bytes as a new image. */
#ifndef NUBO_VOLUME_IMAGE_H
#define NUBO_VOLUME_IMAGE_H
#include <jansson.h>

#include "http.h"

/* POST /volume/v3/{project}/volumes/{id}/action {"os-volume_upload_image": {"image_name",
 * "disk_format", "container_format", "visibility", "protected", "force"}}: the volume
 * (the caller's, locked) must be available, not attached (400 with Cinder's message
 * otherwise; Nubo takes no forced upload of an in-use volume), and the project must
 * have room for one more image; then in one transaction a queued image owned by the
 * volume's project is made (disk_format raw, the default, or qcow2; container bare),
 * the volume becomes "uploading" and an upload task for its storage host is queued.
 * 202 with Cinder's answer. The storage agent converts and PUTs the bytes; the
 * scheduler puts the volume back to available and deletes the image if it failed. */
void volume_upload_image(struct req *r, struct resp *w, const json_t *arg);

#endif

/* Cinder's os-volume_upload_image volume action: a volume's bytes as a new image; and
 * the volume's image metadata (volume_image_metadata) and its actions. */
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

/* The volume_image_metadata of a volume: image_meta (the volumes column, JSON text)
 * when set, else {"image_id": image_id} for a volume made from an image, else NULL.
 * Pure; new object or NULL. */
json_t *volume_image_meta_view(const char *image_id, const char *image_meta);

/* os-set_image_metadata {"metadata": {key: value}} merges (keys 1..255 bytes, string
 * values up to 255, at most 64 entries) and answers 200 {"metadata": all of it};
 * os-unset_image_metadata {"key": k} removes one (404 when absent) and answers 200;
 * os-show_image_metadata answers 200 {"metadata": ...} ({} when none). The volume is the
 * caller's (or any, for an admin); a volume being uploaded or in maintenance is 400. */
void volume_image_meta_set(struct req *r, struct resp *w, const json_t *arg);
void volume_image_meta_unset(struct req *r, struct resp *w, const json_t *arg);
void volume_image_meta_show(struct req *r, struct resp *w, const json_t *arg);

#endif

/* The Compute image proxy (compute_image.c): Nova's words for Glance's image states,
 * for tests. */
#ifndef NUBO_COMPUTE_IMAGE_H
#define NUBO_COMPUTE_IMAGE_H
#include <jansson.h>

/* Pure: Nova's status of a Glance status (active -> ACTIVE, queued and saving ->
 * SAVING, deleted and pending_delete -> DELETED, killed -> ERROR, else UNKNOWN). */
const char *compute_image_status(const char *glance_status);
/* Pure: Nova's progress of a Glance status (queued 25, saving 50, active 100, else 0). */
int compute_image_progress(const char *glance_status);
/* The first key of props that may not be an extra property (image_prop_key_free: one
 * of Glance's attributes or reserved names), or NULL. */
const char *compute_image_reserved(const json_t *props);

#endif

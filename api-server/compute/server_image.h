/* Nova's createImage server action (an instance snapshot): POST
 * /compute/v2.1/servers/{id}/action {"createImage": {"name", "metadata"}}. */
#ifndef NUBO_SERVER_IMAGE_H
#define NUBO_SERVER_IMAGE_H
#include <jansson.h>

#include "http.h"

/* The handler of the "createImage" key of server_action.c's table. In one
 * transaction: the server (its project's, locked) must be ACTIVE, SHUTOFF, PAUSED or
 * SUSPENDED without a task (409 as Nova otherwise), booted from an image (a
 * volume-backed server answers 400: Nubo does not snapshot boot volumes into images
 * yet), and its project must have room for one more image (403); then a queued
 * private qcow2 image owned by the server's project is made (the base image's
 * properties and min_ram, min_disk of the flavor, Nova's image_type=snapshot,
 * instance_uuid, base_image_ref, user_id, then the caller's metadata), task_state
 * becomes image_snapshot and a snapshot task for the server's host is queued. 202:
 * from microversion 2.45 {"image_id": ...}, before it a Location header. */
void server_image_create(struct req *r, struct resp *w, const char *key, const json_t *arg);

/* Pure: 0 when name is a Nova snapshot name (1..255 bytes, not starting or ending with
 * whitespace), else -EINVAL. */
int server_image_name_check(const char *name);

#endif

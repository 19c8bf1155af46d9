/* Nova's createImage and createBackup server actions (an instance snapshot; a backup
 * is a snapshot with a type and a rotation): POST /compute/v2.1/servers/{id}/action
 * {"createImage": {"name", "metadata"}} or {"createBackup": {"name", "backup_type",
 * "rotation", "metadata"}}. */
#ifndef NUBO_SERVER_IMAGE_H
#define NUBO_SERVER_IMAGE_H
#include <jansson.h>

#include "http.h"
#include "jparse.h"

/* The arguments of either action. Owned strings: server_image_arg_release. */
struct server_image_arg {
	char *name;
	struct jstrmap metadata;
	int backup;        /* createBackup */
	char *backup_type; /* createBackup only: any string of at most 255 bytes */
	long rotation;     /* createBackup only: >= 0; -1 otherwise */
};

/* Pure: parses the argument of action key ("createImage" or "createBackup") as Nova's
 * schema does: name required (server_image_name_check), metadata a map of strings, no
 * other keys; for createBackup backup_type (a string) and rotation (an integer >= 0, or
 * its digits as a string) required too. 0 with a filled, or -EINVAL with Nova's 400 text
 * in err ("Invalid input for field/attribute ...") and nothing to release. */
int server_image_parse(const char *key, const json_t *arg, struct server_image_arg *a, char *err,
                       size_t errlen);
/* Frees what a owns. */
void server_image_arg_release(struct server_image_arg *a);

/* The handler of the "createImage" and "createBackup" keys of server_action.c's table.
 * In one
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

/* createBackup is the same flow with image_type=backup and backup_type among the
 * properties, task_state image_backup, the instance action createBackup, and Nova's
 * rotation carried in the task's payload ({"image_id", "backup_type", "rotation"}):
 * when the backup's bytes make it active, the oldest backups of the server and type
 * beyond rotation are deleted (image_backup_rotate, image/image.h); before 2.45 no
 * Location header for rotation 0, as Nova. */

/* Pure: 0 when name is a Nova snapshot name (1..255 bytes, not starting or ending with
 * whitespace), else -EINVAL. */
int server_image_name_check(const char *name);

#endif

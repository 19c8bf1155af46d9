/* Boot from volume: the block device mappings of a server create (Nova's
 * block_device_mapping_v2 and the legacy block_device_mapping), parsed once into what
 * Nubo can boot: one root volume, either an existing volume or one made from an image
 * by Block Storage's own create; and the database steps that give it to the server. */
#ifndef NUBO_SERVER_BDM_H
#define NUBO_SERVER_BDM_H
#include <jansson.h>
#include <stddef.h>

#include "http.h"
#include "util.h"

#define SERVER_BDM_MAX                                                                             \
	32 /* mappings in one request (Nova's max_local_block_devices is                           \
	      lower; this bounds the parse) */

enum server_bdm_source {
	SERVER_BDM_NONE,     /* no mapping: the server boots from imageRef */
	SERVER_BDM_VOLUME,   /* boots from the existing volume uuid */
	SERVER_BDM_IMAGE,    /* boots from a new volume of volume_size GiB made from image uuid */
	SERVER_BDM_SNAPSHOT, /* boots from a new volume made from snapshot uuid (volume_size
	                        GiB, 0: the snapshot's size) */
};

struct server_bdm {
	enum server_bdm_source source;
	char uuid[UUID_STR_LEN]; /* the volume, the image or the snapshot, lower case */
	long volume_size;        /* SERVER_BDM_IMAGE: GiB, > 0; SERVER_BDM_SNAPSHOT: >= 0 */
	int delete_on_termination;
	char volume_id[UUID_STR_LEN]; /* the root volume once known ("" before) */
	int created;                  /* 1: server_bdm_prepare made the volume */
};

/* Pure: parses the "block_device_mapping" (legacy, may be NULL) and
 * "block_device_mapping_v2" (may be NULL) members of a server create into out. An
 * empty or absent list is SERVER_BDM_NONE. Accepted: one mapping with boot index 0 of
 * source volume, image or snapshot to destination volume (v2), or one legacy mapping of a
 * volume_id on the root device (vda). Returns 0, or -EINVAL with Nova's 400 text in
 * err (a malformed mapping: "Invalid input for field/attribute ..."; a valid one Nubo
 * cannot boot: "Block Device Mapping is Invalid: ..."). */
int server_bdm_parse(const json_t *legacy, const json_t *v2, struct server_bdm *out, char *err,
                     size_t errlen);

/* Pure: the mapping an image made by createImage of a volume-backed server carries
 * (Nova's image properties bdm_v2 "True" and block_device_mapping, a JSON list as text,
 * in props, an object of strings) into out. Returns 1 when props hold such a mapping
 * and out is its root (SERVER_BDM_SNAPSHOT), 0 when they hold none (out untouched: the
 * image is booted as an image), or -EINVAL with Nova's 400 text in err when the mapping
 * is one Nubo cannot boot (malformed, no root snapshot, more than one disk). */
int server_bdm_from_image(const json_t *props, struct server_bdm *out, char *err, size_t errlen);

/* Before the server's transaction: for SERVER_BDM_IMAGE and SERVER_BDM_SNAPSHOT, creates
 * the volume through Block Storage's create handler (quota, source checks and the storage
 * task are its own), named after the server, and sets b->volume_id and b->created; for
 * SERVER_BDM_VOLUME sets b->volume_id. server_id is the id the server will have: the
 * volume's create names it (the private hint nubo_boot_server) so that the scheduler
 * places the volume where the server will go. Returns 0, or < 0 after answering in
 * Nova's shape. */
int server_bdm_prepare(struct req *r, struct resp *w, struct server_bdm *b, const char *name,
                       const char *server_id);

/* Inside the server's transaction: gives the root volume to instance id (image_id ''
 * and boot_volume_id on the instance; the volume attached as /dev/vda with its
 * delete_on_termination, "attaching" until the scheduler sends the spawn). An existing
 * volume must be the caller's, available and unattached. Returns 0, or < 0 after
 * answering (400 as Nova: unknown volume, volume not available). */
int server_bdm_claim(struct req *r, struct resp *w, const struct server_bdm *b, const char *id);

/* The name of the root volume made for server name (NULL: "server"): "<name>-volume",
 * name cut to at most 200 bytes on a UTF-8 character boundary. Returns owned memory. */
char *server_bdm_volume_name(const char *name);

/* After a create that failed, its transaction rolled back: marks the volume
 * server_bdm_prepare made 'deleting' and queues its delete (in a transaction of its own;
 * best effort, logged when it fails). */
void server_bdm_abandon(struct req *r, const struct server_bdm *b);

#endif

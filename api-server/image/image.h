/* Image v2 (Glance) internals shared by image.c (metadata: list, show, create, patch,
 * delete, tags), image_data.c (upload and download of the bytes) and image_schema.c
 * (the JSON schemas the clients fetch). */
#ifndef NUBO_IMAGE_H
#define NUBO_IMAGE_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stdint.h>

#include "http.h"

/* One images row. Strings are owned; NULL stands for SQL NULL. */
struct image {
	char id[UUID_STR_LEN];
	char *name;
	char *owner;
	char *status;
	char *visibility;
	char *disk_format, *container_format;
	long long size, virtual_size; /* -1 = not known yet */
	char *checksum, *os_hash_algo, *os_hash_value;
	long min_disk, min_ram;
	int protected_;
	json_t *props; /* owned object: extra property name -> string */
	json_t *tags;  /* owned array of strings */
	char *created_at, *updated_at;
};

/* The column list image_from_row expects, for SELECT and RETURNING. */
#define IMAGE_COLS                                                                                 \
	"id, name, owner, status, visibility, disk_format, container_format, size,"                \
	" virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, protected,"      \
	" properties::text, tags::text,"                                                           \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"               \
	" to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* SQL condition (over a row of images) true when the caller may see that image, as
 * Glance decides: admins (admin: a boolean parameter such as "$2") see every image;
 * others (project: their project id parameter) the public and community ones, their
 * own, and a 'shared' one whose member they are, whatever their membership status. */
#define IMAGE_VISIBLE_SQL(admin, project)                                                          \
	"(" admin "::boolean OR images.owner = " project " OR images.visibility IN ('public',"     \
	" 'community') OR (images.visibility = 'shared' AND EXISTS (SELECT 1 FROM image_members"   \
	" vm WHERE vm.image_id = images.id AND vm.member = " project ")))"

/* Fills img from row of res (selected with IMAGE_COLS). img must be released. */
void image_from_row(const PGresult *res, int row, struct image *img);
/* Frees what img owns and zeroes it; safe on a zeroed struct. */
void image_release(struct image *img);
/* The Glance v2 image document (new reference). */
json_t *image_to_json(const struct image *img);

/* Loads image id (any case; must be a UUID) when the caller may see it, optionally
 * locking the row (inside the caller's transaction). Returns 0, -ENOENT (absent, not a
 * UUID or not visible to the caller) or -EIO (err filled). */
int image_load(struct req *r, const char *id, int for_update, struct image *img, char *err,
               size_t errlen);
/* For compute's server create: image id as the caller may boot it, by Glance's
 * visibility rules (a member of a shared image may, whatever its membership status,
 * as Nova asks Glance for the image by id) and only when active (not queued, saving
 * or deactivated). Returns 0 with img filled (min_disk, min_ram, size, virtual_size,
 * disk_format for the flavor checks); -ENOENT with Nova's "Image <id> could not be
 * found." in err; -EINVAL with "Image <id> is not active."; -EIO with the database
 * error. img must be released either way. */
int image_for_boot(struct req *r, const char *id, struct image *img, char *err, size_t errlen);

/* image_load that answers when it fails: 404 "No image found with ID <id>" or 500.
 * Returns 0 or the negative errno of image_load; img must be released either way. */
int image_find(struct req *r, struct resp *w, const char *id, int for_update, struct image *img);
/* Loads image r->params[0] for a change by the caller: with lock set, in a transaction
 * begun here with the row locked (FOR UPDATE). Answers 404/500 as image_find does, and
 * 403 "You are not permitted to <verb> image <id>." unless the caller owns it or is an
 * admin. Returns 0, or a negative errno after answering; img must be released either
 * way (the transaction is left to the caller; db_release rolls it back). */
int image_find_writable(struct req *r, struct resp *w, int lock, const char *verb,
                        struct image *img);

/* Deletes img's row and commits the caller's transaction (begun by
 * image_find_writable or the like), then removes its bytes. 0, or -EIO with err (the
 * transaction is left to roll back). */
int image_destroy(struct req *r, const struct image *img, char *err, size_t errlen);

/* Nova's backup rotation (createBackup, compute/server_image.c), run once image id
 * became active (its upload's transaction committed): when an open instance snapshot
 * task names id in its payload with a backup_type and a rotation, the backups of that
 * server (images of id's owner whose image_type is backup and whose backup_type and
 * instance_uuid are the task's), newest first, past the first `rotation` are deleted
 * as DELETE /images/{id} deletes them (image_destroy: the row, then the bytes), at most
 * 100 at a time; a protected one is kept (Glance refuses, Nova goes on). Rotation 0
 * deletes the new backup too, as Nova does. Returns how many were deleted, or -EIO
 * with err (the deletions before it stand). */
int image_backup_rotate(struct req *r, const char *id, char *err, size_t errlen);

/* "<image_dir>/<id>" (owned). */
char *image_path(const struct api *api, const char *id);

/* 1 when the caller may change img (its owner, or an admin). */
int image_may_modify(const struct req *r, const struct image *img);

/* 1 when key may name an image's extra property: not one of Glance's core or reserved
 * attributes, not in the reserved os_glance namespace, 1..255 printable bytes. The one
 * rule for Glance's PATCH and the Compute /images metadata proxy. */
int image_prop_key_free(const char *key);

/* may_stream of the upload route: 0 when the caller may upload into image
 * r->params[0] (it sees it, and owns it or is admin), else -ENOENT (404) or -EACCES
 * (403) after answering w. A database error returns 0 and leaves the answer to the
 * handler. */
int image_upload_may_stream(struct req *r, struct resp *w);

/* Takes project owner's image quota lock (a transaction-level advisory lock), inside
 * the caller's transaction: the checks of the owner's image count and data size
 * (image_count_total, image_size_total) run under it, so parallel creates or uploads
 * cannot pass one check together. Returns 0 or -EIO with err. */
int image_owner_lock(struct req *r, const char *owner, char *err, size_t errlen);

/* Glance's image_count_total for owner, under the owner's quota lock (taken here,
 * inside the caller's transaction): 0 when one more image fits; -EDQUOT with Glance's
 * "Maximum number of images (N) exceeded." in err; -EIO with the database error. */
int image_count_check(struct req *r, const char *owner, char *err, size_t errlen);

/* Glance's image_size_total for owner before an image's bytes are made (a snapshot, a
 * volume upload): 0 when one more byte fits beside owner's images; -EDQUOT with
 * Glance's message, or -EIO, in err. Run under image_count_check's lock. */
int image_size_check(struct req *r, const char *owner, char *err, size_t errlen);

#define IMAGE_MAX_PROPS 128 /* Glance image_property_quota */

/* Pure: 1 when key, a query key of GET /image/v2/images, filters by an extra property
 * (the image must have key with exactly the value given), as Glance takes every key
 * that is neither a parameter of the list (limit, marker, sort_key, sort_dir, sort,
 * member_status, tag, size_min, size_max) nor an image attribute; else 0. */
int image_list_prop_filter(const char *key);
#define IMAGE_LIST_PROP_FILTERS 16 /* more is a 400 */

/* 1 when the bytes of img are what an open task (an instance snapshot or a volume
 * upload, its payload naming img) is making, and have not come yet (queued or saving):
 * the one kind of image a compute or storage agent (X-Nubo-Agent-Key) may upload into.
 * A database error is 0. */
int image_agent_may_upload(const struct req *r, const struct image *img);

/* Pure: 0 when used + delta bytes fit a limit of limit_mib MiB (negative: none), as
 * Glance's image_size_total; else -EDQUOT with Glance's message ("Resource
 * image_size_total is over limit of 1 due to current usage 0 and delta 2", MiB). */
int image_quota_fits(long long limit_mib, long long used, long long delta, char *msg,
                     size_t msglen);

/* Pure: the one byte range a Range request header ("bytes=a-b", "bytes=a-",
 * "bytes=-n") asks of a body of size bytes. 1 with [*start, *start + *len) clamped to
 * the body; 0 when the header is absent, not understood or asks several ranges (the
 * whole body is served); -ERANGE when the range starts past the end (a 416). */
int image_range_parse(const char *header, uint64_t size, uint64_t *start, uint64_t *len);

/* Handlers living in image_data.c and image_schema.c. */
void image_upload(struct req *r, struct resp *w);
void image_download(struct req *r, struct resp *w);
void image_schema_image(struct req *r, struct resp *w);
void image_schema_images(struct req *r, struct resp *w);
/* image_member.c: sharing with other projects, and its schemas. */
void image_members_list(struct req *r, struct resp *w);
void image_members_add(struct req *r, struct resp *w);
void image_member_show(struct req *r, struct resp *w);
void image_member_update(struct req *r, struct resp *w);
void image_member_delete(struct req *r, struct resp *w);
void image_schema_member(struct req *r, struct resp *w);
void image_schema_members(struct req *r, struct resp *w);
/* image_metadef.c: the metadata definitions catalog and its schemas. */
void metadef_ns_list(struct req *r, struct resp *w);
void metadef_ns_create(struct req *r, struct resp *w);
void metadef_ns_show(struct req *r, struct resp *w);
void metadef_ns_update(struct req *r, struct resp *w);
void metadef_ns_delete(struct req *r, struct resp *w);
void metadef_item_list(struct req *r, struct resp *w);
void metadef_item_create(struct req *r, struct resp *w);
void metadef_item_clear(struct req *r, struct resp *w);
void metadef_item_show(struct req *r, struct resp *w);
void metadef_item_add(struct req *r, struct resp *w);
void metadef_item_update(struct req *r, struct resp *w);
void metadef_item_delete(struct req *r, struct resp *w);
void metadef_resource_types(struct req *r, struct resp *w);
void metadef_schema(struct req *r, struct resp *w);
/* image_action.c: deactivate and reactivate. */
void image_deactivate(struct req *r, struct resp *w);
void image_reactivate(struct req *r, struct resp *w);

#endif

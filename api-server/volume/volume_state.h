/* Cinder's volume and snapshot state machine and its quota arithmetic, pure: which
 * operation each status allows (creating → available ↔ attaching → in-use ↔
 * detaching, extending, error, deleting / error_deleting), the message Cinder answers
 * otherwise, and whether a request fits a project's limits. Unit-tested
 * (tests/unit/test_volume_state.c). */
#ifndef NUBO_VOLUME_STATE_H
#define NUBO_VOLUME_STATE_H
#include <stddef.h>

enum volume_op {
	VOP_DELETE,   /* volume delete */
	VOP_EXTEND,   /* os-extend */
	VOP_SNAPSHOT, /* a snapshot of it (force: in-use too) */
	VOP_CLONE,    /* a volume from it */
	VOP_ATTACH,
	VOP_DETACH,
	VOP_COUNT
};

/* Pure: 0 when a volume in status (attached: it has an attachment; snapshots: how many
 * it has) allows op; else -EINVAL with Cinder's 400 message in msg. */
int volume_state_allows(const char *status, int attached, int snapshots, int force,
                        enum volume_op op, char *msg, size_t msglen);

/* Pure: 1 when status is one an admin may set with os-reset_status, else 0. */
int volume_state_valid(const char *status);
/* Pure: 1 when a snapshot in status may be deleted (available, error), else 0. */
int snapshot_state_deletable(const char *status);

enum vquota { VQ_VOLUMES, VQ_GIGABYTES, VQ_SNAPSHOTS, VQ_COUNT };

struct vquota_set {
	long v[VQ_COUNT]; /* -1 = unlimited */
};

/* The longest quota resource name: "gigabytes_" and a volume type's 255-byte name. */
#define VQUOTA_NAME_MAX 272

/* Cinder's defaults: volumes 10, gigabytes 1000, snapshots 10. A volume type's own
 * quotas (volumes_<type>...) default to -1, unlimited. */
void vquota_defaults(struct vquota_set *s);
/* Cinder's names: "volumes", "gigabytes", "snapshots". */
const char *vquota_name(enum vquota q);
/* Pure: Cinder's resource name of q for the volume type named type into out: the global
 * "volumes" when type is NULL, else "volumes_<type>" (Cinder's VolumeTypeResource).
 * 0, or -ENAMETOOLONG (out then holds "", never a truncated name). */
int vquota_resource(enum vquota q, const char *type, char *out, size_t outlen);
/* Pure: which quota the resource name is: its enum vquota, with *type pointing into name
 * at the volume type's name ("volumes_lvm": VQ_VOLUMES, "lvm") or NULL for a global one
 * ("volumes"); -1 when name is neither (backups, "volumes_" with no type...). */
int vquota_parse(const char *name, const char **type);

/* One scope of a project's block storage quotas: the global ones or those of one
 * volume type, with what the project uses and what a request would add. */
struct vquota_scope {
	struct vquota_set limit, used, want;
};

/* Pure: 0 when the request fits every resource of all and of typed (NULL: no volume
 * type's quotas; type: that type's name); else -EDQUOT with Cinder's 413 message
 * (quota_utils.process_reserve_over_quota) for the first resource over in Cinder's
 * order, sorted by name (gigabytes, gigabytes_<type>, snapshots, snapshots_<type>,
 * volumes, volumes_<type>):
 * "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed
 * gigabytes_lvm quota. Requested 2G, quota is 1G and 0G has been consumed.",
 * "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded for quota
 * 'volumes_lvm'.", "SnapshotLimitExceeded: Maximum number of snapshots allowed (10)
 * exceeded" (Cinder's names no quota). */
int vquota_check(const struct vquota_scope *all, const struct vquota_scope *typed, const char *type,
                 char *msg, size_t msglen);

#endif

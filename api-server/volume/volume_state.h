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

/* Cinder's defaults: volumes 10, gigabytes 1000, snapshots 10. */
void vquota_defaults(struct vquota_set *s);
/* Cinder's names: "volumes", "gigabytes", "snapshots". */
const char *vquota_name(enum vquota q);
/* Pure: 0 when used + want fits limit for every resource; else -EDQUOT with Cinder's
 * 413 message ("VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded
 * for quota 'volumes'.", "VolumeSizeExceedsAvailableQuota: Requested volume or
 * snapshot exceeds allowed gigabytes quota. Requested 2G, quota is 1G and 0G has been
 * consumed.", "SnapshotLimitExceeded: ..."). */
int vquota_check(const struct vquota_set *limit, const struct vquota_set *used,
                 const struct vquota_set *want, char *msg, size_t msglen);

#endif

/* The state rules of volumes and snapshots, as tables. */
#include "volume/volume_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const all_states[] = {
    "creating",        "available",      "attaching",       "in-use",   "detaching",   "extending",
    "error",           "error_deleting", "error_extending", "deleting", "maintenance", "reserved",
    "error_restoring", "downloading",    "uploading",       "retyping",
};

static int in(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return 1;
	return 0;
}

/* Per operation: the statuses that allow it (NULL-terminated) and Cinder's refusal. */
static const struct {
	const char *const *ok;
	const char *const *ok_forced; /* with force (snapshots of an in-use volume) */
	int allow_attached, allow_snapshots;
	const char *msg;
} rules[VOP_COUNT] = {
    [VOP_DELETE] = {(const char *const[]){"available", "error", "error_restoring",
                                          "error_extending", "error_managing", NULL},
                    NULL, 0, 0,
                    "Invalid volume: Volume status must be available or error or "
                    "error_restoring or error_extending or error_managing and must not be "
                    "migrating, attached, belong to a group, have snapshots, awaiting a "
                    "transfer, or be disassociated from snapshots after volume transfer."},
    [VOP_EXTEND] = {(const char *const[]){"available", NULL}, NULL, 0, 1,
                    "Invalid volume: Volume status must be 'available' to extend, currently "
                    "%s."},
    [VOP_SNAPSHOT] = {(const char *const[]){"available", NULL},
                      (const char *const[]){"available", "in-use", NULL}, 1, 1,
                      "Invalid volume: Volume %s status must be available, but current "
                      "status is: %s."},
    [VOP_CLONE] = {(const char *const[]){"available", "in-use", NULL}, NULL, 1, 1,
                   "Invalid volume: Unable to clone volumes that are in an error state"},
    [VOP_ATTACH] = {(const char *const[]){"available", NULL}, NULL, 0, 1,
                    "Invalid volume: Volume status must be available or downloading to "
                    "reserve, but the current status is %s."},
    [VOP_DETACH] = {(const char *const[]){"in-use", NULL}, NULL, 1, 1,
                    "Invalid volume: Unable to detach volume. Volume status must be 'in-use' "
                    "and attach_status must be 'attached' to detach."},
};

int volume_state_allows(const char *status, int attached, int snapshots, int force,
                        enum volume_op op, char *msg, size_t msglen)
{
	if ((unsigned)op >= VOP_COUNT || !status)
		return -EINVAL;
	const char *const *ok = force && rules[op].ok_forced ? rules[op].ok_forced : rules[op].ok;
	int fits = in(status, ok) && (rules[op].allow_attached || !attached || force);
	if (fits && op == VOP_DELETE && snapshots > 0) {
		snprintf(msg, msglen, "Invalid volume: Volume still has %d dependent snapshots.",
		         snapshots);
		return -EINVAL;
	}
	if (fits)
		return 0;
	if (op == VOP_SNAPSHOT)
		snprintf(msg, msglen, rules[op].msg, "", status);
	else if (op == VOP_EXTEND || op == VOP_ATTACH)
		snprintf(msg, msglen, rules[op].msg, status);
	else
		snprintf(msg, msglen, "%s", rules[op].msg);
	return -EINVAL;
}

int volume_state_valid(const char *status)
{
	for (size_t i = 0; status && i < sizeof(all_states) / sizeof(all_states[0]); i++)
		if (!strcmp(status, all_states[i]))
			return 1;
	return 0;
}

int snapshot_state_deletable(const char *status)
{
	return status && (!strcmp(status, "available") || !strcmp(status, "error") ||
	                  !strcmp(status, "error_deleting"));
}

static const char *const vq_names[VQ_COUNT] = {"volumes", "gigabytes", "snapshots"};

void vquota_defaults(struct vquota_set *s)
{
	s->v[VQ_VOLUMES] = 10;
	s->v[VQ_GIGABYTES] = 1000;
	s->v[VQ_SNAPSHOTS] = 10;
}

const char *vquota_name(enum vquota q)
{
	return (unsigned)q < VQ_COUNT ? vq_names[q] : "?";
}

int vquota_check(const struct vquota_set *limit, const struct vquota_set *used,
                 const struct vquota_set *want, char *msg, size_t msglen)
{
	for (int q = 0; q < VQ_COUNT; q++) {
		if (limit->v[q] < 0 || want->v[q] <= 0 || used->v[q] + want->v[q] <= limit->v[q])
			continue;
		if (q == VQ_GIGABYTES)
			snprintf(
			    msg, msglen,
			    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
			    "allowed gigabytes quota. Requested %ldG, quota is %ldG and %ldG has "
			    "been consumed.",
			    want->v[q], limit->v[q], used->v[q]);
		else
			snprintf(msg, msglen,
			         "%s: Maximum number of %s allowed (%ld) exceeded for quota '%s'.",
			         q == VQ_VOLUMES ? "VolumeLimitExceeded" : "SnapshotLimitExceeded",
			         vq_names[q], limit->v[q], vq_names[q]);
		return -EDQUOT;
	}
	return 0;
}

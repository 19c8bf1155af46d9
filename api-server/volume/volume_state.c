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

int vquota_resource(enum vquota q, const char *type, char *out, size_t outlen)
{
	int n = (unsigned)q >= VQ_COUNT ? -1
	        : type                  ? snprintf(out, outlen, "%s_%s", vq_names[q], type)
	                                : snprintf(out, outlen, "%s", vq_names[q]);
	if (n < 0 || (size_t)n >= outlen) {
		if (outlen)
			out[0] = '\0';
		return -ENAMETOOLONG;
	}
	return 0;
}

int vquota_parse(const char *name, const char **type)
{
	*type = NULL;
	for (int q = 0; name && q < VQ_COUNT; q++) {
		size_t n = strlen(vq_names[q]);
		if (strncmp(name, vq_names[q], n))
			continue;
		if (!name[n])
			return q;
		if (name[n] == '_' && name[n + 1]) {
			*type = name + n + 1;
			return q;
		}
	}
	return -1;
}

/* Cinder's 413 message for resource (q, named name) over its limit. */
static void vquota_over_msg(enum vquota q, const char *name, const struct vquota_scope *s,
                            char *msg, size_t msglen)
{
	if (q == VQ_GIGABYTES)
		snprintf(msg, msglen,
		         "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds "
		         "allowed %s quota. Requested %ldG, quota is %ldG and %ldG has been "
		         "consumed.",
		         name, s->want.v[q], s->limit.v[q], s->used.v[q]);
	else if (q == VQ_VOLUMES)
		snprintf(
		    msg, msglen,
		    "VolumeLimitExceeded: Maximum number of volumes allowed (%ld) exceeded for "
		    "quota '%s'.",
		    s->limit.v[q], name);
	else
		snprintf(
		    msg, msglen,
		    "SnapshotLimitExceeded: Maximum number of snapshots allowed (%ld) exceeded",
		    s->limit.v[q]);
}

int vquota_check(const struct vquota_scope *all, const struct vquota_scope *typed, const char *type,
                 char *msg, size_t msglen)
{
	/* Cinder reports the first of the resources over, sorted by name */
	static const enum vquota order[] = {VQ_GIGABYTES, VQ_SNAPSHOTS, VQ_VOLUMES};
	char name[VQUOTA_NAME_MAX];
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		for (int t = 0; t < 2; t++) {
			enum vquota q = order[i];
			const struct vquota_scope *s = t ? typed : all;
			if (!s || (t && !type))
				continue;
			long lim = s->limit.v[q], used = s->used.v[q], want = s->want.v[q];
			if (lim < 0 || want <= 0 || used + want <= lim)
				continue;
			if (vquota_resource(q, t ? type : NULL, name, sizeof(name)) < 0)
				snprintf(name, sizeof(name), "%s", vq_names[q]);
			vquota_over_msg(q, name, s, msg, msglen);
			return -EDQUOT;
		}
	return 0;
}

/* The storage agent's privileged rows for the LVM backend ([storage] backend = lvm):
 * lvm runs as root, so the worker asks its helper (common/priv.h) to create, grow,
 * rename, remove and list the LVs of the one volume group fixed at start (the worker
 * never names the group: the helper's context holds it). A created LV's device node is
 * made the worker's (0600), so the worker's qemu-img and qemu-storage-daemon open it as
 * they open pool files; QEMU itself still gets only descriptors. */
#ifndef NUBO_STORAGE_LVM_PRIV_H
#define NUBO_STORAGE_LVM_PRIV_H
#include <stddef.h>
#include <stdint.h>

#include "lvm.h"
#include "priv.h"

enum lvm_priv_type {
	LVM_PRIV_VGS = PRIV_TYPE_AGENT, /* -> struct lvm_priv_space */
	LVM_PRIV_CREATE,
	LVM_PRIV_EXTEND,
	LVM_PRIV_REMOVE,
	LVM_PRIV_RENAME,
	LVM_PRIV_LIST,     /* size_gb = names to skip -> "TOTAL\n" and a page of LV names */
	LVM_PRIV_GIVE,     /* the LV's node becomes the worker's again (after a reboot) */
	LVM_PRIV_DM,       /* the kernel's device-mapper answers (`dmsetup version`) */
	LVM_PRIV_ACTIVATE, /* lvchange -ay of our LVs: their nodes after a reboot */
	LVM_PRIV_ADOPT,    /* start: tmp-* removed, vol-/snap-* nodes the worker's */
};

/* The helper reads lvs' names into a buffer of this size (about 5,900 of our names,
 * 44 bytes a line): a longer answer is -EOVERFLOW, never a list cut short. */
#define LVM_NAMES_MAX (256 * 1024)

struct lvm_priv_req {
	char lv[LVM_LV_MAX];
	char lv2[LVM_LV_MAX]; /* RENAME: the new name */
	int32_t size_gb;      /* CREATE, EXTEND */
};

struct lvm_priv_space {
	int64_t size_bytes, free_bytes;
};

extern const struct priv_op lvm_priv_ops[];
extern const size_t lvm_priv_n_ops;

/* Worker side. vg is the group the helper was started with (its priv_conf.data is
 * that string). Each returns 0 or a negative errno with lvm's words in err. */
int lvm_space(struct priv *p, long long *size_bytes, long long *free_bytes, char *err,
              size_t errlen);
int lvm_create(struct priv *p, const char *lv, int size_gb, char *err, size_t errlen);
int lvm_extend(struct priv *p, const char *lv, int size_gb, char *err, size_t errlen);
int lvm_remove(struct priv *p, const char *lv, char *err, size_t errlen);
int lvm_rename(struct priv *p, const char *from, const char *to, char *err, size_t errlen);
/* Makes lv's device node the worker's (0600): lvm re-makes nodes root's when it
 * activates a group (a reboot). */
int lvm_give(struct priv *p, const char *lv, char *err, size_t errlen);
/* 0 when the kernel's device-mapper answers `dmsetup version`; -ENODEV with err
 * "no device-mapper in the kernel (dmsetup version: <its reason>)" when not (no LV can
 * then be made or activated), another negative errno when dmsetup could not run. */
int lvm_dm(struct priv *p, char *err, size_t errlen);
/* Activates the group's vol-/snap- LVs (lvm_argv_activate): without udev nothing else
 * makes their nodes after a reboot. */
int lvm_activate(struct priv *p, char *err, size_t errlen);
/* The start-time pass in the helper, over the whole list (LVM_NAMES_MAX): removes
 * tmp-* halves, gives vol-/snap-* nodes to the worker. out gets "given N removed N
 * failed N\n" and a line "LV: reason" per failure (as many as fit). */
int lvm_adopt(struct priv *p, char *out, size_t outlen, char *err, size_t errlen);
/* One page of the group's LV names, one a line, from index skip on, into out
 * (NUL-terminated; whole lines only); *total gets the count of names in the group. */
int lvm_list(struct priv *p, int skip, char *out, size_t outlen, int *total, char *err,
             size_t errlen);

#endif

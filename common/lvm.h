/* The LVM volume-group backend's pure pieces: names and the argv of every lvm command
 * (never a shell). A volume is the LV vol-<uuid>, a snapshot snap-<uuid>, and one being
 * filled tmp-<uuid> (renamed once whole, as the file pool renames out of tmp/). Every
 * command carries LVM_NO_UDEV: inside a container no udev answers, and lvm would wait
 * for it forever; lvm then makes the /dev nodes itself. Never logs. */
#ifndef NUBO_LVM_H
#define NUBO_LVM_H
#include <stddef.h>

#define LVM_ARGV_MAX 24
#define LVM_VG_MAX 64 /* a volume group name, with its NUL */
#define LVM_LV_MAX 48 /* "snap-" + a uuid, with its NUL */
#define LVM_MAX_GB (1 << 20)
#define LVM_NO_UDEV "activation{udev_sync=0 udev_rules=0}"

enum lvm_kind { LVM_VOLUME, LVM_SNAPSHOT, LVM_TMP };

struct lvm_argv {
	const char *v[LVM_ARGV_MAX];
	char num[24];
	char lv[LVM_VG_MAX + LVM_LV_MAX + 1]; /* "VG/LV" */
	char lv2[LVM_LV_MAX];
};

/* 1 when vg is a name we hand to lvm: 1-63 of [A-Za-z0-9+_.-], not starting with '-',
 * not "." or "..". */
int lvm_vg_ok(const char *vg);
/* Writes the LV name of id (a lowercase uuid) of kind into out (LVM_LV_MAX). 0 or
 * -EINVAL for anything but a uuid. */
int lvm_lv_name(enum lvm_kind kind, const char *id, char out[LVM_LV_MAX]);
/* The block device of LV name lv in vg, /dev/VG/LV, into out of outlen. 0 or -EINVAL
 * (bad names, too long). */
int lvm_dev_path(const char *vg, const char *lv, char *out, size_t outlen);

/* Builders: each fills a (its strings point into a and the arguments) and returns 0,
 * or -EINVAL with a->v empty when a name or a size is refused. */
/* `vgs --noheadings --units b --nosuffix -o vg_size,vg_free VG`: the group exists. */
int lvm_argv_vgs(struct lvm_argv *a, const char *vg);
/* `lvcreate -q -y --wipesignatures y -n LV -L <GB>G VG`: a thick LV of size_gb GiB. */
int lvm_argv_create(struct lvm_argv *a, const char *vg, const char *lv, int size_gb);
/* `lvextend -q -L <GB>G VG/LV`: grows lv to size_gb GiB. */
int lvm_argv_extend(struct lvm_argv *a, const char *vg, const char *lv, int size_gb);
/* `lvremove -q -y VG/LV`. */
int lvm_argv_remove(struct lvm_argv *a, const char *vg, const char *lv);
/* `lvrename -q VG OLD NEW`. */
int lvm_argv_rename(struct lvm_argv *a, const char *vg, const char *from, const char *to);
/* `lvs --noheadings -o lv_name VG`: the LVs of the group, one a line. */
int lvm_argv_list(struct lvm_argv *a, const char *vg);

/* `lvchange -ay --select lv_name=~"^(vol|snap)-" VG`: activates Nubo's LVs of the group
 * (makes their /dev nodes), not the others an admin may keep inactive. Without udev
 * nothing else does so after a reboot or a container restart. */
int lvm_argv_activate(struct lvm_argv *a, const char *vg);
/* Pure check of lvremove's (or lvs') output: 1 when lvm said it has no LV lv in vg
 * (`Failed to find logical volume "VG/LV"`), the only answer that means "missing";
 * a missing group, a lock or anything else is 0. */
int lvm_lv_missing(const char *out, const char *vg, const char *lv);

/* The [storage] backend and volume_group keys, checked the same way by every daemon
 * that reads them (nubo-storage, nubo-compute): 0 with vg_out "" for backend = file
 * (the default), 0 with the group in vg_out (LVM_VG_MAX) for backend = lvm and a
 * valid volume_group, else -EINVAL with err naming the key. */
int lvm_conf_check(const char *backend, const char *vg, char vg_out[LVM_VG_MAX], char *err,
                   size_t errlen);

/* `dmsetup version`: the library's and the kernel driver's versions. Every LV is a
 * device-mapper device: without the kernel's driver (no dm_mod; /dev/mapper/control
 * "No such device") vgs still reads the group, but no LV can be made or activated. */
int lvm_argv_dm(struct lvm_argv *a);
/* Pure check of `dmsetup version` output (stdout and stderr): 0 when it has the
 * kernel's "Driver version:" line; else -ENODEV with why (whylen > 0): the first line
 * that is neither that nor the library's version (dmsetup's reason, e.g.
 * "/dev/mapper/control: open failed: No such device"), or "no driver version". */
int lvm_dm_parse(const char *out, char *why, size_t whylen);

/* Pure parse of vgs' "  SIZE FREE" output (bytes; the first line that is exactly
 * that, so warnings before it are skipped): 0 with both, or -EINVAL. */
int lvm_vgs_parse(const char *out, long long *size_bytes, long long *free_bytes);

#endif

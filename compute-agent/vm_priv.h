/* The compute agent's privileged requests: its rows of the helper's whitelist
 * (common/priv.h), run as root in the helper, and the worker's calls to them. The
 * helper starts QEMU as the unprivileged QEMU user in its own session with every
 * file an inherited descriptor it opened itself inside the state directory (the
 * disk, its base image, the config drive, the console log, a listening QMP socket),
 * signals only a QEMU of the instance named, and reports how a QEMU it started ended.
 * A new root-only operation (taps, cgroups) is one more row in vm_priv.c. */
#ifndef NUBO_VM_PRIV_H
#define NUBO_VM_PRIV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "disk_qos.h"
#include "priv.h"
#include "util.h"
#include "vm_nics.h"

#define VM_PRIV_QEMU_USER "nubo-qemu" /* the one user every QEMU runs as */
#define VM_PRIV_NAME_MAX 256

enum vm_priv_type {
	VM_PRIV_QEMU_START = PRIV_TYPE_AGENT, /* struct vm_priv_start -> int32_t pid */
	VM_PRIV_QEMU_SIGNAL,                  /* struct vm_priv_signal -> nothing */
	VM_PRIV_TAP_OPEN,                     /* struct vm_priv_tap -> the tap's fd */
};

struct vm_priv_start {
	char id[UUID_STR_LEN]; /* instance: <state_dir>/instances/<id>/ */
	/* set: the disk is an overlay on <instance dir>/base (the instance's link of the
	 * cached image); "" = none */
	char image_id[UUID_STR_LEN];
	/* boot from volume: the root disk is <pool_dir>/volumes/<id>.qcow2, or the raw LV
	 * /dev/<volume_group>/vol-<id> of an LVM pool (the storage
	 * pool of this machine) instead of the instance's disk.qcow2, and image_id is "" */
	char volume_id[UUID_STR_LEN];
	char base_format[8];         /* "qcow2" or "raw" */
	char accel[8];               /* "kvm" or "tcg" */
	char name[VM_PRIV_NAME_MAX]; /* display name */
	int32_t vcpus, ram_mb;
	int32_t incoming;         /* 1: wait for saved state (-incoming defer) */
	struct vm_priv_nics nics; /* tenant NICs (taps); none = a user-mode NIC */
	struct disk_qos disk_qos; /* the root disk's I/O limits; all 0 = none */
	/* a boot volume of another machine (volume_id set): its NBD export at nbd_host
	 * (IPv4) and nbd_port, reached as attachment_id with the key the worker wrote in
	 * <instance>/VM_PRIV_PSK_DIR/keys.psk (handed to QEMU as a directory descriptor);
	 * nbd_port 0 = the pool file */
	char nbd_host[MSG_ADDR_MAX];
	int32_t nbd_port;
	char attachment_id[UUID_STR_LEN];
};
#define VM_PRIV_PSK_DIR "psk-root"

struct vm_priv_signal {
	char id[UUID_STR_LEN];
	int32_t pid;
	int32_t sig; /* SIGTERM or SIGKILL */
};

/* A tap for a NIC hot-plugged into instance id (nics.n == 1, checked as at start). */
struct vm_priv_tap {
	char id[UUID_STR_LEN];
	int32_t pid; /* the instance's QEMU: one the helper started or recognises */
	struct vm_priv_nics nics;
};

/* What the helper's rows read: the agent's settings (borrowed). */
struct vm_priv_ctx {
	const char *qemu;      /* QEMU binary */
	const char *qemu_user; /* VM_PRIV_QEMU_USER: its groups (kvm), and its uid when */
	unsigned qemu_uid_base, qemu_uid_count; /* count is 0; else a private uid each */
	const char *pool_dir;     /* this machine's storage pool (storage.state_dir); NULL: none */
	const char *volume_group; /* its LVM group ([storage] backend = lvm); NULL: files */
};

extern const struct priv_op vm_priv_ops[];
extern const size_t vm_priv_n_ops;

/* ---- worker side ---------------------------------------------------------------- */

/* Starts the instance's QEMU. Returns its pid, or a negative errno with err. */
pid_t vm_priv_qemu_start(struct priv *p, const struct vm_priv_start *s, char *err, size_t errlen);
/* Sends sig to pid, which must be a QEMU of instance id (the helper checks). */
int vm_priv_qemu_signal(struct priv *p, const char *id, pid_t pid, int sig, char *err,
                        size_t errlen);
/* Opens the tap of nic for instance id, whose QEMU is pid (vm_nics_open_tap in the
 * helper, which refuses a pid that is not id's QEMU and a tap last handed to another
 * instance that still exists with no QEMU running). Returns the fd (O_CLOEXEC, the
 * caller closes it) or a negative errno with err. */
int vm_priv_tap_open(struct priv *p, const char *id, pid_t pid, const struct vm_priv_nic *nic,
                     char *err, size_t errlen);
/* How QEMU pid of instance id is: 0 running, 1 exited (wait status in *status, told
 * once), -ESRCH when the helper did not start it (an earlier agent's QEMU). */
int vm_priv_qemu_status(struct priv *p, const char *id, pid_t pid, int *status);

/* ---- helper side (exposed for tests) -------------------------------------------- */

/* 1 when pid is a QEMU of instance id under the state directory whose instance
 * directory is inst_dirfd: its working directory is that directory and its argv
 * holds "-uuid" followed by exactly id (the one exact matcher; deploy/lib.sh
 * nubo_qemu_pids applies the same rule). */
int vm_priv_is_qemu_of(pid_t pid, const char *id, int inst_dirfd);

#endif

/* The QEMU command line of an instance, built by one pure function from a typed
 * definition (libvirt-style: golden files in tests/unit/golden/ hold the exact argv
 * expected for each definition). QEMU is always started from this argv array. */
#ifndef NUBO_QEMU_ARGV_H
#define NUBO_QEMU_ARGV_H
#include <stddef.h>

#include "disk_qos.h"

#define QEMU_NICS_MAX 8
#define QEMU_MAC_LEN 18 /* "52:54:00:xx:xx:xx" + NUL */
/* an NBD client (a root disk or a hot-plugged volume) waits this long for its export
 * to come back (a restarted storage agent starts it again on the same port) */
#define QEMU_NBD_RECONNECT_S 30

/* A tenant port: an open tap device (the privileged helper's, inherited as fd), and
 * the guest's MAC. */
struct qemu_nic {
	int fd;
	char mac[QEMU_MAC_LEN];
};

struct qemu_def {
	const char *qemu;  /* binary, argv[0] */
	const char *id;    /* instance UUID: -uuid (the exact QEMU matcher looks for it) */
	const char *name;  /* display name for -name guest=; NULL = id */
	const char *accel; /* "kvm" or "tcg" */
	int vcpus, ram_mb;
	/* QEMU opens no host path: every file is a descriptor it inherits (numbers as
	 * in QEMU's process, >= 3, all different), opened by the privileged helper. */
	int fd_disk; /* qcow2 overlay, the boot disk, read-write; with nbd: the directory
	              * holding the export's key file (keys.psk) */
	/* fd_disk's format: NULL or "qcow2"; "raw" only for a boot volume of this machine
	 * (a raw pool file or an LV of an LVM pool, neither with a backing image), never
	 * with nbd */
	const char *disk_format;
	/* with disk_format "raw": 1 when fd_disk is a regular file (a raw file of a file
	 * pool, QEMU's "file" protocol), 0 for an LV (a block device, "host_device") */
	int disk_regular;
	/* boot from volume: the volume id, the boot disk's serial (the guest sees its first
	 * 20 bytes, as for an attached volume); NULL = an overlay of the instance's own */
	const char *disk_serial;
	int fd_base;                 /* the overlay's backing image, read-only; -1 = none */
	const char *base_format;     /* "qcow2" or "raw" (with fd_base) */
	int fd_config;               /* config drive ISO, read-only; -1 = none */
	int fd_console;              /* serial port output, opened for append */
	int fd_qmp;                  /* listening unix socket of the QMP server */
	const struct qemu_nic *nics; /* n_nics tap NICs; none = one user-mode NIC */
	int n_nics;
	const char *user_mac; /* MAC of the user-mode NIC (used when n_nics == 0) */
	int incoming;         /* 1: start with -incoming defer (restore of saved state) */
	/* the boot disk's I/O limits (NULL or none set: not throttled): a throttle-group
	 * object "disk0-tg" and a throttle filter node "disk0-throttle" above the qcow2
	 * node, which the device then uses */
	const struct disk_qos *disk_qos;
	/* boot from a volume of another machine (disk_serial set, no base): the root disk
	 * is the NBD export disk_serial at nbd_host:nbd_port (an IPv4 address), reached
	 * over TLS-PSK as nbd_user (the attachment id) with the key in fd_disk's
	 * directory; NULL = a file */
	const char *nbd_host;
	int nbd_port;
	const char *nbd_user;
};

/* Builds the argv (NULL-terminated; owned, release with qemu_argv_free). Returns NULL
 * when d is incomplete or out of range (a descriptor < 3 or used twice, vcpus/ram_mb
 * out of range, a disk serial that is not a UUID, unknown accel or base format, malformed MAC, more
 * than QEMU_NICS_MAX NICs, disk limits QEMU would refuse). */
char **qemu_argv_new(const struct qemu_def *d);
void qemu_argv_free(char **argv);
/* The -cpu model instances get under accel ("kvm": host, "tcg": max), or NULL for
 * an unknown accelerator. The accelerator probe boots with the same model. */
const char *qemu_argv_cpu(const char *accel);
/* Locally administered MAC 52:54:00:xx:xx:xx derived from the first bytes of a
 * UUID, so an instance keeps its MAC across restarts. */
void qemu_mac_from_uuid(const char *uuid, char mac[QEMU_MAC_LEN]);
/* 1 when mac is "xx:xx:xx:xx:xx:xx" in hex with a unicast first octet. */
int qemu_mac_valid(const char *mac);

#endif

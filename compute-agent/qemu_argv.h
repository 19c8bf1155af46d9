/* The QEMU command line of an instance, built by one pure function from a typed
 * definition (libvirt-style: golden files in tests/unit/golden/ hold the exact argv
 * expected for each definition). QEMU is always started from this argv array. */
#ifndef NUBO_QEMU_ARGV_H
#define NUBO_QEMU_ARGV_H
#include <stddef.h>

#define QEMU_NICS_MAX 8
#define QEMU_MAC_LEN 18 /* "52:54:00:xx:xx:xx" + NUL */
#define QEMU_IFNAME_LEN 16

/* A tenant port: a tap device the net agent created, and the guest's MAC. */
struct qemu_nic {
	char ifname[QEMU_IFNAME_LEN];
	char mac[QEMU_MAC_LEN];
};

struct qemu_def {
	const char *qemu;  /* binary, argv[0] */
	const char *id;    /* instance UUID: -uuid, and the needle proc_alive() looks for */
	const char *name;  /* display name for -name guest=; NULL = id */
	const char *accel; /* "kvm" or "tcg" */
	int vcpus, ram_mb;
	const char *disk;         /* qcow2 overlay, the boot disk */
	const char *config_drive; /* raw ISO, read-only second disk; NULL = none */
	const char *qmp;          /* unix socket path of the QMP server */
	const char *console;      /* serial port output, appended */
	const char *pidfile;
	const struct qemu_nic *nics; /* n_nics tap NICs; none = one user-mode NIC */
	int n_nics;
	const char *user_mac; /* MAC of the user-mode NIC (used when n_nics == 0) */
	int incoming;         /* 1: start with -incoming defer (restore of saved state) */
};

/* Builds the argv (NULL-terminated; owned, release with qemu_argv_free). Returns NULL
 * when d is incomplete or out of range (missing path, vcpus/ram_mb < 1, unknown accel,
 * malformed MAC or ifname, more than QEMU_NICS_MAX NICs). */
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

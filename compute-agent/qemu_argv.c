/* The pure QEMU argv builder: a definition in, a NULL-terminated argv out. No I/O. */
#include "qemu_argv.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "qemu_img.h"
#include "util.h"
#include "xalloc.h"

struct argv_buf {
	char **v;
	size_t n, cap;
};

static void argv_add(struct argv_buf *a, char *owned)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = owned;
	a->v[a->n] = NULL;
}

/* -add-fd for descriptor fd, in the set of the same number. */
static void argv_add_fdset(struct argv_buf *a, int fd)
{
	argv_add(a, xstrdup("-add-fd"));
	argv_add(a, xasprintf("fd=%d,set=%d", fd, fd));
}

/* Adds each string of a NULL-terminated list. */
static void argv_list(struct argv_buf *a, const char *const *list)
{
	for (; *list; list++)
		argv_add(a, xstrdup(*list));
}

/* QEMU's option syntax splits on ','; a literal comma in a value is written ",,". */
static char *opt_escape(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	char *out = xmalloc(n + 1), *o = out;
	for (const char *p = s; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* With limits in q: the throttle-group object of the boot disk (in JSON, the -object
 * syntax that takes its nested "limits"; QEMU 7.2's key=value form refuses them) and
 * the throttle filter node above "disk0". Returns the node the disk device uses. */
static const char *argv_add_throttle(struct argv_buf *a, const struct disk_qos *q)
{
	if (!q || !disk_qos_any(q))
		return "disk0";
	json_t *o = json_pack("{s:s,s:s,s:o}", "qom-type", "throttle-group", "id", "disk0-tg",
	                      "limits", disk_qos_qemu_limits(q));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	argv_add(a, xstrdup("-object"));
	argv_add(a, xstrdup(text));
	free(text);
	argv_add(a, xstrdup("-blockdev"));
	argv_add(a, xstrdup("driver=throttle,node-name=disk0-throttle,throttle-group=disk0-tg,"
	                    "file=disk0"));
	return "disk0-throttle";
}

int qemu_mac_valid(const char *mac)
{
	if (!mac || strlen(mac) != QEMU_MAC_LEN - 1)
		return 0;
	for (int i = 0; i < QEMU_MAC_LEN - 1; i++) {
		if (i % 3 == 2) {
			if (mac[i] != ':')
				return 0;
		} else if (!isxdigit((unsigned char)mac[i])) {
			return 0;
		}
	}
	/* the low bit of the first octet marks multicast */
	unsigned first = (unsigned)strtoul(mac, NULL, 16);
	return !(first & 1);
}

void qemu_mac_from_uuid(const char *uuid, char mac[QEMU_MAC_LEN])
{
	unsigned b[3] = {0, 0, 0};
	int got = 0;
	/* the first three bytes of hex digits (dashes skipped) */
	for (const char *p = uuid; *p && got < 6; p++) {
		if (!isxdigit((unsigned char)*p))
			continue;
		int v =
		    isdigit((unsigned char)*p) ? *p - '0' : tolower((unsigned char)*p) - 'a' + 10;
		b[got / 2] = (b[got / 2] << 4) | (unsigned)v;
		got++;
	}
	static const char hex[] = "0123456789abcdef";
	memcpy(mac, "52:54:00:", 9);
	for (int i = 0; i < 3; i++) {
		mac[9 + 3 * i] = hex[(b[i] >> 4) & 15];
		mac[10 + 3 * i] = hex[b[i] & 15];
		mac[11 + 3 * i] = i < 2 ? ':' : '\0';
	}
}

/* Per-accelerator choices: the CPU model (host passthrough only under KVM; "max"
 * gives TCG guests every feature it emulates). */
struct accel_row {
	const char *accel;
	const char *cpu;
};

static const struct accel_row accel_rows[] = {
    {"kvm", "host"},
    {"tcg", "max"},
};

/* Base image formats an overlay may sit on. */
static const char *const base_formats[] = {"qcow2", "raw"};

static int base_format_valid(const char *f)
{
	for (size_t i = 0; f && i < sizeof(base_formats) / sizeof(base_formats[0]); i++)
		if (!strcmp(f, base_formats[i]))
			return 1;
	return 0;
}

static const struct accel_row *accel_find(const char *accel)
{
	for (size_t i = 0; accel && i < sizeof(accel_rows) / sizeof(accel_rows[0]); i++)
		if (!strcmp(accel, accel_rows[i].accel))
			return &accel_rows[i];
	return NULL;
}

/* Options every instance gets, independent of the definition. QEMU runs in the
 * foreground as an unprivileged user (the privileged helper forks it in its own
 * session and reaps it), so the seccomp sandbox denies everything it offers to. */
static const char *const fixed_head[] = {
    "-no-user-config",
    "-nodefaults",
    "-display",
    "none",
    "-sandbox",
    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
    "-msg",
    "timestamp=on",
    "-rtc",
    "base=utc",
    "-boot",
    "strict=on",
    NULL,
};

static const char *const fixed_tail[] = {
    "-object",
    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",
    "virtio-rng-pci,rng=rng0",
    /* the bus volumes are hot-plugged on (vm_volume.c): a SCSI disk leaves at once,
     * without waiting for the guest to let a PCI device go */
    "-device",
    "virtio-scsi-pci,id=scsi0",
    NULL,
};

const char *qemu_argv_cpu(const char *accel)
{
	const struct accel_row *r = accel_find(accel);
	return r ? r->cpu : NULL;
}

static int def_valid(const struct qemu_def *d)
{
	if (!d->qemu || !*d->qemu || !uuid_is_valid(d->id) || !accel_find(d->accel))
		return 0;
	if (d->vcpus < 1 || d->vcpus > 1024 || d->ram_mb < 16 || d->ram_mb > (1 << 24))
		return 0;
	if (d->n_nics < 0 || d->n_nics > QEMU_NICS_MAX || (d->n_nics && !d->nics))
		return 0;
	if (d->fd_base >= 0 && !base_format_valid(d->base_format))
		return 0;
	if (d->disk_format && strcmp(d->disk_format, "qcow2") &&
	    (strcmp(d->disk_format, "raw") || !d->disk_serial || d->fd_base >= 0 || d->nbd_host))
		return 0;
	if (d->disk_serial && !uuid_is_valid(d->disk_serial))
		return 0;
	struct in_addr ip;
	if (d->nbd_host && (!d->disk_serial || d->fd_base != -1 || d->nbd_port < 1 ||
	                    d->nbd_port > 65535 || !d->nbd_user || !uuid_is_valid(d->nbd_user) ||
	                    inet_pton(AF_INET, d->nbd_host, &ip) != 1))
		return 0;
	char why[256];
	if (d->disk_qos && disk_qos_check(d->disk_qos, DISK_QOS_CINDER, why, sizeof(why)) < 0)
		return 0;
	/* every descriptor >= 3 (0-2 are stdio) and none used twice; -1 = absent */
	int fds[5 + QEMU_NICS_MAX], n = 0;
	fds[n++] = d->fd_disk;
	fds[n++] = d->fd_console;
	fds[n++] = d->fd_qmp;
	if (d->fd_base != -1)
		fds[n++] = d->fd_base;
	if (d->fd_config != -1)
		fds[n++] = d->fd_config;
	for (int i = 0; i < d->n_nics; i++) {
		if (!qemu_mac_valid(d->nics[i].mac))
			return 0;
		fds[n++] = d->nics[i].fd;
	}
	for (int i = 0; i < n; i++) {
		if (fds[i] < 3 || fds[i] > 1023)
			return 0;
		for (int j = 0; j < i; j++)
			if (fds[i] == fds[j])
				return 0;
	}
	if (!d->n_nics && d->user_mac && !qemu_mac_valid(d->user_mac))
		return 0;
	return 1;
}

char **qemu_argv_new(const struct qemu_def *d)
{
	if (!def_valid(d))
		return NULL;
	const struct accel_row *acc = accel_find(d->accel);
	struct argv_buf a = {0};
	char *name = opt_escape(d->name && *d->name ? d->name : d->id);

	argv_add(&a, xstrdup(d->qemu));
	argv_add(&a, xstrdup("-name"));
	argv_add(&a, xasprintf("guest=%s,debug-threads=on", name));
	argv_add(&a, xstrdup("-uuid"));
	argv_add(&a, xstrdup(d->id));
	/* What cloud-init's OpenStack datasource looks for before it asks 169.254.169.254
	 * (ds-identify and DataSourceOpenStack read the DMI product name; Nova's libvirt
	 * driver writes "OpenStack Nova", "OpenStack Compute" is the other name accepted):
	 * without it a cloud image's cloud-init finds no datasource and disables itself. */
	argv_add(&a, xstrdup("-smbios"));
	argv_add(&a, xasprintf("type=1,manufacturer=Nubo,product=OpenStack Compute,serial=%s,"
	                       "uuid=%s,family=Virtual Machine",
	                       d->id, d->id));
	argv_add(&a, xstrdup("-machine"));
	argv_add(&a, xstrdup("pc"));
	argv_add(&a, xstrdup("-accel"));
	argv_add(&a, xstrdup(acc->accel));
	argv_add(&a, xstrdup("-cpu"));
	argv_add(&a, xstrdup(acc->cpu));
	argv_add(&a, xstrdup("-smp"));
	argv_add(&a, xasprintf("%d", d->vcpus));
	argv_add(&a, xstrdup("-m"));
	argv_add(&a, xasprintf("%d", d->ram_mb));
	argv_list(&a, fixed_head);

	/* descriptor sets: file n is /dev/fdset/n, QEMU dups it with the access mode
	 * it wants (which must be the one the helper opened it with) */
	if (!d->nbd_host)
		argv_add_fdset(&a, d->fd_disk);
	if (d->fd_base != -1)
		argv_add_fdset(&a, d->fd_base);
	if (d->fd_config != -1)
		argv_add_fdset(&a, d->fd_config);
	argv_add_fdset(&a, d->fd_console);

	argv_add(&a, xstrdup("-chardev"));
	argv_add(&a, xasprintf("socket,id=qmp,fd=%d,server=on,wait=off", d->fd_qmp));
	argv_add(&a, xstrdup("-mon"));
	argv_add(&a, xstrdup("chardev=qmp,mode=control"));
	/* append=on: a restart of QEMU continues the log instead of truncating it */
	argv_add(&a, xstrdup("-chardev"));
	argv_add(&a, xasprintf("file,id=serial0,path=/dev/fdset/%d,append=on", d->fd_console));
	argv_add(&a, xstrdup("-device"));
	argv_add(&a, xstrdup("isa-serial,chardev=serial0"));

	/* The overlay's backing image is a node of its own, named by the overlay's
	 * blockdev: QEMU never opens the path written in the overlay's header. */
	if (d->fd_base != -1) {
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a, xasprintf("driver=file,filename=/dev/fdset/%d,node-name=base0-file,"
		                       "read-only=on",
		                       d->fd_base));
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a, xasprintf("driver=%s,file=base0-file,node-name=base0,read-only=on",
		                       d->base_format));
	}
	if (d->nbd_host) { /* QEMU reads the key when the object is made, then not again */
		argv_add(&a, xstrdup("-object"));
		argv_add(&a, xasprintf("tls-creds-psk,id=disk0-tls,endpoint=client,"
		                       "dir=/proc/self/fd/%d,username=%s",
		                       d->fd_disk, d->nbd_user));
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a,
		         xasprintf("driver=nbd,node-name=disk0,server.type=inet,"
		                   "server.host=%s,server.port=%d,export=%s,"
		                   "tls-creds=disk0-tls,reconnect-delay=%d",
		                   d->nbd_host, d->nbd_port, d->disk_serial, QEMU_NBD_RECONNECT_S));
	} else {
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a, xasprintf("driver=%s,filename=/dev/fdset/%d,node-name=disk0-file,"
		                       "discard=unmap",
		                       d->disk_regular ? "file"
		                                       : qemu_img_volume_protocol(d->disk_format),
		                       d->fd_disk));
		argv_add(&a, xstrdup("-blockdev"));
		if (d->disk_format && !strcmp(d->disk_format, "raw"))
			argv_add(
			    &a,
			    xstrdup("driver=raw,file=disk0-file,node-name=disk0,discard=unmap"));
		else
			argv_add(&a, xasprintf("driver=qcow2,file=disk0-file,node-name=disk0,"
			                       "discard=unmap,%s",
			                       d->fd_base != -1 ? "backing=base0" : "backing="));
	}
	const char *root = argv_add_throttle(&a, d->disk_qos);
	argv_add(&a, xstrdup("-device"));
	if (d->disk_serial)
		argv_add(&a, xasprintf("virtio-blk-pci,drive=%s,bootindex=1,serial=%s", root,
		                       d->disk_serial));
	else
		argv_add(&a, xasprintf("virtio-blk-pci,drive=%s,bootindex=1", root));
	if (d->fd_config != -1) {
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a, xasprintf("driver=file,filename=/dev/fdset/%d,node-name=config0-file,"
		                       "read-only=on",
		                       d->fd_config));
		argv_add(&a, xstrdup("-blockdev"));
		argv_add(&a,
		         xstrdup("driver=raw,file=config0-file,node-name=config0,read-only=on"));
		argv_add(&a, xstrdup("-device"));
		argv_add(&a, xstrdup("virtio-blk-pci,drive=config0"));
	}

	if (d->n_nics == 0) {
		char mac[QEMU_MAC_LEN];
		if (d->user_mac)
			strcpy(mac, d->user_mac);
		else
			qemu_mac_from_uuid(d->id, mac);
		/* until tenant networks exist: slirp, guest-initiated traffic to the outside
		 * refused (restrict=on), DHCP from QEMU itself */
		argv_add(&a, xstrdup("-netdev"));
		argv_add(&a, xstrdup("user,id=net0,restrict=on"));
		argv_add(&a, xstrdup("-device"));
		argv_add(&a, xasprintf("virtio-net-pci,netdev=net0,mac=%s,romfile=", mac));
	}
	for (int i = 0; i < d->n_nics; i++) {
		argv_add(&a, xstrdup("-netdev"));
		argv_add(&a, xasprintf("tap,id=net%d,fd=%d", i, d->nics[i].fd));
		argv_add(&a, xstrdup("-device"));
		argv_add(&a, xasprintf("virtio-net-pci,netdev=net%d,mac=%s,romfile=", i,
		                       d->nics[i].mac));
	}
	argv_list(&a, fixed_tail);
	if (d->incoming) {
		argv_add(&a, xstrdup("-incoming"));
		argv_add(&a, xstrdup("defer"));
	}
	free(name);
	return a.v;
}

void qemu_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

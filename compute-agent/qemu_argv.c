/* The pure QEMU argv builder: a definition in, a NULL-terminated argv out. No I/O. */
#include "qemu_argv.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int ifname_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= QEMU_IFNAME_LEN)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
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
 * gives TCG guests every feature it emulates) and whether taps get vhost-net. */
struct accel_row {
	const char *accel;
	const char *cpu;
	const char *tap_extra;
};

static const struct accel_row accel_rows[] = {
    {"kvm", "host", ",vhost=on"},
    {"tcg", "max", ""},
};

static const struct accel_row *accel_find(const char *accel)
{
	for (size_t i = 0; accel && i < sizeof(accel_rows) / sizeof(accel_rows[0]); i++)
		if (!strcmp(accel, accel_rows[i].accel))
			return &accel_rows[i];
	return NULL;
}

/* Options every instance gets, independent of the definition. The seccomp sandbox
 * cannot deny spawn or elevateprivileges: -daemonize forks and calls setsid(). */
static const char *const fixed_head[] = {
    "-no-user-config",
    "-nodefaults",
    "-display",
    "none",
    "-sandbox",
    "on,obsolete=deny,resourcecontrol=deny",
    "-msg",
    "timestamp=on",
    "-rtc",
    "base=utc",
    "-boot",
    "strict=on",
    NULL,
};

static const char *const fixed_tail[] = {
    "-object",    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",    "virtio-rng-pci,rng=rng0",
    "-daemonize", NULL,
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
	if (!d->disk || !d->qmp || !d->console || !d->pidfile)
		return 0;
	if (d->n_nics < 0 || d->n_nics > QEMU_NICS_MAX || (d->n_nics && !d->nics))
		return 0;
	for (int i = 0; i < d->n_nics; i++)
		if (!ifname_valid(d->nics[i].ifname) || !qemu_mac_valid(d->nics[i].mac))
			return 0;
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
	char *disk = opt_escape(d->disk), *qmp = opt_escape(d->qmp);
	char *console = opt_escape(d->console);
	char *cd = d->config_drive ? opt_escape(d->config_drive) : NULL;

	argv_add(&a, xstrdup(d->qemu));
	argv_add(&a, xstrdup("-name"));
	argv_add(&a, xasprintf("guest=%s,debug-threads=on", name));
	argv_add(&a, xstrdup("-uuid"));
	argv_add(&a, xstrdup(d->id));
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

	argv_add(&a, xstrdup("-chardev"));
	argv_add(&a, xasprintf("socket,id=qmp,path=%s,server=on,wait=off", qmp));
	argv_add(&a, xstrdup("-mon"));
	argv_add(&a, xstrdup("chardev=qmp,mode=control"));
	/* append=on: a restart of QEMU continues the log instead of truncating it */
	argv_add(&a, xstrdup("-chardev"));
	argv_add(&a, xasprintf("file,id=serial0,path=%s,append=on", console));
	argv_add(&a, xstrdup("-device"));
	argv_add(&a, xstrdup("isa-serial,chardev=serial0"));
	argv_add(&a, xstrdup("-pidfile"));
	argv_add(&a, xstrdup(d->pidfile));

	argv_add(&a, xstrdup("-drive"));
	argv_add(&a, xasprintf("file=%s,format=qcow2,if=none,id=disk0,discard=unmap", disk));
	argv_add(&a, xstrdup("-device"));
	argv_add(&a, xstrdup("virtio-blk-pci,drive=disk0,bootindex=1"));
	if (cd) {
		argv_add(&a, xstrdup("-drive"));
		argv_add(&a, xasprintf("file=%s,format=raw,if=none,id=config0,readonly=on", cd));
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
		argv_add(&a, xasprintf("tap,id=net%d,ifname=%s,script=no,downscript=no%s", i,
		                       d->nics[i].ifname, acc->tap_extra));
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
	free(disk);
	free(qmp);
	free(console);
	free(cd);
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

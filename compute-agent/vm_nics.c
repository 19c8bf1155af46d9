/* Tenant NICs (see vm_nics.h). */
#include "vm_nics.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "qemu_argv.h"

int vm_nics_from_spawn(const struct msg_spawn *s, struct vm_priv_nics *out)
{
	memset(out, 0, sizeof(*out));
	if (s->n_nics < 0 || s->n_nics > VM_NICS_MAX)
		return -E2BIG;
	for (int i = 0; i < s->n_nics; i++) {
		snprintf(out->nic[i].tap, sizeof(out->nic[i].tap), "%s", s->nics[i].tap);
		snprintf(out->nic[i].mac, sizeof(out->nic[i].mac), "%s", s->nics[i].mac);
	}
	out->n = s->n_nics;
	return 0;
}

static int tap_name_ok(const char *t)
{
	size_t n = strnlen(t, VM_TAP_LEN);
	if (n >= VM_TAP_LEN || n < 4 || strncmp(t, "tap", 3))
		return 0;
	for (size_t i = 3; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f') || t[i] == '-'))
			return 0;
	return 1;
}

int vm_nics_check(const struct vm_priv_nics *n, char *err, size_t errlen)
{
	if (n->n < 0 || n->n > VM_NICS_MAX) {
		snprintf(err, errlen, "bad NIC count");
		return -EINVAL;
	}
	for (int i = 0; i < n->n; i++) {
		const struct vm_priv_nic *c = &n->nic[i];
		if (!tap_name_ok(c->tap) || strnlen(c->mac, sizeof(c->mac)) >= sizeof(c->mac) ||
		    !qemu_mac_valid(c->mac)) {
			snprintf(err, errlen, "NIC %d: bad tap name or MAC", i);
			return -EINVAL;
		}
		for (int j = 0; j < i; j++)
			if (!strcmp(n->nic[j].tap, c->tap)) {
				snprintf(err, errlen, "NIC %d: tap listed twice", i);
				return -EINVAL;
			}
	}
	return 0;
}

int vm_nics_open_tap(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "/dev/net/tun: %s", strerror(errno));
		return -errno;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	int rc, tries = 0;
	/* EBUSY: someone holds the tap for a moment (nubo-net's `ip tuntap add` between
	 * its TUNSETIFF and its close); it lets go within milliseconds */
	while ((rc = ioctl(fd, TUNSETIFF, &ifr)) < 0 && errno == EBUSY &&
	       tries++ < VM_TAP_BUSY_TRIES) {
		struct timespec ts = {0, VM_TAP_BUSY_WAIT_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (rc < 0) {
		int e = errno;
		snprintf(err, errlen, "tap %s: %s", name, strerror(e));
		close(fd);
		return -e;
	}
	return fd;
}

const char *vm_tap_owners_of(const struct vm_tap_owners *o, const char *tap)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->e[i].tap, tap))
			return o->e[i].id;
	return NULL;
}

void vm_tap_owners_drop(struct vm_tap_owners *o, const char *id)
{
	for (int i = 0; i < o->n;)
		if (!strcmp(o->e[i].id, id))
			o->e[i] = o->e[--o->n];
		else
			i++;
}

/* Forgets the entries other than tap's whose tap is gone: only id's, or every one
 * (id NULL). */
static void tap_owners_prune(struct vm_tap_owners *o, const char *id, const char *tap,
                             vm_tap_alive_fn alive, void *arg)
{
	for (int i = 0; i < o->n;)
		if (strcmp(o->e[i].tap, tap) && (!id || !strcmp(o->e[i].id, id)) &&
		    !alive(o->e[i].tap, arg))
			o->e[i] = o->e[--o->n];
		else
			i++;
}

int vm_tap_owners_give(struct vm_tap_owners *o, const char *id, const char *tap,
                       vm_tap_alive_fn alive, void *arg)
{
	tap_owners_prune(o, id, tap, alive, arg);
	if (o->n >= VM_TAP_OWNERS_MAX && !vm_tap_owners_of(o, tap))
		tap_owners_prune(o, NULL, tap, alive, arg);
	int mine = 0, at = -1;
	for (int i = 0; i < o->n; i++) {
		if (!strcmp(o->e[i].tap, tap))
			at = i;
		else if (!strcmp(o->e[i].id, id))
			mine++;
	}
	if (mine >= VM_NICS_MAX || (at < 0 && o->n >= VM_TAP_OWNERS_MAX))
		return -ENOSPC;
	if (at < 0)
		at = o->n++;
	snprintf(o->e[at].tap, sizeof(o->e[at].tap), "%s", tap);
	snprintf(o->e[at].id, sizeof(o->e[at].id), "%s", id);
	return 0;
}

/* Tenant NICs of an instance: the spawn task's "nics" (Network API ports, each with
 * the tap nubo-net plugs into its network's bridge) carried in the privileged start
 * request, checked again by the helper, and the taps opened there through
 * /dev/net/tun (TUNSETIFF) so QEMU gets each as an inherited fd (-netdev tap,fd=N)
 * and never needs CAP_NET_ADMIN. No nics: the instance keeps its user-mode NIC. */
#ifndef NUBO_VM_NICS_H
#define NUBO_VM_NICS_H
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "util.h"

#define VM_NICS_MAX 8
#define VM_TAP_LEN 16
#define VM_TAP_BUSY_TRIES 10 /* 200 ms: the helper serves nothing else meanwhile */
#define VM_TAP_BUSY_WAIT_MS 20

struct vm_priv_nic {
	char tap[VM_TAP_LEN]; /* "tap" + port id[0:11] */
	char mac[18];
};

struct vm_priv_nics {
	int32_t n;
	struct vm_priv_nic nic[VM_NICS_MAX];
};

/* Copies the spawn's nics into out (at most VM_NICS_MAX; more is -E2BIG). */
int vm_nics_from_spawn(const struct msg_spawn *s, struct vm_priv_nics *out);
/* Helper side: 0 when every tap name is "tap" + [0-9a-f-] within IFNAMSIZ, every MAC
 * a unicast MAC and the count in range; else -EINVAL with err. */
int vm_nics_check(const struct vm_priv_nics *n, char *err, size_t errlen);
/* Helper side: opens tap name (creating a non-persistent one when nubo-net has not
 * made it yet). A tap another process holds (EBUSY) is tried again every
 * VM_TAP_BUSY_WAIT_MS, VM_TAP_BUSY_TRIES times. Returns the fd (O_CLOEXEC) or a
 * negative errno with err. */
int vm_nics_open_tap(const char *name, char *err, size_t errlen);

/* Helper side: which instance each tap was last handed to (a QEMU start's NICs, a
 * hot-plug's tap), so a hot-plug tap goes only to the instance it is not someone
 * else's. Bounded: VM_TAP_OWNERS_MAX taps, VM_NICS_MAX of them an instance. */
#define VM_TAP_OWNERS_MAX 1024
struct vm_tap_owners {
	int n;
	struct {
		char tap[VM_TAP_LEN];
		char id[UUID_STR_LEN];
	} e[VM_TAP_OWNERS_MAX];
};
/* The instance tap was last handed to, or NULL. */
const char *vm_tap_owners_of(const struct vm_tap_owners *o, const char *tap);
/* Forgets every tap of instance id. */
void vm_tap_owners_drop(struct vm_tap_owners *o, const char *id);
/* 1 when tap still exists on this host, 0 when it is gone (arg: the caller's). */
typedef int (*vm_tap_alive_fn)(const char *tap, void *arg);
/* tap := id's (taken from any earlier owner). id's other entries whose tap is gone
 * (alive answers 0: detached and deleted by nubo-net) are forgotten first, so only
 * the taps id may still hold count toward its VM_NICS_MAX; a full table is first
 * emptied of every entry whose tap is gone. -ENOSPC when id has VM_NICS_MAX live taps
 * already or the table is still full (the caller drops the dead and tries again). */
int vm_tap_owners_give(struct vm_tap_owners *o, const char *id, const char *tap,
                       vm_tap_alive_fn alive, void *arg);

#endif

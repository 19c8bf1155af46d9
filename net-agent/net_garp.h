/* Gratuitous ARP: what a router namespace announces after it adds an address (its
 * gateway address, a floating IP, an interface address), so that a neighbour whose
 * ARP cache still maps that address to an old MAC (the router that had it before,
 * a gateway port recreated with a new MAC) learns the new one at once instead of
 * sending to the old MAC until its entry expires. Linux updates an existing entry
 * from a gratuitous ARP (sender = target address) even while it is not stale yet.
 * The frame is built here (pure) and sent by the privileged helper over an
 * AF_PACKET socket inside the namespace: no arping, no shell.
 *
 * One frame can be lost (a neighbour's queue full, a bridge port still learning), so
 * like a real router (Neutron's send_arp_for_ha = 3) each address is announced
 * NET_GARP_COUNT times, NET_GARP_INTERVAL_MS apart: the first at once, the repeats
 * from a small schedule (struct net_garp_sched, pure) that the agent's loop drains,
 * so no task thread ever sleeps for them. */
#ifndef NUBO_NET_GARP_H
#define NUBO_NET_GARP_H
#include <ifaddrs.h>
#include <stddef.h>
#include <stdint.h>

#define NET_GARP_FRAME_LEN 60 /* the Ethernet minimum without FCS (ARP is 42, padded) */

enum net_garp_op { NET_GARP_REQUEST = 1, NET_GARP_REPLY = 2 }; /* ARP opcodes */

/* Writes the broadcast gratuitous ARP frame of ip (host order) from mac into buf:
 * Ethernet to ff:ff:ff:ff:ff:ff from mac, type ARP; sender = target = ip; the target
 * hardware address is zero for a request (arping -U) and mac for a reply (arping
 * -A); zero padded to NET_GARP_FRAME_LEN. Returns that length, or 0 when len is
 * too small, op is not one of the two, ip is 0 or mac is not unicast. */
size_t net_garp_frame(uint8_t *buf, size_t len, const uint8_t mac[6], uint32_t ip, int op);

/* 1 when list (getifaddrs) holds ip (host order) as an IPv4 address of dev, else 0:
 * the helper announces only what the namespace owns. */
int net_garp_owned(const struct ifaddrs *list, const char *dev, uint32_t ip);

/* Helper side (root): enters namespace ns (/run/netns/ns), reads dev's MAC and sends
 * one request and one reply frame of ip out of dev, then returns to the helper's
 * namespace. ip must be an address of dev there (net_garp_owned; else -EADDRNOTAVAIL:
 * nobody can make the helper claim an address the router does not hold). 0 or a
 * negative errno with err. The caller checked the names. */
int net_garp_send(const char *ns, const char *dev, uint32_t ip, char *err, size_t errlen);

/* ---- repeats (pure) ---------------------------------------------------------------- */

#define NET_GARP_COUNT 3          /* announcements of an address, the first included */
#define NET_GARP_INTERVAL_MS 1000 /* between two of them */
#define NET_GARP_PENDING_MAX 256  /* addresses with repeats still to send */
#define NET_GARP_NS_MAX 64        /* = NET_NS_MAX */
#define NET_GARP_DEV_MAX 16       /* = IFNAMSIZ */

struct net_garp_due {
	char ns[NET_GARP_NS_MAX];
	char dev[NET_GARP_DEV_MAX];
	uint32_t addr; /* host order */
	int64_t at_ms; /* when the next one is due (monotonic) */
	int left;      /* repeats still to send, this one included */
};

struct net_garp_sched {
	int n;
	struct net_garp_due e[NET_GARP_PENDING_MAX];
};

/* Notes that addr on dev in ns was announced at now_ms: NET_GARP_COUNT - 1 repeats
 * follow, NET_GARP_INTERVAL_MS apart. An address already pending starts its count
 * again. When the schedule is full the entry due first is dropped for it. 0, or
 * -EINVAL for a name too long (nothing noted). */
int net_garp_sched_add(struct net_garp_sched *s, const char *ns, const char *dev, uint32_t addr,
                       int64_t now_ms);

/* Moves the repeats due at now_ms (at most max) into out: each one's next is
 * scheduled NET_GARP_INTERVAL_MS after now_ms, or it leaves the schedule with its
 * last. Returns how many were taken (0..max). */
int net_garp_sched_take(struct net_garp_sched *s, int64_t now_ms, struct net_garp_due *out,
                        int max);

/* The earliest time a repeat is due, or -1 when none is pending. */
int64_t net_garp_sched_next(const struct net_garp_sched *s);

#endif

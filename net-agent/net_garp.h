/* Gratuitous ARP: what a router namespace announces after it adds an address (its
 * gateway address, a floating IP, an interface address), so that a neighbour whose
 * ARP cache still maps that address to an old MAC (the router that had it before,
 * a gateway port recreated with a new MAC) learns the new one at once instead of
 * sending to the old MAC until its entry expires. Linux updates an existing entry
 * from a gratuitous ARP (sender = target address) even while it is not stale yet.
 * The frame is built here (pure) and sent by the privileged helper over an
 * AF_PACKET socket inside the namespace: no arping, no shell. */
#ifndef NUBO_NET_GARP_H
#define NUBO_NET_GARP_H
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

/* Helper side (root): enters namespace ns (/run/netns/ns), reads dev's MAC and sends
 * one request and one reply frame of ip out of dev, then returns to the helper's
 * namespace. 0 or a negative errno with err. The caller checked the names. */
int net_garp_send(const char *ns, const char *dev, uint32_t ip, char *err, size_t errlen);

#endif

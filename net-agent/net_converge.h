/* Converge: make the kernel hold what the desired state says, and nothing else of
 * Nubo's. Reads what is there (links carrying Nubo's mark, the VM taps the plan
 * names, namespaces with Nubo's prefix, dnsmasq processes serving Nubo's
 * interfaces, VXLAN flood entries), diffs it against the plan (net_gen.h), removes
 * what should not be there and adds what is missing, through the privileged helper.
 * Idempotent: a second run with the same state changes nothing; a run after a
 * restart reapplies only the nft tables (atomically, one transaction each).
 * What was applied inside namespaces is remembered under <state_dir>/applied/ so
 * a restarted agent removes addresses it no longer wants. Worker side; logs. */
#ifndef NUBO_NET_CONVERGE_H
#define NUBO_NET_CONVERGE_H
#include <stddef.h>
#include <stdint.h>

#include "net_model.h"
#include "priv.h"

struct net_conv;

/* A converger for host h (copied) acting through p (borrowed). */
struct net_conv *net_conv_new(const struct net_host *h, struct priv *p);
void net_conv_free(struct net_conv *c);
/* The host settings (the document may have changed the external bridge, tunnel IP,
 * metadata endpoint). */
struct net_host *net_conv_host(struct net_conv *c);

struct net_meta;
/* The metadata proxy converge keeps serving every DHCP namespace (borrowed; may stay
 * unset: no proxy). */
void net_conv_set_meta(struct net_conv *c, struct net_meta *m);

/* What one converge did. */
struct net_conv_stats {
	int links_added, links_removed, links_set, ns_added, ns_removed, nft_applied;
	int dnsmasq_started, dnsmasq_stopped, dnsmasq_reloaded;
	double ms;
};

/* Converges to m (checked). 0, or a negative errno with the first failure in err
 * (converge goes on past a failure and reports the first one). */
int net_converge(struct net_conv *c, const struct net_model *m, struct net_conv_stats *st,
                 char *err, size_t errlen);

/* Sends the gratuitous ARP repeats due at now_ms (net_garp.h: each address a converge
 * announced goes out NET_GARP_COUNT times, NET_GARP_INTERVAL_MS apart) of addresses
 * the plan still holds; a failure is logged. Called from the agent's loop, never
 * while a converge runs (same lock). Returns how many were sent. */
int net_conv_garp_repeat(struct net_conv *c, int64_t now_ms);

#endif

/* Pure generators from the desired state (net_model.h) to what the host runs: the
 * dnsmasq configuration and hosts file of a network, the host's nft ruleset
 * (anti-spoofing in a bridge table, stateful security groups in an inet table; both
 * replaced whole in one `nft -f` transaction), a router namespace's NAT table, and
 * the link plan (bridges, VXLAN or 802.1Q devices, taps, veths, namespaces, addresses,
 * routes, FDB entries). No I/O: golden files in tests/unit/golden/ hold the exact
 * output for each model. Every function expects a model net_model_check() passed. */
#ifndef NUBO_NET_GEN_H
#define NUBO_NET_GEN_H
#include <stddef.h>

#include "net_model.h"

#define NET_NS_MAX 64 /* a namespace name: "<prefix>-r-<uuid>" + NUL */
#define NET_PLAN_LINKS_MAX 2048
#define NET_PLAN_NS_MAX (NET_ROUTERS_MAX + NET_NETWORKS_MAX)
#define NET_PLAN_ADDRS_MAX 2048
#define NET_PLAN_ROUTES_MAX 256
#define NET_PLAN_FDB_MAX (NET_NETWORKS_MAX * NET_PEERS_MAX)
#define NET_METADATA_IP 0xa9fea9feu /* 169.254.169.254 */

/* dnsmasq of network index ni: its configuration (files under
 * <state_dir>/dhcp/<network id>/) and its hosts file (MAC,IP,hostname per fixed
 * IP of every port on the network). Owned strings; NULL when the network has no
 * subnet with DHCP. */
char *net_gen_dnsmasq_conf(const struct net_host *h, const struct net_model *m, int ni);
char *net_gen_dnsmasq_hosts(const struct net_host *h, const struct net_model *m, int ni);
/* dnsmasq's lease file text without the leases that conflict with hosts (a hosts
 * file of net_gen_dnsmasq_hosts): a lease of a host's IP to another MAC, or of a
 * host's MAC to another IP. dnsmasq will not hand a configured address that is
 * leased to another client ("not using configured address ... because it is leased
 * to ..."), so a port that gets the address of a deleted port would get none until
 * the old lease expired. Owned; NULL when no lease conflicts (nothing to do). */
char *net_gen_dnsmasq_leases(const char *leases, const char *hosts);
/* The ruleset of the host's root namespace (owned): tables bridge <prefix>_as and
 * inet <prefix>_sg, each declared, deleted and redeclared so one nft -f swaps it. */
char *net_gen_nft_host(const struct net_host *h, const struct net_model *m);
/* The NAT table ip <prefix>_nat of router index ri's namespace (owned). */
char *net_gen_nft_router(const struct net_host *h, const struct net_model *m, int ri);

enum net_link_kind { NET_LINK_BRIDGE, NET_LINK_VXLAN, NET_LINK_VLAN, NET_LINK_TAP, NET_LINK_VETH };

/* A link in the root namespace (a veth's peer goes into peer_ns). */
struct net_link {
	enum net_link_kind kind;
	char name[NET_IFNAME_MAX];
	char master[NET_IFNAME_MAX]; /* "" = none */
	int mtu;
	int id;                      /* VXLAN VNI or VLAN id */
	char parent[NET_IFNAME_MAX]; /* VLAN: the trunk */
	uint32_t local;              /* VXLAN: source address */
	int port;                    /* VXLAN: UDP port */
	char peer[NET_IFNAME_MAX];   /* veth: the other end */
	char peer_ns[NET_NS_MAX];    /* veth: where the other end lives */
	char peer_mac[NET_MAC_LEN];  /* veth: the other end's MAC ("" = the kernel's) */
};

enum net_ns_kind { NET_NS_DHCP, NET_NS_ROUTER };

struct net_nspec {
	enum net_ns_kind kind;
	char name[NET_NS_MAX];
	int index; /* network (DHCP) or router index */
};

struct net_addr {
	char ns[NET_NS_MAX];
	char dev[NET_IFNAME_MAX];
	struct net_cidr a;
};

struct net_route {
	char ns[NET_NS_MAX];
	struct net_cidr dst;
	uint32_t via;
};

struct net_fdb {
	char dev[NET_IFNAME_MAX];
	uint32_t dst;
};

struct net_plan {
	int n_links, n_ns, n_addrs, n_routes, n_fdb;
	struct net_link links[NET_PLAN_LINKS_MAX]; /* in creation order */
	struct net_nspec ns[NET_PLAN_NS_MAX];
	struct net_addr addrs[NET_PLAN_ADDRS_MAX];
	struct net_route routes[NET_PLAN_ROUTES_MAX];
	struct net_fdb fdb[NET_PLAN_FDB_MAX];
};

/* Fills *p (caller-allocated; large) with what m needs on host h. 0, or -E2BIG when a
 * plan bound is exceeded. */
int net_gen_plan(const struct net_host *h, const struct net_model *m, struct net_plan *p);
/* The plan as text, one object a line (golden files, logs). Owned. */
char *net_plan_text(const struct net_plan *p);
/* 1 when the kernel can do VLAN mode: /proc/net/vlan exists or 8021q is a module of
 * the running kernel (modules_dir: /lib/modules/<release>; procfs: "/proc"). */
int net_vlan_supported(const char *procfs, const char *modules_dir);

#endif

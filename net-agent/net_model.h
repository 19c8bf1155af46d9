/* The desired state of one host's tenant networking, as typed C structs: what the
 * generators (net_gen.h) turn into a dnsmasq configuration, an nft ruleset and a
 * link plan, and what converge (net_converge.h) makes the kernel hold. Only
 * net_state.c knows the JSON wire form; everything else sees these structs, whose
 * every count is bounded and every name, address and number is validated once by
 * net_model_check(). IPv4 only. Addresses are in host byte order. */
#ifndef NUBO_NET_MODEL_H
#define NUBO_NET_MODEL_H
#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define NET_IFNAME_MAX 16 /* IFNAMSIZ: 15 characters and the NUL */
#define NET_PREFIX_MAX 5  /* 1..4 characters [a-z0-9]: every name Nubo makes starts with it */
#define NET_NETWORKS_MAX 64
#define NET_SUBNETS_MAX 128
#define NET_PORTS_MAX 256
#define NET_ROUTERS_MAX 64
#define NET_SGS_MAX 128
#define NET_RULES_MAX 64        /* rules of one security group */
#define NET_MEMBERS_MAX 256     /* member addresses of one security group */
#define NET_PEERS_MAX 32        /* VXLAN peers of one network */
#define NET_PORT_IPS_MAX 4      /* fixed IPs of one port */
#define NET_PAIRS_MAX 8         /* allowed address pairs of one port */
#define NET_PORT_SGS_MAX 8      /* security groups of one port */
#define NET_DNS_MAX 4           /* DNS servers of one subnet */
#define NET_RIFS_MAX 16         /* interfaces of one router */
#define NET_FIPS_MAX 64         /* floating IPs of one router */
#define NET_HOSTNAME_MAX 64     /* a DHCP hostname label */
#define NET_HROUTES_MAX 8       /* host routes of one subnet */
#define NET_DHCP_HOSTS_MAX 2048 /* static DHCP hosts of all networks */
#define NET_MAC_LEN 18          /* "aa:bb:cc:dd:ee:ff" + NUL */
#define NET_VNI_MAX 16777215    /* 24 bits */
#define NET_VXLAN_PORT 4789     /* IANA's VXLAN port: the default of net.vxlan_port */
#define NET_VLAN_MAX 4094

enum net_seg { NET_SEG_VXLAN, NET_SEG_VLAN };

/* An IPv4 address with a prefix length (32 for a host). */
struct net_cidr {
	uint32_t addr;
	int len;
};

struct net_network {
	char id[UUID_STR_LEN];
	int vni;      /* VXLAN mode: 1..NET_VNI_MAX */
	int vlan;     /* VLAN mode: 1..NET_VLAN_MAX */
	int mtu;      /* 576..9000 */
	int external; /* the flat external network: its bridge is not Nubo's to build */
	char dhcp_mac[NET_MAC_LEN]; /* the DHCP port's MAC ("" = no DHCP here) */
	int n_peers;
	uint32_t peers[NET_PEERS_MAX]; /* VXLAN: the other hosts' local IPs */
};

struct net_subnet {
	char id[UUID_STR_LEN];
	int network; /* index into networks */
	struct net_cidr cidr;
	uint32_t gateway; /* 0 = none */
	uint32_t dhcp_ip; /* the DHCP server's address in the subnet (0 = no DHCP) */
	int lease_s;      /* 120..31536000 */
	int n_dns;
	uint32_t dns[NET_DNS_MAX];
	int n_hroutes;
	struct net_cidr hroute_dst[NET_HROUTES_MAX];
	uint32_t hroute_via[NET_HROUTES_MAX];
};

/* A static DHCP lease: a port of the network on any host. */
struct net_dhcp_host {
	int network;
	char mac[NET_MAC_LEN];
	uint32_t ip;
	char hostname[NET_HOSTNAME_MAX];
};

struct net_pair {
	struct net_cidr ip;
	char mac[NET_MAC_LEN]; /* "" = the port's own */
};

struct net_port {
	char id[UUID_STR_LEN];
	int network;
	char tap[NET_IFNAME_MAX];
	char mac[NET_MAC_LEN];
	char hostname[NET_HOSTNAME_MAX];
	int mtu;
	int port_security; /* 0: no anti-spoofing, no security groups */
	int n_ips;
	uint32_t ips[NET_PORT_IPS_MAX];
	int subnets[NET_PORT_IPS_MAX]; /* the subnet of each fixed IP (index) */
	int n_pairs;
	struct net_pair pairs[NET_PAIRS_MAX];
	int n_sgs;
	int sgs[NET_PORT_SGS_MAX]; /* indexes into sgs */
};

enum net_dir { NET_INGRESS, NET_EGRESS };

struct net_rule {
	enum net_dir dir;
	int proto;              /* 0 any, 1 icmp, 6 tcp, 17 udp */
	int port_min, port_max; /* tcp/udp: 1..65535, 0 = any; icmp: type/code or -1 */
	struct net_cidr remote; /* len 0 with remote_group < 0 = anywhere */
	int remote_group;       /* index into sgs, or -1 */
};

struct net_sg {
	char id[UUID_STR_LEN];
	int n_rules;
	struct net_rule rules[NET_RULES_MAX];
	int n_members;
	uint32_t members[NET_MEMBERS_MAX]; /* every fixed IP of every port in the group */
};

struct net_rif { /* a router interface: a port of the router on a subnet */
	char port_id[UUID_STR_LEN];
	int subnet;
	uint32_t ip; /* usually the subnet's gateway */
	char mac[NET_MAC_LEN];
};

struct net_fip {
	uint32_t floating, fixed;
};

struct net_router {
	char id[UUID_STR_LEN];
	int has_gateway;
	struct net_cidr ext_ip; /* on the external network */
	uint32_t ext_gateway;   /* next hop on the external network; 0 = none */
	int snat;
	int n_ifs;
	struct net_rif ifs[NET_RIFS_MAX];
	int n_fips;
	struct net_fip fips[NET_FIPS_MAX];
};

/* How this host builds: from nubo.conf, not from the controller. */
struct net_host {
	char prefix[NET_PREFIX_MAX];     /* "nb": names of links, namespaces and tables */
	enum net_seg seg;                /* VXLAN unless VLAN mode was asked for */
	uint32_t local_ip;               /* VXLAN source address */
	int vxlan_port;                  /* VXLAN UDP port (0 = NET_VXLAN_PORT) */
	char uplink[NET_IFNAME_MAX];     /* VLAN mode: the trunk device */
	char ext_bridge[NET_IFNAME_MAX]; /* "br-ex" */
	int ext_mtu;
	char tap_user[32];      /* owner of persistent taps (the QEMU user) */
	char dhcp_user[32];     /* dnsmasq drops to this user (reads its files) */
	char state_dir[256];    /* where generated files live (absolute) */
	char metadata_url[256]; /* nubo-api's metadata endpoint ("" = no proxy) */
	char metadata_secret[128];
};

struct net_model {
	int n_networks, n_subnets, n_ports, n_routers, n_sgs, n_hosts;
	long generation;
	struct net_network networks[NET_NETWORKS_MAX];
	struct net_subnet subnets[NET_SUBNETS_MAX];
	struct net_port ports[NET_PORTS_MAX];
	struct net_router routers[NET_ROUTERS_MAX];
	struct net_sg sgs[NET_SGS_MAX];
	struct net_dhcp_host hosts[NET_DHCP_HOSTS_MAX];
};

/* Checks every bound, index and value of m for host h (what the generators rely
 * on): 0, or -EINVAL with the first problem in err. */
int net_model_check(const struct net_host *h, const struct net_model *m, char *err, size_t errlen);
/* 1 when s is a valid Linux interface name (1..15 bytes of [A-Za-z0-9_.-], not "."/".."). */
int net_ifname_ok(const char *s);
/* 1 when s is a unicast "aa:bb:cc:dd:ee:ff" in lower or upper hex. */
int net_mac_ok(const char *s);
/* 1 when s is a name prefix: 1..4 of [a-z0-9], starting with a letter. */
int net_prefix_ok(const char *s);
/* Parses dotted IPv4 "a.b.c.d" (with "/len" when cidr is non-NULL; without a "/len"
 * the length is 32). 0 or -EINVAL. */
int net_ip_parse(const char *s, uint32_t *ip, int *len);
/* Writes a.b.c.d into buf (at least 16 bytes); returns buf. */
char *net_ip_str(uint32_t ip, char *buf);
/* The netmask of a prefix length. */
uint32_t net_mask(int len);

/* Names Nubo gives (all fit IFNAMSIZ with a prefix of up to 4): a 10-hex-digit
 * short form of a UUID after prefix and one letter. */
void net_name(const struct net_host *h, char letter, const char *uuid, char out[NET_IFNAME_MAX]);
/* Namespaces: "<prefix>-r-<router id>" and "<prefix>-d-<network id>". */
void net_ns_router(const struct net_host *h, const char *router_id, char *out, size_t outlen);
void net_ns_dhcp(const struct net_host *h, const char *network_id, char *out, size_t outlen);

#endif

/* nubo-net's privileged requests: its rows of the helper's whitelist (common/priv.h).
 * Each is a fixed-size typed request that the helper re-validates (every interface
 * name against IFNAMSIZ and Nubo's prefix, every namespace name, address and
 * number). The checks build the argv of ip(8), bridge(8), nft(8) or dnsmasq(8) an
 * operator would type for the request (never a shell; net_priv_link_argv, golden-
 * tested); the common paths then do it inside the helper's process without a
 * fork+exec: link set/del, the mark, addresses, the default route and lo up over
 * rtnetlink (net_nl.h), a tap by its TUNSETIFF ioctls, nft rulesets through
 * libnftables inside the namespace (net_nft.h). Adding a bridge, VXLAN, VLAN or
 * veth, namespaces, flood entries and dnsmasq still run the program. Files the
 * worker generated (nft rulesets, dnsmasq configurations) are opened beneath the
 * state directory without following a symlink and copied by the helper (into a
 * sealed memfd handed to dnsmasq as /dev/fd/N), so the worker cannot make root read
 * another file. */
#ifndef NUBO_NET_PRIV_H
#define NUBO_NET_PRIV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "net_gen.h"
#include "priv.h"

enum net_priv_type {
	NET_PRIV_LINK_ADD = PRIV_TYPE_AGENT, /* struct net_priv_link */
	NET_PRIV_LINK_DEL,                   /* struct net_priv_link: name (must be Nubo's) */
	NET_PRIV_LINK_SET,                   /* struct net_priv_link: master, mtu, up, address */
	NET_PRIV_NETNS,                      /* struct net_priv_netns */
	NET_PRIV_ADDR,                       /* struct net_priv_addr */
	NET_PRIV_ROUTE,                      /* struct net_priv_route */
	NET_PRIV_FDB,                        /* struct net_priv_fdb */
	NET_PRIV_NFT,                        /* struct net_priv_file */
	NET_PRIV_DNSMASQ_START,              /* struct net_priv_file -> int32_t pid */
	NET_PRIV_DNSMASQ_STOP,               /* struct net_priv_stop */
	NET_PRIV_META_LISTEN,                /* struct net_priv_netns -> a listening fd */
	NET_PRIV_GARP,                       /* struct net_priv_garp */
};

#define NET_ALIAS_PREFIX "nubo-net:" /* + the name prefix: IFLA_IFALIAS of Nubo's links */

struct net_priv_link {
	int32_t kind;              /* enum net_link_kind (LINK_ADD) */
	char name[NET_IFNAME_MAX]; /* in ns ("" = the root namespace) */
	char ns[NET_NS_MAX];
	char master[NET_IFNAME_MAX]; /* LINK_ADD/SET: "" = none */
	char parent[NET_IFNAME_MAX]; /* vlan */
	char peer[NET_IFNAME_MAX];   /* veth */
	char peer_ns[NET_NS_MAX];    /* veth */
	char mac[NET_MAC_LEN];       /* LINK_SET: "" = keep */
	int32_t mtu;                 /* 0 = keep (LINK_SET) */
	int32_t id;                  /* VNI or VLAN id */
	uint32_t local;              /* VXLAN source address */
	int32_t up;                  /* LINK_ADD/SET: 1 = set up */
	int32_t port;                /* VXLAN UDP port (0 = NET_VXLAN_PORT) */
};

enum net_netns_op { NET_NETNS_ADD, NET_NETNS_DEL, NET_NETNS_FORWARD };

struct net_priv_netns {
	int32_t op; /* enum net_netns_op; FORWARD turns on IPv4 forwarding inside */
	char ns[NET_NS_MAX];
};

struct net_priv_addr {
	char ns[NET_NS_MAX];
	char dev[NET_IFNAME_MAX];
	uint32_t addr;
	int32_t len;
	int32_t del; /* 1: remove instead of replace */
};

struct net_priv_route {
	char ns[NET_NS_MAX];
	uint32_t via; /* default route */
};

struct net_priv_fdb {
	char dev[NET_IFNAME_MAX];
	uint32_t dst;
	int32_t del;
};

struct net_priv_file {
	char ns[NET_NS_MAX];        /* "" = the root namespace (nft only) */
	char rel[PRIV_PATH_MAX];    /* inside the state directory */
	char iface[NET_IFNAME_MAX]; /* dnsmasq: the interface it serves (its marker) */
};

struct net_priv_stop {
	int32_t pid;
	char iface[NET_IFNAME_MAX]; /* the pid must be a dnsmasq serving this interface */
};

/* Gratuitous ARP of addr (host order) out of dev inside router namespace ns
 * (net_garp.h): dev must carry the prefix, ns must be Nubo's. */
struct net_priv_garp {
	char ns[NET_NS_MAX];
	char dev[NET_IFNAME_MAX];
	uint32_t addr;
};

/* What the helper's rows read (borrowed). */
struct net_priv_ctx {
	const char *prefix;     /* name prefix: every name it touches starts with it */
	const char *ext_bridge; /* a master it may also use */
	const char *tap_user;   /* owner of persistent taps */
	const char *dhcp_user;  /* the user dnsmasq's configuration must name */
	const char *state_dir;
};

extern const struct priv_op net_priv_ops[];
extern const size_t net_priv_n_ops;

/* ---- pure, exposed for tests ------------------------------------------------------ */

/* The argv (static storage in *buf, NULL-terminated in argv of at most 32) of a link
 * request type on behalf of ctx; 0 or -EINVAL when a check fails (err says which). */
struct net_argv {
	const char *argv[40];
	char buf[1024];
	size_t used;
	int n;
};
int net_priv_link_argv(const struct net_priv_ctx *ctx, uint32_t type, const struct net_priv_link *l,
                       struct net_argv *out, struct net_argv *out2, char *err, size_t errlen);
/* Helper side: runs a LINK_ADD (the argv above, then the mark). A tap that exists
 * when its add fails (another process created it and holds it open, EBUSY) is
 * adopted: marked and sized like one nubo-net made. 0 or a negative errno with err. */
/* Pure: 1 when a tap add that failed with rc and err may adopt an existing tap: it
 * failed because someone holds the tap (EBUSY), not for any other reason. */
int net_priv_tap_adoptable(int rc, const char *err);
int net_priv_link_add_exec(const struct net_priv_ctx *ctx, const struct net_priv_link *l, char *err,
                           size_t errlen);
/* 1 when ns is a namespace name of prefix ("<prefix>-" then [a-z0-9-], < NET_NS_MAX). */
int net_priv_ns_ok(const char *prefix, const char *ns);
/* 0 when every line of a dnsmasq configuration is one of the keys nubo-net writes
 * and its user and file paths are the ones ctx allows; else -EPERM with err. */
int net_priv_dnsmasq_conf_ok(const struct net_priv_ctx *ctx, const char *text, char *err,
                             size_t errlen);
/* 0 when an nft script touches only Nubo's own tables: at the top level nothing but
 * comments, `table FAMILY NAME { ... }` and `delete table FAMILY NAME`, FAMILY one of
 * ip, inet, bridge and NAME "<prefix>_" then [a-z0-9_]; inside a table no include,
 * define or variable, no other command word, only printable ASCII, balanced braces
 * and closed strings. Else -EPERM with err (which says what and on which line). */
int net_priv_nft_ok(const struct net_priv_ctx *ctx, const char *text, char *err, size_t errlen);
/* 0 when the helper may send r's gratuitous ARP for ctx, else -EPERM with err. */
int net_priv_garp_ok(const struct net_priv_ctx *ctx, const struct net_priv_garp *r, char *err,
                     size_t errlen);

/* ---- worker side -------------------------------------------------------------------- */

int net_priv_link(struct priv *p, uint32_t type, const struct net_priv_link *l, char *err,
                  size_t errlen);
int net_priv_netns(struct priv *p, int op, const char *ns, char *err, size_t errlen);
int net_priv_addr(struct priv *p, const char *ns, const char *dev, uint32_t addr, int len, int del,
                  char *err, size_t errlen);
int net_priv_route(struct priv *p, const char *ns, uint32_t via, char *err, size_t errlen);
int net_priv_fdb(struct priv *p, const char *dev, uint32_t dst, int del, char *err, size_t errlen);
int net_priv_nft(struct priv *p, const char *ns, const char *rel, char *err, size_t errlen);
pid_t net_priv_dnsmasq_start(struct priv *p, const char *ns, const char *rel, const char *iface,
                             char *err, size_t errlen);
int net_priv_dnsmasq_stop(struct priv *p, pid_t pid, const char *iface, char *err, size_t errlen);
/* A TCP socket listening on 169.254.169.254:80 inside namespace ns (the address is on
 * its lo): the fd (owned, O_CLOEXEC) or a negative errno. */
int net_priv_meta_listen(struct priv *p, const char *ns, char *err, size_t errlen);
/* Announces addr on dev inside ns (one ARP request and one reply, see net_garp.h). */
int net_priv_garp(struct priv *p, const char *ns, const char *dev, uint32_t addr, char *err,
                  size_t errlen);

#endif

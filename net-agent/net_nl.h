/* rtnetlink for nubo-net's privileged helper: the few link, address and route
 * requests of the common paths (a port's tap plugged in, a floating IP added) as
 * netlink messages sent from the helper's own process instead of a fork+exec of
 * ip(8) each. The message builders are pure (golden-tested byte for byte); the
 * socket side runs as root in the helper, after the request passed its check. The
 * messages are what `ip link set`, `ip addr replace/del` and `ip route replace`
 * send for the same arguments. */
#ifndef NUBO_NET_NL_H
#define NUBO_NET_NL_H
#include <stddef.h>
#include <stdint.h>

#define NET_NL_MSG_MAX 1024

/* One request being built: nlmsghdr, the family header, then attributes. */
struct net_nl_msg {
	uint8_t buf[NET_NL_MSG_MAX];
	size_t len;
	int overflow; /* an attribute did not fit: the message must not be sent */
};

/* What a link request changes; 0 / NULL / "" = keep. */
struct net_nl_link {
	const char *name;   /* the link, by name (ifindex 0) */
	int master;         /* ifindex of the new master */
	int mtu;            /* 576..9000 */
	const uint8_t *mac; /* 6 bytes */
	int up;             /* 1: set IFF_UP */
	const char *alias;  /* IFLA_IFALIAS */
};

/* ---- pure builders (seq is the message's sequence number) ----------------------------- */

/* RTM_NEWLINK (no NLM_F_CREATE) that changes l: ip link set dev NAME [master M]
 * [mtu N] [address MAC] [up] [alias A]. 0 or -E2BIG. */
int net_nl_link_set_msg(struct net_nl_msg *m, uint32_t seq, const struct net_nl_link *l);
/* RTM_DELLINK of name: ip link del dev NAME. */
int net_nl_link_del_msg(struct net_nl_msg *m, uint32_t seq, const char *name);
/* RTM_NEWADDR (create, replace) or RTM_DELADDR of addr/len (host order) on ifindex:
 * ip addr replace|del A/LEN dev D. */
int net_nl_addr_msg(struct net_nl_msg *m, uint32_t seq, int ifindex, uint32_t addr, int len,
                    int del);
/* RTM_NEWROUTE (create, replace) of the default route via (host order) in the main
 * table: ip route replace default via V. */
int net_nl_route_default_msg(struct net_nl_msg *m, uint32_t seq, uint32_t via);

/* ---- helper side (root) ------------------------------------------------------------- */

/* Enters network namespace ns (/run/netns/ns, not followed if a symlink); *self
 * gets the fd to come back with. "" = stay (then *self = -1). 0 or -errno with err. */
int net_nl_ns_enter(const char *ns, int *self, char *err, size_t errlen);
/* Comes back to the namespace of net_nl_ns_enter (exits the process when it cannot:
 * the helper must not go on in the wrong namespace); closes self. */
void net_nl_ns_leave(int self);
/* Sends m over a new NETLINK_ROUTE socket of the current namespace and reads its
 * acknowledgement: 0, or the kernel's -errno with "what: strerror" in err. */
int net_nl_talk(struct net_nl_msg *m, const char *what, char *err, size_t errlen);
/* The ifindex of name in the current namespace, or -errno with err. */
int net_nl_ifindex(const char *name, char *err, size_t errlen);
/* Creates persistent tap name owned by uid (ip tuntap add dev NAME mode tap user U).
 * 0 or -errno with "tap NAME: strerror" in err (-EBUSY: someone holds it open). */
int net_nl_tap_add(const char *name, uint32_t uid, char *err, size_t errlen);

#endif

/* ---- reading links (any user) ---------------------------------------------------------- */

/* What converge reads of a link (net_converge.c). */
struct net_nl_linkinfo {
	int index, master, mtu, up; /* master: ifindex, 0 = none */
	int id;                     /* VXLAN VNI or VLAN id, -1 when neither */
	uint32_t local;             /* VXLAN source address (host order), 0 = none */
	char name[16];
	char kind[16];  /* IFLA_INFO_KIND ("bridge", "vxlan", "vlan", "tun", "veth"), "" */
	char alias[64]; /* IFLA_IFALIAS, "" */
};

/* Pure: parses one RTM_NEWLINK message (nlmsghdr first, len bytes) into li. 0, or
 * -EINVAL when it is not a well-formed RTM_NEWLINK with a name. */
int net_nl_link_parse(const void *msg, size_t len, struct net_nl_linkinfo *li);
/* Dumps every link of the current namespace (RTM_GETLINK) into fn, called once per
 * link; 0 or -errno. Stops at max links. */
int net_nl_links_dump(void (*fn)(const struct net_nl_linkinfo *, void *), void *arg, int max);

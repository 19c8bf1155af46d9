/* rtnetlink for the helper (see net_nl.h). */
#include "net_nl.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define ALIGN4(n) (((n) + 3u) & ~3u)

/* nlmsghdr + a zeroed family header of hdrlen bytes; returns that header. */
static void *msg_init(struct net_nl_msg *m, uint16_t type, uint16_t flags, uint32_t seq,
                      size_t hdrlen)
{
	memset(m, 0, sizeof(*m));
	struct nlmsghdr *nh = (struct nlmsghdr *)m->buf;
	m->len = NLMSG_HDRLEN + ALIGN4(hdrlen);
	nh->nlmsg_len = (uint32_t)m->len;
	nh->nlmsg_type = type;
	nh->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
	nh->nlmsg_seq = seq;
	return m->buf + NLMSG_HDRLEN;
}

static void attr_put(struct net_nl_msg *m, uint16_t type, const void *data, size_t len)
{
	size_t need = ALIGN4(sizeof(struct nlattr) + len);
	if (m->overflow || m->len + need > sizeof(m->buf)) {
		m->overflow = 1;
		return;
	}
	struct nlattr *a = (struct nlattr *)(m->buf + m->len);
	a->nla_type = type;
	a->nla_len = (uint16_t)(sizeof(struct nlattr) + len);
	memcpy(a + 1, data, len);
	m->len += need;
	((struct nlmsghdr *)m->buf)->nlmsg_len = (uint32_t)m->len;
}

static void attr_u32(struct net_nl_msg *m, uint16_t type, uint32_t v)
{
	attr_put(m, type, &v, sizeof(v));
}

static void attr_str(struct net_nl_msg *m, uint16_t type, const char *s)
{
	attr_put(m, type, s, strlen(s) + 1);
}

static int msg_done(const struct net_nl_msg *m)
{
	return m->overflow ? -E2BIG : 0;
}

int net_nl_link_set_msg(struct net_nl_msg *m, uint32_t seq, const struct net_nl_link *l)
{
	struct ifinfomsg *ifi = msg_init(m, RTM_NEWLINK, 0, seq, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	if (l->up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	attr_str(m, IFLA_IFNAME, l->name);
	if (l->master)
		attr_u32(m, IFLA_MASTER, (uint32_t)l->master);
	if (l->mtu)
		attr_u32(m, IFLA_MTU, (uint32_t)l->mtu);
	if (l->mac)
		attr_put(m, IFLA_ADDRESS, l->mac, 6);
	if (l->alias)
		attr_str(m, IFLA_IFALIAS, l->alias);
	return msg_done(m);
}

int net_nl_link_del_msg(struct net_nl_msg *m, uint32_t seq, const char *name)
{
	struct ifinfomsg *ifi = msg_init(m, RTM_DELLINK, 0, seq, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	attr_str(m, IFLA_IFNAME, name);
	return msg_done(m);
}

int net_nl_addr_msg(struct net_nl_msg *m, uint32_t seq, int ifindex, uint32_t addr, int len,
                    int del)
{
	struct ifaddrmsg *ifa = msg_init(m, del ? RTM_DELADDR : RTM_NEWADDR,
	                                 del ? 0 : NLM_F_CREATE | NLM_F_REPLACE, seq, sizeof(*ifa));
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)len;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)ifindex;
	uint32_t be = htonl(addr);
	attr_put(m, IFA_LOCAL, &be, sizeof(be));
	attr_put(m, IFA_ADDRESS, &be, sizeof(be));
	return msg_done(m);
}

int net_nl_route_default_msg(struct net_nl_msg *m, uint32_t seq, uint32_t via)
{
	struct rtmsg *rt =
	    msg_init(m, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, seq, sizeof(*rt));
	rt->rtm_family = AF_INET;
	rt->rtm_table = RT_TABLE_MAIN;
	rt->rtm_protocol = RTPROT_BOOT;
	rt->rtm_scope = RT_SCOPE_UNIVERSE;
	rt->rtm_type = RTN_UNICAST;
	uint32_t be = htonl(via);
	attr_put(m, RTA_GATEWAY, &be, sizeof(be));
	return msg_done(m);
}

/* ---- helper side ---------------------------------------------------------------------- */

int net_nl_ns_enter(const char *ns, int *self, char *err, size_t errlen)
{
	char path[128];
	*self = -1;
	if (!ns[0])
		return 0;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int me = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc = 0;
	if (me < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", ns, strerror(errno));
		if (me >= 0)
			close(me);
		me = -1;
	}
	if (nsfd >= 0)
		close(nsfd);
	*self = me;
	return rc;
}

void net_nl_ns_leave(int self)
{
	if (self < 0)
		return;
	if (setns(self, CLONE_NEWNET) < 0)
		_exit(1); /* the helper must not go on in the wrong namespace */
	close(self);
}

int net_nl_talk(struct net_nl_msg *m, const char *what, char *err, size_t errlen)
{
	if (m->overflow) {
		snprintf(err, errlen, "%s: request too long", what);
		return -E2BIG;
	}
	int rc = 0, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (fd < 0 || sendto(fd, m->buf, m->len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	uint32_t seq = ((struct nlmsghdr *)m->buf)->nlmsg_seq;
	for (;;) {
		union {
			struct nlmsghdr nh;
			uint8_t b[8192];
		} rep;
		ssize_t n = recv(fd, &rep, sizeof(rep), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		for (struct nlmsghdr *nh = &rep.nh; NLMSG_OK(nh, (unsigned)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_seq != seq || nh->nlmsg_type != NLMSG_ERROR)
				continue;
			if (nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
				rc = -EPROTO;
				goto out;
			}
			rc = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
			goto out;
		}
	}
out:
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", what, strerror(-rc));
	if (fd >= 0)
		close(fd);
	return rc;
}

int net_nl_ifindex(const char *name, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", name, strerror(errno));
	} else {
		rc = ifr.ifr_ifindex;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int net_nl_tap_add(const char *name, uint32_t uid, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	int rc = 0, fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 ||
	    ioctl(fd, TUNSETOWNER, (unsigned long)uid) < 0 || ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		rc = -errno;
		snprintf(err, errlen, "tap %s: %s", name, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* ---- reading links ------------------------------------------------------------------------ */

/* Copies a string attribute into out (len bytes, "" when too long or unterminated). */
static void attr_strcpy(const struct nlattr *a, char *out, size_t len)
{
	size_t n = a->nla_len - sizeof(*a);
	const char *s = (const char *)(a + 1);
	out[0] = '\0';
	if (n == 0 || n > len || memchr(s, '\0', n) == NULL)
		return;
	memcpy(out, s, n);
}

static uint32_t attr_u32v(const struct nlattr *a)
{
	uint32_t v = 0;
	if (a->nla_len >= sizeof(*a) + sizeof(v))
		memcpy(&v, a + 1, sizeof(v));
	return v;
}

/* Calls each attribute of [p, p + len) with fn; stops at a malformed one. */
#define ATTR_EACH(a, p, len)                                                                       \
	for (const struct nlattr *a = (const void *)(p);                                           \
	     (const uint8_t *)a + sizeof(*a) <= (const uint8_t *)(p) + (len) &&                    \
	     a->nla_len >= sizeof(*a) &&                                                           \
	     (const uint8_t *)a + a->nla_len <= (const uint8_t *)(p) + (len);                      \
	     a = (const void *)((const uint8_t *)a + ALIGN4(a->nla_len)))

static void linkinfo_parse(const struct nlattr *li_attr, struct net_nl_linkinfo *li)
{
	const struct nlattr *data = NULL;
	ATTR_EACH(a, li_attr + 1, li_attr->nla_len - sizeof(*li_attr))
	{
		if ((a->nla_type & NLA_TYPE_MASK) == IFLA_INFO_KIND)
			attr_strcpy(a, li->kind, sizeof(li->kind));
		else if ((a->nla_type & NLA_TYPE_MASK) == IFLA_INFO_DATA)
			data = a;
	}
	if (!data)
		return;
	/* IFLA_VXLAN_ID (u32) and IFLA_VLAN_ID (u16) are both attribute 1 */
	int vxlan = !strcmp(li->kind, "vxlan"), vlan = !strcmp(li->kind, "vlan");
	ATTR_EACH(a, data + 1, data->nla_len - sizeof(*data))
	{
		if (vxlan && (a->nla_type & NLA_TYPE_MASK) == IFLA_VXLAN_LOCAL &&
		    a->nla_len >= sizeof(*a) + 4) {
			uint32_t v;
			memcpy(&v, a + 1, sizeof(v));
			li->local = ntohl(v);
			continue;
		}
		if ((a->nla_type & NLA_TYPE_MASK) != (vxlan ? IFLA_VXLAN_ID : IFLA_VLAN_ID))
			continue;
		if (vlan && a->nla_len >= sizeof(*a) + 2) {
			uint16_t v;
			memcpy(&v, a + 1, sizeof(v));
			li->id = v;
		} else if (vxlan) {
			li->id = (int)attr_u32v(a);
		}
	}
}

int net_nl_link_parse(const void *msg, size_t len, struct net_nl_linkinfo *li)
{
	const struct nlmsghdr *nh = msg;
	memset(li, 0, sizeof(*li));
	li->id = -1;
	if (len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) || nh->nlmsg_len > len ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)) || nh->nlmsg_type != RTM_NEWLINK)
		return -EINVAL;
	const struct ifinfomsg *ifi = NLMSG_DATA(nh);
	li->index = ifi->ifi_index;
	li->up = (ifi->ifi_flags & IFF_UP) != 0;
	const uint8_t *p = (const uint8_t *)ifi + NLMSG_ALIGN(sizeof(*ifi));
	size_t alen = nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	ATTR_EACH(a, p, alen)
	{
		switch (a->nla_type & NLA_TYPE_MASK) {
		case IFLA_IFNAME:
			attr_strcpy(a, li->name, sizeof(li->name));
			break;
		case IFLA_MTU:
			li->mtu = (int)attr_u32v(a);
			break;
		case IFLA_MASTER:
			li->master = (int)attr_u32v(a);
			break;
		case IFLA_IFALIAS:
			attr_strcpy(a, li->alias, sizeof(li->alias));
			break;
		case IFLA_LINKINFO:
			linkinfo_parse(a, li);
			break;
		}
	}
	return li->name[0] ? 0 : -EINVAL;
}

int net_nl_links_dump(void (*fn)(const struct net_nl_linkinfo *, void *), void *arg, int max)
{
	struct net_nl_msg m;
	struct ifinfomsg *ifi = msg_init(&m, RTM_GETLINK, NLM_F_DUMP, 1, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	((struct nlmsghdr *)m.buf)->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	int rc = 0, n_links = 0, fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (fd < 0 || sendto(fd, m.buf, m.len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto out;
	}
	static __thread union {
		struct nlmsghdr nh;
		uint8_t b[64 * 1024];
	} rep;
	for (;;) {
		ssize_t n = recv(fd, &rep, sizeof(rep), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EPROTO;
			goto out;
		}
		for (struct nlmsghdr *nh = &rep.nh; NLMSG_OK(nh, (unsigned)n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				rc = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(struct nlmsgerr))
				         ? ((struct nlmsgerr *)NLMSG_DATA(nh))->error
				         : -EPROTO;
				goto out;
			}
			struct net_nl_linkinfo li;
			if (n_links < max && net_nl_link_parse(nh, nh->nlmsg_len, &li) == 0) {
				fn(&li, arg);
				n_links++;
			}
		}
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

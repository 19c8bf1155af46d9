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

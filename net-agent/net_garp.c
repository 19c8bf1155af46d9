/* Gratuitous ARP (see net_garp.h). */
#include "net_garp.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#define ETH_ALEN_ 6
#define ARP_LEN 28 /* the ARP payload for Ethernet/IPv4 */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

size_t net_garp_frame(uint8_t *buf, size_t len, const uint8_t mac[6], uint32_t ip, int op)
{
	static const uint8_t zero[ETH_ALEN_];
	if (len < NET_GARP_FRAME_LEN || (op != NET_GARP_REQUEST && op != NET_GARP_REPLY) || !ip ||
	    (mac[0] & 1) || !memcmp(mac, zero, ETH_ALEN_))
		return 0;
	memset(buf, 0, NET_GARP_FRAME_LEN);
	memset(buf, 0xff, ETH_ALEN_);            /* destination: broadcast */
	memcpy(buf + ETH_ALEN_, mac, ETH_ALEN_); /* source */
	put16(buf + 12, ETHERTYPE_ARP);          /* type */
	uint8_t *a = buf + 14;
	put16(a, 1);                   /* hardware: Ethernet */
	put16(a + 2, ETHERTYPE_IP);    /* protocol: IPv4 */
	a[4] = ETH_ALEN_;              /* hardware address length */
	a[5] = 4;                      /* protocol address length */
	put16(a + 6, (uint16_t)op);    /* opcode */
	memcpy(a + 8, mac, ETH_ALEN_); /* sender hardware address */
	put32(a + 14, ip);             /* sender protocol address */
	if (op == NET_GARP_REPLY)      /* target hardware address */
		memcpy(a + 18, mac, ETH_ALEN_);
	put32(a + 24, ip); /* target protocol address: the same */
	return NET_GARP_FRAME_LEN;
}

int net_garp_owned(const struct ifaddrs *list, const char *dev, uint32_t ip)
{
	for (const struct ifaddrs *i = list; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && i->ifa_name &&
		    !strcmp(i->ifa_name, dev) &&
		    ntohl(((const struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr) == ip)
			return 1;
	return 0;
}

/* In the namespace already: dev must hold ip. */
static int check_owned(const char *dev, uint32_t ip, char *err, size_t errlen)
{
	struct ifaddrs *list = NULL;
	if (getifaddrs(&list) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "addresses: %s", strerror(errno));
		return rc;
	}
	int owned = net_garp_owned(list, dev, ip);
	freeifaddrs(list);
	if (!owned) {
		struct in_addr a = {.s_addr = htonl(ip)};
		char text[INET_ADDRSTRLEN];
		snprintf(err, errlen, "%s does not hold %s: not announced", dev,
		         inet_ntop(AF_INET, &a, text, sizeof(text)) ? text : "?");
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/* In the namespace already: dev's index and MAC, then the two frames. */
static int send_frames(const char *dev, uint32_t ip, char *err, size_t errlen)
{
	struct ifreq ifr = {0};
	int rc = 0;
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "packet socket: %s", strerror(errno));
		return rc;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dev, strerror(errno));
		goto out;
	}
	int ifindex = ifr.ifr_ifindex;
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: MAC: %s", dev, strerror(errno));
		goto out;
	}
	uint8_t mac[ETH_ALEN_], frame[NET_GARP_FRAME_LEN];
	memcpy(mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN_);
	struct sockaddr_ll sll = {.sll_family = AF_PACKET,
	                          .sll_protocol = htons(ETH_P_ARP),
	                          .sll_ifindex = ifindex,
	                          .sll_halen = ETH_ALEN_};
	memset(sll.sll_addr, 0xff, ETH_ALEN_);
	for (int op = NET_GARP_REQUEST; op <= NET_GARP_REPLY; op++) {
		size_t n = net_garp_frame(frame, sizeof(frame), mac, ip, op);
		if (n == 0) {
			rc = -EINVAL;
			snprintf(err, errlen, "%s: no frame for this address or MAC", dev);
			goto out;
		}
		if (sendto(fd, frame, n, 0, (struct sockaddr *)&sll, sizeof(sll)) != (ssize_t)n) {
			rc = -errno;
			snprintf(err, errlen, "%s: send: %s", dev, strerror(errno));
			goto out;
		}
	}
out:
	close(fd);
	return rc;
}

int net_garp_send(const char *ns, const char *dev, uint32_t ip, char *err, size_t errlen)
{
	char path[128];
	int rc;
	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (self < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", ns, strerror(errno));
		goto out;
	}
	rc = check_owned(dev, ip, err, errlen);
	if (rc == 0)
		rc = send_frames(dev, ip, err, errlen);
	if (setns(self, CLONE_NEWNET) < 0)
		_exit(1); /* the helper must not go on in the wrong namespace */
out:
	if (nsfd >= 0)
		close(nsfd);
	if (self >= 0)
		close(self);
	return rc;
}

/* ---- repeats ---------------------------------------------------------------------------- */

static void sched_remove(struct net_garp_sched *s, int i)
{
	s->e[i] = s->e[--s->n];
}

int net_garp_sched_add(struct net_garp_sched *s, const char *ns, const char *dev, uint32_t addr,
                       int64_t now_ms)
{
	if (strlen(ns) >= NET_GARP_NS_MAX || strlen(dev) >= NET_GARP_DEV_MAX)
		return -EINVAL;
	if (NET_GARP_COUNT < 2)
		return 0;
	int at = -1;
	for (int i = 0; i < s->n && at < 0; i++)
		if (s->e[i].addr == addr && !strcmp(s->e[i].ns, ns) && !strcmp(s->e[i].dev, dev))
			at = i;
	if (at < 0 && s->n < NET_GARP_PENDING_MAX)
		at = s->n++;
	if (at < 0) { /* full: the one due first makes room */
		at = 0;
		for (int i = 1; i < s->n; i++)
			if (s->e[i].at_ms < s->e[at].at_ms)
				at = i;
	}
	struct net_garp_due *d = &s->e[at];
	memset(d, 0, sizeof(*d));
	snprintf(d->ns, sizeof(d->ns), "%s", ns);
	snprintf(d->dev, sizeof(d->dev), "%s", dev);
	d->addr = addr;
	d->at_ms = now_ms + NET_GARP_INTERVAL_MS;
	d->left = NET_GARP_COUNT - 1;
	return 0;
}

int net_garp_sched_take(struct net_garp_sched *s, int64_t now_ms, struct net_garp_due *out, int max)
{
	int n = 0;
	for (int i = 0; i < s->n && n < max;) {
		struct net_garp_due *d = &s->e[i];
		if (d->at_ms > now_ms) {
			i++;
			continue;
		}
		out[n++] = *d;
		if (--d->left > 0) {
			d->at_ms = now_ms + NET_GARP_INTERVAL_MS;
			i++;
		} else {
			sched_remove(s, i); /* the last one moved to i: look at it next */
		}
	}
	return n;
}

int64_t net_garp_sched_next(const struct net_garp_sched *s)
{
	int64_t next = -1;
	for (int i = 0; i < s->n; i++)
		if (next < 0 || s->e[i].at_ms < next)
			next = s->e[i].at_ms;
	return next;
}

/* nubo-net's rows of the privileged helper's whitelist and the worker's calls to
 * them (see net_priv.h). The run functions execute as root, only after their
 * request passed its check; argv arrays only, never a shell. */
#include "net_priv.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>

#include <pwd.h>

#include "net_garp.h"
#include "net_nft.h"
#include "net_nl.h"
#include "proc.h"

#define IP_BIN "ip"
#define CMD_TIMEOUT_MS 10000
#define FILE_MAX (1024 * 1024) /* a generated ruleset or configuration */

#define FAIL(code, ...)                                                                            \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return (code);                                                                     \
	} while (0)

/* ---- argv building ------------------------------------------------------------------ */

static void av_init(struct net_argv *a)
{
	a->n = 0;
	a->used = 0;
	a->argv[0] = NULL;
}

__attribute__((format(printf, 2, 3))) static void av_add(struct net_argv *a, const char *fmt, ...)
{
	va_list ap;
	if (a->n >= (int)(sizeof(a->argv) / sizeof(a->argv[0])) - 1)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(a->buf + a->used, sizeof(a->buf) - a->used, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(a->buf) - a->used)
		return;
	a->argv[a->n++] = a->buf + a->used;
	a->argv[a->n] = NULL;
	a->used += (size_t)w + 1;
}

#define IPS(x) net_ip_str((x), (char[16]){0})

/* ---- checks ----------------------------------------------------------------------------- */

static int has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

int net_priv_ns_ok(const char *prefix, const char *ns)
{
	size_t n = strnlen(ns, NET_NS_MAX), p = strlen(prefix);
	if (n == 0 || n >= NET_NS_MAX || n <= p + 1 || !has_prefix(ns, prefix) || ns[p] != '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)ns[i]) && !isdigit((unsigned char)ns[i]) &&
		    ns[i] != '-')
			return 0;
	return 1;
}

/* A name of the root namespace Nubo may touch: its own prefix, or a VM tap. */
static int root_name_ok(const struct net_priv_ctx *ctx, const char *name, int tap_ok)
{
	return net_ifname_ok(name) && (has_prefix(name, ctx->prefix) ||
	                               (tap_ok && has_prefix(name, "tap") && strlen(name) > 3));
}

static int link_strings_ok(const struct net_priv_link *l)
{
	return priv_str_ok(l->name, sizeof(l->name)) && priv_str_ok(l->ns, sizeof(l->ns)) &&
	       priv_str_ok(l->master, sizeof(l->master)) &&
	       priv_str_ok(l->parent, sizeof(l->parent)) && priv_str_ok(l->peer, sizeof(l->peer)) &&
	       priv_str_ok(l->peer_ns, sizeof(l->peer_ns)) && priv_str_ok(l->mac, sizeof(l->mac));
}

static int mtu_ok(int mtu, int zero_ok)
{
	return (zero_ok && mtu == 0) || (mtu >= 576 && mtu <= 9000);
}

int net_priv_link_argv(const struct net_priv_ctx *ctx, uint32_t type, const struct net_priv_link *l,
                       struct net_argv *a, struct net_argv *a2, char *err, size_t errlen)
{
	av_init(a);
	av_init(a2);
	if (!link_strings_ok(l))
		FAIL(-EINVAL, "unterminated string");
	if (l->ns[0] && !net_priv_ns_ok(ctx->prefix, l->ns))
		FAIL(-EPERM, "namespace %s is not Nubo's", l->ns);
	if (type == NET_PRIV_LINK_SET) {
		int ok = l->ns[0] ? net_ifname_ok(l->name) &&
		                        (has_prefix(l->name, ctx->prefix) || !strcmp(l->name, "lo"))
		                  : root_name_ok(ctx, l->name, 1);
		if (!ok)
			FAIL(-EPERM, "interface %s is not Nubo's", l->name);
		if (l->master[0] && (l->ns[0] || (!root_name_ok(ctx, l->master, 0) &&
		                                  strcmp(l->master, ctx->ext_bridge))))
			FAIL(-EPERM, "master %s is not Nubo's", l->master);
		if (!mtu_ok(l->mtu, 1) || (l->mac[0] && !net_mac_ok(l->mac)) || (l->up & ~1))
			FAIL(-EINVAL, "bad MTU, address or state");
		av_add(a, IP_BIN);
		if (l->ns[0])
			av_add(a, "-n"), av_add(a, "%s", l->ns);
		av_add(a, "link"), av_add(a, "set"), av_add(a, "dev"), av_add(a, "%s", l->name);
		if (l->master[0])
			av_add(a, "master"), av_add(a, "%s", l->master);
		if (l->mtu)
			av_add(a, "mtu"), av_add(a, "%d", l->mtu);
		if (l->mac[0])
			av_add(a, "address"), av_add(a, "%s", l->mac);
		if (l->up)
			av_add(a, "up");
		return 0;
	}
	if (l->ns[0])
		FAIL(-EINVAL, "links are added and deleted in the root namespace");
	if (type == NET_PRIV_LINK_DEL) {
		if (!root_name_ok(ctx, l->name, 1))
			FAIL(-EPERM, "interface %s is not Nubo's", l->name);
		av_add(a, IP_BIN), av_add(a, "link"), av_add(a, "del"), av_add(a, "dev");
		av_add(a, "%s", l->name);
		return 0;
	}
	if (type != NET_PRIV_LINK_ADD)
		FAIL(-EINVAL, "unknown link request");
	if (!root_name_ok(ctx, l->name, l->kind == NET_LINK_TAP) || !mtu_ok(l->mtu, 0))
		FAIL(-EPERM, "bad interface name or MTU");
	if ((l->master[0] && !root_name_ok(ctx, l->master, 0) &&
	     strcmp(l->master, ctx->ext_bridge)) ||
	    (l->up & ~1))
		FAIL(-EPERM, "bad master or state");
	av_add(a, IP_BIN);
	switch (l->kind) {
	case NET_LINK_BRIDGE:
		av_add(a, "link"), av_add(a, "add"), av_add(a, "%s", l->name);
		av_add(a, "mtu"), av_add(a, "%d", l->mtu), av_add(a, "type"), av_add(a, "bridge");
		/* security groups see bridged IPv4 whatever the host-wide sysctl says */
		av_add(a, "nf_call_iptables"), av_add(a, "1");
		break;
	case NET_LINK_VXLAN:
		if (l->id < 1 || l->id > NET_VNI_MAX || !l->local || l->port < 0 || l->port > 65535)
			FAIL(-EINVAL, "bad VNI, local address or UDP port");
		av_add(a, "link"), av_add(a, "add"), av_add(a, "%s", l->name);
		av_add(a, "mtu"), av_add(a, "%d", l->mtu), av_add(a, "type"), av_add(a, "vxlan");
		av_add(a, "id"), av_add(a, "%d", l->id), av_add(a, "local"),
		    av_add(a, "%s", IPS(l->local));
		av_add(a, "dstport"), av_add(a, "%d", l->port ? l->port : NET_VXLAN_PORT);
		break;
	case NET_LINK_VLAN:
		if (l->id < 1 || l->id > NET_VLAN_MAX || !net_ifname_ok(l->parent))
			FAIL(-EINVAL, "bad VLAN id or parent");
		av_add(a, "link"), av_add(a, "add"), av_add(a, "link"), av_add(a, "%s", l->parent);
		av_add(a, "name"), av_add(a, "%s", l->name), av_add(a, "mtu"),
		    av_add(a, "%d", l->mtu);
		av_add(a, "type"), av_add(a, "vlan"), av_add(a, "id"), av_add(a, "%d", l->id);
		break;
	case NET_LINK_TAP:
		av_add(a, "tuntap"), av_add(a, "add"), av_add(a, "dev"), av_add(a, "%s", l->name);
		av_add(a, "mode"), av_add(a, "tap"), av_add(a, "user"),
		    av_add(a, "%s", ctx->tap_user);
		break;
	case NET_LINK_VETH:
		if (!root_name_ok(ctx, l->peer, 0) || !net_priv_ns_ok(ctx->prefix, l->peer_ns))
			FAIL(-EPERM, "bad veth peer or namespace");
		av_add(a, "link"), av_add(a, "add"), av_add(a, "%s", l->name);
		av_add(a, "mtu"), av_add(a, "%d", l->mtu), av_add(a, "type"), av_add(a, "veth");
		av_add(a, "peer"), av_add(a, "name"), av_add(a, "%s", l->peer);
		av_add(a, "mtu"), av_add(a, "%d", l->mtu), av_add(a, "netns"),
		    av_add(a, "%s", l->peer_ns);
		break;
	default:
		FAIL(-EINVAL, "unknown link kind");
	}
	/* the mark converge and LINK_DEL recognise Nubo's links by */
	av_add(a2, IP_BIN), av_add(a2, "link"), av_add(a2, "set"), av_add(a2, "dev");
	av_add(a2, "%s", l->name), av_add(a2, "alias"),
	    av_add(a2, NET_ALIAS_PREFIX "%s", ctx->prefix);
	if (l->kind == NET_LINK_TAP)
		av_add(a2, "mtu"), av_add(a2, "%d", l->mtu);
	/* plugged in and up in the same request: converge needs no LINK_SET after it */
	if (l->master[0])
		av_add(a2, "master"), av_add(a2, "%s", l->master);
	if (l->up)
		av_add(a2, "up");
	return 0;
}

static const char *const dnsmasq_keys[] = {
    "port", "no-resolv",      "no-hosts",       "bind-interfaces", "interface",  "except-interface",
    "user", "dhcp-leasefile", "dhcp-hostsfile", "dhcp-ignore",     "dhcp-range", "dhcp-option",
};

int net_priv_dnsmasq_conf_ok(const struct net_priv_ctx *ctx, const char *text, char *err,
                             size_t errlen)
{
	char line[1024], dhcp_dir[PRIV_PATH_MAX + 64];
	snprintf(dhcp_dir, sizeof(dhcp_dir), "%s/dhcp/", ctx->state_dir);
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n >= sizeof(line))
			FAIL(-EPERM, "dnsmasq configuration: line too long");
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);
		if (!line[0] || line[0] == '#')
			continue;
		char *eq = strchr(line, '=');
		const char *val = eq ? eq + 1 : "";
		if (eq)
			*eq = '\0';
		size_t k;
		for (k = 0; k < sizeof(dnsmasq_keys) / sizeof(dnsmasq_keys[0]); k++)
			if (!strcmp(line, dnsmasq_keys[k]))
				break;
		if (k == sizeof(dnsmasq_keys) / sizeof(dnsmasq_keys[0]))
			FAIL(-EPERM, "dnsmasq configuration: option %s is not allowed", line);
		for (const char *c = val; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				FAIL(-EPERM, "dnsmasq configuration: control character");
		if (!strcmp(line, "user") && strcmp(val, ctx->dhcp_user))
			FAIL(-EPERM, "dnsmasq configuration: user must be %s", ctx->dhcp_user);
		if (!strncmp(line, "dhcp-", 5) && strstr(line, "file") &&
		    (strncmp(val, dhcp_dir, strlen(dhcp_dir)) || strstr(val, "/..") ||
		     !priv_path_ok(val + strlen(ctx->state_dir) + 1)))
			FAIL(-EPERM, "dnsmasq configuration: %s outside the state directory", line);
		if (!strcmp(line, "port") && strcmp(val, "0"))
			FAIL(-EPERM, "dnsmasq configuration: DNS must stay off");
	}
	return 0;
}

static int link_check(const struct priv_helper *h, const void *req, char *err, size_t errlen,
                      uint32_t type)
{
	struct net_argv a, b;
	return net_priv_link_argv(priv_data(h), type, req, &a, &b, err, errlen);
}

static int link_add_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	return link_check(h, req, err, errlen, NET_PRIV_LINK_ADD);
}

static int link_del_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	return link_check(h, req, err, errlen, NET_PRIV_LINK_DEL);
}

static int link_set_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	return link_check(h, req, err, errlen, NET_PRIV_LINK_SET);
}

static int netns_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_netns *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->ns, sizeof(r->ns)) || !net_priv_ns_ok(ctx->prefix, r->ns) ||
	    r->op < 0 || r->op > NET_NETNS_FORWARD)
		FAIL(-EPERM, "bad namespace request");
	return 0;
}

static int addr_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_addr *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->ns, sizeof(r->ns)) || !net_priv_ns_ok(ctx->prefix, r->ns) ||
	    !priv_str_ok(r->dev, sizeof(r->dev)) || !net_ifname_ok(r->dev) ||
	    (!has_prefix(r->dev, ctx->prefix) && strcmp(r->dev, "lo")) || r->len < 1 ||
	    r->len > 32 || !r->addr || (r->del & ~1))
		FAIL(-EPERM, "bad address request");
	return 0;
}

static int route_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_route *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->ns, sizeof(r->ns)) || !net_priv_ns_ok(ctx->prefix, r->ns) || !r->via)
		FAIL(-EPERM, "bad route request");
	return 0;
}

static int fdb_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_fdb *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->dev, sizeof(r->dev)) || !root_name_ok(ctx, r->dev, 0) || !r->dst ||
	    (r->del & ~1))
		FAIL(-EPERM, "bad FDB request");
	return 0;
}

static int file_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_file *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->ns, sizeof(r->ns)) ||
	    (r->ns[0] && !net_priv_ns_ok(ctx->prefix, r->ns)) ||
	    !priv_str_ok(r->rel, sizeof(r->rel)) || !priv_path_ok(r->rel) ||
	    !priv_str_ok(r->iface, sizeof(r->iface)) ||
	    (r->iface[0] && !root_name_ok(ctx, r->iface, 0)))
		FAIL(-EPERM, "bad file request");
	return 0;
}

static int dnsmasq_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_file *r = req;
	int rc = file_check(h, req, err, errlen);
	if (rc == 0 && (!r->ns[0] || !r->iface[0]))
		FAIL(-EPERM, "dnsmasq runs in a namespace on one interface");
	return rc;
}

static int stop_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_stop *r = req;
	if (r->pid <= 1 || !priv_str_ok(r->iface, sizeof(r->iface)) ||
	    !root_name_ok(priv_data(h), r->iface, 0))
		FAIL(-EPERM, "bad dnsmasq stop request");
	return 0;
}

/* ---- runs ------------------------------------------------------------------------------ */

static int run_argv_err(const struct net_argv *a, char *err, size_t errlen)
{
	char out[PRIV_ERR_MAX];
	int rc = proc_run(a->argv, CMD_TIMEOUT_MS, out, sizeof(out));
	if (rc == 0)
		return 0;
	size_t n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	snprintf(err, errlen, "%.16s %.32s: %.160s", a->argv[0], a->n > 2 ? a->argv[2] : "",
	         rc < 0 ? strerror(-rc) : out);
	return rc < 0 ? rc : -EIO;
}

static int run_argv(const struct net_argv *a, struct priv_reply *rep)
{
	return run_argv_err(a, rep->err, sizeof(rep->err));
}

/* 1 when name is a tap the kernel has now (sysfs shows tun_flags only for tun/tap). */
static int tap_exists(const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	return access(path, F_OK) == 0;
}

int net_priv_tap_adoptable(int rc, const char *err)
{
	return rc == -EIO && strstr(err, "Device or resource busy") != NULL;
}

/* The uid of user (a name or a number), or -ENOENT. */
static long user_uid(const char *user)
{
	char *end;
	long n = strtol(user, &end, 10);
	if (user[0] && !*end && n >= 0)
		return n;
	struct passwd pw, *res = NULL;
	char buf[1024];
	if (getpwnam_r(user, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	return (long)pw.pw_uid;
}

/* The mark converge and LINK_DEL recognise Nubo's links by (and a tap's MTU, the
 * master, up), over rtnetlink: b's `ip link set dev NAME alias MARK [mtu N] [master
 * M] [up]`. */
static int link_mark(const struct net_priv_ctx *ctx, const struct net_priv_link *l, char *err,
                     size_t errlen)
{
	char alias[64];
	struct net_nl_msg m;
	snprintf(alias, sizeof(alias), NET_ALIAS_PREFIX "%s", ctx->prefix);
	struct net_nl_link nl = {
	    .name = l->name, .alias = alias, .mtu = l->kind == NET_LINK_TAP ? l->mtu : 0};
	/* the mark first, on its own: a master that cannot be found (its bridge's add
	 * failed in the same converge) must not leave a link nothing will delete, since
	 * only marked links are removed (review s8 M5); converge's next LINK_SET plugs it */
	net_nl_link_set_msg(&m, 1, &nl);
	if (net_nl_talk(&m, l->name, err, errlen) < 0)
		return -EIO;
	if (!l->master[0] && !l->up)
		return 0;
	struct net_nl_link plug = {.name = l->name, .up = l->up};
	if (l->master[0] && (plug.master = net_nl_ifindex(l->master, err, errlen)) < 0)
		return -EIO;
	net_nl_link_set_msg(&m, 2, &plug);
	return net_nl_talk(&m, l->name, err, errlen) < 0 ? -EIO : 0;
}

int net_priv_link_add_exec(const struct net_priv_ctx *ctx, const struct net_priv_link *l, char *err,
                           size_t errlen)
{
	struct net_argv a, b;
	int rc = net_priv_link_argv(ctx, NET_PRIV_LINK_ADD, l, &a, &b, err, errlen);
	if (rc == 0 && l->kind == NET_LINK_TAP) {
		/* a's `ip tuntap add`, as the TUNSETIFF/OWNER/PERSIST ioctls it makes */
		long uid = user_uid(ctx->tap_user);
		if (uid < 0) {
			snprintf(err, errlen, "tap user %s: no such user", ctx->tap_user);
			return -EINVAL;
		}
		rc = net_nl_tap_add(l->name, (uint32_t)uid, err, errlen) < 0 ? -EIO : 0;
	} else if (rc == 0) {
		rc = run_argv_err(&a, err, errlen);
	}
	/* the compute agent's helper opened (so created) the tap between converge's read
	 * of the kernel and this add: TUNSETIFF then fails with EBUSY. The tap is there
	 * and QEMU holds it: adopt it (mark, MTU) instead of failing the sync. */
	if (l->kind == NET_LINK_TAP && net_priv_tap_adoptable(rc, err) && tap_exists(l->name))
		rc = 0;
	if (rc == 0)
		rc = link_mark(ctx, l, err, errlen);
	return rc;
}

static int link_add_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	return net_priv_link_add_exec(priv_data(h), req, rep->err, sizeof(rep->err));
}

/* Only a link that carries Nubo's mark (or a VM tap no one marked) is deleted. */
static int link_del_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_link *l = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	char path[128], alias[64] = "", want[64];
	struct net_argv a, b;
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifalias", l->name);
	snprintf(want, sizeof(want), NET_ALIAS_PREFIX "%s", ctx->prefix);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* gone already */
	ssize_t n = read(fd, alias, sizeof(alias) - 1);
	close(fd);
	alias[n > 0 ? n : 0] = '\0';
	alias[strcspn(alias, "\n")] = '\0';
	if (strcmp(alias, want)) {
		snprintf(rep->err, sizeof(rep->err), "%s does not carry Nubo's mark", l->name);
		return -EPERM;
	}
	int rc =
	    net_priv_link_argv(ctx, NET_PRIV_LINK_DEL, req, &a, &b, rep->err, sizeof(rep->err));
	if (rc < 0)
		return rc;
	struct net_nl_msg m;
	net_nl_link_del_msg(&m, 1, l->name);
	rc = net_nl_talk(&m, l->name, rep->err, sizeof(rep->err));
	return rc == -ENODEV ? 0 : rc < 0 ? -EIO : 0;
}

/* a's `ip [-n NS] link set dev NAME [master M] [mtu N] [address MAC] [up]`, over
 * rtnetlink inside NS. */
static int link_set_nl(const struct net_priv_link *l, char *err, size_t errlen)
{
	uint8_t mac[6];
	struct net_nl_msg m;
	struct net_nl_link nl = {.name = l->name, .mtu = l->mtu, .up = l->up};
	if (l->mac[0]) {
		if (sscanf(l->mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
		           &mac[3], &mac[4], &mac[5]) != 6) {
			snprintf(err, errlen, "bad MAC %s", l->mac);
			return -EINVAL;
		}
		nl.mac = mac;
	}
	int self, rc = net_nl_ns_enter(l->ns, &self, err, errlen);
	if (rc < 0)
		return rc;
	if (l->master[0])
		rc = nl.master = net_nl_ifindex(l->master, err, errlen);
	if (rc >= 0) {
		net_nl_link_set_msg(&m, 1, &nl);
		rc = net_nl_talk(&m, l->name, err, errlen);
	}
	net_nl_ns_leave(self);
	return rc < 0 ? -EIO : 0;
}

static int link_set_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	struct net_argv a, b;
	int rc = net_priv_link_argv(priv_data(h), NET_PRIV_LINK_SET, req, &a, &b, rep->err,
	                            sizeof(rep->err));
	return rc < 0 ? rc : link_set_nl(req, rep->err, sizeof(rep->err));
}

/* `ip netns exec NS sysctl -qw net.ipv4.ip_forward=1` without either program: the
 * helper enters NS and writes the sysctl there (/proc/sys/net is the opener's
 * namespace's). */
static int ns_forward(const char *ns, char *err, size_t errlen)
{
	int self, rc = net_nl_ns_enter(ns, &self, err, errlen);
	if (rc < 0)
		return rc;
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2) {
		rc = -errno;
		snprintf(err, errlen, "%s: ip_forward: %s", ns, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	net_nl_ns_leave(self);
	return rc < 0 ? -EIO : 0;
}

static int netns_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_netns *r = req;
	struct net_argv a;
	if (r->op == NET_NETNS_FORWARD)
		return ns_forward(r->ns, rep->err, sizeof(rep->err));
	av_init(&a);
	av_add(&a, IP_BIN);
	av_add(&a, "netns"), av_add(&a, r->op == NET_NETNS_ADD ? "add" : "del");
	av_add(&a, "%s", r->ns);
	int rc = run_argv(&a, rep);
	if (rc == 0 && r->op == NET_NETNS_ADD) {
		struct net_priv_link lo = {.name = "lo", .up = 1};
		snprintf(lo.ns, sizeof(lo.ns), "%s", r->ns);
		rc = link_set_nl(&lo, rep->err, sizeof(rep->err));
	}
	return rc;
}

/* `ip -n NS addr replace|del A/LEN dev D` over rtnetlink inside NS. */
static int addr_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_addr *r = req;
	struct net_nl_msg m;
	int self, rc = net_nl_ns_enter(r->ns, &self, rep->err, sizeof(rep->err));
	if (rc < 0)
		return rc;
	int ifindex = net_nl_ifindex(r->dev, rep->err, sizeof(rep->err));
	if (ifindex >= 0) {
		net_nl_addr_msg(&m, 1, ifindex, r->addr, r->len, r->del);
		rc = net_nl_talk(&m, r->dev, rep->err, sizeof(rep->err));
	}
	net_nl_ns_leave(self);
	return ifindex < 0 || rc < 0 ? -EIO : 0;
}

/* `ip -n NS route replace default via V` over rtnetlink inside NS. */
static int route_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_route *r = req;
	struct net_nl_msg m;
	int self, rc = net_nl_ns_enter(r->ns, &self, rep->err, sizeof(rep->err));
	if (rc < 0)
		return rc;
	net_nl_route_default_msg(&m, 1, r->via);
	rc = net_nl_talk(&m, "default route", rep->err, sizeof(rep->err));
	net_nl_ns_leave(self);
	return rc < 0 ? -EIO : 0;
}

static int fdb_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_fdb *r = req;
	struct net_argv a;
	av_init(&a);
	av_add(&a, "bridge"), av_add(&a, "fdb"), av_add(&a, r->del ? "del" : "append");
	av_add(&a, "00:00:00:00:00:00"), av_add(&a, "dev"), av_add(&a, "%s", r->dev);
	av_add(&a, "dst"), av_add(&a, "%s", IPS(r->dst));
	int rc = run_argv(&a, rep);
	/* append of an entry that is there already fails with "File exists" */
	if (rc == -EIO && !r->del && strstr(rep->err, "exists")) {
		rep->err[0] = '\0';
		rc = 0;
	}
	return rc;
}

/* The worker's file rel, read without following a symlink (a plain file of the
 * worker, at most FILE_MAX), copied into a sealed memfd without O_CLOEXEC: the
 * program run next reads it as /dev/fd/N. Returns the fd and the text in *text
 * (owned) or a negative errno. */
static int file_snapshot(struct priv_helper *h, const char *rel, char **text,
                         struct priv_reply *rep)
{
	struct stat st;
	*text = NULL;
	int fd = priv_open(h, rel, O_RDONLY, 0);
	if (fd < 0) {
		snprintf(rep->err, sizeof(rep->err), "%s: %s", rel, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != priv_worker_uid(h) ||
	    st.st_size > FILE_MAX) {
		close(fd);
		snprintf(rep->err, sizeof(rep->err), "%s: not a plain file of the agent", rel);
		return -EPERM;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (n != st.st_size) {
		free(buf);
		snprintf(rep->err, sizeof(rep->err), "%s: short read", rel);
		return -EIO;
	}
	buf[n] = '\0';
	int mfd = memfd_create("nubo-net", MFD_ALLOW_SEALING);
	if (mfd < 0 || write(mfd, buf, (size_t)n) != n ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0 ||
	    lseek(mfd, 0, SEEK_SET) < 0) {
		if (mfd >= 0)
			close(mfd);
		free(buf);
		snprintf(rep->err, sizeof(rep->err), "memfd: %s", strerror(errno));
		return -EIO;
	}
	*text = buf;
	return mfd;
}

/* The snapshot of the worker's ruleset applied by libnftables in the helper, inside
 * the namespace: one transaction, as `[ip netns exec NS] nft -f FILE`. */
static int nft_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_file *r = req;
	char *text;
	int fd = file_snapshot(h, r->rel, &text, rep);
	if (fd < 0)
		return fd;
	close(fd);
	/* the worker wrote the text: it may touch Nubo's tables only */
	int rc = net_priv_nft_ok(priv_data(h), text, rep->err, sizeof(rep->err));
	if (rc == 0)
		rc = net_nft_apply(r->ns, text, rep->err, sizeof(rep->err));
	free(text);
	return rc;
}

static int dnsmasq_start_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_file *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	char *text;
	int fd = file_snapshot(h, r->rel, &text, rep);
	if (fd < 0)
		return fd;
	int rc = net_priv_dnsmasq_conf_ok(ctx, text, rep->err, sizeof(rep->err));
	free(text);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	char ifopt[64];
	snprintf(ifopt, sizeof(ifopt), "--interface=%s", r->iface);
	const char *argv[] = {IP_BIN,
	                      "netns",
	                      "exec",
	                      r->ns,
	                      "dnsmasq",
	                      "--keep-in-foreground",
	                      "--conf-file=/dev/fd/3",
	                      "--pid-file",
	                      ifopt,
	                      NULL};
	int fds[] = {fd};
	struct priv_spawn sp = {
	    .argv = argv,
	    .fds = fds,
	    .n_fds = 1,
	    .out_fd = -1,
	    .cwd_fd = -1,
	    .tag = r->iface,
	};
	pid_t pid = priv_spawn(h, &sp, rep->err, sizeof(rep->err));
	close(fd);
	if (pid < 0)
		return pid;
	int32_t p32 = pid;
	memcpy(rep->data, &p32, sizeof(p32));
	rep->len = sizeof(p32);
	return 0;
}

static int dnsmasq_stop_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_stop *r = req;
	char ifopt[64];
	snprintf(ifopt, sizeof(ifopt), "--interface=%s", r->iface);
	if (!proc_alive(r->pid, ifopt) || !proc_alive(r->pid, "dnsmasq")) {
		snprintf(rep->err, sizeof(rep->err), "pid %d is not the dnsmasq of %s", (int)r->pid,
		         r->iface);
		return -ESRCH;
	}
	if (kill(r->pid, SIGKILL) < 0) {
		snprintf(rep->err, sizeof(rep->err), "kill: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* Enters ns, makes the listening socket there and comes back: a socket keeps the
 * namespace it was made in. */
static int meta_listen_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_netns *r = req;
	char path[128];
	int rc = 0, sfd = -1;
	snprintf(path, sizeof(path), "/run/netns/%s", r->ns);
	int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	int nsfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (self < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0) {
		snprintf(rep->err, sizeof(rep->err), "%s: %s", r->ns, strerror(errno));
		rc = -errno;
		goto out;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons(80),
	                         .sin_addr.s_addr = htonl(NET_METADATA_IP)};
	int one = 1;
	sfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sfd < 0 || setsockopt(sfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(sfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(sfd, 64) < 0) {
		snprintf(rep->err, sizeof(rep->err), "169.254.169.254:80 in %s: %s", r->ns,
		         strerror(errno));
		rc = -errno;
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		/* the helper must not go on in the wrong namespace */
		_exit(1);
	}
	if (rc == 0) {
		rep->fds[0] = sfd;
		rep->n_fds = 1;
		sfd = -1;
	}
out:
	if (sfd >= 0)
		close(sfd);
	if (nsfd >= 0)
		close(nsfd);
	if (self >= 0)
		close(self);
	return rc;
}

static int meta_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct net_priv_netns *r = req;
	const struct net_priv_ctx *ctx = priv_data(h);
	if (!priv_str_ok(r->ns, sizeof(r->ns)) || !net_priv_ns_ok(ctx->prefix, r->ns) || r->op)
		FAIL(-EPERM, "bad metadata listener request");
	return 0;
}

/* Families of the tables nubo-net writes. */
static const char *const nft_families[] = {"ip", "inet", "bridge"};

/* Words that never appear inside a table of a generated ruleset: the scanner's file
 * and variable directives (include reads any file as root and echoes it in the
 * error) and the words of commands on the whole ruleset or on another table. */
static const char *const nft_block_denied[] = {"include",  "define",  "redefine",
                                               "undefine", "ruleset", "table"};

static int word_in(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w, list[i]))
			return 1;
	return 0;
}

/* 1 when words (n of them) are `[delete] table FAMILY NAME` with NAME Nubo's. */
static int nft_table_words_ok(const struct net_priv_ctx *ctx, char words[][64], int n, int del)
{
	int t = del ? 1 : 0;
	if (n != t + 3 || (del && strcmp(words[0], "delete")) || strcmp(words[t], "table") ||
	    !word_in(words[t + 1], nft_families, sizeof(nft_families) / sizeof(nft_families[0])))
		return 0;
	const char *name = words[t + 2];
	size_t p = strlen(ctx->prefix);
	if (!has_prefix(name, ctx->prefix) || name[p] != '_' || !name[p + 1])
		return 0;
	for (const char *c = name + p + 1; *c; c++)
		if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
			return 0;
	return 1;
}

int net_priv_nft_ok(const struct net_priv_ctx *ctx, const char *text, char *err, size_t errlen)
{
	char words[4][64], word[64];
	int nw = 0, depth = 0, line = 1;
	size_t wl = 0;
	for (const char *p = text;; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || c == '_' || c == '-') {
			if (wl + 1 >= sizeof(word))
				FAIL(-EPERM, "nft ruleset: line %d: word too long", line);
			word[wl++] = (char)c;
			continue;
		}
		if (wl) { /* a word ends here */
			word[wl] = '\0';
			wl = 0;
			if (depth > 0 &&
			    word_in(word, nft_block_denied,
			            sizeof(nft_block_denied) / sizeof(nft_block_denied[0])))
				FAIL(-EPERM, "nft ruleset: line %d: '%s' is not allowed", line,
				     word);
			if (depth == 0) {
				if (nw == 4)
					FAIL(-EPERM, "nft ruleset: line %d: not a table of Nubo's",
					     line);
				memcpy(words[nw++], word, strlen(word) + 1);
			}
		}
		if (c == '#') { /* a comment, to the end of the line */
			while (p[1] && p[1] != '\n')
				p++;
			continue;
		}
		if (c == '"') {
			const char *q = p + 1;
			while (*q && *q != '"' && *q != '\n')
				q++;
			if (*q != '"')
				FAIL(-EPERM, "nft ruleset: line %d: unclosed string", line);
			if (depth == 0)
				FAIL(-EPERM, "nft ruleset: line %d: string outside a table", line);
			for (const char *s = p + 1; s < q; s++)
				if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
					FAIL(-EPERM, "nft ruleset: line %d: control character",
					     line);
			p = q;
			continue;
		}
		if (c == '$')
			FAIL(-EPERM, "nft ruleset: line %d: variables are not allowed", line);
		if ((c < 0x20 && c != '\n' && c != '\t' && c != '\0') || c >= 0x7f)
			FAIL(-EPERM, "nft ruleset: line %d: control or non-ASCII character", line);
		if (c == '{') {
			if (depth == 0 && !nft_table_words_ok(ctx, words, nw, 0))
				FAIL(-EPERM,
				     "nft ruleset: line %d: a block that is not a table of Nubo's",
				     line);
			nw = 0;
			if (++depth > 8)
				FAIL(-EPERM, "nft ruleset: line %d: nested too deep", line);
		} else if (c == '}') {
			if (depth == 0)
				FAIL(-EPERM, "nft ruleset: line %d: unbalanced '}'", line);
			depth--;
		} else if (depth == 0 && (c == '\n' || c == ';' || c == '\0')) {
			if (nw && !nft_table_words_ok(ctx, words, nw, 1))
				FAIL(-EPERM,
				     "nft ruleset: line %d: only Nubo's tables may be changed",
				     line);
			nw = 0;
		} else if (depth == 0 && c != ' ' && c != '\t') {
			FAIL(-EPERM, "nft ruleset: line %d: unexpected '%c'", line, c);
		}
		if (c == '\0')
			break;
		if (c == '\n')
			line++;
	}
	if (depth != 0)
		FAIL(-EPERM, "nft ruleset: unbalanced '{'");
	return 0;
}

int net_priv_garp_ok(const struct net_priv_ctx *ctx, const struct net_priv_garp *r, char *err,
                     size_t errlen)
{
	if (!priv_str_ok(r->ns, sizeof(r->ns)) || !net_priv_ns_ok(ctx->prefix, r->ns) ||
	    !priv_str_ok(r->dev, sizeof(r->dev)) || !net_ifname_ok(r->dev) ||
	    !has_prefix(r->dev, ctx->prefix) || !r->addr || r->addr == 0xffffffffu)
		FAIL(-EPERM, "bad gratuitous ARP request");
	return 0;
}

static int garp_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	return net_priv_garp_ok(priv_data(h), req, err, errlen);
}

static int garp_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct net_priv_garp *r = req;
	return net_garp_send(r->ns, r->dev, r->addr, rep->err, sizeof(rep->err));
}

const struct priv_op net_priv_ops[] = {
    {NET_PRIV_LINK_ADD, "link_add", sizeof(struct net_priv_link), link_add_check, link_add_run},
    {NET_PRIV_LINK_DEL, "link_del", sizeof(struct net_priv_link), link_del_check, link_del_run},
    {NET_PRIV_LINK_SET, "link_set", sizeof(struct net_priv_link), link_set_check, link_set_run},
    {NET_PRIV_NETNS, "netns", sizeof(struct net_priv_netns), netns_check, netns_run},
    {NET_PRIV_ADDR, "addr", sizeof(struct net_priv_addr), addr_check, addr_run},
    {NET_PRIV_ROUTE, "route", sizeof(struct net_priv_route), route_check, route_run},
    {NET_PRIV_FDB, "fdb", sizeof(struct net_priv_fdb), fdb_check, fdb_run},
    {NET_PRIV_NFT, "nft", sizeof(struct net_priv_file), file_check, nft_run},
    {NET_PRIV_DNSMASQ_START, "dnsmasq_start", sizeof(struct net_priv_file), dnsmasq_check,
     dnsmasq_start_run},
    {NET_PRIV_DNSMASQ_STOP, "dnsmasq_stop", sizeof(struct net_priv_stop), stop_check,
     dnsmasq_stop_run},
    {NET_PRIV_META_LISTEN, "meta_listen", sizeof(struct net_priv_netns), meta_check,
     meta_listen_run},
    {NET_PRIV_GARP, "garp", sizeof(struct net_priv_garp), garp_check, garp_run},
};
const size_t net_priv_n_ops = sizeof(net_priv_ops) / sizeof(net_priv_ops[0]);

/* ---- worker side ------------------------------------------------------------------------ */

static int call(struct priv *p, uint32_t type, const void *req, size_t len, char *err,
                size_t errlen)
{
	return priv_call(p, type, req, len, NULL, 0, NULL, NULL, 0, NULL, err, errlen);
}

int net_priv_link(struct priv *p, uint32_t type, const struct net_priv_link *l, char *err,
                  size_t errlen)
{
	return call(p, type, l, sizeof(*l), err, errlen);
}

int net_priv_netns(struct priv *p, int op, const char *ns, char *err, size_t errlen)
{
	struct net_priv_netns r = {.op = op};
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	return call(p, NET_PRIV_NETNS, &r, sizeof(r), err, errlen);
}

int net_priv_addr(struct priv *p, const char *ns, const char *dev, uint32_t addr, int len, int del,
                  char *err, size_t errlen)
{
	struct net_priv_addr r = {.addr = addr, .len = len, .del = del};
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	return call(p, NET_PRIV_ADDR, &r, sizeof(r), err, errlen);
}

int net_priv_route(struct priv *p, const char *ns, uint32_t via, char *err, size_t errlen)
{
	struct net_priv_route r = {.via = via};
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	return call(p, NET_PRIV_ROUTE, &r, sizeof(r), err, errlen);
}

int net_priv_fdb(struct priv *p, const char *dev, uint32_t dst, int del, char *err, size_t errlen)
{
	struct net_priv_fdb r = {.dst = dst, .del = del};
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	return call(p, NET_PRIV_FDB, &r, sizeof(r), err, errlen);
}

int net_priv_nft(struct priv *p, const char *ns, const char *rel, char *err, size_t errlen)
{
	struct net_priv_file r = {0};
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	snprintf(r.rel, sizeof(r.rel), "%s", rel);
	return call(p, NET_PRIV_NFT, &r, sizeof(r), err, errlen);
}

pid_t net_priv_dnsmasq_start(struct priv *p, const char *ns, const char *rel, const char *iface,
                             char *err, size_t errlen)
{
	struct net_priv_file r = {0};
	int32_t pid = 0;
	size_t got = 0;
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	snprintf(r.rel, sizeof(r.rel), "%s", rel);
	snprintf(r.iface, sizeof(r.iface), "%s", iface);
	int rc = priv_call(p, NET_PRIV_DNSMASQ_START, &r, sizeof(r), &pid, sizeof(pid), &got, NULL,
	                   0, NULL, err, errlen);
	if (rc < 0)
		return rc;
	return got == sizeof(pid) && pid > 0 ? pid : -EPROTO;
}

int net_priv_dnsmasq_stop(struct priv *p, pid_t pid, const char *iface, char *err, size_t errlen)
{
	struct net_priv_stop r = {.pid = pid};
	snprintf(r.iface, sizeof(r.iface), "%s", iface);
	return call(p, NET_PRIV_DNSMASQ_STOP, &r, sizeof(r), err, errlen);
}

int net_priv_meta_listen(struct priv *p, const char *ns, char *err, size_t errlen)
{
	struct net_priv_netns r = {.op = 0};
	int fd = -1, n = 0;
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	int rc = priv_call(p, NET_PRIV_META_LISTEN, &r, sizeof(r), NULL, 0, NULL, &fd, 1, &n, err,
	                   errlen);
	if (rc < 0)
		return rc;
	return n == 1 ? fd : -EPROTO;
}

int net_priv_garp(struct priv *p, const char *ns, const char *dev, uint32_t addr, char *err,
                  size_t errlen)
{
	struct net_priv_garp r = {.addr = addr};
	snprintf(r.ns, sizeof(r.ns), "%s", ns);
	snprintf(r.dev, sizeof(r.dev), "%s", dev);
	return call(p, NET_PRIV_GARP, &r, sizeof(r), err, errlen);
}

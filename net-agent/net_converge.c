/* Converge (see net_converge.h). */
#include "net_converge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "net_garp.h"
#include "net_gen.h"
#include "net_meta.h"
#include "net_nl.h"
#include "net_priv.h"
#include "proc.h"
#include "util.h"
#include "xalloc.h"

#define LIST_MAX (4 * 1024 * 1024) /* output of ip -j link show */
#define KLINKS_MAX 4096
#define KNS_MAX 512

struct klink {
	char name[NET_IFNAME_MAX];
	char kind[16];
	char master[NET_IFNAME_MAX];
	int ours; /* carries Nubo's mark */
	int mtu, up, id;
	uint32_t local; /* VXLAN: its source address (0: not read) */
};

struct net_conv {
	struct net_host h;
	struct priv *priv;
	struct net_plan plan;
	int started; /* a converge ran since the agent started */
	int n_links;
	struct klink links[KLINKS_MAX];
	int n_ns;
	char ns[KNS_MAX][NET_NS_MAX];
	char *last_host_nft;
	char *last_fdb; /* the flood entries applied (skips reading them back) */
	struct net_meta *meta;
	int n_dns; /* the dnsmasq processes serving Nubo's interfaces, read once per converge */
	struct {
		pid_t pid;
		char iface[NET_IFNAME_MAX];
	} dns[KNS_MAX];
	struct net_garp_sched garp; /* gratuitous ARP repeats still to send */
	int n_ids;
	struct {
		char name[NET_IFNAME_MAX];
		int id;
	} ids[KLINKS_MAX];
};

void net_conv_set_meta(struct net_conv *c, struct net_meta *m)
{
	c->meta = m;
}

struct net_conv *net_conv_new(const struct net_host *h, struct priv *p)
{
	struct net_conv *c = xcalloc(1, sizeof(*c));
	c->h = *h;
	c->priv = p;
	return c;
}

void net_conv_free(struct net_conv *c)
{
	if (!c)
		return;
	free(c->last_host_nft);
	free(c->last_fdb);
	free(c);
}

struct net_host *net_conv_host(struct net_conv *c)
{
	return &c->h;
}

static void first_err(int *rc, int r, char *err, size_t errlen, const char *what, const char *e)
{
	if (r >= 0)
		return;
	log_warn("converge: %s: %s", what, e);
	if (*rc == 0) {
		*rc = r;
		snprintf(err, errlen, "%s: %s", what, e);
	}
}

/* ---- the agent's own files ------------------------------------------------------------ */

/* Writes path whole (temp file + rename: a reader or a killed agent never sees half of
 * it) without fs_write_atomic's fsync: these files describe kernel state, which a
 * crash of the host loses too (a start reapplies the tables whatever they say), and
 * an fsync per converge step cost more than the step. 0 or a negative errno. */
static int state_write(const char *path, const char *text, mode_t mode)
{
	char tmp[560];
	size_t len = strlen(text);
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int rc = 0, fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t off = 0; off < len && rc == 0;) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno != EINTR)
			rc = -errno;
		off += n > 0 ? (size_t)n : 0;
	}
	if (rc == 0 && fchmod(fd, mode) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* ---- reading the kernel ------------------------------------------------------------- */

static void link_id_remember(struct net_conv *c, const char *name, int id)
{
	for (int i = 0; i < c->n_ids; i++)
		if (!strcmp(c->ids[i].name, name)) {
			c->ids[i].id = id;
			return;
		}
	if (c->n_ids < KLINKS_MAX) {
		snprintf(c->ids[c->n_ids].name, sizeof(c->ids[0].name), "%s", name);
		c->ids[c->n_ids++].id = id;
	}
}

/* The VNI or VLAN id of a link (ip -d: sysfs does not show it), remembered. */
static int link_id(struct net_conv *c, struct klink *k)
{
	for (int i = 0; i < c->n_ids; i++)
		if (!strcmp(c->ids[i].name, k->name))
			return c->ids[i].id;
	const char *argv[] = {"ip", "-j", "-d", "link", "show", "dev", k->name, NULL};
	char out[16384];
	int id = -1;
	if (proc_run(argv, 10000, out, sizeof(out)) == 0) {
		json_t *list = json_loads(out, 0, NULL);
		json_t *li = json_object_get(json_array_get(list, 0), "linkinfo");
		id = (int)json_integer_value(
		    json_object_get(json_object_get(li, "info_data"), "id"));
		json_decref(list);
	}
	link_id_remember(c, k->name, id);
	return id;
}

struct read_arg {
	struct net_conv *c;
	const char *mark;
	int index[KLINKS_MAX], master[KLINKS_MAX]; /* per c->links[i] */
};

static void link_seen(const struct net_nl_linkinfo *li, void *arg)
{
	struct read_arg *ra = arg;
	struct net_conv *c = ra->c;
	if (c->n_links >= KLINKS_MAX || strnlen(li->name, NET_IFNAME_MAX) >= NET_IFNAME_MAX)
		return;
	struct klink *k = &c->links[c->n_links];
	memset(k, 0, sizeof(*k));
	memcpy(k->name, li->name, strlen(li->name) + 1);
	k->ours = !strcmp(li->alias, ra->mark);
	k->mtu = li->mtu;
	k->up = li->up;
	k->local = li->local;
	snprintf(k->kind, sizeof(k->kind), "%s", li->kind[0] ? li->kind : "veth");
	if (li->id >= 0)
		link_id_remember(c, k->name, li->id);
	ra->index[c->n_links] = li->index;
	ra->master[c->n_links++] = li->master;
}

/* What the kernel has, from one rtnetlink dump (no program run, no file per link):
 * name, Nubo's mark, master, MTU, up, kind, VNI or VLAN id. */
static int links_read(struct net_conv *c, char *err, size_t errlen)
{
	char mark[64];
	snprintf(mark, sizeof(mark), NET_ALIAS_PREFIX "%s", c->h.prefix);
	struct read_arg *ra = xcalloc(1, sizeof(*ra));
	ra->c = c;
	ra->mark = mark;
	c->n_links = 0;
	int rc = net_nl_links_dump(link_seen, ra, KLINKS_MAX);
	if (rc < 0) {
		snprintf(err, errlen, "link dump: %s", strerror(-rc));
		free(ra);
		return -EIO;
	}
	for (int i = 0; i < c->n_links; i++)
		for (int j = 0; ra->master[i] && j < c->n_links; j++)
			if (ra->index[j] == ra->master[i])
				memcpy(c->links[i].master, c->links[j].name,
				       strlen(c->links[j].name) + 1);
	free(ra);
	return 0;
}

static struct klink *klink_find(struct net_conv *c, const char *name)
{
	for (int i = 0; i < c->n_links; i++)
		if (!strcmp(c->links[i].name, name))
			return &c->links[i];
	return NULL;
}

static void ns_read(struct net_conv *c)
{
	char pre[NET_PREFIX_MAX + 2];
	snprintf(pre, sizeof(pre), "%s-", c->h.prefix);
	c->n_ns = 0;
	DIR *d = opendir("/run/netns");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && c->n_ns < KNS_MAX) {
		size_t n = strnlen(e->d_name, NET_NS_MAX);
		if (!strncmp(e->d_name, pre, strlen(pre)) && n < NET_NS_MAX) {
			memcpy(c->ns[c->n_ns], e->d_name, n);
			c->ns[c->n_ns++][n] = '\0';
		}
	}
	closedir(d);
}

/* 1 when the cmdline of pid (NUL-separated, n bytes in buf) is a dnsmasq; then
 * *iface points at the interface of its first "--interface=<prefix>e..." (or NULL). */
static int dnsmasq_cmdline(const char *opt, size_t optlen, char *buf, int n, const char **iface)
{
	int is_dnsmasq = 0;
	*iface = NULL;
	for (char *a = buf; a < buf + n; a += strlen(a) + 1) {
		const char *base = strrchr(a, '/');
		if (!strcmp(base ? base + 1 : a, "dnsmasq"))
			is_dnsmasq = 1;
		if (is_dnsmasq && !*iface && !strncmp(a, opt, optlen) &&
		    strlen(a + 12) < NET_IFNAME_MAX)
			*iface = a + 12;
	}
	return is_dnsmasq;
}

/* The interface pid's dnsmasq serves into iface ("" when pid is no dnsmasq of ours). */
static void dnsmasq_of(struct net_conv *c, pid_t pid, char iface[NET_IFNAME_MAX])
{
	char opt[32], path[64], buf[4096];
	const char *ifc;
	int optlen = snprintf(opt, sizeof(opt), "--interface=%se", c->h.prefix);
	iface[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	int n = (int)read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	if (dnsmasq_cmdline(opt, (size_t)optlen, buf, n, &ifc) && ifc)
		memcpy(iface, ifc, strlen(ifc) + 1);
}

static void dns_add(struct net_conv *c, pid_t pid, const char *iface)
{
	if (c->n_dns < KNS_MAX) {
		c->dns[c->n_dns].pid = pid;
		snprintf(c->dns[c->n_dns++].iface, NET_IFNAME_MAX, "%s", iface);
	}
}

static void dns_forget(struct net_conv *c, pid_t pid)
{
	for (int i = 0; i < c->n_dns; i++)
		if (c->dns[i].pid == pid)
			c->dns[i--] = c->dns[--c->n_dns];
}

/* Every dnsmasq serving an interface with Nubo's prefix. The first converge scans
 * every process in /proc (the box may run hundreds, and reading another process's
 * cmdline waits for its memory map lock); later ones only check that the ones
 * known (found then, or started since) still run: nubo-net starts them all. */
static void dnsmasq_read(struct net_conv *c)
{
	char iface[NET_IFNAME_MAX];
	if (c->started) {
		for (int i = 0; i < c->n_dns; i++) {
			dnsmasq_of(c, c->dns[i].pid, iface);
			if (strcmp(iface, c->dns[i].iface))
				c->dns[i--] = c->dns[--c->n_dns];
		}
		return;
	}
	c->n_dns = 0;
	DIR *d = opendir("/proc");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) && c->n_dns < KNS_MAX) {
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid <= 1)
			continue;
		dnsmasq_of(c, pid, iface);
		if (iface[0])
			dns_add(c, pid, iface);
	}
	closedir(d);
}

/* Calls fn for each dnsmasq dnsmasq_read found. */
static void dnsmasq_each(struct net_conv *c,
                         void (*fn)(struct net_conv *, pid_t, const char *, void *), void *arg)
{
	for (int i = 0; i < c->n_dns; i++)
		fn(c, c->dns[i].pid, c->dns[i].iface, arg);
}

/* ---- small helpers -------------------------------------------------------------------- */

static int plan_has_ns(const struct net_plan *p, const char *ns)
{
	for (int i = 0; i < p->n_ns; i++)
		if (!strcmp(p->ns[i].name, ns))
			return 1;
	return 0;
}

static const char *const kernel_kinds[] = {"bridge", "vxlan", "vlan", "tun", "veth"};

/* ---- removal ---------------------------------------------------------------------------- */

struct stop_arg {
	pid_t stopped[KNS_MAX]; /* forgotten once the walk is over */
	int n_stopped;
	const struct net_plan *plan;
	int only_iface; /* stop every dnsmasq of a removed interface */
	struct net_conv_stats *st;
	int *rc;
	char *err;
	size_t errlen;
};

static void stop_unwanted(struct net_conv *c, pid_t pid, const char *iface, void *arg)
{
	struct stop_arg *s = arg;
	/* the DHCP interface inside the namespace is the 'e' end of a planned veth */
	for (int i = 0; i < s->plan->n_links; i++)
		if (s->plan->links[i].kind == NET_LINK_VETH &&
		    !strcmp(s->plan->links[i].peer, iface))
			return;
	char e[PRIV_ERR_MAX];
	int r = net_priv_dnsmasq_stop(c->priv, pid, iface, e, sizeof(e));
	first_err(s->rc, r, s->err, s->errlen, "dnsmasq stop", e);
	if (r == 0)
		s->st->dnsmasq_stopped++;
	if (r == 0 || r == -ESRCH)
		s->stopped[s->n_stopped++] = pid;
}

static void remove_extra(struct net_conv *c, struct net_conv_stats *st, int *rc, char *err,
                         size_t errlen)
{
	char e[PRIV_ERR_MAX];
	struct stop_arg sa = {.plan = &c->plan, .st = st, .rc = rc, .err = err, .errlen = errlen};
	dnsmasq_each(c, stop_unwanted, &sa);
	for (int i = 0; i < sa.n_stopped; i++)
		dns_forget(c, sa.stopped[i]);
	for (int i = 0; i < c->n_links; i++) {
		struct klink *k = &c->links[i];
		if (!k->ours)
			continue;
		int wanted = 0;
		for (int j = 0; j < c->plan.n_links; j++) {
			const struct net_link *l = &c->plan.links[j];
			if (strcmp(l->name, k->name))
				continue;
			/* the same name but another kind or segment, or a VXLAN from another
			 * source address (the host's tunnel_ip changed, as when host-add.sh
			 * adds the first host: review s8 M3): rebuilt */
			wanted = !strcmp(k->kind, kernel_kinds[l->kind]) &&
			         ((l->kind != NET_LINK_VXLAN && l->kind != NET_LINK_VLAN) ||
			          link_id(c, k) == l->id) &&
			         (l->kind != NET_LINK_VXLAN || !k->local || k->local == l->local);
		}
		if (wanted)
			continue;
		log_debug("converge: removing %s (%s %d, not planned as such)", k->name, k->kind,
		          link_id(c, k));
		struct net_priv_link req = {0};
		snprintf(req.name, sizeof(req.name), "%s", k->name);
		int r = net_priv_link(c->priv, NET_PRIV_LINK_DEL, &req, e, sizeof(e));
		first_err(rc, r, err, errlen, k->name, e);
		if (r == 0) {
			st->links_removed++;
			k->name[0] = '\0';
		}
	}
	for (int i = 0; i < c->n_ns; i++) {
		if (plan_has_ns(&c->plan, c->ns[i]))
			continue;
		int r = net_priv_netns(c->priv, NET_NETNS_DEL, c->ns[i], e, sizeof(e));
		first_err(rc, r, err, errlen, c->ns[i], e);
		if (r == 0) {
			char path[512];
			st->ns_removed++;
			snprintf(path, sizeof(path), "%s/applied/%s", c->h.state_dir, c->ns[i]);
			unlink(path);
		}
	}
}

/* ---- adding -------------------------------------------------------------------------------- */

/* A namespace made now holds nothing: forget what was applied inside one of that
 * name before (its addresses, a router's NAT table), so that all of it is applied
 * (the router deleted and added again, the namespace deleted behind our back). */
static void ns_forget(struct net_conv *c, const char *ns)
{
	char path[512], r_prefix[16];
	snprintf(path, sizeof(path), "%s/applied/%s", c->h.state_dir, ns);
	unlink(path);
	snprintf(r_prefix, sizeof(r_prefix), "%s-r-", c->h.prefix);
	if (!strncmp(ns, r_prefix, strlen(r_prefix))) {
		snprintf(path, sizeof(path), "%s/nft/%s.nft", c->h.state_dir,
		         ns + strlen(r_prefix));
		unlink(path);
	}
}

static void add_links(struct net_conv *c, struct net_conv_stats *st, int *rc, char *err,
                      size_t errlen)
{
	char e[PRIV_ERR_MAX];
	for (int i = 0; i < c->plan.n_ns; i++) {
		int have = 0;
		for (int j = 0; j < c->n_ns; j++)
			have |= !strcmp(c->ns[j], c->plan.ns[i].name);
		if (have)
			continue;
		int r = net_priv_netns(c->priv, NET_NETNS_ADD, c->plan.ns[i].name, e, sizeof(e));
		if (r == 0 && c->plan.ns[i].kind == NET_NS_ROUTER)
			r = net_priv_netns(c->priv, NET_NETNS_FORWARD, c->plan.ns[i].name, e,
			                   sizeof(e));
		first_err(rc, r, err, errlen, c->plan.ns[i].name, e);
		if (r == 0) {
			st->ns_added++;
			ns_forget(c, c->plan.ns[i].name);
		}
	}
	for (int i = 0; i < c->plan.n_links; i++) {
		const struct net_link *l = &c->plan.links[i];
		struct klink *k = klink_find(c, l->name);
		int fresh = 0;
		if (!k || !k->name[0]) {
			struct net_priv_link req = {.kind = l->kind,
			                            .mtu = l->mtu,
			                            .id = l->id,
			                            .local = l->local,
			                            .port = l->port,
			                            .up = 1};
			snprintf(req.name, sizeof(req.name), "%s", l->name);
			snprintf(req.master, sizeof(req.master), "%s", l->master);
			snprintf(req.parent, sizeof(req.parent), "%s", l->parent);
			snprintf(req.peer, sizeof(req.peer), "%s", l->peer);
			snprintf(req.peer_ns, sizeof(req.peer_ns), "%s", l->peer_ns);
			int r = net_priv_link(c->priv, NET_PRIV_LINK_ADD, &req, e, sizeof(e));
			first_err(rc, r, err, errlen, l->name, e);
			if (r < 0)
				continue;
			st->links_added++;
			fresh = 1;
			if (l->kind == NET_LINK_VXLAN || l->kind == NET_LINK_VLAN)
				link_id_remember(c, l->name, l->id);
		}
		/* a fresh link was plugged in and set up by its LINK_ADD */
		if (!fresh && (strcmp(k->master, l->master) || k->mtu != l->mtu || !k->up)) {
			struct net_priv_link req = {.mtu = l->mtu, .up = 1};
			snprintf(req.name, sizeof(req.name), "%s", l->name);
			snprintf(req.master, sizeof(req.master), "%s", l->master);
			int r = net_priv_link(c->priv, NET_PRIV_LINK_SET, &req, e, sizeof(e));
			first_err(rc, r, err, errlen, l->name, e);
			st->links_set += r == 0;
		}
		if (fresh && l->kind == NET_LINK_VETH) {
			/* a new link has no addresses: all of its namespace's are applied */
			char path[512];
			snprintf(path, sizeof(path), "%s/applied/%s", c->h.state_dir, l->peer_ns);
			unlink(path);
			struct net_priv_link req = {.up = 1};
			snprintf(req.name, sizeof(req.name), "%s", l->peer);
			snprintf(req.ns, sizeof(req.ns), "%s", l->peer_ns);
			snprintf(req.mac, sizeof(req.mac), "%s", l->peer_mac);
			int r = net_priv_link(c->priv, NET_PRIV_LINK_SET, &req, e, sizeof(e));
			first_err(rc, r, err, errlen, l->peer, e);
		}
	}
}

/* VXLAN flood entries: the all-zero MAC towards every peer, and no other. */
static void fdb_converge(struct net_conv *c, int *rc, char *err, size_t errlen)
{
	char e[PRIV_ERR_MAX];
	char *want = xstrdup("");
	for (int f = 0; f < c->plan.n_fdb; f++) {
		char ip[16], *t = xasprintf("%s%s %s\n", want, c->plan.fdb[f].dev,
		                            net_ip_str(c->plan.fdb[f].dst, ip));
		free(want);
		want = t;
	}
	if (c->last_fdb && !strcmp(c->last_fdb, want)) {
		free(want);
		return;
	}
	int rc0 = *rc;
	for (int i = 0; i < c->plan.n_links; i++) {
		const struct net_link *l = &c->plan.links[i];
		if (l->kind != NET_LINK_VXLAN)
			continue;
		const char *argv[] = {"bridge", "-j", "fdb", "show", "dev", l->name, NULL};
		char *out = xmalloc(256 * 1024);
		json_t *list = NULL, *v;
		size_t j;
		if (proc_run(argv, 10000, out, 256 * 1024) == 0)
			list = json_loads(out, 0, NULL);
		free(out);
		uint32_t have[NET_PEERS_MAX * 2];
		int n_have = 0;
		json_array_foreach(list, j, v)
		{
			const char *mac = json_string_value(json_object_get(v, "mac"));
			const char *dst = json_string_value(json_object_get(v, "dst"));
			uint32_t ip;
			if (mac && dst && !strcmp(mac, "00:00:00:00:00:00") &&
			    net_ip_parse(dst, &ip, NULL) == 0 && n_have < NET_PEERS_MAX * 2)
				have[n_have++] = ip;
		}
		json_decref(list);
		for (int f = 0; f < c->plan.n_fdb; f++) {
			const struct net_fdb *d = &c->plan.fdb[f];
			int present = 0;
			for (int h = 0; h < n_have; h++)
				present |= have[h] == d->dst;
			if (strcmp(d->dev, l->name) || present)
				continue;
			int r = net_priv_fdb(c->priv, d->dev, d->dst, 0, e, sizeof(e));
			first_err(rc, r, err, errlen, d->dev, e);
		}
		for (int h = 0; h < n_have; h++) {
			int wanted = 0;
			for (int f = 0; f < c->plan.n_fdb; f++)
				wanted |= !strcmp(c->plan.fdb[f].dev, l->name) &&
				          c->plan.fdb[f].dst == have[h];
			if (!wanted) {
				int r = net_priv_fdb(c->priv, l->name, have[h], 1, e, sizeof(e));
				first_err(rc, r, err, errlen, l->name, e);
			}
		}
	}
	free(c->last_fdb);
	c->last_fdb = *rc == rc0 ? want : NULL;
	if (*rc != rc0)
		free(want);
}

/* "\naddr <dev> <ip> <len>\n": an address as the applied file has it, between the
 * newlines that make a strstr() in "\n" + that file match whole lines only. */
static const char *addr_line(const struct net_addr *x, char line[128])
{
	char ip[16];
	snprintf(line, 128, "\naddr %s %s %d\n", x->dev, net_ip_str(x->a.addr, ip), x->a.len);
	return line;
}

/* Gratuitous ARP for each address of router namespace ns that was not applied
 * before (before: "\n" + the applied lines): a neighbour holding the address with
 * an old MAC (another router had the floating IP, the gateway port was rebuilt
 * with a new MAC) learns the new one now. A failure is logged, not the sync's. */
static void announce(struct net_conv *c, const char *ns, const char *before)
{
	char e[PRIV_ERR_MAX], ip[16], line[128];
	for (int a = 0; a < c->plan.n_addrs; a++) {
		const struct net_addr *x = &c->plan.addrs[a];
		if (strcmp(x->ns, ns) || !strcmp(x->dev, "lo"))
			continue;
		if (strstr(before, addr_line(x, line)))
			continue;
		net_ip_str(x->a.addr, ip);
		if (net_priv_garp(c->priv, ns, x->dev, x->a.addr, e, sizeof(e)) < 0) {
			log_warn("converge: gratuitous ARP of %s in %s: %s", ip, ns, e);
		} else {
			log_debug("converge: gratuitous ARP of %s on %s in %s", ip, x->dev, ns);
			net_garp_sched_add(&c->garp, ns, x->dev, x->a.addr, time_mono_ms());
		}
	}
}

_Static_assert(NET_GARP_NS_MAX >= NET_NS_MAX && NET_GARP_DEV_MAX >= NET_IFNAME_MAX,
               "a repeat holds any namespace and link name");

/* 1 when the plan still puts addr on dev in ns. */
static int plan_has_addr(const struct net_conv *c, const struct net_garp_due *d)
{
	for (int a = 0; a < c->plan.n_addrs; a++)
		if (c->plan.addrs[a].a.addr == d->addr && !strcmp(c->plan.addrs[a].ns, d->ns) &&
		    !strcmp(c->plan.addrs[a].dev, d->dev))
			return 1;
	return 0;
}

int net_conv_garp_repeat(struct net_conv *c, int64_t now_ms)
{
	struct net_garp_due due[16];
	char e[PRIV_ERR_MAX], ip[16];
	int n, sent = 0;
	while ((n = net_garp_sched_take(&c->garp, now_ms, due, 16)) > 0)
		for (int i = 0; i < n; i++) {
			if (!plan_has_addr(c, &due[i]))
				continue; /* removed since: not announced again */
			net_ip_str(due[i].addr, ip);
			if (net_priv_garp(c->priv, due[i].ns, due[i].dev, due[i].addr, e,
			                  sizeof(e)) < 0) {
				log_info("gratuitous ARP repeat of %s in %s: %s", ip, due[i].ns, e);
			} else {
				log_debug("gratuitous ARP repeat of %s on %s in %s", ip, due[i].dev,
				          due[i].ns);
				sent++;
			}
		}
	return sent;
}

/* Addresses and routes inside each namespace: the desired lines against the ones
 * applied before (remembered in <state_dir>/applied/<ns>). */
static void ns_inside(struct net_conv *c, int *rc, char *err, size_t errlen)
{
	char e[PRIV_ERR_MAX], path[512], al[128];
	for (int i = 0; i < c->plan.n_ns; i++) {
		const char *ns = c->plan.ns[i].name;
		char *want = xstrdup(""), *t;
		for (int a = 0; a < c->plan.n_addrs; a++)
			if (!strcmp(c->plan.addrs[a].ns, ns)) {
				char ip[16];
				t = xasprintf("%saddr %s %s %d\n", want, c->plan.addrs[a].dev,
				              net_ip_str(c->plan.addrs[a].a.addr, ip),
				              c->plan.addrs[a].a.len);
				free(want);
				want = t;
			}
		for (int r = 0; r < c->plan.n_routes; r++)
			if (!strcmp(c->plan.routes[r].ns, ns)) {
				char ip[16];
				t = xasprintf("%sroute %s\n", want,
				              net_ip_str(c->plan.routes[r].via, ip));
				free(want);
				want = t;
			}
		snprintf(path, sizeof(path), "%s/applied/%s", c->h.state_dir, ns);
		char *had = fs_read(path, 1 << 20, NULL);
		if (had && !strcmp(had, want)) {
			free(had);
			free(want);
			continue;
		}
		int r = 0;
		char *before = xasprintf("\n%s", had ? had : "");
		/* remove what was applied and is no longer wanted */
		for (char *line = had ? strtok(had, "\n") : NULL; line; line = strtok(NULL, "\n")) {
			char dev[NET_IFNAME_MAX], ip[16];
			int len;
			uint32_t addr;
			char probe[128];
			snprintf(probe, sizeof(probe), "%s\n", line);
			if (strstr(want, probe) ||
			    sscanf(line, "addr %15s %15s %d", dev, ip, &len) != 3 ||
			    net_ip_parse(ip, &addr, NULL) < 0)
				continue;
			r = net_priv_addr(c->priv, ns, dev, addr, len, 1, e, sizeof(e));
			if (r < 0)
				log_info("converge: %s: %s (gone already)", ns, e);
		}
		free(had);
		int failed = 0;
		for (int a = 0; a < c->plan.n_addrs; a++)
			if (!strcmp(c->plan.addrs[a].ns, ns) &&
			    !strstr(before, addr_line(&c->plan.addrs[a], al))) {
				r = net_priv_addr(c->priv, ns, c->plan.addrs[a].dev,
				                  c->plan.addrs[a].a.addr, c->plan.addrs[a].a.len,
				                  0, e, sizeof(e));
				first_err(rc, r, err, errlen, ns, e);
				failed |= r < 0;
			}
		for (int x = 0; x < c->plan.n_routes; x++)
			if (!strcmp(c->plan.routes[x].ns, ns)) {
				r = net_priv_route(c->priv, ns, c->plan.routes[x].via, e,
				                   sizeof(e));
				first_err(rc, r, err, errlen, ns, e);
				failed |= r < 0;
			}
		if (c->plan.ns[i].kind == NET_NS_ROUTER)
			announce(c, ns, before);
		free(before);
		if (!failed && state_write(path, want, 0600) < 0)
			log_warn("converge: %s: cannot remember what was applied", path);
		free(want);
	}
}

/* Writes text to <state_dir>/rel when it differs; 1 when it changed, 0 same, <0 error. */
static int file_update(struct net_conv *c, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", c->h.state_dir, rel);
	char *old = fs_read(path, 4 << 20, NULL);
	int same = old && !strcmp(old, text);
	free(old);
	if (same)
		return 0;
	int rc = state_write(path, text, 0600);
	return rc < 0 ? rc : 1;
}

static void nft_converge(struct net_conv *c, const struct net_model *m, struct net_conv_stats *st,
                         int *rc, char *err, size_t errlen)
{
	char e[PRIV_ERR_MAX], rel[PRIV_PATH_MAX];
	char *text = net_gen_nft_host(&c->h, m);
	/* after a start the tables are put back whatever the files say */
	int changed = file_update(c, "nft/host.nft", text);
	if (changed != 0 || !c->started) {
		int r =
		    changed < 0 ? changed : net_priv_nft(c->priv, "", "nft/host.nft", e, sizeof(e));
		first_err(rc, r, err, errlen, "nft host", changed < 0 ? strerror(-changed) : e);
		st->nft_applied += r == 0;
	}
	free(text);
	for (int i = 0; i < c->plan.n_ns; i++) {
		if (c->plan.ns[i].kind != NET_NS_ROUTER)
			continue;
		const struct net_router *r = &m->routers[c->plan.ns[i].index];
		text = net_gen_nft_router(&c->h, m, c->plan.ns[i].index);
		snprintf(rel, sizeof(rel), "nft/%s.nft", r->id);
		changed = file_update(c, rel, text);
		free(text);
		if (changed == 0 && c->started)
			continue;
		int x = changed < 0 ? changed
		                    : net_priv_nft(c->priv, c->plan.ns[i].name, rel, e, sizeof(e));
		first_err(rc, x, err, errlen, rel, changed < 0 ? strerror(-changed) : e);
		st->nft_applied += x == 0;
	}
}

struct find_arg {
	const char *iface;
	pid_t pid;
};

static void find_dnsmasq(struct net_conv *c, pid_t pid, const char *iface, void *arg)
{
	struct find_arg *f = arg;
	if (!strcmp(iface, f->iface))
		f->pid = pid;
}

/* Drops the leases that conflict with the new hosts file (net_gen_dnsmasq_leases)
 * from network id's lease file: dnsmasq (pid, 0 = not running) is stopped first,
 * since it keeps its leases in memory and reads the file only when it starts; the
 * caller starts it again. 1 when it stopped dnsmasq or rewrote the file, else 0. */
static char *leases_kept(const char *path, const char *hosts)
{
	char *had = fs_read(path, 1 << 20, NULL);
	char *keep = had ? net_gen_dnsmasq_leases(had, hosts) : NULL;
	free(had);
	return keep;
}

static int leases_prune(struct net_conv *c, const char *id, const char *hosts, pid_t pid,
                        const char *iface, int *rc, char *err, size_t errlen)
{
	char path[512], e[PRIV_ERR_MAX];
	snprintf(path, sizeof(path), "%s/dhcp/%s/leases", c->h.state_dir, id);
	char *keep = leases_kept(path, hosts);
	if (!keep)
		return 0;
	if (pid) {
		int r = net_priv_dnsmasq_stop(c->priv, pid, iface, e, sizeof(e));
		first_err(rc, r, err, errlen, "dnsmasq stop", e);
		usleep(20 * 1000); /* the killed one lets go of its socket and file */
		/* it may have granted or renewed a lease between the read above and its
		 * stop, and written the file again: prune what it left, not the old copy */
		free(keep);
		if (!(keep = leases_kept(path, hosts)))
			return 1;
	}
	if (fs_write_atomic(path, keep, strlen(keep), 0644) < 0)
		log_warn("converge: %s: cannot drop conflicting leases", path);
	else
		log_info("converge: %s: dropped leases of addresses or MACs given to other ports",
		         path);
	free(keep);
	return 1;
}

static void dhcp_converge(struct net_conv *c, const struct net_model *m, struct net_conv_stats *st,
                          int *rc, char *err, size_t errlen)
{
	char e[PRIV_ERR_MAX], rel[PRIV_PATH_MAX], dir[512], iface[NET_IFNAME_MAX];
	for (int i = 0; i < c->plan.n_ns; i++) {
		if (c->plan.ns[i].kind != NET_NS_DHCP)
			continue;
		int ni = c->plan.ns[i].index;
		const char *id = m->networks[ni].id;
		char *conf = net_gen_dnsmasq_conf(&c->h, m, ni),
		     *hosts = net_gen_dnsmasq_hosts(&c->h, m, ni);
		snprintf(dir, sizeof(dir), "%s/dhcp/%s", c->h.state_dir, id);
		fs_mkdir_p(dir, 0700);
		snprintf(rel, sizeof(rel), "dhcp/%s/hosts", id);
		int hosts_changed = file_update(c, rel, hosts);
		snprintf(rel, sizeof(rel), "dhcp/%s/dnsmasq.conf", id);
		int conf_changed = file_update(c, rel, conf);
		free(conf);
		net_name(&c->h, 'e', id, iface);
		struct find_arg f = {iface, 0};
		dnsmasq_each(c, find_dnsmasq, &f);
		if (hosts_changed > 0 &&
		    leases_prune(c, id, hosts, f.pid, iface, rc, err, errlen)) {
			st->dnsmasq_stopped += f.pid != 0;
			dns_forget(c, f.pid);
			f.pid = 0;
		}
		free(hosts);
		if (f.pid && conf_changed) {
			int r = net_priv_dnsmasq_stop(c->priv, f.pid, iface, e, sizeof(e));
			first_err(rc, r, err, errlen, "dnsmasq stop", e);
			st->dnsmasq_stopped += r == 0;
			dns_forget(c, f.pid);
			f.pid = 0;
			usleep(20 * 1000); /* the killed one lets go of its socket */
		}
		if (!f.pid) {
			pid_t p = net_priv_dnsmasq_start(c->priv, c->plan.ns[i].name, rel, iface, e,
			                                 sizeof(e));
			first_err(rc, p < 0 ? p : 0, err, errlen, "dnsmasq start", e);
			st->dnsmasq_started += p > 0;
			if (p > 0)
				dns_add(c, p, iface);
		} else if (hosts_changed) {
			/* dnsmasq runs as the agent's user and rereads its hosts file on SIGHUP */
			if (kill(f.pid, SIGHUP) == 0)
				st->dnsmasq_reloaded++;
			else
				first_err(rc, -errno, err, errlen, "dnsmasq reload",
				          strerror(errno));
		}
	}
}

/* A metadata listener in every DHCP namespace, none elsewhere. */
static void meta_converge(struct net_conv *c, const struct net_model *m, int *rc, char *err,
                          size_t errlen)
{
	const char *ns[NET_META_MAX], *ids[NET_META_MAX];
	char e[512];
	int n = 0;
	if (!c->meta)
		return;
	net_meta_endpoint(c->meta, c->h.metadata_url, c->h.metadata_secret);
	for (int i = 0; i < c->plan.n_ns && n < NET_META_MAX; i++)
		if (c->plan.ns[i].kind == NET_NS_DHCP) {
			ns[n] = c->plan.ns[i].name;
			ids[n++] = m->networks[c->plan.ns[i].index].id;
		}
	int r = net_meta_sync(c->meta, ns, ids, n, e, sizeof(e));
	first_err(rc, r, err, errlen, "metadata", e);
}

int net_converge(struct net_conv *c, const struct net_model *m, struct net_conv_stats *st,
                 char *err, size_t errlen)
{
	struct timespec ts0;
	clock_gettime(CLOCK_MONOTONIC, &ts0);
	int rc = 0;
	char path[512];
	memset(st, 0, sizeof(*st));
	err[0] = '\0';
	for (const char *const *d = (const char *const[]){"nft", "dhcp", "applied", NULL}; *d;
	     d++) {
		snprintf(path, sizeof(path), "%s/%s", c->h.state_dir, *d);
		fs_mkdir_p(path, 0700);
	}
	if (net_gen_plan(&c->h, m, &c->plan) < 0) {
		snprintf(err, errlen, "the desired state exceeds the plan's bounds");
		return -E2BIG;
	}
	int64_t t[8];
	t[0] = time_mono_ms();
	if ((rc = links_read(c, err, errlen)) < 0)
		return rc;
	ns_read(c);
	dnsmasq_read(c);
	t[1] = time_mono_ms();
	remove_extra(c, st, &rc, err, errlen);
	t[2] = time_mono_ms();
	add_links(c, st, &rc, err, errlen);
	t[3] = time_mono_ms();
	fdb_converge(c, &rc, err, errlen);
	t[4] = time_mono_ms();
	ns_inside(c, &rc, err, errlen);
	t[5] = time_mono_ms();
	nft_converge(c, m, st, &rc, err, errlen);
	t[6] = time_mono_ms();
	dhcp_converge(c, m, st, &rc, err, errlen);
	meta_converge(c, m, &rc, err, errlen);
	t[7] = time_mono_ms();
	log_debug("converge steps (ms): read %d, remove %d, add %d, fdb %d, namespaces %d, nft %d, "
	          "dhcp %d",
	          (int)(t[1] - t[0]), (int)(t[2] - t[1]), (int)(t[3] - t[2]), (int)(t[4] - t[3]),
	          (int)(t[5] - t[4]), (int)(t[6] - t[5]), (int)(t[7] - t[6]));
	c->started = 1;
	struct timespec ts1;
	clock_gettime(CLOCK_MONOTONIC, &ts1);
	st->ms =
	    (double)(ts1.tv_sec - ts0.tv_sec) * 1e3 + (double)(ts1.tv_nsec - ts0.tv_nsec) / 1e6;
	return rc;
}

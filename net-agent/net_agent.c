/* nubo-net's agent (see net_agent.h). */
#include "net_agent.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "fsutil.h"
#include "log.h"
#include "net_converge.h"
#include "net_gen.h"
#include "net_meta.h"
#include "net_state.h"
#include "util.h"
#include "xalloc.h"

static int word_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		return -EINVAL;                                                                    \
	} while (0)

int net_conf_load(struct net_conf *nc, const struct conf *c, char *err, size_t errlen)
{
	struct net_host *h = &nc->host;
	memset(nc, 0, sizeof(*nc));
	nc->raw = c;
	const char *host = conf_get(c, "net", "host", conf_get(c, "compute", "host", ""));
	const char *seg = conf_get(c, "net", "segmentation", "vxlan");
	const char *tip = conf_get(c, "net", "tunnel_ip", "");
	const char *dir = conf_get(c, "net", "state_dir", "/var/lib/nubo/net");
	if (!word_ok(host) || strlen(host) + 4 >= MSG_HOST_MAX)
		FAIL("net.host (or compute.host) must be 1-%d characters of [A-Za-z0-9_.-]",
		     MSG_HOST_MAX - 5);
	snprintf(nc->bus_host, sizeof(nc->bus_host), "%s.net", host);
	snprintf(nc->az, sizeof(nc->az), "%s", conf_get(c, "compute", "az", "nova"));
	if (snprintf(nc->scheduler_url, sizeof(nc->scheduler_url), "%s",
	             conf_get(c, "bus", "scheduler_url", "tcp://127.0.0.1:5570")) >=
	    (int)sizeof(nc->scheduler_url))
		FAIL("bus.scheduler_url is too long");
	if (snprintf(nc->desired_file, sizeof(nc->desired_file), "%s",
	             conf_get(c, "net", "desired_file", "")) >= (int)sizeof(nc->desired_file))
		FAIL("net.desired_file is too long");
	if (snprintf(h->prefix, sizeof(h->prefix), "%s", conf_get(c, "net", "prefix", "nb")) >=
	        (int)sizeof(h->prefix) ||
	    !net_prefix_ok(h->prefix))
		FAIL("net.prefix must be 1-4 characters of [a-z0-9] starting with a letter");
	if (dir[0] != '/' || snprintf(h->state_dir, sizeof(h->state_dir), "%s", dir) >=
	                         (int)sizeof(h->state_dir) - 96)
		FAIL("net.state_dir must be an absolute path of at most 150 characters");
	if (tip[0] && net_ip_parse(tip, &h->local_ip, NULL) < 0)
		FAIL("net.tunnel_ip must be an IPv4 address");
	long vport = conf_get_long(c, "net", "vxlan_port", NET_VXLAN_PORT);
	if (vport < 1 || vport > 65535)
		FAIL("net.vxlan_port must be a UDP port (1..65535)");
	h->vxlan_port = (int)vport;
	nc->vlan_capable = net_vlan_supported("/proc", "/lib/modules");
	if (!strcmp(seg, "vlan")) {
		h->seg = NET_SEG_VLAN;
		if (!nc->vlan_capable)
			FAIL("net.segmentation = vlan, but this kernel has no 8021q");
	} else if (strcmp(seg, "vxlan")) {
		FAIL("net.segmentation must be vxlan or vlan");
	}
	snprintf(h->uplink, sizeof(h->uplink), "%s", conf_get(c, "net", "uplink", "eth1"));
	snprintf(h->ext_bridge, sizeof(h->ext_bridge), "%s",
	         conf_get(c, "net", "external_bridge", "br-ex"));
	if (!net_ifname_ok(h->uplink) || !net_ifname_ok(h->ext_bridge))
		FAIL("net.uplink and net.external_bridge must be interface names");
	h->ext_mtu = (int)conf_get_long(c, "net", "external_mtu", 1500);
	if (h->ext_mtu < 576 || h->ext_mtu > 9000)
		FAIL("net.external_mtu must be in 576..9000");
	const char *pub = conf_get(c, "net", "curve_client_public", "");
	const char *sec = conf_get(c, "net", "curve_client_secret", "");
	if (pub[0] || sec[0]) {
		char *text = xasprintf("[bus]\ncurve_server_public = %s\ncurve_client_public = %s\n"
		                       "curve_client_secret = %s\n",
		                       conf_get(c, "bus", "curve_server_public", ""), pub, sec);
		nc->bus = conf_parse(text, err, errlen);
		explicit_bzero(text, strlen(text));
		free(text);
		if (!nc->bus)
			FAIL("net.curve_client_public/secret: not usable keys");
	}
	snprintf(h->tap_user, sizeof(h->tap_user), "%s",
	         conf_get(c, "net", "tap_user", "nubo-qemu"));
	snprintf(h->dhcp_user, sizeof(h->dhcp_user), "%s", conf_get(c, "net", "dhcp_user", "nubo"));
	if (!word_ok(h->tap_user) || !word_ok(h->dhcp_user))
		FAIL("net.tap_user and net.dhcp_user must be user names");
	return 0;
}

void net_conf_release(struct net_conf *nc)
{
	conf_free(nc->bus);
	nc->bus = NULL;
}

/* ---- the agent ------------------------------------------------------------------------ */

struct net_agent {
	const struct net_conf *nc;
	struct net_conv *conv;
	struct net_model *model;
	pthread_mutex_t lock; /* converge runs on a worker or the main thread */
	long generation;
	/* the nethost resource (from the first net.sync) and how its last sync went: the
	 * hello lists it, so the scheduler resends only when nothing was applied */
	char nethost_id[UUID_STR_LEN];
	char nethost_state[MSG_STATE_MAX];
	pthread_mutex_t rlock; /* guards the two above (report runs on the main thread) */
};

/* Parses text and converges to it; keeps it as desired.json when persist. */
static int agent_apply(struct net_agent *a, const char *text, size_t len, int persist, char *err,
                       size_t errlen)
{
	struct net_conv_stats st;
	pthread_mutex_lock(&a->lock);
	struct net_host *h = net_conv_host(a->conv);
	int rc = net_state_parse(text, len, h, a->model, err, errlen);
	if (rc == 0)
		rc = net_converge(a->conv, a->model, &st, err, errlen);
	if (rc == 0) {
		a->generation = a->model->generation;
		log_info(
		    "converged generation %ld in %.2f ms: links +%d -%d ~%d, namespaces +%d -%d, "
		    "nft %d, dnsmasq +%d -%d hup %d",
		    a->model->generation, st.ms, st.links_added, st.links_removed, st.links_set,
		    st.ns_added, st.ns_removed, st.nft_applied, st.dnsmasq_started,
		    st.dnsmasq_stopped, st.dnsmasq_reloaded);
		if (persist) {
			char path[512];
			snprintf(path, sizeof(path), "%s/desired.json", h->state_dir);
			if (fs_write_atomic(path, text, len, 0600) < 0)
				log_warn("%s: not written", path);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return rc;
}

static void agent_apply_saved(struct net_agent *a)
{
	char path[512], err[512];
	size_t len;
	snprintf(path, sizeof(path), "%s/desired.json", a->nc->host.state_dir);
	char *text = fs_read(path, MSG_NETSTATE_MAX, &len);
	if (!text)
		return;
	log_info("converging to the state kept from before the start");
	if (agent_apply(a, text, len, 0, err, sizeof(err)) < 0)
		log_warn("kept state: %s", err);
	free(text);
}

static void *drv_resource(void *drv, const struct msg_task *t, char *err, size_t errlen)
{
	if (t->resource_kind != MSG_RES_NETHOST || strcmp(t->action, TASK_NET_SYNC)) {
		snprintf(err, errlen, "a network agent runs only nethost net.sync");
		return NULL;
	}
	return drv;
}

static void drv_run(void *drv, void *res, const struct msg_task *t, struct msg_result *r)
{
	struct net_agent *a = drv;
	char err[512];
	const char *text = t->p.net_sync.state ? t->p.net_sync.state : "";
	int rc = agent_apply(a, text, strlen(text), 1, err, sizeof(err));
	pthread_mutex_lock(&a->rlock);
	snprintf(a->nethost_id, sizeof(a->nethost_id), "%s", t->resource_id);
	snprintf(a->nethost_state, sizeof(a->nethost_state), "%s",
	         rc == 0 ? NET_SYNCED : NET_ERROR);
	pthread_mutex_unlock(&a->rlock);
	r->ok = rc == 0;
	snprintf(r->state, sizeof(r->state), "%s", rc == 0 ? NET_SYNCED : NET_ERROR);
	if (rc < 0) {
		log_err("net.sync generation %d: %s", t->p.net_sync.generation, err);
		r->error = xstrdup(err);
	}
}

static void drv_done(void *drv, void *res, const struct msg_result *r, int queued)
{
}

static void drv_report(void *drv, struct msg_hello *h)
{
	struct net_agent *a = drv;
	char ip[16];
	net_ip_str(net_conv_host(a->conv)->local_ip, ip);
	snprintf(h->cap.network.tunnel_ip, sizeof(h->cap.network.tunnel_ip), "%s",
	         net_conv_host(a->conv)->local_ip ? ip : "");
	h->cap.network.vlan = a->nc->vlan_capable;
	h->resources = xcalloc(1, sizeof(*h->resources));
	pthread_mutex_lock(&a->rlock);
	if (a->nethost_id[0]) {
		h->resources[0].kind = MSG_RES_NETHOST;
		memcpy(h->resources[0].id, a->nethost_id, sizeof(a->nethost_id));
		memcpy(h->resources[0].state, a->nethost_state, sizeof(a->nethost_state));
		h->n_resources = 1;
	}
	pthread_mutex_unlock(&a->rlock);
}

/* The gratuitous ARP repeats due (net_conv_garp_repeat); a converge running on the
 * worker holds the lock: then they wait for the next tick rather than block it. */
static void garp_repeat(struct net_agent *a, int wait)
{
	if (wait)
		pthread_mutex_lock(&a->lock);
	else if (pthread_mutex_trylock(&a->lock) != 0)
		return;
	net_conv_garp_repeat(a->conv, time_mono_ms());
	pthread_mutex_unlock(&a->lock);
}

static void drv_tick(void *drv, struct agent *ag)
{
	garp_repeat(drv, 0);
}

static const struct agent_driver net_driver = {
    .kind = MSG_AGENT_NETWORK,
    .resource = drv_resource,
    .run = drv_run,
    .done = drv_done,
    .report = drv_report,
    .tick = drv_tick,
};

/* Standalone: converges whenever the file changes (checked every 50 ms). */
static int standalone_run(struct net_agent *a, volatile sig_atomic_t *stop)
{
	struct timespec seen = {0};
	off_t seen_size = -1;
	log_info("standalone: converging to %s", a->nc->desired_file);
	while (!*stop) {
		struct stat st;
		if (stat(a->nc->desired_file, &st) == 0 &&
		    (st.st_mtim.tv_sec != seen.tv_sec || st.st_mtim.tv_nsec != seen.tv_nsec ||
		     st.st_size != seen_size)) {
			char err[512];
			size_t len;
			char *text = fs_read(a->nc->desired_file, MSG_NETSTATE_MAX, &len);
			seen = st.st_mtim;
			seen_size = st.st_size;
			if (text && agent_apply(a, text, len, 1, err, sizeof(err)) < 0)
				log_err("%s: %s", a->nc->desired_file, err);
			free(text);
		}
		garp_repeat(a, 1);
		usleep(50 * 1000);
	}
	return 0;
}

int net_agent_run(const struct net_conf *nc, struct priv *p, volatile sig_atomic_t *stop)
{
	struct net_agent a = {.nc = nc};
	char err[512];
	int rc = 0;
	pthread_mutex_init(&a.lock, NULL);
	pthread_mutex_init(&a.rlock, NULL);
	a.conv = net_conv_new(&nc->host, p);
	struct net_meta *meta = net_meta_new(p);
	net_conv_set_meta(a.conv, meta);
	a.model = xcalloc(1, sizeof(*a.model));
	if (!nc->desired_file[0])
		agent_apply_saved(&a);
	if (nc->desired_file[0]) {
		rc = standalone_run(&a, stop);
	} else {
		struct agent_conf ac = {
		    .host = nc->bus_host,
		    .az = nc->az,
		    .scheduler_url = nc->scheduler_url,
		    .raw = nc->bus ? nc->bus : nc->raw,
		    .state_dir = nc->host.state_dir,
		    .heartbeat_interval =
		        (int)conf_get_long(nc->raw, "compute", "heartbeat_interval", 5),
		    .max_workers = 1,
		};
		struct agent *ag = agent_new(&ac, &net_driver, &a, err, sizeof(err));
		if (!ag) {
			log_err("%s", err);
			rc = -EIO;
		} else {
			log_info("host %s, scheduler %s, prefix %s", nc->bus_host,
			         nc->scheduler_url, nc->host.prefix);
			rc = agent_run(ag, stop);
			if (!agent_busy(ag))
				agent_free(ag);
		}
	}
	net_meta_free(meta);
	net_conv_free(a.conv);
	free(a.model);
	return rc < 0 ? 1 : 0;
}

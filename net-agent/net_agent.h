/* nubo-net's agent: its settings ([net] in nubo.conf), the bus driver of agent kind
 * "network" (docs/netstate.md: hello as <host>.net, task net.sync on the host's
 * nethost resource carrying the whole desired state) and the standalone mode that
 * converges to a document file instead ([net] desired_file: tests, benches, a host
 * without a controller). Either way the last document applied is kept in
 * <state_dir>/desired.json and converged to again at start, before the controller
 * answers, so a restarted agent puts back what it had. */
#ifndef NUBO_NET_AGENT_H
#define NUBO_NET_AGENT_H
#include <signal.h>
#include <stddef.h>

#include "conf.h"
#include "msg.h"
#include "net_model.h"
#include "priv.h"

struct net_conf {
	struct net_host host;
	char bus_host[MSG_HOST_MAX]; /* "<host>.net" */
	char az[MSG_HOST_MAX];
	char scheduler_url[256];
	char desired_file[256]; /* standalone: "" = the bus */
	int vlan_capable;
	const struct conf *raw;
	struct conf *bus; /* raw's [bus] with [net]'s own CURVE client key (owned), or NULL */
};

/* Parses [net] (and [compute] host, [bus]) of c. 0 or -EINVAL with err. nubo-net has
 * a CURVE client key of its own ([net] curve_client_public/secret): the scheduler
 * binds each key to one bus name, and <host>.net is not <host>. Release with
 * net_conf_release. */
int net_conf_load(struct net_conf *nc, const struct conf *c, char *err, size_t errlen);

void net_conf_release(struct net_conf *nc);

/* Runs until *stop. p: the privileged helper (borrowed). Exit status. */
int net_agent_run(const struct net_conf *nc, struct priv *p, volatile sig_atomic_t *stop);

#endif

/* nubo-storage as a driver of the agent runtime (common/agent.h): volumes and
 * snapshots are its resources, the pool (pool.h) does the work, and every hello lists
 * what the pool holds, so a restarted agent tells the scheduler what exists. */
#ifndef NUBO_STORAGE_AGENT_H
#define NUBO_STORAGE_AGENT_H
#include <signal.h>
#include <stddef.h>

#include "conf.h"
#include "lvm.h"
#include "msg.h"

struct storage_conf {
	char host[MSG_HOST_MAX]; /* [storage] host, default "<[compute] host>-storage" */
	char az[MSG_HOST_MAX];
	char *state_dir; /* [storage] state_dir: the pool */
	char *scheduler_url;
	char *agent_key;
	long long max_image_bytes;   /* [storage] max_image_mb */
	long long image_cache_bytes; /* [storage] image_cache_max_mb (common/image_cache.h) */
	int heartbeat_interval, max_workers;
	/* NBD exports to other machines (export.h): [storage] export_address (default
	 * [net] tunnel_ip, the management address, else 127.0.0.1) and the port range
	 * export_port_min..export_port_max (10809..11008) */
	char export_address[MSG_ADDR_MAX];
	int export_port_min, export_port_max;
	/* [storage] backend = file (default) | lvm, and with lvm volume_group = NAME (empty
	 * for the file pool) */
	char volume_group[LVM_VG_MAX];
	/* [storage] volume_format = qcow2 (default) | raw: the file pool's new volumes,
	 * snapshots and clones (pool_set_format) */
	char volume_format[8];
	struct priv *priv; /* the privileged helper (set by main at start; borrowed) */
	const struct conf *raw;
};

/* Reads [storage] (and [bus]) of c into sc. 0 or -EINVAL with err. */
int storage_conf_load(struct storage_conf *sc, const struct conf *c, char *err, size_t errlen);
void storage_conf_release(struct storage_conf *sc);

struct storage_agent;
/* Opens the pool of conf (borrowed). NULL with err. */
struct storage_agent *storage_agent_new(const struct storage_conf *conf, char *err, size_t errlen);
/* Runs until *stop. 0 or a negative errno. */
int storage_agent_run(struct storage_agent *a, volatile sig_atomic_t *stop);
void storage_agent_free(struct storage_agent *a);

#endif

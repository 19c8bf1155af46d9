/* The nethost task kind: each nubo-net host's desired state (docs/netstate.md), built
 * from the database when its net.sync task is sent, so that a task always carries the
 * newest layout; and the hello rule that gives a (re)started nubo-net its state. */
#ifndef NUBO_SCHED_NETSTATE_H
#define NUBO_SCHED_NETSTATE_H
#include <jansson.h>
#include <libpq-fe.h>

#include "tasks.h"

extern const struct task_kind netstate_tasks;

/* The desired-state document of host (the compute host name, without ".net") as JSON
 * text (owned), or NULL with err. l3 is 1 when host runs the routers and DHCP.
 * metadata_url and secret go into the document as they are. */
char *netstate_build(PGconn *c, const char *host, int l3, long generation, const char *tunnel_ip,
                     const char *metadata_url, const char *secret, char *err, size_t errlen);

/* Fills k's nics with the ports of instance_id (docs/netstate.md: tap = "tap" + the
 * port id's first 11 characters) and, when it has some, queues a net.sync for the
 * instance's host (placed by now). 0 or -EIO with err. */
int netstate_spawn_nics(PGconn *c, const char *instance_id, struct msg_spawn *k, char *err,
                        size_t errlen);

#endif

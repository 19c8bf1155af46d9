/* ZeroMQ framing of msg.h envelopes. A ROUTER socket (scheduler) sees
 * [peer-id][payload]; a DEALER or PUSH/PULL socket sees [payload]. Agents set their
 * routing id to their host name, so the scheduler addresses tasks by host. */
#ifndef NUBO_BUS_H
#define NUBO_BUS_H
#include <stddef.h>

#include "msg.h"

/* Encodes and sends m. peer is the routing id for ROUTER sockets, NULL otherwise.
 * Non-blocking (ZMQ_DONTWAIT). Returns 0 or a negative errno. */
int bus_send(void *sock, const char *peer, const struct msg *m);
/* Receives one message. For ROUTER sockets (peer != NULL) the routing id is copied
 * into peer. Returns 0 with out filled (caller releases), -EAGAIN when nothing is
 * waiting (flags ZMQ_DONTWAIT), -EINVAL/-E2BIG with err set for a bad message, or
 * -EPERM when a host-bound CURVE key claims another host's routing id (the frames are
 * consumed either way). */
int bus_recv(void *sock, char *peer, size_t peerlen, struct msg *out, int flags, char *err,
             size_t errlen);

/* Pure: 1 when peer may speak under the key bound to host uid: peer is uid itself or
 * uid + "-storage" (the storage agent of the same machine, which shares its key). */
int bus_peer_same_host(const char *uid, const char *peer);

#endif

/* CURVE on the agent links (DESIGN: ZeroMQ links between hosts use CURVE).
 * [bus] curve_server_secret / curve_server_public make the scheduler's ROUTER a CURVE
 * server; agents set curve_server_public plus their own curve_client_public /
 * curve_client_secret. When [bus] curve_allowed_clients (comma-separated entries
 * "host=KEY", or a bare Z85 "KEY") is set, a ZAP handler admits only those clients,
 * and a "host=KEY" client may only use that host name as its routing id (bus_recv
 * refuses its messages otherwise). With no keys configured the
 * link stays plain (single-box loopback). Each returns 0 or a negative errno. */
struct conf;
int bus_secure_server(void *ctx, void *sock, const struct conf *c);
int bus_secure_client(void *sock, const struct conf *c);
/* Stops the ZAP handler thread, if one runs; call before zmq_ctx_term. */
void bus_secure_stop(void);

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
 * waiting (flags ZMQ_DONTWAIT), or -EINVAL/-E2BIG with err set for a bad message
 * (the frames are consumed either way). */
int bus_recv(void *sock, char *peer, size_t peerlen, struct msg *out, int flags, char *err,
	     size_t errlen);

#endif

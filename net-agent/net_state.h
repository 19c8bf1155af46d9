/* The wire form of the desired state (docs/netstate.md) into net_model.h's structs:
 * the one place that knows the JSON. Bounds and values are checked here as far as
 * the JSON goes and then by net_model_check(). */
#ifndef NUBO_NET_STATE_H
#define NUBO_NET_STATE_H
#include <stddef.h>

#include "net_model.h"

/* Parses the document text (at most len bytes) into *m (caller-allocated, large; it
 * is zeroed first) and takes the document's host-level settings into *h: the external
 * bridge, the metadata URL and secret, and the tunnel IP when h has none. Then runs
 * net_model_check(). 0, or -EINVAL with the first problem in err. */
int net_state_parse(const char *text, size_t len, struct net_host *h, struct net_model *m,
                    char *err, size_t errlen);

#endif

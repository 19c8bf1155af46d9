/* The metadata proxy: in every DHCP namespace a listening socket on
 * 169.254.169.254:80 (made by the privileged helper inside the namespace and passed
 * to the worker), served by one thread of the unprivileged worker, which forwards a
 * guest's GET to nubo-api's metadata endpoint (docs/netstate.md: <url>/<path> with
 * X-Nubo-Network-Id, X-Forwarded-For = the guest's source address as the kernel
 * saw it, X-Nubo-Metadata-Secret) and relays the status and body. The guest's own
 * claims (headers) are never forwarded. Requests are served one at a time with
 * short timeouts and bounded sizes. */
#ifndef NUBO_NET_META_H
#define NUBO_NET_META_H
#include <stddef.h>

#include "priv.h"

#define NET_META_MAX 64 /* namespaces served */

struct net_meta;

struct net_meta *net_meta_new(struct priv *p);
/* Stops the thread and closes every listener. Accepts NULL. */
void net_meta_free(struct net_meta *m);
/* The endpoint and secret (copied; "" url = answer 503). */
void net_meta_endpoint(struct net_meta *m, const char *url, const char *secret);
/* Serves exactly the namespaces ns[i] (for network ids[i]): opens listeners
 * missing, closes the others. 0 or the first negative errno with err. */
int net_meta_sync(struct net_meta *m, const char *const *ns, const char *const *ids, int n,
                  char *err, size_t errlen);

/* Pure, exposed for tests: the path of a request head ("GET /x HTTP/1.1\r\n..."),
 * copied into path (without the leading '/'); 0, or -EINVAL for anything but a GET
 * of [A-Za-z0-9._/-] without "..", shorter than pathlen. */
int net_meta_request_path(const char *head, char *path, size_t pathlen);

#endif

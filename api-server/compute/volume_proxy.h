/* Block Storage's handlers run as sub-requests of a Compute request (Nova's calls to
 * Cinder): the os-volumes proxies (volume_proxy.c) and boot from volume
 * (server_bdm.c). */
#ifndef NUBO_VOLUME_PROXY_H
#define NUBO_VOLUME_PROXY_H
#include <jansson.h>

#include "http.h"

/* Runs the route of table t for method and url (a Block Storage path) with body
 * (borrowed, may be NULL) as a sub-request of r; the answer (Nova's error shape) is
 * left in sub, released with volume_proxy_release. 0, or -ENOENT when no route
 * matches. */
int volume_proxy_call(struct req *r, const struct httpd_table *t, const char *method,
                      const char *url, json_t *body, struct resp *sub);
void volume_proxy_release(struct resp *sub);

#endif

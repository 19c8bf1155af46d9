/* Nova's network proxy APIs (network_proxy.c) over the Network API's tables. */
#ifndef NUBO_NETWORK_PROXY_H
#define NUBO_NETWORK_PROXY_H
#include <jansson.h>

#include "http.h"

extern const struct httpd_table network_proxy_routes;

/* The addSecurityGroup / removeSecurityGroup server actions (key names which): the
 * group (name or id, the project's) on every port of the server with port security.
 * Answers 202, or Nova's 400/404. */
void network_proxy_sg_action(struct req *r, struct resp *w, const char *key, const json_t *arg);

#endif

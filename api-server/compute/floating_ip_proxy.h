/* Nova's floating IP proxy APIs (floating_ip_proxy.c) over the Network API's tables. */
#ifndef NUBO_FLOATING_IP_PROXY_H
#define NUBO_FLOATING_IP_PROXY_H
#include <jansson.h>

#include "http.h"

/* os-floating-ips and os-floating-ip-pools (microversions up to 2.35). */
extern const struct httpd_table floating_ip_proxy_routes;

/* The addFloatingIp / removeFloatingIp server actions (key names which; up to 2.43):
 * {"address": a, "fixed_address"?: b}. addFloatingIp associates the project's floating
 * IP a with the server's fixed IP b (default: its first IPv4 address), taking it from
 * another server if it had it; removeFloatingIp disassociates a from this server.
 * Answers 202, or Nova's 400 / 404 / 409. */
void floating_ip_proxy_action(struct req *r, struct resp *w, const char *key, const json_t *arg);

#endif

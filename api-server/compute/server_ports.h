/* Servers on Network API ports (server_ports.c): what server.c calls, one line each. */
#ifndef NUBO_SERVER_PORTS_H
#define NUBO_SERVER_PORTS_H
#include <jansson.h>
#include <libpq-fe.h>

#include "http.h"
#include "compute/server.h"

/* Inside the server create's transaction: the NICs of server_id in availability zone
 * az from the request's "networks" (absent or "auto": a port on the project's only
 * network, none when it has no network, 409 when it has several; "none": no port; a
 * list of {uuid, fixed_ip} / {port}) with the request's "security_groups" (names or
 * ids; none named: the project's default group). 0, or answers w in Nova's shape and
 * returns < 0. */
int server_ports_create(struct req *r, struct resp *w, const char *server_id, const char *az,
                        const json_t *networks, const json_t *security_groups);
/* Inside the server delete's transaction: deletes the ports made for server_id and
 * unbinds the user's. 0 or -EIO with err. */
int server_ports_release(PGconn *db, const char *server_id, char *err, size_t errlen);
/* The addresses and security groups of the servers of res (column 0 the id): a result
 * (caller PQclear()s) of (id, addresses JSON, security_groups JSON). 0 or -EIO. */
int server_ports_extras(PGconn *db, const PGresult *res, PGresult **out, char *err, size_t errlen);
/* Points s->addresses and s->security_groups into ports (NULL: none). */
void server_ports_apply(const PGresult *ports, struct server_row *s);
/* GET /servers/{id}/ips (network NULL) and /servers/{id}/ips/{network}: the server's
 * fixed and floating addresses by network name, {version, addr} each; Nova's 404 for
 * a network the server is not on. */
void server_ports_ips(struct req *r, struct resp *w, const char *network);
/* The server list's ip (version 4) / ip6 (6) filter: an SQL condition on instance i
 * with one printf %d for the number of its parameter (the regular expression). */
const char *server_ports_ip_filter(int version);
/* Pure: addresses (a server view's JSON text, NULL: none) with each address cut to
 * {version, addr}, as Nova's rebuild and update answers show them below 2.75 (malloc'd
 * text, the caller frees; NULL only when out of memory). */
char *server_ports_basic(const char *addresses);

#endif

/* nubo-objproxy: the daemon (configuration, the store, the HTTP front and its front-end
 * table). */
#ifndef NUBO_OBJSTORE_PROXY_MAIN_H
#define NUBO_OBJSTORE_PROXY_MAIN_H
#include "daemon.h"
#include "proxy.h"

extern const struct daemon_def objproxy_daemon;

struct px_server;
/* Starts the HTTP front on addr:port over st with the front ends in match order. NULL
 * when it cannot listen. on_answer (may be NULL) runs after every answer. */
struct px_server *px_server_start(const char *addr, unsigned port, struct store *st,
                                  const struct px_frontend *const *fes, size_t nfes,
                                  unsigned max_connections,
                                  void (*on_answer)(struct px_req *r, int status));
void px_server_stop(struct px_server *srv);
/* The status r was answered with. */
int px_status(const struct px_req *r);

#endif

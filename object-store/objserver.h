/* nubo-objserver: one worker process per local ring device, each an HTTP server for the
 * proxy (PUT/GET/HEAD/DELETE of object versions on its device) with its replicator and
 * auditor. The internal protocol is in docs/objstore-api.md. */
#ifndef NUBO_OBJSTORE_OBJSERVER_H
#define NUBO_OBJSTORE_OBJSERVER_H
#include <stdint.h>

#include "daemon.h"

extern const struct daemon_def objserver_daemon;

/* Parses "bytes=A-B", "bytes=A-", "bytes=-N" against size: the first byte and the count
 * into *off and *len. 1 when satisfiable, 0 when not (416), -1 when the header is not one
 * single byte range (then the whole object is sent, as HTTP allows). Pure. */
int objserver_range(const char *h, uint64_t size, uint64_t *off, uint64_t *len);

/* Moves the corrupt version file at path (under the device root) to root/quarantined/,
 * so that the replicator restores a good copy, and invalidates its suffix. Logs it.
 * 0, or -errno when the move or the invalidation failed (a GET then answers 500). */
int objserver_quarantine(const char *root, const char *path);

#endif

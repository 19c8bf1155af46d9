/* NBD exports of pool volumes to compute hosts on other machines: one
 * qemu-storage-daemon per attachment, serving volumes/<id>.qcow2 as NBD export <id> on
 * the storage host's management address, TLS with a pre-shared key (identity = the
 * attachment id, key from the scheduler) so that no other host or tenant can open it.
 * Each export is kept under the pool's exports/: <id>.json (attachment, port, pid) and
 * <id>/keys.psk (0600, the daemon's key file) with <id>/dh-params.pem (RFC 7919's
 * ffdhe2048, so the daemon does not generate DH parameters at start) and <id>/qmp.sock (the
 * daemon's QMP monitor, through which export_copy.c copies the volume while it is
 * served); the daemons are started
 * detached by the worker and outlive it, so a restarted agent adopts the ones that still run and
 * starts the others again on the same port with the same key (the compute host's NBD client
 * reconnects). Thread-safe. Never logs. */
#ifndef NUBO_STORAGE_EXPORT_H
#define NUBO_STORAGE_EXPORT_H
#include <stddef.h>
#include <sys/types.h>

#include "msg.h"

#define EXPORT_MAX 256         /* exports one storage agent serves at once */
#define EXPORT_MONITOR_MAX 108 /* a monitor socket's path, with its NUL (sun_path) */

struct export_def {
	const char *volume_file; /* absolute path of the volume's file or block device */
	const char *psk_dir;     /* absolute: holds keys.psk */
	const char *address;     /* dotted IPv4 to listen on */
	int port;
	const char *name;          /* the export's name: the volume id */
	const char *volume_format; /* "qcow2" (NULL too) or "raw" (a raw pool file or an LV) */
	const char *monitor;       /* absolute path of its QMP monitor socket, or NULL for none */
};

/* Pure: the qemu-storage-daemon argv of d (NULL-terminated, owned; free with
 * export_argv_free), or NULL when a path holds a comma or a field is out of range. */
char **export_argv_new(const struct export_def *d);
void export_argv_free(char **argv);

struct exports;

struct pool;
/* The exports of the pool vols (borrowed: its volumes' paths and format; exports/ in
 * its directory), listening on address and taking ports in [port_min, port_max].
 * Adopts or restarts what exports/ lists. Returns owned, or NULL with err. */
struct exports *exports_open(const struct pool *vols, const char *address, int port_min,
                             int port_max, char *err, size_t errlen);
/* Serves volume_id to attachment with key psk (64 hex digits). Idempotent: an export
 * of the same attachment is answered again; one of another attachment is stopped
 * first. Fills host (MSG_ADDR_MAX) and *port. 0, or a negative errno with err. */
int exports_start(struct exports *x, const char *volume_id, const char *attachment, const char *psk,
                  char *host, int *port, char *err, size_t errlen);
/* Stops the export of volume_id (only when it is attachment's, unless attachment is
 * ""), removing its files. No export is success. 0, or a negative errno with err. */
int exports_stop(struct exports *x, const char *volume_id, const char *attachment, char *err,
                 size_t errlen);
/* Fills up to max resources (kind attachment, id the volume, state "attached") with
 * what is exported. Returns the count. */
int exports_list(struct exports *x, struct msg_resource *out, int max);
/* Takes the QMP monitor of the daemon exporting volume_id (it serves one client at a
 * time: a second copy of the volume waits here until the first gives it back, and a
 * take waits for a start or stop of the export under way; the table lock is released
 * while it waits, so exports_list and the other exports go on), copying its socket path
 * into monitor (n >= EXPORT_MONITOR_MAX). 1 when taken (then exports_monitor_give
 * once), 0 when the volume is not exported, -ESRCH when it is but its daemon is down
 * or being started again by exports_check (within seconds), -ENOTSUP when the daemon
 * has no monitor (an older agent started it, or the pool path is too long for one),
 * -EBUSY when another copy or a start/stop held it past EXPORT_MONITOR_WAIT_MS. */
int exports_monitor_take(struct exports *x, const char *volume_id, char *monitor, size_t n);
#define EXPORT_MONITOR_WAIT_MS 30000 /* a take waits this long for another copy, then -EBUSY */
/* How long exports_monitor_take waits for another copy's monitor (tests shorten it). */
void exports_set_monitor_wait(struct exports *x, int ms);
void exports_monitor_give(struct exports *x, const char *volume_id);
/* Starts again every export whose daemon died (at most once per few seconds each),
 * without waiting for it: a later call sees it listen (and counts it), exit, or not
 * listen within 10 s (then kills it; it is tried again later). Never waits, so the
 * agent's main loop may call it beside its heartbeats. Returns how many restarted
 * daemons were seen listening; a failure's reason goes into err. */
int exports_check(struct exports *x, char *err, size_t errlen);
/* Frees x; the daemons keep running. Accepts NULL. */
void exports_free(struct exports *x);

#endif

/* The replicator and the auditor of one object server device: threads of its worker.
 * The replicator walks the device's partitions, compares each one's suffix hashes
 * (parthash.h) with the partition's other replicas' (REPLICATE answers), lists the
 * suffixes that differ on both sides and pushes what the others lack or hold older,
 * moves handoff partitions to their primaries, and reclaims old tombstones. The auditor re-reads
 * every .data file at a bounded rate and moves one whose bytes no longer match its ETag to
 * quarantined/. */
#ifndef NUBO_OBJSTORE_REPLICATOR_H
#define NUBO_OBJSTORE_REPLICATOR_H
#include <microhttpd.h>
#include <time.h>

#include "ring.h"

struct replicator;

/* Starts both threads for the device at root (dev describes it in the ring at
 * ring_file). interval: seconds between replication passes; audit_rate: bytes per
 * second the auditor may read (0: no auditor). NULL when they could not start. */
struct replicator *replicator_start(const char *root, const struct ring_dev *dev,
                                    const char *ring_file, long interval, long audit_rate);
/* Stops and frees r (NULL is fine). */
void replicator_stop(struct replicator *r);
/* Answers REPLICATE /<dev>/<part>/hashes (the partition's suffix hashes, parthash.h),
 * /<dev>/<part>/<sfx>[-<sfx>]... (text lines "<hash> <newest version file name>" of every
 * object in those suffixes) and /<dev>/<part> (the same of the whole partition). */
enum MHD_Result replicator_answer(const char *root, struct MHD_Connection *c, const char *url,
                                  const char *dev);

/* 1 when a tombstone may be removed: both its timestamp ts (seconds) and the time it
 * was written on this device (mtime) are at least age seconds before now. The mtime
 * matters for an expiry's tombstone: it carries the expired version's timestamp, which
 * may be older than the reclaim age on the day it is written, and must still outlive a
 * replica that is down for less than the reclaim age. */
int replicator_reclaimable(double ts, time_t mtime, time_t now, long age);
#define REPLICATOR_RECLAIM_AGE (7 * 24 * 3600) /* tombstones older are removed */

/* What the auditor reads of a file besides its object bytes: the 8 KiB header, and for
 * a small object mostly the cost of finding, opening and reading it. */
#define REPLICATOR_AUDIT_FILE_BYTES 8192
/* Pure: the auditor's pause after reading bytes at rate bytes a second (> 0), in ms.
 * *owed carries what is not yet paused for (start it at 0), so that many small files
 * add up to pauses instead of each rounding down to none, and a large one is paid in
 * full. */
long replicator_audit_pause_ms(long *owed, long bytes, long rate);
/* Pure: when the last full pass (every suffix rehashed) was, after a pass at now: a
 * full pass counts only when it was not stopped and no partition failed to rehash
 * (those are retried in full by the next pass), else last_full stays. */
time_t replicator_full_done(time_t last_full, time_t now, int full, int stopped, long failed);
/* The longest single wait of the auditor: a longer pause is paid in slices this long, so
 * that no one wait is unbounded (a stop ends any wait at once). */
#define REPLICATOR_AUDIT_SLICE_MS 1000
/* Pure: the next slice of the pause *left (ms), at most REPLICATOR_AUDIT_SLICE_MS; takes
 * it off *left. 0 once nothing is left. */
long replicator_audit_slice_ms(long *left);

#endif

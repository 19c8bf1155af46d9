/* Group commit of a device's syncs: writers that finished writing share one sync of the
 * whole file system (syncfs, then one device flush) instead of an fsync each. A writer is
 * told "durable" only after a sync that began after its writes ended has ended. */
#ifndef NUBO_OBJSTORE_SYNCGROUP_H
#define NUBO_OBJSTORE_SYNCGROUP_H

#include <stdint.h>

/* The pure core: sync numbers, under the caller's lock. Sync n is the n-th one begun
 * (from 1); a writer's ticket is the number of the first sync to begin after it asked,
 * and that sync covers it (every write it made had ended before the sync began). */
struct syncgen {
	uint64_t begun;  /* syncs begun; the one running, if any, is number begun */
	uint64_t ended;  /* syncs ended: begun, or begun - 1 while one runs */
	uint64_t failed; /* the number of the last sync that failed, 0 when none did */
};

enum syncgen_turn {
	SYNCGEN_COVERED, /* the ticket's sync has ended: see syncgen_result */
	SYNCGEN_LEAD,    /* none runs: the caller runs sync number begun now, then syncgen_end */
	SYNCGEN_WAIT,    /* one runs that began too early or has not ended: wait, ask again */
};

/* The ticket of a writer whose writes have all ended now: begun + 1. */
uint64_t syncgen_ticket(const struct syncgen *g);
/* What the holder of ticket does next; SYNCGEN_LEAD counts the new sync as begun. */
enum syncgen_turn syncgen_turn(struct syncgen *g, uint64_t ticket);
/* The running sync ended with rc (0 or -errno). */
void syncgen_end(struct syncgen *g, int rc);
/* For a covered ticket: 0, or -EIO when its sync or a later one failed (a later
 * failure may be another writer's data: reported to this one too, never hidden). */
int syncgen_result(const struct syncgen *g, uint64_t ticket);

struct syncgroup;

/* A group for the file system holding dir (opened and kept). NULL with errno set. */
struct syncgroup *syncgroup_new(const char *dir);
/* Returns once everything the calling thread wrote before the call is durable on the
 * file system's device (file data, inodes, directory entries): 0, or -errno. Callers
 * that arrive while a sync runs wait for it, then share the next one. */
int syncgroup_sync(struct syncgroup *g);
/* Frees g (no caller may be inside syncgroup_sync). NULL is fine. */
void syncgroup_free(struct syncgroup *g);

#endif

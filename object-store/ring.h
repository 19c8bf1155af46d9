/* The ring: which devices hold a name's replicas. 2^part_power partitions, each assigned
 * to `replicas` devices in distinct zones (while there are enough zones), in proportion to
 * the devices' weights; a rebalance moves as few assignments as it can. Pure, apart from
 * ring_load/ring_save. The file format is in docs/objstore-api.md. */
#ifndef NUBO_OBJSTORE_RING_H
#define NUBO_OBJSTORE_RING_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RING_MAX_DEVS 1024
#define RING_MAX_PART_POWER 20
#define RING_MAX_REPLICAS 5
#define RING_NONE 0xffff

struct ring_dev {
	int id;        /* index in devs; ids are never reused */
	int zone;      /* failure domain, >= 0 */
	double weight; /* 0: being drained (holds nothing after a rebalance) */
	char host[64]; /* IPv4 literal */
	unsigned port;
	char name[32]; /* device name, [A-Za-z0-9_-] */
};

struct ring {
	unsigned version; /* bumped by every rebalance */
	unsigned part_power, replicas;
	struct ring_dev *devs;
	int ndevs;
	uint16_t *assign; /* [part * replicas + r] = device id or RING_NONE */
};

/* A ring with no devices. NULL when part_power/replicas are out of range. */
struct ring *ring_new(unsigned part_power, unsigned replicas);
void ring_free(struct ring *r);
/* Adds a device; returns its id, or -EINVAL (bad host/name/port/zone/weight) or -ENOSPC. */
int ring_add_dev(struct ring *r, int zone, double weight, const char *host, unsigned port,
                 const char *name);
/* Sets a device's weight (0 drains it). 0 or -ENOENT/-EINVAL. */
int ring_set_weight(struct ring *r, int id, double weight);
/* Reassigns partitions: keeps every assignment that stays valid and within its device's
 * share, fills the rest. Returns how many (partition, replica) slots changed, or -EINVAL
 * when no device has weight. Bumps version. */
long ring_rebalance(struct ring *r);

/* Partition of /account/container/object (container and object may be NULL). */
unsigned ring_part(const struct ring *r, const char *account, const char *container,
                   const char *object);
/* Hex md5 of the same path (the on-disk hash directory name), into out[33]. */
void ring_hash(const char *account, const char *container, const char *object, char out[33]);
/* The primaries of part into out (replicas entries; RING_NONE where unassigned). */
void ring_primaries(const struct ring *r, unsigned part, int *out);
/* Up to max handoff device ids for part (never a primary), other zones first.
 * Returns how many. */
int ring_handoffs(const struct ring *r, unsigned part, int *out, int max);

/* Text form. ring_parse: NULL with err when the text is malformed or out of bounds. */
struct ring *ring_parse(const char *text, char *err, size_t errlen);
void ring_write(const struct ring *r, FILE *f);
/* The file at path (at most 16 MiB). */
struct ring *ring_load(const char *path, char *err, size_t errlen);
/* Writes path atomically (temp file, fsync, rename, fsync of the directory). 0 or -errno. */
int ring_save(const struct ring *r, const char *path);

#endif

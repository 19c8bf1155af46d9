/* Choosing a compute host for an instance, and a storage host for a volume, as pure
 * functions: a table of filters (each either lets a host through or says why not) and
 * a table of weighers (the volume's machine first, then most free RAM after
 * overcommit, then the name). No I/O: the caller gathers hosts and their usage. */
#ifndef NUBO_SCHED_PLACEMENT_H
#define NUBO_SCHED_PLACEMENT_H
#include <stddef.h>

#define PLACEMENT_REASON_MAX 512
#define PLACEMENT_REASON_HOSTS 8 /* hosts named in a reason; the rest are counted */

struct placement_host {
	const char *name; /* borrowed, not NULL */
	const char *az;   /* borrowed; NULL means "" */
	int up;
	long vcpus, ram_mb, disk_gb;                /* physical capacity the host offers */
	long used_vcpus, used_ram_mb, used_disk_gb; /* sum over its non-deleted instances */
	/* 1 when this host's machine also runs the storage agent that holds (or will
	 * hold) the instance's boot volume: the root disk is then a local file, not NBD.
	 * A weigher, not a filter: a full or down local host lets the instance land
	 * elsewhere. */
	int local;
};

struct placement_ratios {
	double cpu, ram, disk; /* overcommit: capacity * ratio may be allocated */
};

/* The zone nubo-api records when the user names none (Nova's default zone): a
 * request for it, like an empty one, may land in any zone. */
#define PLACEMENT_DEFAULT_AZ "nova"

struct placement_request {
	long vcpus, ram_mb, disk_gb;
	const char *az; /* NULL, "" or PLACEMENT_DEFAULT_AZ = any zone */
};

/* 1 when a request for zone az may land in any zone. */
int placement_az_any(const char *az);

/* What is left of one resource: floor(capacity * ratio) - used (may be negative). */
long placement_free(long capacity, double ratio, long used);

/* Runs hosts[0..n) through the filters (up, az, ram, cores, disk, in that order) and
 * returns the index of the passing host the weighers rank first: a local host
 * (placement_host.local) before any other, then the most free RAM, then the smallest
 * name. When none passes, returns -1 and writes into reason (at most reasonlen
 * bytes, always terminated) why, naming the hosts the first failing filter turned
 * away, e.g. "no host has 8192 MB RAM free: node1 has 1024 MB". */
int placement_choose(const struct placement_host *hosts, size_t n,
                     const struct placement_ratios *ratios, const struct placement_request *req,
                     char *reason, size_t reasonlen);

/* A server group's policy as placement applies it to one more member. */
struct placement_group {
	const char *policy; /* "affinity", "anti-affinity", "soft-affinity", "soft-anti-affinity" */
	long max_per_host;  /* anti-affinity: members a host may hold (Nova's rule, >= 1) */
	const char *const *member_hosts; /* hosts of the group's other placed members */
	size_t n_members;
};

/* placement_choose() under group g (NULL: no group). affinity keeps the hosts that
 * already hold a member (all of them while none is placed); anti-affinity keeps the
 * hosts holding fewer than max_per_host members; the soft policies prefer the hosts
 * holding the most (soft-affinity) or fewest (soft-anti-affinity) members and fall
 * back to any host. When a hard policy leaves no host, returns -1 with reason naming
 * the policy and the hosts it turned away. Pure. */
int placement_choose_grouped(const struct placement_host *hosts, size_t n,
                             const struct placement_ratios *ratios,
                             const struct placement_request *req, const struct placement_group *g,
                             char *reason, size_t reasonlen);

/* A storage host as volume placement sees it. */
struct placement_store {
	const char *name; /* borrowed, not NULL */
	int up;           /* up and reachable */
	long free_gb;     /* free pool space it reported */
	/* 1 when it runs on the machine the volume should be near (the compute host of
	 * the server it is made for, or that local_to_instance names) */
	int local;
};

/* Chooses a storage host for a volume of size_gb among hosts[0..n): the filters are
 * up, then (when local_only: Cinder's InstanceLocalityFilter, the local_to_instance
 * hint) local, then size_gb free; the weighers put a local host first, then the most
 * free space, then the smallest name. Returns the index, or -1 with reason written as
 * placement_choose() does, e.g. "no storage host has 20 GB free: st1 has 4 GB". Pure. */
int placement_store_choose(const struct placement_store *hosts, size_t n, long size_gb,
                           int local_only, char *reason, size_t reasonlen);

#endif

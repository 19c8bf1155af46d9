/* Scheduler placement: every filter, its reason text, overcommit ratios, the
 * weigher and its tie-break, zones, and the edges (no hosts, exact fits, bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler/placement.h"

static const struct placement_ratios one = {1.0, 1.0, 1.0};
static const struct placement_ratios nubo = {16.0, 1.5, 1.0}; /* the shipped defaults */

/* An up host in zone nova with the given capacity and nothing used. */
static struct placement_host host(const char *name, long vcpus, long ram, long disk)
{
	return (struct placement_host){name, "nova", 1, vcpus, ram, disk, 0, 0, 0};
}

static int choose(const struct placement_host *h, size_t n, const struct placement_ratios *r,
                  long vcpus, long ram, long disk, const char *az, char *why)
{
	const struct placement_request q = {vcpus, ram, disk, az};
	return placement_choose(h, n, r, &q, why, PLACEMENT_REASON_MAX);
}

static void zero_hosts(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	assert_int_equal(choose(NULL, 0, &one, 1, 512, 1, NULL, why), -1);
	assert_string_equal(why, "no compute host is up");
}

static void all_down(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 8192, 100)};
	h[0].up = h[1].up = 0;
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, NULL, why), -1);
	assert_string_equal(why, "no compute host is up: node1 is down, node2 is down");
}

static void down_host_is_skipped(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("big", 64, 262144, 1000), host("small", 2, 2048, 20)};
	h[0].up = 0;
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, NULL, why), 1);
	assert_string_equal(why, "");
}

static void ram_reason(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 2048, 100)};
	h[0].used_ram_mb = 1024;
	assert_int_equal(choose(h, 1, &one, 1, 8192, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 8192 MB RAM free: node1 has 1024 MB");
}

static void ram_reason_lists_only_hosts_that_got_there(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 1024, 100), host("node2", 8, 4096, 100),
	                             host("node3", 8, 2048, 100)};
	h[1].up = 0;
	assert_int_equal(choose(h, 3, &one, 1, 8192, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 8192 MB RAM free: node1 has 1024 MB, node3 has "
	                         "2048 MB");
}

static void ram_ratio(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 1024, 100)};
	/* 1024 * 1.5 = 1536 may be allocated */
	assert_int_equal(choose(h, 1, &nubo, 1, 1536, 1, NULL, why), 0);
	assert_int_equal(choose(h, 1, &nubo, 1, 1537, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 1537 MB RAM free: node1 has 1536 MB");
	h[0].used_ram_mb = 1000;
	assert_int_equal(choose(h, 1, &nubo, 1, 537, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 537 MB RAM free: node1 has 536 MB");
}

static void overcommitted_host_shows_zero(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 1024, 100)};
	h[0].used_ram_mb = 4096; /* the ratio was lowered after placing */
	assert_int_equal(choose(h, 1, &one, 1, 64, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 64 MB RAM free: node1 has 0 MB");
}

static void cores_reason_and_ratio(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 1, 65536, 100)};
	h[0].used_vcpus = 15; /* 1 * 16 = 16 may be allocated */
	assert_int_equal(choose(h, 1, &nubo, 1, 512, 1, NULL, why), 0);
	assert_int_equal(choose(h, 1, &nubo, 2, 512, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 2 vCPUs free: node1 has 1");
	assert_int_equal(choose(h, 1, &one, 1, 512, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 1 vCPUs free: node1 has 0");
}

static void disk_reason_and_ratio(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 20)};
	h[0].used_disk_gb = 10;
	assert_int_equal(choose(h, 1, &one, 1, 512, 10, NULL, why), 0);
	assert_int_equal(choose(h, 1, &one, 1, 512, 40, NULL, why), -1);
	assert_string_equal(why, "no host has 40 GB disk free: node1 has 10 GB");
	const struct placement_ratios twice = {1.0, 1.0, 2.0};
	assert_int_equal(choose(h, 1, &twice, 1, 512, 30, NULL, why), 0);
}

static void zero_disk_request_fits_a_full_disk(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 20)};
	h[0].used_disk_gb = 20;
	assert_int_equal(choose(h, 1, &one, 1, 512, 0, NULL, why), 0);
}

static void filters_run_in_order(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	/* short of everything: RAM is reported first, then cores, then disk */
	struct placement_host h[] = {host("node1", 1, 512, 1)};
	assert_int_equal(choose(h, 1, &one, 4, 1024, 10, NULL, why), -1);
	assert_string_equal(why, "no host has 1024 MB RAM free: node1 has 512 MB");
	assert_int_equal(choose(h, 1, &one, 4, 512, 10, NULL, why), -1);
	assert_string_equal(why, "no host has 4 vCPUs free: node1 has 1");
	assert_int_equal(choose(h, 1, &one, 1, 512, 10, NULL, why), -1);
	assert_string_equal(why, "no host has 10 GB disk free: node1 has 1 GB");
}

static void one_host_fails_each_filter(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("a", 1, 8192, 100), host("b", 8, 512, 100),
	                             host("c", 8, 8192, 1), host("d", 8, 4096, 100)};
	assert_int_equal(choose(h, 4, &one, 2, 1024, 10, NULL, why), 3);
}

static void most_free_ram_wins(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 16384, 100),
	                             host("node3", 8, 16384, 100)};
	h[1].used_ram_mb = 10000; /* 6384 free */
	h[2].used_ram_mb = 4000;  /* 12384 free */
	assert_int_equal(choose(h, 3, &one, 1, 512, 1, NULL, why), 2);
}

static void weigher_uses_ratio(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 4000, 100), host("node2", 8, 5000, 100)};
	h[1].used_ram_mb = 1500; /* 1.5: node1 6000 free, node2 6000 free -> tie -> node1 */
	assert_int_equal(choose(h, 2, &nubo, 1, 512, 1, NULL, why), 0);
	h[1].used_ram_mb = 1499;
	assert_int_equal(choose(h, 2, &nubo, 1, 512, 1, NULL, why), 1);
}

static void ties_go_to_the_smallest_name_in_any_order(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node3", 8, 8192, 100), host("node1", 8, 8192, 100),
	                             host("node2", 8, 8192, 100)};
	assert_int_equal(choose(h, 3, &one, 1, 512, 1, NULL, why), 1);
	struct placement_host g[] = {host("node2", 8, 8192, 100), host("node3", 8, 8192, 100),
	                             host("node1", 8, 8192, 100)};
	assert_int_equal(choose(g, 3, &one, 1, 512, 1, NULL, why), 2);
}

static void exact_fit(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 2, 2048, 20)};
	h[0].used_vcpus = 1;
	h[0].used_ram_mb = 1024;
	h[0].used_disk_gb = 10;
	assert_int_equal(choose(h, 1, &one, 1, 1024, 10, NULL, why), 0);
}

static void az_filter(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 4096, 100)};
	h[1].az = "az1";
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, "az1", why), 1);
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, "az2", why), -1);
	assert_string_equal(why, "no host is in availability zone \"az2\": node1 is in \"nova\", "
	                         "node2 is in \"az1\"");
	/* no zone, "" and the default zone all mean any zone: most free RAM wins */
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, NULL, why), 0);
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, "", why), 0);
	h[0].az = "az3";
	assert_int_equal(choose(h, 2, &one, 1, 512, 1, "nova", why), 0);
	assert_true(placement_az_any(NULL));
	assert_true(placement_az_any(""));
	assert_true(placement_az_any(PLACEMENT_DEFAULT_AZ));
	assert_false(placement_az_any("az1"));
}

static void az_null_on_host(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100)};
	h[0].az = NULL;
	assert_int_equal(choose(h, 1, &one, 1, 512, 1, "az1", why), -1);
	assert_string_equal(why, "no host is in availability zone \"az1\": node1 is in \"\"");
}

static void az_then_resources(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 65536, 100), host("node2", 8, 1024, 100)};
	h[1].az = "az1";
	/* the big host is in the wrong zone: the RAM reason names only node2 */
	assert_int_equal(choose(h, 2, &one, 1, 4096, 1, "az1", why), -1);
	assert_string_equal(why, "no host has 4096 MB RAM free: node2 has 1024 MB");
}

static void many_hosts_are_counted(void **state)
{
	char why[PLACEMENT_REASON_MAX], names[12][16];
	struct placement_host h[12];
	for (int i = 0; i < 12; i++) {
		snprintf(names[i], sizeof(names[i]), "n%d", i);
		h[i] = host(names[i], 1, 100, 1);
	}
	assert_int_equal(choose(h, 12, &one, 1, 200, 1, NULL, why), -1);
	assert_string_equal(why, "no host has 200 MB RAM free: n0 has 100 MB, n1 has 100 MB, n2 "
	                         "has 100 MB, n3 has 100 MB, n4 has 100 MB, n5 has 100 MB, n6 "
	                         "has 100 MB, n7 has 100 MB and 4 more");
}

static void reason_is_cut_safely(void **state)
{
	char why[24];
	struct placement_host h[] = {host("node1", 8, 1024, 100)};
	const struct placement_request q = {1, 8192, 1, NULL};
	assert_int_equal(placement_choose(h, 1, &one, &q, why, sizeof(why)), -1);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_memory_equal(why, "no host has 8192 MB RAM", 23);
	char tiny[1] = {'x'};
	assert_int_equal(placement_choose(h, 1, &one, &q, tiny, sizeof(tiny)), -1);
	assert_int_equal(tiny[0], '\0');
}

static void free_is_floored(void **state)
{
	assert_int_equal(placement_free(3, 1.5, 0), 4);
	assert_int_equal(placement_free(3, 1.5, 5), -1);
	assert_int_equal(placement_free(1024, 1.5, 0), 1536);
	assert_int_equal(placement_free(16, 16.0, 200), 56);
	assert_int_equal(placement_free(0, 16.0, 0), 0);
	/* huge capacities do not overflow */
	assert_true(placement_free(1L << 30, 1000.0, 0) > 0);
}

/* Server groups: the hard policies filter, the soft ones prefer and fall back. */
static int grouped(const struct placement_host *h, size_t n, const char *policy, long max,
                   const char *const *members, size_t nm, char *why)
{
	const struct placement_request q = {1, 512, 1, NULL};
	const struct placement_group g = {policy, max, members, nm};
	return placement_choose_grouped(h, n, &one, &q, &g, why, PLACEMENT_REASON_MAX);
}

static void group_affinity(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	/* node2 has more RAM free, but the group's member is on node1 */
	struct placement_host h[] = {host("node1", 8, 4096, 100), host("node2", 8, 8192, 100)};
	const char *const on1[] = {"node1", NULL};
	assert_int_equal(grouped(h, 2, "affinity", 1, on1, 2, why), 0);
	/* no member placed yet: the usual choice */
	assert_int_equal(grouped(h, 2, "affinity", 1, NULL, 0, why), 1);
	/* the member's host is full: no other host will do */
	h[0].used_ram_mb = 4096;
	assert_int_equal(grouped(h, 2, "affinity", 1, on1, 2, why), -1);
	assert_non_null(strstr(why, "no host satisfies server group policy affinity"));
	assert_non_null(strstr(why, "node1 holds 1 member"));
	assert_non_null(strstr(why, "no host has 512 MB RAM free"));
}

static void group_anti_affinity(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 4096, 100)};
	const char *const on1[] = {"node1"};
	assert_int_equal(grouped(h, 2, "anti-affinity", 1, on1, 1, why), 1);
	/* one host: the second member has nowhere to go */
	assert_int_equal(grouped(h, 1, "anti-affinity", 1, on1, 1, why), -1);
	assert_string_equal(why, "no host satisfies server group policy anti-affinity: node1 "
	                         "holds 1 member");
	/* 2.64's max_server_per_host lets two share a host */
	assert_int_equal(grouped(h, 1, "anti-affinity", 2, on1, 1, why), 0);
	const char *const two[] = {"node1", "node1"};
	assert_int_equal(grouped(h, 1, "anti-affinity", 2, two, 2, why), -1);
}

static void group_soft_policies(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 4096, 100)};
	const char *const on1[] = {"node1"}, *const on2[] = {"node2"};
	/* soft-anti-affinity prefers the host with fewer members, falls back when alone */
	assert_int_equal(grouped(h, 2, "soft-anti-affinity", 1, on1, 1, why), 1);
	assert_int_equal(grouped(h, 1, "soft-anti-affinity", 1, on1, 1, why), 0);
	/* soft-affinity prefers the member's host, falls back when it is full */
	assert_int_equal(grouped(h, 2, "soft-affinity", 1, on2, 1, why), 1);
	h[1].used_ram_mb = 4096;
	assert_int_equal(grouped(h, 2, "soft-affinity", 1, on2, 1, why), 0);
	/* no group: placement_choose itself */
	const struct placement_request q = {1, 512, 1, NULL};
	assert_int_equal(placement_choose_grouped(h, 2, &one, &q, NULL, why, sizeof(why)), 0);
}

/* The volume-local weigher: one case per row. Hosts a (8 GB), b (16 GB), c (4 GB RAM),
 * 4 vCPUs each; `local` marks which hold the boot volume's machine. */
static const struct local_case {
	const char *what;
	int local[3]; /* a, b, c */
	int down[3];  /* a, b, c */
	long used[3]; /* RAM used on a, b, c */
	long ram;     /* the request */
	int want;     /* index, or -1 */
} local_cases[] = {
    {"no local host: most free RAM", {0, 0, 0}, {0, 0, 0}, {0, 0, 0}, 512, 1},
    {"the local host wins over more free RAM", {1, 0, 0}, {0, 0, 0}, {0, 0, 0}, 512, 0},
    {"the smallest local host still wins", {0, 0, 1}, {0, 0, 0}, {0, 0, 0}, 512, 2},
    {"a full local host lets it land elsewhere", {1, 0, 0}, {0, 0, 0}, {8192, 0, 0}, 512, 1},
    {"a down local host lets it land elsewhere", {1, 0, 0}, {1, 0, 0}, {0, 0, 0}, 512, 1},
    {"a local host too small for the request is skipped", {0, 0, 1}, {0, 0, 0}, {0, 0, 0}, 6000, 1},
    {"between two local hosts, most free RAM", {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, 512, 1},
    {"between two local hosts, usage counts", {1, 1, 0}, {0, 0, 0}, {0, 12288, 0}, 512, 0},
    {"nothing fits: the weigher does not help", {1, 1, 1}, {0, 0, 0}, {0, 0, 0}, 65536, -1},
};

static void volume_local_weigher(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	for (size_t k = 0; k < sizeof(local_cases) / sizeof(local_cases[0]); k++) {
		const struct local_case *c = &local_cases[k];
		struct placement_host h[] = {host("a", 4, 8192, 100), host("b", 4, 16384, 100),
		                             host("c", 4, 4096, 100)};
		for (int i = 0; i < 3; i++) {
			h[i].local = c->local[i];
			h[i].up = !c->down[i];
			h[i].used_ram_mb = c->used[i];
		}
		int got = choose(h, 3, &one, 1, c->ram, 1, NULL, why);
		if (got != c->want)
			fail_msg("%s: chose %d, want %d (%s)", c->what, got, c->want, why);
	}
}

/* Soft group policies and affinity still choose among their hosts first; locality
 * only ranks the hosts a policy leaves. */
static void volume_local_under_groups(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	struct placement_host h[] = {host("node1", 8, 8192, 100), host("node2", 8, 8192, 100)};
	h[1].local = 1;
	const char *const on1[] = {"node1"};
	const struct placement_request q = {1, 512, 1, NULL};
	struct placement_group g = {"affinity", 1, on1, 1};
	assert_int_equal(placement_choose_grouped(h, 2, &one, &q, &g, why, sizeof(why)), 0);
	g.policy = "anti-affinity";
	assert_int_equal(placement_choose_grouped(h, 2, &one, &q, &g, why, sizeof(why)), 1);
	assert_int_equal(placement_choose_grouped(h, 2, &one, &q, NULL, why, sizeof(why)), 1);
}

static struct placement_store store(const char *name, long free_gb, int local)
{
	return (struct placement_store){name, 1, free_gb, local};
}

/* Storage placement: filters up, local (only under the hint), space; weighers local,
 * free space, name. */
static const struct store_case {
	const char *what;
	long free[3]; /* st1, st2, st3 */
	int local[3];
	int down[3];
	long size;
	int local_only;
	int want;
	const char *why; /* when want is -1 */
} store_cases[] = {
    {"most free space", {10, 30, 20}, {0, 0, 0}, {0, 0, 0}, 5, 0, 1, ""},
    {"ties: the smallest name", {30, 30, 20}, {0, 0, 0}, {0, 0, 0}, 5, 0, 0, ""},
    {"the server's machine first", {10, 30, 20}, {0, 0, 1}, {0, 0, 0}, 5, 0, 2, ""},
    {"the server's machine without room: elsewhere",
     {10, 30, 4},
     {0, 0, 1},
     {0, 0, 0},
     5,
     0,
     1,
     ""},
    {"the server's machine down: elsewhere", {10, 30, 20}, {0, 0, 1}, {0, 0, 1}, 5, 0, 1, ""},
    {"hint: only the server's machine", {10, 30, 20}, {1, 0, 0}, {0, 0, 0}, 5, 1, 0, ""},
    {"hint: no storage host on the server's machine",
     {10, 30, 20},
     {0, 0, 0},
     {0, 0, 0},
     5,
     1,
     -1,
     "no storage host runs on the server's machine: st1 is on another, st2 is on another, "
     "st3 is on another"},
    {"hint: the server's machine is full",
     {10, 30, 4},
     {0, 0, 1},
     {0, 0, 0},
     5,
     1,
     -1,
     "no storage host has 5 GB free: st3 has 4 GB"},
    {"hint: the server's machine is down",
     {10, 30, 20},
     {0, 0, 1},
     {0, 0, 1},
     5,
     1,
     -1,
     "no storage host runs on the server's machine: st1 is on another, st2 is on another"},
    {"no room anywhere",
     {1, 2, 0},
     {0, 0, 0},
     {0, 0, 0},
     5,
     0,
     -1,
     "no storage host has 5 GB free: st1 has 1 GB, st2 has 2 GB, st3 has 0 GB"},
    {"all down",
     {10, 30, 20},
     {0, 0, 0},
     {1, 1, 1},
     5,
     0,
     -1,
     "no storage host is up: st1 is down, st2 is down, st3 is down"},
};

static void store_choose_table(void **state)
{
	char why[PLACEMENT_REASON_MAX];
	for (size_t k = 0; k < sizeof(store_cases) / sizeof(store_cases[0]); k++) {
		const struct store_case *c = &store_cases[k];
		struct placement_store h[] = {store("st1", c->free[0], c->local[0]),
		                              store("st2", c->free[1], c->local[1]),
		                              store("st3", c->free[2], c->local[2])};
		for (int i = 0; i < 3; i++)
			h[i].up = !c->down[i];
		int got = placement_store_choose(h, 3, c->size, c->local_only, why, sizeof(why));
		if (got != c->want)
			fail_msg("%s: chose %d, want %d (%s)", c->what, got, c->want, why);
		if (strcmp(why, c->why))
			fail_msg("%s: reason \"%s\", want \"%s\"", c->what, why, c->why);
	}
	assert_int_equal(placement_store_choose(NULL, 0, 1, 0, why, sizeof(why)), -1);
	assert_string_equal(why, "no storage host is up");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(zero_hosts),
	    cmocka_unit_test(group_affinity),
	    cmocka_unit_test(group_anti_affinity),
	    cmocka_unit_test(group_soft_policies),
	    cmocka_unit_test(all_down),
	    cmocka_unit_test(down_host_is_skipped),
	    cmocka_unit_test(ram_reason),
	    cmocka_unit_test(ram_reason_lists_only_hosts_that_got_there),
	    cmocka_unit_test(ram_ratio),
	    cmocka_unit_test(overcommitted_host_shows_zero),
	    cmocka_unit_test(cores_reason_and_ratio),
	    cmocka_unit_test(disk_reason_and_ratio),
	    cmocka_unit_test(zero_disk_request_fits_a_full_disk),
	    cmocka_unit_test(filters_run_in_order),
	    cmocka_unit_test(one_host_fails_each_filter),
	    cmocka_unit_test(most_free_ram_wins),
	    cmocka_unit_test(weigher_uses_ratio),
	    cmocka_unit_test(ties_go_to_the_smallest_name_in_any_order),
	    cmocka_unit_test(exact_fit),
	    cmocka_unit_test(az_filter),
	    cmocka_unit_test(az_null_on_host),
	    cmocka_unit_test(az_then_resources),
	    cmocka_unit_test(many_hosts_are_counted),
	    cmocka_unit_test(reason_is_cut_safely),
	    cmocka_unit_test(free_is_floored),
	    cmocka_unit_test(volume_local_weigher),
	    cmocka_unit_test(volume_local_under_groups),
	    cmocka_unit_test(store_choose_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The ring: placement spreads every partition's replicas over distinct zones in
 * proportion to weight; a rebalance moves the minimum; the text form round-trips and
 * refuses malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdio.h>

#include "object-store/ring.h"

static struct ring *three_zones(unsigned pp)
{
	struct ring *r = ring_new(pp, 3);
	assert_non_null(r);
	assert_int_equal(ring_add_dev(r, 1, 100, "127.0.0.1", 6201, "d1"), 0);
	assert_int_equal(ring_add_dev(r, 2, 100, "127.0.0.1", 6202, "d2"), 1);
	assert_int_equal(ring_add_dev(r, 3, 100, "127.0.0.1", 6203, "d3"), 2);
	return r;
}

static void assert_zones_distinct(const struct ring *r)
{
	for (unsigned p = 0; p < (1u << r->part_power); p++) {
		int d[RING_MAX_REPLICAS];
		ring_primaries(r, p, d);
		for (unsigned k = 0; k < r->replicas; k++) {
			assert_int_not_equal(d[k], RING_NONE);
			for (unsigned j = 0; j < k; j++)
				assert_int_not_equal(r->devs[d[k]].zone, r->devs[d[j]].zone);
		}
	}
}

static void count_per_dev(const struct ring *r, long *count)
{
	memset(count, 0, sizeof(long) * (size_t)r->ndevs);
	for (size_t s = 0; s < ((size_t)1 << r->part_power) * r->replicas; s++)
		count[r->assign[s]]++;
}

static void test_placement_spreads_zones(void **state)
{
	struct ring *r = three_zones(8);
	assert_int_equal(ring_rebalance(r), 256 * 3);
	assert_zones_distinct(r);
	long c[3];
	count_per_dev(r, c);
	for (int i = 0; i < 3; i++)
		assert_int_equal(c[i], 256);
	/* nothing changed: nothing moves */
	assert_int_equal(ring_rebalance(r), 0);
	assert_int_equal(r->version, 2);
	ring_free(r);
}

/* Two devices per zone with weights 1:3: each gets its share of its zone. */
static void test_weights(void **state)
{
	struct ring *r = ring_new(10, 3);
	for (int z = 1; z <= 3; z++) {
		ring_add_dev(r, z, 100, "127.0.0.1", 6200 + (unsigned)z * 2, "a");
		ring_add_dev(r, z, 300, "127.0.0.1", 6201 + (unsigned)z * 2, "b");
	}
	ring_rebalance(r);
	assert_zones_distinct(r);
	long c[6];
	count_per_dev(r, c);
	for (int i = 0; i < 6; i += 2) {
		assert_in_range(c[i], 256 - 2, 256 + 2);
		assert_in_range(c[i + 1], 768 - 2, 768 + 2);
	}
	ring_free(r);
}

/* Adding a fourth zone of equal weight moves a quarter of the slots (its share) and
 * not more; draining it again moves exactly those back. */
static void test_rebalance_moves_minimum(void **state)
{
	struct ring *r = three_zones(10);
	ring_rebalance(r);
	ring_add_dev(r, 4, 100, "127.0.0.1", 6204, "d4");
	long moved = ring_rebalance(r);
	long share = 1024 * 3 / 4;
	assert_in_range(moved, share - 3, share + 3);
	assert_zones_distinct(r);
	long c[4];
	count_per_dev(r, c);
	for (int i = 0; i < 4; i++)
		assert_in_range(c[i], share - 3, share + 3);
	/* a device drained: only its slots move */
	assert_int_equal(ring_set_weight(r, 3, 0), 0);
	long gone = c[3];
	assert_int_equal(ring_rebalance(r), gone);
	assert_zones_distinct(r);
	ring_free(r);
}

/* Fewer zones than replicas: devices still distinct. */
static void test_one_zone(void **state)
{
	struct ring *r = ring_new(6, 3);
	for (int i = 0; i < 3; i++)
		ring_add_dev(r, 1, 1, "127.0.0.1", 6201 + (unsigned)i, "d");
	ring_rebalance(r);
	for (unsigned p = 0; p < 64; p++) {
		int d[3];
		ring_primaries(r, p, d);
		assert_true(d[0] != d[1] && d[1] != d[2] && d[0] != d[2]);
	}
	ring_free(r);
}

static void test_handoffs(void **state)
{
	struct ring *r = three_zones(4);
	ring_add_dev(r, 1, 100, "127.0.0.1", 6204, "d4");
	ring_add_dev(r, 4, 100, "127.0.0.1", 6205, "d5");
	ring_rebalance(r);
	for (unsigned p = 0; p < 16; p++) {
		int prim[3], h[8];
		ring_primaries(r, p, prim);
		int n = ring_handoffs(r, p, h, 8);
		assert_int_equal(n, 2);
		for (int i = 0; i < n; i++)
			for (int k = 0; k < 3; k++)
				assert_int_not_equal(h[i], prim[k]);
		/* a zone the primaries lack comes first */
		int zone_used = 0;
		for (int k = 0; k < 3; k++)
			zone_used |= r->devs[prim[k]].zone == r->devs[h[0]].zone;
		assert_false(zone_used);
	}
	ring_free(r);
}

static void test_part_stable(void **state)
{
	struct ring *r = three_zones(10);
	char h[33];
	ring_hash("AUTH_a", "c", "o", h);
	assert_string_equal(h, "b94e8603ad9274b6d48ef066e8367f13");
	unsigned p = ring_part(r, "AUTH_a", "c", "o");
	assert_true(p < 1024);
	assert_int_equal(p, 0xb94e8603 >> 22);
	ring_free(r);
}

static void test_text_round_trip(void **state)
{
	struct ring *r = three_zones(4);
	ring_rebalance(r);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ring_write(r, f);
	fclose(f);
	char err[128];
	struct ring *q = ring_parse(buf, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(q->version, r->version);
	assert_int_equal(q->ndevs, 3);
	assert_memory_equal(q->assign, r->assign, 16 * 3 * sizeof(uint16_t));
	assert_string_equal(q->devs[2].name, "d3");
	assert_int_equal(q->devs[2].port, 6203);
	ring_free(q);
	free(buf);
	ring_free(r);
}

static void test_parse_refuses(void **state)
{
	static const char *bad[] = {
	    "",
	    "nubo-ring 2\n",
	    "nubo-ring 1\nversion 1\npart_power 40\nreplicas 3\n",
	    "nubo-ring 1\nversion 1\npart_power 2\nreplicas 3\ndevice 1 zone 1 weight 1 "
	    "127.0.0.1:1 a\n",
	    "nubo-ring 1\nversion 1\npart_power 2\nreplicas 3\ndevice 0 zone 1 weight 1 "
	    "127.0.0.1:99999 a\n",
	    "nubo-ring 1\nversion 1\npart_power 2\nreplicas 3\ndevice 0 zone 1 weight 1 "
	    "127.0.0.1:1 a/b\n",
	    "nubo-ring 1\nversion 1\npart_power 1\nreplicas 1\ndevice 0 zone 1 weight 1 "
	    "127.0.0.1:1 a\npart 0 5\npart 1 0\n",
	    "nubo-ring 1\nversion 1\npart_power 1\nreplicas 1\ndevice 0 zone 1 weight 1 "
	    "127.0.0.1:1 a\npart 0 0\n",
	    "nubo-ring 1\nversion 1\npart_power 1\nreplicas 1\npart 0 0 junk\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[128];
		struct ring *r = ring_parse(bad[i], err, sizeof(err));
		if (r)
			fail_msg("accepted case %zu", i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_placement_spreads_zones),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_rebalance_moves_minimum),
	    cmocka_unit_test(test_one_zone),
	    cmocka_unit_test(test_handoffs),
	    cmocka_unit_test(test_part_stable),
	    cmocka_unit_test(test_text_round_trip),
	    cmocka_unit_test(test_parse_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

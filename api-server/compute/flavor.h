/* Compute flavors: the view of one flavor row (pure, flavor_view.c), shared by the
 * list, detail, show, create and update of flavor.c. */
#ifndef NUBO_FLAVOR_H
#define NUBO_FLAVOR_H
#include <libpq-fe.h>

/* One flavors row as FLAVOR_COLS selects it: strings borrowed from a PGresult (or test
 * literals); NULL means SQL NULL. rxtx_factor is PostgreSQL's text of the double,
 * extra_specs its text of the jsonb object. */
struct flavor_row {
	const char *id, *name;
	long ram_mb, disk_gb, vcpus, swap_mb, ephemeral_gb;
	const char *rxtx_factor;
	int is_public, disabled;
	const char *description, *extra_specs;
};

/* Fills f from row `row` of a result of FLAVOR_COLS (flavor.c). */
void flavor_row_from(const PGresult *res, int row, struct flavor_row *f);

struct jsonw;
/* Pure: the flavor as Nova shows it at 2.<mv_minor>, one value written into w: brief =
 * id, name and links (GET /flavors), else the full view (detail, show, create,
 * update). From 2.55 the description, from 2.61 extra_specs, from 2.75 swap 0 rather
 * than "". The bytes are those jansson's JSON_COMPACT gave for the tree built before
 * (tests/unit/test_flavor_view.c). */
void flavor_view_write(struct jsonw *w, const struct flavor_row *f, const char *public_url,
                       int mv_minor, int brief);

#endif

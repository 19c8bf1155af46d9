/* The arithmetic of os-simple-tenant-usage, pure so it is unit-tested: how many hours
 * an instance ran inside a reporting window, and the per-tenant totals Nova reports
 * (hours, and vCPU-, MB-RAM- and GB-disk-hours). compute_misc.c serves the endpoint. */
#ifndef NUBO_USAGE_H
#define NUBO_USAGE_H
#include <time.h>

struct usage_totals {
	double hours;
	double vcpu_hours;
	double memory_mb_hours;
	double local_gb_hours;
	long servers;
};

/* Hours an instance launched at `launched` and terminated at `terminated` (0 = still
 * running) ran within [start, end): 0 when never launched (launched == 0) or when the
 * intervals do not overlap. Unlike Nova, a running instance is charged up to `now`, not
 * up to an `end` that lies in the future. */
double usage_hours(time_t launched, time_t terminated, time_t start, time_t end, time_t now);

/* Adds one server that ran `hours` with the given size to t. */
void usage_add(struct usage_totals *t, double hours, long vcpus, long memory_mb, long local_gb);

#endif

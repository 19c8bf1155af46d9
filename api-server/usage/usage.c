/* Usage arithmetic for os-simple-tenant-usage (see usage.h). */
#include "usage/usage.h"

double usage_hours(time_t launched, time_t terminated, time_t start, time_t end, time_t now)
{
	if (launched == 0 || end <= start)
		return 0.0;
	time_t from = launched > start ? launched : start;
	time_t stop = terminated != 0 ? terminated : now;
	time_t to = stop < end ? stop : end;
	if (to <= from)
		return 0.0;
	return (double)(to - from) / 3600.0;
}

void usage_add(struct usage_totals *t, double hours, long vcpus, long memory_mb, long local_gb)
{
	t->hours += hours;
	t->vcpu_hours += hours * (double)vcpus;
	t->memory_mb_hours += hours * (double)memory_mb;
	t->local_gb_hours += hours * (double)local_gb;
	t->servers++;
}

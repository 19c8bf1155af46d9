/* Host facts for the hello: the host's uptime (os-hypervisors/{id}/uptime). */
#include "host_facts.h"

#include <sys/sysinfo.h>

int host_uptime_s(void)
{
	struct sysinfo si;
	if (sysinfo(&si) < 0 || si.uptime <= 0)
		return 0;
	return si.uptime > (1L << 30) ? 1 << 30 : (int)si.uptime;
}

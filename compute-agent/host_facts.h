/* Facts about the compute host the agent reports beside its capacity. */
#ifndef NUBO_COMPUTE_HOST_FACTS_H
#define NUBO_COMPUTE_HOST_FACTS_H

/* Seconds since the host booted (the kernel's uptime, sysinfo(2)), capped at 2^30;
 * 0 when it cannot be read. */
int host_uptime_s(void);

#endif

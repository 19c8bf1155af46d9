/* The guest hostname the spawn task carries: a server name made into one DNS label
 * the way Nova does it. Pure. */
#ifndef NUBO_SCHED_HOSTNAME_H
#define NUBO_SCHED_HOSTNAME_H

#define HOSTNAME_MAX 64 /* a DNS label (63) plus NUL */

/* Writes into out the label for a server called name (may be NULL): spaces, '_' and
 * '.' become '-', letters are lowered, anything not [a-z0-9-] is dropped, leading
 * and trailing '-' are stripped, and it is cut to 63 characters. When nothing is
 * left it is the label of "server-<id>" ("server" when id is NULL). */
void hostname_from_name(const char *name, const char *id, char out[HOSTNAME_MAX]);

#endif

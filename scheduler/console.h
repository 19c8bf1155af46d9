/* The scheduler side of the serial console log (docs/internals.md, "Console log"). */
#ifndef NUBO_SCHED_CONSOLE_H
#define NUBO_SCHED_CONSOLE_H

#define CONSOLE_KEEP_BYTES (256 * 1024) /* instance_console.log keeps this much tail */

struct sched;
struct msg;
/* Bus handler for console: appends the data (or, with reset, replaces the log) of an
 * instance that peer hosts, keeping the last CONSOLE_KEEP_BYTES. Returns 0 or a
 * negative errno (already logged). */
int console_on_msg(struct sched *s, const char *peer, struct msg *m);

#endif

/* A bounded gate for costly work (argon2id password hashing): at most `running`
 * callers inside at once, at most `waiting` more queued; the rest are turned away at
 * once, so a burst costs bounded memory and latency instead of piling up. */
#ifndef NUBO_GATE_H
#define NUBO_GATE_H

struct gate;

/* A gate for running >= 1 at once and waiting >= 0 queued. */
struct gate *gate_new(int running, int waiting);
/* Accepts NULL. No caller may be inside. */
void gate_free(struct gate *g);
/* Enters, waiting in line while it is full. Returns 0 (then gate_leave() once), or
 * -EBUSY when the line is full too. A NULL gate always admits. */
int gate_enter(struct gate *g);
void gate_leave(struct gate *g);

#endif

/* The compute agent's event loop: a ZeroMQ DEALER to the scheduler (hello at start and
 * on every reconnect, heartbeats with capacity and every instance's power state),
 * tasks run in worker threads (one at a time per instance, results handed back to
 * this thread through a queue and an eventfd, since zmq sockets are not thread-safe),
 * console output and self-inflicted state changes sent as they happen. */
#ifndef NUBO_COMPUTE_AGENT_H
#define NUBO_COMPUTE_AGENT_H
#include <signal.h>
#include <stddef.h>

#include "compute_conf.h"
#include "priv.h"

struct compute_agent;

/* Prepares the state directory, picks the accelerator, re-attaches to the instances
 * found under <state_dir>/instances. conf and priv (the privileged helper; NULL only
 * for the fake driver) are borrowed and must outlive the agent. Returns owned, or
 * NULL with err. */
struct compute_agent *compute_agent_new(const struct compute_conf *conf, struct priv *priv,
                                        char *err, size_t errlen);
/* Runs until *stop becomes non-zero, then waits (bounded) for running tasks so their
 * results are sent. Returns 0, or a negative errno when the bus could not be set up. */
int compute_agent_run(struct compute_agent *a, volatile sig_atomic_t *stop);
void compute_agent_free(struct compute_agent *a);

#endif

/* The one agent runtime: what every agent (nubo-compute now; nubo-net and nubo-storage
 * later) does the same way. A ZeroMQ DEALER to the scheduler with CURVE; hello at
 * start and on every reconnect, heartbeats; tasks run on worker threads, one at a
 * time per resource, results handed back to the main thread (zmq sockets are not
 * thread-safe); a task id seen before is answered, not run again; every result is
 * persisted under <state_dir>/results/ until the scheduler acknowledges it
 * (MSG_ACK) and re-sent on every reconnect and after a restart, so a result is
 * never lost with a killed agent.
 *
 * An agent kind is a driver: a state report, a task runner (its table of action
 * handlers) and a tick. Like daemon.c this is a daemon's edge and logs. */
#ifndef NUBO_AGENT_H
#define NUBO_AGENT_H
#include <signal.h>
#include <stddef.h>

#include "conf.h"
#include "msg.h"

struct agent;

struct agent_driver {
	enum msg_agent_kind kind;
	/* Main thread, when a task arrives: the driver's record of the task's resource
	 * (made when new), handed to run and done. NULL refuses the task (err says why). */
	void *(*resource)(void *drv, const struct msg_task *t, char *err, size_t errlen);
	/* Worker thread, one task at a time per resource: runs t on res and fills r
	 * (task and resource ids are set; r->error owned). */
	void (*run)(void *drv, void *res, const struct msg_task *t, struct msg_result *r);
	/* Main thread, after the result went out. queued: more tasks wait for res (so
	 * it must stay). */
	void (*done)(void *drv, void *res, const struct msg_result *r, int queued);
	/* Main thread: fills capacity and resources of h (host, az, kind are set). */
	void (*report)(void *drv, struct msg_hello *h);
	/* Main thread, once a second: liveness checks and the like; it may send
	 * events and console output with agent_send(). */
	void (*tick)(void *drv, struct agent *a);
};

struct agent_conf {
	const char *host;          /* routing id */
	const char *az;            /* availability zone in hello */
	const char *scheduler_url; /* [bus] scheduler_url */
	const struct conf *raw;    /* CURVE keys for bus_secure_client */
	const char *state_dir;     /* results/ goes below it */
	int heartbeat_interval;    /* seconds */
	int max_workers;           /* tasks running at once */
};

/* A runtime for driver d (drv is its state; both borrowed, as is conf). Loads the
 * results not yet acknowledged. Returns owned, or NULL with err. */
struct agent *agent_new(const struct agent_conf *conf, const struct agent_driver *d, void *drv,
                        char *err, size_t errlen);
/* Runs until *stop, then waits (bounded) for running tasks. 0, or a negative errno
 * when the bus could not be set up. */
int agent_run(struct agent *a, volatile sig_atomic_t *stop);
/* Sends m to the scheduler (main thread only: tick). */
void agent_send(struct agent *a, const struct msg *m);
/* Number of tasks still running on worker threads. */
int agent_busy(const struct agent *a);
/* Frees a (not while workers run: then it is left to the exiting process). */
void agent_free(struct agent *a);

/* Exposed for tests: the results store. Writes r (a MSG_RESULT) under dir as
 * <task_id>.json; removes it; loads every stored result into out (at most max,
 * owned; returns the count). */
int agent_result_store(const char *dir, const struct msg *r);
void agent_result_forget(const char *dir, const char *task_id);
int agent_result_load_all(const char *dir, struct msg *out, int max);

#endif

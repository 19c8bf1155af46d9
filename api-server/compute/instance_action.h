/* Nova's instance actions (os-instance-actions): one row per API request that acted on
 * a server, keyed by the request id, with the events that carried it out. An event
 * names the task it waits for; the scheduler finishes it when the task's result (or
 * its give-up) is recorded (scheduler/instance_tasks.c). */
#ifndef NUBO_INSTANCE_ACTION_H
#define NUBO_INSTANCE_ACTION_H
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"

/* Inside the caller's transaction: records action (Nova's name: "create", "stop",
 * "lock", ...) of request r on instance id and, unless event is NULL, one event of it
 * (Nova's name, e.g. "compute_stop_instance") that waits for task_id (finished at
 * once with result "Success" when task_id is NULL). Returns 0, or -EIO with err. */
int instance_action_record(PGconn *db, const struct req *r, const char *id, const char *action,
                           const char *event, const char *task_id, char *err, size_t errlen);

#endif

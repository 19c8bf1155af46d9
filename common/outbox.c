/* The outbox insert: validated against the bus schema's tables, parameterised. */
#include "outbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

int outbox_insert(PGconn *c, const struct outbox_task *t, char id[UUID_STR_LEN], char *err,
                  size_t errlen)
{
	char task_id[UUID_STR_LEN];
	if (!t->resource_id || !uuid_is_valid(t->resource_id) ||
	    !msg_res_action_valid(t->kind, t->action) ||
	    (t->request_id && !request_id_is_valid(t->request_id))) {
		snprintf(err, errlen, "outbox: %s of %s \"%.40s\" is not a task",
		         t->action ? t->action : "(none)", msg_res_kind_name(t->kind),
		         t->resource_id ? t->resource_id : "");
		return -EINVAL;
	}
	uuid_generate_str(task_id);
	const char *params[] = {task_id,
	                        msg_res_kind_name(t->kind),
	                        t->resource_id,
	                        msg_agent_kind_name(msg_res_kind_agent(t->kind)),
	                        t->action,
	                        t->host,
	                        t->payload ? t->payload : "{}",
	                        t->request_id};
	if (db_exec(c,
	            "INSERT INTO tasks (id, resource_kind, resource_id, agent_kind, action, host,"
	            " payload, request_id, status)"
	            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, 'pending')",
	            8, params, err, errlen) != 1)
		return -EIO;
	if (id)
		memcpy(id, task_id, UUID_STR_LEN);
	return 0;
}

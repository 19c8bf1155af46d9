/* POST /compute/v2.1/servers/{id}/action: a table from request key to handler. The
 * state-changing verbs share one handler driven by server_state.c's action table: a
 * verb that does not fit the instance's state answers 409 as Nova does; one that fits
 * sets task_state and inserts its task in one transaction, then wakes the scheduler.
 * Also os-getConsoleOutput and the admin's os-resetState. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "compute/instance_action.h"
#include "compute/floating_ip_proxy.h"
#include "compute/network_proxy.h"
#include "compute/server_image.h"
#include "jparse.h"
#include "msg.h"
#include "policy.h"
#include "routes.h"
#include "compute/server.h"
#include "util.h"
#include "xalloc.h"

/* The argument of an action, parsed at the edge. */
struct action_arg {
	char *type;  /* reboot */
	char *state; /* os-resetState */
	long length; /* os-getConsoleOutput; -1 = whole log */
};

static const struct jfield f_reboot[] = {
    {"type", J_STR, JF(struct action_arg, type), 0, 16, 1, 0},
};
static const struct jfield f_console[] = {
    {"length", J_INT, JF(struct action_arg, length), -1, 1L << 30, 0, 1},
};
static const struct jfield f_reset[] = {
    {"state", J_STR, JF(struct action_arg, state), 0, 16, 1, 0},
};

typedef void (*action_fn)(struct req *r, struct resp *w, const char *key, const json_t *arg);

/* The request's task verb: lock the row, check the state, set task_state, queue. */
static void action_task(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct action_arg a = {0};
	char err[512], msg[512];
	const char *variant = NULL;
	if (!strcmp(key, "reboot")) {
		if (jparse(arg, f_reboot, JCOUNT(f_reboot), &a, err, sizeof(err)) < 0) {
			resp_error(r, w, 400, "Invalid input for field/attribute reboot. %s", err);
			return;
		}
		variant = a.type;
	}
	const struct server_action *act = server_action_find(key, variant);
	if (!act) {
		resp_error(r, w, 400, "Invalid input for field/attribute type. Value: %s.",
		           variant ? variant : "");
		goto out;
	}
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	PGresult *res = server_find(r, w, r->params[0], 1);
	if (!res) {
		db_rollback(r->ctx->db);
		goto out;
	}
	struct server_row s;
	server_row_from(res, 0, &s);
	int open_task = db_val(res, 0, SERVER_COL_OPEN_TASK)[0] == 't';
	if (server_lock_check(r, w, s.id, s.locked_by) < 0) {
		PQclear(res);
		db_rollback(r->ctx->db);
		goto out;
	}
	int rc =
	    server_action_check(act, s.id, s.vm_state, s.task_state, open_task, msg, sizeof(msg));
	if (rc == 0 && !s.host) {
		/* never placed: no host could carry the task out */
		snprintf(msg, sizeof(msg), "Cannot '%s' instance %s while it is in vm_state %s",
		         act->verb, s.id, s.vm_state);
		rc = -EBUSY;
	}
	if (rc < 0) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_error(r, w, 409, "%s", msg);
		goto out;
	}
	char event[64];
	snprintf(event, sizeof(event), "compute_%s_instance", act->verb);
	int ok = server_task_queue(r, s.id, act->task_state, act->task, act->verb, event, err,
	                           sizeof(err)) == 0;
	PQclear(res);
	if (!ok) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	api_wake_scheduler(r->ctx->api);
	resp_empty(w, 202);
out:
	jparse_release(f_reboot, JCOUNT(f_reboot), &a);
}

static void action_console(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct action_arg a = {.length = -1};
	char err[512];
	if (arg && !json_is_null(arg) &&
	    jparse(arg, f_console, JCOUNT(f_console), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute length. %s", err);
		return;
	}
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	char cid[UUID_STR_LEN];
	snprintf(cid, sizeof(cid), "%s", db_val(res, 0, 0));
	PQclear(res);
	PGresult *c = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT log FROM instance_console WHERE instance_id = $1", cid);
	if (!c) {
		resp_db_error(r, w, err);
		return;
	}
	const char *log = PQntuples(c) == 1 && db_val(c, 0, 0) ? db_val(c, 0, 0) : "";
	const char *tail = server_console_tail(log, a.length);
	json_t *out = json_string(tail);
	if (!out) {
		/* not UTF-8: the agents sanitise, but never fail the caller over it */
		char *copy = xstrdup(tail);
		msg_sanitize_text(copy, strlen(copy));
		out = json_string(copy);
		free(copy);
	}
	PQclear(c);
	resp_json(w, 200, json_pack("{s:o}", "output", out ? out : json_string("")));
}

/* Admin only: force vm_state to active or error and clear task_state (Nova's
 * os-resetState). Open tasks are left to finish. */
static void action_reset_state(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	static const struct {
		const char *state, *status;
	} states[] = {{"active", "ACTIVE"}, {"error", "ERROR"}};
	struct action_arg a = {0};
	char err[512];
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow os_compute_api:os-admin-actions:reset_state to be "
		           "performed.");
		return;
	}
	if (jparse(arg, f_reset, JCOUNT(f_reset), &a, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute os-resetState. %s", err);
		return;
	}
	const char *new_status = NULL;
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (!strcmp(a.state, states[i].state))
			new_status = states[i].status;
	if (!new_status) {
		resp_error(r, w, 400, "Invalid input for field/attribute state. Value: %s.",
		           a.state);
		goto out;
	}
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		goto out;
	int rows = DBX(r->ctx->db, err, sizeof err,
	               "UPDATE instances SET vm_state = $2, status = $3, task_state = NULL,"
	               " updated_at = now() WHERE id = $1 AND NOT deleted",
	               db_val(res, 0, 0), a.state, new_status);
	PQclear(res);
	if (rows < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 202);
out:
	jparse_release(f_reset, JCOUNT(f_reset), &a);
}

/* Nova's "lock": who locked it, an owner ("owner": the server's project) or someone
 * else ("admin"); from 2.73 with an optional reason. */
struct lock_arg {
	char *reason;
};
static const struct jfield f_lock[] = {
    {"locked_reason", J_STR, JF(struct lock_arg, reason), 0, 255, 0, 0},
};

/* lock / unlock: no task, an instance action without events. An unlock of a server
 * another kind of caller locked needs an admin (Nova's unlock_override). */
static void action_lock(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct lock_arg a = {0};
	char err[512];
	int lock = !strcmp(key, "lock");
	if (lock && arg && !json_is_null(arg)) {
		/* 2.73: {"lock": {"locked_reason": "..."}}; before it, null only */
		static const struct server_since since[] = {{"locked_reason", 73, 0}};
		if (!json_is_object(arg) ||
		    server_since_check(arg, since, JCOUNT(since), r->ctx->mv_minor, "lock", err,
		                       sizeof(err)) < 0 ||
		    jparse(arg, f_lock, JCOUNT(f_lock), &a, err, sizeof(err)) < 0 ||
		    jparse_known(arg, f_lock, JCOUNT(f_lock), NULL, err, sizeof(err)) < 0) {
			resp_error(r, w, 400, "Invalid input for field/attribute lock. %s",
			           json_is_object(arg) ? err : "");
			goto out;
		}
	}
	/* unlock has no schema in Nova: {"unlock": null}, {"unlock": {}} alike */
	if (db_begin(r->ctx->db) < 0) {
		resp_db_error(r, w, "begin failed");
		goto out;
	}
	PGresult *res = server_find(r, w, r->params[0], 1);
	if (!res) {
		db_rollback(r->ctx->db);
		goto out;
	}
	struct server_row s;
	server_row_from(res, 0, &s);
	int owner = !strcmp(s.project_id, r->ctx->auth.project_id);
	const char *by = owner ? "owner" : "admin";
	if (!lock && s.locked_by && strcmp(s.locked_by, by) && !policy_is_admin(&r->ctx->auth)) {
		PQclear(res);
		db_rollback(r->ctx->db);
		resp_error(
		    r, w, 403,
		    "Policy doesn't allow os_compute_api:os-lock-server:unlock:unlock_override "
		    "to be performed.");
		goto out;
	}
	int rows = DBX(r->ctx->db, err, sizeof err,
	               "UPDATE instances SET locked_by = $2, lock_reason = $3 WHERE id = $1", s.id,
	               lock ? by : NULL, lock ? a.reason : NULL);
	PQclear(res);
	if (rows != 1 ||
	    instance_action_record(r->ctx->db, r, s.id, key, NULL, NULL, err, sizeof(err)) < 0) {
		db_rollback(r->ctx->db);
		resp_db_error(r, w, err);
		goto out;
	}
	if (db_commit(r->ctx->db) < 0) {
		resp_db_error(r, w, "commit failed");
		goto out;
	}
	resp_empty(w, 202);
out:
	jparse_release(f_lock, JCOUNT(f_lock), &a);
}

/* forceDelete: Nubo deletes at once (Nova with reclaim_instance_interval = 0), so a
 * force delete is a delete answered 202. */
static void action_force_delete(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	if (server_destroy(r, w) == 0)
		resp_empty(w, 202);
}

/* restore: only a soft-deleted server may be restored and Nubo keeps none, so a server
 * that can be found is in the wrong state (Nova's 409); an unknown one is 404. */
static void action_restore(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	struct server_row s;
	server_row_from(res, 0, &s);
	resp_error(r, w, 409, "Cannot 'restore' instance %s while it is in vm_state %s", s.id,
	           s.vm_state);
	PQclear(res);
}

/* os-migrateLive's body (Nova's schema): host (string or null) and block_migration
 * (boolean, or "auto" from 2.25) always; disk_over_commit before 2.25; force from
 * 2.30 until 2.68. */
struct migrate_arg {
	char *host, *block, *disk_over_commit, *force;
};
static const struct jfield f_live[] = {
    {"host", J_STR, JF(struct migrate_arg, host), 0, 255, 0, 1},
};
static const struct jfield f_migrate[] = {
    {"host", J_STR, JF(struct migrate_arg, host), 0, 255, 0, 1},
};
static const struct server_since live_since[] = {
    {"disk_over_commit", 0, 25},
    {"force", 30, 68},
};
static const struct server_since migrate_since[] = {{"host", 56, 0}};

/* 1 when v is a JSON boolean, or a string Nova's boolean parameter type takes. */
static int bool_like(const json_t *v)
{
	if (json_is_boolean(v))
		return 1;
	static const char *const words[] = {"true", "false", "1", "0", "yes", "no", "on", "off"};
	for (size_t i = 0; json_is_string(v) && i < JCOUNT(words); i++)
		if (!strcasecmp(json_string_value(v), words[i]))
			return 1;
	return 0;
}

static int live_body_check(const json_t *arg, int mv, char *err, size_t errlen)
{
	char why[256];
	static const char *const also[] = {"block_migration", "disk_over_commit", "force", NULL};
	if (!json_is_object(arg)) {
		snprintf(err, errlen, "Invalid input for field/attribute os-migrateLive.");
		return -EINVAL;
	}
	if (jparse_known(arg, f_live, JCOUNT(f_live), also, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "Invalid input for field/attribute os-migrateLive. %s", why);
		return -EINVAL;
	}
	if (server_since_check(arg, live_since, JCOUNT(live_since), mv, "os-migrateLive", err,
	                       errlen) < 0)
		return -EINVAL;
	const json_t *host = json_object_get(arg, "host");
	const json_t *block = json_object_get(arg, "block_migration");
	const json_t *over = json_object_get(arg, "disk_over_commit");
	const json_t *force = json_object_get(arg, "force");
	const char *bad = NULL;
	if (!host)
		bad = "'host' is a required property";
	else if (!json_is_null(host) && !json_is_string(host))
		bad = "host";
	else if (!block)
		bad = "'block_migration' is a required property";
	else if (!bool_like(block) &&
	         !(mv >= 25 && json_is_string(block) && !strcmp(json_string_value(block), "auto")))
		bad = "block_migration";
	else if (mv < 25 && !over)
		bad = "'disk_over_commit' is a required property";
	else if (over && !bool_like(over))
		bad = "disk_over_commit";
	else if (force && !bool_like(force))
		bad = "force";
	if (bad) {
		snprintf(err, errlen, "Invalid input for field/attribute %s.", bad);
		return -EINVAL;
	}
	return 0;
}

/* migrate and os-migrateLive (admin): Nubo runs one compute host per instance's zone
 * today and moves no instance between hosts, so after Nova's checks (body, server,
 * policy, state, named host) the answer is Nova's when its scheduler finds no other
 * host: 400 "No valid host was found." */
static void action_migrate(struct req *r, struct resp *w, const char *key, const json_t *arg)
{
	struct migrate_arg a = {0};
	char err[512];
	int live = !strcmp(key, "os-migrateLive"), mv = r->ctx->mv_minor;
	const char *verb = live ? "live-migration" : "migrate";
	PGresult *res = NULL, *h = NULL;
	if (live) {
		if (live_body_check(arg, mv, err, sizeof(err)) < 0) {
			resp_error(r, w, 400, "%s", err);
			return;
		}
		if (jparse(arg, f_live, JCOUNT(f_live), &a, err, sizeof(err)) < 0)
			goto bad;
	} else if (arg && !json_is_null(arg)) {
		if (!json_is_object(arg) ||
		    server_since_check(arg, migrate_since, JCOUNT(migrate_since), mv, "migrate",
		                       err, sizeof(err)) < 0 ||
		    jparse(arg, f_migrate, JCOUNT(f_migrate), &a, err, sizeof(err)) < 0 ||
		    jparse_known(arg, f_migrate, JCOUNT(f_migrate), NULL, err, sizeof(err)) < 0)
			goto bad;
	}
	res = server_find(r, w, r->params[0], 0);
	if (!res)
		goto out;
	if (!policy_is_admin(&r->ctx->auth)) {
		resp_error(r, w, 403,
		           "Policy doesn't allow os_compute_api:os-migrate-server:%s to "
		           "be performed.",
		           live ? "migrate_live" : "migrate");
		goto out;
	}
	struct server_row s;
	server_row_from(res, 0, &s);
	int open_task = db_val(res, 0, SERVER_COL_OPEN_TASK)[0] == 't';
	unsigned from = live ? VMS_ACTIVE | VMS_PAUSED : VMS_ACTIVE | VMS_STOPPED;
	if (s.task_state || open_task) {
		resp_error(r, w, 409, "Cannot '%s' instance %s while it is in task_state %s", verb,
		           s.id, s.task_state ? s.task_state : "queued");
		goto out;
	}
	if (!(server_vm_state_bit(s.vm_state) & from)) {
		resp_error(r, w, 409, "Cannot '%s' instance %s while it is in vm_state %s", verb,
		           s.id, s.vm_state);
		goto out;
	}
	if (a.host && *a.host) {
		h = DBQ(r->ctx->db, err, sizeof err,
		        "SELECT 1 FROM agents WHERE host = $1 AND kind = 'compute'", a.host);
		if (!h) {
			resp_db_error(r, w, err);
			goto out;
		}
		if (PQntuples(h) != 1) {
			resp_error(r, w, 400, "Compute host %s could not be found.",
			           strlen(a.host) <= 64 ? a.host : "(name too long)");
			goto out;
		}
		if (s.host && !strcmp(s.host, a.host)) {
			resp_error(r, w, 400,
			           "Unable to migrate instance (%s) to current host (%s).", s.id,
			           s.host);
			goto out;
		}
	}
	resp_error(r, w, 400, "No valid host was found. There are not enough hosts available.");
	goto out;
bad:
	if (strncmp(err, "Invalid input", 13))
		resp_error(r, w, 400, "Invalid input for field/attribute migrate. %s", err);
	else
		resp_error(r, w, 400, "%s", err);
out:
	PQclear(h);
	PQclear(res);
	jparse_release(f_live, JCOUNT(f_live), &a);
}

/* Request key → handler; the task verbs share one handler driven by `actions`. */
static const struct {
	const char *key;
	action_fn fn;
} handlers[] = {
    {"os-start", action_task},
    {"os-stop", action_task},
    {"reboot", action_task},
    {"pause", action_task},
    {"unpause", action_task},
    {"suspend", action_task},
    {"resume", action_task},
    {"os-getConsoleOutput", action_console},
    {"os-resetState", action_reset_state},
    {"lock", action_lock},
    {"unlock", action_lock},
    {"forceDelete", action_force_delete},
    {"restore", action_restore},
    {"migrate", action_migrate},
    {"os-migrateLive", action_migrate},
    {"rebuild", server_rebuild},
    {"addSecurityGroup", network_proxy_sg_action},
    {"removeSecurityGroup", network_proxy_sg_action},
    {"addFloatingIp", floating_ip_proxy_action},
    {"removeFloatingIp", floating_ip_proxy_action},
    {"createImage", server_image_create},
    {"createBackup", server_image_create},
};

static void server_action(struct req *r, struct resp *w)
{
	if (!json_is_object(r->json) || json_object_size(r->json) == 0) {
		resp_error(r, w, 400, "Malformed request body");
		return;
	}
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		json_t *arg = json_object_get(r->json, handlers[i].key);
		if (arg) {
			handlers[i].fn(r, w, handlers[i].key, arg);
			return;
		}
	}
	const char *first = json_object_iter_key(json_object_iter(r->json));
	/* echo the key only when short: a cut could split a UTF-8 sequence */
	resp_error(r, w, 400, "There is no such action: %s",
	           first && strlen(first) <= 64 ? first : "");
}

static const struct httpd_route routes[] = {
    {"POST", "/compute/v2.1/servers/{}/action", server_action, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(server_action_routes, routes, &compute_hooks);

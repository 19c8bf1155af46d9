/* Compute servers, shared by server.c (collection, create, show, delete; the
 * caller-scoped instance loader), server_action.c (POST /servers/{id}/action),
 * server_view.c (pure Nova 2.1 JSON views) and server_state.c (pure action table and
 * state checks). */
#ifndef NUBO_SERVER_H
#define NUBO_SERVER_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

#include "http.h"
#include "util.h"

/* One instances row, as strings borrowed from a PGresult (or test literals). NULL means
 * SQL NULL. Timestamps are already formatted: created/updated "…Z" (Nova), launched/
 * terminated "YYYY-MM-DDTHH:MM:SS.ffffff" (Nova's OS-SRV-USG format, no zone);
 * server_row_from() formats them into ts_text (time_from_pg), so a row read from a
 * result must not be copied and then used after its original is gone. */
struct server_row {
	const char *id, *name, *project_id, *user_id;
	const char *flavor_id, *image_id;
	const char *status, *vm_state, *task_state;
	long power_state;
	const char *host, *az, *key_name;
	const char *metadata; /* JSON object text */
	int config_drive;
	const char *fault_message;
	long fault_code; /* 0 = none recorded (500 is shown) */
	const char *access_ipv4, *access_ipv6;
	const char *created_at, *updated_at, *launched_at, *terminated_at;
	/* since migration 0007 */
	const char *description; /* NULL: none */
	const char *locked_by;   /* NULL, "owner" or "admin" */
	const char *lock_reason; /* NULL: none */
	const char *flavor_name; /* the flavor as it was at create (2.47) */
	long vcpus, ram_mb, disk_gb, ephemeral_gb, swap_mb;
	const char *flavor_extra_specs;          /* JSON object text */
	const char *tags;                        /* JSON array text, sorted */
	const char *addresses, *security_groups; /* JSON text (server_ports.c) or NULL */
	const char *host_state;                  /* agents.state of host; NULL when none */
	const char *reservation_id, *hostname, *user_data;
	long launch_index;
	const char *server_groups;    /* JSON array text of its group ids (2.71); NULL: [] */
	const char *volumes_attached; /* JSON array text of its volumes (server_extras); NULL: [] */
	char ts_text[4][TIME_PG_OUT]; /* server_row_from()'s formatted timestamps */
};

/* Who is looking: decides the links, the admin-only attributes and the fields of the
 * microversion. */
struct server_view_ctx {
	const char *public_url; /* no trailing slash */
	int admin;              /* show OS-EXT-SRV-ATTR:* and host_status */
	int mv_minor;           /* compute microversion 2.<mv_minor> */
	int update;             /* PUT /servers/{id}'s answer: Nova's short view below 2.75 */
	int single;             /* one server (show, update), not a list: server_groups (2.71) */
};

struct jsonw;
/* Pure: the views written straight into w (one value each), as the lists send them. */
void server_view_write_brief(struct jsonw *w, const struct server_row *s,
                             const struct server_view_ctx *c);
void server_view_write_full(struct jsonw *w, const struct server_row *s,
                            const struct server_view_ctx *c);
/* Pure: the {id, name, links} summary GET /servers lists. Returns a new object. */
json_t *server_view_brief(const struct server_row *s, const struct server_view_ctx *c);
/* Pure: the full server object of GET /servers/detail and GET /servers/{id} at 2.1.
 * Returns a new object. */
json_t *server_view_full(const struct server_row *s, const struct server_view_ctx *c);
/* Pure: the [self, bookmark] links of compute resource id in collection ("flavors"),
 * as wire_compute_links() makes them, written into w (the public URL's text cached
 * per thread). */
void server_view_links_write(struct jsonw *w, const char *public_url, const char *collection,
                             const char *id);
/* Pure: Nova's hostId, a stable hex digest of project and host (56 chars, like Nova's
 * sha224), or "" when host is NULL/empty. out must hold 57 bytes. */
void server_host_id(const char *project_id, const char *host, char out[57]);
/* Pure: pointer into log at the start of its last `lines` pieces split at '\n', as
 * Nova tails a console log: a final newline leaves an empty last piece, so "a\nb\n"
 * with lines 2 is "b\n". lines < 0 means the whole log, 0 means "" (the end). */
const char *server_console_tail(const char *log, long lines);

/* Instance vm_states as bits, for the action table. */
enum {
	VMS_ACTIVE = 1 << 0,
	VMS_BUILDING = 1 << 1,
	VMS_STOPPED = 1 << 2,
	VMS_PAUSED = 1 << 3,
	VMS_SUSPENDED = 1 << 4,
	VMS_ERROR = 1 << 5,
	VMS_DELETED = 1 << 6,
};
/* Bit of a vm_state name ("active", "stopped", ...), 0 when unknown. */
unsigned server_vm_state_bit(const char *vm_state);

/* One state-changing server action: the request key (and reboot type), the verb Nova
 * names in its 409 text, the outbox task, the vm_states it may start from and the
 * task_state shown while the task runs. */
struct server_action {
	const char *key;     /* "os-stop", "reboot", ... */
	const char *variant; /* reboot type "SOFT"/"HARD"; NULL otherwise */
	const char *verb;    /* "stop", "reboot", ... */
	const char *task;    /* TASK_* of msg.h */
	unsigned from;       /* VMS_* bits */
	const char *task_state;
};

/* Pure: the action row for key (+ variant for reboot, case-insensitive), or NULL. */
const struct server_action *server_action_find(const char *key, const char *variant);
/* Pure: 0 when a may start now: vm_state among a->from, no task_state and no open
 * task. Otherwise -EBUSY and msg holds Nova's 409 text, e.g. "Cannot 'stop' instance
 * <id> while it is in vm_state stopped". */
int server_action_check(const struct server_action *a, const char *id, const char *vm_state,
                        const char *task_state, int open_task, char *msg, size_t msglen);

/* The column list every server SELECT uses (alias i for instances), in the order
 * server_row_from() reads it. The timestamps come as PostgreSQL's own text of a UTC
 * `timestamp` (its output function costs about a third of to_char()'s) and
 * server_row_from() rewrites them in Nova's forms. The open-task flag is an IN over the
 * (small, partially indexed) set of open tasks, hashed once per query rather than
 * probed per row. */
#define SERVER_COLUMNS                                                                             \
	"i.id, i.name, i.project_id, i.user_id, i.flavor_id, i.image_id, i.status, i.vm_state,"    \
	" i.task_state, i.power_state, i.host, i.az, i.key_name, i.metadata::text,"                \
	" i.config_drive, i.fault_message, i.fault_code, i.access_ipv4, i.access_ipv6,"            \
	" i.created_at AT TIME ZONE 'UTC', i.updated_at AT TIME ZONE 'UTC',"                       \
	" i.launched_at AT TIME ZONE 'UTC', i.terminated_at AT TIME ZONE 'UTC',"                   \
	" i.id IN (SELECT t.resource_id FROM tasks t WHERE t.resource_kind = 'instance'"           \
	" AND t.status IN ('pending', 'dispatched')),"                                             \
	" i.description, i.locked_by, i.lock_reason, i.flavor_name, i.vcpus, i.ram_mb,"            \
	" i.disk_gb, i.flavor_ephemeral_gb, i.flavor_swap_mb, i.flavor_extra_specs::text,"         \
	" i.reservation_id, i.hostname, i.launch_index"
#define SERVER_NCOLUMNS 37
/* Column index of the open-task flag in SERVER_COLUMNS. */
#define SERVER_COL_OPEN_TASK 23

/* Fills s from row `row` of a result selected with SERVER_COLUMNS (strings borrowed
 * from res). tags, host_state and user_data stay NULL: server_extras has them. */
void server_row_from(const PGresult *res, int row, struct server_row *s);

/* What SERVER_COLUMNS leaves out, read once for all the rows of a result and only when
 * the view shows it: tags (2.26), the host's agent state (an admin's host_status,
 * 2.16) and user_data (an admin's, 2.3). Kept out of the row because per-row subqueries
 * (and 64 KiB user data) turn the planner off the list indexes (tests/e2e/test_explain). */
struct server_extras {
	PGresult *tags, *agents, *user_data;
	PGresult *ports;   /* server_ports.c: addresses and security groups */
	PGresult *volumes; /* os-extended-volumes:volumes_attached, per instance */
};
/* Loads the extras of the rows of res the view c needs. 0, or -EIO with err. */
int server_extras_load(PGconn *db, const PGresult *res, const struct server_view_ctx *c,
                       struct server_extras *x, char *err, size_t errlen);
/* Fills s's extras from x (strings borrowed from x). */
void server_extras_apply(const struct server_extras *x, struct server_row *s);
void server_extras_release(struct server_extras *x);

/* Loads the non-deleted instance id as the caller may see it (own project; any
 * project for an admin), optionally locking the row (FOR UPDATE OF i). Returns the
 * result (caller PQclear()s; row 0 is the instance), or NULL after answering 404
 * "Instance <id> could not be found." (not found, not visible, not a UUID) or 500
 * (database; logged). */
PGresult *server_find(struct req *r, struct resp *w, const char *id, int for_update);
/* Inside the caller's transaction: queues a pending outbox task (TASK_*) for instance
 * id, shows task_state on the instance unless it is NULL, and records the request as
 * the instance action `action` (Nova's name: "stop", "delete", ...) with one event,
 * `event`, that the scheduler finishes with the task. Returns 0, or -EIO with err. */
int server_task_queue(struct req *r, const char *id, const char *task_state, const char *task,
                      const char *action, const char *event, char *err, size_t errlen);
/* 0 when the caller may act on a server of locked_by (NULL: not locked): only an
 * admin acts on a locked server. Otherwise -EBUSY after Nova's 409. */
int server_lock_check(struct req *r, struct resp *w, const char *id, const char *locked_by);
/* What an image asks of the flavor that boots it (Glance's fields). */
struct image_needs {
	long long size;         /* bytes of the image file */
	long long virtual_size; /* bytes of the disk it holds (qcow2), -1 unknown */
	long min_disk_gb, min_ram_mb;
};

/* Pure: 0 when a flavor of disk_gb root disk and ram_mb memory can boot the image;
 * else -EINVAL with Nova's message in msg (FlavorMemoryTooSmall,
 * FlavorDiskSmallerThanImage, FlavorDiskSmallerThanMinDisk, checked in Nova's order).
 * A flavor disk of 0 takes the image's own size, so only the memory is checked. */
int server_flavor_fits(long disk_gb, long ram_mb, const struct image_needs *im, char *msg,
                       size_t n);

#define SERVER_IP_MAX 46 /* INET6_ADDRSTRLEN */
/* Pure: the canonical text of an accessIPv4 (family AF_INET) or accessIPv6 (AF_INET6)
 * into out (IPv6 compressed and lower-case, as Nova stores it). 0, or -EINVAL when in
 * is not an address of that family. */
int server_access_ip(int family, const char *in, char out[SERVER_IP_MAX]);

/* Version-gated members of a request body: key is accepted from 2.<since> on (and,
 * when until > 0, before 2.<until>); a key may have several rows (any one admits it). */
struct server_since {
	const char *key;
	int since, until;
};
/* Pure: 0 when every key of obj that gates lists is allowed at 2.mv; else -EINVAL with
 * Nova's "Additional properties are not allowed ('<key>' was unexpected)" in msg after
 * "Invalid input for field/attribute <what>. ". */
int server_since_check(const json_t *obj, const struct server_since *gates, size_t n, int mv,
                       const char *what, char *msg, size_t msglen);

/* Pure: a query flag as Nova reads booleans (oslo's strings, any case): 1 for "", 1,
 * t, true, on, y, yes; 0 for 0, f, false, off, n, no and when v is NULL; -EINVAL
 * otherwise. */
int server_bool_param(const char *v);

/* Pure: whether status is one of Nova's server statuses (any case); from 2.38 a list
 * filter by another is 400. */
int server_status_known(const char *status);

/* Pure: the status Nova shows for a stored status while task_state runs (REBOOT,
 * HARD_REBOOT for a reboot of an ACTIVE server); status itself otherwise. */
const char *server_status_shown(const char *status, const char *task_state);
/* Pure: for a shown status that only a running task makes (REBOOT, HARD_REBOOT; any
 * case), that task_state, and *status the stored status it goes with; NULL for the
 * others, which are stored as they are shown. */
const char *server_status_task(const char *shown, const char **status);
/* Pure: the task states under which a server stored with status shows another status
 * (ACTIVE: rebooting,rebooting_hard), comma-separated into buf (truncated whole at
 * len); how many were written. A list filtered by ACTIVE leaves those rows out. */
size_t server_status_masking(const char *stored, char *buf, size_t len);

#define SERVER_TAG_MAX 60  /* characters of a server tag */
#define SERVER_TAGS_MAX 50 /* tags of one server */
/* Pure: Nova's server tag rule: 1..60 characters, no '/' and no ','. */
int server_tag_valid(const char *tag);

/* The view context of a request. */
void server_view_ctx_of(const struct req *r, struct server_view_ctx *c);

/* DELETE /servers/{id}'s work without its answer (also forceDelete's): inside its own
 * transaction, the instance r->params[0] is deleted or its delete task queued. Returns
 * 0 (nothing answered yet), or a negative errno after answering the error. */
int server_destroy(struct req *r, struct resp *w);

/* POST /servers/{id}/action {"rebuild": {...}} (server_rebuild.c). */
void server_rebuild(struct req *r, struct resp *w, const char *key, const json_t *arg);
/* Pure: turns v, server_view_full() with update set, into Nova's rebuild answer at
 * 2.mv: key_name from 2.54 (below 2.75, where the full view has it), user_data in
 * place of OS-EXT-SRV-ATTR:user_data from 2.57, and adminPass. */
void server_rebuild_shape(json_t *v, int mv, const char *key_name, const char *user_data,
                          const char *pass);

#define SERVER_MAX_COUNT 100      /* max_count bound; quota bounds it further */
#define SERVER_MAX_METADATA 128   /* Nova's metadata_items quota */
#define SERVER_MAX_USERDATA 65535 /* Nova: base64 text of user_data */

/* Request checks create and rebuild share (server.c). Pure. */
/* The id at the end of an href or the id itself. */
const char *server_ref_id(const char *ref);
/* Printable, 1..255 bytes, no leading or trailing whitespace (Nova's name rule). */
int server_name_valid(const char *s);
/* A metadata object: 0; -EDQUOT beyond SERVER_MAX_METADATA items (Nova's 403);
 * -EINVAL for a bad key or value; err holds Nova's text. */
int server_metadata_check(const json_t *m, char *err, size_t errlen);
/* Strict base64 as Nova checks user_data. */
int server_base64_valid(const char *s);
/* Nova's description: no control characters. */
int server_description_valid(const char *s);
/* accessIPv4/accessIPv6 (either may be NULL), canonical into out4/out6 ("" when
 * absent). 0, or -EINVAL with Nova's message in err. */
int server_access_ips(const char *ipv4, const char *ipv6, char out4[SERVER_IP_MAX],
                      char out6[SERVER_IP_MAX], char *err, size_t errlen);

#endif

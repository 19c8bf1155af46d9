/* Console output into instance_console: one upsert per message; the trim to the
 * last 256 KiB happens in SQL so the log never travels back to the scheduler. */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "msg.h"
#include "ctx.h"

int console_on_msg(struct sched *s, const char *peer, struct msg *m)
{
	struct msg_console *con = &m->u.console;
	char err[512], keep[16];
	/* Printable ASCII only, so right() counting characters counts bytes too. */
	msg_sanitize_text(con->data, strlen(con->data));
	snprintf(keep, sizeof(keep), "%d", CONSOLE_KEEP_BYTES);
	PGconn *c = sched_db(s);
	int rc = DBX(c, err, sizeof err,
	             "INSERT INTO instance_console (instance_id, log, updated_at)"
	             " SELECT i.id, right($2, $4::int), now() FROM instances i"
	             "  WHERE i.id = $1 AND i.host = $3"
	             " ON CONFLICT (instance_id) DO UPDATE SET updated_at = now(),"
	             "  log = CASE WHEN $5::boolean THEN right($2, $4::int)"
	             "   ELSE right(instance_console.log || $2, $4::int) END",
	             con->instance_id, con->data, peer, keep, con->reset ? "true" : "false");
	if (rc < 0) {
		sched_db_error(s, c, "console: store", err);
		rc = -EIO;
	} else if (rc == 0) {
		log_debug("console for %s from %s: not an instance of that host: ignored",
		          con->instance_id, peer);
	}
	sched_db_done(s, c);
	return rc < 0 ? rc : 0;
}

/* The context's database helpers: one connection, failures logged once per outage. */
#include "ctx.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "log.h"

PGconn *sched_db(struct sched *s)
{
	PGconn *c = db_acquire(s->pool);
	if (s->db_lost && PQstatus(c) == CONNECTION_OK) {
		log_info("database connection is back");
		s->db_lost = 0;
	}
	return c;
}

void sched_db_done(struct sched *s, PGconn *c)
{
	db_release(s->pool, c);
}

void sched_db_error(struct sched *s, PGconn *c, const char *what, const char *err)
{
	char text[512];
	snprintf(text, sizeof(text), "%s", err ? err : "");
	text[strcspn(text, "\n")] = '\0';
	if (PQstatus(c) != CONNECTION_OK) {
		if (!s->db_lost)
			log_err("database connection lost (%s): %s", what, text);
		s->db_lost = 1;
		return;
	}
	log_err("%s: %s", what, text);
}

int sched_placement_on_hold(const struct sched *s)
{
	return time_mono_ms() - s->started_ms < settings_placement_hold_ms(s->cfg);
}

/* Compute quotas: Nova's defaults overlaid with the project's quotas rows, usage
 * counted from its live instances, and the pure check that decides whether a request
 * fits. Callers hold the project row lock (SELECT ... FOR UPDATE) around
 * usage + check + insert, so concurrent creates cannot both take the last slot. */
#include "quota.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

static const struct {
	const char *name;
	long def;
} quota_rows[QUOTA_COUNT] = {
    [QUOTA_INSTANCES] = {"instances", 10},
    [QUOTA_CORES] = {"cores", 20},
    [QUOTA_RAM] = {"ram", 51200},
    [QUOTA_KEY_PAIRS] = {"key_pairs", 100},
};

const char *quota_name(enum quota_resource q)
{
	return (unsigned)q < QUOTA_COUNT ? quota_rows[q].name : "?";
}

void quota_defaults(struct quota_set *s)
{
	for (int i = 0; i < QUOTA_COUNT; i++)
		s->v[i] = quota_rows[i].def;
}

int quota_limits(PGconn *db, const char *project_id, struct quota_set *out)
{
	char err[256];
	quota_defaults(out);
	/* the default quota class (os-quota-class-sets) first, the project's own rows last */
	PGresult *r = DBQ(db, err, sizeof err,
	                  "SELECT resource, hard_limit FROM (SELECT resource, hard_limit, 0 AS o"
	                  " FROM quota_classes WHERE class_name = 'default' UNION ALL"
	                  " SELECT resource, hard_limit, 1 FROM quotas WHERE project_id = $1) q"
	                  " ORDER BY o",
	                  project_id);
	if (!r)
		return -EIO;
	for (int i = 0; i < PQntuples(r); i++) {
		const char *res = db_val(r, i, 0);
		for (int q = 0; q < QUOTA_COUNT; q++)
			if (res && !strcmp(res, quota_rows[q].name))
				out->v[q] = db_long(r, i, 1, quota_rows[q].def);
	}
	PQclear(r);
	return 0;
}

int quota_usage(PGconn *db, const char *project_id, struct quota_set *out)
{
	char err[256];
	memset(out, 0, sizeof(*out));
	/* key_pairs are per user in Nova; a project has no key pair usage of its own. */
	PGresult *r = DBQ(db, err, sizeof err,
	                  "SELECT count(*), coalesce(sum(vcpus), 0), coalesce(sum(ram_mb), 0)"
	                  " FROM instances WHERE project_id = $1 AND NOT deleted",
	                  project_id);
	if (!r)
		return -EIO;
	out->v[QUOTA_INSTANCES] = db_long(r, 0, 0, 0);
	out->v[QUOTA_CORES] = db_long(r, 0, 1, 0);
	out->v[QUOTA_RAM] = db_long(r, 0, 2, 0);
	PQclear(r);
	return 0;
}

/* Appends ", " then the formatted text to buf (bounded, always terminated). */
static void append(char *buf, size_t len, int first, const char *name_or_null, long v)
{
	size_t n = strlen(buf);
	if (n >= len)
		return;
	if (name_or_null)
		snprintf(buf + n, len - n, "%s%s", first ? "" : ", ", name_or_null);
	else
		snprintf(buf + n, len - n, "%s%ld", first ? "" : ", ", v);
}

int quota_check(const struct quota_set *limits, const struct quota_set *usage,
                const struct quota_set *request, char *msg, size_t msglen)
{
	int over[QUOTA_COUNT], nover = 0;
	for (int q = 0; q < QUOTA_COUNT; q++) {
		long want = request->v[q], lim = limits->v[q], used = usage->v[q];
		/* Only what is requested is checked: a project already over a lowered limit
		 * can still do things that need none of it. */
		if (want <= 0 || lim < 0)
			continue;
		if (used > lim || want > lim - used)
			over[nover++] = q;
	}
	if (!nover) {
		if (msglen)
			msg[0] = '\0';
		return 0;
	}
	if (!msglen)
		return -EDQUOT;
	/* Nova's TooManyInstances text: names, requested, used and allowed, each list
	 * joined by ", " in the same order. */
	char names[128] = "", req[128] = "", used[128] = "", allowed[128] = "";
	for (int i = 0; i < nover; i++) {
		append(names, sizeof(names), i == 0, quota_rows[over[i]].name, 0);
		append(req, sizeof(req), i == 0, NULL, request->v[over[i]]);
		append(used, sizeof(used), i == 0, NULL, usage->v[over[i]]);
		append(allowed, sizeof(allowed), i == 0, NULL, limits->v[over[i]]);
	}
	snprintf(msg, msglen, "Quota exceeded for %s: Requested %s, but already used %s of %s %s",
	         names, req, used, allowed, names);
	return -EDQUOT;
}

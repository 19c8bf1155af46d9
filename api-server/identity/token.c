/* Token issue, validation and revocation against the tokens table. */
#include "identity/token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objtoken.h"
#include "util.h"

/* One query loads everything a request needs to know about its caller: the token, its
 * user, its scope (a project or a domain) and the names of the roles the user holds
 * there directly or through a group, cut down to the application credential's roles
 * when the token came from one. Every domain on the way must be enabled. */
static const struct db_stmt validate_stmt = {
    "token_validate",
    "WITH RECURSIVE tok AS (SELECT * FROM tokens WHERE hash = $1),"
    " held (id) AS (SELECT g.role_id FROM tok t,"
    "  user_scope_grants(t.user_id, t.project_id, t.domain_id, t.system) g"
    "  UNION SELECT ir.implied_role_id FROM implied_roles ir JOIN held h"
    "  ON ir.prior_role_id = h.id),"
    " acr (id) AS (SELECT unnest(role_ids) FROM application_credentials"
    "  WHERE id = (SELECT app_cred_id FROM tok)"
    "  UNION SELECT ir.implied_role_id FROM implied_roles ir JOIN acr a"
    "  ON ir.prior_role_id = a.id)"
    " SELECT t.user_id, u.name, coalesce(t.project_id, ''), coalesce(p.name, ''),"
    " to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " to_char(t.issued_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " coalesce((SELECT string_agg(r.id || ':' || r.name, ',' ORDER BY r.name) FROM roles r"
    "  WHERE r.id IN (SELECT id FROM held) AND r.domain_id IS NULL"
    "  AND (ac.id IS NULL OR r.id IN (SELECT id FROM acr))), ''),"
    " extract(epoch FROM t.expires_at)::bigint,"
    " u.domain_id, ud.name, coalesce(t.domain_id, ''), coalesce(sd.name, ''),"
    " coalesce(p.domain_id, ''), coalesce(pd.name, ''), t.methods,"
    " coalesce(t.app_cred_id, ''), coalesce(ac.unrestricted, false), t.system"
    " FROM tok t JOIN users u ON u.id = t.user_id JOIN domains ud ON ud.id = u.domain_id"
    " LEFT JOIN projects p ON p.id = t.project_id LEFT JOIN domains pd ON pd.id = p.domain_id"
    " LEFT JOIN domains sd ON sd.id = t.domain_id"
    " LEFT JOIN application_credentials ac ON ac.id = t.app_cred_id"
    " WHERE NOT t.revoked AND t.expires_at > now() AND u.enabled"
    " AND ud.enabled AND (t.project_id IS NULL OR (p.enabled AND pd.enabled))"
    " AND (t.domain_id IS NULL OR sd.enabled)"
    " AND (t.app_cred_id IS NULL OR ac.id IS NOT NULL)"};

/* The RBAC bits of the "id:name,..." list of a token's roles (implied roles are in
 * the list already). */
static unsigned roles_from_list(const char *list)
{
	static const struct {
		const char *name;
		unsigned bit;
	} map[] = {{"reader", ROLE_READER}, {"member", ROLE_MEMBER}, {"admin", ROLE_ADMIN}};
	unsigned bits = 0;
	char buf[TOKEN_ROLE_LIST_MAX];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		const char *name = strchr(t, ':');
		for (size_t i = 0; name && i < sizeof(map) / sizeof(map[0]); i++)
			if (!strcmp(name + 1, map[i].name))
				bits |= map[i].bit;
	}
	/* admin implies member implies reader, as Keystone's implied roles do */
	if (bits & ROLE_ADMIN)
		bits |= ROLE_MEMBER;
	if (bits & ROLE_MEMBER)
		bits |= ROLE_READER;
	return bits;
}

static int load_by_hash(PGconn *db, struct token_cache *tc, const char *hash, struct auth *a,
                        char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (token_cache_get(tc, hash, time(NULL), a) == 0)
		return 0;
	uint64_t gen = token_cache_gen(tc);
	PGresult *r = DBQS(db, err, errlen, &validate_stmt, hash);
	if (!r)
		return -EIO;
	if (PQntuples(r) != 1) {
		PQclear(r);
		return -EACCES;
	}
	snprintf(a->token_hash, sizeof(a->token_hash), "%s", hash);
	snprintf(a->user_id, sizeof(a->user_id), "%s", db_val(r, 0, 0));
	snprintf(a->user_name, sizeof(a->user_name), "%s", db_val(r, 0, 1));
	snprintf(a->project_id, sizeof(a->project_id), "%s", db_val(r, 0, 2));
	snprintf(a->project_name, sizeof(a->project_name), "%s", db_val(r, 0, 3));
	snprintf(a->expires_at, sizeof(a->expires_at), "%s", db_val(r, 0, 4));
	snprintf(a->issued_at, sizeof(a->issued_at), "%s", db_val(r, 0, 5));
	/* a list too long for the field loses its last roles whole, never half of one */
	if ((size_t)snprintf(a->role_list, sizeof(a->role_list), "%s", db_val(r, 0, 6)) >=
	    sizeof(a->role_list)) {
		char *cut = strrchr(a->role_list, ',');
		*(cut ? cut : a->role_list) = '\0';
	}
	a->roles = roles_from_list(a->role_list);
	snprintf(a->user_domain_id, sizeof(a->user_domain_id), "%s", db_val(r, 0, 8));
	snprintf(a->user_domain_name, sizeof(a->user_domain_name), "%s", db_val(r, 0, 9));
	snprintf(a->domain_id, sizeof(a->domain_id), "%s", db_val(r, 0, 10));
	snprintf(a->domain_name, sizeof(a->domain_name), "%s", db_val(r, 0, 11));
	snprintf(a->project_domain_id, sizeof(a->project_domain_id), "%s", db_val(r, 0, 12));
	snprintf(a->project_domain_name, sizeof(a->project_domain_name), "%s", db_val(r, 0, 13));
	snprintf(a->methods, sizeof(a->methods), "%s", db_val(r, 0, 14));
	snprintf(a->app_cred_id, sizeof(a->app_cred_id), "%s", db_val(r, 0, 15));
	a->app_cred_unrestricted = db_val(r, 0, 16)[0] == 't';
	a->system = db_val(r, 0, 17)[0] == 't';
	a->valid = 1;
	token_cache_put(tc, a, (time_t)db_long(r, 0, 7, 0), gen);
	PQclear(r);
	return 0;
}

int token_validate(PGconn *db, struct token_cache *tc, const char *token, struct auth *a, char *err,
                   size_t errlen)
{
	char hash[65];
	sha256_hex(token, strlen(token), hash);
	return load_by_hash(db, tc, hash, a, err, errlen);
}

int token_issue(PGconn *db, const struct token_req *t, long ttl, char out[TOKEN_STR_MAX],
                struct auth *a)
{
	char hash[65], ttls[32], err[256];
	/* A fixed letter prefix: base64url may start with '-', which command lines take
	 * for an option (`openstack token revoke -Kb…` fails); it also makes a leaked
	 * token recognisable to secret scanners. A token limited to the object store
	 * carries its account in its text (objtoken.h), covered by the stored hash. */
	int plen = t->object_account ? objtoken_prefix(t->object_account, out, TOKEN_STR_MAX - 48)
	                             : (int)(sizeof(TOKEN_PREFIX) - 1);
	if (plen < 0)
		return -EINVAL;
	if (!t->object_account)
		memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
	token_random(out + plen, TOKEN_STR_MAX - (size_t)plen, 32);
	sha256_hex(out, strlen(out), hash);
	snprintf(ttls, sizeof(ttls), "%ld", ttl);
	if (DBX(db, err, sizeof err,
	        "INSERT INTO tokens (hash, user_id, project_id, domain_id, methods, app_cred_id,"
	        " expires_at, system) VALUES ($1, $2, $3, $4, $5, $6,"
	        " least(now() + make_interval(secs => $7::int),"
	        " coalesce($8::timestamptz, 'infinity')), $9)",
	        hash, t->user_id, t->project_id, t->domain_id, t->methods ? t->methods : "password",
	        t->app_cred_id, ttls, t->not_after, t->system ? "true" : "false") < 0)
		return -EIO;
	/* Opportunistic cleanup keeps the table small. */
	DBX(db, err, sizeof err,
	    "DELETE FROM tokens WHERE expires_at < now() - interval '1 day' AND $1 = $1", "x");
	/* followers need only the events after the newest id they saw at their start */
	DBX(db, err, sizeof err,
	    "DELETE FROM revocation_events WHERE created_at < now() - interval '1 day' AND $1 = $1",
	    "x");
	return load_by_hash(db, NULL, hash, a, err, sizeof(err)) == 0 ? 0 : -EIO;
}

int token_revoke(PGconn *db, const char *hash)
{
	char err[256];
	return DBX(db, err, sizeof err, "UPDATE tokens SET revoked = true WHERE hash = $1", hash) <
	               0
	           ? -EIO
	           : 0;
}

int token_revoke_user(PGconn *db, const char *user_id)
{
	char err[256];
	return DBX(db, err, sizeof err, "UPDATE tokens SET revoked = true WHERE user_id = $1",
	           user_id) < 0
	           ? -EIO
	           : 0;
}

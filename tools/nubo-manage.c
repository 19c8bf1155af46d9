/* nubo-manage: operator tasks that need the database or crypto: apply migrations,
 * hash a password, print the schema version, queue a task through the outbox, audit
 * the outbox and quota. Used by deploy/stack.sh and the tests. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "conf.h"
#include "cred_seal.h"
#include "db.h"
#include "msg.h"
#include "outbox.h"
#include "../object-store/ring_cmd.h"

/* Idempotent first-run data: roles, the admin and demo projects and users, and the
 * default flavors. Passwords come from the environment (never argv, which ps shows). */
static const char *const bootstrap_sql[] = {
    "INSERT INTO roles (id, name) VALUES (md5('role-admin')::uuid::text, 'admin'),"
    " (md5('role-member')::uuid::text, 'member'), (md5('role-reader')::uuid::text, 'reader')"
    " ON CONFLICT DO NOTHING",
    /* Keystone's default inference rules: admin implies member implies reader */
    "INSERT INTO implied_roles SELECT p.id, c.id FROM roles p, roles c"
    " WHERE (p.name, c.name) IN (('admin', 'member'), ('member', 'reader')) ON CONFLICT DO NOTHING",
    "INSERT INTO projects (id, name, description) VALUES"
    " (gen_random_uuid()::text, 'admin', 'Bootstrap project for the cloud admin'),"
    " (gen_random_uuid()::text, 'demo', 'Demo tenant'),"
    " (gen_random_uuid()::text, 'service', 'The cloud''s own data (the swift image store)')"
    " ON CONFLICT (domain_id, name) DO NOTHING",
    "INSERT INTO flavors (id, name, vcpus, ram_mb, disk_gb) VALUES ('1', 'm1.tiny', 1, 512, 1),"
    " ('2', 'm1.small', 1, 2048, 20), ('3', 'm1.medium', 2, 4096, 40),"
    " ('4', 'm1.large', 4, 8192, 80) ON CONFLICT DO NOTHING",
};

struct bootstrap_user {
	const char *name, *env, *project;
	const char *roles[3][2]; /* {project, role} */
};

static const struct bootstrap_user bootstrap_users[] = {
    {"admin",
     "NUBO_ADMIN_PASSWORD",
     "admin",
     {{"admin", "admin"}, {"demo", "admin"}, {"service", "admin"}}},
    {"demo", "NUBO_DEMO_PASSWORD", "demo", {{"demo", "member"}, {NULL, NULL}, {NULL, NULL}}},
};

/* The services nubo-api serves, registered in the catalog under [api] public_url in
 * [api] region (the URLs the built-in catalog served before they were registered). */
static const struct {
	const char *type, *name, *path;
} bootstrap_services[] = {
    {"identity", "keystone", "/identity"},
    {"compute", "nova", "/compute/v2.1"},
    {"image", "glance", "/image"},
    {"network", "neutron", "/network"},
    {"volumev3", "cinderv3", "/volume/v3/$(project_id)s"},
    {"block-storage", "cinder", "/volume/v3/$(project_id)s"},
};

static int bootstrap_catalog(PGconn *db, const struct conf *c, char *err, size_t errlen)
{
	const char *region = conf_get(c, "api", "region", "RegionOne");
	char url[512];
	snprintf(url, sizeof(url), "%s", conf_get(c, "api", "public_url", "http://127.0.0.1:8080"));
	size_t n = strlen(url);
	while (n > 0 && (url[n - 1] == '/' || url[n - 1] == ' '))
		url[--n] = '\0';
	if (DBX(db, err, errlen, "INSERT INTO regions (id) VALUES ($1) ON CONFLICT DO NOTHING",
	        region) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(bootstrap_services) / sizeof(bootstrap_services[0]); i++) {
		char full[600];
		snprintf(full, sizeof(full), "%s%s", url, bootstrap_services[i].path);
		if (DBX(db, err, errlen,
		        "INSERT INTO services (id, type, name)"
		        " VALUES (md5('service-' || $1)::uuid::text, $1, $2) ON CONFLICT DO "
		        "NOTHING",
		        bootstrap_services[i].type, bootstrap_services[i].name) < 0 ||
		    DBX(db, err, errlen,
		        "INSERT INTO endpoints (id, service_id, region_id, interface, url)"
		        " VALUES (md5('endpoint-' || $1 || '-public')::uuid::text,"
		        " md5('service-' || $1)::uuid::text, $2, 'public', $3)"
		        " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
		        " region_id = EXCLUDED.region_id",
		        bootstrap_services[i].type, region, full) < 0)
			return -1;
	}
	return 0;
}

/* The same proxy's S3 endpoint (service type "s3", the proxy's root), so clients can
 * discover it in the catalog. */
static int bootstrap_s3_catalog(PGconn *db, const char *pub, int n, const char *region, char *err,
                                size_t errlen)
{
	char url[600];
	snprintf(url, sizeof(url), "%.*s", n, pub);
	if (DBX(db, err, errlen,
	        "INSERT INTO services (id, type, name)"
	        " VALUES (md5('service-' || $1)::uuid::text, $1, $2) ON CONFLICT DO NOTHING",
	        "s3", "s3") < 0 ||
	    DBX(db, err, errlen,
	        "INSERT INTO endpoints (id, service_id, region_id, interface, url)"
	        " VALUES (md5('endpoint-' || $1 || '-public')::uuid::text,"
	        " md5('service-' || $1)::uuid::text, $2, 'public', $3)"
	        " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
	        " region_id = EXCLUDED.region_id",
	        "s3", region, url) < 0)
		return -1;
	return 0;
}

/* The object store's Swift endpoint, when [objstore] public_url names its proxy. */
static int bootstrap_objstore_catalog(PGconn *db, const struct conf *c, char *err, size_t errlen)
{
	const char *pub = conf_get(c, "objstore", "public_url", NULL);
	if (!pub || !*pub)
		return 0;
	char url[600];
	size_t n = strlen(pub);
	while (n > 0 && pub[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s/v1/AUTH_%%(project_id)s", (int)n, pub);
	const char *region = conf_get(c, "api", "region", "RegionOne");
	if (DBX(db, err, errlen,
	        "INSERT INTO services (id, type, name)"
	        " VALUES (md5('service-' || $1)::uuid::text, $1, $2) ON CONFLICT DO NOTHING",
	        "object-store", "swift") < 0 ||
	    DBX(db, err, errlen,
	        "INSERT INTO endpoints (id, service_id, region_id, interface, url)"
	        " VALUES (md5('endpoint-' || $1 || '-public')::uuid::text,"
	        " md5('service-' || $1)::uuid::text, $2, 'public', $3)"
	        " ON CONFLICT (id) DO UPDATE SET url = EXCLUDED.url,"
	        " region_id = EXCLUDED.region_id",
	        "object-store", region, url) < 0)
		return -1;
	return bootstrap_s3_catalog(db, pub, (int)n, region, err, errlen);
}

static int bootstrap(PGconn *db, const struct conf *c, char *err, size_t errlen)
{
	if (bootstrap_catalog(db, c, err, errlen) < 0)
		return -1;
	if (bootstrap_objstore_catalog(db, c, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(bootstrap_sql) / sizeof(bootstrap_sql[0]); i++)
		if (db_exec(db, bootstrap_sql[i], 0, NULL, err, errlen) < 0)
			return -1;
	for (size_t i = 0; i < sizeof(bootstrap_users) / sizeof(bootstrap_users[0]); i++) {
		const struct bootstrap_user *u = &bootstrap_users[i];
		const char *pw = getenv(u->env);
		if (!pw || !*pw) {
			snprintf(err, errlen, "%s is not set", u->env);
			return -1;
		}
		char hash[crypto_pwhash_STRBYTES];
		if (crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
			snprintf(err, errlen, "password hashing failed");
			return -1;
		}
		if (DBX(db, err, errlen,
		        "INSERT INTO users (id, name, password_hash, default_project_id)"
		        " SELECT gen_random_uuid()::text, $1, $2, id FROM projects WHERE name = $3"
		        " AND domain_id = 'default'"
		        " ON CONFLICT (domain_id, name) DO UPDATE SET password_hash = "
		        "EXCLUDED.password_hash,"
		        " enabled = true",
		        u->name, hash, u->project) < 0)
			return -1;
		for (int k = 0; k < 3 && u->roles[k][0]; k++)
			if (DBX(db, err, errlen,
			        "INSERT INTO role_assignments (user_id, project_id, role_id)"
			        " SELECT u.id, p.id, r.id FROM users u, projects p, roles r"
			        " WHERE u.name = $1 AND p.name = $2 AND r.name = $3"
			        " AND u.domain_id = 'default' AND p.domain_id = 'default'"
			        " ON CONFLICT DO NOTHING",
			        u->name, u->roles[k][0], u->roles[k][1]) < 0)
				return -1;
	}
	return 0;
}

/* task-add KIND RESOURCE_ID ACTION [HOST]: one pending task, written by the same
 * code nubo-api uses. Prints the task id. */
static int task_add(PGconn *db, int argc, char **argv, char *err, size_t errlen)
{
	char id[UUID_STR_LEN];
	if (argc < 3 || argc > 4) {
		snprintf(err, errlen, "task-add needs KIND RESOURCE_ID ACTION [HOST]");
		return -1;
	}
	int kind = msg_res_kind_parse(argv[0]);
	if (kind < 0) {
		snprintf(err, errlen, "unknown resource kind \"%s\"", argv[0]);
		return -1;
	}
	struct outbox_task t = {(enum msg_res_kind)kind, argv[1], argv[2],
	                        argc == 4 ? argv[3] : NULL, NULL};
	if (db_begin(db) < 0 || outbox_insert(db, &t, id, err, errlen) < 0 || db_commit(db) < 0) {
		if (!*err)
			snprintf(err, errlen, "%s", PQerrorMessage(db));
		db_rollback(db);
		return -1;
	}
	puts(id);
	return 0;
}

/* One audit check: a query whose every row is a finding, printed by fmt's columns. */
struct audit_check {
	const char *what;
	const char *sql;
};

/* Quota usage as nubo-api counts it (api-server/quota.c quota_usage: instances not
 * deleted) against the instances that are live (not deleted, not DELETED, and not on
 * their way out with no task to finish it). */
static const struct audit_check audit_checks[] = {
    {"task past its deadline",
     "SELECT id || ': ' || action || ' of ' || resource_kind || ' ' || resource_id ||"
     " coalesce(' on ' || host, '') || ', ' || status || ' since ' ||"
     " to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') || ', deadline ' ||"
     " coalesce(to_char(deadline, 'YYYY-MM-DD HH24:MI:SS'), 'none')"
     " FROM tasks WHERE status IN ('pending', 'dispatched')"
     " AND coalesce(deadline, created_at + interval '1 hour') < now() ORDER BY created_at"},
    {"instance in transition with no open task",
     "SELECT i.id || ': ' || i.status || coalesce('/' || i.task_state, '') FROM instances i"
     " WHERE NOT i.deleted AND (i.status = 'BUILD' OR i.task_state IS NOT NULL)"
     " AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.resource_kind = 'instance'"
     "  AND t.resource_id = i.id AND t.status IN ('pending', 'dispatched'))"
     " AND i.updated_at < now() - interval '30 seconds' ORDER BY i.id"},
    {"instance row half deleted",
     "SELECT id || ': status ' || status || ', deleted ' || deleted FROM instances"
     " WHERE deleted <> (status = 'DELETED') ORDER BY id"},
    {"quota usage differs from live instances",
     "SELECT u.project_id || ': counted ' || u.n || ' instances, ' || u.cores || ' cores, '"
     " || u.ram || ' MB; live ' || coalesce(l.n, 0) || ', ' || coalesce(l.cores, 0) || ', '"
     " || coalesce(l.ram, 0) FROM"
     " (SELECT project_id, count(*) n, sum(vcpus) cores, sum(ram_mb) ram FROM instances"
     "  WHERE NOT deleted GROUP BY project_id) u LEFT JOIN"
     " (SELECT project_id, count(*) n, sum(vcpus) cores, sum(ram_mb) ram FROM instances i"
     "  WHERE NOT deleted AND status <> 'DELETED'"
     "  AND NOT (coalesce(task_state, '') = 'deleting'"
     "  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.resource_kind = 'instance'"
     "  AND t.resource_id = i.id AND t.status IN ('pending', 'dispatched')))"
     "  GROUP BY project_id) l ON l.project_id = u.project_id"
     " WHERE (u.n, u.cores, u.ram) IS DISTINCT FROM (l.n, l.cores, l.ram)"
     " ORDER BY u.project_id"},
};

/* Prints every finding; returns how many, or -1 with err. */
static int audit(PGconn *db, char *err, size_t errlen)
{
	int found = 0;
	for (size_t i = 0; i < sizeof(audit_checks) / sizeof(audit_checks[0]); i++) {
		PGresult *r = db_query(db, audit_checks[i].sql, 0, NULL, err, errlen, NULL);
		if (!r)
			return -1;
		for (int j = 0; j < PQntuples(r); j++)
			printf("%s: %s\n", audit_checks[i].what, db_val(r, j, 0));
		found += PQntuples(r);
		PQclear(r);
	}
	if (!found)
		puts("audit: clean");
	return found;
}

/* db-sync: seals the credential blobs written before migration 0015 under the
 * [identity] credential_key (without one, says so and leaves them). 0 or 1. */
static int seal_credentials(PGconn *db, const struct conf *c)
{
	uint8_t key[CRED_KEY_BYTES];
	char err[512];
	if (cred_key_parse(conf_get(c, "identity", "credential_key", NULL), key) < 0) {
		fprintf(stderr, "nubo-manage: no valid [identity] credential_key: credential blobs"
		                " stay as they are\n");
		return 0;
	}
	int n = cred_seal_rows(db, key, err, sizeof(err));
	sodium_memzero(key, sizeof key);
	if (n < 0) {
		fprintf(stderr, "nubo-manage: sealing credentials: %s\n", err);
		return 1;
	}
	if (n > 0)
		printf("sealed %d credential blob(s)\n", n);
	return 0;
}

static int usage(void)
{
	fputs("usage: nubo-manage -c CONF db-sync | db-version | bootstrap | audit\n"
	      "       nubo-manage -c CONF task-add KIND RESOURCE_ID ACTION [HOST]\n"
	      "       (audit exits 1 when it finds a task past its deadline, a stuck\n"
	      "       instance or quota usage that differs from live instances)\n"
	      "       (bootstrap reads NUBO_ADMIN_PASSWORD and NUBO_DEMO_PASSWORD)\n"
	      "       nubo-manage hash-password   (reads the password on stdin)\n"
	      "       nubo-manage curve-keypair   (prints a Z85 public and secret key)\n"
	      "       nubo-manage ring build|add|set-weight|rebalance|show FILE ...\n",
	      stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *confpath = "/etc/nubo/nubo.conf";
	int i = 1;
	if (argc > 2 && !strcmp(argv[1], "-c")) {
		confpath = argv[2];
		i = 3;
	}
	if (i >= argc)
		return usage();
	if (sodium_init() < 0)
		return 1;
	if (!strcmp(argv[i], "curve-keypair")) {
		char pub[41], sec[41];
		if (zmq_curve_keypair(pub, sec) != 0) {
			fputs("nubo-manage: this libzmq has no CURVE support\n", stderr);
			return 1;
		}
		printf("%s %s\n", pub, sec);
		return 0;
	}
	if (!strcmp(argv[i], "ring"))
		return ring_cmd(argc - i - 1, argv + i + 1, stdout, stderr);
	if (!strcmp(argv[i], "hash-password")) {
		char pw[1024], out[crypto_pwhash_STRBYTES];
		if (!fgets(pw, sizeof(pw), stdin))
			return 1;
		pw[strcspn(pw, "\n")] = '\0';
		if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
		                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
			return 1;
		puts(out);
		return 0;
	}
	char err[512];
	struct conf *c = conf_load(confpath, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "nubo-manage: %s\n", err);
		return 1;
	}
	struct db_pool *pool =
	    db_pool_new(conf_get(c, "database", "conninfo", ""), 1, err, sizeof(err));
	if (!pool) {
		fprintf(stderr, "nubo-manage: %s\n", err);
		conf_free(c);
		return 1;
	}
	int rc = 0;
	PGconn *db = db_acquire(pool);
	if (!strcmp(argv[i], "db-sync")) {
		int v = db_migrate(db, err, sizeof(err));
		if (v < 0) {
			fprintf(stderr, "nubo-manage: %s\n", err);
			rc = 1;
		} else {
			printf("schema version %d\n", v);
			rc = seal_credentials(db, c);
		}
	} else if (!strcmp(argv[i], "bootstrap")) {
		if (db_migrate(db, err, sizeof(err)) < 0 ||
		    bootstrap(db, c, err, sizeof(err)) < 0) {
			fprintf(stderr, "nubo-manage: bootstrap: %s\n", err);
			rc = 1;
		} else {
			puts("bootstrap done: roles, projects admin+demo, users, flavors, catalog");
		}
	} else if (!strcmp(argv[i], "task-add")) {
		err[0] = '\0';
		if (task_add(db, argc - i - 1, argv + i + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "nubo-manage: task-add: %s\n", err);
			rc = 1;
		}
	} else if (!strcmp(argv[i], "audit")) {
		int found = audit(db, err, sizeof(err));
		if (found < 0)
			fprintf(stderr, "nubo-manage: audit: %s\n", err);
		rc = found != 0;
	} else if (!strcmp(argv[i], "db-version")) {
		printf("%d\n", db_schema_version());
	} else {
		rc = usage();
	}
	db_release(pool, db);
	db_pool_free(pool);
	conf_free(c);
	return rc;
}

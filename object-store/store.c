/* The store: object bytes on the ring's object servers (quorum writes streamed to the
 * replicas, reads from the first healthy one), listings and usage in PostgreSQL with a
 * spool for updates the database could not take. */
#include "store_impl.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "batchq.h"
#include "db.h"
#include "fsutil.h"
#include "log.h"
#include "md5.h"
#include "objfile.h"
#include "objclient.h"
#include "ring.h"
#include "util.h"
#include "xalloc.h"

#define STORE_HANDOFFS 4
#define STORE_SEEN_SLOTS 4096
#define STORE_LISTING_BATCH 128 /* listing updates in one transaction at most */
#define STORE_SEEN_TTL 3600     /* seconds a container seen is trusted when the db is down */
/* seconds a container's facts (exists, quotas set) are trusted without asking the
 * database again; changes made through this proxy are seen at once (facts_forget) */
#define STORE_FACTS_TTL 10
#define STORE_POST_QUORUM_MS 2000 /* how long a PUT waits for its replicas past a quorum */

struct store {
	struct store_config cfg;
	pthread_rwlock_t lock; /* ring */
	struct ring *ring;
	time_t ring_mtime, ring_checked;
	pthread_mutex_t spool_lock;
	unsigned long spool_seq;
	pthread_t spooler;
	struct batchq *listing_q; /* listing updates, committed in batches (NULL: no db) */
	volatile int stop;
	/* containers seen to exist, so that writes go on while PostgreSQL is away (their
	 * listing updates are spooled) */
	pthread_mutex_t seen_lock;
	struct seen {
		char key[64];               /* sha256 prefix of account/container */
		time_t at;                  /* when the database last told */
		unsigned long gen;          /* facts_gen then */
		int exists, cquota, aquota; /* container exists; quota on it, on its account */
	} seen[STORE_SEEN_SLOTS];
	unsigned long facts_gen; /* bumped by every container or account change here */
};

/* ------------------------------------------------------------------ errors, times */

static const struct {
	int status;
	const char *text;
} store_errs[] = {
    [STORE_OK] = {200, "OK"},
    [STORE_NOT_FOUND] = {404, "Not Found"},
    [STORE_CONFLICT] = {409, "Conflict"},
    [STORE_BAD_REQUEST] = {400, "Bad Request"},
    [STORE_ETAG_MISMATCH] = {422, "Unprocessable Entity"},
    [STORE_RANGE] = {416, "Requested Range Not Satisfiable"},
    [STORE_TOO_LARGE] = {413, "Request Entity Too Large"},
    [STORE_LENGTH_MISMATCH] = {400, "Bad Request"},
    [STORE_UNAVAILABLE] = {503, "Service Unavailable"},
    [STORE_INTERNAL] = {500, "Internal Server Error"},
};

int store_err_status(enum store_err e)
{
	return (unsigned)e < sizeof(store_errs) / sizeof(store_errs[0]) ? store_errs[e].status
	                                                                : 500;
}

const char *store_err_text(enum store_err e)
{
	return (unsigned)e < sizeof(store_errs) / sizeof(store_errs[0]) ? store_errs[e].text
	                                                                : "Internal Server Error";
}

void store_ts_format(double t, char out[STORE_TS_LEN])
{
	snprintf(out, STORE_TS_LEN, "%016.5f", t);
}

void store_ts_now(char out[STORE_TS_LEN])
{
	/* strictly increasing within this process, so two writes in one 10 us step still
	 * order as they were made */
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static long long last;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	long long t = (long long)tv.tv_sec * 100000 + tv.tv_usec / 10;
	pthread_mutex_lock(&mu);
	if (t <= last)
		t = last + 1;
	last = t;
	pthread_mutex_unlock(&mu);
	unsigned long long sec = (unsigned long long)(t / 100000) % 10000000000ULL;
	unsigned frac = (unsigned)(t % 100000);
	snprintf(out, STORE_TS_LEN, "%010llu.%05u", sec, frac % 100000u);
}

void store_meta_release(struct store_meta *m)
{
	for (int i = 0; i < m->nkv; i++) {
		free(m->kv[i].name);
		free(m->kv[i].value);
	}
	m->nkv = 0;
}

const char *store_meta_get(const struct store_meta *m, const char *name)
{
	for (int i = 0; i < m->nkv; i++)
		if (!strcasecmp(m->kv[i].name, name))
			return m->kv[i].value;
	return NULL;
}

static void kv_release(struct store_kv *kv, int *n)
{
	for (int i = 0; i < *n; i++) {
		free(kv[i].name);
		free(kv[i].value);
	}
	*n = 0;
}

void store_container_info_release(struct store_container_info *c)
{
	kv_release(c->kv, &c->nkv);
}

void store_account_info_release(struct store_account_info *a)
{
	kv_release(a->kv, &a->nkv);
}

void store_list_release(struct store_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->e[i].name);
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

/* ------------------------------------------------------------------ names */

static int utf8_ok(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t len;
		unsigned min;
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			len = 2, min = 0x80, c &= 0x1f;
		else if ((c & 0xf0) == 0xe0)
			len = 3, min = 0x800, c &= 0x0f;
		else if ((c & 0xf8) == 0xf0)
			len = 4, min = 0x10000, c &= 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			c = (c << 6) | (p[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

int store_container_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n <= STORE_MAX_CONTAINER && !strchr(name, '/') && utf8_ok(name, n);
}

int store_object_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n > 0 && n <= STORE_MAX_OBJECT_NAME && utf8_ok(name, n);
}

/* The code point of the UTF-8 character at s (len bytes), into *cp; its length, or 0 when
 * s is not one well-formed character. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n = s[0] < 0x80             ? 1
	           : (s[0] & 0xe0) == 0xc0 ? 2
	           : (s[0] & 0xf0) == 0xe0 ? 3
	           : (s[0] & 0xf8) == 0xf0 ? 4
	                                   : 0;
	if (!n || n > len)
		return 0;
	uint32_t v = n == 1 ? s[0] : s[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	static const uint32_t least[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (v < least[n] || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

static size_t utf8_encode(uint32_t v, char *o)
{
	if (v < 0x80) {
		o[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		o[0] = (char)(0xc0 | v >> 6);
		o[1] = (char)(0x80 | (v & 0x3f));
		return 2;
	}
	if (v < 0x10000) {
		o[0] = (char)(0xe0 | v >> 12);
		o[1] = (char)(0x80 | (v >> 6 & 0x3f));
		o[2] = (char)(0x80 | (v & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | v >> 18);
	o[1] = (char)(0x80 | (v >> 12 & 0x3f));
	o[2] = (char)(0x80 | (v >> 6 & 0x3f));
	o[3] = (char)(0x80 | (v & 0x3f));
	return 4;
}

int store_name_successor(const char *name, char *out, size_t n)
{
	size_t len = strlen(name), off = 0, last = 0, nchars = 0;
	size_t starts[STORE_MAX_OBJECT_NAME + 8];
	uint32_t cps[STORE_MAX_OBJECT_NAME + 8], cp;
	if (len > STORE_MAX_OBJECT_NAME + 4)
		return -1;
	while (off < len) {
		size_t k = utf8_decode((const unsigned char *)name + off, len - off, &cp);
		if (!k)
			return -1;
		starts[nchars] = off;
		cps[nchars++] = cp;
		off += k;
	}
	while (nchars > 0 && cps[nchars - 1] == 0x10ffff)
		nchars--;
	if (nchars == 0)
		return -1;
	last = starts[nchars - 1];
	cp = cps[nchars - 1] + 1;
	if (cp == 0xd800)
		cp = 0xe000;
	if (last + 4 + 1 > n)
		return -1;
	memcpy(out, name, last);
	size_t k = utf8_encode(cp, out + last);
	out[last + k] = '\0';
	return 0;
}

int store_account_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n < 6 || n > 128 || strncmp(name, "AUTH_", 5))
		return 0;
	for (size_t i = 5; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ ring */

static struct ring *store_ring_acquire(struct store *s)
{
	time_t now = time(NULL);
	if (now != s->ring_checked) {
		struct stat st;
		s->ring_checked = now;
		if (stat(s->cfg.ring_file, &st) == 0 && st.st_mtime != s->ring_mtime) {
			char err[256];
			struct ring *r = ring_load(s->cfg.ring_file, err, sizeof(err));
			if (r) {
				pthread_rwlock_wrlock(&s->lock);
				ring_free(s->ring);
				s->ring = r;
				s->ring_mtime = st.st_mtime;
				pthread_rwlock_unlock(&s->lock);
			}
		}
	}
	pthread_rwlock_rdlock(&s->lock);
	return s->ring;
}

static void store_ring_release(struct store *s)
{
	pthread_rwlock_unlock(&s->lock);
}

/* The nodes to try for a name: primaries, then handoffs. Returns how many (in devs). */
struct nodes {
	int n, replicas;
	unsigned part;
	struct ring_dev dev[RING_MAX_REPLICAS + STORE_HANDOFFS];
};

static void store_nodes(struct store *s, const char *a, const char *c, const char *o,
                        struct nodes *out)
{
	struct ring *r = store_ring_acquire(s);
	int ids[RING_MAX_REPLICAS + STORE_HANDOFFS];
	out->part = ring_part(r, a, c, o);
	out->replicas = (int)r->replicas;
	ring_primaries(r, out->part, ids);
	int nh = ring_handoffs(r, out->part, ids + r->replicas, STORE_HANDOFFS);
	out->n = 0;
	for (int i = 0; i < (int)r->replicas + nh; i++)
		if (ids[i] != RING_NONE)
			out->dev[out->n++] = r->devs[ids[i]];
	store_ring_release(s);
}

static char *node_path(const struct ring_dev *d, unsigned part, const char *a, const char *c,
                       const char *o)
{
	return xasprintf("/%s/%u/%s/%s/%s", d->name, part, a, c, o);
}

/* ------------------------------------------------------------------ listings (db) */

/* The listing database, or NULL when it does not answer (or the store has none: the
 * unit tests' store over fake object servers). */
static PGconn *store_db(struct store *s)
{
	return s->cfg.db ? db_acquire_timed(s->cfg.db, 5000) : NULL;
}

/* Applies one object update to the listing; newest timestamp wins. 0 or -EIO. */
/* One update of a listing row: the version (ts) an object now is, with what a listing
 * and the expirer need of it. */
struct listing_rec {
	const char *a, *c, *o, *ts, *etag, *ctype;
	uint64_t size;
	int64_t delete_at; /* X-Delete-At of the version, 0 when none */
	int deleted;
};

/* Applies one object update to the listing; newest timestamp wins (the expiry goes
 * with its version: an overwrite or delete without one clears it). 0 or -EIO. */
static int listing_apply(PGconn *db, const struct listing_rec *u)
{
	static const struct db_stmt st = {
	    "obj_listing_apply",
	    "INSERT INTO obj_objects (account, container, name, ts, size, etag, content_type,"
	    " deleted, delete_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULLIF($9, '')::bigint)"
	    " ON CONFLICT (account, container, name) DO UPDATE SET ts = EXCLUDED.ts,"
	    " size = EXCLUDED.size, etag = EXCLUDED.etag, content_type = EXCLUDED.content_type,"
	    " deleted = EXCLUDED.deleted, delete_at = EXCLUDED.delete_at"
	    " WHERE obj_objects.ts < EXCLUDED.ts"};
	char err[256], sz[32], da[32] = "";
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)u->size);
	if (u->delete_at > 0 && !u->deleted)
		snprintf(da, sizeof(da), "%lld", (long long)u->delete_at);
	return DBXS(db, err, sizeof(err), &st, u->a, u->c, u->o, u->ts, sz, u->etag, u->ctype,
	            u->deleted ? "t" : "f", da) < 0
	           ? -EIO
	           : 0;
}

/* Writes an update the database did not take into the spool (one fsynced file each). */
static void spool_write(struct store *s, const struct listing_rec *u)
{
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:b,s:I}", "a", u->a, "c", u->c, "o",
	                      u->o, "ts", u->ts, "size", (json_int_t)u->size, "etag", u->etag, "ct",
	                      u->ctype, "del", u->deleted, "da", (json_int_t)u->delete_at);
	char *text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	pthread_mutex_lock(&s->spool_lock);
	char *path = xasprintf("%s/%s-%06lu.json", s->cfg.spool_dir, u->ts, s->spool_seq++);
	pthread_mutex_unlock(&s->spool_lock);
	fs_write_atomic(path, text, strlen(text), 0600);
	free(path);
	free(text);
}

/* The listing queue's batch (batchq_run_fn, items are struct listing_rec): the updates
 * of the PUTs and DELETEs that finished meanwhile go into one transaction, so
 * concurrent writers share one WAL flush instead of one each. When the transaction
 * fails, each update is tried alone (one bad row must not send the others to the
 * spool); what still fails is -EIO and its writer spools it. Updates carry their
 * timestamp, so a retry is idempotent. */
static void listing_run(void *ctx, void *const *items, int n, int *rc)
{
	struct store *s = ctx;
	PGconn *db = store_db(s);
	int i = 0;
	if (!db) {
		for (i = 0; i < n; i++)
			rc[i] = -EIO;
		return;
	}
	if (n > 1 && db_begin(db) == 0) {
		for (i = 0; i < n && listing_apply(db, items[i]) == 0; i++)
			;
		if (i == n && db_commit(db) == 0) {
			db_release(s->cfg.db, db);
			return; /* rc[] is 0 already */
		}
		db_rollback(db);
	}
	for (i = 0; i < n; i++)
		rc[i] = listing_apply(db, items[i]);
	db_release(s->cfg.db, db);
}

/* Records a write in the listing (through the listing queue: acknowledged once its
 * batch committed), or in the spool when the database does not take it. */
static void listing_update(struct store *s, const struct listing_rec *u)
{
	int rc = s->listing_q ? batchq_submit(s->listing_q, (void *)u) : -EIO;
	if (rc < 0)
		spool_write(s, u);
}

static int cmp_names(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Replays the spool in timestamp order; stops at the first update the database does
 * not take (it is still down). */
static void spool_replay(struct store *s)
{
	DIR *d = opendir(s->cfg.spool_dir);
	if (!d)
		return;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 10000)
		if (strstr(e->d_name, ".json") && e->d_name[0] != '.') {
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrdup(e->d_name);
		}
	closedir(d);
	if (n == 0) {
		free(names);
		return;
	}
	qsort(names, n, sizeof(char *), cmp_names);
	PGconn *db = store_db(s);
	for (size_t i = 0; i < n && db; i++) {
		char *path = xasprintf("%s/%s", s->cfg.spool_dir, names[i]);
		char *text = fs_read(path, 65536, NULL);
		json_t *j = text ? json_loads(text, 0, NULL) : NULL;
		struct listing_rec u = {0};
		json_int_t size = 0, da = 0; /* "da": absent in spool files of older builds */
		if (j &&
		    json_unpack(j, "{s:s,s:s,s:s,s:s,s:I,s:s,s:s,s:b,s?I}", "a", &u.a, "c", &u.c,
		                "o", &u.o, "ts", &u.ts, "size", &size, "etag", &u.etag, "ct",
		                &u.ctype, "del", &u.deleted, "da", &da) == 0 &&
		    size >= 0) {
			u.size = (uint64_t)size;
			u.delete_at = da;
			if (listing_apply(db, &u) == 0)
				unlink(path);
			else
				i = n; /* still down: keep the rest for later */
		} else
			unlink(path); /* not an update: never will be */
		json_decref(j);
		free(text);
		free(path);
	}
	if (db)
		db_release(s->cfg.db, db);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static void *spooler_main(void *arg)
{
	struct store *s = arg;
	while (!s->stop) {
		spool_replay(s);
		for (int i = 0; i < 20 && !s->stop; i++)
			usleep(100000);
	}
	return NULL;
}

static struct seen *seen_slot(struct store *s, const char *a, const char *c, char key[65])
{
	char *ac = xasprintf("%s/%s", a, c);
	sha256_hex(ac, strlen(ac), key);
	free(ac);
	return &s->seen[strtoul((char[5]){key[0], key[1], key[2], key[3], 0}, NULL, 16) %
	                STORE_SEEN_SLOTS];
}

/* Forgets every container fact this proxy keeps: a container or account was created,
 * changed or deleted here. A lookup that began before stores its answer under the old
 * generation, so it is not trusted either. */
static void facts_forget(struct store *s)
{
	pthread_mutex_lock(&s->seen_lock);
	s->facts_gen++;
	pthread_mutex_unlock(&s->seen_lock);
}

/* Forgets that a container was seen (it was deleted here). */
static void seen_forget(struct store *s, const char *a, const char *c)
{
	char key[65];
	struct seen *e = seen_slot(s, a, c, key);
	pthread_mutex_lock(&s->seen_lock);
	if (!strncmp(e->key, key, sizeof(e->key) - 1))
		e->key[0] = '\0';
	s->facts_gen++;
	pthread_mutex_unlock(&s->seen_lock);
}

static int seen_recently(struct store *s, const char *a, const char *c)
{
	char key[65];
	struct seen *e = seen_slot(s, a, c, key);
	pthread_mutex_lock(&s->seen_lock);
	int hit = !strncmp(e->key, key, sizeof(e->key) - 1) && e->exists &&
	          time(NULL) - e->at < STORE_SEEN_TTL;
	pthread_mutex_unlock(&s->seen_lock);
	return hit;
}

/* What a write into a/c must know, from this proxy's memory when it learnt it less
 * than STORE_FACTS_TTL ago and nothing changed here since, else from the database
 * (one query). 0, or -EIO when the database is unreachable. */
static int container_facts(struct store *s, const char *a, const char *c, struct seen *out)
{
	char key[65];
	struct seen *e = seen_slot(s, a, c, key);
	time_t now = time(NULL);
	pthread_mutex_lock(&s->seen_lock);
	unsigned long gen = s->facts_gen;
	int hit = !strncmp(e->key, key, sizeof(e->key) - 1) && e->gen == gen &&
	          now - e->at < STORE_FACTS_TTL;
	if (hit)
		*out = *e;
	pthread_mutex_unlock(&s->seen_lock);
	if (hit)
		return 0;
	PGconn *db = store_db(s);
	if (!db)
		return -EIO;
	char err[256];
	static const struct db_stmt st = {
	    "obj_container_facts",
	    "SELECT EXISTS (SELECT 1 FROM obj_containers WHERE account = $1 AND name = $2),"
	    " EXISTS (SELECT 1 FROM obj_containers c, jsonb_object_keys(c.meta) k"
	    "  WHERE c.account = $1 AND c.name = $2 AND lower(k) LIKE 'x-container-meta-quota-%'),"
	    " EXISTS (SELECT 1 FROM obj_accounts a, jsonb_object_keys(a.meta) k"
	    "  WHERE a.account = $1 AND lower(k) LIKE 'x-account-meta-quota-%')"};
	PGresult *r = DBQS(db, err, sizeof(err), &st, a, c);
	int rc = r && PQntuples(r) == 1 ? 0 : -EIO;
	if (rc == 0) {
		memset(out, 0, sizeof(*out));
		snprintf(out->key, sizeof(out->key), "%.63s", key);
		out->at = now;
		out->gen = gen;
		out->exists = !strcmp(db_val(r, 0, 0), "t");
		out->cquota = !strcmp(db_val(r, 0, 1), "t");
		out->aquota = !strcmp(db_val(r, 0, 2), "t");
		pthread_mutex_lock(&s->seen_lock);
		*e = *out;
		pthread_mutex_unlock(&s->seen_lock);
	}
	PQclear(r);
	db_release(s->cfg.db, db);
	return rc;
}

/* 1 when the container exists, 0 when not, -EIO when the database is unreachable. */
static int container_lookup(struct store *s, const char *a, const char *c)
{
	struct seen f;
	int rc = container_facts(s, a, c, &f);
	return rc < 0 ? rc : f.exists;
}

/* container_lookup for a write: while the database is unreachable, a container this
 * proxy saw within the last hour still takes objects (the listing update is spooled). */
static int container_exists(struct store *s, const char *a, const char *c)
{
	int rc = container_lookup(s, a, c);
	return rc == -EIO && seen_recently(s, a, c) ? 1 : rc;
}

/* ------------------------------------------------------------------ put */

struct store_put {
	struct store *s;
	char *a, *c, *o;
	char ts[STORE_TS_LEN];
	char content_type[256];
	struct oc oc[RING_MAX_REPLICAS];
	int live[RING_MAX_REPLICAS];
	int n, quorum;
	int superseded; /* replicas that answered 409: they hold a newer version */
	int64_t length;
	uint64_t sent;
	int64_t delete_at; /* its X-Delete-At, 0 when none */
	struct md5 md5;    /* of the body, sent to the replicas after it (OBJFILE_ETAG_TRAILER) */
};

static int put_live(const struct store_put *p)
{
	int k = p->superseded;
	for (int i = 0; i < p->n; i++)
		k += p->live[i];
	return k;
}

static char **put_headers(const struct store_put_opts *o, const char *ts, const char *ctype)
{
	char **h = xcalloc((size_t)o->nkv + 6, sizeof(char *));
	int n = 0;
	h[n++] = xasprintf("X-Timestamp: %s", ts);
	h[n++] = xasprintf("Trailer: %s", OBJFILE_ETAG_TRAILER);
	if (o->length >= 0)
		h[n++] = xasprintf("%s: %lld", OBJFILE_LENGTH_HEADER, (long long)o->length);
	h[n++] = xasprintf("Content-Type: %s", ctype);
	if (o->etag)
		h[n++] = xasprintf("Etag: %s", o->etag);
	/* Swift keeps user metadata whose value is empty ("X-Object-Meta-K: ") */
	for (int i = 0; i < o->nkv; i++)
		if (strcasecmp(o->kv[i].name, "Content-Type") &&
		    (o->kv[i].value[0] || !strncasecmp(o->kv[i].name, "X-Object-Meta-", 14)))
			h[n++] = xasprintf("%s: %s", o->kv[i].name, o->kv[i].value);
	return h;
}

static void headers_free(char **h)
{
	for (int i = 0; h && h[i]; i++)
		free(h[i]);
	free(h);
}

static int header_value_ok(const char *v)
{
	for (; *v; v++)
		if (*v == '\r' || *v == '\n')
			return 0;
	return 1;
}

static int kv_ok(const struct store_kv *kv, int n)
{
	size_t total = 0;
	if (n > STORE_MAX_META)
		return 0;
	for (int i = 0; i < n; i++) {
		if (!header_value_ok(kv[i].name) || !header_value_ok(kv[i].value) ||
		    strchr(kv[i].name, ':'))
			return 0;
		total += strlen(kv[i].name) + strlen(kv[i].value);
	}
	return total <= STORE_MAX_META_BYTES;
}

/* What each object-server answer to a PUT counts as; any other 4xx is the proxy's
 * protocol fault, any other status a replica that failed (down, full, write error). */
static const struct {
	int status;
	int client_fault; /* -1: either; else OBJFILE_CLIENT_FAULT_HEADER present or not */
	enum store_put_vote vote;
} put_votes[] = {
    {201, -1, STORE_VOTE_STORED},
    {409, -1, STORE_VOTE_SUPERSEDED}, /* a newer version landed there meanwhile */
    {422, -1, STORE_VOTE_MISMATCH},
    {400, 1, STORE_VOTE_REFUSED},
};

enum store_put_vote store_put_vote(int status, int client_fault)
{
	for (size_t i = 0; i < sizeof(put_votes) / sizeof(put_votes[0]); i++)
		if (put_votes[i].status == status &&
		    (put_votes[i].client_fault < 0 || put_votes[i].client_fault == !!client_fault))
			return put_votes[i].vote;
	return status >= 400 && status < 500 ? STORE_VOTE_FAULT : STORE_VOTE_FAILED;
}

/* Logs replica oc's answer to p as a protocol fault (STORE_VOTE_FAULT). */
static void put_log_fault(const struct store_put *p, const struct oc *oc)
{
	log_warn("PUT %s/%s/%s: object server %s:%u answered %d: a fault of the "
	         "proxy-to-object-server protocol (version skew or a bug)",
	         p->a, p->c, p->o, oc->host, oc->port, oc->status);
}

enum store_err store_put_begin(struct store *s, const char *account, const char *container,
                               const char *object, const struct store_put_opts *o,
                               struct store_put **out)
{
	*out = NULL;
	if (!store_account_name_ok(account) || !store_container_name_ok(container) ||
	    !store_object_name_ok(object) || !kv_ok(o->kv, o->nkv) ||
	    (o->content_type &&
	     (!header_value_ok(o->content_type) || strlen(o->content_type) > 255)) ||
	    (o->etag && (strlen(o->etag) > 64 || !header_value_ok(o->etag))))
		return STORE_BAD_REQUEST;
	if (o->length > (int64_t)STORE_MAX_OBJECT)
		return STORE_TOO_LARGE;
	int ex = container_exists(s, account, container);
	if (ex < 0)
		return STORE_UNAVAILABLE;
	if (ex == 0)
		return STORE_NOT_FOUND;
	struct nodes nodes;
	store_nodes(s, account, container, object, &nodes);
	struct store_put *p = xcalloc(1, sizeof(*p));
	p->s = s;
	p->a = xstrdup(account);
	p->c = xstrdup(container);
	p->o = xstrdup(object);
	p->length = o->length;
	for (int i = 0; i < o->nkv; i++)
		if (!strcasecmp(o->kv[i].name, "X-Delete-At"))
			p->delete_at = store_delete_at_parse(o->kv[i].value);
	p->quorum = nodes.replicas / 2 + 1;
	snprintf(p->content_type, sizeof(p->content_type), "%s",
	         o->content_type ? o->content_type : "application/octet-stream");
	store_ts_now(p->ts);
	md5_init(&p->md5);
	char **hdrs = put_headers(o, p->ts, p->content_type);
	/* one stream per replica. The primaries are asked all at once and their 100 Continue
	 * awaited together (one round trip, not one per replica); a primary that is down or
	 * full is then replaced by the next handoff. Each body is chunked, its MD5 in the
	 * trailer (OBJFILE_ETAG_TRAILER): one MD5 pass per object instead of one per replica */
	int next = nodes.replicas, rc[RING_MAX_REPLICAS];
	for (int i = 0; i < nodes.replicas; i++) {
		char *path = node_path(&nodes.dev[i], nodes.part, account, container, object);
		rc[i] = oc_start(&p->oc[i], nodes.dev[i].host, nodes.dev[i].port, "PUT", path,
		                 (const char *const *)hdrs, -1, 1, s->cfg.connect_timeout_ms);
		free(path);
	}
	p->n = nodes.replicas;
	for (int i = 0; i < nodes.replicas; i++) {
		struct oc *oc = &p->oc[i];
		if (rc[i] == 0)
			rc[i] = oc_await_continue(oc, s->cfg.connect_timeout_ms);
		while (!(rc[i] == 0 && (oc->status == 100 || oc->status == 409))) {
			if (rc[i] == 0 && store_put_vote(oc->status, 0) == STORE_VOTE_FAULT)
				put_log_fault(p, oc); /* (a 400 to the head: path, X-Timestamp) */
			oc_close(oc);
			if (next >= nodes.n)
				break;
			const struct ring_dev *d = &nodes.dev[next++];
			char *path = node_path(d, nodes.part, account, container, object);
			rc[i] =
			    oc_open(oc, d->host, d->port, "PUT", path, (const char *const *)hdrs,
			            -1, 1, s->cfg.connect_timeout_ms);
			free(path);
		}
		if (rc[i] == 0 && oc->status == 100)
			p->live[i] = 1;
		else if (rc[i] == 0 && oc->status == 409) {
			/* it holds a newer version already: this write is superseded there,
			 * which counts as written (the newest timestamp wins anyway) */
			p->superseded++;
			oc_close(oc);
		}
	}
	headers_free(hdrs);
	if (put_live(p) < p->quorum) {
		store_put_abort(p);
		return STORE_UNAVAILABLE;
	}
	*out = p;
	return STORE_OK;
}

enum store_err store_put_write(struct store_put *p, const void *buf, size_t n)
{
	p->sent += n;
	if (p->sent > STORE_MAX_OBJECT)
		return STORE_TOO_LARGE;
	if (p->length >= 0 && p->sent > (uint64_t)p->length)
		return STORE_LENGTH_MISMATCH;
	md5_update(&p->md5, buf, n);
	for (int i = 0; i < p->n; i++)
		if (p->live[i] && oc_write(&p->oc[i], buf, n) < 0) {
			p->live[i] = 0;
			oc_close(&p->oc[i]);
		}
	return put_live(p) >= p->quorum ? STORE_OK : STORE_UNAVAILABLE;
}

static void put_free(struct store_put *p)
{
	for (int i = 0; i < p->n; i++)
		oc_close(&p->oc[i]);
	free(p->a);
	free(p->c);
	free(p->o);
	free(p);
}

void store_put_abort(struct store_put *p)
{
	if (p)
		put_free(p);
}

/* Reads the answer of replica i of p (its fsyncs done) into the counts, waiting
 * timeout_ms at most for the rest of its head. */
static void put_answer(struct store_put *p, int i, int timeout_ms, int *ok, int *mismatch,
                       int *refused, char etag[33])
{
	struct oc *oc = &p->oc[i];
	if (oc_await_answer_ms(oc, timeout_ms) < 0)
		return;
	switch (store_put_vote(oc->status, oc_header(oc, OBJFILE_CLIENT_FAULT_HEADER) != NULL)) {
	case STORE_VOTE_STORED: {
		(*ok)++;
		const char *t = oc_header(oc, "Etag");
		if (t)
			snprintf(etag, 33, "%.32s", t);
		break;
	}
	case STORE_VOTE_SUPERSEDED:
		(*ok)++;
		break;
	case STORE_VOTE_MISMATCH:
		(*mismatch)++;
		break;
	case STORE_VOTE_REFUSED:
		(*refused)++;
		break;
	case STORE_VOTE_FAULT:
		/* not the client's doing (review s12 L4): this replica failed, and with too
		 * few others the client gets 503, not this status */
		put_log_fault(p, oc);
		break;
	case STORE_VOTE_FAILED:
		break;
	}
}

/* Reads the replicas' answers in the order they come: until a quorum of them is ok and
 * one gave the ETag, or none is left (all == 0); or every answer (all). All of it
 * within timeout_ms. */
static void put_answers(struct store_put *p, struct oc **wait, int all, int timeout_ms, int *ok,
                        int *mismatch, int *refused, char etag[33])
{
	int64_t end = time_mono_ms() + timeout_ms;
	for (;;) {
		if (!all && *ok >= p->quorum && etag[0])
			return;
		int64_t left = end - time_mono_ms();
		if (left <= 0)
			return; /* put_free closes those still awaited */
		int i = oc_await_any(wait, p->n, (int)left);
		if (i < 0) /* none left, none answered in time, or poll failed (EINTR is
		            * retried inside): put_free closes those still awaited */
			return;
		wait[i] = NULL;
		left = end - time_mono_ms();
		put_answer(p, i, left > 0 ? (int)left : 1, ok, mismatch, refused, etag);
	}
}

enum store_err store_put_finish(struct store_put *p, struct store_meta *meta)
{
	enum store_err e = STORE_OK;
	int ok = p->superseded, mismatch = 0, refused = 0;
	char etag[33] = "";
	if (p->length >= 0 && p->sent != (uint64_t)p->length) {
		e = STORE_LENGTH_MISMATCH;
		goto out;
	}
	/* end every replica's body first, then collect the answers: their fsyncs overlap */
	struct oc *wait[RING_MAX_REPLICAS] = {0};
	char hex[33], trailer[64];
	md5_final_hex(&p->md5, hex);
	snprintf(trailer, sizeof(trailer), "%s: %s", OBJFILE_ETAG_TRAILER, hex);
	for (int i = 0; i < p->n; i++)
		if (p->live[i] && oc_end_body_trailer(&p->oc[i], trailer) == 0)
			wait[i] = &p->oc[i];
	/* the listing is written as soon as a quorum of replicas holds the object durably
	 * (their answers read as they come), while the slowest one still syncs; its answer
	 * is read after (so that its connection is kept for the next exchange) */
	put_answers(p, wait, 0, OC_ANSWER_TIMEOUT_MS, &ok, &mismatch, &refused, etag);
	if (ok < p->quorum) {
		e = mismatch  ? STORE_ETAG_MISMATCH
		    : refused ? STORE_BAD_REQUEST
		              : STORE_UNAVAILABLE;
		goto out;
	}
	struct listing_rec u = {.a = p->a,
	                        .c = p->c,
	                        .o = p->o,
	                        .ts = p->ts,
	                        .etag = etag,
	                        .ctype = p->content_type,
	                        .size = p->sent,
	                        .delete_at = p->delete_at};
	listing_update(p->s, &u);
	/* the write is durable on a quorum: a replica still syncing gets a short while more
	 * (its connection is then closed; the replicator brings it what it lacks) */
	put_answers(p, wait, 1, STORE_POST_QUORUM_MS, &ok, &mismatch, &refused, etag);
	if (meta) {
		memset(meta, 0, sizeof(*meta));
		meta->size = p->sent;
		memcpy(meta->etag, etag, sizeof(etag));
		memcpy(meta->timestamp, p->ts, STORE_TS_LEN);
		snprintf(meta->content_type, sizeof(meta->content_type), "%s", p->content_type);
	}
out:
	put_free(p);
	return e;
}

/* ------------------------------------------------------------------ get */

struct store_get {
	struct oc oc;
	uint64_t left;
};

static const char *const meta_headers_skip[] = {
    "Content-Length",      "Content-Range",
    "Connection",          "Date",
    "X-Timestamp",         "Etag",
    "X-Object-Size",       "Content-Type",
    "X-Backend-Timestamp", "Transfer-Encoding",
};

static void meta_from_answer(const struct oc *oc, struct store_meta *m)
{
	memset(m, 0, sizeof(*m));
	const char *v;
	if ((v = oc_header(oc, "X-Object-Size")))
		m->size = strtoull(v, NULL, 10);
	if ((v = oc_header(oc, "Etag")))
		snprintf(m->etag, sizeof(m->etag), "%.32s", v);
	if ((v = oc_header(oc, "X-Timestamp")))
		snprintf(m->timestamp, sizeof(m->timestamp), "%s", v);
	if ((v = oc_header(oc, "Content-Type")))
		snprintf(m->content_type, sizeof(m->content_type), "%s", v);
	for (int i = 0; i < oc->nh && m->nkv < STORE_MAX_META; i++) {
		int skip = 0;
		for (size_t k = 0; k < sizeof(meta_headers_skip) / sizeof(meta_headers_skip[0]);
		     k++)
			skip |= !strcasecmp(oc->hname[i], meta_headers_skip[k]);
		if (skip)
			continue;
		m->kv[m->nkv].name = xstrdup(oc->hname[i]);
		m->kv[m->nkv].value = xstrdup(oc->hval[i]);
		m->nkv++;
	}
}

/* The version a node's answer is about: X-Timestamp of its data (200, 206, 416) or
 * X-Backend-Timestamp of its tombstone (404; "" when it has nothing). */
static const char *answer_ts(const struct oc *oc)
{
	const char *t = oc_header(oc, oc->status == 404 ? "X-Backend-Timestamp" : "X-Timestamp");
	return t ? t : "";
}

/* Sends method for the object to its nodes (primaries, then handoffs for those that do
 * not answer) and keeps one answer open in oc. As Swift's proxy: the first replica that
 * has the object answers, and a 404 (a replica that missed the write, or a tombstone)
 * makes it ask the next, keeping the newest answer seen (X-Timestamp; a newer tombstone
 * hides older data). With newest (X-Newest: true) it asks as many as the ring's replicas
 * and keeps the newest version, so that a replica that missed writes while it was down
 * is never served over a newer one. */
static enum store_err object_fetch(struct store *s, const char *method, const char *a,
                                   const char *c, const char *o, const char *range, int newest,
                                   struct oc *oc)
{
	if (!store_account_name_ok(a) || !store_container_name_ok(c) || !store_object_name_ok(o))
		return STORE_BAD_REQUEST;
	struct nodes nodes;
	store_nodes(s, a, c, o, &nodes);
	int answered = 0, have = 0;
	char *hr = range ? xasprintf("Range: %s", range) : NULL;
	const char *hdrs[] = {hr, NULL};
	/* the first answer is read straight into oc; a spare takes the others (only a
	 * newest-wins read asks more than one replica) */
	struct oc *spare = NULL;
	enum store_err e = STORE_UNAVAILABLE;
	for (int i = 0; i < nodes.n && answered < nodes.replicas; i++) {
		const struct ring_dev *d = &nodes.dev[i];
		struct oc *cur = !have ? oc : spare ? spare : (spare = xmalloc(sizeof(*spare)));
		char *path = node_path(d, nodes.part, a, c, o);
		int rc = oc_open(cur, d->host, d->port, method, path, hdrs, 0, 0,
		                 s->cfg.connect_timeout_ms);
		free(path);
		if (rc == 0)
			rc = oc_read_head(cur);
		int st = rc == 0 ? cur->status : 0;
		if (st != 200 && st != 206 && st != 416 && st != 404) {
			oc_close(cur);
			continue;
		}
		answered++;
		if (cur != oc) {
			if (strcmp(answer_ts(cur), answer_ts(oc)) <= 0) {
				oc_close(cur);
				continue;
			}
			oc_close(oc);
			memcpy(oc, cur, sizeof(*oc)); /* cur's fd and buffers are oc's now */
		}
		have = 1;
		if (!newest && oc->status != 404)
			break;
	}
	free(spare);
	free(hr);
	if (!have)
		return e;
	e = oc->status == 404 ? STORE_NOT_FOUND : oc->status == 416 ? STORE_RANGE : STORE_OK;
	if (e == STORE_NOT_FOUND)
		oc_close(oc);
	return e;
}

static enum store_err get_open(struct store *s, const char *account, const char *container,
                               const char *object, int64_t first, int64_t last, int newest,
                               struct store_meta *meta, uint64_t *off, uint64_t *len,
                               struct store_get **out)
{
	*out = NULL;
	char range[64];
	int ranged = !(first == 0 && last < 0);
	if (first < 0)
		snprintf(range, sizeof(range), "bytes=-%lld", (long long)last);
	else if (last < 0)
		snprintf(range, sizeof(range), "bytes=%lld-", (long long)first);
	else
		snprintf(range, sizeof(range), "bytes=%lld-%lld", (long long)first,
		         (long long)last);
	struct store_get *g = xmalloc(sizeof(*g));
	oc_init(&g->oc);
	g->left = 0;
	enum store_err e = object_fetch(s, "GET", account, container, object, ranged ? range : NULL,
	                                newest, &g->oc);
	if (e == STORE_RANGE) {
		memset(meta, 0, sizeof(*meta));
		const char *cr = oc_header(&g->oc, "Content-Range");
		if (cr && !strncmp(cr, "bytes */", 8))
			meta->size = strtoull(cr + 8, NULL, 10);
		oc_close(&g->oc);
	}
	if (e != STORE_OK) {
		free(g);
		return e;
	}
	meta_from_answer(&g->oc, meta);
	*off = 0;
	*len = meta->size;
	const char *cr = oc_header(&g->oc, "Content-Range");
	unsigned long long a, b, t;
	if (g->oc.status == 206 && cr && sscanf(cr, "bytes %llu-%llu/%llu", &a, &b, &t) == 3) {
		*off = a;
		*len = b - a + 1;
	}
	g->left = *len;
	*out = g;
	return STORE_OK;
}

enum store_err store_get_open(struct store *s, const char *account, const char *container,
                              const char *object, int64_t first, int64_t last,
                              struct store_meta *meta, uint64_t *off, uint64_t *len,
                              struct store_get **out)
{
	return get_open(s, account, container, object, first, last, 0, meta, off, len, out);
}

enum store_err store_get_open_newest(struct store *s, const char *account, const char *container,
                                     const char *object, int64_t first, int64_t last,
                                     struct store_meta *meta, uint64_t *off, uint64_t *len,
                                     struct store_get **out)
{
	return get_open(s, account, container, object, first, last, 1, meta, off, len, out);
}

ssize_t store_get_read(struct store_get *g, void *buf, size_t max)
{
	if (g->left == 0)
		return 0;
	if (max > g->left)
		max = (size_t)g->left;
	ssize_t k = oc_read(&g->oc, buf, max);
	if (k == 0)
		return -ECONNRESET;
	if (k > 0)
		g->left -= (uint64_t)k;
	return k;
}

void store_get_close(struct store_get *g)
{
	if (!g)
		return;
	oc_close(&g->oc);
	free(g);
}

static enum store_err head(struct store *s, const char *account, const char *container,
                           const char *object, int newest, struct store_meta *meta)
{
	struct oc oc;
	enum store_err e = object_fetch(s, "HEAD", account, container, object, NULL, newest, &oc);
	if (e != STORE_OK)
		return e;
	meta_from_answer(&oc, meta);
	oc_close(&oc);
	return STORE_OK;
}

enum store_err store_head(struct store *s, const char *account, const char *container,
                          const char *object, struct store_meta *meta)
{
	return head(s, account, container, object, 0, meta);
}

enum store_err store_head_newest(struct store *s, const char *account, const char *container,
                                 const char *object, struct store_meta *meta)
{
	return head(s, account, container, object, 1, meta);
}

/* Writes tombstones at ts on the object's replicas (each primary, or a handoff for one
 * that does not answer) and, at a quorum, the deleted listing row at ts. A replica that
 * holds a newer version refuses (409) and keeps it: that counts as done, as the newest
 * timestamp wins. STORE_OK when a replica had the object, STORE_NOT_FOUND when none
 * did, STORE_UNAVAILABLE short of a quorum. */
static enum store_err tombstone_write(struct store *s, const char *account, const char *container,
                                      const char *object, const char *ts)
{
	struct nodes nodes;
	store_nodes(s, account, container, object, &nodes);
	char *hts = xasprintf("X-Timestamp: %s", ts);
	const char *hdrs[] = {hts, NULL};
	int acks = 0, found = 0, next = nodes.replicas;
	for (int i = 0; i < nodes.replicas; i++) {
		for (int cand = i; cand < nodes.n;) {
			const struct ring_dev *d = &nodes.dev[cand];
			char *path = node_path(d, nodes.part, account, container, object);
			struct oc oc;
			int rc = oc_open(&oc, d->host, d->port, "DELETE", path, hdrs, 0, 0,
			                 s->cfg.connect_timeout_ms);
			free(path);
			if (rc == 0)
				rc = oc_read_head(&oc);
			int st = rc == 0 ? oc.status : 0;
			oc_close(&oc);
			if (st == 204 || st == 404 || st == 409) {
				acks++;
				found += st == 204;
				break;
			}
			if (next >= nodes.n)
				break;
			cand = next++;
		}
	}
	free(hts);
	if (acks < nodes.replicas / 2 + 1)
		return STORE_UNAVAILABLE;
	struct listing_rec u = {.a = account,
	                        .c = container,
	                        .o = object,
	                        .ts = ts,
	                        .etag = "",
	                        .ctype = "",
	                        .deleted = 1};
	listing_update(s, &u);
	return found ? STORE_OK : STORE_NOT_FOUND;
}

enum store_err store_delete(struct store *s, const char *account, const char *container,
                            const char *object)
{
	if (!store_account_name_ok(account) || !store_container_name_ok(container) ||
	    !store_object_name_ok(object))
		return STORE_BAD_REQUEST;
	char ts[STORE_TS_LEN];
	store_ts_now(ts);
	return tombstone_write(s, account, container, object, ts);
}

enum store_err store_expire(struct store *s, const char *account, const char *container,
                            const char *object, const char *version)
{
	char ts[STORE_TS_LEN];
	if (!store_account_name_ok(account) || !store_container_name_ok(container) ||
	    !store_object_name_ok(object) || store_ts_next(version, ts) < 0)
		return STORE_BAD_REQUEST;
	return tombstone_write(s, account, container, object, ts);
}

int store_ts_next(const char *ts, char out[STORE_TS_LEN])
{
	/* "SSSSSSSSSS.FFFFF": 10 digits, '.', 5 digits */
	if (!ts || strlen(ts) != STORE_TS_LEN - 1 || ts[10] != '.')
		return -1;
	for (int i = 0; i < STORE_TS_LEN - 1; i++)
		if (i != 10 && !isdigit((unsigned char)ts[i]))
			return -1;
	memcpy(out, ts, STORE_TS_LEN);
	for (int i = STORE_TS_LEN - 2; i >= 0; i--) {
		if (i == 10)
			continue;
		if (out[i] < '9') {
			out[i]++;
			return 0;
		}
		out[i] = '0';
	}
	memcpy(out, ts, STORE_TS_LEN); /* 9999999999.99999: no successor */
	return -1;
}

int64_t store_delete_at_parse(const char *v)
{
	if (!v || !isdigit((unsigned char)*v) || strlen(v) > 18)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isdigit((unsigned char)*p))
			return 0;
	return (int64_t)strtoll(v, NULL, 10);
}

void store_expiry_note(struct store *s, const char *account, const char *container,
                       const char *object, const char *version, int64_t delete_at)
{
	if (delete_at <= 0)
		return;
	PGconn *db = store_db(s);
	if (!db)
		return;
	char err[256], da[32];
	snprintf(da, sizeof(da), "%lld", (long long)delete_at);
	static const struct db_stmt st = {
	    "obj_expiry_note",
	    "UPDATE obj_objects SET delete_at = $5::bigint WHERE account = $1 AND container = $2"
	    " AND name = $3 AND ts = $4 AND NOT deleted AND delete_at IS NULL"};
	DBXS(db, err, sizeof(err), &st, account, container, object, version, da);
	db_release(s->cfg.db, db);
}

void store_expiring_release(struct store_expiring *x, size_t n)
{
	for (size_t i = 0; x && i < n; i++) {
		free(x[i].account);
		free(x[i].container);
		free(x[i].object);
	}
	free(x);
}

int store_expiring_list(struct store *s, int64_t now, const struct store_expiring *after,
                        unsigned limit, struct store_expiring **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (limit == 0 || limit > STORE_EXPIRING_MAX)
		limit = STORE_EXPIRING_MAX;
	PGconn *db = store_db(s);
	if (!db)
		return -EIO;
	char err[256], snow[32], sda[32], slim[16];
	snprintf(snow, sizeof(snow), "%lld", (long long)now);
	snprintf(sda, sizeof(sda), "%lld", (long long)(after ? after->delete_at : 0));
	snprintf(slim, sizeof(slim), "%u", limit);
	/* keyset order (delete_at, account, container, name): the partial index's */
	PGresult *r = DBQ(db, err, sizeof(err),
	                  "SELECT account, container, name, ts, delete_at FROM obj_objects"
	                  " WHERE delete_at IS NOT NULL AND NOT deleted AND delete_at <= $1::bigint"
	                  " AND (delete_at, account, container, name) >"
	                  " ($2::bigint, $3, $4::text COLLATE \"C\", $5::text COLLATE \"C\")"
	                  " ORDER BY delete_at, account, container, name LIMIT $6::int",
	                  snow, sda, after ? after->account : "", after ? after->container : "",
	                  after ? after->object : "", slim);
	db_release(s->cfg.db, db);
	if (!r)
		return -EIO;
	int rows = PQntuples(r);
	struct store_expiring *x = xcalloc(rows > 0 ? (size_t)rows : 1, sizeof(*x));
	for (int i = 0; i < rows; i++) {
		x[i].account = xstrdup(db_val(r, i, 0));
		x[i].container = xstrdup(db_val(r, i, 1));
		x[i].object = xstrdup(db_val(r, i, 2));
		snprintf(x[i].version, sizeof(x[i].version), "%s", db_val(r, i, 3));
		x[i].delete_at = db_long(r, i, 4, 0);
	}
	PQclear(r);
	*out = x;
	*n = (size_t)rows;
	return 0;
}

enum store_err store_copy(struct store *s, const char *src_account, const char *src_container,
                          const char *src_object, const char *account, const char *container,
                          const char *object, const struct store_kv *kv, int nkv,
                          const char *content_type, struct store_meta *meta)
{
	struct store_meta src;
	uint64_t off, len;
	struct store_get *g;
	/* the newest version of the source, never one replica's: a POST rewrites the object
	 * from it (review s6 5) */
	enum store_err e = store_get_open_newest(s, src_account, src_container, src_object, 0, -1,
	                                         &src, &off, &len, &g);
	if (e != STORE_OK)
		return e;
	/* the copy must hash to the source's stored ETag (the MD5 its object server keeps of
	 * its bytes): a replica of the source whose bytes rotted, which a GET over
	 * verify_read_max serves unchecked, then fails the copy on every destination replica
	 * (each answers 422 before it commits) instead of giving the rot a fresh, valid ETag
	 * (review s12 L1). As Swift's copy, which sends the source's Etag with its PUT. */
	struct store_put_opts o = {
	    .length = (int64_t)len,
	    .etag = src.etag[0] ? src.etag : NULL,
	    .content_type = content_type ? content_type : src.content_type,
	    .kv = kv ? kv : src.kv,
	    .nkv = kv ? nkv : src.nkv,
	};
	struct store_put *p;
	e = store_put_begin(s, account, container, object, &o, &p);
	if (e != STORE_OK)
		goto out;
	char *buf = xmalloc(65536);
	for (;;) {
		ssize_t k = store_get_read(g, buf, 65536);
		if (k == 0)
			break;
		if (k < 0) {
			e = STORE_UNAVAILABLE;
			break;
		}
		e = store_put_write(p, buf, (size_t)k);
		if (e != STORE_OK)
			break;
	}
	free(buf);
	if (e == STORE_OK)
		e = store_put_finish(p, meta);
	else
		store_put_abort(p);
	if (e == STORE_ETAG_MISMATCH && o.etag) {
		/* the client sent no ETag: the bytes read are not the source's. Its fault is
		 * ours, and a retry may read a good replica once the auditor has quarantined
		 * the rotten one: 503, as for a source no replica could serve */
		log_warn("copy of %s/%s/%s: the bytes read do not match its ETag %s (a corrupt "
		         "replica); nothing written to %s/%s/%s",
		         src_account, src_container, src_object, o.etag, account, container,
		         object);
		e = STORE_UNAVAILABLE;
	}
out:
	store_meta_release(&src);
	store_get_close(g);
	return e;
}

enum store_err store_post(struct store *s, const char *account, const char *container,
                          const char *object, const struct store_kv *kv, int nkv,
                          const char *content_type)
{
	struct store_meta m;
	memset(&m, 0, sizeof(m));
	struct store_kv none = {0};
	enum store_err e = store_copy(s, account, container, object, account, container, object,
	                              kv ? kv : &none, kv ? nkv : 0, content_type, &m);
	store_meta_release(&m);
	return e;
}

/* ------------------------------------------------------------------ containers */

static json_t *kv_json(const struct store_kv *kv, int n)
{
	json_t *j = json_object();
	for (int i = 0; i < n; i++)
		json_object_set_new(j, kv[i].name, json_string(kv[i].value));
	return j;
}

static void kv_from_json(const char *text, struct store_kv *kv, int *n)
{
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	const char *k;
	json_t *v;
	*n = 0;
	json_object_foreach(j, k, v)
	{
		if (*n >= STORE_MAX_META || !json_is_string(v) || !json_string_value(v)[0])
			continue;
		kv[*n].name = xstrdup(k);
		kv[*n].value = xstrdup(json_string_value(v));
		(*n)++;
	}
	json_decref(j);
}

/* Merges kv into a jsonb column: an empty value removes the key. */
static const char merge_sql[] = "(SELECT COALESCE(jsonb_object_agg(key, value), '{}')"
                                " FROM jsonb_each(%s || $%d::jsonb) WHERE value <> '\"\"')";

enum store_err store_container_put(struct store *s, const char *account, const char *container,
                                   const struct store_kv *kv, int nkv, int *created)
{
	if (!store_account_name_ok(account) || !store_container_name_ok(container) ||
	    !kv_ok(kv, nkv))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	char ts[STORE_TS_LEN], err[256];
	store_ts_now(ts);
	json_t *j = kv_json(kv, nkv);
	char *meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char merge[256], sql[1024];
	snprintf(merge, sizeof(merge), merge_sql, "obj_containers.meta", 4);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO obj_containers (account, name, created, meta)"
	         " VALUES ($1, $2, $3, (SELECT COALESCE(jsonb_object_agg(key, value), '{}')"
	         " FROM jsonb_each($4::jsonb) WHERE value <> '\"\"'))"
	         " ON CONFLICT (account, name) DO UPDATE SET meta = %s"
	         " RETURNING created = $3",
	         merge);
	PGresult *r = DBQ(db, err, sizeof(err), sql, account, container, ts, meta);
	free(meta);
	enum store_err e = r ? STORE_OK : STORE_UNAVAILABLE;
	if (r && created)
		*created = PQntuples(r) > 0 && !strcmp(db_val(r, 0, 0), "t");
	PQclear(r);
	db_release(s->cfg.db, db);
	facts_forget(s);
	return e;
}

enum store_err store_container_post(struct store *s, const char *account, const char *container,
                                    const struct store_kv *kv, int nkv)
{
	if (!store_account_name_ok(account) || !store_container_name_ok(container) ||
	    !kv_ok(kv, nkv))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	json_t *j = kv_json(kv, nkv);
	char *meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char merge[256], sql[1024], err[256];
	snprintf(merge, sizeof(merge), merge_sql, "meta", 3);
	snprintf(sql, sizeof(sql),
	         "UPDATE obj_containers SET meta = %s WHERE account = $1 AND name = $2", merge);
	int n = DBX(db, err, sizeof(err), sql, account, container, meta);
	free(meta);
	db_release(s->cfg.db, db);
	facts_forget(s);
	return n < 0 ? STORE_UNAVAILABLE : n == 0 ? STORE_NOT_FOUND : STORE_OK;
}

enum store_err store_container_delete(struct store *s, const char *account, const char *container)
{
	if (!store_account_name_ok(account) || !store_container_name_ok(container))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	char err[256];
	enum store_err e = STORE_UNAVAILABLE;
	if (db_begin(db) < 0)
		goto out;
	PGresult *r = DBQ(db, err, sizeof(err),
	                  "SELECT EXISTS (SELECT 1 FROM obj_objects WHERE account = $1 AND"
	                  " container = $2 AND NOT deleted),"
	                  " EXISTS (SELECT 1 FROM obj_containers WHERE account = $1 AND name = $2"
	                  " FOR UPDATE)",
	                  account, container);
	if (!r)
		goto rollback;
	int busy = !strcmp(db_val(r, 0, 0), "t"), exists = !strcmp(db_val(r, 0, 1), "t");
	PQclear(r);
	if (!exists) {
		e = STORE_NOT_FOUND;
		goto rollback;
	}
	if (busy) {
		e = STORE_CONFLICT;
		goto rollback;
	}
	if (DBX(db, err, sizeof(err), "DELETE FROM obj_containers WHERE account = $1 AND name = $2",
	        account, container) < 0 ||
	    DBX(db, err, sizeof(err),
	        "DELETE FROM obj_objects WHERE account = $1 AND container = $2", account,
	        container) < 0 ||
	    db_commit(db) < 0)
		goto rollback;
	e = STORE_OK;
	seen_forget(s, account, container);
	goto out;
rollback:
	db_rollback(db);
out:
	db_release(s->cfg.db, db);
	return e;
}

enum store_err store_container_head(struct store *s, const char *account, const char *container,
                                    struct store_container_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_account_name_ok(account) || !store_container_name_ok(container))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	char err[256];
	static const struct db_stmt st = {
	    "obj_container_head",
	    "SELECT c.created, c.meta::text,"
	    " (SELECT count(*) FROM obj_objects o WHERE o.account = c.account AND"
	    " o.container = c.name AND NOT o.deleted),"
	    " (SELECT COALESCE(sum(size), 0) FROM obj_objects o WHERE"
	    " o.account = c.account AND o.container = c.name AND NOT o.deleted)"
	    " FROM obj_containers c WHERE c.account = $1 AND c.name = $2"};
	PGresult *r = DBQS(db, err, sizeof(err), &st, account, container);
	enum store_err e = !r ? STORE_UNAVAILABLE : PQntuples(r) == 0 ? STORE_NOT_FOUND : STORE_OK;
	if (e == STORE_OK) {
		snprintf(out->created, sizeof(out->created), "%s", db_val(r, 0, 0));
		kv_from_json(db_val(r, 0, 1), out->kv, &out->nkv);
		out->object_count = (uint64_t)db_long(r, 0, 2, 0);
		out->bytes_used = (uint64_t)db_long(r, 0, 3, 0);
	}
	PQclear(r);
	db_release(s->cfg.db, db);
	return e;
}

enum store_err store_account_head(struct store *s, const char *account,
                                  struct store_account_info *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_account_name_ok(account))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	char err[256];
	static const struct db_stmt st = {
	    "obj_account_head",
	    "SELECT (SELECT count(*) FROM obj_containers WHERE account = $1),"
	    " (SELECT count(*) FROM obj_objects WHERE account = $1 AND NOT deleted),"
	    " (SELECT COALESCE(sum(size), 0) FROM obj_objects WHERE account = $1 AND NOT deleted),"
	    " (SELECT meta::text FROM obj_accounts WHERE account = $1)"};
	PGresult *r = DBQS(db, err, sizeof(err), &st, account);
	enum store_err e = r ? STORE_OK : STORE_UNAVAILABLE;
	if (r) {
		out->container_count = (uint64_t)db_long(r, 0, 0, 0);
		out->object_count = (uint64_t)db_long(r, 0, 1, 0);
		out->bytes_used = (uint64_t)db_long(r, 0, 2, 0);
		kv_from_json(db_val(r, 0, 3), out->kv, &out->nkv);
	}
	PQclear(r);
	db_release(s->cfg.db, db);
	return e;
}

enum store_err store_account_post(struct store *s, const char *account, const struct store_kv *kv,
                                  int nkv)
{
	if (!store_account_name_ok(account) || !kv_ok(kv, nkv))
		return STORE_BAD_REQUEST;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	json_t *j = kv_json(kv, nkv);
	char *meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	char merge[256], sql[1024], err[256];
	snprintf(merge, sizeof(merge), merge_sql, "obj_accounts.meta", 2);
	snprintf(sql, sizeof(sql),
	         "INSERT INTO obj_accounts (account, meta) VALUES ($1,"
	         " (SELECT COALESCE(jsonb_object_agg(key, value), '{}')"
	         " FROM jsonb_each($2::jsonb) WHERE value <> '\"\"'))"
	         " ON CONFLICT (account) DO UPDATE SET meta = %s",
	         merge);
	int n = DBX(db, err, sizeof(err), sql, account, meta);
	free(meta);
	db_release(s->cfg.db, db);
	facts_forget(s);
	return n < 0 ? STORE_UNAVAILABLE : STORE_OK;
}

int store_quota_set(struct store *s, const char *account, const char *container, int account_too)
{
	if (!store_account_name_ok(account) || (container && !store_container_name_ok(container)))
		return 0;
	struct seen f;
	if (container_facts(s, account, container ? container : "", &f) < 0)
		return -EIO;
	return (container && f.cquota) || (account_too && f.aquota);
}

/* ------------------------------------------------------------------ listings */

int store_list_classify(const struct store_list_query *q, const char *name, char *subdir,
                        size_t subdir_len)
{
	int dir = q->reverse ? -1 : 1; /* the listing's direction */
	if (q->end_marker && *q->end_marker && dir * strcmp(name, q->end_marker) >= 0)
		return 3;
	size_t pl = q->prefix ? strlen(q->prefix) : 0;
	if (pl && strncmp(name, q->prefix, pl))
		return dir * strcmp(name, q->prefix) > 0 ? 3 : 0;
	if (q->marker && *q->marker && dir * strcmp(name, q->marker) <= 0)
		return 0;
	if (q->delimiter && *q->delimiter) {
		const char *d = strstr(name + pl, q->delimiter);
		if (d) {
			size_t n = (size_t)(d - name) + strlen(q->delimiter);
			if (n >= subdir_len)
				return 1;
			memcpy(subdir, name, n);
			subdir[n] = '\0';
			return 2;
		}
	}
	return 1;
}

static void list_push(struct store_list *l, const char *name, int subdir)
{
	l->e = xrealloc(l->e, (l->n + 1) * sizeof(*l->e));
	struct store_entry *e = &l->e[l->n++];
	memset(e, 0, sizeof(*e));
	e->name = xstrdup(name);
	e->subdir = subdir;
}

char *store_list_start(const struct store_list_query *q)
{
	char above[STORE_MAX_OBJECT_NAME + 8];
	if (q->reverse && q->prefix && *q->prefix &&
	    store_name_successor(q->prefix, above, sizeof(above)) == 0)
		/* downward from just above the prefix (review s6 4: not from the top) */
		return xstrdup(q->marker && *q->marker && strcmp(q->marker, above) < 0 ? q->marker
		                                                                       : above);
	if (q->reverse)
		return xstrdup(q->marker ? q->marker : "");
	return xstrdup(q->marker && strcmp(q->marker, q->prefix ? q->prefix : "") > 0
	                   ? q->marker
	                   : (q->prefix ? q->prefix : ""));
}

/* Runs the listing query in pages from a start name, rolling names up. sql[0] lists
 * upward, sql[1] downward (q->reverse); each takes $1 account, $2 container (or unused),
 * $3 start (upward: names >= it; downward: names < it, "" for no bound), $4 page size. */
static enum store_err list_run(struct store *s, const char *const sql[2], const char *a,
                               const char *c, const struct store_list_query *q, int objects,
                               struct store_list *out)
{
	memset(out, 0, sizeof(*out));
	unsigned limit = q->limit == 0 || q->limit > 10000 ? 10000 : q->limit;
	PGconn *db = store_db(s);
	if (!db)
		return STORE_UNAVAILABLE;
	char above[STORE_MAX_OBJECT_NAME + 8];
	char *start = store_list_start(q);
	char subdir[STORE_MAX_OBJECT_NAME + 8], err[256], page[16];
	enum store_err e = STORE_OK;
	int done = 0;
	while (!done) {
		unsigned want = limit - (unsigned)out->n + 1;
		snprintf(page, sizeof(page), "%u", want);
		PGresult *r =
		    DBQ(db, err, sizeof(err), sql[q->reverse != 0], a, c ? c : "", start, page);
		if (!r) {
			e = STORE_UNAVAILABLE;
			break;
		}
		int rows = PQntuples(r), requery = 0;
		for (int i = 0; i < rows && !done && !requery; i++) {
			const char *name = db_val(r, i, 0);
			int k = store_list_classify(q, name, subdir, sizeof(subdir));
			if (k == 0)
				continue;
			if (k == 3) {
				done = 1;
				break;
			}
			if (out->n == limit) {
				out->truncated = 1;
				done = 1;
				break;
			}
			if (k == 2) {
				list_push(out, subdir, 1);
				/* continue past every name under that subdir: upward from the
				 * subdir with its last byte raised (the delimiter is one ASCII
				 * character), downward from below the subdir itself */
				free(start);
				if (!q->reverse &&
				    store_name_successor(subdir, above, sizeof(above)) == 0)
					start = xstrdup(above);
				else {
					if (!q->reverse)
						subdir[strlen(subdir) - 1]++;
					start = xstrdup(subdir);
				}
				requery = 1;
				break;
			}
			list_push(out, name, 0);
			struct store_entry *en = &out->e[out->n - 1];
			en->bytes = (uint64_t)db_long(r, i, 1, 0);
			snprintf(en->timestamp, sizeof(en->timestamp), "%s", db_val(r, i, 2));
			if (objects) {
				snprintf(en->etag, sizeof(en->etag), "%s", db_val(r, i, 3));
				snprintf(en->content_type, sizeof(en->content_type), "%s",
				         db_val(r, i, 4));
			} else
				en->count = (uint64_t)db_long(r, i, 3, 0);
		}
		if (!done && !requery) {
			if (rows < (int)want)
				done = 1;
			else {
				/* the next page: names after the last one (below it downward) */
				char *next =
				    xasprintf(q->reverse ? "%s" : "%s\x01", db_val(r, rows - 1, 0));
				free(start);
				start = next;
			}
		}
		PQclear(r);
	}
	free(start);
	db_release(s->cfg.db, db);
	if (e != STORE_OK)
		store_list_release(out);
	return e;
}

enum store_err store_list_objects(struct store *s, const char *account, const char *container,
                                  const struct store_list_query *q, struct store_list *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_account_name_ok(account) || !store_container_name_ok(container))
		return STORE_BAD_REQUEST;
	int ex = container_lookup(s, account, container);
	if (ex <= 0)
		return ex < 0 ? STORE_UNAVAILABLE : STORE_NOT_FOUND;
	static const char *const sql[2] = {
	    "SELECT name, size, ts, etag, content_type FROM obj_objects"
	    " WHERE account = $1 AND container = $2 AND name >= $3 AND NOT deleted"
	    " ORDER BY name LIMIT $4::int",
	    "SELECT name, size, ts, etag, content_type FROM obj_objects"
	    " WHERE account = $1 AND container = $2 AND ($3 = '' OR name < $3) AND NOT deleted"
	    " ORDER BY name DESC LIMIT $4::int",
	};
	return list_run(s, sql, account, container, q, 1, out);
}

enum store_err store_list_containers(struct store *s, const char *account,
                                     const struct store_list_query *q, struct store_list *out)
{
	memset(out, 0, sizeof(*out));
	if (!store_account_name_ok(account))
		return STORE_BAD_REQUEST;
#define CONTAINERS_SQL(bound, order)                                                               \
	"SELECT c.name,"                                                                           \
	" (SELECT COALESCE(sum(size), 0) FROM obj_objects o WHERE"                                 \
	" o.account = c.account AND o.container = c.name AND NOT o.deleted),"                      \
	" c.created,"                                                                              \
	" (SELECT count(*) FROM obj_objects o WHERE o.account = c.account AND"                     \
	" o.container = c.name AND NOT o.deleted)"                                                 \
	" FROM obj_containers c WHERE c.account = $1 AND $2 = $2 AND " bound " ORDER BY c.name"    \
	" " order " LIMIT $4::int"
	static const char *const sql[2] = {
	    CONTAINERS_SQL("c.name >= $3", ""),
	    CONTAINERS_SQL("($3 = '' OR c.name < $3)", "DESC"),
	};
#undef CONTAINERS_SQL
	return list_run(s, sql, account, NULL, q, 0, out);
}

/* ------------------------------------------------------------------ open/close */

struct store *store_open(const struct store_config *cfg, char *err, size_t errlen)
{
	struct ring *r = ring_load(cfg->ring_file, err, errlen);
	if (!r)
		return NULL;
	struct store *s = xcalloc(1, sizeof(*s));
	s->cfg = *cfg;
	if (s->cfg.connect_timeout_ms <= 0)
		s->cfg.connect_timeout_ms = 2000;
	s->ring = r;
	struct stat st;
	if (stat(cfg->ring_file, &st) == 0)
		s->ring_mtime = st.st_mtime;
	pthread_rwlock_init(&s->lock, NULL);
	pthread_mutex_init(&s->spool_lock, NULL);
	pthread_mutex_init(&s->seen_lock, NULL);
	fs_mkdir_p(cfg->spool_dir, 0750);
	oc_pool_enable(); /* keep-alive to the object servers: no connect per exchange */
	pthread_create(&s->spooler, NULL, spooler_main, s);
	if (cfg->db)
		s->listing_q = batchq_start(listing_run, s, STORE_LISTING_BATCH);
	return s;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	batchq_stop(s->listing_q);
	s->stop = 1;
	pthread_join(s->spooler, NULL);
	oc_pool_flush();
	ring_free(s->ring);
	pthread_rwlock_destroy(&s->lock);
	pthread_mutex_destroy(&s->spool_lock);
	pthread_mutex_destroy(&s->seen_lock);
	free(s);
}

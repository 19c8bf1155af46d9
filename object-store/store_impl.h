/* What nubo-objproxy's main hands to the store (object-store/store.h): how to open one,
 * and the pure checks and listing roll-up the store and its tests share. */
#ifndef NUBO_OBJSTORE_STORE_IMPL_H
#define NUBO_OBJSTORE_STORE_IMPL_H
#include "store.h"

struct db_pool;

struct store_config {
	const char *ring_file;
	struct db_pool *db; /* borrowed */
	const char *spool_dir;
	int connect_timeout_ms;
};

/* Opens the store (loads the ring; NULL with err when it cannot) and starts the thread
 * that replays spooled listing updates. */
struct store *store_open(const struct store_config *cfg, char *err, size_t errlen);
void store_close(struct store *s);

/* What one object server's answer to a proxy's PUT counts as (store_put_finish). */
enum store_put_vote {
	STORE_VOTE_FAILED,     /* 5xx or no answer: the replica failed (down, full, I/O) */
	STORE_VOTE_STORED,     /* 201: written and synced */
	STORE_VOTE_SUPERSEDED, /* 409: it holds a newer version, which counts as written */
	STORE_VOTE_MISMATCH,   /* 422: the body's MD5 is not the Etag expected (client 422) */
	STORE_VOTE_REFUSED,    /* 400 that the client caused (client 400) */
	STORE_VOTE_FAULT,      /* any other 4xx: a proxy-to-object-server protocol fault,
	                        * the replica counts as failed (client 503) and it is logged */
};
/* Pure: the vote of an answer with status; client_fault: it carries
 * OBJFILE_CLIENT_FAULT_HEADER (objfile.h). */
enum store_put_vote store_put_vote(int status, int client_fault);

/* 1 when name is a valid container name (1..256 bytes of UTF-8, no '/', no NUL),
 * object name (1..1024 bytes of UTF-8), account ("AUTH_" + [A-Za-z0-9_-]). Pure. */
int store_container_name_ok(const char *name);
int store_object_name_ok(const char *name);
int store_account_name_ok(const char *name);

/* The least well-formed UTF-8 string above every string that starts with name (its last
 * character raised to the next code point, trailing U+10FFFF dropped first): an exclusive
 * upper bound for a prefix, or the name to go on from past a rolled-up subdir, in the
 * database's byte (C collation) order. 0 with out set (n bytes), or -1 when name is not
 * UTF-8, has no successor, or out is too small. Pure. */
int store_name_successor(const char *name, char *out, size_t n);

/* Where a listing's first query starts (owned): upward, names >= it (the marker or the
 * prefix, whichever is higher); downward (q->reverse), names < it ("": no bound): the
 * marker or the prefix's successor, whichever is lower. Pure. */
char *store_list_start(const struct store_list_query *q);

/* The listing roll-up: given the query, decides what name does. Returns 0: skip it
 * (before the marker), 1: list it as it is, 2: list subdir (its prefix through the
 * delimiter, written into subdir, subdir_len bytes), 3: stop (at or past end_marker).
 * With q->reverse the names come in descending order: before marker, after end_marker,
 * 3 once below the prefix or at or below end_marker. Pure. */
int store_list_classify(const struct store_list_query *q, const char *name, char *subdir,
                        size_t subdir_len);

#endif

/* The Network v2.0 API (Neutron's) at /network/v2.0: what its resource files share.
 * Every resource is a SQL view of (id, project_id, shared, external, created_at, body)
 * whose body is the Neutron JSON of a row (migration 0012), so list, show, filters,
 * fields, sorting and pagination are one engine (net_common.c) over a table of
 * resources; each resource file adds its create/update/delete handlers. */
#ifndef NUBO_NETWORK_H
#define NUBO_NETWORK_H
#include <jansson.h>
#include <libpq-fe.h>

#include "http.h"

/* One Network API resource. */
struct net_res {
	const char *type;     /* "Network": errors NetworkNotFound */
	const char *notfound; /* printf format of the 404 message, one %s (the id) */
	const char *singular; /* "network" */
	const char *plural;   /* "networks" */
	const char *view;     /* "net_networks_v" */
	int public_rows;      /* 1: shared/external rows are visible to every project */
	/* NULL-terminated: attributes usable as ?key=value filters and sort keys; those
	 * that are booleans; those only admins see */
	const char *const *filters;
	const char *const *bools;
	const char *const *admin_only;
};

extern const struct net_res net_res_network, net_res_subnet, net_res_port, net_res_router,
    net_res_floatingip, net_res_secgroup, net_res_sg_rule, net_res_subnetpool;

/* Caller facts. */
int net_is_admin(struct req *r);
const char *net_project(struct req *r);
/* The project a create is for: the body's project_id or tenant_id, else the caller's.
 * Only an admin may name another project (either attribute): otherwise answers 403
 * "(rule:<rule>) is disallowed by policy" and returns NULL. */
const char *net_create_project(struct req *r, struct resp *w, const char *project_id,
                               const char *tenant_id, const char *rule);

/* An error in Neutron's shape: {"NeutronError": {type, message, detail}}. */
void net_error(struct req *r, struct resp *w, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* 404 <Type>NotFound for id of res. */
void net_not_found(struct req *r, struct resp *w, const struct net_res *res, const char *id);
/* A failed statement: 503/500 (logged), or 409 for a unique or foreign-key violation
 * when conflict_type is not NULL (then the message is conflict_msg). */
void net_db_error(struct req *r, struct resp *w, const char *err, const char *sqlstate,
                  const char *conflict_type, const char *conflict_msg);

/* GET of the collection: filters, fields, sort_key/sort_dir, limit/marker. */
void net_list(struct req *r, struct resp *w, const struct net_res *res);
/* GET of one: 200 {singular: body} or 404. */
void net_show(struct req *r, struct resp *w, const struct net_res *res, const char *id);
/* Answers status with {singular: body} of id as the caller sees it now. */
void net_answer(struct req *r, struct resp *w, const struct net_res *res, const char *id,
                int status);
/* The body of id as the caller may see it (new reference), or NULL (not there or not
 * visible). */
json_t *net_fetch(struct req *r, const struct net_res *res, const char *id);

/* Floating IPs for Nova's proxy (compute/floating_ip_proxy.c), each inside net_tx:
 * create one of project on external network network_id (quota, address, hidden port);
 * associate id with port_id's fixed_ip (NULL: its first), or disassociate it when
 * port_id is NULL; delete id (with its port). 0; or answer w (the Network API's
 * statuses and messages) and return < 0. */
int net_floatingip_create_tx(struct req *r, struct resp *w, const char *project,
                             const char *network_id, char id[UUID_STR_LEN]);
int net_floatingip_associate_tx(struct req *r, struct resp *w, const char *id, const char *port_id,
                                const char *fixed_ip);
int net_floatingip_delete_tx(struct req *r, struct resp *w, void *id);

/* Whether the caller may change the row id of table (its project, or admin):
 * 0; else answers 404 (missing or invisible) or 403 and returns -ENOENT/-EACCES.
 * project_out (may be NULL) receives the row's project (UUID_STR_LEN + some). */
int net_owned(struct req *r, struct resp *w, const struct net_res *res, const char *table,
              const char *id, char *project_out, size_t n);

/* Inside a transaction: serialises the project's network writes and checks that one
 * more of resource fits its quota (count_sql counts the project's rows, $1 the
 * project). 0; or answers 409 OverQuota and returns -EDQUOT; -EIO answered. */
int net_quota_take(struct req *r, struct resp *w, PGconn *db, const char *project,
                   const char *resource, const char *count_sql);
/* The project's limit of resource (default when unset); -1 unlimited. */
long net_quota_limit(PGconn *db, const char *project, const char *resource);

/* Inside a transaction: the network layout changed; every host's desired state is
 * rebuilt and sent (scheduler/netstate.c) once this commits. 0 or -EIO with err. */
int net_touch(PGconn *db, const char *request_id, char *err, size_t errlen);

/* Runs fn inside a transaction on r's connection: fn returns 0 to commit, or < 0
 * after answering w (then it rolls back). Answers database failures itself. */
int net_tx(struct req *r, struct resp *w, int (*fn)(struct req *r, struct resp *w, void *arg),
           void *arg);

/* Bulk create: when r's body is {"<plural>": [...]}, creates every item through one (the
 * resource's single-item create handler, fed {"<singular>": item}) in one transaction,
 * answers 201 {"<plural>": [bodies]} or the first failing item's answer with nothing
 * created, and returns 1; returns 0 (nothing answered) for any other body. */
#define NET_BULK_MAX 100
int net_bulk(struct req *r, struct resp *w, const struct net_res *res, httpd_handler_fn one);
/* 1 while a bulk create runs its items (net_tx then joins the bulk's transaction). */
int net_in_bulk(void);

/* Creates the project's `default` security group when it has none (concurrent
 * callers create one). 0 or -EIO with err. Its id is written to id when not NULL. */
int net_default_sg(PGconn *db, const char *project, char id[UUID_STR_LEN], char *err,
                   size_t errlen);

/* The 409 message of a quota excess, and the resource names with their defaults. */
struct net_quota_def {
	const char *resource;
	long def;
};
extern const struct net_quota_def net_quota_defs[];
extern const size_t net_quota_ndefs;

/* Pure: 1 when s is an IPv4 CIDR in canonical form a.b.c.d/n (host bits may be set:
 * Neutron takes 10.0.0.1/24 as 10.0.0.0/24), with its network and prefix in out;
 * else 0. */
int net_cidr_parse(const char *s, unsigned *addr, int *prefix);
/* Pure: 1 when s is a dotted IPv4 address, with it in out; else 0. */
int net_ip_parse(const char *s, unsigned *out);
/* Pure: 1 when the two IPv4 networks overlap. */
int net_cidr_overlap(unsigned a, int alen, unsigned b, int blen);
/* Pure: dotted text of a into buf[16]. */
void net_ip_str(unsigned a, char buf[16]);

/* Ports: allocates a port (MAC, fixed IPs) inside the caller's transaction. fixed_ips
 * is the request's list (NULL: one address from the network's first subnet that has
 * a free one). 0; or answers w (400/404/409) and returns < 0. */
struct net_port_new {
	const char *project_id;
	const char *network_id;
	const char *name, *description;
	const char *device_id, *device_owner;
	const json_t *fixed_ips;       /* borrowed; [{subnet_id?, ip_address?}] or NULL */
	const json_t *security_groups; /* borrowed; list of ids, NULL: the default group */
	const json_t *pairs;           /* borrowed; allowed_address_pairs or NULL */
	int port_security;             /* -1: the network's */
	int admin_state_up;
	int skip_sgs;       /* router/DHCP/floating IP ports: no security groups */
	const char *mac;    /* NULL: generate */
	const char *host;   /* binding host, NULL: none */
	int no_ip_is_error; /* 1: a network without a free address is 409 */
};
int net_port_create_tx(struct req *r, struct resp *w, PGconn *db, const struct net_port_new *p,
                       char id[UUID_STR_LEN]);

/* Subnet pools. An IPv4 prefix: network address and length. */
struct net_prefix {
	unsigned addr;
	int len;
};
#define NET_POOL_MAX_PREFIXES 32
/* Pure: the first block of length want inside one of pool[0..np) (in their order) that
 * overlaps none of used[0..nu): 1 with its address in out, or 0 when none is free. */
int net_pool_pick(const struct net_prefix *pool, size_t np, const struct net_prefix *used,
                  size_t nu, int want, unsigned *out);
/* Subnet create from a pool (outside the transaction): checks the caller may use
 * pool_id and chooses the subnet's CIDR: cidr when given (it must lie inside the pool
 * with a length the pool allows), else a free block of prefixlen (< 0: the pool's
 * default). 0 with out (canonical a.b.c.d/n); or answers w and returns < 0. */
int net_subnetpool_choose(struct req *r, struct resp *w, PGconn *db, const char *pool_id,
                          const char *cidr, long prefixlen, char out[24]);
/* Takes (lock 1) or gives back (lock 0) the session's hold on pool_id that
 * serialises choosing and claiming its blocks across requests. In a bulk the hold is
 * the transaction's (given back when it ends; lock 0 does nothing). 0 or -EIO. */
int net_subnetpool_lock(PGconn *db, const char *pool_id, int lock);
/* In a bulk's open transaction, before its items: takes the hold on every pool the
 * items name (subnetpool_id), in one order (sorted ids), until the transaction ends, so
 * two bulks over the same pools never wait for each other crosswise. 0 or -EIO. */
int net_subnetpool_lock_bulk(PGconn *db, const json_t *items);
/* Inside the subnet's transaction: locks the pool, refuses (409) a CIDR another of the
 * pool's subnets now overlaps (a concurrent create took it) and records subnet_id as
 * allocated from it. 0; or answers w and returns < 0. */
int net_subnetpool_claim_tx(struct req *r, struct resp *w, PGconn *db, const char *pool_id,
                            const char *subnet_id, const char *cidr);

#endif

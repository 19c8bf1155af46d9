/* What the Keystone v3 handlers (identity.c, group.c, service.c, app_cred.c, auth.c)
 * share: row shapes, list and error answers in Keystone's words. */
#ifndef NUBO_KEYSTONE_H
#define NUBO_KEYSTONE_H
#include <jansson.h>
#include <libpq-fe.h>

#include "api.h"
#include "http.h"

#define KS_DEFAULT_DOMAIN "default"
#define KS_DESCRIPTION_MAX 4096

/* Columns ks_project_json and ks_domain_json read, in this order. */
#define KS_PROJECT_COLS                                                                            \
	"id, name, description, enabled, domain_id, extra::text, array_to_json(tags)::text,"       \
	" coalesce(parent_id, domain_id)"
#define KS_USER_COLS "id, name, enabled, default_project_id, email, domain_id, extra::text"
#define KS_DOMAIN_COLS "id, name, description, enabled, extra::text"

#define KS_ENDPOINT_COLS "id, service_id, region_id, interface, url, enabled, extra::text"

typedef json_t *(*ks_row_fn)(const struct req *r, const PGresult *res, int i);

json_t *ks_project_json(const struct req *r, const PGresult *res, int i);
json_t *ks_domain_json(const struct req *r, const PGresult *res, int i);
json_t *ks_user_json(const struct req *r, const PGresult *res, int i);     /* KS_USER_COLS */
json_t *ks_endpoint_json(const struct req *r, const PGresult *res, int i); /* KS_ENDPOINT_COLS */
/* {"self": "<public_url>/identity/v3/<coll>[/<id>]"} */
json_t *ks_self_link(const struct req *r, const char *coll, const char *id);
/* Answers {"<key>": items, "links": {...}}; steals items. */
void ks_resp_list(struct req *r, struct resp *w, const char *key, json_t *items);
/* Answers the rows of res as a list of fn(row), or 500 when res is NULL (err). Clears
 * res. */
void ks_list_answer(struct req *r, struct resp *w, PGresult *res, const char *err, const char *key,
                    ks_row_fn fn);
/* Answers 404 "Could not find <what>: <id>." */
void ks_not_found(struct req *r, struct resp *w, const char *what, const char *id);
/* Answers 403 in Keystone's words. */
void ks_forbidden(struct req *r, struct resp *w);
/* The one row a show works on, or NULL after answering 500/404 (see wire_one_row). */
PGresult *ks_row_found(struct req *r, struct resp *w, PGresult *res, const char *err,
                       const char *what, const char *id);
/* Answers a create or update RETURNING one row as {"<what>": fn(row)} with status; a
 * failed write as 409 (duplicate name), 400 (foreign key) or 500; 404 for an update of
 * nothing (r->params[0]). Clears res. */
void ks_write_answer(struct req *r, struct resp *w, PGresult *res, int status, const char *state,
                     const char *err, const char *what, const char *name, ks_row_fn fn);
/* A body's name: required when creating, printable, at most max bytes. 0, or answers
 * 400 and returns -EINVAL. */
int ks_name_check(struct req *r, struct resp *w, const char *name, int required, int max);
/* The members of obj (the body's inner object) not named in known (NULL-terminated):
 * Keystone keeps them as the resource's extra attributes. A JSON text to free. */
char *ks_extra(const json_t *obj, const char *const *known);
/* Adds the members of the JSON object text extra to o, never over o's own. */
void ks_extra_merge(json_t *o, const char *extra);
/* The inner object of r's body {"<key>": {...}}, borrowed, or NULL. */
json_t *ks_inner(const struct req *r, const char *key);

/* The body of a token (auth.c): {"token": {...}} with its catalog, or NULL when db
 * could not give the catalog. */
json_t *auth_token_body(struct api *api, PGconn *db, const struct auth *a);

#endif

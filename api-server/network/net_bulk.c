/* Bulk create (Neutron's "native bulk"): POST /v2.0/<plural> with {"<plural>": [...]}
 * creates every item or none. Each item goes through the resource's own create handler
 * (the same parse, checks and quota) inside one transaction that net_tx joins instead of
 * opening its own; the first item answered with anything but 201 rolls everything back
 * and its answer is the bulk's. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "network.h"

static __thread int bulk_depth;

int net_in_bulk(void)
{
	return bulk_depth > 0;
}

static void resp_release(struct resp *t)
{
	json_decref(t->json);
	free(t->text);
	for (int i = 0; i < t->nheaders; i++) {
		free(t->hname[i]);
		free(t->hval[i]);
	}
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

/* Moves t's answer into w. */
static void resp_take(struct resp *w, struct resp *t)
{
	resp_json(w, t->status, t->json);
	t->json = NULL;
	resp_release(t);
}

int net_bulk(struct req *r, struct resp *w, const struct net_res *res, httpd_handler_fn one)
{
	json_t *items = json_object_get(r->json, res->plural);
	if (!items || json_object_get(r->json, res->singular))
		return 0;
	if (!json_is_array(items) || json_array_size(items) == 0 ||
	    json_array_size(items) > NET_BULK_MAX || json_object_size(r->json) != 1) {
		net_error(r, w, 400, "HTTPBadRequest",
		          "Invalid input for %s. Reason: must be a list of 1 to %d objects.",
		          res->plural, NET_BULK_MAX);
		return 1;
	}
	PGconn *db = r->ctx->db;
	if (db_begin(db) < 0) {
		resp_db_error(r, w, "begin failed");
		return 1;
	}
	json_t *saved = r->json, *out = json_array();
	struct resp t = {.fd = -1};
	int failed = 0;
	size_t i;
	json_t *item;
	bulk_depth++;
	if (res == &net_res_subnet && net_subnetpool_lock_bulk(db, items) < 0) {
		resp_db_error(r, w, "subnet pool lock failed");
		failed = 1;
		items = NULL; /* no item runs */
	}
	json_array_foreach(items, i, item)
	{
		if (!json_is_object(item)) {
			net_error(r, w, 400, "HTTPBadRequest",
			          "Invalid input for %s. Reason: item %zu is not an object.",
			          res->plural, i);
			failed = 1;
			break;
		}
		json_t *wrapped = json_pack("{s:O}", res->singular, item);
		r->json = wrapped;
		one(r, &t);
		r->json = saved;
		json_decref(wrapped);
		json_t *body = json_object_get(t.json, res->singular);
		if (t.status != 201 || !body) {
			resp_take(w, &t);
			failed = 1;
			break;
		}
		json_array_append(out, body);
		resp_release(&t);
	}
	bulk_depth--;
	if (failed) {
		db_rollback(db);
		json_decref(out);
		return 1;
	}
	if (db_commit(db) < 0) {
		json_decref(out);
		resp_db_error(r, w, "commit failed");
		return 1;
	}
	resp_json(w, 201, json_pack("{s:o}", res->plural, out));
	return 1;
}

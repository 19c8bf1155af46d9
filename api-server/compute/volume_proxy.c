/* Nova's Block Storage proxy APIs of microversions below 2.36: os-volumes and
 * os-snapshots. As Nova forwards them to Cinder's API, each request here runs Block
 * Storage's own handler (volume/volume.c, volume/snapshot.c) as a sub-request of the
 * caller's, with Cinder's body made from Nova's, and translates the answer into
 * Nova's shape (camelCase keys, 200 on create, 202 on delete). Errors keep Nova's
 * shape: the sub-request answers through the compute table's hooks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "routes.h"
#include "volume_proxy.h"
#include "wire.h"
#include "xalloc.h"

#define PROXY_MAX_MINOR 35 /* 2.36 removed the proxies: 404 from there on */
#define URL_MAX 512

/* Runs the route of table t for method and url (a Block Storage path) with body
 * (borrowed, may be NULL) as a sub-request of r; the answer is left in sub (release
 * with sub_release). 0, or -ENOENT when no route matches (a bug: the paths are ours). */
static int cinder_call(struct req *r, const struct httpd_table *t, const char *method,
                       const char *url, json_t *body, struct resp *sub)
{
	memset(sub, 0, sizeof(*sub));
	sub->fd = -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct httpd_route *rt = &t->routes[i];
		if (strcmp(rt->method, method))
			continue;
		char scratch[URL_MAX];
		snprintf(scratch, sizeof(scratch), "%s", url);
		struct req q = *r;
		memset(q.params, 0, sizeof(q.params));
		if (!httpd_route_match(rt->pattern, scratch, q.params, &q.nparams))
			continue;
		q.url = url;
		q.json = body;
		q.body = NULL;
		q.body_len = 0;
		q.route = rt; /* q.table stays the compute one: Nova's error shape */
		rt->fn(&q, sub);
		return 0;
	}
	return -ENOENT;
}

static void sub_release(struct resp *sub)
{
	json_decref(sub->json);
	free(sub->text);
	if (sub->fd >= 0)
		close(sub->fd);
	for (int i = 0; i < sub->nheaders; i++) {
		free(sub->hname[i]);
		free(sub->hval[i]);
	}
	memset(sub, 0, sizeof(*sub));
	sub->fd = -1;
}

/* A key renamed from Cinder's view to Nova's. */
struct rename {
	const char *nova, *cinder;
};

static const struct rename volume_keys[] = {
    {"id", "id"},
    {"status", "status"},
    {"size", "size"},
    {"availabilityZone", "availability_zone"},
    {"createdAt", "created_at"},
    {"displayName", "name"},
    {"displayDescription", "description"},
    {"volumeType", "volume_type"},
    {"snapshotId", "snapshot_id"},
    {"metadata", "metadata"},
};

static const struct rename snapshot_keys[] = {
    {"id", "id"},
    {"volumeId", "volume_id"},
    {"status", "status"},
    {"size", "size"},
    {"createdAt", "created_at"},
    {"displayName", "name"},
    {"displayDescription", "description"},
};

static json_t *renamed(const json_t *c, const struct rename *keys, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *v = json_object_get(c, keys[i].cinder);
		json_object_set(o, keys[i].nova, v ? v : json_null());
	}
	return o;
}

/* Nova's volume view: Cinder's attachments as {id, volumeId, serverId, device}, and
 * "[{}]" for none (as Nova answers it). */
static json_t *volume_nova(const json_t *c)
{
	json_t *o = renamed(c, volume_keys, JCOUNT(volume_keys)), *list = json_array(), *a;
	size_t i;
	json_array_foreach(json_object_get(c, "attachments"), i, a)
	{
		const char *vid = json_string_value(json_object_get(a, "volume_id"));
		const char *sid = json_string_value(json_object_get(a, "server_id"));
		const char *dev = json_string_value(json_object_get(a, "device"));
		json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s}", "id", vid ? vid : "",
		                                      "volumeId", vid ? vid : "", "serverId",
		                                      sid ? sid : "", "device", dev ? dev : ""));
	}
	if (!json_array_size(list))
		json_array_append_new(list, json_object());
	json_object_set_new(o, "attachments", list);
	return o;
}

static json_t *snapshot_nova(const json_t *c)
{
	return renamed(c, snapshot_keys, JCOUNT(snapshot_keys));
}

/* What a proxy route forwards to: Block Storage's table, method and path under
 * /volume/v3/{project}, the wrappers of one item and of a list, and the view. */
struct proxy {
	const struct httpd_table *table;
	const char *method, *path; /* path: "%s" takes the id of the Nova path, if any */
	const char *one, *many;
	json_t *(*view)(const json_t *c);
	int ok_status; /* Nova's status on success */
};

/* Forwards r per p (body: Cinder's, borrowed, may be NULL) and answers in Nova's
 * shape. */
static void proxy_run(struct req *r, struct resp *w, const struct proxy *p, json_t *body)
{
	char path[256], url[URL_MAX];
	struct resp sub;
	if (r->ctx->mv_minor > PROXY_MAX_MINOR) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	snprintf(path, sizeof(path), p->path, r->nparams ? r->params[0] : "");
	snprintf(url, sizeof(url), "/volume/v3/%s%s", r->ctx->auth.project_id, path);
	if (cinder_call(r, p->table, p->method, url, body, &sub) < 0) {
		resp_error(r, w, 500, "internal error");
		return;
	}
	if (sub.status >= 300 || !p->one) {
		/* errors are in Nova's shape already; a delete has no body */
		if (sub.status >= 300) {
			w->status = sub.status;
			w->json = sub.json;
			sub.json = NULL;
		} else {
			resp_empty(w, p->ok_status);
		}
		sub_release(&sub);
		return;
	}
	json_t *out;
	if (p->many) {
		json_t *list = json_array(), *c;
		size_t i;
		json_array_foreach(json_object_get(sub.json, p->many), i, c)
		    json_array_append_new(list, p->view(c));
		out = json_pack("{s:o}", p->many, list);
	} else {
		out = json_pack("{s:o}", p->one, p->view(json_object_get(sub.json, p->one)));
	}
	sub_release(&sub);
	resp_json(w, p->ok_status, out);
}

/* ---- os-volumes ---- */

struct vol_req {
	long size;
	char *name, *description, *type, *az, *snapshot_id;
	struct jstrmap metadata;
};

static const struct jfield f_vol[] = {
    {"size", J_INT, JF(struct vol_req, size), 1, 1L << 20, 1, 0},
    {"display_name", J_STR, JF(struct vol_req, name), 0, 255, 0, 1},
    {"display_description", J_STR, JF(struct vol_req, description), 0, 255, 0, 1},
    {"volume_type", J_STR, JF(struct vol_req, type), 0, 255, 0, 1},
    {"availability_zone", J_STR, JF(struct vol_req, az), 0, 255, 0, 1},
    {"snapshot_id", J_STR, JF(struct vol_req, snapshot_id), 0, 36, 0, 1},
    {"metadata", J_STRMAP, JF(struct vol_req, metadata), 0, 0, 0, 1},
};

static const struct proxy vol_list = {&volume_routes, "GET", "/volumes/detail", "volume", "volumes",
                                      volume_nova,    200};
static const struct proxy vol_show = {&volume_routes, "GET", "/volumes/%s", "volume", NULL,
                                      volume_nova,    200};
static const struct proxy vol_delete = {&volume_routes, "DELETE", "/volumes/%s", NULL, NULL,
                                        NULL,           202};
static const struct proxy vol_create = {&volume_routes, "POST",      "/volumes", "volume",
                                        NULL,           volume_nova, 200};

static void volumes_list(struct req *r, struct resp *w)
{
	proxy_run(r, w, &vol_list, NULL);
}

static void volume_show(struct req *r, struct resp *w)
{
	proxy_run(r, w, &vol_show, NULL);
}

static void volume_delete(struct req *r, struct resp *w)
{
	proxy_run(r, w, &vol_delete, NULL);
}

/* Sets key of o to the string s when s is not NULL. */
static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void volume_create(struct req *r, struct resp *w)
{
	struct vol_req v = {0};
	if (r->ctx->mv_minor > PROXY_MAX_MINOR) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	if (wire_parse_closed(r, w, "volume", f_vol, JCOUNT(f_vol), NULL, &v) < 0)
		return;
	json_t *c = json_pack("{s:I}", "size", (json_int_t)v.size);
	set_str(c, "name", v.name);
	set_str(c, "description", v.description);
	set_str(c, "volume_type", v.type);
	set_str(c, "availability_zone", v.az);
	set_str(c, "snapshot_id", v.snapshot_id);
	json_t *meta = json_object_get(json_object_get(r->json, "volume"), "metadata");
	if (meta)
		json_object_set(c, "metadata", meta);
	json_t *body = json_pack("{s:o}", "volume", c);
	proxy_run(r, w, &vol_create, body);
	json_decref(body);
	jparse_release(f_vol, JCOUNT(f_vol), &v);
}

/* ---- os-snapshots ---- */

struct snap_req {
	char *volume_id, *name, *description;
	int force;
};

static const struct jfield f_snap[] = {
    {"volume_id", J_STR, JF(struct snap_req, volume_id), 0, 36, 1, 0},
    {"display_name", J_STR, JF(struct snap_req, name), 0, 255, 0, 1},
    {"display_description", J_STR, JF(struct snap_req, description), 0, 255, 0, 1},
    {"force", J_BOOL, JF(struct snap_req, force), 0, 1, 0, 1},
};

static const struct proxy snap_list = {
    &snapshot_routes, "GET", "/snapshots/detail", "snapshot", "snapshots", snapshot_nova, 200};
static const struct proxy snap_show = {&snapshot_routes, "GET", "/snapshots/%s", "snapshot", NULL,
                                       snapshot_nova,    200};
static const struct proxy snap_delete = {
    &snapshot_routes, "DELETE", "/snapshots/%s", NULL, NULL, NULL, 202};
static const struct proxy snap_create = {&snapshot_routes, "POST", "/snapshots", "snapshot", NULL,
                                         snapshot_nova,    200};

static void snapshots_list(struct req *r, struct resp *w)
{
	proxy_run(r, w, &snap_list, NULL);
}

static void snapshot_show(struct req *r, struct resp *w)
{
	proxy_run(r, w, &snap_show, NULL);
}

static void snapshot_delete(struct req *r, struct resp *w)
{
	proxy_run(r, w, &snap_delete, NULL);
}

int volume_proxy_call(struct req *r, const struct httpd_table *t, const char *method,
                      const char *url, json_t *body, struct resp *sub)
{
	return cinder_call(r, t, method, url, body, sub);
}

void volume_proxy_release(struct resp *sub)
{
	sub_release(sub);
}

static void snapshot_create(struct req *r, struct resp *w)
{
	struct snap_req s = {0};
	if (r->ctx->mv_minor > PROXY_MAX_MINOR) {
		resp_error(r, w, 404, "The resource could not be found.");
		return;
	}
	if (wire_parse_closed(r, w, "snapshot", f_snap, JCOUNT(f_snap), NULL, &s) < 0)
		return;
	json_t *c = json_pack("{s:s,s:b}", "volume_id", s.volume_id, "force", s.force);
	set_str(c, "name", s.name);
	set_str(c, "description", s.description);
	json_t *body = json_pack("{s:o}", "snapshot", c);
	proxy_run(r, w, &snap_create, body);
	json_decref(body);
	jparse_release(f_snap, JCOUNT(f_snap), &s);
}

#define C "/compute/v2.1"
static const struct httpd_route rows[] = {
    {"GET", C "/os-volumes", volumes_list, POL_COMPUTE_READ, 0},
    {"GET", C "/os-volumes/detail", volumes_list, POL_COMPUTE_READ, 0},
    {"POST", C "/os-volumes", volume_create, POL_COMPUTE_WRITE, 0},
    {"GET", C "/os-volumes/{}", volume_show, POL_COMPUTE_READ, 0},
    {"DELETE", C "/os-volumes/{}", volume_delete, POL_COMPUTE_WRITE, 0},
    {"GET", C "/os-snapshots", snapshots_list, POL_COMPUTE_READ, 0},
    {"GET", C "/os-snapshots/detail", snapshots_list, POL_COMPUTE_READ, 0},
    {"POST", C "/os-snapshots", snapshot_create, POL_COMPUTE_WRITE, 0},
    {"GET", C "/os-snapshots/{}", snapshot_show, POL_COMPUTE_READ, 0},
    {"DELETE", C "/os-snapshots/{}", snapshot_delete, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(volume_proxy_routes, rows, &compute_hooks);

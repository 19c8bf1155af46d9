/* The pure views of the server API: Nova's JSON of an instance row at each microversion, hostId and
 * console tails. No database, no request: golden-tested in tests/unit/test_server_view.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "compute/server_ports.h"
#include "jsonw.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

void server_host_id(const char *project_id, const char *host, char out[57])
{
	if (!host || !*host) {
		out[0] = '\0';
		return;
	}
	char hex[65];
	char *s = xasprintf("%s%s", project_id ? project_id : "", host);
	sha256_hex(s, strlen(s), hex);
	free(s);
	memcpy(out, hex, 56);
	out[56] = '\0';
}

/* ---- what a list writes again and again, prepared once per thread ---- */

/* hostId by (project, host): a list of one project names a few hosts many times, and
 * the digest is the dearest part of a row. Direct-mapped; a longer key is not kept. */
#define HOST_ID_SLOTS 32
#define HOST_ID_KEY_MAX 96
struct host_id_slot {
	char project[HOST_ID_KEY_MAX], host[HOST_ID_KEY_MAX];
	char id[57]; /* "" while empty */
};
static __thread struct host_id_slot host_ids[HOST_ID_SLOTS];

/* server_host_id() through the cache; returns the digest (56 hex) or "". */
static const char *host_id_cached(const char *project_id, const char *host, char tmp[57])
{
	if (!host || !*host)
		return "";
	const char *p = project_id ? project_id : "";
	unsigned h = 2166136261u; /* FNV-1a over project, a separator and host */
	size_t pn = 0, hn = 0;
	for (; p[pn]; pn++)
		h = (h ^ (unsigned char)p[pn]) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (; host[hn]; hn++)
		h = (h ^ (unsigned char)host[hn]) * 16777619u;
	if (pn >= HOST_ID_KEY_MAX || hn >= HOST_ID_KEY_MAX) {
		server_host_id(p, host, tmp);
		return tmp;
	}
	struct host_id_slot *s = &host_ids[h % HOST_ID_SLOTS];
	if (s->id[0] && !memcmp(s->project, p, pn + 1) && !memcmp(s->host, host, hn + 1))
		return s->id;
	memcpy(s->project, p, pn + 1);
	memcpy(s->host, host, hn + 1);
	server_host_id(p, host, s->id);
	return s->id;
}

/* The public URL as JSON string text (escaped, no quotes), made again only when the
 * URL changes. ok = 0: the URL is too long for the fast path or not UTF-8 (the hrefs
 * are then written the slow way, which gives "" for the latter, as jansson did). */
#define URL_MAX 512
struct url_text {
	const char *src;
	char copy[URL_MAX];
	char text[6 * URL_MAX + 3];
	size_t len;
	int ok;
};
static __thread struct url_text url_cache;

static const struct url_text *url_text_of(const char *url)
{
	struct url_text *u = &url_cache;
	if (u->src == url && url && !strcmp(u->copy, url))
		return u;
	u->src = url;
	u->ok = 0;
	u->copy[0] = '\0';
	size_t n = url ? strlen(url) : 0;
	if (!url || n >= URL_MAX || !jsonw_utf8_valid(url, n))
		return u;
	memcpy(u->copy, url, n + 1);
	struct jsonw w;
	jsonw_init(&w, 6 * n + 3);
	jsonw_strn(&w, url, n); /* "…": the text between the quotes is what we keep */
	memcpy(u->text, w.buf + 1, w.len - 2);
	u->len = w.len - 2;
	jsonw_release(&w);
	u->ok = 1;
	return u;
}

/* The hrefs of one resource the old way: formatted, then escaped and checked as a
 * whole (for an id that is not plain text, or a URL the cache does not hold). */
static void href_write_slow(struct jsonw *w, const char *public_url, const char *collection,
                            const char *id, int self)
{
	char href[1024];
	if (self)
		snprintf(href, sizeof(href), "%s/compute/v2.1/%s/%s", public_url, collection, id);
	else
		snprintf(href, sizeof(href), "%s/compute/%s/%s", public_url, collection, id);
	jsonw_str(w, href);
}

/* One href: the URL's cached text, the fixed middle, the collection and the plain id. */
static void href_write(struct jsonw *w, const struct url_text *u, const char *collection,
                       const char *id, size_t idn, int self)
{
	jsonw_plain_begin(w);
	jsonw_plain_add(w, u->text, u->len);
	if (self)
		JSONW_PLAIN_ADD(w, "/compute/v2.1/");
	else
		JSONW_PLAIN_ADD(w, "/compute/");
	jsonw_plain_add(w, collection, strlen(collection));
	JSONW_PLAIN_ADD(w, "/");
	jsonw_plain_add(w, id, idn);
	jsonw_plain_end(w);
}

/* A resource id as the views need it: its length and whether it is plain text (then
 * written as is, in "id" and in the hrefs; a NULL or odd id goes the slow way). */
struct ref_id {
	const char *id;
	size_t len;
	int plain;
};

static struct ref_id ref_id_of(const char *id)
{
	struct ref_id r = {id, id ? strlen(id) : 0, 0};
	r.plain = id && r.len < 256 && jsonw_is_plain(id, r.len);
	return r;
}

/* "id": the id, as jsonw_str() would write it. */
static void id_write(struct jsonw *w, const struct ref_id *id)
{
	JSONW_KEY(w, "id");
	if (id->plain)
		jsonw_plain(w, id->id, id->len);
	else
		jsonw_str(w, id->id);
}

/* [{"rel": "self", ...}, {"rel": "bookmark", ...}] of a compute resource. */
static void links_write(struct jsonw *w, const char *public_url, const char *collection,
                        const struct ref_id *id, int self)
{
	const struct url_text *u = url_text_of(public_url);
	int fast = u->ok && id->plain;
	jsonw_arr_begin(w);
	if (self) {
		jsonw_obj_begin(w);
		JSONW_KEY(w, "rel");
		JSONW_PLAIN(w, "self");
		JSONW_KEY(w, "href");
		if (fast)
			href_write(w, u, collection, id->id, id->len, 1);
		else
			href_write_slow(w, public_url, collection, id->id, 1);
		jsonw_obj_end(w);
	}
	jsonw_obj_begin(w);
	JSONW_KEY(w, "rel");
	JSONW_PLAIN(w, "bookmark");
	JSONW_KEY(w, "href");
	if (fast)
		href_write(w, u, collection, id->id, id->len, 0);
	else
		href_write_slow(w, public_url, collection, id->id, 0);
	jsonw_obj_end(w);
	jsonw_arr_end(w);
}

void server_view_links_write(struct jsonw *w, const char *public_url, const char *collection,
                             const char *id)
{
	struct ref_id rid = ref_id_of(id);
	links_write(w, public_url, collection, &rid, 1);
}

/* {"id", "links": [bookmark]} as Nova 2.1 shows a server's flavor and image. */
static void ref_write(struct jsonw *w, const char *public_url, const char *collection,
                      const char *id)
{
	struct ref_id rid = ref_id_of(id);
	jsonw_obj_begin(w);
	id_write(w, &rid);
	JSONW_KEY(w, "links");
	links_write(w, public_url, collection, &rid, 0);
	jsonw_obj_end(w);
}

/* A jsonb column's text (an object or array already): copied as is. Anything else
 * (never from the database) shows as empty (`empty`: "{}" or "[]"). */
static void jsonb_write(struct jsonw *w, const char *text, const char *empty)
{
	size_t n = text ? strlen(text) : 0;
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n'))
		n--;
	if (n >= 2 && text[0] == empty[0] && text[n - 1] == empty[1])
		jsonw_raw(w, text, n);
	else
		jsonw_raw(w, empty, 2);
}

static void metadata_write(struct jsonw *w, const char *text)
{
	jsonb_write(w, text, "{}");
}

/* Whether the request's microversion is at least 2.minor. */
static int at(const struct server_view_ctx *c, int minor)
{
	return c->mv_minor >= minor;
}

/* The server's flavor: a reference below 2.47, from 2.47 the flavor as it was when
 * the server was created (Nova's embedded flavor; extra_specs readable by all). */
static void flavor_write(struct jsonw *w, const struct server_row *s,
                         const struct server_view_ctx *c)
{
	if (!at(c, 47)) {
		ref_write(w, c->public_url, "flavors", s->flavor_id);
		return;
	}
	jsonw_obj_begin(w);
	jsonw_key(w, "vcpus");
	jsonw_int(w, s->vcpus);
	jsonw_key(w, "ram");
	jsonw_int(w, s->ram_mb);
	jsonw_key(w, "disk");
	jsonw_int(w, s->disk_gb);
	jsonw_key(w, "ephemeral");
	jsonw_int(w, s->ephemeral_gb);
	jsonw_key(w, "swap");
	jsonw_int(w, s->swap_mb);
	jsonw_key(w, "original_name");
	jsonw_str(w, s->flavor_name ? s->flavor_name : "");
	jsonw_key(w, "extra_specs");
	jsonb_write(w, s->flavor_extra_specs, "{}");
	jsonw_obj_end(w);
}

/* Nova's host_status (2.16): the state of the service on the server's host. */
static const char *host_status(const struct server_row *s)
{
	if (!s->host || !*s->host)
		return "";
	if (!s->host_state)
		return "UNKNOWN";
	return !strcmp(s->host_state, "up") ? "UP" : "DOWN";
}

/* Nova shows progress only while a server is (or may be) moving. */
static int shows_progress(const char *status)
{
	static const char *const statuses[] = {"ACTIVE", "BUILD",         "REBUILD",
	                                       "RESIZE", "VERIFY_RESIZE", "MIGRATING"};
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (!strcmp(status, statuses[i]))
			return 1;
	return 0;
}

/* A short value our own code wrote (status, vm_state, ...): as is when plain. */
static void word_write(struct jsonw *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (s && jsonw_is_plain(s, n))
		jsonw_plain(w, s, n);
	else
		jsonw_str(w, s);
}

/* A timestamp as SERVER_COLUMNS formats it (digits, '-', ':', 'T', '.', 'Z'), or null.
 * Plain by that contract: written without a scan. */
static void time_write(struct jsonw *w, const char *t)
{
	if (t)
		jsonw_plain(w, t, strlen(t));
	else
		jsonw_null(w);
}

void server_view_write_brief(struct jsonw *w, const struct server_row *s,
                             const struct server_view_ctx *c)
{
	struct ref_id id = ref_id_of(s->id);
	jsonw_obj_begin(w);
	id_write(w, &id);
	JSONW_KEY(w, "name");
	jsonw_str(w, s->name);
	JSONW_KEY(w, "links");
	links_write(w, c->public_url, "servers", &id, 1);
	jsonw_obj_end(w);
}

/* The admin's OS-EXT-SRV-ATTR:* (the 2.3 set from 2.3). */
static void extended_attrs_write(struct jsonw *w, const struct server_row *s,
                                 const struct server_view_ctx *c)
{
	char iname[32];
	snprintf(iname, sizeof(iname), "instance-%.8s", s->id);
	jsonw_key(w, "OS-EXT-SRV-ATTR:host");
	jsonw_str_or_null(w, s->host);
	jsonw_key(w, "OS-EXT-SRV-ATTR:instance_name");
	jsonw_str(w, iname);
	jsonw_key(w, "OS-EXT-SRV-ATTR:hypervisor_hostname");
	jsonw_str_or_null(w, s->host);
	if (!at(c, 3))
		return;
	jsonw_key(w, "OS-EXT-SRV-ATTR:hostname");
	jsonw_str_or_null(w, s->hostname);
	jsonw_key(w, "OS-EXT-SRV-ATTR:kernel_id");
	jsonw_str(w, "");
	jsonw_key(w, "OS-EXT-SRV-ATTR:ramdisk_id");
	jsonw_str(w, "");
	jsonw_key(w, "OS-EXT-SRV-ATTR:launch_index");
	jsonw_int(w, s->launch_index);
	jsonw_key(w, "OS-EXT-SRV-ATTR:reservation_id");
	jsonw_str(w, s->reservation_id ? s->reservation_id : "");
	jsonw_key(w, "OS-EXT-SRV-ATTR:root_device_name");
	jsonw_str(w, "/dev/vda");
	jsonw_key(w, "OS-EXT-SRV-ATTR:user_data");
	jsonw_str_or_null(w, s->user_data);
}

void server_view_write_full(struct jsonw *w, const struct server_row *s,
                            const struct server_view_ctx *c)
{
	char tmp[57];
	const char *host_id = host_id_cached(s->project_id, s->host, tmp);
	struct ref_id id = ref_id_of(s->id);
	/* PUT's answer leaves out what only show and detail carry, until 2.75 */
	int all = !c->update || at(c, 75);
	jsonw_obj_begin(w);
	id_write(w, &id);
	JSONW_KEY(w, "name");
	jsonw_str(w, s->name);
	JSONW_KEY(w, "status");
	word_write(w, server_status_shown(s->status, s->task_state));
	JSONW_KEY(w, "tenant_id");
	word_write(w, s->project_id);
	JSONW_KEY(w, "user_id");
	word_write(w, s->user_id);
	JSONW_KEY(w, "metadata");
	metadata_write(w, s->metadata);
	JSONW_KEY(w, "hostId");
	jsonw_plain(w, host_id, strlen(host_id));
	JSONW_KEY(w, "image");
	if (s->image_id && !*s->image_id) /* booted from a volume: Nova shows "" */
		jsonw_str(w, "");
	else
		ref_write(w, c->public_url, "images", s->image_id);
	JSONW_KEY(w, "flavor");
	flavor_write(w, s, c);
	JSONW_KEY(w, "created");
	time_write(w, s->created_at);
	JSONW_KEY(w, "updated");
	time_write(w, s->updated_at);
	JSONW_KEY(w, "addresses");
	char *basic = all ? NULL : server_ports_basic(s->addresses);
	const char *addresses = basic ? basic : s->addresses ? s->addresses : "{}";
	jsonw_raw(w, addresses, strlen(addresses));
	free(basic);
	JSONW_KEY(w, "accessIPv4");
	word_write(w, s->access_ipv4 ? s->access_ipv4 : "");
	JSONW_KEY(w, "accessIPv6");
	word_write(w, s->access_ipv6 ? s->access_ipv6 : "");
	JSONW_KEY(w, "links");
	links_write(w, c->public_url, "servers", &id, 1);
	JSONW_KEY(w, "OS-DCF:diskConfig");
	JSONW_PLAIN(w, "MANUAL");
	if (shows_progress(s->status)) {
		JSONW_KEY(w, "progress");
		jsonw_int(w, !strcmp(s->status, "ACTIVE") ? 100 : 0);
	}
	if (all) {
		JSONW_KEY(w, "OS-EXT-AZ:availability_zone");
		word_write(w, s->az);
		JSONW_KEY(w, "config_drive");
		if (s->config_drive)
			JSONW_PLAIN(w, "True");
		else
			JSONW_PLAIN(w, "");
		JSONW_KEY(w, "key_name");
		jsonw_str_or_null(w, s->key_name);
		JSONW_KEY(w, "OS-SRV-USG:launched_at");
		time_write(w, s->launched_at);
		JSONW_KEY(w, "OS-SRV-USG:terminated_at");
		time_write(w, s->terminated_at);
		JSONW_KEY(w, "OS-EXT-STS:task_state");
		if (s->task_state)
			word_write(w, s->task_state);
		else
			jsonw_null(w);
		JSONW_KEY(w, "OS-EXT-STS:vm_state");
		word_write(w, s->vm_state);
		JSONW_KEY(w, "OS-EXT-STS:power_state");
		jsonw_int(w, s->power_state);
		JSONW_KEY(w, "os-extended-volumes:volumes_attached");
		jsonb_write(w, s->volumes_attached, "[]");
		/* Nova leaves the key out when the server's ports have no group */
		if (!s->security_groups || strcmp(s->security_groups, "[]"))
			JSONW_KEY(w, "security_groups");
		static const char default_group[] = "[{\"name\":\"default\"}]";
		if (s->security_groups && strcmp(s->security_groups, "[]"))
			jsonw_raw(w, s->security_groups, strlen(s->security_groups));
		else if (!s->security_groups)
			jsonw_raw(w, default_group, sizeof(default_group) - 1);
	}
	/* Nova shows the fault of ERROR (and DELETED) servers only. */
	if (!strcmp(s->status, "ERROR") || (!strcmp(s->status, "DELETED") && s->fault_message)) {
		JSONW_KEY(w, "fault");
		jsonw_obj_begin(w);
		JSONW_KEY(w, "code");
		jsonw_int(w, s->fault_code ? s->fault_code : 500);
		JSONW_KEY(w, "message");
		jsonw_str(w, s->fault_message ? s->fault_message : "Unknown error");
		JSONW_KEY(w, "created");
		time_write(w, s->updated_at);
		jsonw_obj_end(w);
	}
	if (c->admin && all)
		extended_attrs_write(w, s, c);
	if (at(c, 9)) {
		JSONW_KEY(w, "locked");
		jsonw_bool(w, s->locked_by != NULL);
	}
	if (at(c, 16) && c->admin && all) {
		JSONW_KEY(w, "host_status");
		jsonw_str(w, host_status(s));
	}
	if (at(c, 19)) {
		JSONW_KEY(w, "description");
		jsonw_str_or_null(w, s->description);
	}
	if (at(c, 26)) {
		JSONW_KEY(w, "tags");
		jsonb_write(w, s->tags, "[]");
	}
	if (at(c, 63)) { /* Nubo takes no certificates (see server.c) */
		JSONW_KEY(w, "trusted_image_certificates");
		jsonw_null(w);
	}
	if (at(c, 71) && c->single) {
		JSONW_KEY(w, "server_groups");
		jsonb_write(w, s->server_groups, "[]");
	}
	if (at(c, 73)) {
		JSONW_KEY(w, "locked_reason");
		jsonw_str_or_null(w, s->lock_reason);
	}
	jsonw_obj_end(w);
}

/* The tree forms are the written text parsed back: one definition of each view. */
static json_t *parsed(struct jsonw *w)
{
	json_t *j = json_loadb(w->buf, w->len, 0, NULL);
	jsonw_release(w);
	return j ? j : json_object();
}

json_t *server_view_brief(const struct server_row *s, const struct server_view_ctx *c)
{
	struct jsonw w;
	jsonw_init(&w, 512);
	server_view_write_brief(&w, s, c);
	return parsed(&w);
}

json_t *server_view_full(const struct server_row *s, const struct server_view_ctx *c)
{
	struct jsonw w;
	jsonw_init(&w, 2048);
	server_view_write_full(&w, s, c);
	return parsed(&w);
}

const char *server_console_tail(const char *log, long lines)
{
	size_t n = strlen(log);
	if (lines < 0)
		return log;
	if (lines == 0)
		return log + n;
	/* Nova's _tail_log: the last `lines` pieces of the log split at '\n', so a final
	 * newline leaves an empty last piece (Tempest counts the lines that way) */
	size_t end = n;
	while (end > 0) {
		if (log[end - 1] == '\n' && --lines == 0)
			return log + end;
		end--;
	}
	return log;
}

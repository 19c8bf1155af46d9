/* The pure views of the server API: Nova's JSON of an instance row at each microversion, hostId and
 * console tails. No database, no request: golden-tested in tests/unit/test_server_view.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
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

/* [{"rel": "self", ...}, {"rel": "bookmark", ...}] of a compute resource. */
static void links_write(struct jsonw *w, const char *public_url, const char *collection,
                        const char *id, int self)
{
	char href[1024];
	jsonw_arr_begin(w);
	if (self) {
		jsonw_obj_begin(w);
		jsonw_key(w, "rel");
		jsonw_str(w, "self");
		jsonw_key(w, "href");
		snprintf(href, sizeof(href), "%s/compute/v2.1/%s/%s", public_url, collection, id);
		jsonw_str(w, href);
		jsonw_obj_end(w);
	}
	jsonw_obj_begin(w);
	jsonw_key(w, "rel");
	jsonw_str(w, "bookmark");
	jsonw_key(w, "href");
	snprintf(href, sizeof(href), "%s/compute/%s/%s", public_url, collection, id);
	jsonw_str(w, href);
	jsonw_obj_end(w);
	jsonw_arr_end(w);
}

/* {"id", "links": [bookmark]} as Nova 2.1 shows a server's flavor and image. */
static void ref_write(struct jsonw *w, const char *public_url, const char *collection,
                      const char *id)
{
	jsonw_obj_begin(w);
	jsonw_key(w, "id");
	jsonw_str(w, id);
	jsonw_key(w, "links");
	links_write(w, public_url, collection, id, 0);
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

void server_view_write_brief(struct jsonw *w, const struct server_row *s,
                             const struct server_view_ctx *c)
{
	jsonw_obj_begin(w);
	jsonw_key(w, "id");
	jsonw_str(w, s->id);
	jsonw_key(w, "name");
	jsonw_str(w, s->name);
	jsonw_key(w, "links");
	links_write(w, c->public_url, "servers", s->id, 1);
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
	char host_id[57];
	/* PUT's answer leaves out what only show and detail carry, until 2.75 */
	int all = !c->update || at(c, 75);
	server_host_id(s->project_id, s->host, host_id);
	jsonw_obj_begin(w);
	jsonw_key(w, "id");
	jsonw_str(w, s->id);
	jsonw_key(w, "name");
	jsonw_str(w, s->name);
	jsonw_key(w, "status");
	jsonw_str(w, s->status);
	jsonw_key(w, "tenant_id");
	jsonw_str(w, s->project_id);
	jsonw_key(w, "user_id");
	jsonw_str(w, s->user_id);
	jsonw_key(w, "metadata");
	metadata_write(w, s->metadata);
	jsonw_key(w, "hostId");
	jsonw_str(w, host_id);
	jsonw_key(w, "image");
	ref_write(w, c->public_url, "images", s->image_id);
	jsonw_key(w, "flavor");
	flavor_write(w, s, c);
	jsonw_key(w, "created");
	jsonw_str(w, s->created_at);
	jsonw_key(w, "updated");
	jsonw_str(w, s->updated_at);
	jsonw_key(w, "addresses");
	jsonw_raw(w, "{}", 2);
	jsonw_key(w, "accessIPv4");
	jsonw_str(w, s->access_ipv4 ? s->access_ipv4 : "");
	jsonw_key(w, "accessIPv6");
	jsonw_str(w, s->access_ipv6 ? s->access_ipv6 : "");
	jsonw_key(w, "links");
	links_write(w, c->public_url, "servers", s->id, 1);
	jsonw_key(w, "OS-DCF:diskConfig");
	jsonw_str(w, "MANUAL");
	if (shows_progress(s->status)) {
		jsonw_key(w, "progress");
		jsonw_int(w, !strcmp(s->status, "ACTIVE") ? 100 : 0);
	}
	if (all) {
		jsonw_key(w, "OS-EXT-AZ:availability_zone");
		jsonw_str(w, s->az);
		jsonw_key(w, "config_drive");
		jsonw_str(w, s->config_drive ? "True" : "");
		jsonw_key(w, "key_name");
		jsonw_str_or_null(w, s->key_name);
		jsonw_key(w, "OS-SRV-USG:launched_at");
		jsonw_str_or_null(w, s->launched_at);
		jsonw_key(w, "OS-SRV-USG:terminated_at");
		jsonw_str_or_null(w, s->terminated_at);
		jsonw_key(w, "OS-EXT-STS:task_state");
		jsonw_str_or_null(w, s->task_state);
		jsonw_key(w, "OS-EXT-STS:vm_state");
		jsonw_str(w, s->vm_state);
		jsonw_key(w, "OS-EXT-STS:power_state");
		jsonw_int(w, s->power_state);
		jsonw_key(w, "os-extended-volumes:volumes_attached");
		jsonw_raw(w, "[]", 2);
		jsonw_key(w, "security_groups");
		static const char default_group[] = "[{\"name\":\"default\"}]";
		jsonw_raw(w, default_group, sizeof(default_group) - 1);
	}
	/* Nova shows the fault of ERROR (and DELETED) servers only. */
	if (!strcmp(s->status, "ERROR") || (!strcmp(s->status, "DELETED") && s->fault_message)) {
		jsonw_key(w, "fault");
		jsonw_obj_begin(w);
		jsonw_key(w, "code");
		jsonw_int(w, s->fault_code ? s->fault_code : 500);
		jsonw_key(w, "message");
		jsonw_str(w, s->fault_message ? s->fault_message : "Unknown error");
		jsonw_key(w, "created");
		jsonw_str(w, s->updated_at);
		jsonw_obj_end(w);
	}
	if (c->admin && all)
		extended_attrs_write(w, s, c);
	if (at(c, 9)) {
		jsonw_key(w, "locked");
		jsonw_bool(w, s->locked_by != NULL);
	}
	if (at(c, 16) && c->admin && all) {
		jsonw_key(w, "host_status");
		jsonw_str(w, host_status(s));
	}
	if (at(c, 19)) {
		jsonw_key(w, "description");
		jsonw_str_or_null(w, s->description);
	}
	if (at(c, 26)) {
		jsonw_key(w, "tags");
		jsonb_write(w, s->tags, "[]");
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
	size_t end = n;
	if (end > 0 && log[end - 1] == '\n')
		end--; /* the final newline closes the last line; it does not open one */
	while (end > 0) {
		if (log[end - 1] == '\n' && --lines == 0)
			return log + end;
		end--;
	}
	return log;
}

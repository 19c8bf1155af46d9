/* The pure views of the server API: Nova 2.1 JSON of an instance row, hostId and
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

/* The metadata column is jsonb, so PostgreSQL's text of it is a JSON object already:
 * copied as is. Anything else (never from the database) shows as {}. */
static void metadata_write(struct jsonw *w, const char *text)
{
	size_t n = text ? strlen(text) : 0;
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\n'))
		n--;
	if (n >= 2 && text[0] == '{' && text[n - 1] == '}')
		jsonw_raw(w, text, n);
	else
		jsonw_raw(w, "{}", 2);
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

void server_view_write_full(struct jsonw *w, const struct server_row *s,
                            const struct server_view_ctx *c)
{
	char host_id[57];
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
	ref_write(w, c->public_url, "flavors", s->flavor_id);
	jsonw_key(w, "created");
	jsonw_str(w, s->created_at);
	jsonw_key(w, "updated");
	jsonw_str(w, s->updated_at);
	jsonw_key(w, "addresses");
	jsonw_raw(w, "{}", 2);
	jsonw_key(w, "accessIPv4");
	jsonw_str(w, s->access_ipv4);
	jsonw_key(w, "accessIPv6");
	jsonw_str(w, s->access_ipv6);
	jsonw_key(w, "links");
	links_write(w, c->public_url, "servers", s->id, 1);
	jsonw_key(w, "OS-DCF:diskConfig");
	jsonw_str(w, "MANUAL");
	jsonw_key(w, "progress");
	jsonw_int(w, !strcmp(s->status, "ACTIVE") ? 100 : 0);
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
	if (c->admin) {
		char iname[32];
		snprintf(iname, sizeof(iname), "instance-%.8s", s->id);
		jsonw_key(w, "OS-EXT-SRV-ATTR:host");
		jsonw_str_or_null(w, s->host);
		jsonw_key(w, "OS-EXT-SRV-ATTR:instance_name");
		jsonw_str(w, iname);
		jsonw_key(w, "OS-EXT-SRV-ATTR:hypervisor_hostname");
		jsonw_str_or_null(w, s->host);
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

/* The pure views of the server API: Nova 2.1 JSON of an instance row, hostId and
 * console tails. No database, no request: golden-tested in tests/unit/test_server_view.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compute/server.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* {"id", "links": [bookmark]} as Nova 2.1 shows a server's flavor and image. */
static json_t *ref_view(const char *public_url, const char *collection, const char *id)
{
	char *bookmark = xasprintf("%s/compute/%s/%s", public_url, collection, id);
	json_t *o = json_pack("{s:s,s:[{s:s,s:s}]}", "id", id, "links", "rel", "bookmark", "href",
	                      bookmark);
	free(bookmark);
	return o;
}

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

/* A JSON string, or "" when s is not valid UTF-8 (the database holds only what the
 * API validated, but a view must never fail). */
static json_t *str_safe(const char *s)
{
	json_t *j = json_string(s ? s : "");
	return j ? j : json_string("");
}

static json_t *metadata_view(const char *text)
{
	json_t *m = text ? json_loads(text, 0, NULL) : NULL;
	if (!json_is_object(m)) {
		json_decref(m);
		return json_object();
	}
	return m;
}

json_t *server_view_brief(const struct server_row *s, const struct server_view_ctx *c)
{
	return json_pack("{s:s,s:o,s:o}", "id", s->id, "name", str_safe(s->name), "links",
	                 wire_compute_links(c->public_url, "servers", s->id));
}

json_t *server_view_full(const struct server_row *s, const struct server_view_ctx *c)
{
	char host_id[57];
	server_host_id(s->project_id, s->host, host_id);
	/* Keys are literals, so the _nocheck setters skip re-validating them: this view is
	 * built once per server on every GET /servers/detail. */
	json_t *o = json_object();
	json_object_set_new_nocheck(o, "id", json_string(s->id));
	json_object_set_new_nocheck(o, "name", str_safe(s->name));
	json_object_set_new_nocheck(o, "status", json_string(s->status));
	json_object_set_new_nocheck(o, "tenant_id", json_string(s->project_id));
	json_object_set_new_nocheck(o, "user_id", json_string(s->user_id));
	json_object_set_new_nocheck(o, "metadata", metadata_view(s->metadata));
	json_object_set_new_nocheck(o, "hostId", json_string(host_id));
	json_object_set_new_nocheck(o, "image", ref_view(c->public_url, "images", s->image_id));
	json_object_set_new_nocheck(o, "flavor", ref_view(c->public_url, "flavors", s->flavor_id));
	json_object_set_new_nocheck(o, "created", json_string(s->created_at));
	json_object_set_new_nocheck(o, "updated", json_string(s->updated_at));
	json_object_set_new_nocheck(o, "addresses", json_object());
	json_object_set_new_nocheck(o, "accessIPv4", str_safe(s->access_ipv4));
	json_object_set_new_nocheck(o, "accessIPv6", str_safe(s->access_ipv6));
	json_object_set_new_nocheck(o, "links",
	                            wire_compute_links(c->public_url, "servers", s->id));
	json_object_set_new_nocheck(o, "OS-DCF:diskConfig", json_string("MANUAL"));
	json_object_set_new_nocheck(o, "progress",
	                            json_integer(!strcmp(s->status, "ACTIVE") ? 100 : 0));
	json_object_set_new_nocheck(o, "OS-EXT-AZ:availability_zone", str_safe(s->az));
	json_object_set_new_nocheck(o, "config_drive", json_string(s->config_drive ? "True" : ""));
	json_object_set_new_nocheck(o, "key_name",
	                            s->key_name ? str_safe(s->key_name) : json_null());
	json_object_set_new_nocheck(o, "OS-SRV-USG:launched_at",
	                            wire_string_or_null(s->launched_at));
	json_object_set_new_nocheck(o, "OS-SRV-USG:terminated_at",
	                            wire_string_or_null(s->terminated_at));
	json_object_set_new_nocheck(o, "OS-EXT-STS:task_state", wire_string_or_null(s->task_state));
	json_object_set_new_nocheck(o, "OS-EXT-STS:vm_state", json_string(s->vm_state));
	json_object_set_new_nocheck(o, "OS-EXT-STS:power_state", json_integer(s->power_state));
	json_object_set_new_nocheck(o, "os-extended-volumes:volumes_attached", json_array());
	json_object_set_new_nocheck(o, "security_groups", json_pack("[{s:s}]", "name", "default"));
	/* Nova shows the fault of ERROR (and DELETED) servers only. */
	if (!strcmp(s->status, "ERROR") || (!strcmp(s->status, "DELETED") && s->fault_message))
		json_object_set_new_nocheck(
		    o, "fault",
		    json_pack("{s:I,s:o,s:s}", "code",
		              (json_int_t)(s->fault_code ? s->fault_code : 500), "message",
		              str_safe(s->fault_message ? s->fault_message : "Unknown error"),
		              "created", s->updated_at));
	if (c->admin) {
		char iname[32];
		snprintf(iname, sizeof(iname), "instance-%.8s", s->id);
		json_object_set_new_nocheck(o, "OS-EXT-SRV-ATTR:host",
		                            wire_string_or_null(s->host));
		json_object_set_new_nocheck(o, "OS-EXT-SRV-ATTR:instance_name", json_string(iname));
		json_object_set_new_nocheck(o, "OS-EXT-SRV-ATTR:hypervisor_hostname",
		                            wire_string_or_null(s->host));
	}
	return o;
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

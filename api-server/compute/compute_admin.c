/* The smaller Compute admin and compatibility resources: os-migrations (Nubo moves no
 * instance between hosts, so the list is truthfully empty), os-instance_usage_audit_log
 * (Nubo runs no periodic usage audit: every host is "not run", as in a Nova whose
 * audit is off), servers/{id}/diagnostics (from what the database knows; what only
 * the running QEMU could tell is null), os-server-external-events (accepted for known
 * servers; Nubo's agents need none of them), /extensions (Nova's static 2.1 list)
 * and os-server-password (what the guest posted through the metadata service). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compute/compute_admin.h"
#include "compute/server.h"
#include "policy.h"
#include "routes.h"
#include "util.h"
#include "wire.h"
#include "xalloc.h"

/* ---- os-migrations ---- */

/* GET /os-migrations: Nubo has no resize, cold or live migration between hosts, so
 * there is never a migration record. The query is validated as Nova does (2.59's
 * paging: a marker names a migration, and none exists). */
static void migrations_list(struct req *r, struct resp *w)
{
	int mv = r->ctx->mv_minor;
	if (mv >= 59) {
		const char *marker = req_query(r, "marker");
		if (wire_nonneg(req_query(r, "limit")) == -EINVAL) {
			resp_error(r, w, 400, "Invalid input for query parameters limit.");
			return;
		}
		if (marker) {
			resp_error(r, w, 400, "Marker %s could not be found.", marker);
			return;
		}
	}
	/* a next link would come only after a full page */
	resp_json(w, 200, json_pack("{s:[]}", "migrations"));
}

/* ---- os-hypervisors/{id}/uptime's text ---- */

void hypervisor_uptime_text(time_t now, long up_s, char *out, size_t n)
{
	struct tm tm;
	char clock[16] = "00:00:00", days[32] = "", rest[32];
	if (gmtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (up_s < 0)
		up_s = 0;
	long d = up_s / 86400, h = up_s % 86400 / 3600, m = up_s % 3600 / 60;
	if (d)
		snprintf(days, sizeof(days), "%ld day%s, ", d, d == 1 ? "" : "s");
	if (h)
		snprintf(rest, sizeof(rest), "%2ld:%02ld", h, m);
	else
		snprintf(rest, sizeof(rest), "%ld min", m);
	snprintf(out, n, " %s up %s%s", clock, days, rest);
}

/* ---- os-instance_usage_audit_log ---- */

int audit_period(time_t before, struct tm *begin, struct tm *end)
{
	struct tm t;
	if (!gmtime_r(&before, &t))
		return -EINVAL;
	/* the last month completed by `before`: [first of last month, first of this) */
	*end = (struct tm){.tm_year = t.tm_year, .tm_mon = t.tm_mon, .tm_mday = 1};
	*begin = *end;
	if (--begin->tm_mon < 0) {
		begin->tm_mon = 11;
		begin->tm_year--;
	}
	return 0;
}

int audit_time_parse(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *end = s ? strptime(s, "%Y-%m-%d %H:%M:%S", &tm) : NULL;
	if (!end)
		return -EINVAL;
	if (*end == '.') { /* microseconds, as Python's %f: 1..6 digits */
		size_t n = strspn(end + 1, "0123456789");
		if (n < 1 || n > 6)
			return -EINVAL;
		end += 1 + n;
	}
	if (*end)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

/* The audit report of the period completed by before (Nova's shape; no audit runs, so
 * no host reported: they are all "not run"). NULL after answering 500. */
static json_t *audit_report(struct req *r, struct resp *w, time_t before)
{
	char err[256], b[24], e[24];
	struct tm begin, end;
	if (audit_period(before, &begin, &end) < 0) {
		resp_error(r, w, 400, "Invalid timestamp for date");
		return NULL;
	}
	strftime(b, sizeof(b), "%Y-%m-%d %H:%M:%S", &begin);
	strftime(e, sizeof(e), "%Y-%m-%d %H:%M:%S", &end);
	PGresult *res = DBQ(
	    r->ctx->db, err, sizeof err,
	    "SELECT host FROM agents WHERE kind = 'compute' AND $1::text = $1 ORDER BY host", b);
	if (!res) {
		resp_db_error(r, w, err);
		return NULL;
	}
	int n = PQntuples(res);
	json_t *hosts = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(hosts, json_string(db_val(res, i, 0)));
	PQclear(res);
	char *status = n ? xasprintf("0 of %d hosts done. 0 errors.", n)
	                 : xasprintf("ALL hosts done. 0 errors.");
	json_t *j =
	    json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:o,s:i,s:i,s:s,s:{}}", "period_beginning", b,
	              "period_ending", e, "num_hosts", n, "num_hosts_done", 0, "num_hosts_running",
	              0, "num_hosts_not_run", n, "hosts_not_run", hosts, "total_instances", 0,
	              "total_errors", 0, "overall_status", status, "log");
	free(status);
	return j;
}

static void audit_list(struct req *r, struct resp *w)
{
	json_t *j = audit_report(r, w, time(NULL));
	if (j)
		resp_json(w, 200, json_pack("{s:o}", "instance_usage_audit_logs", j));
}

static void audit_show(struct req *r, struct resp *w)
{
	time_t before;
	if (audit_time_parse(r->params[0], &before) < 0) {
		resp_error(r, w, 400, "Invalid timestamp for date %s", r->params[0]);
		return;
	}
	json_t *j = audit_report(r, w, before);
	if (j)
		resp_json(w, 200, json_pack("{s:o}", "instance_usage_audit_log", j));
}

/* ---- servers/{id}/diagnostics ---- */

/* Nova's diagnostics state of a server's power state (0 nostate, 1 running, 3 paused,
 * 4 shutdown, 6 crashed, 7 suspended). */
static const char *diag_state(long power_state)
{
	static const char *const names[] = {"pending",  "running", "pending", "paused",
	                                    "shutdown", "pending", "crashed", "suspended"};
	return power_state >= 0 && power_state < 8 ? names[power_state] : "pending";
}

/* GET /servers/{id}/diagnostics (admin). The 2.48 standard shape from what the
 * database knows: state, accelerator, uptime since launch, vCPUs, memory maximum,
 * one root disk (and the config drive), one NIC. Counters only the running QEMU
 * knows (CPU time, disk and NIC traffic, memory used) are null: nubo-api does not ask
 * the agent. Below 2.48 the driver-specific dict holds the memory size only. "driver"
 * is "libvirt", the nearest of Nova's fixed values: Nubo drives QEMU itself. */
static void diagnostics_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	struct server_row s;
	server_row_from(res, 0, &s);
	if (!s.host || !*s.host) {
		resp_error(r, w, 409,
		           "Cannot 'get_diagnostics' instance %s while it is in vm_state %s", s.id,
		           s.vm_state);
		goto out;
	}
	if (r->ctx->mv_minor < 48) {
		resp_json(w, 200, json_pack("{s:I}", "memory", (json_int_t)s.ram_mb * 1024));
		goto out;
	}
	PGresult *a = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT coalesce((SELECT accel FROM agents WHERE host = $1), ''),"
	                  " (SELECT extract(epoch FROM now() - launched_at)::bigint FROM instances"
	                  " WHERE id = $2)",
	                  s.host, s.id);
	if (!a) {
		resp_db_error(r, w, err);
		goto out;
	}
	const char *accel = db_val(a, 0, 0);
	json_t *uptime = db_val(a, 0, 1) ? json_integer(db_long(a, 0, 1, 0)) : json_null();
	json_t *cpus = json_array(), *disks = json_array();
	for (long i = 0; i < s.vcpus && i < 1024; i++)
		json_array_append_new(
		    cpus, json_pack("{s:I,s:n,s:n}", "id", (json_int_t)i, "time", "utilisation"));
	int ndisks = 1 + (s.config_drive ? 1 : 0);
	for (int i = 0; i < ndisks; i++)
		json_array_append_new(disks, json_pack("{s:n,s:n,s:n,s:n,s:n}", "read_bytes",
		                                       "read_requests", "write_bytes",
		                                       "write_requests", "errors_count"));
	json_t *nic = json_pack("{s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n}", "mac_address",
	                        "rx_octets", "rx_errors", "rx_drop", "rx_packets", "rx_rate",
	                        "tx_octets", "tx_errors", "tx_drop", "tx_packets", "tx_rate");
	json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:o,s:b,s:I,s:i,s:i,s:{s:I,s:n},s:o,s:o,s:[o]}",
	                      "state", diag_state(s.power_state), "driver", "libvirt", "hypervisor",
	                      !strcmp(accel, "kvm") ? "kvm" : "qemu", "hypervisor_os", "linux",
	                      "uptime", uptime, "config_drive", s.config_drive, "num_cpus",
	                      (json_int_t)s.vcpus, "num_nics", 1, "num_disks", ndisks,
	                      "memory_details", "maximum", (json_int_t)s.ram_mb, "used",
	                      "cpu_details", cpus, "disk_details", disks, "nic_details", nic);
	PQclear(a);
	resp_json(w, 200, d);
out:
	PQclear(res);
}

/* ---- os-server-external-events ---- */

/* The event names of Nova's schema at 2.<mv> (volume-extended from 2.51). */
static int event_name_ok(const char *name, int mv)
{
	static const struct {
		const char *name;
		int since;
	} names[] = {
	    {"network-changed", 1},     {"network-vif-plugged", 1}, {"network-vif-unplugged", 1},
	    {"network-vif-deleted", 1}, {"volume-extended", 51},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i].name))
			return mv >= names[i].since;
	return 0;
}

struct event_in {
	char *name, *server_uuid, *status, *tag;
};
static const struct jfield f_event[] = {
    {"name", J_STR, JF(struct event_in, name), 0, 64, 1, 0},
    {"server_uuid", J_STR, JF(struct event_in, server_uuid), 0, 64, 1, 0},
    {"status", J_STR, JF(struct event_in, status), 0, 16, 0, 0},
    {"tag", J_STR, JF(struct event_in, tag), 0, 255, 0, 0},
};

/* Parses and checks one event of the list. 0, or -EINVAL with nothing to release. */
static int event_parse(const json_t *v, int mv, struct event_in *e, char *err, size_t errlen)
{
	char cid[UUID_STR_LEN];
	if (!json_is_object(v) || jparse(v, f_event, JCOUNT(f_event), e, err, errlen) < 0)
		return -EINVAL;
	if (jparse_known(v, f_event, JCOUNT(f_event), NULL, err, errlen) < 0 ||
	    !event_name_ok(e->name, mv) || uuid_lower(e->server_uuid, cid) < 0 ||
	    (e->status && strcmp(e->status, "completed") && strcmp(e->status, "failed") &&
	     strcmp(e->status, "in-progress"))) {
		jparse_release(f_event, JCOUNT(f_event), e);
		return -EINVAL;
	}
	return 0;
}

/* POST /os-server-external-events (admin): each event is answered completed (200) for
 * a server placed on a host, failed with 422 for one not placed yet and 404 for an
 * unknown one; the answer is 207 when any failed (Nova since 2019: never a 404 for
 * the whole request). Nubo's agents wait for none of these events, so an accepted
 * event changes nothing. */
static void events_create(struct req *r, struct resp *w)
{
	char err[256];
	const char *const top[] = {"events", NULL};
	json_t *list = json_object_get(r->json, "events");
	if (!json_is_array(list) || json_array_size(list) < 1 ||
	    json_array_size(list) > EVENTS_MAX ||
	    jparse_known(r->json, NULL, 0, top, err, sizeof(err)) < 0) {
		resp_error(r, w, 400, "Invalid input for field/attribute events.");
		return;
	}
	size_t n = json_array_size(list);
	struct event_in *ev = xcalloc(n, sizeof(*ev));
	json_t *out = json_array();
	int status = 200;
	size_t parsed = 0;
	for (; parsed < n; parsed++)
		if (event_parse(json_array_get(list, parsed), r->ctx->mv_minor, &ev[parsed], err,
		                sizeof(err)) < 0) {
			resp_error(r, w, 400, "Invalid input for field/attribute events.");
			goto out;
		}
	for (size_t i = 0; i < n; i++) {
		char cid[UUID_STR_LEN];
		uuid_lower(ev[i].server_uuid, cid);
		PGresult *res = DBQ(r->ctx->db, err, sizeof err,
		                    "SELECT coalesce(host, '') FROM instances WHERE id = $1 AND NOT"
		                    " deleted",
		                    cid);
		if (!res) {
			resp_db_error(r, w, err);
			goto out;
		}
		int code = PQntuples(res) == 0 ? 404 : *db_val(res, 0, 0) ? 200 : 422;
		PQclear(res);
		json_t *e = json_pack("{s:s,s:s,s:s,s:i}", "name", ev[i].name, "server_uuid",
		                      ev[i].server_uuid, "status",
		                      code == 200 ? "completed" : "failed", "code", code);
		if (ev[i].tag)
			json_object_set_new(e, "tag", json_string(ev[i].tag));
		json_array_append_new(out, e);
		if (code != 200)
			status = 207;
	}
	resp_json(w, status, json_pack("{s:O}", "events", out));
out:
	json_decref(out);
	for (size_t i = 0; i < parsed; i++)
		jparse_release(f_event, JCOUNT(f_event), &ev[i]);
	free(ev);
}

/* ---- /extensions ---- */

/* Nova's static list at 2.1 (alias, name): Compute advertises features by microversion
 * now, and Nova answers this fixed list for old clients whatever it runs. */
static const struct {
	const char *alias, *name;
} extensions[] = {
    {"NMN", "Multinic"},
    {"OS-DCF", "DiskConfig"},
    {"OS-EXT-AZ", "ExtendedAvailabilityZone"},
    {"OS-EXT-IMG-SIZE", "ImageSize"},
    {"OS-EXT-IPS", "ExtendedIps"},
    {"OS-EXT-IPS-MAC", "ExtendedIpsMac"},
    {"OS-EXT-SRV-ATTR", "ExtendedServerAttributes"},
    {"OS-EXT-STS", "ExtendedStatus"},
    {"OS-FLV-DISABLED", "FlavorDisabled"},
    {"OS-FLV-EXT-DATA", "FlavorExtraData"},
    {"OS-SCH-HNT", "SchedulerHints"},
    {"OS-SRV-USG", "ServerUsage"},
    {"os-access-ips", "AccessIPs"},
    {"os-admin-actions", "AdminActions"},
    {"os-admin-password", "AdminPassword"},
    {"os-agents", "Agents"},
    {"os-aggregates", "Aggregates"},
    {"os-assisted-volume-snapshots", "AssistedVolumeSnapshots"},
    {"os-attach-interfaces", "AttachInterfaces"},
    {"os-availability-zone", "AvailabilityZone"},
    {"os-baremetal-ext-status", "BareMetalExtStatus"},
    {"os-baremetal-nodes", "BareMetalNodes"},
    {"os-block-device-mapping", "BlockDeviceMapping"},
    {"os-block-device-mapping-v2-boot", "BlockDeviceMappingV2Boot"},
    {"os-cell-capacities", "CellCapacities"},
    {"os-cells", "Cells"},
    {"os-certificates", "Certificates"},
    {"os-cloudpipe", "Cloudpipe"},
    {"os-cloudpipe-update", "CloudpipeUpdate"},
    {"os-config-drive", "ConfigDrive"},
    {"os-console-auth-tokens", "ConsoleAuthTokens"},
    {"os-console-output", "ConsoleOutput"},
    {"os-consoles", "Consoles"},
    {"os-create-backup", "CreateBackup"},
    {"os-create-server-ext", "Createserverext"},
    {"os-deferred-delete", "DeferredDelete"},
    {"os-evacuate", "Evacuate"},
    {"os-extended-evacuate-find-host", "ExtendedEvacuateFindHost"},
    {"os-extended-floating-ips", "ExtendedFloatingIps"},
    {"os-extended-hypervisors", "ExtendedHypervisors"},
    {"os-extended-networks", "ExtendedNetworks"},
    {"os-extended-quotas", "ExtendedQuotas"},
    {"os-extended-rescue-with-image", "ExtendedRescueWithImage"},
    {"os-extended-services", "ExtendedServices"},
    {"os-extended-services-delete", "ExtendedServicesDelete"},
    {"os-extended-status", "ExtendedStatus"},
    {"os-extended-volumes", "ExtendedVolumes"},
    {"os-fixed-ips", "FixedIPs"},
    {"os-flavor-access", "FlavorAccess"},
    {"os-flavor-extra-specs", "FlavorExtraSpecs"},
    {"os-flavor-manage", "FlavorManage"},
    {"os-flavor-rxtx", "FlavorRxtx"},
    {"os-flavor-swap", "FlavorSwap"},
    {"os-floating-ip-dns", "FloatingIpDns"},
    {"os-floating-ip-pools", "FloatingIpPools"},
    {"os-floating-ips", "FloatingIps"},
    {"os-floating-ips-bulk", "FloatingIpsBulk"},
    {"os-fping", "Fping"},
    {"os-hide-server-addresses", "HideServerAddresses"},
    {"os-hosts", "Hosts"},
    {"os-hypervisor-status", "HypervisorStatus"},
    {"os-hypervisors", "Hypervisors"},
    {"os-instance-actions", "InstanceActions"},
    {"os-instance_usage_audit_log", "OSInstanceUsageAuditLog"},
    {"os-keypairs", "Keypairs"},
    {"os-lock-server", "LockServer"},
    {"os-migrate-server", "MigrateServer"},
    {"os-migrations", "Migrations"},
    {"os-multiple-create", "MultipleCreate"},
    {"os-networks", "Networks"},
    {"os-networks-associate", "NetworkAssociationSupport"},
    {"os-pause-server", "PauseServer"},
    {"os-personality", "Personality"},
    {"os-preserve-ephemeral-rebuild", "PreserveEphemeralOnRebuild"},
    {"os-quota-class-sets", "QuotaClasses"},
    {"os-quota-sets", "Quotas"},
    {"os-rescue", "Rescue"},
    {"os-security-group-default-rules", "SecurityGroupDefaultRules"},
    {"os-security-groups", "SecurityGroups"},
    {"os-server-diagnostics", "ServerDiagnostics"},
    {"os-server-external-events", "ServerExternalEvents"},
    {"os-server-group-quotas", "ServerGroupQuotas"},
    {"os-server-groups", "ServerGroups"},
    {"os-server-list-multi-status", "ServerListMultiStatus"},
    {"os-server-password", "ServerPassword"},
    {"os-server-sort-keys", "ServerSortKeys"},
    {"os-server-start-stop", "ServerStartStop"},
    {"os-services", "Services"},
    {"os-shelve", "Shelve"},
    {"os-simple-tenant-usage", "SimpleTenantUsage"},
    {"os-suspend-server", "SuspendServer"},
    {"os-tenant-networks", "OSTenantNetworks"},
    {"os-used-limits", "UsedLimits"},
    {"os-used-limits-for-admin", "UsedLimitsForAdmin"},
    {"os-user-data", "UserData"},
    {"os-user-quotas", "UserQuotas"},
    {"os-virtual-interfaces", "VirtualInterfaces"},
    {"os-volume-attachment-update", "VolumeAttachmentUpdate"},
    {"os-volumes", "Volumes"},
};

static json_t *extension_json(size_t i)
{
	return json_pack(
	    "{s:s,s:s,s:s,s:s,s:s,s:[]}", "alias", extensions[i].alias, "name", extensions[i].name,
	    "description",
	    "Listed for compatibility: Compute v2.1 names its features by microversion.",
	    "namespace", "http://docs.openstack.org/compute/ext/fake_xml", "updated",
	    "2014-12-03T00:00:00Z", "links");
}

static void extensions_list(struct req *r, struct resp *w)
{
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		json_array_append_new(a, extension_json(i));
	resp_json(w, 200, json_pack("{s:o}", "extensions", a));
}

static void extensions_show(struct req *r, struct resp *w)
{
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++)
		if (!strcmp(extensions[i].alias, r->params[0])) {
			resp_json(w, 200, json_pack("{s:o}", "extension", extension_json(i)));
			return;
		}
	resp_error(r, w, 404, "The resource could not be found.");
}

/* ---- os-server-password ---- */

/* GET: the encrypted password the guest posted (empty until it does). */
static void password_show(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	PGresult *p = DBQ(r->ctx->db, err, sizeof err,
	                  "SELECT coalesce((SELECT password FROM instance_passwords WHERE"
	                  " instance_id = $1), '')",
	                  db_val(res, 0, 0));
	PQclear(res);
	if (!p) {
		resp_db_error(r, w, err);
		return;
	}
	resp_json(w, 200, json_pack("{s:s}", "password", db_val(p, 0, 0)));
	PQclear(p);
}

/* DELETE: forgets it (204 whether or not there was one, as Nova). */
static void password_clear(struct req *r, struct resp *w)
{
	char err[256];
	PGresult *res = server_find(r, w, r->params[0], 0);
	if (!res)
		return;
	int n = DBX(r->ctx->db, err, sizeof err,
	            "DELETE FROM instance_passwords WHERE instance_id = $1", db_val(res, 0, 0));
	PQclear(res);
	if (n < 0)
		resp_db_error(r, w, err);
	else
		resp_empty(w, 204);
}

#define C "/compute/v2.1"
static const struct httpd_route routes[] = {
    {"GET", C "/os-migrations", migrations_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-instance_usage_audit_log", audit_list, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/os-instance_usage_audit_log/{}", audit_show, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/servers/{}/diagnostics", diagnostics_show, POL_COMPUTE_ADMIN, 0},
    {"POST", C "/os-server-external-events", events_create, POL_COMPUTE_ADMIN, 0},
    {"GET", C "/extensions", extensions_list, POL_COMPUTE_READ, 0},
    {"GET", C "/extensions/{}", extensions_show, POL_COMPUTE_READ, 0},
    {"GET", C "/servers/{}/os-server-password", password_show, POL_COMPUTE_READ, 0},
    {"DELETE", C "/servers/{}/os-server-password", password_clear, POL_COMPUTE_WRITE, 0},
};
HTTPD_TABLE(compute_admin_routes, routes, &compute_hooks);

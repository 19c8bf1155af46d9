/* Config drive contents (pure JSON generators) and the ISO build. */
#include "configdrive.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "proc.h"
#include "util.h"
#include "xalloc.h"

#define ISO_TIMEOUT_MS 60000

void configdrive_hostname(const char *name, char *out, size_t outlen)
{
	size_t n = 0, max = outlen - 1 < 63 ? outlen - 1 : 63;
	for (const char *p = name ? name : ""; *p && n < max; p++) {
		unsigned char c = (unsigned char)tolower((unsigned char)*p);
		if (isalnum(c))
			out[n++] = (char)c;
		else if (n && out[n - 1] != '-')
			out[n++] = '-';
	}
	while (n && out[n - 1] == '-')
		n--;
	out[n] = '\0';
	if (!n)
		snprintf(out, outlen, "instance");
}

static char *json_text(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(v);
	size_t n = strlen(s);
	s = xrealloc(s, n + 2);
	s[n] = '\n';
	s[n + 1] = '\0';
	return s;
}

char *configdrive_meta_data(const struct configdrive_meta *m)
{
	const char *name = m->name && *m->name ? m->name : m->uuid;
	char host[64];
	if (m->hostname && *m->hostname)
		configdrive_hostname(m->hostname, host, sizeof(host));
	else
		configdrive_hostname(name, host, sizeof(host));

	json_t *keys = json_array();
	json_t *md = json_pack("{s:s,s:s,s:s,s:s,s:i,s:o,s:[],s:{}}", "uuid", m->uuid, "name", name,
	                       "hostname", host, "availability_zone", m->az ? m->az : "nova",
	                       "launch_index", 0, "keys", keys, "devices", "meta");
	if (m->key_name && m->public_key) {
		json_array_append_new(keys, json_pack("{s:s,s:s,s:s}", "name", m->key_name, "type",
		                                      "ssh", "data", m->public_key));
		json_object_set_new(md, "public_keys",
		                    json_pack("{s:s}", m->key_name, m->public_key));
	}
	return json_text(md);
}

/* The dotted netmask of a prefix length 0..32. */
static void netmask_text(int prefixlen, char out[16])
{
	uint32_t m = prefixlen <= 0 ? 0 : 0xffffffffu << (32 - prefixlen);
	snprintf(out, 16, "%u.%u.%u.%u", m >> 24, (m >> 16) & 255, (m >> 8) & 255, m & 255);
}

char *configdrive_network_data(const struct configdrive_meta *m)
{
	json_t *links = json_array(), *nets = json_array(), *svcs = json_array();
	for (int i = 0; i < m->n_nics; i++) {
		const struct msg_nic *n = &m->nics[i];
		json_array_append_new(links, json_pack("{s:s,s:s,s:s,s:i,s:s}", "id", n->tap,
		                                       "vif_id", n->port_id, "type", "tap", "mtu",
		                                       n->mtu, "ethernet_mac_address", n->mac));
		if (!n->ip[0])
			continue;
		char mask[16], id[24];
		netmask_text(n->prefixlen, mask);
		snprintf(id, sizeof(id), "network%zu", json_array_size(nets));
		json_t *routes = json_array();
		if (n->gateway[0])
			json_array_append_new(routes, json_pack("{s:s,s:s,s:s}", "network",
			                                        "0.0.0.0", "netmask", "0.0.0.0",
			                                        "gateway", n->gateway));
		json_array_append_new(nets, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "id", id,
		                                      "type", "ipv4", "link", n->tap, "ip_address",
		                                      n->ip, "netmask", mask, "network_id",
		                                      n->network_id, "routes", routes));
		for (int k = 0; k < n->n_dns; k++) {
			size_t j;
			for (j = 0; j < json_array_size(svcs); j++)
				if (!strcmp(json_string_value(json_object_get(
				                json_array_get(svcs, j), "address")),
				            n->dns[k]))
					break;
			if (j == json_array_size(svcs))
				json_array_append_new(svcs, json_pack("{s:s,s:s}", "type", "dns",
				                                      "address", n->dns[k]));
		}
	}
	return json_text(
	    json_pack("{s:o,s:o,s:o}", "links", links, "networks", nets, "services", svcs));
}

int configdrive_user_data(const char *b64, unsigned char **out, size_t *outlen, char *err,
                          size_t errlen)
{
	unsigned char *buf = NULL;
	size_t n = 0;
	/* whitespace anywhere; padded (what clients send) or unpadded */
	if (base64_decode(b64, " \t\r\n", 1, &buf, &n) < 0) {
		snprintf(err, errlen, "user_data is not valid base64");
		return -EINVAL;
	}
	if (n > CONFIGDRIVE_USER_DATA_MAX) {
		free(buf);
		snprintf(err, errlen, "user_data exceeds %d bytes once decoded",
		         CONFIGDRIVE_USER_DATA_MAX);
		return -E2BIG;
	}
	*out = buf;
	*outlen = n;
	return 0;
}

struct cd_file {
	const char *name;
	const char *data;
	size_t len;
};

/* Writes the files of one version directory. 0 or a negative errno. */
static int write_version(const char *root, const char *version, const struct cd_file *files,
                         size_t n)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/openstack/%s", root, version);
	int rc = fs_mkdir_p(path, 0755);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!files[i].data)
			continue;
		snprintf(path, sizeof(path), "%s/openstack/%s/%s", root, version, files[i].name);
		rc = fs_write_atomic(path, files[i].data, files[i].len, 0644);
	}
	return rc;
}

/* Image makers tried in order: genisoimage, then xorriso's mkisofs emulation. */
static int run_mkisofs(const char *iso, const char *dir, char *out, size_t outlen)
{
	const char *const genisoimage[] = {
	    "genisoimage", "-quiet",         "-o",    iso, "-V", "config-2", "-J",
	    "-R",          "-input-charset", "utf-8", dir, NULL};
	const char *const xorriso[] = {
	    "xorriso",  "-as", "mkisofs", "-quiet",         "-o",    iso, "-V",
	    "config-2", "-J",  "-R",      "-input-charset", "utf-8", dir, NULL};
	const char *const *const makers[] = {genisoimage, xorriso};
	int rc = -ENOENT;
	for (size_t i = 0; i < sizeof(makers) / sizeof(makers[0]); i++) {
		rc = proc_run(makers[i], ISO_TIMEOUT_MS, out, outlen);
		if (rc != 127) /* 127: the program is not installed */
			break;
	}
	return rc;
}

int configdrive_build(const struct configdrive_meta *m, const char *user_data_b64,
                      const char *iso_path, const char *tmp_dir, char *err, size_t errlen)
{
	unsigned char *ud = NULL;
	size_t udlen = 0;
	char *meta = NULL, *net = NULL, *dir = NULL, *tmp_iso = NULL;
	char out[1024];
	int rc = 0;

	if (user_data_b64 && *user_data_b64) {
		rc = configdrive_user_data(user_data_b64, &ud, &udlen, err, errlen);
		if (rc < 0)
			goto out;
	}
	meta = configdrive_meta_data(m);
	net = configdrive_network_data(m);
	const struct cd_file files[] = {
	    {"meta_data.json", meta, strlen(meta)},
	    {"network_data.json", net, strlen(net)},
	    {"vendor_data.json", "{}\n", 3},
	    {"user_data", (const char *)ud, udlen},
	};
	dir = xasprintf("%s/configdrive.XXXXXX", tmp_dir);
	if (!mkdtemp(dir)) {
		rc = -errno;
		snprintf(err, errlen, "config drive scratch dir: %s", strerror(errno));
		free(dir);
		dir = NULL;
		goto out;
	}
	/* 2012-08-10 is the oldest version cloud-init looks for; latest is what it reads */
	rc = write_version(dir, "latest", files, sizeof(files) / sizeof(files[0]));
	if (rc == 0)
		rc = write_version(dir, "2012-08-10", files, sizeof(files) / sizeof(files[0]));
	if (rc < 0) {
		snprintf(err, errlen, "config drive files: %s", strerror(-rc));
		goto out;
	}
	tmp_iso = xasprintf("%s.tmp", iso_path);
	int st = run_mkisofs(tmp_iso, dir, out, sizeof(out));
	if (st != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errlen, "config drive ISO: %s (%s)",
		         st == -ETIMEDOUT ? "timed out"
		         : st < 0         ? strerror(-st)
		                          : "mkisofs failed",
		         out);
		rc = st < 0 ? st : -EIO;
		goto out;
	}
	if (rename(tmp_iso, iso_path) < 0) {
		rc = -errno;
		snprintf(err, errlen, "config drive ISO: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (tmp_iso && rc < 0)
		unlink(tmp_iso);
	if (dir)
		fs_remove_tree(dir);
	free(tmp_iso);
	free(dir);
	free(meta);
	free(net);
	free(ud);
	return rc;
}

/* Interface hot-plug over QMP (see vm_iface.h). */
#include "vm_iface.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "vm_nics.h"
#include "vm_priv.h"
#include "vm_spec.h"
#include "xalloc.h"

#define CMD_TIMEOUT_MS 5000
#define UNPLUG_TIMEOUT_MS 60000 /* a TCG guest takes its time to answer the PCI eject */

void vm_iface_names(const char *port_id, char netdev[VM_IFACE_ID_LEN], char dev[VM_IFACE_ID_LEN],
                    char fdname[VM_IFACE_ID_LEN])
{
	char hex[30];
	size_t n = 0;
	for (const char *p = port_id; *p && n < sizeof(hex) - 1; p++)
		if (isxdigit((unsigned char)*p))
			hex[n++] = (char)tolower((unsigned char)*p);
	hex[n] = '\0';
	snprintf(netdev, VM_IFACE_ID_LEN, "hn%s", hex);
	snprintf(dev, VM_IFACE_ID_LEN, "hd%s", hex);
	snprintf(fdname, VM_IFACE_ID_LEN, "hf%s", hex);
}

int vm_iface_plug_cmds(const struct msg_nic *nic, struct vm_iface_cmd out[3])
{
	char netdev[VM_IFACE_ID_LEN], dev[VM_IFACE_ID_LEN], fdname[VM_IFACE_ID_LEN];
	vm_iface_names(nic->port_id, netdev, dev, fdname);
	out[0] = (struct vm_iface_cmd){"getfd", json_pack("{s:s}", "fdname", fdname), 1};
	out[1] = (struct vm_iface_cmd){
	    "netdev_add", json_pack("{s:s,s:s,s:s}", "type", "tap", "id", netdev, "fd", fdname), 0};
	/* romfile="": no iPXE option ROM, as at spawn (qemu_argv.c) */
	out[2] = (struct vm_iface_cmd){"device_add",
	                               json_pack("{s:s,s:s,s:s,s:s,s:s}", "driver",
	                                         "virtio-net-pci", "id", dev, "netdev", netdev,
	                                         "mac", nic->mac, "romfile", ""),
	                               0};
	return 3;
}

struct vm_iface_cmd vm_iface_device_del_cmd(const char *dev)
{
	return (struct vm_iface_cmd){"device_del", json_pack("{s:s}", "id", dev), 0};
}

struct vm_iface_cmd vm_iface_netdev_del_cmd(const char *netdev)
{
	return (struct vm_iface_cmd){"netdev_del", json_pack("{s:s}", "id", netdev), 0};
}

void vm_iface_cmd_free(struct vm_iface_cmd *c)
{
	json_decref(c->args);
	c->args = NULL;
}

void vm_iface_plan(const struct vm_iface_have *have, int n_have, const struct msg_nic *want,
                   int n_want, int *plug, int *n_plug, int *unplug, int *n_unplug)
{
	*n_plug = *n_unplug = 0;
	for (int w = 0; w < n_want; w++) {
		int found = 0;
		for (int h = 0; h < n_have && !found; h++)
			found = !strcasecmp(have[h].mac, want[w].mac);
		if (!found)
			plug[(*n_plug)++] = w;
	}
	for (int h = 0; h < n_have; h++) {
		int found = 0;
		for (int w = 0; w < n_want && !found; w++)
			found = !strcasecmp(have[h].mac, want[w].mac);
		if (!found)
			unplug[(*n_unplug)++] = h;
	}
}

/* ---- QEMU side --------------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int run_cmd(struct qmp *q, struct vm_iface_cmd *c, int fd, char *err, size_t errlen)
{
	char why[512];
	int rc = c->with_fd
	             ? qmp_exec_fd(q, c->name, c->args, fd, NULL, CMD_TIMEOUT_MS, why, sizeof(why))
	             : qmp_exec(q, c->name, c->args, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", c->name, why);
	vm_iface_cmd_free(c);
	return rc;
}

static const char *qom_string(struct qmp *q, const char *path, const char *prop, char *buf,
                              size_t len)
{
	json_t *args = json_pack("{s:s,s:s}", "path", path, "property", prop), *ret = NULL;
	char why[256];
	buf[0] = '\0';
	if (qmp_exec(q, "qom-get", args, &ret, CMD_TIMEOUT_MS, why, sizeof(why)) == 0 &&
	    json_is_string(ret))
		snprintf(buf, len, "%s", json_string_value(ret));
	json_decref(args);
	json_decref(ret);
	return buf;
}

/* The virtio-net devices under the QOM container dir, appended to have. */
static int have_list(struct qmp *q, const char *dir, struct vm_iface_have *have, int *n_have,
                     char *err, size_t errlen)
{
	json_t *args = json_pack("{s:s}", "path", dir), *ret = NULL, *child;
	char why[256];
	int rc = qmp_exec(q, "qom-list", args, &ret, CMD_TIMEOUT_MS, why, sizeof(why));
	json_decref(args);
	if (rc < 0) {
		snprintf(err, errlen, "qom-list %s: %s", dir, why);
		return rc;
	}
	size_t i;
	json_array_foreach(ret, i, child)
	{
		const char *name = json_string_value(json_object_get(child, "name"));
		const char *type = json_string_value(json_object_get(child, "type"));
		if (!name || !type || strcmp(type, "child<virtio-net-pci>") ||
		    *n_have >= VM_IFACE_MAX)
			continue;
		struct vm_iface_have *h = &have[(*n_have)++];
		snprintf(h->path, sizeof(h->path), "%s/%s", dir, name);
		qom_string(q, h->path, "mac", h->mac, sizeof(h->mac));
		qom_string(q, h->path, "netdev", h->netdev, sizeof(h->netdev));
	}
	json_decref(ret);
	return 0;
}

static int device_gone(struct qmp *q, const char *path)
{
	json_t *args = json_pack("{s:s}", "path", path);
	char why[256];
	int rc = qmp_exec(q, "qom-list", args, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
	json_decref(args);
	return rc == -EIO; /* DeviceNotFound */
}

static int plug(const struct vm_ctx *ctx, struct vm *vm, pid_t pid, struct qmp *q,
                const struct msg_nic *nic, char *err, size_t errlen)
{
	struct vm_priv_nic pn;
	snprintf(pn.tap, sizeof(pn.tap), "%s", nic->tap);
	snprintf(pn.mac, sizeof(pn.mac), "%s", nic->mac);
	int fd = vm_priv_tap_open(ctx->priv, vm->id, pid, &pn, err, errlen);
	if (fd < 0)
		return fd;
	struct vm_iface_cmd c[3];
	char netdev[VM_IFACE_ID_LEN], dev[VM_IFACE_ID_LEN], fdname[VM_IFACE_ID_LEN], why[256];
	/* a netdev of this port that a pending unplug left behind may linger: no device
	 * uses it (the plan found no NIC with this port's MAC), so it goes first */
	vm_iface_names(nic->port_id, netdev, dev, fdname);
	struct vm_iface_cmd stale = vm_iface_netdev_del_cmd(netdev);
	run_cmd(q, &stale, -1, why, sizeof(why)); /* none there: fine */
	vm_iface_plug_cmds(nic, c);
	int rc = 0, i;
	for (i = 0; i < 3 && rc == 0; i++)
		rc = run_cmd(q, &c[i], fd, err, errlen);
	for (; i < 3; i++)
		vm_iface_cmd_free(&c[i]);
	close(fd);
	if (rc < 0) { /* undo what got in: the netdev, the named fd */
		struct vm_iface_cmd u = vm_iface_netdev_del_cmd(netdev);
		run_cmd(q, &u, -1, why, sizeof(why));
		json_t *a = json_pack("{s:s}", "fdname", fdname);
		qmp_exec(q, "closefd", a, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
		json_decref(a);
	}
	return rc;
}

/* Deletes the netdev of h under its NIC (QEMU allows it: the NIC loses its backend and
 * the tap fd is closed). 0 once QEMU no longer knows the netdev (a second netdev_del
 * answers DeviceNotFound), else -ETIMEDOUT with err: the guest still holds the NIC. */
static int netdev_force_del(struct qmp *q, const struct vm_iface_have *h, int timeout_ms, char *err,
                            size_t errlen)
{
	char why[256] = "";
	if (h->netdev[0]) {
		struct vm_iface_cmd c = vm_iface_netdev_del_cmd(h->netdev);
		run_cmd(q, &c, -1, why, sizeof(why)); /* DeviceNotFound if gone already */
		c = vm_iface_netdev_del_cmd(h->netdev);
		int rc = qmp_exec(q, c.name, c.args, NULL, CMD_TIMEOUT_MS, why, sizeof(why));
		vm_iface_cmd_free(&c);
		if (rc == -EIO && !strncmp(why, "netdev_del: DeviceNotFound:", 27))
			return 0;
	}
	snprintf(err, errlen,
	         "device_del %s: the guest did not release the NIC within %d s and its netdev "
	         "'%s' could not be removed%s%s",
	         h->path, timeout_ms / 1000, h->netdev, why[0] ? ": " : "", why);
	return -ETIMEDOUT;
}

int vm_iface_unplug(struct qmp *q, const struct vm_iface_have *h, int paused, int timeout_ms,
                    char *err, size_t errlen)
{
	struct vm_iface_cmd c = vm_iface_device_del_cmd(h->path);
	int rc = run_cmd(q, &c, -1, err, errlen);
	if (rc < 0 || paused)
		return rc;
	long long deadline = now_ms() + timeout_ms;
	while (!device_gone(q, h->path)) {
		if (now_ms() > deadline)
			return netdev_force_del(q, h, timeout_ms, err, errlen);
		usleep(100000);
	}
	if (h->netdev[0]) {
		char why[256];
		c = vm_iface_netdev_del_cmd(h->netdev);
		run_cmd(q, &c, -1, why, sizeof(why)); /* gone with the device already: fine */
	}
	return 0;
}

/* spec.json's nics := the task's, so a start or a restarted agent makes them. */
static int spec_update(struct vm *vm, const struct msg_task *t, char *err, size_t errlen)
{
	char path[4096];
	struct msg spec;
	int rc = vm_spec_load(vm_path(vm, "spec.json", path, sizeof(path)), &spec, err, errlen);
	if (rc < 0) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "instance %s is not on this host", vm->id);
		return rc;
	}
	struct msg_spawn *s = &spec.u.task.p.spawn;
	free(s->nics);
	s->n_nics = t->p.spawn.n_nics;
	s->nics = s->n_nics ? xcalloc((size_t)s->n_nics, sizeof(*s->nics)) : NULL;
	if (s->n_nics)
		memcpy(s->nics, t->p.spawn.nics, sizeof(*s->nics) * (size_t)s->n_nics);
	rc = vm_spec_save(path, &spec.u.task);
	if (rc < 0)
		snprintf(err, errlen, "spec.json: %s", strerror(-rc));
	msg_release(&spec);
	return rc;
}

int vm_iface_act(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                 size_t errlen)
{
	char state[MSG_STATE_MAX], qpath[4096];
	const struct msg_spawn *want = &t->p.spawn;
	pid_t pid = vm_get(vm, state);
	int rc = 0;
	if (want->n_nics > VM_NICS_MAX) {
		snprintf(err, errlen, "more than %d NICs", VM_NICS_MAX);
		return -E2BIG;
	}
	if (pid && (!strcmp(state, VM_RUNNING) || !strcmp(state, VM_PAUSED))) {
		struct qmp *q = qmp_open(vm_path(vm, "qmp.sock", qpath, sizeof(qpath)),
		                         CMD_TIMEOUT_MS, err, errlen);
		if (!q)
			return -ECONNREFUSED;
		struct vm_iface_have have[VM_IFACE_MAX];
		int n_have = 0, plugs[VM_IFACE_MAX], n_plug, unplugs[VM_IFACE_MAX], n_unplug;
		rc = have_list(q, "/machine/peripheral", have, &n_have, err, errlen);
		if (rc == 0)
			rc = have_list(q, "/machine/peripheral-anon", have, &n_have, err, errlen);
		if (rc == 0) {
			vm_iface_plan(have, n_have, want->nics, want->n_nics, plugs, &n_plug,
			              unplugs, &n_unplug);
			for (int i = 0; i < n_unplug && rc == 0; i++)
				rc =
				    vm_iface_unplug(q, &have[unplugs[i]], !strcmp(state, VM_PAUSED),
				                    UNPLUG_TIMEOUT_MS, err, errlen);
			for (int i = 0; i < n_plug && rc == 0; i++)
				rc = plug(ctx, vm, pid, q, &want->nics[plugs[i]], err, errlen);
		}
		qmp_close(q);
	}
	if (rc == 0)
		rc = spec_update(vm, t, err, errlen);
	return rc;
}

/* Interface hot-plug on a running instance over QMP (Nova's os-interface attach and
 * detach). The task (TASK_NICS) carries every NIC the instance should have now; the
 * agent lists the virtio-net devices QEMU has (by MAC, spawn-time ones included),
 * plugs each missing NIC (the privileged helper opens its tap, getfd hands it to
 * QEMU, netdev_add tap + device_add virtio-net-pci), unplugs each NIC no longer
 * wanted (device_del, wait until the device left the QOM tree, netdev_del) and writes
 * the set into spec.json, so a later start or agent restart re-creates exactly the
 * current NICs. A shut-off instance only gets its spec.json updated. nubo-net plugs
 * the tap into its network's bridge on its next net.sync (the port is bound to the
 * host). The command builders and the plan are pure and exposed for tests. */
#ifndef NUBO_VM_IFACE_H
#define NUBO_VM_IFACE_H
#include <jansson.h>
#include <stddef.h>

#include "msg.h"
#include "vm.h"

#define VM_IFACE_ID_LEN 32

/* Pure: QEMU ids of a hot-plugged NIC of port_id: netdev "hn", device "hd" and getfd
 * name "hf", each + the first 29 hex digits of the id (under 32 bytes). */
void vm_iface_names(const char *port_id, char netdev[VM_IFACE_ID_LEN], char dev[VM_IFACE_ID_LEN],
                    char fdname[VM_IFACE_ID_LEN]);

/* One QMP command: name and owned arguments; with_fd: the tap goes along (getfd). */
struct vm_iface_cmd {
	const char *name;
	json_t *args;
	int with_fd;
};

/* Pure: the plug of nic, in order: getfd, netdev_add (tap on the passed fd),
 * device_add (virtio-net-pci with the port's MAC). Fills out[3]; returns 3. */
int vm_iface_plug_cmds(const struct msg_nic *nic, struct vm_iface_cmd out[3]);
/* Pure: the unplug of device dev (an id or a QOM path): device_del. Its netdev is
 * removed after the device has gone: vm_iface_netdev_del_cmd. */
struct vm_iface_cmd vm_iface_device_del_cmd(const char *dev);
struct vm_iface_cmd vm_iface_netdev_del_cmd(const char *netdev);
void vm_iface_cmd_free(struct vm_iface_cmd *c);

/* A virtio-net device QEMU has. */
#define VM_IFACE_MAX 16
struct vm_iface_have {
	char path[96]; /* QOM path: /machine/peripheral[-anon]/<id> */
	char mac[18];
	char netdev[64];
};

/* Pure: which wanted NICs to plug (indices into want, in *n_plug) and which devices
 * to unplug (indices into have, in *n_unplug), matched by MAC (case-insensitive). */
void vm_iface_plan(const struct vm_iface_have *have, int n_have, const struct msg_nic *want,
                   int n_want, int *plug, int *n_plug, int *unplug, int *n_unplug);

struct qmp;
/* Removes the device h over q: device_del, then, once the guest let go of the device
 * (it left the QOM tree), its netdev. A paused guest (no vCPU runs to answer the PCI
 * eject) keeps the unplug pending in QEMU: 0 all the same, so spec.json drops the NIC
 * (the next boot has no such NIC) and a later plug of that port first removes the
 * netdev left behind. A running guest that has not answered within timeout_ms (it
 * may ignore the ACPI eject) gets the netdev deleted under the NIC, which closes the
 * tap fd, so the port can be plugged elsewhere: 0 once QEMU no longer has the netdev,
 * else -ETIMEDOUT with err. Other errors: device_del's, as qmp_exec. */
int vm_iface_unplug(struct qmp *q, const struct vm_iface_have *h, int paused, int timeout_ms,
                    char *err, size_t errlen);

/* The TASK_NICS action (a vm_action_fn): converges vm's NICs to t->p.spawn.nics. */
int vm_iface_act(const struct vm_ctx *ctx, struct vm *vm, const struct msg_task *t, char *err,
                 size_t errlen);

#endif

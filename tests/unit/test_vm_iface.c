/* Interface hot-plug: the QMP commands one NIC's plug and unplug send (QEMU ids from
 * the port id, the tap on a passed fd, the port's MAC, no option ROM) and the plan
 * that matches the devices QEMU has to the NICs wanted by MAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "compute-agent/vm_iface.h"

static const struct msg_nic nic = {.port_id = "5a6b7c8d-9e0f-4111-8222-333344445555",
                                   .mac = "fa:16:3e:12:34:56",
                                   .tap = "tap5a6b7c8d-9e",
                                   .mtu = 1450};

static void assert_cmd(struct vm_iface_cmd *c, const char *name, const char *args, int with_fd)
{
	char *text = json_dumps(c->args, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(c->name, name);
	assert_string_equal(text, args);
	assert_int_equal(c->with_fd, with_fd);
	free(text);
	vm_iface_cmd_free(c);
}

static void names(void **state)
{
	char netdev[VM_IFACE_ID_LEN], dev[VM_IFACE_ID_LEN], fdname[VM_IFACE_ID_LEN];
	vm_iface_names(nic.port_id, netdev, dev, fdname);
	assert_string_equal(netdev, "hn5a6b7c8d9e0f41118222333344445");
	assert_string_equal(dev, "hd5a6b7c8d9e0f41118222333344445");
	assert_string_equal(fdname, "hf5a6b7c8d9e0f41118222333344445");
	assert_true(strlen(dev) < 32);
}

static void plug_cmds(void **state)
{
	struct vm_iface_cmd c[3];
	assert_int_equal(vm_iface_plug_cmds(&nic, c), 3);
	assert_cmd(&c[0], "getfd", "{\"fdname\":\"hf5a6b7c8d9e0f41118222333344445\"}", 1);
	assert_cmd(&c[1], "netdev_add",
	           "{\"fd\":\"hf5a6b7c8d9e0f41118222333344445\",\"id\":"
	           "\"hn5a6b7c8d9e0f41118222333344445\",\"type\":\"tap\"}",
	           0);
	assert_cmd(&c[2], "device_add",
	           "{\"driver\":\"virtio-net-pci\",\"id\":\"hd5a6b7c8d9e0f41118222333344445\","
	           "\"mac\":\"fa:16:3e:12:34:56\",\"netdev\":\"hn5a6b7c8d9e0f41118222333344445\","
	           "\"romfile\":\"\"}",
	           0);
	struct vm_iface_cmd d = vm_iface_device_del_cmd("/machine/peripheral-anon/device[2]");
	assert_cmd(&d, "device_del", "{\"id\":\"/machine/peripheral-anon/device[2]\"}", 0);
	d = vm_iface_netdev_del_cmd("net0");
	assert_cmd(&d, "netdev_del", "{\"id\":\"net0\"}", 0);
}

static void plan(void **state)
{
	/* QEMU has the spawn-time NIC (anonymous, net0) and a hot-plugged one */
	struct vm_iface_have have[2] = {
	    {"/machine/peripheral-anon/device[1]", "fa:16:3e:00:00:01", "net0"},
	    {"/machine/peripheral/hdaa", "FA:16:3E:00:00:02", "hnaa"},
	};
	struct msg_nic want[2] = {nic, nic};
	snprintf(want[0].mac, sizeof(want[0].mac), "fa:16:3e:00:00:02"); /* kept (case) */
	int plug[4], n_plug, unplug[4], n_unplug;
	vm_iface_plan(have, 2, want, 2, plug, &n_plug, unplug, &n_unplug);
	assert_int_equal(n_plug, 1);
	assert_int_equal(plug[0], 1); /* fa:16:3e:12:34:56 is new */
	assert_int_equal(n_unplug, 1);
	assert_int_equal(unplug[0], 0); /* the spawn-time NIC was detached */
	vm_iface_plan(have, 2, NULL, 0, plug, &n_plug, unplug, &n_unplug);
	assert_int_equal(n_plug, 0);
	assert_int_equal(n_unplug, 2);
	vm_iface_plan(
	    have, 2, (struct msg_nic[]){{.mac = "fa:16:3e:00:00:01"}, {.mac = "fa:16:3e:00:00:02"}},
	    2, plug, &n_plug, unplug, &n_unplug);
	assert_int_equal(n_plug + n_unplug, 0); /* converged: nothing to do */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names),
	    cmocka_unit_test(plug_cmds),
	    cmocka_unit_test(plan),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Interface hot-plug: the QMP commands one NIC's plug and unplug send (QEMU ids from
 * the port id, the tap on a passed fd, the port's MAC, no option ROM), the plan
 * that matches the devices QEMU has to the NICs wanted by MAC, and the unplug's
 * command sequence against a scripted fake monitor (a guest that answers the eject,
 * a paused one, one that ignores it: its netdev is deleted under the NIC). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "qmp.h"
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

/* A fake QMP monitor: answers each command by the guest it plays and logs the command
 * names (a run of the same name logged once). */
enum guest { G_ANSWERS, G_IGNORES, G_IGNORES_NETDEV_STAYS };

struct fake {
	char path[108], log[512];
	int lfd, netdevs; /* netdevs: 1 while QEMU has the netdev */
	enum guest guest;
	pthread_t th;
};

static void say(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	char line[1024], name[64], id[64], buf[512], last[64] = "";
	int fd = accept(f->lfd, NULL, NULL), qom_lists = 0;
	if (fd < 0)
		return NULL;
	say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\r\n");
	for (;;) {
		size_t n = 0;
		while (n < sizeof(line) - 1 && read(fd, line + n, 1) == 1 && line[n] != '\n')
			n++;
		if (n == 0)
			break;
		line[n] = '\0';
		const char *e = strstr(line, "\"execute\":\""), *i = strstr(line, "\"id\":\"");
		name[0] = id[0] = '\0';
		if (e)
			sscanf(e + 11, "%63[^\"]", name);
		if (i)
			sscanf(i + 6, "%63[^\"]", id);
		if (strcmp(name, last) && strcmp(name, "qmp_capabilities")) {
			snprintf(last, sizeof(last), "%s", name);
			strncat(f->log, name, sizeof(f->log) - strlen(f->log) - 2);
			strcat(f->log, " ");
		}
		const char *ret = "{}";
		if (!strcmp(name, "qom-list") && (f->guest != G_ANSWERS || qom_lists++ < 2))
			ret = "[]"; /* the device is still there */
		else if (!strcmp(name, "qom-list") || (!strcmp(name, "netdev_del") && !f->netdevs))
			ret = NULL;
		else if (!strcmp(name, "netdev_del") && f->guest != G_IGNORES_NETDEV_STAYS)
			f->netdevs = 0;
		if (ret)
			snprintf(buf, sizeof(buf), "{\"return\": %s, \"id\": \"%s\"}\r\n", ret, id);
		else
			snprintf(buf, sizeof(buf),
			         "{\"error\": {\"class\": \"DeviceNotFound\", \"desc\": \"Device "
			         "not found\"}, \"id\": \"%s\"}\r\n",
			         id);
		say(fd, buf);
	}
	close(fd);
	return NULL;
}

/* Runs vm_iface_unplug of a hot-plugged NIC against a fake monitor playing guest;
 * returns its result, the command log in log. */
static int unplug_with(enum guest guest, int paused, char *log, size_t loglen, char *err,
                       size_t errlen)
{
	struct fake f = {.guest = guest, .netdevs = 1};
	snprintf(f.path, sizeof(f.path), "/tmp/nubo-test-vm-iface.%d.sock", (int)getpid());
	unlink(f.path);
	f.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f.path);
	assert_int_equal(bind(f.lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f.lfd, 1), 0);
	assert_int_equal(pthread_create(&f.th, NULL, fake_main, &f), 0);
	struct qmp *q = qmp_open(f.path, 2000, err, errlen);
	assert_non_null(q);
	const struct vm_iface_have h = {"/machine/peripheral/hdaa", "fa:16:3e:00:00:02", "hnaa"};
	err[0] = '\0';
	int rc = vm_iface_unplug(q, &h, paused, 300, err, errlen);
	qmp_close(q);
	pthread_join(f.th, NULL);
	close(f.lfd);
	unlink(f.path);
	snprintf(log, loglen, "%s", f.log);
	return rc;
}

static void unplug_sequence(void **state)
{
	char log[512], err[512];
	/* the guest answers the eject: the device leaves, then its netdev goes */
	assert_int_equal(unplug_with(G_ANSWERS, 0, log, sizeof(log), err, sizeof(err)), 0);
	assert_string_equal(log, "device_del qom-list netdev_del ");
	/* paused: no vCPU answers; the unplug stays pending in QEMU (documented) */
	assert_int_equal(unplug_with(G_IGNORES, 1, log, sizeof(log), err, sizeof(err)), 0);
	assert_string_equal(log, "device_del ");
	/* a running guest that ignores the eject: past the deadline its netdev is deleted
	 * under the NIC (the tap fd is released) and checked gone */
	assert_int_equal(unplug_with(G_IGNORES, 0, log, sizeof(log), err, sizeof(err)), 0);
	assert_string_equal(log, "device_del qom-list netdev_del ");
	/* ... and when QEMU keeps the netdev, the detach fails as it is */
	assert_int_equal(unplug_with(G_IGNORES_NETDEV_STAYS, 0, log, sizeof(log), err, sizeof(err)),
	                 -ETIMEDOUT);
	assert_string_equal(log, "device_del qom-list netdev_del ");
	assert_non_null(strstr(err, "did not release the NIC"));
	assert_non_null(strstr(err, "'hnaa'"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(names),
	    cmocka_unit_test(plug_cmds),
	    cmocka_unit_test(plan),
	    cmocka_unit_test(unplug_sequence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

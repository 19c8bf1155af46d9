/* The spawn task's nics as the compute agent hands them to its privileged helper:
 * copied from the bus payload, and checked again in the helper (tap names nubo-net
 * and the Network API agree on, unicast MACs, bounds). */
#include <setjmp.h>
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "compute-agent/vm_nics.h"

static void from_spawn_and_check(void **state)
{
	struct msg_nic nics[2] = {
	    {.port_id = "5a6b7c8d-9e0f-4111-8222-333344445555",
	     .mac = "fa:16:3e:12:34:56",
	     .tap = "tap5a6b7c8d-9e",
	     .mtu = 1450},
	    {.port_id = "6a6b7c8d-9e0f-4111-8222-333344445555",
	     .mac = "fa:16:3e:12:34:57",
	     .tap = "tap6a6b7c8d-9e",
	     .mtu = 1450},
	};
	struct msg_spawn s = {.n_nics = 2, .nics = nics};
	struct vm_priv_nics n;
	char err[128];
	assert_int_equal(vm_nics_from_spawn(&s, &n), 0);
	assert_int_equal(n.n, 2);
	assert_string_equal(n.nic[1].tap, "tap6a6b7c8d-9e");
	assert_int_equal(vm_nics_check(&n, err, sizeof(err)), 0);
	s.n_nics = 0;
	assert_int_equal(vm_nics_from_spawn(&s, &n), 0);
	assert_int_equal(n.n, 0); /* the user-mode NIC */
	s.n_nics = VM_NICS_MAX + 1;
	assert_int_equal(vm_nics_from_spawn(&s, &n), -E2BIG);
}

static void refuses(void **state)
{
	const struct vm_priv_nic bad[] = {
	    {"eth0", "fa:16:3e:12:34:56"},           /* not a tap */
	    {"tap", "fa:16:3e:12:34:56"},            /* nothing after tap */
	    {"tap../x", "fa:16:3e:12:34:56"},        /* not a port id */
	    {"tap5a6b7c8d-9e", "01:00:5e:00:00:01"}, /* multicast */
	    {"tap5a6b7c8d-9e", "fa:16:3e:12:34"},
	};
	char err[128];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vm_priv_nics n = {.n = 1};
		n.nic[0] = bad[i];
		assert_int_equal(vm_nics_check(&n, err, sizeof(err)), -EINVAL);
	}
	struct vm_priv_nics twice = {.n = 2};
	twice.nic[0] = (struct vm_priv_nic){"tap5a6b7c8d-9e", "fa:16:3e:12:34:56"};
	twice.nic[1] = twice.nic[0];
	assert_int_equal(vm_nics_check(&twice, err, sizeof(err)), -EINVAL);
	struct vm_priv_nics count = {.n = VM_NICS_MAX + 1};
	assert_int_equal(vm_nics_check(&count, err, sizeof(err)), -EINVAL);
	struct vm_priv_nics unterminated = {.n = 1};
	memset(unterminated.nic[0].tap, 'a', sizeof(unterminated.nic[0].tap));
	assert_int_equal(vm_nics_check(&unterminated, err, sizeof(err)), -EINVAL);
}

/* The other side of the tap race: nubo-net's `ip tuntap add` holds the tap for a
 * moment (TUNSETIFF .. close) just as the helper opens it for QEMU. The open waits
 * for it instead of failing the spawn with EBUSY. A child holds the tap ~60 ms. */
static void open_tap_waits_while_held(void **state)
{
	char name[16], err[128];
	int pfd[2];
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0)
		skip(); /* no tun device or not root: nothing to race on */
	snprintf(name, sizeof(name), "tapv%x", (unsigned)getpid() & 0xfffffff);
	assert_int_equal(pipe(pfd), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = vm_nics_open_tap(name, err, sizeof(err));
		char c = fd >= 0 ? 'y' : 'n';
		if (write(pfd[1], &c, 1) != 1)
			_exit(2);
		usleep(60 * 1000);
		_exit(fd >= 0 ? 0 : 1);
	}
	char c = 0;
	assert_int_equal(read(pfd[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	int fd = vm_nics_open_tap(name, err, sizeof(err));
	int st = 0;
	waitpid(pid, &st, 0);
	close(pfd[0]), close(pfd[1]);
	if (fd < 0)
		fail_msg("open of a tap held for 60 ms: %d %s", fd, err);
	close(fd);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A tap a QEMU holds is not let go of in milliseconds: the open gives up after
 * VM_TAP_BUSY_TRIES short waits (the helper serves no other request meanwhile), not
 * after seconds (review s6 9: 100 x 20 ms blocked the helper for 2 s). */
static void open_tap_held_long_fails_fast(void **state)
{
	char name[16], err[128];
	if (geteuid() != 0 || access("/dev/net/tun", R_OK | W_OK) != 0)
		skip();
	snprintf(name, sizeof(name), "tapw%x", (unsigned)getpid() & 0xfffffff);
	int held = vm_nics_open_tap(name, err, sizeof(err));
	assert_true(held >= 0);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	int fd = vm_nics_open_tap(name, err, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &b);
	close(held);
	assert_int_equal(fd, -EBUSY);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms < 1000);
	assert_true(VM_TAP_BUSY_TRIES * VM_TAP_BUSY_WAIT_MS <= 250);
}

/* A test host's taps: every name is alive unless listed in gone (a NULL-ended list). */
static int test_alive(const char *tap, void *arg)
{
	for (const char *const *g = arg; g && *g; g++)
		if (!strcmp(*g, tap))
			return 0;
	return 1;
}

/* Review s6 1: the helper hands a hot-plug tap to the worker only when it was not
 * handed to another instance; the table is bounded per instance and in all. */
static void tap_owners(void **state)
{
	static struct vm_tap_owners o;
	const char *a = "11111111-1111-1111-1111-111111111111";
	const char *b = "22222222-2222-2222-2222-222222222222";
	char tap[VM_TAP_LEN];
	assert_null(vm_tap_owners_of(&o, "tap0"));
	assert_int_equal(vm_tap_owners_give(&o, a, "tap0", test_alive, NULL), 0);
	assert_string_equal(vm_tap_owners_of(&o, "tap0"), a);
	assert_int_equal(vm_tap_owners_give(&o, b, "tap0", test_alive, NULL),
	                 0); /* moved: one owner */
	assert_string_equal(vm_tap_owners_of(&o, "tap0"), b);
	assert_int_equal(o.n, 1);
	for (int i = 1; i < VM_NICS_MAX; i++) {
		snprintf(tap, sizeof(tap), "tap%d", i);
		assert_int_equal(vm_tap_owners_give(&o, b, tap, test_alive, NULL), 0);
	}
	assert_int_equal(vm_tap_owners_give(&o, b, "tapff", test_alive, NULL), -ENOSPC);
	assert_int_equal(vm_tap_owners_give(&o, b, "tap3", test_alive, NULL),
	                 0); /* its own again */
	assert_int_equal(vm_tap_owners_give(&o, a, "tapff", test_alive, NULL), 0);
	vm_tap_owners_drop(&o, b);
	assert_int_equal(o.n, 1);
	assert_null(vm_tap_owners_of(&o, "tap0"));
	assert_string_equal(vm_tap_owners_of(&o, "tapff"), a);
	o.n = VM_TAP_OWNERS_MAX; /* full */
	assert_int_equal(vm_tap_owners_give(&o, b, "tapee", test_alive, NULL), -ENOSPC);
}

/* Review s7 M1: a server with one NIC whose hot-plugged ports come and go (each
 * detached, its tap deleted, before the next) may plug any number of them; the 8th
 * plug was -ENOSPC while the table still counted the 7 detached taps. Taps that still
 * exist keep counting, and a full table makes room from the taps that are gone. */
static void tap_owners_forget_deleted_taps(void **state)
{
	static struct vm_tap_owners o;
	const char *a = "11111111-1111-1111-1111-111111111111";
	const char *b = "22222222-2222-2222-2222-222222222222";
	char plugged[3 * VM_NICS_MAX][VM_TAP_LEN], live[VM_NICS_MAX][VM_TAP_LEN];
	const char *gone[3 * VM_NICS_MAX + 1] = {NULL};
	o.n = 0;
	assert_int_equal(vm_tap_owners_give(&o, a, "tapa0", test_alive, (void *)gone), 0);
	for (int i = 0; i < 3 * VM_NICS_MAX; i++) {
		snprintf(plugged[i], sizeof(plugged[i]), "tapb%d", i);
		assert_int_equal(vm_tap_owners_give(&o, a, plugged[i], test_alive, (void *)gone),
		                 0);
		gone[i] = plugged[i]; /* detached: nubo-net deletes its tap */
	}
	assert_int_equal(o.n, 2); /* tapa0 and the last plug's, until the next give */
	assert_string_equal(vm_tap_owners_of(&o, "tapa0"), a);
	/* taps that still exist count: tapa0 and 7 more fill the instance */
	for (int i = 1; i < VM_NICS_MAX; i++) {
		snprintf(live[i], sizeof(live[i]), "tapc%d", i);
		assert_int_equal(vm_tap_owners_give(&o, a, live[i], test_alive, (void *)gone), 0);
	}
	assert_int_equal(vm_tap_owners_give(&o, a, "tapff", test_alive, (void *)gone), -ENOSPC);
	/* another instance's gone taps are left alone while the table has room */
	const char *b_gone[] = {"tapd0", NULL};
	assert_int_equal(vm_tap_owners_give(&o, b, "tapd0", test_alive, NULL), 0);
	int n = o.n;
	assert_int_equal(vm_tap_owners_give(&o, a, "tapc1", test_alive, (void *)b_gone), 0);
	assert_int_equal(o.n, n);
	assert_string_equal(vm_tap_owners_of(&o, "tapd0"), b);
	/* a full table: without a gone tap no room; with one, its entry makes room */
	vm_tap_owners_drop(&o, a);
	for (int i = o.n; i < VM_TAP_OWNERS_MAX; i++) { /* b's live taps */
		snprintf(o.e[i].tap, sizeof(o.e[i].tap), "tape%d", i);
		snprintf(o.e[i].id, sizeof(o.e[i].id), "%s", b);
	}
	o.n = VM_TAP_OWNERS_MAX;
	assert_int_equal(vm_tap_owners_give(&o, a, "tap99", test_alive, NULL), -ENOSPC);
	assert_int_equal(vm_tap_owners_give(&o, a, "tap99", test_alive, (void *)b_gone), 0);
	assert_null(vm_tap_owners_of(&o, "tapd0"));
	assert_string_equal(vm_tap_owners_of(&o, "tap99"), a);
	assert_int_equal(o.n, VM_TAP_OWNERS_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(from_spawn_and_check),
	    cmocka_unit_test(refuses),
	    cmocka_unit_test(open_tap_waits_while_held),
	    cmocka_unit_test(open_tap_held_long_fails_fast),
	    cmocka_unit_test(tap_owners),
	    cmocka_unit_test(tap_owners_forget_deleted_taps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* nubo-storage's NBD exports with the real qemu-storage-daemon on 127.0.0.1: an export
 * listens and refuses a client without the key, answers a repeat with the same port, a
 * second attachment replaces the first; a restarted agent (a new exports table) adopts
 * the daemon that still runs and starts again one that died, on the same port; a stop
 * ends the daemon and leaves no file; the hello lists what is exported. A copy of an
 * exported volume goes through the daemon's monitor, is the volume's bytes, and clears
 * what an interrupted copy left in the daemon first. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "fsutil.h"
#include "proc.h"
#include "qmp.h"
#include "storage-agent/export.h"
#include "storage-agent/export_copy.h"

#define V1 "11111111-1111-4111-8111-111111111111"
#define A1 "22222222-2222-4222-8222-222222222222"
#define A2 "33333333-3333-4333-8333-333333333333"
#define K1 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define S1 "44444444-4444-4444-8444-444444444444"
#define S2 "55555555-5555-4555-8555-555555555555"
#define PORT_MIN 23809 /* a range of its own: other exports on the box use 10809 */
#define PORT_MAX 23899

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/nubo-export-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	char vols[128], vol[192];
	snprintf(vols, sizeof(vols), "%s/volumes", dir);
	snprintf(vol, sizeof(vol), "%s/" V1 ".qcow2", vols);
	fs_mkdir_p(vols, 0700);
	const char *const argv[] = {"qemu-img", "create", "-q", "-f", "qcow2", vol, "16M", NULL};
	return proc_run(argv, 30000, NULL, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	fs_remove_tree(dir);
	return 0;
}

static int have_qsd(void)
{
	const char *const argv[] = {"qemu-storage-daemon", "--version", NULL};
	return proc_run(argv, 10000, NULL, 0) == 0;
}

static pid_t state_pid(void)
{
	char path[192];
	snprintf(path, sizeof(path), "%s/exports/" V1 ".json", dir);
	json_t *j = json_load_file(path, 0, NULL);
	pid_t pid = j ? (pid_t)json_integer_value(json_object_get(j, "pid")) : 0;
	json_decref(j);
	return pid;
}

/* qemu-img info without the key: the daemon wants TLS first. */
static void assert_refused(int port)
{
	char url[128], out[2048];
	snprintf(url, sizeof(url), "nbd://127.0.0.1:%d/" V1, port);
	const char *const argv[] = {"qemu-img", "info", url, NULL};
	assert_int_not_equal(proc_run(argv, 30000, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "TLS"));
}

static void test_export_lifecycle(void **state)
{
	if (!have_qsd())
		skip();
	char err[512], host[MSG_ADDR_MAX], path[192];
	int port = 0, port2 = 0;
	struct exports *x = exports_open(dir, "127.0.0.1", PORT_MIN, PORT_MAX, err, sizeof(err));
	assert_non_null(x);
	assert_int_equal(exports_start(x, V1, A1, K1, host, &port, err, sizeof(err)), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_true(port >= PORT_MIN && port <= PORT_MAX);
	assert_refused(port);
	/* the daemon was given RFC 7919's group: it generates no DH parameters at start
	 * (seconds of CPU each time) */
	char dh[192], text[4096] = "";
	snprintf(dh, sizeof(dh), "%s/exports/" V1 "/dh-params.pem", dir);
	const char *const show[] = {"openssl", "pkeyparam", "-in", dh, "-noout", "-text", NULL};
	assert_int_equal(proc_run(show, 30000, text, sizeof(text)), 0);
	assert_non_null(strstr(text, "GROUP: ffdhe2048"));
	pid_t pid = state_pid();
	assert_true(pid > 0 && proc_alive(pid, "exports/" V1));
	/* a repeat of the task: the same export */
	assert_int_equal(exports_start(x, V1, A1, K1, host, &port2, err, sizeof(err)), 0);
	assert_int_equal(port2, port);
	assert_int_equal(state_pid(), pid);
	/* the hello lists it */
	struct msg_resource r[4];
	assert_int_equal(exports_list(x, r, 4), 1);
	assert_int_equal(r[0].kind, MSG_RES_ATTACHMENT);
	assert_string_equal(r[0].id, V1);
	assert_string_equal(r[0].state, ATT_ATTACHED);
	/* a bad key or id is refused, nothing changes */
	assert_int_equal(exports_start(x, V1, A1, "zz", host, &port2, err, sizeof(err)), -EINVAL);
	assert_int_equal(exports_start(x, "../x", A1, K1, host, &port2, err, sizeof(err)), -EINVAL);

	/* the agent restarts: the daemon still runs and is adopted */
	exports_free(x);
	x = exports_open(dir, "127.0.0.1", PORT_MIN, PORT_MAX, err, sizeof(err));
	assert_non_null(x);
	assert_int_equal(state_pid(), pid);
	assert_int_equal(exports_start(x, V1, A1, K1, host, &port2, err, sizeof(err)), 0);
	assert_int_equal(port2, port);
	assert_int_equal(state_pid(), pid);

	/* the agent restarts after its daemon died: started again on the same port */
	exports_free(x);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	x = exports_open(dir, "127.0.0.1", PORT_MIN, PORT_MAX, err, sizeof(err));
	assert_non_null(x);
	pid_t pid2 = state_pid();
	assert_true(pid2 > 0 && pid2 != pid && proc_alive(pid2, "exports/" V1));
	assert_refused(port);

	/* another attachment of the volume replaces it */
	assert_int_equal(exports_start(x, V1, A2, K1, host, &port2, err, sizeof(err)), 0);
	pid_t pid3 = state_pid();
	assert_true(pid3 != pid2 && !proc_alive(pid2, "exports/" V1));
	/* a stop for the earlier attachment leaves it; its own stop ends it */
	assert_int_equal(exports_stop(x, V1, A1, err, sizeof(err)), 0);
	assert_true(proc_alive(pid3, "exports/" V1));
	assert_int_equal(exports_stop(x, V1, A2, err, sizeof(err)), 0);
	assert_false(proc_alive(pid3, "exports/" V1));
	snprintf(path, sizeof(path), "%s/exports/" V1, dir);
	assert_false(fs_exists(path));
	snprintf(path, sizeof(path), "%s/exports/" V1 ".json", dir);
	assert_false(fs_exists(path));
	assert_int_equal(exports_list(x, r, 4), 0);
	/* a stop of what is not exported succeeds */
	assert_int_equal(exports_stop(x, V1, "", err, sizeof(err)), 0);
	exports_free(x);
}

static void test_export_missing_volume(void **state)
{
	if (!have_qsd())
		skip();
	char err[512], host[MSG_ADDR_MAX];
	int port = 0;
	struct exports *x = exports_open(dir, "127.0.0.1", PORT_MIN, PORT_MAX, err, sizeof(err));
	assert_non_null(x);
	assert_int_equal(exports_start(x, A1, A2, K1, host, &port, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "no such file"));
	assert_int_equal(exports_list(x, NULL, 0), 0);
	exports_free(x);
	assert_null(exports_open(dir, "10.0.0.1,x", PORT_MIN, PORT_MAX, err, sizeof(err)));
	assert_null(exports_open(dir, "127.0.0.1", PORT_MAX, PORT_MIN, err, sizeof(err)));
}

/* 0 when qemu-img finds the two qcow2 files hold the same bytes (-U: the daemon holds
 * the volume). */
static int compare(const char *a, const char *b)
{
	const char *const argv[] = {"qemu-img", "compare", "-U", "-q", "-f", "qcow2",
	                            "-F",       "qcow2",   a,    b,    NULL};
	return proc_run(argv, 60000, NULL, 0);
}

static void test_export_copy(void **state)
{
	if (!have_qsd())
		skip();
	char err[512], host[MSG_ADDR_MAX], vol[192], out[192], out2[192], mon[192];
	int port = 0;
	snprintf(vol, sizeof(vol), "%s/volumes/" V1 ".qcow2", dir);
	snprintf(out, sizeof(out), "%s/" S1 ".qcow2", dir);
	snprintf(out2, sizeof(out2), "%s/" S2 ".qcow2", dir);
	snprintf(mon, sizeof(mon), "%s/exports/" V1 "/qmp.sock", dir);
	const char *const fill[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0xab 1M 1M",
	                            vol,       NULL};
	assert_int_equal(proc_run(fill, 30000, NULL, 0), 0);
	struct exports *x = exports_open(dir, "127.0.0.1", PORT_MIN, PORT_MAX, err, sizeof(err));
	assert_non_null(x);
	/* not exported: the pool copies the file itself */
	assert_int_equal(export_copy(x, V1, S1, out, err, sizeof(err)), -ENOENT);
	assert_int_equal(exports_start(x, V1, A1, K1, host, &port, err, sizeof(err)), 0);
	assert_int_equal(export_copy(x, V1, S1, out, err, sizeof(err)), 0);
	assert_int_equal(compare(vol, out), 0);

	/* an agent killed mid-copy left its target node and its ended job in the daemon:
	 * the task's next run clears them and copies */
	struct export_copy_names n;
	export_copy_names(S2, &n);
	const char *const mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", out2, "16M", NULL};
	assert_int_equal(proc_run(mk, 30000, NULL, 0), 0);
	struct qmp *q = qmp_open(mon, 10000, err, sizeof(err));
	assert_non_null(q);
	json_t *a = export_copy_target_args(&n, out2);
	assert_int_equal(qmp_exec(q, "blockdev-add", a, NULL, 10000, err, sizeof(err)), 0);
	json_decref(a);
	a = export_copy_backup_args(&n);
	assert_int_equal(qmp_exec(q, "blockdev-backup", a, NULL, 10000, err, sizeof(err)), 0);
	json_decref(a);
	qmp_close(q);
	assert_int_equal(export_copy(x, V1, S2, out2, err, sizeof(err)), 0);
	assert_int_equal(compare(vol, out2), 0);
	/* nothing of either copy stays in the daemon */
	json_t *ret = NULL;
	assert_int_equal(qmp_call(mon, "query-jobs", NULL, &ret, 10000, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(ret), 0);
	json_decref(ret);
	ret = NULL;
	a = json_pack("{s:b}", "flat", 1);
	assert_int_equal(qmp_call(mon, "query-named-block-nodes", a, &ret, 10000, err, sizeof(err)),
	                 0);
	json_decref(a);
	assert_int_equal(json_array_size(ret), 2); /* vol0 and file0 */
	json_decref(ret);

	/* a copy left by a run whose task never came back: the agent's next start sweeps it */
	export_copy_names(S1, &n);
	q = qmp_open(mon, 10000, err, sizeof(err));
	assert_non_null(q);
	a = export_copy_target_args(&n, out);
	assert_int_equal(qmp_exec(q, "blockdev-add", a, NULL, 10000, err, sizeof(err)), 0);
	json_decref(a);
	a = export_copy_backup_args(&n);
	assert_int_equal(qmp_exec(q, "blockdev-backup", a, NULL, 10000, err, sizeof(err)), 0);
	json_decref(a);
	qmp_close(q);
	assert_int_equal(export_copy_sweep(x), 1);
	assert_int_equal(export_copy_sweep(x), 0);
	ret = NULL;
	assert_int_equal(qmp_call(mon, "query-jobs", NULL, &ret, 10000, err, sizeof(err)), 0);
	assert_int_equal(json_array_size(ret), 0);
	json_decref(ret);

	/* its daemon down: a clear error, nothing copied from the file behind its back */
	pid_t pid = state_pid();
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(export_copy(x, V1, S1, out, err, sizeof(err)), -ESRCH);
	assert_non_null(strstr(err, "daemon is down"));
	assert_int_equal(exports_stop(x, V1, "", err, sizeof(err)), 0);
	exports_free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_export_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_missing_volume, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_export_copy, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

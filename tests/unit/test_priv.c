/* The privileged helper (common/priv.c) and the compute agent's rows (vm_priv.c), run
 * for real as root: the helper stays root while a worker drops to nubo for good; a
 * request outside the whitelist, of the wrong size, or naming a path outside the
 * state directory (absolute, "..", through a symlink, a hard link to a root file) is
 * refused; descriptors come back; children run as nubo-qemu, cannot read
 * /etc/shadow (QEMU included), are reaped (no zombies) and report how they ended.
 * Skipped when not run as root. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "compute-agent/vm_priv.h"
#include "fsutil.h"
#include "priv.h"

enum { T_OPEN = PRIV_TYPE_AGENT + 50, T_SPAWN };

struct t_open {
	char path[PRIV_PATH_MAX];
};

struct t_spawn {
	char argv[4][128]; /* argv[0..3], "" ends */
	char out[PRIV_PATH_MAX];
	int32_t as_root;
};

static char state[128];
static struct priv *P;
static char reportlog[160];

/* The helper is another process: it reports into a file the test counts lines of. */
static void report(int level, const char *msg)
{
	FILE *f = fopen(reportlog, "ae");
	if (f) {
		fprintf(f, "%s\n", msg);
		fclose(f);
	}
}

static int reported(void)
{
	int n = 0, ch;
	FILE *f = fopen(reportlog, "re");
	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static int open_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct t_open *r = req;
	if (!priv_str_ok(r->path, sizeof(r->path)) || !priv_path_ok(r->path)) {
		snprintf(err, errlen, "path outside the state directory");
		return -EPERM;
	}
	return 0;
}

static int open_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct t_open *r = req;
	int fd = priv_open(h, r->path, O_RDONLY, 0);
	if (fd < 0) {
		snprintf(rep->err, sizeof(rep->err), "%.100s: %s", r->path, strerror(-fd));
		return fd;
	}
	rep->fds[rep->n_fds++] = fd;
	return 0;
}

#define TEST_UID_BASE 1999999000u

static int spawn_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct t_spawn *r = req;
	for (int i = 0; i < 4; i++)
		if (!priv_str_ok(r->argv[i], sizeof(r->argv[i])))
			return -EINVAL;
	return priv_str_ok(r->out, sizeof(r->out)) && (!r->out[0] || priv_path_ok(r->out)) ? 0
	                                                                                   : -EPERM;
}

static int spawn_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct t_spawn *r = req;
	const char *argv[5] = {NULL};
	for (int i = 0; i < 4 && r->argv[i][0]; i++)
		argv[i] = r->argv[i];
	int out = -1;
	if (r->out[0]) {
		out = priv_open(h, r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (out < 0)
			return out;
	}
	struct priv_spawn s = {.argv = argv,
	                       .user = r->as_root == 1 ? NULL : VM_PRIV_QEMU_USER,
	                       /* as_root 2: a private uid of a two-uid test range */
	                       .uid_base = r->as_root == 2 ? TEST_UID_BASE : 0,
	                       .uid_count = r->as_root == 2 ? 2 : 0,
	                       .out_fd = out,
	                       .cwd_fd = -1,
	                       .tag = "test"};
	pid_t pid = priv_spawn(h, &s, rep->err, sizeof(rep->err));
	if (out >= 0)
		close(out);
	if (pid < 0)
		return pid;
	int32_t p32 = pid;
	memcpy(rep->data, &p32, sizeof(p32));
	rep->len = sizeof(p32);
	return 0;
}

static const struct priv_op test_ops[] = {
    {T_OPEN, "open", sizeof(struct t_open), open_check, open_run},
    {T_SPAWN, "spawn", sizeof(struct t_spawn), spawn_check, spawn_run},
};

static struct vm_priv_ctx vctx = {"qemu-system-x86_64", VM_PRIV_QEMU_USER};
static struct priv_op all_ops[8];
static struct priv_conf pc;

static int setup(void **st)
{
	char err[256];
	if (geteuid() != 0 || !getpwnam("nubo") || !getpwnam(VM_PRIV_QEMU_USER))
		return 0;
	snprintf(state, sizeof(state), "/tmp/nubo-test-priv.%d", (int)getpid());
	snprintf(reportlog, sizeof(reportlog), "%s.log", state);
	unlink(reportlog);
	fs_remove_tree(state);
	assert_int_equal(fs_mkdir_p(state, 0755), 0);
	struct passwd *pw = getpwnam("nubo");
	assert_int_equal(chown(state, pw->pw_uid, pw->pw_gid), 0);
	size_t n = 0;
	for (size_t i = 0; i < vm_priv_n_ops; i++)
		all_ops[n++] = vm_priv_ops[i];
	all_ops[n++] = test_ops[0];
	all_ops[n++] = test_ops[1];
	pc = (struct priv_conf){all_ops, n, state, "nubo", &vctx, report};
	P = priv_start(&pc, err, sizeof(err));
	assert_non_null(P);
	return 0;
}

static int teardown(void **st)
{
	priv_free(P);
	if (state[0])
		fs_remove_tree(state);
	if (reportlog[0])
		unlink(reportlog);
	return 0;
}

#define NEED_ROOT()                                                                                \
	do {                                                                                       \
		if (!P)                                                                            \
			skip();                                                                    \
	} while (0)

static int call_open(const char *path, int *fd, char *err)
{
	struct t_open r = {0};
	int n = 0;
	snprintf(r.path, sizeof(r.path), "%s", path);
	*fd = -1;
	return priv_call(P, T_OPEN, &r, sizeof(r), NULL, 0, NULL, fd, 1, &n, err, 256);
}

static pid_t call_spawn(const char *a0, const char *a1, const char *a2, const char *out,
                        int as_root)
{
	struct t_spawn r = {0};
	char err[256];
	int32_t pid = 0;
	snprintf(r.argv[0], sizeof(r.argv[0]), "%s", a0);
	snprintf(r.argv[1], sizeof(r.argv[1]), "%s", a1 ? a1 : "");
	snprintf(r.argv[2], sizeof(r.argv[2]), "%s", a2 ? a2 : "");
	snprintf(r.out, sizeof(r.out), "%s", out ? out : "");
	r.as_root = as_root;
	int rc = priv_call(P, T_SPAWN, &r, sizeof(r), &pid, sizeof(pid), NULL, NULL, 0, NULL, err,
	                   sizeof(err));
	if (rc < 0)
		fprintf(stderr, "spawn %s: %s\n", a0, err);
	return rc < 0 ? rc : pid;
}

/* Waits for the helper to report child pid exited; returns its wait status. */
static int child_wait(pid_t pid)
{
	struct priv_child_req r = {.pid = pid};
	struct priv_child_status st;
	char err[256];
	snprintf(r.tag, sizeof(r.tag), "test");
	for (int i = 0; i < 500; i++) {
		assert_int_equal(priv_call(P, PRIV_CHILD_STATUS, &r, sizeof(r), &st, sizeof(st),
		                           NULL, NULL, 0, NULL, err, sizeof(err)),
		                 0);
		if (st.state == PRIV_CHILD_EXITED)
			return st.status;
		usleep(20000);
	}
	fail_msg("child %d did not exit", (int)pid);
	return -1;
}

static long proc_field(pid_t pid, const char *key, int col)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			char *p = line + strlen(key);
			for (int i = 0; i <= col; i++)
				v = strtol(p, &p, 10);
		}
	fclose(f);
	return v;
}

static void helper_stays_root_worker_drops(void **st)
{
	NEED_ROOT();
	assert_int_equal(proc_field(priv_pid(P), "Uid:", 1), 0); /* effective uid */
	pid_t pid = fork();
	if (pid == 0) {
		char err[256];
		struct passwd *pw = getpwnam("nubo");
		if (priv_drop("nubo", err, sizeof(err)) < 0)
			_exit(1);
		if (getuid() != pw->pw_uid || geteuid() != pw->pw_uid || getgid() != pw->pw_gid)
			_exit(2);
		if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0 || setgroups(0, NULL) == 0)
			_exit(3); /* root came back */
		if (open("/etc/shadow", O_RDONLY) >= 0)
			_exit(4);
		if (priv_drop("root", err, sizeof(err)) == 0)
			_exit(5);
		_exit(priv_drop("nubo", err, sizeof(err)) == 0 ? 0 : 6); /* already: fine */
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void refuses_outside_whitelist(void **st)
{
	NEED_ROOT();
	char buf[64] = {0}, err[256];
	int before = reported();
	assert_int_equal(
	    priv_call(P, 99, buf, sizeof(buf), NULL, 0, NULL, NULL, 0, NULL, err, sizeof(err)),
	    -EPERM);
	assert_non_null(strstr(err, "not allowed"));
	assert_int_equal(priv_call(P, 5000, buf, 0, NULL, 0, NULL, NULL, 0, NULL, err, sizeof(err)),
	                 -EPERM);
	/* a whitelisted type with a payload of the wrong size */
	assert_int_equal(
	    priv_call(P, T_OPEN, buf, sizeof(buf), NULL, 0, NULL, NULL, 0, NULL, err, sizeof(err)),
	    -EINVAL);
	assert_int_equal(reported(), before + 3); /* each refusal was reported */
}

static void opens_inside_refuses_outside(void **st)
{
	NEED_ROOT();
	char p[256], err[256], buf[16] = {0};
	int fd;
	snprintf(p, sizeof(p), "%s/inside", state);
	assert_int_equal(fs_write_atomic(p, "hello", 5, 0600), 0);
	assert_int_equal(call_open("inside", &fd, err), 0);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "hello");
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);

	int before = reported();
	assert_int_equal(call_open("/etc/shadow", &fd, err), -EPERM);
	assert_int_equal(call_open("../../etc/shadow", &fd, err), -EPERM);
	assert_int_equal(call_open("a/../../etc/shadow", &fd, err), -EPERM);
	assert_int_equal(call_open("", &fd, err), -EPERM);
	/* a symlink inside that points out, and one to a file inside: no symlink at all */
	snprintf(p, sizeof(p), "%s/etc", state);
	assert_int_equal(symlink("/etc", p), 0);
	assert_int_equal(call_open("etc/shadow", &fd, err), -EPERM);
	snprintf(p, sizeof(p), "%s/shadow", state);
	assert_int_equal(symlink("/etc/shadow", p), 0);
	assert_int_equal(call_open("shadow", &fd, err), -EPERM);
	snprintf(p, sizeof(p), "%s/self", state);
	assert_int_equal(symlink("inside", p), 0);
	assert_int_equal(call_open("self", &fd, err), -EPERM);
	assert_int_equal(reported(), before + 7);
	/* priv_open itself refuses what the row's check might have let through */
	assert_int_equal(priv_openat(AT_FDCWD, "../x", O_RDONLY, 0), -EPERM);
	assert_int_equal(priv_openat(AT_FDCWD, "/etc/shadow", O_RDONLY, 0), -EPERM);
}

/* A FIFO where a file should be (the worker made it) does not hang the helper in
 * open(): the call returns, and the helper still answers the next one. */
static void fifo_does_not_block_the_helper(void **st)
{
	NEED_ROOT();
	char p[256], err[256];
	int fd = -1;
	snprintf(p, sizeof(p), "%s/fifo", state);
	assert_int_equal(mkfifo(p, 0600), 0);
	alarm(10); /* a blocked helper would block this call for ever */
	int rc = call_open("fifo", &fd, err);
	alarm(0);
	assert_int_equal(rc, 0);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true(S_ISFIFO(sb.st_mode)); /* the row's own type check refuses it */
	assert_false(fcntl(fd, F_GETFL) & O_NONBLOCK);
	close(fd);
	snprintf(p, sizeof(p), "%s/after", state);
	assert_int_equal(fs_write_atomic(p, "x", 1, 0600), 0);
	assert_int_equal(call_open("after", &fd, err), 0);
	close(fd);
}

static void path_and_name_rules(void **st)
{
	assert_true(priv_path_ok("instances/0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90/disk.qcow2"));
	assert_false(priv_path_ok("/abs"));
	assert_false(priv_path_ok("a//b"));
	assert_false(priv_path_ok("a/"));
	assert_false(priv_path_ok("a/./b"));
	assert_false(priv_path_ok(".."));
	assert_false(priv_path_ok("a b"));
	assert_false(priv_path_ok("a\nb"));
	assert_true(priv_name_ok("disk.qcow2"));
	assert_false(priv_name_ok("a/b"));
	assert_false(priv_name_ok("."));
	char unterminated[4] = {'a', 'b', 'c', 'd'};
	assert_false(priv_str_ok(unterminated, sizeof(unterminated)));
}

static void children_run_as_qemu_user_and_cannot_read_shadow(void **st)
{
	NEED_ROOT();
	char p[256], *text;
	struct passwd *pw = getpwnam(VM_PRIV_QEMU_USER);
	pid_t pid = call_spawn("id", "-u", NULL, "id.out", 0);
	assert_true(pid > 0);
	int status = child_wait(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	snprintf(p, sizeof(p), "%s/id.out", state);
	text = fs_read(p, 64, NULL);
	assert_non_null(text);
	assert_int_equal(atol(text), (long)pw->pw_uid);
	free(text);

	pid = call_spawn("cat", "/etc/shadow", NULL, "cat.out", 0);
	assert_true(pid > 0);
	status = child_wait(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	snprintf(p, sizeof(p), "%s/cat.out", state);
	text = fs_read(p, 4096, NULL);
	assert_non_null(strstr(text, "Permission denied"));
	free(text);
}

static void child_kill(pid_t pid)
{
	struct priv_child_req r = {.pid = pid, .sig = SIGKILL};
	char err[256];
	snprintf(r.tag, sizeof(r.tag), "test");
	assert_int_equal(priv_call(P, PRIV_CHILD_SIGNAL, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 0);
	child_wait(pid);
}

/* One uid per QEMU: two children of a private range run under different uids of it
 * (with the QEMU user's group), so neither can read the other's memory; a full range
 * refuses the next spawn; an ended child's uid is free again. */
static void private_uids_are_distinct(void **st)
{
	NEED_ROOT();
	struct passwd *pw = getpwnam(VM_PRIV_QEMU_USER);
	pid_t a = call_spawn("sleep", "30", NULL, NULL, 2);
	pid_t b = call_spawn("sleep", "30", NULL, NULL, 2);
	assert_true(a > 0 && b > 0);
	long ua = proc_field(a, "Uid:", 1), ub = proc_field(b, "Uid:", 1);
	assert_true(ua >= TEST_UID_BASE && ua < TEST_UID_BASE + 2);
	assert_true(ub >= TEST_UID_BASE && ub < TEST_UID_BASE + 2);
	assert_true(ua != ub);
	assert_int_equal(proc_field(a, "Gid:", 1), (long)pw->pw_gid);
	assert_int_equal(call_spawn("sleep", "30", NULL, NULL, 2), -EAGAIN);
	child_kill(a);
	pid_t c = call_spawn("sleep", "30", NULL, NULL, 2);
	assert_true(c > 0);
	assert_int_equal(proc_field(c, "Uid:", 1), ua);
	child_kill(b);
	child_kill(c);
}

/* QEMU itself, as its user, with the full sandbox: told to open /etc/shadow as a
 * disk, it fails. */
static void qemu_cannot_open_shadow(void **st)
{
	NEED_ROOT();
	struct t_spawn r = {0};
	char err[256], p[256];
	int32_t pid;
	/* three argv slots: program and two arguments are enough through sh -c */
	snprintf(r.argv[0], sizeof(r.argv[0]), "sh");
	snprintf(r.argv[1], sizeof(r.argv[1]), "-c");
	snprintf(r.argv[2], sizeof(r.argv[2]),
	         "exec qemu-system-x86_64 -machine none -nodefaults -display none "
	         "-drive file=/etc/shadow,format=raw,if=none");
	snprintf(r.out, sizeof(r.out), "qemu.out");
	assert_int_equal(priv_call(P, T_SPAWN, &r, sizeof(r), &pid, sizeof(pid), NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 0);
	int status = child_wait(pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0);
	snprintf(p, sizeof(p), "%s/qemu.out", state);
	char *text = fs_read(p, 4096, NULL);
	assert_non_null(text);
	if (!strstr(text, "Permission denied"))
		fail_msg("QEMU said: %s", text);
	free(text);
}

/* A failed exec is the spawn's own error, not a child that exits 127 later. */
static void exec_failure_is_reported(void **st)
{
	NEED_ROOT();
	assert_int_equal(call_spawn("/nonexistent/program", NULL, NULL, NULL, 0), -ENOENT);
}

static int zombies_of(pid_t parent)
{
	char path[64];
	int n = 0;
	for (pid_t pid = 2; pid < 4194304; pid++) {
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (access(path, F_OK) < 0) {
			if (pid > 100000)
				break; /* pids are dense enough here; keep the scan short */
			continue;
		}
		char st[64];
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		char buf[512];
		size_t k = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[k] = '\0';
		char *rp = strrchr(buf, ')');
		int ppid = 0;
		if (rp && sscanf(rp + 2, "%63s %d", st, &ppid) == 2 && ppid == parent &&
		    st[0] == 'Z')
			n++;
	}
	return n;
}

static void children_are_reaped(void **st)
{
	NEED_ROOT();
	pid_t pids[6];
	for (int i = 0; i < 6; i++) {
		pids[i] = call_spawn("true", NULL, NULL, NULL, i % 2);
		assert_true(pids[i] > 0);
	}
	usleep(300000); /* exited by now; the helper reaps on SIGCHLD without being asked */
	assert_int_equal(zombies_of(priv_pid(P)), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(WEXITSTATUS(child_wait(pids[i])), 0);
}

static void signals_only_its_children(void **st)
{
	NEED_ROOT();
	char err[256];
	pid_t pid = call_spawn("sleep", "30", NULL, NULL, 0);
	assert_true(pid > 0);
	struct priv_child_req r = {.pid = pid, .sig = SIGSTOP};
	snprintf(r.tag, sizeof(r.tag), "test");
	assert_int_equal(priv_call(P, PRIV_CHILD_SIGNAL, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 -EPERM); /* not a signal of the whitelist */
	r.pid = 1, r.sig = SIGKILL;
	assert_int_equal(priv_call(P, PRIV_CHILD_SIGNAL, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 -ESRCH); /* init is no child of the helper */
	/* the compute row: a pid that is not a QEMU of that instance is refused */
	assert_int_equal(vm_priv_qemu_signal(P, "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90", getpid(),
	                                     SIGKILL, err, sizeof(err)),
	                 -EPERM);
	assert_int_equal(vm_priv_qemu_signal(P, "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90", pid,
	                                     SIGSTOP, err, sizeof(err)),
	                 -EPERM);
	r.pid = pid;
	assert_int_equal(priv_call(P, PRIV_CHILD_SIGNAL, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 0);
	int status = child_wait(pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void qemu_start_checks_its_arguments(void **st)
{
	NEED_ROOT();
	char err[256];
	struct vm_priv_start s = {.vcpus = 1, .ram_mb = 64};
	snprintf(s.accel, sizeof(s.accel), "tcg");
	snprintf(s.id, sizeof(s.id), "../../../etc");
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EINVAL);
	snprintf(s.id, sizeof(s.id), "0b7e3c52-4d11-4a8e-9f0a-5c2d6e1f7a90");
	snprintf(s.image_id, sizeof(s.image_id), "../../etc/shadow");
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EINVAL);
	s.image_id[0] = '\0';
	snprintf(s.accel, sizeof(s.accel), "xen");
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EINVAL);
	snprintf(s.accel, sizeof(s.accel), "tcg");
	s.ram_mb = 1 << 30;
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EINVAL);
	s.ram_mb = 64;
	/* valid, but the instance directory does not exist */
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -ENOENT);
	/* an instance directory that is a symlink out of the state directory */
	char p[256];
	snprintf(p, sizeof(p), "%s/instances", state);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/instances/%s", state, s.id);
	assert_int_equal(symlink("/etc", p), 0);
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EPERM);
	unlink(p);
	/* an instance whose disk is a hard link to a file that is not the worker's */
	struct passwd *pw = getpwnam("nubo");
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(chown(p, pw->pw_uid, pw->pw_gid), 0);
	char disk[300], victim[300];
	snprintf(victim, sizeof(victim), "%s/root-file", state);
	assert_int_equal(fs_write_atomic(victim, "secret", 6, 0600), 0);
	snprintf(disk, sizeof(disk), "%s/disk.qcow2", p);
	assert_int_equal(link(victim, disk), 0);
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "not a plain file of the agent"));
	/* the base image may have other links (the image cache's), but only to a file of
	 * the worker: a link to root's file, or a symlink, is refused */
	unlink(disk);
	assert_int_equal(fs_write_atomic(disk, "x", 1, 0600), 0);
	assert_int_equal(chown(disk, pw->pw_uid, pw->pw_gid), 0);
	snprintf(s.image_id, sizeof(s.image_id), "2f0c1b6e-8a51-4d7c-9e3b-1a2b3c4d5e6f");
	snprintf(s.base_format, sizeof(s.base_format), "raw");
	char base[300];
	snprintf(base, sizeof(base), "%s/base", p);
	assert_int_equal(link(victim, base), 0);
	assert_int_equal(vm_priv_qemu_start(P, &s, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "base image is not a file of the agent"));
	unlink(base);
	assert_int_equal(symlink(victim, base), 0);
	assert_true(vm_priv_qemu_start(P, &s, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "base image"));
	unlink(base);
	/* the worker's base with another link (the cache's name for it): QEMU is started
	 * (it fails on these bytes at once; the helper's answer is its pid) */
	char cached[300];
	snprintf(cached, sizeof(cached), "%s/cached-image", state);
	assert_int_equal(fs_write_atomic(cached, "y", 1, 0600), 0);
	assert_int_equal(chown(cached, pw->pw_uid, pw->pw_gid), 0);
	assert_int_equal(link(cached, base), 0);
	pid_t qemu = vm_priv_qemu_start(P, &s, err, sizeof(err));
	if (qemu < 0)
		fprintf(stderr, "qemu start: %s\n", err);
	assert_true(qemu > 0);
	vm_priv_qemu_signal(P, s.id, qemu, SIGKILL, err, sizeof(err)); /* gone already, maybe */
	unlink(base);
	unlink(cached);
}

static void gone_helper_is_epipe(void **st)
{
	NEED_ROOT();
	char err[256];
	struct priv *q = priv_start(&pc, err, sizeof(err));
	assert_non_null(q);
	kill(priv_pid(q), SIGKILL);
	struct priv_child_req r = {.pid = 1};
	assert_int_equal(priv_call(q, PRIV_CHILD_STATUS, &r, sizeof(r), NULL, 0, NULL, NULL, 0,
	                           NULL, err, sizeof(err)),
	                 -EPIPE);
	priv_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(path_and_name_rules),
	    cmocka_unit_test(helper_stays_root_worker_drops),
	    cmocka_unit_test(refuses_outside_whitelist),
	    cmocka_unit_test(opens_inside_refuses_outside),
	    cmocka_unit_test(fifo_does_not_block_the_helper),
	    cmocka_unit_test(children_run_as_qemu_user_and_cannot_read_shadow),
	    cmocka_unit_test(private_uids_are_distinct),
	    cmocka_unit_test(qemu_cannot_open_shadow),
	    cmocka_unit_test(exec_failure_is_reported),
	    cmocka_unit_test(children_are_reaped),
	    cmocka_unit_test(signals_only_its_children),
	    cmocka_unit_test(qemu_start_checks_its_arguments),
	    cmocka_unit_test(gone_helper_is_epipe),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* fork/execvp wrappers with timeouts and captured output. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static void child_exec(const char *const argv[])
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	execvp(argv[0], (char *const *)argv);
	_exit(127);
}

int proc_run(const char *const argv[], int timeout_ms, char *out, size_t outlen)
{
	return proc_run_cut(argv, timeout_ms, out, outlen, NULL);
}

int proc_run_cut(const char *const argv[], int timeout_ms, char *out, size_t outlen, int *cut)
{
	if (cut)
		*cut = 0;
	int pipefd[2] = {-1, -1};
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0)
			dup2(devnull, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		child_exec(argv);
	}
	close(pipefd[1]);
	size_t used = 0;
	int64_t deadline = time_mono_ms() + timeout_ms;
	int timed_out = 0;
	for (;;) {
		int64_t left = deadline - time_mono_ms();
		if (left <= 0) {
			timed_out = 1;
			break;
		}
		struct pollfd p = {.fd = pipefd[0], .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t take = (size_t)n;
			if (take > outlen - 1 - used)
				take = outlen - 1 - used;
			memcpy(out + used, buf, take);
			used += take;
			if (take < (size_t)n && cut)
				*cut = 1;
		} else if (out && cut) {
			*cut = 1;
		}
	}
	if (out && outlen)
		out[used] = '\0';
	close(pipefd[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		return -ETIMEDOUT;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

pid_t proc_spawn(const char *const argv[], const char *logpath)
{
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		setsid();
		int in = open("/dev/null", O_RDONLY);
		int log =
		    open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0640);
		if (in >= 0)
			dup2(in, 0);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		child_exec(argv);
	}
	return pid;
}

int proc_alive(pid_t pid, const char *needle)
{
	char path[64], buf[4096];
	/* EPERM: it exists but belongs to another user (QEMU runs as its own) */
	if (pid <= 0 || (kill(pid, 0) < 0 && errno != EPERM))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	/* zombie children still have a pid but an empty cmdline; read above catches that */
	return needle ? strstr(buf, needle) != NULL : 1;
}

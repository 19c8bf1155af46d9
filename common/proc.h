/* Running external programs from argv arrays (never a shell): qemu-img, genisoimage,
 * ip, nft. All fds the parent holds are O_CLOEXEC, so children inherit only 0-2. */
#ifndef NUBO_PROC_H
#define NUBO_PROC_H
#include <stddef.h>
#include <sys/types.h>

/* Runs argv[0] (PATH lookup) with argv, waits at most timeout_ms. If out is non-NULL
 * it receives up to outlen-1 bytes of combined stdout+stderr, NUL-terminated.
 * Returns the exit status (0..255), or -ETIMEDOUT (child killed), or another
 * negative errno when it could not be started. */
int proc_run(const char *const argv[], int timeout_ms, char *out, size_t outlen);
/* proc_run that says whether the output was cut: *cut (non-NULL) becomes 1 when the
 * child wrote more than outlen-1 bytes (the rest was read and dropped), else 0. */
int proc_run_cut(const char *const argv[], int timeout_ms, char *out, size_t outlen, int *cut);

/* Starts argv detached in its own session with stdin from /dev/null and stdout/stderr
 * appended to logpath (or /dev/null when NULL). Returns the pid or a negative errno. */
pid_t proc_spawn(const char *const argv[], const char *logpath);

/* 1 when pid runs (as any user; a zombie does not count) and its /proc/<pid>/cmdline
 * contains needle (guards pid reuse). */
int proc_alive(pid_t pid, const char *needle);

#endif

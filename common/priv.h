/* The privileged helper of an agent (OpenBSD vmd's model). An agent starting as root
 * forks it with priv_start() and then drops itself to an unprivileged user with
 * priv_drop(); worker and helper talk over a SOCK_SEQPACKET socketpair. The helper
 * serves only a whitelist of typed requests: a static table of {type, size, check,
 * run} rows that the agent provides (adding a root-only operation is adding a row).
 * Every request is a fixed-size struct; the helper checks its size, runs the row's
 * check (names, paths strictly inside the state directory, numbers in range) and only
 * then its run, and passes file descriptors back (SCM_RIGHTS). It reaps every child it
 * starts, keeps their exit statuses for the worker, refuses and reports anything
 * else, and exits when the worker's end of the socket closes. */
#ifndef NUBO_PRIV_H
#define NUBO_PRIV_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PRIV_MSG_MAX 8192 /* largest request or reply payload */
#define PRIV_FDS_MAX 8    /* descriptors in one reply, or given to one child */
#define PRIV_ERR_MAX 256
#define PRIV_TAG_MAX 64   /* a child's tag (e.g. an instance id) */
#define PRIV_PATH_MAX 256 /* a path relative to the state directory */

/* Request types 1..99 are the built-in rows below; an agent's own start at 100. */
enum priv_builtin {
	PRIV_CHILD_STATUS = 1, /* struct priv_child_req -> struct priv_child_status */
	PRIV_CHILD_SIGNAL = 2, /* struct priv_child_req -> nothing */
	PRIV_TYPE_AGENT = 100,
};

/* A child of the helper, named by pid and the tag it was started with. */
struct priv_child_req {
	int32_t pid;
	int32_t sig; /* PRIV_CHILD_SIGNAL: SIGTERM or SIGKILL */
	char tag[PRIV_TAG_MAX];
};

enum priv_child_state { PRIV_CHILD_RUNNING, PRIV_CHILD_EXITED };

struct priv_child_status {
	int32_t state;  /* enum priv_child_state */
	int32_t status; /* wait status (WIFEXITED...) when exited */
};

/* Helper side: what a row's functions see. */
struct priv_helper;

/* What a request's run fills: reply bytes and descriptors to pass back (the helper
 * closes them after sending), and the reason of a failure. */
struct priv_reply {
	unsigned char data[PRIV_MSG_MAX];
	size_t len;
	int fds[PRIV_FDS_MAX];
	int n_fds;
	char err[PRIV_ERR_MAX];
};

/* One whitelisted request. check gets a payload of exactly size bytes and returns 0
 * or -EINVAL/-EPERM with err; run does the work, returns 0 or a negative errno with
 * rep->err. A refused request is reported through priv_conf.report. */
struct priv_op {
	uint32_t type;
	const char *name;
	size_t size;
	int (*check)(const struct priv_helper *h, const void *req, char *err, size_t errlen);
	int (*run)(struct priv_helper *h, const void *req, struct priv_reply *rep);
};

struct priv_conf {
	const struct priv_op *ops; /* the agent's whitelist (built-ins are added) */
	size_t n_ops;
	const char *state_dir; /* absolute: every path a request names is inside it */
	const char *user;      /* the worker's user (owner of what the worker creates) */
	const void *data;      /* the agent's own context for its rows (borrowed) */
	/* How the helper reports (refusals, failures): the daemon's logger, since code
	 * in common/ does not log itself. level is enum log_level. */
	void (*report)(int level, const char *msg);
};

/* Worker side: the socket to the helper. */
struct priv;

/* Forks the helper (the caller must be root and single-threaded). In the caller
 * returns the worker's handle (owned); the helper never returns from here. NULL with
 * err when the socketpair, the fork or the state directory fail. */
struct priv *priv_start(const struct priv_conf *conf, char *err, size_t errlen);
/* Sends request type with its payload and waits for the answer. On success returns
 * 0 with up to replen reply bytes copied to rep (*replen_out gets their count when
 * non-NULL) and up to max_fds received descriptors (owned by the caller, O_CLOEXEC)
 * in fds with their count in *n_fds. Otherwise the helper's negative errno with its
 * reason in err (-EPIPE when the helper is gone). Thread-safe (one call at a time). */
int priv_call(struct priv *p, uint32_t type, const void *req, size_t len, void *rep, size_t replen,
              size_t *replen_out, int *fds, int max_fds, int *n_fds, char *err, size_t errlen);
/* Pid of the helper. */
pid_t priv_pid(const struct priv *p);
/* Closes the socket (the helper exits; its children keep running) and reaps the
 * helper. Accepts NULL. */
void priv_free(struct priv *p);

/* Drops the calling process to user for good: supplementary groups of user, its gid
 * and uid (real, effective, saved), no_new_privs, and then proves that root cannot be
 * regained. Already running as user is success; any other non-root caller is
 * -EPERM. Returns 0 or a negative errno with err. */
int priv_drop(const char *user, char *err, size_t errlen);

/* ---- for the rows' functions (helper side) ------------------------------------ */

/* The agent's context given in priv_conf.data. */
const void *priv_data(const struct priv_helper *h);
/* The worker's uid and gid. */
uid_t priv_worker_uid(const struct priv_helper *h);
gid_t priv_worker_gid(const struct priv_helper *h);
/* 1 when s is NUL-terminated within size bytes. */
int priv_str_ok(const char *s, size_t size);
/* 1 when s is one path component made of [A-Za-z0-9._-], not "." or "..". */
int priv_name_ok(const char *s);
/* 1 when rel is a relative path of priv_name_ok components separated by single '/',
 * shorter than PRIV_PATH_MAX. */
int priv_path_ok(const char *rel);
/* Opens rel inside the state directory, refusing every path that leaves it,
 * including through a symlink or "..": the kernel resolves it beneath the directory
 * with no symlink followed (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS). flags get
 * O_CLOEXEC|O_NOFOLLOW. Returns the fd, or -EPERM (outside / through a symlink) or
 * another negative errno. */
int priv_open(const struct priv_helper *h, const char *rel, int flags, mode_t mode);
/* Like priv_open relative to dirfd (a directory priv_open returned). */
int priv_openat(int dirfd, const char *rel, int flags, mode_t mode);

/* A process the helper starts. */
struct priv_spawn {
	const char *const *argv; /* argv[0] found in PATH; never a shell */
	const char *user;        /* run as this user (its groups too); NULL = stay root */
	/* uid_count > 0: run under a uid of [uid_base, uid_base + uid_count) that no process
	 * holds now, with user's groups: processes of one user can read each other's memory
	 * (/proc/PID/mem, ptrace), so each QEMU gets a uid of its own. Needs user. */
	uid_t uid_base;
	unsigned uid_count;
	const int *fds; /* become fds 3, 4, ... in the child, in this order */
	int n_fds;
	int out_fd; /* stdout and stderr; -1 = /dev/null */
	int cwd_fd; /* working directory; -1 = / */
	const char *tag;
};

/* Starts s in its own session and remembers it under s->tag. Returns the pid once
 * the program has been exec'd, or a negative errno (the exec's own failure
 * included). */
pid_t priv_spawn(struct priv_helper *h, const struct priv_spawn *s, char *err, size_t errlen);
/* 1 when pid is a running child started with tag, else 0. */
int priv_child_running(const struct priv_helper *h, pid_t pid, const char *tag);
/* 1 when some child started with tag still runs after waiting up to wait_ms for it
 * to end (a process its worker saw go may take a moment to become reapable), else 0. */
int priv_tag_running(struct priv_helper *h, const char *tag, int wait_ms);

#endif

/* The privileged helper and the worker's end of its socket (see priv.h). */
#include "priv.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h" /* the levels of priv_conf.report only: common/ does not log */
#include "xalloc.h"

#define PRIV_UIDS_MAX 65536 /* largest private uid range */
#define CHILDREN_MAX 1024   /* children remembered (running, or exited and not asked for) */
#define GROUPS_MAX 64

/* The header of every request, followed by the payload. */
struct req_hdr {
	uint32_t type;
	uint32_t len;
};

/* The header of every reply, followed by the payload (and SCM_RIGHTS fds). */
struct rep_hdr {
	int32_t rc;
	uint32_t len;
	char err[PRIV_ERR_MAX];
};

struct child {
	pid_t pid; /* 0 = free slot */
	uid_t uid; /* what it runs as (0: root) */
	char tag[PRIV_TAG_MAX];
	int exited;
	int status;
	uint64_t seq; /* age, to evict the oldest exited entry */
};

struct priv_helper {
	const struct priv_conf *conf;
	int sock;
	int dirfd; /* the state directory */
	uid_t wuid;
	gid_t wgid;
	struct child children[CHILDREN_MAX];
	uint64_t seq;
};

struct priv {
	int sock;
	pid_t pid;
	pthread_mutex_t lock;
};

/* ---- checks ---------------------------------------------------------------------- */

int priv_str_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

int priv_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= PRIV_PATH_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

int priv_path_ok(const char *rel)
{
	char buf[PRIV_PATH_MAX];
	size_t n = strlen(rel);
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, rel, n + 1);
	char *save = NULL;
	int parts = 0;
	if (buf[0] == '/' || buf[n - 1] == '/' || strstr(buf, "//"))
		return 0;
	for (char *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save), parts++)
		if (!priv_name_ok(c))
			return 0;
	return parts > 0;
}

/* ---- opening inside the state directory ------------------------------------------ */

int priv_openat(int dirfd, const char *rel, int flags, mode_t mode)
{
	if (!priv_path_ok(rel))
		return -EPERM;
	/* O_NONBLOCK: a FIFO the worker left in the place of a file must not block
	 * the helper (and every later request) in open(); cleared again below */
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK),
	    .mode = (flags & O_CREAT) ? mode : 0,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	if (fd >= 0) {
		int fl = fcntl((int)fd, F_GETFL);
		if (!(flags & O_NONBLOCK) &&
		    (fl < 0 || fcntl((int)fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
			int e = errno;
			close((int)fd);
			return -e;
		}
		return (int)fd;
	}
	int e = errno;
	struct stat st;
	/* a symlink as the last component fails O_DIRECTORY with ENOTDIR: still a link */
	if (e == ENOTDIR && fstatat(dirfd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		e = ELOOP;
	return e == EXDEV || e == ELOOP ? -EPERM : -e;
}

int priv_open(const struct priv_helper *h, const char *rel, int flags, mode_t mode)
{
	return priv_openat(h->dirfd, rel, flags, mode);
}

const void *priv_data(const struct priv_helper *h)
{
	return h->conf->data;
}

uid_t priv_worker_uid(const struct priv_helper *h)
{
	return h->wuid;
}

gid_t priv_worker_gid(const struct priv_helper *h)
{
	return h->wgid;
}

/* ---- user switch --------------------------------------------------------------- */

struct ident {
	uid_t uid;
	gid_t gid;
	gid_t groups[GROUPS_MAX];
	int n_groups;
};

static int ident_lookup(const char *user, struct ident *id, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	int rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "user %s: %s", user, rc ? strerror(rc) : "no such user");
		return rc ? -rc : -ENOENT;
	}
	if (pw.pw_uid == 0) {
		snprintf(err, errlen, "user %s is root", user);
		return -EPERM;
	}
	id->uid = pw.pw_uid;
	id->gid = pw.pw_gid;
	id->n_groups = GROUPS_MAX;
	if (getgrouplist(user, pw.pw_gid, id->groups, &id->n_groups) < 0) {
		snprintf(err, errlen, "user %s: more than %d groups", user, GROUPS_MAX);
		return -E2BIG;
	}
	return 0;
}

/* Async-signal-safe once the lookup is done: only system calls. */
static int ident_become(const struct ident *id)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	if (setgroups((size_t)id->n_groups, id->groups) < 0 ||
	    setresgid(id->gid, id->gid, id->gid) < 0 || setresuid(id->uid, id->uid, id->uid) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	/* prove it: nothing of root is left and it cannot come back */
	if (getresuid(&r, &e, &s) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return -errno;
	if (r != id->uid || e != id->uid || s != id->uid || rg != id->gid || eg != id->gid ||
	    sg != id->gid)
		return -EPERM;
	if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
		return -EPERM;
	return 0;
}

int priv_drop(const char *user, char *err, size_t errlen)
{
	struct ident id;
	int rc = ident_lookup(user, &id, err, errlen);
	if (rc < 0)
		return rc;
	if (geteuid() != 0) {
		if (getuid() == id.uid && geteuid() == id.uid)
			return 0;
		snprintf(err, errlen, "running as uid %d: must be root or %s", (int)geteuid(),
		         user);
		return -EPERM;
	}
	rc = ident_become(&id);
	if (rc < 0)
		snprintf(err, errlen, "dropping to %s: %s", user, strerror(-rc));
	return rc;
}

/* ---- children ------------------------------------------------------------------ */

static struct child *child_find(struct priv_helper *h, pid_t pid)
{
	for (int i = 0; i < CHILDREN_MAX; i++)
		if (h->children[i].pid == pid && pid > 0)
			return &h->children[i];
	return NULL;
}

/* A free slot, else the oldest exited child's. NULL when all run. */
static struct child *child_slot(struct priv_helper *h)
{
	struct child *old = NULL;
	for (int i = 0; i < CHILDREN_MAX; i++) {
		struct child *c = &h->children[i];
		if (!c->pid)
			return c;
		if (c->exited && (!old || c->seq < old->seq))
			old = c;
	}
	return old;
}

int priv_child_running(const struct priv_helper *h, pid_t pid, const char *tag)
{
	for (int i = 0; i < CHILDREN_MAX; i++) {
		const struct child *c = &h->children[i];
		if (pid > 0 && c->pid == pid && !c->exited && !strcmp(c->tag, tag))
			return 1;
	}
	return 0;
}

static void children_reap(struct priv_helper *h);

int priv_tag_running(struct priv_helper *h, const char *tag, int wait_ms)
{
	/* a child that just ended (its worker saw it go) may not be reapable yet */
	for (int waited = 0;; waited += 10) {
		int running = 0;
		children_reap(h);
		for (int i = 0; i < CHILDREN_MAX; i++) {
			const struct child *c = &h->children[i];
			if (c->pid && !c->exited && !strcmp(c->tag, tag))
				running = 1;
		}
		if (!running || waited >= wait_ms)
			return running;
		usleep(10 * 1000);
	}
}

/* Collects every exited child; children it did not start are reaped and forgotten. */
static void children_reap(struct priv_helper *h)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		struct child *c = child_find(h, pid);
		if (c) {
			c->exited = 1;
			c->status = st;
		}
	}
}

static void uid_mark(unsigned char *used, const struct priv_spawn *s, uid_t u)
{
	if (u >= s->uid_base && u - s->uid_base < s->uid_count)
		used[(u - s->uid_base) / 8] |= (unsigned char)(1u << ((u - s->uid_base) % 8));
}

/* Sets id->uid to the lowest uid of s's private range that no process holds: not a
 * running child of this helper, and no entry of /proc (whose owner is the process's
 * uid; that also sees QEMUs an earlier helper started). 0 or a negative errno. */
static int private_uid_pick(const struct priv_helper *h, const struct priv_spawn *s,
                            struct ident *id)
{
	unsigned char used[PRIV_UIDS_MAX / 8] = {0};
	for (int i = 0; i < CHILDREN_MAX; i++)
		if (h->children[i].pid && !h->children[i].exited && h->children[i].uid)
			uid_mark(used, s, h->children[i].uid);
	DIR *d = opendir("/proc");
	if (!d)
		return -errno;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    fstatat(dirfd(d), e->d_name, &st, 0) == 0)
			uid_mark(used, s, st.st_uid);
	}
	closedir(d);
	for (unsigned i = 0; i < s->uid_count; i++)
		if (!(used[i / 8] & (1u << (i % 8)))) {
			id->uid = s->uid_base + i;
			return 0;
		}
	return -EAGAIN;
}

/* In the forked child: fds in place, identity, exec. Reports errno on errpipe. */
static void __attribute__((noreturn))
spawn_child(const struct priv_spawn *s, const struct ident *id, int errpipe)
{
	int e = 0, hi[PRIV_FDS_MAX];
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	if (setsid() < 0)
		goto fail;
	if (s->cwd_fd >= 0 ? fchdir(s->cwd_fd) < 0 : chdir("/") < 0)
		goto fail;
	/* move the error pipe and every source out of the way before placing the
	 * sources at 3, 4, ... */
	if ((errpipe = fcntl(errpipe, F_DUPFD_CLOEXEC, 64)) < 0)
		_exit(127);
	for (int i = 0; i < s->n_fds; i++)
		if ((hi[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, 64)) < 0)
			goto fail;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int out = s->out_fd >= 0 ? s->out_fd : null;
	if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
		goto fail;
	for (int i = 0; i < s->n_fds; i++)
		if (dup2(hi[i], 3 + i) < 0)
			goto fail;
	/* whatever else is open goes at exec (the error pipe must live until then) */
	if (syscall(SYS_close_range, 3 + s->n_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		goto fail;
	if (id && (e = -ident_become(id)) != 0)
		goto report;
	execvp(s->argv[0], (char *const *)s->argv);
fail:
	e = errno;
report:
	if (write(errpipe, &e, sizeof(e)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

pid_t priv_spawn(struct priv_helper *h, const struct priv_spawn *s, char *err, size_t errlen)
{
	struct ident id;
	int pipefd[2] = {-1, -1}, e = 0;
	if (s->n_fds < 0 || s->n_fds > PRIV_FDS_MAX || !s->argv || !s->argv[0] ||
	    strlen(s->tag) >= PRIV_TAG_MAX) {
		snprintf(err, errlen, "bad spawn request");
		return -EINVAL;
	}
	if ((s->uid_count && (!s->user || s->uid_base == 0 || s->uid_count > PRIV_UIDS_MAX ||
	                      s->uid_base > (uid_t)-1 - s->uid_count))) {
		snprintf(err, errlen, "bad private uid range");
		return -EINVAL;
	}
	if (s->user && ident_lookup(s->user, &id, err, errlen) < 0)
		return -EPERM;
	if (s->uid_count && private_uid_pick(h, s, &id) < 0) {
		snprintf(err, errlen, "no free uid in %u..%u", (unsigned)s->uid_base,
		         (unsigned)(s->uid_base + s->uid_count - 1));
		return -EAGAIN;
	}
	struct child *c = child_slot(h);
	if (!c) {
		snprintf(err, errlen, "%d children run already", CHILDREN_MAX);
		return -EAGAIN;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	pid_t pid = fork();
	if (pid < 0) {
		e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		close(pipefd[0]);
		close(pipefd[1]);
		return -e;
	}
	if (pid == 0) {
		close(pipefd[0]);
		spawn_child(s, s->user ? &id : NULL, pipefd[1]);
	}
	close(pipefd[1]);
	memset(c, 0, sizeof(*c));
	c->pid = pid;
	c->uid = s->user ? id.uid : 0;
	snprintf(c->tag, sizeof(c->tag), "%s", s->tag);
	c->seq = ++h->seq;
	/* the pipe closes at exec (success) or carries the errno of what failed */
	ssize_t n;
	while ((n = read(pipefd[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(pipefd[0]);
	if (n == (ssize_t)sizeof(e)) {
		snprintf(err, errlen, "starting %s: %s", s->argv[0], strerror(e));
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		memset(c, 0, sizeof(*c));
		return -e;
	}
	return pid;
}

/* ---- built-in rows --------------------------------------------------------------- */

static int child_req_check(const struct priv_helper *h, const void *req, char *err, size_t errlen)
{
	const struct priv_child_req *r = req;
	if (r->pid <= 0 || !priv_str_ok(r->tag, sizeof(r->tag))) {
		snprintf(err, errlen, "bad child");
		return -EINVAL;
	}
	return 0;
}

static int child_signal_check(const struct priv_helper *h, const void *req, char *err,
                              size_t errlen)
{
	const struct priv_child_req *r = req;
	if (r->sig != SIGTERM && r->sig != SIGKILL) {
		snprintf(err, errlen, "signal %d is not allowed", (int)r->sig);
		return -EPERM;
	}
	return child_req_check(h, req, err, errlen);
}

static int child_status_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct priv_child_req *r = req;
	struct child *c = child_find(h, r->pid);
	if (!c || strcmp(c->tag, r->tag)) {
		snprintf(rep->err, sizeof(rep->err), "pid %d is no child of the helper",
		         (int)r->pid);
		return -ESRCH;
	}
	struct priv_child_status st = {c->exited ? PRIV_CHILD_EXITED : PRIV_CHILD_RUNNING,
	                               c->status};
	if (c->exited) /* told once; the slot is free again */
		memset(c, 0, sizeof(*c));
	memcpy(rep->data, &st, sizeof(st));
	rep->len = sizeof(st);
	return 0;
}

static int child_signal_run(struct priv_helper *h, const void *req, struct priv_reply *rep)
{
	const struct priv_child_req *r = req;
	if (!priv_child_running(h, r->pid, r->tag)) {
		snprintf(rep->err, sizeof(rep->err), "pid %d is no running child of the helper",
		         (int)r->pid);
		return -ESRCH;
	}
	return kill(r->pid, r->sig) < 0 ? -errno : 0;
}

static const struct priv_op builtin_ops[] = {
    {PRIV_CHILD_STATUS, "child_status", sizeof(struct priv_child_req), child_req_check,
     child_status_run},
    {PRIV_CHILD_SIGNAL, "child_signal", sizeof(struct priv_child_req), child_signal_check,
     child_signal_run},
};

static const struct priv_op *op_find(const struct priv_conf *conf, uint32_t type)
{
	for (size_t i = 0; i < sizeof(builtin_ops) / sizeof(builtin_ops[0]); i++)
		if (builtin_ops[i].type == type)
			return &builtin_ops[i];
	for (size_t i = 0; i < conf->n_ops; i++)
		if (conf->ops[i].type == type && type >= PRIV_TYPE_AGENT)
			return &conf->ops[i];
	return NULL;
}

/* ---- the helper's loop ------------------------------------------------------------ */

static void report(const struct priv_helper *h, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report(const struct priv_helper *h, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	if (!h->conf->report)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	h->conf->report(level, buf);
}

static int reply_send(int sock, int rc, const struct priv_reply *rep)
{
	struct rep_hdr hdr = {.rc = rc, .len = rc == 0 ? (uint32_t)rep->len : 0};
	snprintf(hdr.err, sizeof(hdr.err), "%s", rc < 0 ? rep->err : "");
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)rep->data, hdr.len}};
	union {
		char buf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	if (rc == 0 && rep->n_fds > 0) {
		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)rep->n_fds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)rep->n_fds);
		memcpy(CMSG_DATA(cm), rep->fds, sizeof(int) * (size_t)rep->n_fds);
	}
	ssize_t n;
	while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return n < 0 ? -errno : 0;
}

/* Reads one request and answers it. Returns -EPIPE when the worker is gone. */
static int helper_serve(struct priv_helper *h, void *buf, size_t buflen)
{
	struct priv_reply *rep = xcalloc(1, sizeof(*rep));
	ssize_t n;
	int rc;
	while ((n = recv(h->sock, buf, buflen, MSG_TRUNC)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		free(rep);
		return -EPIPE;
	}
	const struct req_hdr *hdr = buf;
	const struct priv_op *op = NULL;
	if ((size_t)n < sizeof(*hdr) || (size_t)n > buflen || hdr->len != n - sizeof(*hdr)) {
		snprintf(rep->err, sizeof(rep->err), "malformed request (%zd bytes)", n);
		rc = -EINVAL;
	} else if (!(op = op_find(h->conf, hdr->type))) {
		snprintf(rep->err, sizeof(rep->err), "request type %u is not allowed",
		         (unsigned)hdr->type);
		rc = -EPERM;
	} else if (hdr->len != op->size) {
		snprintf(rep->err, sizeof(rep->err), "%s: payload of %u bytes, want %zu", op->name,
		         (unsigned)hdr->len, op->size);
		rc = -EINVAL;
	} else {
		rc = op->check(h, (const char *)buf + sizeof(*hdr), rep->err, sizeof(rep->err));
		if (rc == 0)
			rc = op->run(h, (const char *)buf + sizeof(*hdr), rep);
		else if (!rep->err[0])
			snprintf(rep->err, sizeof(rep->err), "refused");
	}
	if (rc < 0 && !rep->err[0])
		snprintf(rep->err, sizeof(rep->err), "%s", strerror(-rc));
	if (rc == -EPERM || rc == -EINVAL)
		report(h, LOG_LVL_WARN, "privileged helper refused %s: %s",
		       op ? op->name : "a request", rep->err);
	if (reply_send(h->sock, rc, rep) < 0 && rc == 0)
		report(h, LOG_LVL_WARN, "privileged helper: reply to %s lost", op ? op->name : "?");
	for (int i = 0; i < rep->n_fds; i++)
		close(rep->fds[i]);
	free(rep);
	return 0;
}

static void __attribute__((noreturn)) helper_main(const struct priv_conf *conf, int sock)
{
	struct priv_helper *h = xcalloc(1, sizeof(*h));
	struct ident wid;
	char err[256];
	sigset_t chld;
	size_t buflen = sizeof(struct req_hdr) + PRIV_MSG_MAX;
	void *buf = xmalloc(buflen);

	h->conf = conf;
	h->sock = sock;
	umask(077);
	/* a stop signal for the whole group is the worker's to handle: the helper
	 * lives until the worker closes its end, so a draining worker can still ask */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "nubo-priv", 0, 0, 0);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (ident_lookup(conf->user, &wid, err, sizeof(err)) < 0 || sfd < 0) {
		report(h, LOG_LVL_ERR, "privileged helper: %s", sfd < 0 ? strerror(errno) : err);
		_exit(1);
	}
	h->wuid = wid.uid;
	h->wgid = wid.gid;
	h->dirfd = open(conf->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (h->dirfd < 0) {
		report(h, LOG_LVL_ERR, "privileged helper: %s: %s", conf->state_dir,
		       strerror(errno));
		_exit(1);
	}
	for (;;) {
		struct pollfd p[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) > 0)
				;
			children_reap(h);
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			children_reap(h); /* a status asked for now is current */
			if (helper_serve(h, buf, buflen) < 0)
				break;
		}
	}
	/* the worker is gone; the children (QEMUs) run on, adopted by init */
	_exit(0);
}

struct priv *priv_start(const struct priv_conf *conf, char *err, size_t errlen)
{
	int sv[2];
	struct stat st;
	if (geteuid() != 0) {
		snprintf(err, errlen, "the privileged helper needs root");
		return NULL;
	}
	if (!conf->state_dir || conf->state_dir[0] != '/' || stat(conf->state_dir, &st) < 0 ||
	    !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state directory %s: not a directory",
		         conf->state_dir ? conf->state_dir : "(none)");
		return NULL;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return NULL;
	}
	pid_t pid = fork();
	if (pid < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return NULL;
	}
	if (pid == 0) {
		close(sv[0]);
		/* keep stderr (the log) and the socket, nothing else of the worker */
		if (sv[1] != 3) {
			dup2(sv[1], 3);
			close(sv[1]);
		}
		fcntl(3, F_SETFD, FD_CLOEXEC);
		syscall(SYS_close_range, 4, ~0U, 0);
		helper_main(conf, 3);
	}
	close(sv[1]);
	struct priv *p = xcalloc(1, sizeof(*p));
	p->sock = sv[0];
	p->pid = pid;
	pthread_mutex_init(&p->lock, NULL);
	return p;
}

pid_t priv_pid(const struct priv *p)
{
	return p->pid;
}

int priv_call(struct priv *p, uint32_t type, const void *req, size_t len, void *rep, size_t replen,
              size_t *replen_out, int *fds, int max_fds, int *n_fds, char *err, size_t errlen)
{
	struct req_hdr hdr = {type, (uint32_t)len};
	struct rep_hdr rh;
	unsigned char *data = xmalloc(PRIV_MSG_MAX);
	union {
		char buf[CMSG_SPACE(sizeof(int) * PRIV_FDS_MAX)];
		struct cmsghdr align;
	} u;
	int rc = 0, got_fds = 0, recvd[PRIV_FDS_MAX];
	ssize_t n;

	if (n_fds)
		*n_fds = 0;
	if (replen_out)
		*replen_out = 0;
	if (len > PRIV_MSG_MAX) {
		free(data);
		snprintf(err, errlen, "request too large");
		return -E2BIG;
	}
	struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)req, len}};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};
	pthread_mutex_lock(&p->lock);
	while ((n = sendmsg(p->sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		rc = -EPIPE;
		snprintf(err, errlen, "privileged helper is gone: %s", strerror(errno));
		goto unlock;
	}
	struct iovec riov[2] = {{&rh, sizeof(rh)}, {data, PRIV_MSG_MAX}};
	struct msghdr rmh = {.msg_iov = riov,
	                     .msg_iovlen = 2,
	                     .msg_control = u.buf,
	                     .msg_controllen = sizeof(u.buf)};
	while ((n = recvmsg(p->sock, &rmh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
		;
	if (n <= 0) {
		rc = -EPIPE;
		snprintf(err, errlen, "privileged helper is gone");
		goto unlock;
	}
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&rmh); cm; cm = CMSG_NXTHDR(&rmh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k && got_fds < PRIV_FDS_MAX; i++)
				memcpy(&recvd[got_fds++], CMSG_DATA(cm) + i * sizeof(int),
				       sizeof(int));
		}
	if ((size_t)n < sizeof(rh) || rh.len != n - sizeof(rh) || (rmh.msg_flags & MSG_TRUNC)) {
		rc = -EPROTO;
		snprintf(err, errlen, "malformed reply from the privileged helper");
		goto unlock;
	}
	rc = rh.rc;
	if (rc < 0) {
		rh.err[sizeof(rh.err) - 1] = '\0';
		snprintf(err, errlen, "%s", rh.err);
		goto unlock;
	}
	if (rep)
		memcpy(rep, data, rh.len < replen ? rh.len : replen);
	if (replen_out)
		*replen_out = rh.len;
	for (int i = 0; i < got_fds; i++) {
		if (fds && i < max_fds) {
			fds[i] = recvd[i];
			(*n_fds)++;
		} else {
			close(recvd[i]);
		}
	}
	got_fds = 0;
unlock:
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < got_fds; i++)
		close(recvd[i]);
	free(data);
	return rc;
}

void priv_free(struct priv *p)
{
	if (!p)
		return;
	close(p->sock);
	while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
		;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

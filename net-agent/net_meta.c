/* The metadata proxy (see net_meta.h). */
#include "net_meta.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "http_client.h"
#include "log.h"
#include "net_gen.h"
#include "net_priv.h"
#include "util.h"
#include "xalloc.h"

#define HEAD_MAX 4096
#define PATH_MAX_META 256
#define BODY_MAX (256 * 1024)

struct listener {
	char ns[NET_NS_MAX];
	char network_id[UUID_STR_LEN];
	int fd;
};

struct net_meta {
	struct priv *priv;
	pthread_mutex_t lock;
	pthread_t thread;
	int running;
	int wake[2]; /* a byte: the listener set changed or stop */
	volatile int stop;
	char url[256], secret[128];
	int n;
	struct listener l[NET_META_MAX];
};

int net_meta_request_path(const char *head, char *path, size_t pathlen)
{
	if (strncmp(head, "GET /", 5))
		return -EINVAL;
	const char *p = head + 5, *end = strchr(p, ' ');
	if (!end || (size_t)(end - p) >= pathlen || strncmp(end, " HTTP/1.", 8))
		return -EINVAL;
	for (const char *c = p; c < end; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-' || *c == '/'))
			return -EINVAL;
	memcpy(path, p, (size_t)(end - p));
	path[end - p] = '\0';
	return strstr(path, "..") ? -EINVAL : 0;
}

static void reply(int fd, int status, const char *reason, const char *type, const char *body,
                  size_t len)
{
	char head[256];
	int n = snprintf(head, sizeof(head),
	                 "HTTP/1.0 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 status, reason, type, len);
	if (write(fd, head, (size_t)n) == n && len)
		(void)!write(fd, body, len);
}

static void serve(struct net_meta *m, int cfd, const char *network_id)
{
	char head[HEAD_MAX + 1], path[PATH_MAX_META], ip[INET_ADDRSTRLEN], err[256];
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	struct timeval tv = {.tv_sec = 2};
	size_t used = 0;
	setsockopt(cfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(cfd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getpeername(cfd, (struct sockaddr *)&peer, &plen) < 0 || peer.sin_family != AF_INET)
		return;
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
	while (used < HEAD_MAX) {
		ssize_t r = read(cfd, head + used, HEAD_MAX - used);
		if (r <= 0)
			break;
		used += (size_t)r;
		head[used] = '\0';
		if (strstr(head, "\r\n\r\n") || strstr(head, "\n\n"))
			break;
	}
	head[used] = '\0';
	if (net_meta_request_path(head, path, sizeof(path)) < 0) {
		reply(cfd, 400, "Bad Request", "text/plain", "bad request\n", 12);
		return;
	}
	pthread_mutex_lock(&m->lock);
	char *url = m->url[0] ? xasprintf("%s/%s", m->url, path) : NULL;
	char *h_net = xasprintf("X-Nubo-Network-Id: %s", network_id);
	char *h_for = xasprintf("X-Forwarded-For: %s", ip);
	char *h_sec = xasprintf("X-Nubo-Metadata-Secret: %s", m->secret);
	pthread_mutex_unlock(&m->lock);
	if (!url) {
		reply(cfd, 503, "Service Unavailable", "text/plain", "no metadata endpoint\n", 21);
		goto out;
	}
	const char *hdrs[] = {h_net, h_for, h_sec, NULL};
	int mfd = memfd_create("nubo-meta", MFD_CLOEXEC);
	long status = 0;
	struct http_get g = {.url = url,
	                     .headers = hdrs,
	                     .max_bytes = BODY_MAX,
	                     .connect_timeout = 2,
	                     .stall_time = 5,
	                     .user_agent = "nubo-net"};
	int rc = mfd < 0 ? -EIO : http_client_get_fd(&g, mfd, &status, err, sizeof(err));
	const char *type = strstr(path, ".json") ? "application/json" : "text/plain";
	if (rc == 0) {
		off_t len = lseek(mfd, 0, SEEK_END);
		char *body = len > 0 ? xmalloc((size_t)len) : NULL;
		if (len > 0 && pread(mfd, body, (size_t)len, 0) != len)
			len = 0;
		reply(cfd, 200, "OK", type, body ? body : "", len > 0 ? (size_t)len : 0);
		free(body);
	} else if (status == 404) {
		reply(cfd, 404, "Not Found", "text/plain", "not found\n", 10);
	} else {
		log_warn("metadata for %s on network %s: %s", ip, network_id, err);
		reply(cfd, 502, "Bad Gateway", "text/plain", "metadata unavailable\n", 21);
	}
	if (mfd >= 0)
		close(mfd);
out:
	explicit_bzero(h_sec, strlen(h_sec));
	free(url);
	free(h_net);
	free(h_for);
	free(h_sec);
}

static void *meta_thread(void *arg)
{
	struct net_meta *m = arg;
	while (!m->stop) {
		struct pollfd pf[NET_META_MAX + 1];
		char ids[NET_META_MAX][UUID_STR_LEN];
		int n = 0;
		pf[n++] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
		pthread_mutex_lock(&m->lock);
		for (int i = 0; i < m->n; i++) {
			memcpy(ids[n - 1], m->l[i].network_id, UUID_STR_LEN);
			pf[n++] = (struct pollfd){.fd = m->l[i].fd, .events = POLLIN};
		}
		pthread_mutex_unlock(&m->lock);
		if (poll(pf, (nfds_t)n, 1000) <= 0)
			continue;
		if (pf[0].revents) {
			char b[64];
			(void)!read(m->wake[0], b, sizeof(b));
			continue; /* the set changed: listeners may be closed */
		}
		for (int i = 1; i < n; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			int cfd = accept4(pf[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (cfd < 0)
				continue;
			serve(m, cfd, ids[i - 1]);
			close(cfd);
		}
	}
	return NULL;
}

struct net_meta *net_meta_new(struct priv *p)
{
	struct net_meta *m = xcalloc(1, sizeof(*m));
	m->priv = p;
	pthread_mutex_init(&m->lock, NULL);
	if (pipe2(m->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pthread_create(&m->thread, NULL, meta_thread, m) != 0) {
		log_err("metadata proxy: cannot start");
		return m;
	}
	m->running = 1;
	return m;
}

static void wake(struct net_meta *m)
{
	(void)!write(m->wake[1], "x", 1);
}

void net_meta_free(struct net_meta *m)
{
	if (!m)
		return;
	m->stop = 1;
	if (m->running) {
		wake(m);
		pthread_join(m->thread, NULL);
	}
	for (int i = 0; i < m->n; i++)
		close(m->l[i].fd);
	if (m->wake[0] > 0) {
		close(m->wake[0]);
		close(m->wake[1]);
	}
	free(m);
}

void net_meta_endpoint(struct net_meta *m, const char *url, const char *secret)
{
	pthread_mutex_lock(&m->lock);
	snprintf(m->url, sizeof(m->url), "%s", url);
	size_t n = strlen(m->url);
	while (n && m->url[n - 1] == '/')
		m->url[--n] = '\0';
	snprintf(m->secret, sizeof(m->secret), "%s", secret);
	pthread_mutex_unlock(&m->lock);
}

int net_meta_sync(struct net_meta *m, const char *const *ns, const char *const *ids, int n,
                  char *err, size_t errlen)
{
	int rc = 0, changed = 0;
	pthread_mutex_lock(&m->lock);
	for (int i = 0; i < m->n;) {
		int wanted = 0;
		for (int j = 0; j < n; j++)
			wanted |= !strcmp(ns[j], m->l[i].ns);
		if (wanted) {
			i++;
			continue;
		}
		close(m->l[i].fd);
		m->l[i] = m->l[--m->n];
		changed = 1;
	}
	for (int j = 0; j < n && m->n < NET_META_MAX; j++) {
		int have = 0;
		for (int i = 0; i < m->n; i++)
			have |= !strcmp(ns[j], m->l[i].ns);
		if (have)
			continue;
		char e[PRIV_ERR_MAX];
		int fd = net_priv_meta_listen(m->priv, ns[j], e, sizeof(e));
		if (fd < 0) {
			if (!rc)
				snprintf(err, errlen, "metadata listener in %s: %s", ns[j], e);
			rc = rc ? rc : fd;
			continue;
		}
		struct listener *l = &m->l[m->n++];
		snprintf(l->ns, sizeof(l->ns), "%s", ns[j]);
		snprintf(l->network_id, sizeof(l->network_id), "%s", ids[j]);
		l->fd = fd;
		changed = 1;
	}
	pthread_mutex_unlock(&m->lock);
	if (changed && m->running)
		wake(m);
	return rc;
}

/* libcurl behind the two calls of http_client.h. */
#include "http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xalloc.h"

int http_client_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

/* The options every request shares. */
static struct curl_slist *handle_setup(CURL *h, const char *url, const char *const *headers,
                                       char *ebuf)
{
	struct curl_slist *list = NULL;
	for (const char *const *p = headers; p && *p; p++)
		list = curl_slist_append(list, *p);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROXY, ""); /* our own services: never via a proxy */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	return list;
}

/* Frees a header list after wiping it: the lines may hold keys or tokens. */
static void headers_free(struct curl_slist *list)
{
	for (struct curl_slist *p = list; p; p = p->next)
		memset(p->data, 0, strlen(p->data));
	curl_slist_free_all(list);
}

struct sink_fd {
	int fd;
	long long got, max;
	int too_big, io_error;
};

static size_t sink_fd_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink_fd *d = arg;
	size_t n = size * nmemb;
	if (d->got + (long long)n > d->max) {
		d->too_big = 1;
		return 0;
	}
	for (size_t off = 0; off < n;) {
		ssize_t w = write(d->fd, ptr + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			d->io_error = errno;
			return 0;
		}
		off += (size_t)w;
	}
	d->got += (long long)n;
	return n;
}

int http_client_get_fd(const struct http_get *g, int fd, long *status, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct sink_fd d = {.fd = fd, .max = g->max_bytes};
	struct curl_slist *list = NULL;
	long code = 0;
	int rc = -EIO;
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "curl init failed");
		goto out;
	}
	list = handle_setup(h, g->url, g->headers, ebuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, g->connect_timeout ? g->connect_timeout : 10L);
	/* a stalled transfer fails; a slow one goes on */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, g->stall_time ? g->stall_time : 60L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)g->max_bytes);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_fd_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &d);
	if (g->user_agent)
		curl_easy_setopt(h, CURLOPT_USERAGENT, g->user_agent);
	CURLcode cr = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (d.too_big || cr == CURLE_FILESIZE_EXCEEDED) {
		snprintf(err, errlen, "larger than %lld MiB", g->max_bytes >> 20);
		rc = -EFBIG;
	} else if (d.io_error) {
		snprintf(err, errlen, "write: %s", strerror(d.io_error));
		rc = -d.io_error;
	} else if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cr));
	} else if (code < 200 || code > 299) {
		snprintf(err, errlen, "HTTP status %ld", code);
	} else {
		rc = 0;
	}
out:
	if (status)
		*status = code;
	headers_free(list);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

/* A file read from its current offset, left bytes at most. */
struct source_fd {
	int fd;
	long long left;
};

static size_t source_fd_read(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct source_fd *s = arg;
	size_t want = size * nmemb;
	if ((long long)want > s->left)
		want = (size_t)s->left;
	if (want == 0)
		return 0;
	for (;;) {
		ssize_t n = read(s->fd, ptr, want);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CURL_READFUNC_ABORT; /* an error, or the file shrank under us */
		s->left -= n;
		return (size_t)n;
	}
}

static size_t sink_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

int http_client_put_fd(const struct http_put *p, int fd, long *status, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *list = NULL;
	struct stat st;
	long code = 0;
	int rc = -EIO;
	CURL *h = NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || lseek(fd, p->offset, SEEK_SET) < 0) {
		snprintf(err, errlen, "upload source is not a readable regular file");
		goto out;
	}
	long long len = p->length ? p->length : (long long)st.st_size;
	if (p->offset < 0 || len < 0 || p->offset + len > (long long)st.st_size) {
		snprintf(err, errlen, "upload part lies outside the file");
		goto out;
	}
	struct source_fd src = {fd, len};
	if (!(h = curl_easy_init())) {
		snprintf(err, errlen, "curl init failed");
		goto out;
	}
	list = handle_setup(h, p->url, p->headers, ebuf);
	list = curl_slist_append(list, "Content-Type: application/octet-stream");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h, CURLOPT_READFUNCTION, source_fd_read);
	curl_easy_setopt(h, CURLOPT_READDATA, &src);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_discard);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, p->connect_timeout ? p->connect_timeout : 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, p->stall_time ? p->stall_time : 60L);
	CURLcode cr = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	if (cr != CURLE_OK)
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cr));
	else if (code < 200 || code > 299)
		snprintf(err, errlen, "HTTP status %ld", code);
	else
		rc = 0;
out:
	if (status)
		*status = code;
	headers_free(list);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

struct sink_mem {
	char *buf;
	size_t len;
	int too_big;
};

static size_t sink_mem_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink_mem *m = arg;
	size_t n = size * nmemb;
	if (m->len + n > HTTP_CLIENT_JSON_MAX) {
		m->too_big = 1;
		return 0;
	}
	m->buf = xrealloc(m->buf, m->len + n + 1);
	memcpy(m->buf + m->len, ptr, n);
	m->len += n;
	m->buf[m->len] = '\0';
	return n;
}

struct want {
	const char *name;
	char *out;
	size_t outlen;
};

static size_t header_seen(char *line, size_t size, size_t nitems, void *arg)
{
	struct want *w = arg;
	size_t n = size * nitems, k = strlen(w->name);
	if (n > k + 1 && line[k] == ':' && !strncasecmp(line, w->name, k)) {
		const char *v = line + k + 1;
		size_t vl = n - k - 1;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < w->outlen) {
			memcpy(w->out, v, vl);
			w->out[vl] = '\0';
		}
	}
	return n;
}

int http_client_json(const struct http_json *q, struct http_json_answer *a, char *err,
                     size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	struct sink_mem m = {0};
	struct curl_slist *list = NULL;
	char *payload = NULL;
	int rc = -EIO;
	memset(a, 0, sizeof(*a));
	struct want w = {q->want_header, a->header, sizeof(a->header)};
	const char *const json_headers[] = {"Content-Type: application/json",
	                                    "Accept: application/json", NULL};
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(err, errlen, "curl init failed");
		goto out;
	}
	list = handle_setup(h, q->url, q->headers, ebuf);
	for (const char *const *p = json_headers; *p; p++)
		list = curl_slist_append(list, *p);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, q->timeout ? q->timeout : 30L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_mem_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &m);
	if (q->want_header) {
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_seen);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &w);
	}
	if (q->body) {
		payload = json_dumps(q->body, JSON_COMPACT);
		if (!payload) {
			snprintf(err, errlen, "request body does not serialise");
			goto out;
		}
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, payload);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
	} else if (!strcmp(q->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(q->method, "PUT") || !strcmp(q->method, "POST")) {
		/* an empty body said as such (Content-Length: 0): a store refuses a PUT of an
		 * object without a length (411), e.g. a large object's manifest */
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
	}
	CURLcode cr = curl_easy_perform(h);
	if (m.too_big) {
		snprintf(err, errlen, "answer larger than %d bytes", HTTP_CLIENT_JSON_MAX);
		goto out;
	}
	if (cr != CURLE_OK) {
		snprintf(err, errlen, "%s", ebuf[0] ? ebuf : curl_easy_strerror(cr));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &a->status);
	if (m.len)
		a->json = json_loadb(m.buf, m.len, 0, NULL);
	rc = 0;
out:
	if (rc < 0)
		http_client_answer_release(a);
	if (payload) {
		memset(payload, 0, strlen(payload)); /* may hold a password */
		free(payload);
	}
	free(m.buf);
	headers_free(list);
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

void http_client_answer_release(struct http_json_answer *a)
{
	json_decref(a->json);
	a->json = NULL;
	memset(a->header, 0, sizeof(a->header));
}

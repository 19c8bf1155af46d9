/* common/http_client against a common/httpd server on 127.0.0.1: a GET into a file with
 * its size bound, headers sent, HTTP errors and refused connections; and the JSON
 * exchange with a captured response header, as token validation uses it. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "http_client.h"
#include "httpd.h"
#include "xalloc.h"

struct req_ctx {
	int unused;
};

#define BLOB_LEN 100000

static void h_blob(struct req *r, struct resp *w)
{
	const char *k = req_header(r, "X-Key");
	if (!k || strcmp(k, "secret")) {
		resp_error(r, w, 401, "key");
		return;
	}
	w->status = 200;
	w->text = xmalloc(BLOB_LEN);
	for (size_t i = 0; i < BLOB_LEN; i++)
		w->text[i] = (char)('a' + i % 26);
	w->text_len = BLOB_LEN;
	w->content_type = "application/octet-stream";
}

static void h_tokens(struct req *r, struct resp *w)
{
	const char *user = json_string_value(json_object_get(r->json, "user"));
	if (!user) {
		resp_error(r, w, 400, "who");
		return;
	}
	resp_header(w, "X-Subject-Token", "nubo-token-123");
	resp_json(w, 201, json_pack("{s:{s:s}}", "token", "user", user));
}

static void h_check(struct req *r, struct resp *w)
{
	const char *s = req_header(r, "X-Subject-Token");
	if (!s || strcmp(s, "nubo-token-123")) {
		resp_error(r, w, 404, "Could not find token.");
		return;
	}
	resp_json(w, 200, json_pack("{s:{s:s}}", "token", "user", "alice"));
}

/* The last body PUT to /put (the server runs one thread). */
static char put_body[4096];
static size_t put_len;

static void h_put(struct req *r, struct resp *w)
{
	if (!req_header(r, "Content-Length")) { /* as the object store answers */
		resp_error(r, w, 411, "length");
		return;
	}
	put_len = r->body_len < sizeof(put_body) ? r->body_len : sizeof(put_body);
	memcpy(put_body, r->body, put_len);
	resp_empty(w, 201);
}

static const struct httpd_route routes[] = {
    {"GET", "/blob", h_blob, 0, 0},
    {"PUT", "/put", h_put, 0, HTTPD_RAW_BODY},
    {"POST", "/tokens", h_tokens, 0, 0},
    {"GET", "/tokens", h_check, 0, 0},
};
HTTPD_TABLE(table, routes, NULL);
static const struct httpd_table *const tables[] = {&table};

static struct httpd_config cfg = {
    .listen_address = "127.0.0.1",
    .threads = 1,
    .max_connections = 16,
    .max_connections_per_ip = 16,
    .idle_timeout = 5,
    .header_timeout = 5,
    .max_body = 4096,
    .max_stream = 4096,
    .stream_dir = "/tmp",
    .tables = tables,
    .ntables = 1,
};

static struct httpd *srv;
static char base[64];

static int setup(void **state)
{
	int err = 0;
	assert_int_equal(http_client_init(), 0);
	srv = httpd_start(&cfg, &err);
	assert_non_null(srv);
	snprintf(base, sizeof(base), "http://127.0.0.1:%u", httpd_port(srv));
	return 0;
}

static int teardown(void **state)
{
	httpd_stop(srv);
	return 0;
}

static int temp_fd(void)
{
	char path[] = "/tmp/nubo-http-client.XXXXXX";
	int fd = mkostemp(path, O_CLOEXEC);
	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

static void get_into_file(void **state)
{
	char url[128], err[256];
	snprintf(url, sizeof(url), "%s/blob", base);
	const char *const hdrs[] = {"X-Key: secret", NULL};
	struct http_get g = {.url = url, .headers = hdrs, .max_bytes = 1 << 20};
	int fd = temp_fd();
	long status = 0;
	assert_int_equal(http_client_get_fd(&g, fd, &status, err, sizeof(err)), 0);
	assert_int_equal(status, 200);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_int_equal(sb.st_size, BLOB_LEN);
	char first[4];
	assert_int_equal(pread(fd, first, 3, 26), 3);
	assert_memory_equal(first, "abc", 3);
	close(fd);

	/* over the bound: -EFBIG, whatever was written is the caller's to drop */
	g.max_bytes = 1000;
	fd = temp_fd();
	assert_int_equal(http_client_get_fd(&g, fd, NULL, err, sizeof(err)), -EFBIG);
	close(fd);

	/* the key is missing: an HTTP error, with its status */
	g.max_bytes = 1 << 20;
	g.headers = NULL;
	fd = temp_fd();
	assert_int_equal(http_client_get_fd(&g, fd, &status, err, sizeof(err)), -EIO);
	assert_int_equal(status, 401);
	assert_null(strstr(err, "secret"));
	close(fd);
}

static void refused(void **state)
{
	char err[256];
	struct http_get g = {.url = "http://127.0.0.1:1/x", .max_bytes = 10};
	int fd = temp_fd();
	long status = -1;
	assert_int_equal(http_client_get_fd(&g, fd, &status, err, sizeof(err)), -EIO);
	assert_int_equal(status, 0);
	g.url = "file:///etc/passwd"; /* only http and https */
	assert_int_equal(http_client_get_fd(&g, fd, &status, err, sizeof(err)), -EIO);
	struct stat sb;
	fstat(fd, &sb);
	assert_int_equal(sb.st_size, 0);
	close(fd);
}

static void json_exchange(void **state)
{
	char url[128], err[256];
	snprintf(url, sizeof(url), "%s/tokens", base);
	json_t *body = json_pack("{s:s}", "user", "alice");
	struct http_json q = {
	    .method = "POST", .url = url, .body = body, .want_header = "X-Subject-Token"};
	struct http_json_answer a;
	assert_int_equal(http_client_json(&q, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.header, "nubo-token-123");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(a.json, "token"), "user")), "alice");
	http_client_answer_release(&a);
	json_decref(body);

	const char *const hdrs[] = {"X-Subject-Token: nubo-token-123", NULL};
	struct http_json check = {.method = "GET", .url = url, .headers = hdrs};
	assert_int_equal(http_client_json(&check, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status, 200);
	assert_string_equal(a.header, "");
	http_client_answer_release(&a);

	const char *const bad[] = {"X-Subject-Token: other", NULL};
	check.headers = bad;
	assert_int_equal(http_client_json(&check, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status, 404);
	assert_non_null(a.json); /* the error body, parsed */
	http_client_answer_release(&a);

	struct http_json down = {.method = "GET", .url = "http://127.0.0.1:1/tokens"};
	assert_int_equal(http_client_json(&down, &a, err, sizeof(err)), -EIO);
	assert_null(a.json);
}

/* PUT of a whole file and of a part of it (the swift image store's segments). */
static void put_parts(void **state)
{
	char url[128], err[256];
	snprintf(url, sizeof(url), "%s/put", base);
	int fd = temp_fd();
	assert_int_equal(write(fd, "0123456789", 10), 10);
	struct http_put p = {.url = url};
	long status = 0;
	assert_int_equal(http_client_put_fd(&p, fd, &status, err, sizeof(err)), 0);
	assert_int_equal(status, 201);
	assert_int_equal(put_len, 10);
	assert_memory_equal(put_body, "0123456789", 10);
	p.offset = 3;
	p.length = 4;
	assert_int_equal(http_client_put_fd(&p, fd, &status, err, sizeof(err)), 0);
	assert_int_equal(put_len, 4);
	assert_memory_equal(put_body, "3456", 4);
	p.offset = 8; /* the last bytes */
	p.length = 2;
	assert_int_equal(http_client_put_fd(&p, fd, &status, err, sizeof(err)), 0);
	assert_int_equal(put_len, 2);
	assert_memory_equal(put_body, "89", 2);
	p.offset = 8; /* past the end: refused before anything is sent */
	p.length = 3;
	put_len = 0;
	assert_int_equal(http_client_put_fd(&p, fd, &status, err, sizeof(err)), -EIO);
	assert_int_equal(put_len, 0);
	p.offset = -1;
	p.length = 1;
	assert_int_equal(http_client_put_fd(&p, fd, &status, err, sizeof(err)), -EIO);
	close(fd);

	/* a bodiless PUT of the JSON exchange still says its length (a DLO manifest) */
	struct http_json q = {.method = "PUT", .url = url};
	struct http_json_answer a;
	put_len = 99;
	assert_int_equal(http_client_json(&q, &a, err, sizeof(err)), 0);
	assert_int_equal(a.status, 201);
	assert_int_equal(put_len, 0);
	http_client_answer_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(get_into_file),
	    cmocka_unit_test(refused),
	    cmocka_unit_test(json_exchange),
	    cmocka_unit_test(put_parts),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

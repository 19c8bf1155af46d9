/* CURVE encryption and client allow-listing (ZAP) for the scheduler <-> agent links. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "conf.h"
#include "xalloc.h"

#define Z85_KEY_LEN 40
#define ZAP_MAX_CLIENTS 256

static pthread_t zap_thread;
static int zap_running;
static void *zap_sock;
static char zap_allowed[ZAP_MAX_CLIENTS][Z85_KEY_LEN + 1];
/* The host name a key is bound to ("" = any); it becomes the connection's User-Id,
 * which bus_recv() compares with the routing id the peer claims. */
static char zap_host[ZAP_MAX_CLIENTS][64];
static int zap_n;

static int key_ok(const char *k)
{
	return k && strlen(k) == Z85_KEY_LEN;
}

static int set_key(void *sock, int opt, const char *z85)
{
	return zmq_setsockopt(sock, opt, z85, Z85_KEY_LEN) < 0 ? -errno : 0;
}

/* ZAP (RFC 27): one request per connecting client; frames: version, request id,
 * domain, address, identity, mechanism, then the client public key (32 bytes). */
static void *zap_main(void *arg)
{
	(void)arg;
	while (zap_running) {
		zmq_msg_t frames[7];
		int n = 0, more = 1;
		while (more && n < 7) {
			zmq_msg_init(&frames[n]);
			if (zmq_msg_recv(&frames[n], zap_sock, 0) < 0) {
				zmq_msg_close(&frames[n]);
				goto done;
			}
			more = zmq_msg_more(&frames[n]);
			n++;
		}
		while (more) { /* drain anything unexpected */
			zmq_msg_t extra;
			zmq_msg_init(&extra);
			zmq_msg_recv(&extra, zap_sock, 0);
			more = zmq_msg_more(&extra);
			zmq_msg_close(&extra);
		}
		int allow = 0;
		const char *user = "";
		if (n == 7 && zmq_msg_size(&frames[6]) == 32) {
			char z85[Z85_KEY_LEN + 1];
			zmq_z85_encode(z85, zmq_msg_data(&frames[6]), 32);
			for (int i = 0; i < zap_n && !allow; i++)
				if (!strcmp(z85, zap_allowed[i])) {
					allow = 1;
					user = zap_host[i];
				}
		}
		const char *code = allow ? "200" : "400";
		const char *text = allow ? "OK" : "client key not allowed";
		zmq_send(zap_sock, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(zap_sock, n > 1 ? zmq_msg_data(&frames[1]) : "",
		         n > 1 ? zmq_msg_size(&frames[1]) : 0, ZMQ_SNDMORE);
		zmq_send(zap_sock, code, 3, ZMQ_SNDMORE);
		zmq_send(zap_sock, text, strlen(text), ZMQ_SNDMORE);
		zmq_send(zap_sock, user, strlen(user), ZMQ_SNDMORE);
		zmq_send(zap_sock, "", 0, 0);
		for (int i = 0; i < n; i++)
			zmq_msg_close(&frames[i]);
	}
done:
	zmq_close(zap_sock); /* else zmq_ctx_term waits for it forever */
	return NULL;
}

static int zap_start(void *ctx, const char *allowed)
{
	char *list = xstrdup(allowed), *save = NULL;
	zap_n = 0;
	for (char *t = strtok_r(list, ", ", &save); t && zap_n < ZAP_MAX_CLIENTS;
	     t = strtok_r(NULL, ", ", &save)) {
		/* "host=KEY" binds the key to a host name; a bare "KEY" may claim any name.
		 * Z85 has '=' in its alphabet, so the key is always the last 40 characters. */
		size_t len = strlen(t);
		const char *key = len >= Z85_KEY_LEN ? t + len - Z85_KEY_LEN : t;
		size_t hlen = (size_t)(key - t);
		if (!key_ok(key) || (hlen > 0 && (t[hlen - 1] != '=' ||
		                                  hlen - 1 >= sizeof(zap_host[0]) || hlen == 1))) {
			free(list);
			return -EINVAL;
		}
		snprintf(zap_host[zap_n], sizeof(zap_host[0]), "%.*s", hlen ? (int)(hlen - 1) : 0,
		         t);
		strcpy(zap_allowed[zap_n++], key);
	}
	free(list);
	zap_sock = zmq_socket(ctx, ZMQ_REP);
	int linger = 0;
	zmq_setsockopt(zap_sock, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(zap_sock, "inproc://zeromq.zap.01") < 0) {
		int e = errno;
		zmq_close(zap_sock);
		zap_sock = NULL;
		return -e;
	}
	zap_running = 1;
	if (pthread_create(&zap_thread, NULL, zap_main, NULL) != 0) {
		zap_running = 0;
		zmq_close(zap_sock);
		zap_sock = NULL;
		return -EAGAIN;
	}
	return 0;
}

void bus_secure_stop(void)
{
	if (!zap_running)
		return;
	zap_running = 0;
	/* zmq_ctx_term makes the blocked recv fail with ETERM; the caller terms after us,
	 * so detach and let the thread exit then. */
	pthread_detach(zap_thread);
}

int bus_secure_server(void *ctx, void *sock, const struct conf *c)
{
	const char *sec = conf_get(c, "bus", "curve_server_secret", NULL);
	if (!sec || !*sec)
		return 0;
	if (!key_ok(sec))
		return -EINVAL;
	const char *allowed = conf_get(c, "bus", "curve_allowed_clients", NULL);
	if (allowed && *allowed) {
		int rc = zap_start(ctx, allowed);
		if (rc < 0)
			return rc;
	}
	int one = 1;
	if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) < 0)
		return -errno;
	return set_key(sock, ZMQ_CURVE_SECRETKEY, sec);
}

int bus_secure_client(void *sock, const struct conf *c)
{
	const char *srv = conf_get(c, "bus", "curve_server_public", NULL);
	if (!srv || !*srv)
		return 0;
	const char *pub = conf_get(c, "bus", "curve_client_public", NULL);
	const char *sec = conf_get(c, "bus", "curve_client_secret", NULL);
	if (!key_ok(srv) || !key_ok(pub) || !key_ok(sec))
		return -EINVAL;
	int rc = set_key(sock, ZMQ_CURVE_SERVERKEY, srv);
	if (!rc)
		rc = set_key(sock, ZMQ_CURVE_PUBLICKEY, pub);
	if (!rc)
		rc = set_key(sock, ZMQ_CURVE_SECRETKEY, sec);
	return rc;
}

/* Sending and receiving msg.h envelopes over ZeroMQ sockets. */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

int bus_send(void *sock, const char *peer, const struct msg *m)
{
	char *text = msg_encode(m);
	if (!text)
		return -EINVAL;
	int rc = 0;
	if (peer && zmq_send(sock, peer, strlen(peer), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		rc = -errno;
		goto out;
	}
	if (zmq_send(sock, text, strlen(text), ZMQ_DONTWAIT) < 0)
		rc = -errno;
out:
	explicit_bzero(text, strlen(text)); /* a task may carry an NBD key (psk) */
	free(text);
	return rc;
}

/* Drains the remaining frames of a multipart message. */
static void drain(void *sock)
{
	int more = 0;
	size_t sz = sizeof(more);
	while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
		zmq_msg_t f;
		zmq_msg_init(&f);
		zmq_msg_recv(&f, sock, 0);
		zmq_msg_close(&f);
	}
}

/* Receives one frame into f (initialised here, closed again on failure). Returns 0
 * or a negative errno (-EAGAIN under ZMQ_DONTWAIT when nothing waits). */
static int frame_recv(void *sock, zmq_msg_t *f, int flags)
{
	zmq_msg_init(f);
	if (zmq_msg_recv(f, sock, flags) < 0) {
		int e = errno;
		zmq_msg_close(f);
		return -e;
	}
	return 0;
}

/* The other agents of one machine (nubo-storage as "<host>-storage") share its key:
 * a peer may be the key's host or that host followed by one of these suffixes. */
int bus_peer_same_host(const char *uid, const char *peer)
{
	static const char *const suffixes[] = {"-storage"};
	size_t n = strlen(uid);
	if (strncmp(uid, peer, n))
		return 0;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (!strcmp(peer + n, suffixes[i]))
			return 1;
	return 0;
}

int bus_recv(void *sock, char *peer, size_t peerlen, struct msg *out, int flags, char *err,
             size_t errlen)
{
	zmq_msg_t f;
	memset(out, 0, sizeof(*out));
	out->kind = MSG_WAKE;
	int rc;
	if (peer) {
		rc = frame_recv(sock, &f, flags);
		if (rc < 0)
			return rc;
		size_t n = zmq_msg_size(&f);
		if (n >= peerlen || !zmq_msg_more(&f)) {
			zmq_msg_close(&f);
			drain(sock);
			snprintf(err, errlen, "bad routing frame");
			return -EINVAL;
		}
		memcpy(peer, zmq_msg_data(&f), n);
		peer[n] = '\0';
		zmq_msg_close(&f);
		flags = 0; /* the rest of a multipart message is already here */
	}
	rc = frame_recv(sock, &f, flags);
	if (rc < 0)
		return rc;
	int more = zmq_msg_more(&f);
	/* Over CURVE with a host-bound key, ZAP set the User-Id: the routing id the peer
	 * chose must be that host, or it could pose as another compute host. */
	const char *uid = peer ? zmq_msg_gets(&f, "User-Id") : NULL;
	if (uid && *uid && strcmp(uid, peer) && !bus_peer_same_host(uid, peer)) {
		zmq_msg_close(&f);
		if (more)
			drain(sock);
		snprintf(err, errlen, "peer \"%.64s\" authenticated as \"%.64s\"", peer, uid);
		return -EPERM;
	}
	rc = msg_decode(zmq_msg_data(&f), zmq_msg_size(&f), out, err, errlen);
	explicit_bzero(zmq_msg_data(&f), zmq_msg_size(&f)); /* a task may carry an NBD key */
	zmq_msg_close(&f);
	if (more) {
		drain(sock);
		if (rc == 0) {
			msg_release(out);
			snprintf(err, errlen, "unexpected extra frames");
			rc = -EINVAL;
		}
	}
	return rc;
}

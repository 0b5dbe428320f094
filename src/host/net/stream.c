// SPDX-License-Identifier: MIT
/*
 * --net stream=PATH: a unix stream socket carrying QEMU's stream framing, a 4-byte big-endian
 * length then the frame (QEMU's -netdev stream, passt's qemu socket, socket_vmnet). A length
 * over NET_FRAME_MAX means the peer speaks something else: the connection is dropped. A peer
 * that goes away takes the link down; the path is tried again every second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/net/net_backend.h"
#include "util/log.h"

#define STREAM_RBUF	(256u * 1024)
#define STREAM_RETRY_MS 1000
/* Reads per callback: a flooding peer must not keep the loop from everything else. */
#define STREAM_READS  16
#define STREAM_PREFIX 4u
/* the device's iovec (a header and a queue's worth of segments) plus our prefix */
#define STREAM_IOV_MAX 260

struct net_stream {
	struct net_backend b;
	char *path;
	int fd; /* -1 while the peer is away */
	struct ev_timer *retry;
	uint8_t *rbuf;
	size_t rlen, rpos; /* bytes in rbuf; the next frame starts at rpos */
	bool rx_held; /* the device said -EAGAIN for the frame at rpos */
	uint8_t *wbuf; /* the unsent tail of one frame */
	size_t wlen, wpos;
	bool tx_waiting; /* we said -EAGAIN to the device: owe it tx_resume */
};

static int stream_connect(const char *path, int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* Non-blocking from the start: a peer with a full backlog must not stall the loop. */
	fd = net_socket(AF_UNIX, SOCK_STREAM);
	if (fd < 0)
		return fd;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

static void stream_io(void *opaque, int fd, unsigned revents);

static unsigned stream_events(const struct net_stream *s)
{
	return (s->rx_held ? 0 : EV_IN) | (s->wpos < s->wlen ? EV_OUT : 0);
}

static void stream_rearm(struct net_stream *s)
{
	if (s->fd >= 0)
		evloop_mod_fd(s->b.loop, s->fd, stream_events(s));
}

static void stream_down(struct net_stream *s, const char *why)
{
	pr_warn("%s: %s; link down, trying again every second", s->b.name, why);
	evloop_del_fd(s->b.loop, s->fd);
	close(s->fd);
	s->fd = -1;
	s->rlen = s->rpos = s->wlen = s->wpos = 0;
	s->rx_held = false;
	s->b.port.link(s->b.port.dev, false);
	ev_timer_arm(s->retry, evloop_now_ms() + STREAM_RETRY_MS);
	if (s->tx_waiting) {
		/* What the guest sends now is dropped, as on a pulled cable. */
		s->tx_waiting = false;
		s->b.port.tx_resume(s->b.port.dev);
	}
}

static void stream_retry(void *opaque)
{
	struct net_stream *s = opaque;
	int fd = -1;

	if (s->fd >= 0)
		return;
	if (stream_connect(s->path, &fd) < 0 ||
	    evloop_add_fd(s->b.loop, fd, EV_IN, stream_io, s) < 0) {
		if (fd >= 0)
			close(fd);
		ev_timer_arm(s->retry, evloop_now_ms() + STREAM_RETRY_MS);
		return;
	}
	s->fd = fd;
	pr_info("%s: connected again; link up", s->b.name);
	s->b.port.link(s->b.port.dev, true);
}

/* Hands over every complete frame in rbuf. False when the connection was dropped. */
static bool stream_parse(struct net_stream *s)
{
	while (s->rlen - s->rpos >= STREAM_PREFIX) {
		const uint8_t *p = s->rbuf + s->rpos;
		uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
			       p[3];
		char why[96];

		if (len > NET_FRAME_MAX) {
			snprintf(why, sizeof(why), "the peer sent a %u-byte frame (limit %u)", len,
				 NET_FRAME_MAX);
			stream_down(s, why);
			return false;
		}
		if (s->rlen - s->rpos - STREAM_PREFIX < len)
			break;
		if (len && s->b.port.receive(s->b.port.dev, p + STREAM_PREFIX, len) == -EAGAIN) {
			s->rx_held = true;
			stream_rearm(s);
			break;
		}
		s->rpos += STREAM_PREFIX + len;
	}
	return true;
}

static void stream_read(struct net_stream *s)
{
	for (int i = 0; i < STREAM_READS && !s->rx_held; i++) {
		ssize_t n;

		if (s->rpos) {
			memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
			s->rlen -= s->rpos;
			s->rpos = 0;
		}
		n = read(s->fd, s->rbuf + s->rlen, STREAM_RBUF - s->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			stream_down(s, n ? "the peer's connection failed" :
					   "the peer closed the connection");
			return;
		}
		s->rlen += (size_t)n;
		if (!stream_parse(s))
			return;
	}
}

/* Sends the rest of a frame the socket took only in part. False when the peer is gone. */
static bool stream_flush(struct net_stream *s)
{
	while (s->wpos < s->wlen) {
		struct iovec v = { .iov_base = s->wbuf + s->wpos, .iov_len = s->wlen - s->wpos };
		struct msghdr msg = { .msg_iov = &v, .msg_iovlen = 1 };
		ssize_t n = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return true;
		if (n < 0) {
			stream_down(s, "the peer's connection failed");
			return false;
		}
		s->wpos += (size_t)n;
	}
	s->wpos = s->wlen = 0;
	stream_rearm(s);
	if (s->tx_waiting) {
		s->tx_waiting = false;
		s->b.port.tx_resume(s->b.port.dev);
	}
	return true;
}

static void stream_io(void *opaque, int fd, unsigned revents)
{
	struct net_stream *s = opaque;

	if ((revents & EV_OUT) && !stream_flush(s))
		return;
	if (revents & (EV_IN | EV_HUP))
		stream_read(s);
}

static int stream_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	struct net_stream *s = (struct net_stream *)b;
	struct iovec v[STREAM_IOV_MAX];
	struct msghdr msg = { .msg_iov = v };
	size_t len = net_iov_len(iov, iovcnt), total = len + STREAM_PREFIX, done;
	uint8_t prefix[STREAM_PREFIX] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
					  (uint8_t)(len >> 8), (uint8_t)len };
	ssize_t n;

	if (s->fd < 0)
		return -ENOTCONN;
	if (s->wpos < s->wlen) {
		s->tx_waiting = true;
		return -EAGAIN;
	}
	if (iovcnt + 1 > STREAM_IOV_MAX || len > NET_FRAME_MAX)
		return -EMSGSIZE;
	v[0] = (struct iovec){ .iov_base = prefix, .iov_len = STREAM_PREFIX };
	memcpy(v + 1, iov, iovcnt * sizeof(*iov));
	msg.msg_iovlen = iovcnt + 1;
	do {
		n = sendmsg(s->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN) {
		stream_down(s, "the peer's connection failed");
		return -EPIPE;
	}
	done = n < 0 ? 0 : (size_t)n;
	if (done == total)
		return 0;
	/* The stream must stay framed: keep the tail and send it before anything else. */
	for (size_t i = 0, off = 0; i < iovcnt + 1u; i++) {
		size_t l = v[i].iov_len;

		if (done < off + l) {
			size_t skip = done > off ? done - off : 0;

			memcpy(s->wbuf + s->wlen, (uint8_t *)v[i].iov_base + skip, l - skip);
			s->wlen += l - skip;
		}
		off += l;
	}
	stream_rearm(s);
	return 0;
}

static void stream_rx_resume(struct net_backend *b)
{
	struct net_stream *s = (struct net_stream *)b;

	if (!s->rx_held || s->fd < 0)
		return;
	s->rx_held = false;
	if (stream_parse(s))
		stream_rearm(s);
}

static int stream_start(struct net_backend *b, struct errbuf *e)
{
	struct net_stream *s = (struct net_stream *)b;
	int r = evloop_add_fd(b->loop, s->fd, EV_IN, stream_io, s);

	if (r < 0)
		return err_set(e, r, "%s: event loop: %s", b->name, strerror(-r));
	return 0;
}

static void stream_destroy(struct net_backend *b)
{
	struct net_stream *s = (struct net_stream *)b;

	if (s->fd >= 0) {
		evloop_del_fd(b->loop, s->fd);
		close(s->fd);
	}
	ev_timer_free(s->retry);
	free(s->rbuf);
	free(s->wbuf);
	free(s->path);
	free(s);
}

static const struct net_backend_ops stream_ops = {
	.start = stream_start,
	.send = stream_send,
	.rx_resume = stream_rx_resume,
	.destroy = stream_destroy,
};

int net_stream_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **bp,
		    struct errbuf *e)
{
	struct net_stream *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return err_set(e, -ENOMEM, "out of memory");
	s->b = (struct net_backend){ .ops = &stream_ops, .loop = loop, .name = "stream" };
	s->fd = -1;
	s->path = strdup(cfg->target);
	s->rbuf = malloc(STREAM_RBUF);
	s->wbuf = malloc(NET_FRAME_MAX + STREAM_PREFIX);
	s->retry = evloop_timer_new(loop, stream_retry, s);
	if (!s->path || !s->rbuf || !s->wbuf || !s->retry) {
		stream_destroy(&s->b);
		return err_set(e, -ENOMEM, "out of memory");
	}
	r = stream_connect(cfg->target, &s->fd);
	if (r < 0) {
		stream_destroy(&s->b);
		return err_set(e, r, "--net stream=%s: cannot connect: %s", cfg->target,
			       strerror(-r));
	}
	*bp = &s->b;
	return 0;
}

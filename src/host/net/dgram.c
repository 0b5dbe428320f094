// SPDX-License-Identifier: MIT
/*
 * --net dgram=PATH: a unix datagram socket, one frame per datagram, as vfkit talks to gvproxy
 * (-listen-vfkit) and vmnet-helper. Like vfkit we bind a path of our own next to PATH so the peer
 * can answer, connect, and say "VFKT" first: gvproxy takes the sender of that datagram as its VM.
 * A datagram peer never hangs up; it is gone when a send is refused (its socket closed, or a
 * new one took the path). Then the link goes down and we connect and greet again every second.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/net/net_backend.h"
#include "util/log.h"

#define DGRAM_RETRY_MS 1000
#define DGRAM_READS    64
#define DGRAM_IOV_MAX  260
/* vfkit's sizes: a burst of full-size frames fits */
#define DGRAM_SNDBUF (1 << 20)
#define DGRAM_RCVBUF (4 << 20)

static const char dgram_hello[4] = { 'V', 'F', 'K', 'T' };

struct net_dgram {
	struct net_backend b;
	struct sockaddr_un peer;
	struct sockaddr_un local;
	bool bound;
	int fd;
	bool up;
	struct ev_timer *retry;
	uint8_t *rbuf; /* NET_FRAME_MAX + 1: a longer datagram shows as one byte too many */
	size_t held; /* length of a frame the device said -EAGAIN to */
	bool tx_waiting;
};

static int dgram_path(struct sockaddr_un *sa, const char *path)
{
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, strlen(path) + 1);
	return 0;
}

/* Connects to the peer's path and greets it. */
static int dgram_hello_peer(struct net_dgram *d)
{
	struct iovec v = { .iov_base = (void *)dgram_hello, .iov_len = sizeof(dgram_hello) };
	struct msghdr msg = { .msg_iov = &v, .msg_iovlen = 1 };

	if (connect(d->fd, (struct sockaddr *)&d->peer, sizeof(d->peer)) < 0)
		return -errno;
	if (sendmsg(d->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}

static unsigned dgram_events(const struct net_dgram *d)
{
	return (d->held ? 0 : EV_IN) | (d->tx_waiting ? EV_OUT : 0);
}

static void dgram_down(struct net_dgram *d, int err)
{
	if (!d->up)
		return;
	d->up = false;
	pr_warn("%s: the peer went away (%s); link down, trying again every second", d->b.name,
		strerror(err));
	d->b.port.link(d->b.port.dev, false);
	ev_timer_arm(d->retry, evloop_now_ms() + DGRAM_RETRY_MS);
	if (d->tx_waiting) {
		d->tx_waiting = false;
		evloop_mod_fd(d->b.loop, d->fd, dgram_events(d));
		d->b.port.tx_resume(d->b.port.dev);
	}
}

static void dgram_retry(void *opaque)
{
	struct net_dgram *d = opaque;

	if (d->up)
		return;
	if (dgram_hello_peer(d) < 0) {
		ev_timer_arm(d->retry, evloop_now_ms() + DGRAM_RETRY_MS);
		return;
	}
	d->up = true;
	pr_info("%s: the peer is back; link up", d->b.name);
	d->b.port.link(d->b.port.dev, true);
}

static bool dgram_peer_gone(int err)
{
	return err == ECONNREFUSED || err == ENOTCONN || err == EPIPE || err == ECONNRESET ||
	       err == ENOENT;
}

static void dgram_read(struct net_dgram *d)
{
	for (int i = 0; i < DGRAM_READS && !d->held; i++) {
		ssize_t n = read(d->fd, d->rbuf, NET_FRAME_MAX + 1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (dgram_peer_gone(errno))
				dgram_down(d, errno);
			return;
		}
		if (n == 0)
			continue;
		if ((size_t)n > NET_FRAME_MAX) {
			pr_warn_once("%s: dropped a datagram over %u bytes", d->b.name,
				     NET_FRAME_MAX);
			d->b.rx_dropped++;
			continue;
		}
		if (d->b.port.receive(d->b.port.dev, d->rbuf, (size_t)n) == -EAGAIN) {
			d->held = (size_t)n;
			evloop_mod_fd(d->b.loop, d->fd, dgram_events(d));
		}
	}
}

static void dgram_io(void *opaque, int fd, unsigned revents)
{
	struct net_dgram *d = opaque;

	if ((revents & EV_OUT) && d->tx_waiting) {
		d->tx_waiting = false;
		evloop_mod_fd(d->b.loop, d->fd, dgram_events(d));
		d->b.port.tx_resume(d->b.port.dev);
	}
	if (revents & (EV_IN | EV_HUP))
		dgram_read(d);
}

static int dgram_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	struct net_dgram *d = (struct net_dgram *)b;
	struct msghdr msg = { .msg_iov = (struct iovec *)iov, .msg_iovlen = iovcnt };
	ssize_t n;

	if (!d->up)
		return -ENOTCONN;
	do {
		n = sendmsg(d->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n >= 0)
		return 0;
	if (errno == EAGAIN || errno == ENOBUFS) {
		d->tx_waiting = true;
		evloop_mod_fd(d->b.loop, d->fd, dgram_events(d));
		return -EAGAIN;
	}
	if (dgram_peer_gone(errno)) {
		int err = errno;

		dgram_down(d, err);
		return -err;
	}
	return -errno;
}

static void dgram_rx_resume(struct net_backend *b)
{
	struct net_dgram *d = (struct net_dgram *)b;
	size_t len = d->held;

	if (!len)
		return;
	if (d->b.port.receive(d->b.port.dev, d->rbuf, len) == -EAGAIN)
		return;
	d->held = 0;
	evloop_mod_fd(d->b.loop, d->fd, dgram_events(d));
}

static int dgram_start(struct net_backend *b, struct errbuf *e)
{
	struct net_dgram *d = (struct net_dgram *)b;
	int r = evloop_add_fd(b->loop, d->fd, EV_IN, dgram_io, d);

	if (r < 0)
		return err_set(e, r, "%s: event loop: %s", b->name, strerror(-r));
	return 0;
}

static void dgram_destroy(struct net_backend *b)
{
	struct net_dgram *d = (struct net_dgram *)b;

	if (d->fd >= 0) {
		evloop_del_fd(b->loop, d->fd);
		close(d->fd);
	}
	if (d->bound)
		unlink(d->local.sun_path);
	ev_timer_free(d->retry);
	free(d->rbuf);
	free(d);
}

static const struct net_backend_ops dgram_ops = {
	.start = dgram_start,
	.send = dgram_send,
	.rx_resume = dgram_rx_resume,
	.destroy = dgram_destroy,
};

/* Our own address beside the peer's: PATH's directory is one both sides can reach. */
static int dgram_bind(struct net_dgram *d, const char *path)
{
	static unsigned seq;
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? (int)(slash - path) : 1;
	const char *dir = slash ? path : ".";
	char local[sizeof(d->local.sun_path)];
	int n;

	if (slash == path)
		dirlen = 0;
	n = snprintf(local, sizeof(local), "%.*s/ignition-%x-%x.sock", dirlen, dir,
		     (unsigned)getpid(), seq++);
	if (n < 0 || (size_t)n >= sizeof(local))
		return -ENAMETOOLONG;
	dgram_path(&d->local, local);
	unlink(local);
	if (bind(d->fd, (struct sockaddr *)&d->local, sizeof(d->local)) < 0)
		return -errno;
	d->bound = true;
	return 0;
}

static int dgram_setup(struct net_dgram *d, const char *path, struct errbuf *e)
{
	int sndbuf = DGRAM_SNDBUF, rcvbuf = DGRAM_RCVBUF, r;

	struct stat st;

	if (dgram_path(&d->peer, path) < 0)
		return err_set(e, -ENAMETOOLONG, "--net dgram=%s: path too long", path);
	/* Before our own path is made next to it: a typo must leave nothing behind. */
	if (stat(path, &st) < 0)
		return err_set(e, -errno, "--net dgram=%s: cannot reach the peer: %s", path,
			       strerror(errno));
	if (!S_ISSOCK(st.st_mode))
		return err_set(e, -ENOTSOCK, "--net dgram=%s: not a socket", path);
	d->fd = net_socket(AF_UNIX, SOCK_DGRAM);
	if (d->fd < 0) {
		r = d->fd;
		d->fd = -1;
		return err_set(e, r, "--net dgram=%s: socket: %s", path, strerror(-r));
	}
	/* Best effort: a smaller buffer only means more -EAGAIN. */
	setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	r = dgram_bind(d, path);
	if (r < 0)
		return err_set(e, r, "--net dgram=%s: cannot bind %s: %s", path,
			       d->local.sun_path[0] ? d->local.sun_path : "a local path",
			       strerror(-r));
	r = dgram_hello_peer(d);
	if (r < 0)
		return err_set(e, r, "--net dgram=%s: cannot reach the peer: %s", path,
			       strerror(-r));
	d->up = true;
	return 0;
}

int net_dgram_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **bp,
		   struct errbuf *e)
{
	struct net_dgram *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return err_set(e, -ENOMEM, "out of memory");
	d->b = (struct net_backend){ .ops = &dgram_ops, .loop = loop, .name = "dgram" };
	d->fd = -1;
	d->rbuf = malloc(NET_FRAME_MAX + 1);
	d->retry = evloop_timer_new(loop, dgram_retry, d);
	if (!d->rbuf || !d->retry) {
		dgram_destroy(&d->b);
		return err_set(e, -ENOMEM, "out of memory");
	}
	r = dgram_setup(d, cfg->target, e);
	if (r < 0) {
		dgram_destroy(&d->b);
		return r;
	}
	*bp = &d->b;
	return 0;
}

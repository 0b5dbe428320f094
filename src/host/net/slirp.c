// SPDX-License-Identifier: MIT
/*
 * --net user: in-process NAT through libslirp, as QEMU's and kvmtool's user networking. The
 * guest gets 10.0.2.15/24 by DHCP, 10.0.2.2 is the host's loopback, 10.0.2.3 forwards DNS to the
 * host's resolver; hostfwd listeners are opened here, before any VM exists.
 *
 * libslirp has its own poll model (fill a pollfd list, sleep, report revents): it plugs into the
 * event loop through a prepare/check hook. Before each wait the hook registers exactly the
 * sockets libslirp lists (with the loop; changes only cost a system call) and lets it shorten
 * the wait for its TCP timers; after the wait it hands libslirp the readiness the loop saw.
 * Everything libslirp does happens on the loop thread, so it needs no lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libslirp.h>

#include "host/net/net_backend.h"
#include "util/compiler.h"
#include "util/log.h"

/*
 * libslirp ends every TCP connection itself, so the guest's packets never reach a wire and the
 * link can be wider than Ethernet's: a guest TCP stream then costs one frame, one kick and one
 * pass of slirp's TCP per 16 KiB instead of per 1.5 KiB (8x the guest -> host throughput in the
 * rig). Not wider: Linux opens its receive window at 64 KiB rounded down to whole segments, and
 * at MTU 65520 that is a single segment, which stalled host -> guest transfers on delayed ACKs.
 * The guest learns the MTU from virtio-net's MTU field; the host fragments UDP and ICMP as usual.
 */
#define SLIRP_MTU 16384u

struct slirp_pollfd {
	unsigned events; /* EV_* registered with the loop */
	unsigned revents; /* seen by the loop since the last prepare */
	bool registered;
	bool listed; /* libslirp listed it in this round */
};

struct net_slirp {
	struct net_backend b;
	Slirp *slirp;
	struct slirp_pollfd *fds; /* indexed by descriptor */
	int nr_fds;
	uint8_t *txbuf;
	bool hooked;
};

struct slirp_timer {
	struct net_slirp *s;
	struct ev_timer *t;
	SlirpTimerId id;
	SlirpTimerCb cb; /* the pre-version-4 interface, if libslirp uses it */
	void *cb_opaque;
};

/* ---- libslirp's callbacks ---- */

static ssize_t slirp_cb_send(const void *buf, size_t len, void *opaque)
{
	struct net_slirp *s = opaque;

	/* No waiting here: TCP inside the NAT retransmits what the guest had no room for. */
	if (s->b.port.receive(s->b.port.dev, buf, len) == -EAGAIN)
		s->b.rx_dropped++;
	return (ssize_t)len;
}

static void slirp_cb_guest_error(const char *msg, void *opaque)
{
	pr_warn_once("user networking: guest error: %s", msg);
}

static int64_t slirp_cb_clock(void *opaque)
{
	struct timespec ts;

	/* The clock of evloop_now_ms(), so timer deadlines mean the same to both. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void slirp_timer_fire(void *opaque)
{
	struct slirp_timer *st = opaque;

	if (st->cb)
		st->cb(st->cb_opaque);
	else
		slirp_handle_timer(st->s->slirp, st->id, st->cb_opaque);
}

static void *slirp_timer_make(struct net_slirp *s, SlirpTimerId id, SlirpTimerCb cb,
			      void *cb_opaque)
{
	struct slirp_timer *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	*st = (struct slirp_timer){ .s = s, .id = id, .cb = cb, .cb_opaque = cb_opaque };
	st->t = evloop_timer_new(s->b.loop, slirp_timer_fire, st);
	if (!st->t) {
		free(st);
		return NULL;
	}
	return st;
}

static void *slirp_cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	return slirp_timer_make(opaque, id, NULL, cb_opaque);
}

static void *slirp_cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	return slirp_timer_make(opaque, SLIRP_TIMER_NUM, cb, cb_opaque);
}

static void slirp_cb_timer_free(void *timer, void *opaque)
{
	struct slirp_timer *st = timer;

	if (!st)
		return;
	ev_timer_free(st->t);
	free(st);
}

static void slirp_cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct slirp_timer *st = timer;

	if (st)
		ev_timer_arm(st->t, expire_ms);
}

static void slirp_fd_forget(struct net_slirp *s, int fd)
{
	if (fd < 0 || fd >= s->nr_fds || !s->fds[fd].registered)
		return;
	evloop_del_fd(s->b.loop, fd);
	s->fds[fd] = (struct slirp_pollfd){ 0 };
}

static void slirp_cb_register_poll_fd(int fd, void *opaque)
{
}

/* libslirp says so before it closes a socket: a reused number must not look registered. */
static void slirp_cb_unregister_poll_fd(int fd, void *opaque)
{
	slirp_fd_forget(opaque, fd);
}

static void slirp_cb_notify(void *opaque)
{
	/* Everything runs on the loop thread, which looks at libslirp again before it sleeps. */
}

static const SlirpCb slirp_callbacks = {
	.send_packet = slirp_cb_send,
	.guest_error = slirp_cb_guest_error,
	.clock_get_ns = slirp_cb_clock,
	.timer_new = slirp_cb_timer_new,
	.timer_free = slirp_cb_timer_free,
	.timer_mod = slirp_cb_timer_mod,
	.register_poll_fd = slirp_cb_register_poll_fd,
	.unregister_poll_fd = slirp_cb_unregister_poll_fd,
	.notify = slirp_cb_notify,
	.timer_new_opaque = slirp_cb_timer_new_opaque,
};

/* ---- the event loop hook ---- */

static void slirp_fd_ready(void *opaque, int fd, unsigned revents)
{
	struct net_slirp *s = opaque;

	if (fd < s->nr_fds)
		s->fds[fd].revents |= revents;
}

static int slirp_fds_grow(struct net_slirp *s, int fd)
{
	int n = s->nr_fds ? s->nr_fds : 64;
	struct slirp_pollfd *p;

	while (n <= fd)
		n *= 2;
	if (n == s->nr_fds)
		return 0;
	p = realloc(s->fds, (size_t)n * sizeof(*p));
	if (!p)
		return -ENOMEM;
	memset(p + s->nr_fds, 0, (size_t)(n - s->nr_fds) * sizeof(*p));
	s->fds = p;
	s->nr_fds = n;
	return 0;
}

static int slirp_add_poll(int fd, int events, void *opaque)
{
	struct net_slirp *s = opaque;
	unsigned ev = (events & (SLIRP_POLL_IN | SLIRP_POLL_PRI) ? EV_IN : 0) |
		      (events & SLIRP_POLL_OUT ? EV_OUT : 0);
	struct slirp_pollfd *p;

	if (fd < 0 || slirp_fds_grow(s, fd) < 0)
		return -1;
	p = &s->fds[fd];
	if (!p->registered) {
		if (evloop_add_fd(s->b.loop, fd, ev, slirp_fd_ready, s) < 0)
			return -1;
		p->registered = true;
		p->events = ev;
	} else if (p->events != ev) {
		if (evloop_mod_fd(s->b.loop, fd, ev) < 0)
			return -1;
		p->events = ev;
	}
	p->listed = true;
	return fd;
}

static int slirp_get_revents(int idx, void *opaque)
{
	struct net_slirp *s = opaque;
	unsigned r;

	if (idx < 0 || idx >= s->nr_fds)
		return 0;
	r = s->fds[idx].revents;
	return (r & EV_IN ? SLIRP_POLL_IN : 0) | (r & EV_OUT ? SLIRP_POLL_OUT : 0) |
	       (r & EV_HUP ? SLIRP_POLL_HUP : 0);
}

static int slirp_prepare(void *opaque)
{
	struct net_slirp *s = opaque;
	uint32_t timeout = UINT32_MAX;

	for (int fd = 0; fd < s->nr_fds; fd++) {
		s->fds[fd].listed = false;
		s->fds[fd].revents = 0;
	}
	slirp_pollfds_fill(s->slirp, &timeout, slirp_add_poll, s);
	/* What libslirp no longer polls stops waking us. */
	for (int fd = 0; fd < s->nr_fds; fd++)
		if (s->fds[fd].registered && !s->fds[fd].listed)
			slirp_fd_forget(s, fd);
	return timeout == UINT32_MAX ? -1 : (int)min_u64(timeout, INT_MAX);
}

static void slirp_check(void *opaque)
{
	struct net_slirp *s = opaque;

	slirp_pollfds_poll(s->slirp, 0, slirp_get_revents, s);
}

/* ---- backend ops ---- */

static int slirp_send(struct net_backend *b, const struct iovec *iov, unsigned iovcnt)
{
	struct net_slirp *s = (struct net_slirp *)b;
	size_t len = 0;

	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > NET_FRAME_MAX - len)
			return -EMSGSIZE;
		memcpy(s->txbuf + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
	}
	slirp_input(s->slirp, s->txbuf, (int)len);
	return 0;
}

static int slirp_start(struct net_backend *b, struct errbuf *e)
{
	struct net_slirp *s = (struct net_slirp *)b;
	int r = evloop_add_hook(b->loop, slirp_prepare, slirp_check, s);

	if (r < 0)
		return err_set(e, r, "--net user: too many user-mode NICs for one event loop");
	s->hooked = true;
	return 0;
}

static void slirp_destroy(struct net_backend *b)
{
	struct net_slirp *s = (struct net_slirp *)b;

	/*
	 * The loop has stopped (or never ran): its hook is left behind but never called again,
	 * and the loop frees its own records of our descriptors.
	 */
	if (s->slirp)
		slirp_cleanup(s->slirp);
	for (int fd = 0; fd < s->nr_fds; fd++)
		if (s->fds[fd].registered)
			evloop_del_fd(b->loop, fd);
	free(s->fds);
	free(s->txbuf);
	free(s);
}

static const struct net_backend_ops slirp_ops = {
	.start = slirp_start,
	.send = slirp_send,
	.destroy = slirp_destroy,
};

static int slirp_hostfwd(struct net_slirp *s, const struct net_hostfwd *f, struct errbuf *e)
{
	struct in_addr host = { .s_addr = htonl(INADDR_ANY) }, guest;
	const char *proto = f->udp ? "udp" : "tcp";

	inet_pton(AF_INET, "10.0.2.15", &guest);
	if (f->host_addr[0] && inet_pton(AF_INET, f->host_addr, &host) != 1)
		return err_set(e, -EINVAL, "--net hostfwd=%s:%s:%u: not an IPv4 address", proto,
			       f->host_addr, f->host_port);
	errno = 0;
	if (slirp_add_hostfwd(s->slirp, f->udp, host, f->host_port, guest, f->guest_port) < 0)
		return err_set(e, -EADDRINUSE, "--net hostfwd=%s:%s:%u: cannot listen there: %s",
			       proto, f->host_addr, f->host_port,
			       strerror(errno ? errno : EADDRINUSE));
	return 0;
}

int net_slirp_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **bp,
		   struct errbuf *e)
{
	struct net_slirp *s = calloc(1, sizeof(*s));
	SlirpConfig sc = {
		.version = 4,
		.in_enabled = true,
		.in6_enabled = true,
		.vprefix_len = 64,
		.if_mtu = SLIRP_MTU,
		.if_mru = SLIRP_MTU,
	};

	if (!s || !(s->txbuf = malloc(NET_FRAME_MAX))) {
		free(s);
		return err_set(e, -ENOMEM, "out of memory");
	}
	s->b = (struct net_backend){
		.ops = &slirp_ops, .loop = loop, .name = "user", .mtu = SLIRP_MTU
	};
	inet_pton(AF_INET, "10.0.2.0", &sc.vnetwork);
	inet_pton(AF_INET, "255.255.255.0", &sc.vnetmask);
	inet_pton(AF_INET, "10.0.2.2", &sc.vhost);
	inet_pton(AF_INET, "10.0.2.15", &sc.vdhcp_start);
	inet_pton(AF_INET, "10.0.2.3", &sc.vnameserver);
	/* QEMU's IPv6 defaults, so guests and docs need not care which VMM they run on */
	inet_pton(AF_INET6, "fec0::", &sc.vprefix_addr6);
	inet_pton(AF_INET6, "fec0::2", &sc.vhost6);
	inet_pton(AF_INET6, "fec0::3", &sc.vnameserver6);
	s->slirp = slirp_new(&sc, &slirp_callbacks, s);
	if (!s->slirp) {
		slirp_destroy(&s->b);
		return err_set(e, -ENOMEM, "--net user: libslirp failed to start");
	}
	for (unsigned i = 0; i < cfg->nr_hostfwd; i++) {
		int r = slirp_hostfwd(s, &cfg->hostfwd[i], e);

		if (r < 0) {
			slirp_destroy(&s->b);
			return r;
		}
	}
	*bp = &s->b;
	return 0;
}

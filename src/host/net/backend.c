// SPDX-License-Identifier: MIT
/* Which backend a --net names, and what each one needs from the sandbox. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/ioctl.h>

#ifdef __linux__
#include <linux/if_tun.h>
#endif

#include "build_config.h"
#include "host/net/net_backend.h"

#ifndef __linux__
/* tap.c is built on Linux only (meson.build); elsewhere --net tap= names the alternatives. */
int net_tap_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **bp,
		 struct errbuf *e)
{
	return err_set(e, -ENOTSUP,
		       "--net tap=%s: tap interfaces are Linux only (on macOS: "
		       "--net dgram= with vmnet-helper, or --net stream= with "
		       "socket_vmnet)",
		       cfg->target);
}
#endif

int net_backend_open(const struct net_config *cfg, unsigned index, struct evloop *loop,
		     struct net_backend **b, struct errbuf *e)
{
	int r;

	switch (cfg->mode) {
	case NET_USER:
		r = net_slirp_open(cfg, loop, b, e);
		break;
	case NET_TAP:
		r = net_tap_open(cfg, loop, b, e);
		break;
	case NET_STREAM:
		r = net_stream_open(cfg, loop, b, e);
		break;
	case NET_DGRAM:
		r = net_dgram_open(cfg, loop, b, e);
		break;
	default:
		return err_set(e, -EINVAL, "--net: unknown mode");
	}
	if (r < 0)
		return r;
	if (cfg->mode == NET_USER)
		snprintf((*b)->name_buf, sizeof((*b)->name_buf), "eth%u (user)", index);
	else
		snprintf((*b)->name_buf, sizeof((*b)->name_buf), "eth%u (%s %s)", index,
			 cfg->mode == NET_TAP	 ? "tap" :
			 cfg->mode == NET_STREAM ? "stream" :
						   "dgram",
			 cfg->target);
	(*b)->name = (*b)->name_buf;
	return 0;
}

/*
 * What each backend does once the sandbox is on, beyond the base list (read, write, close,
 * poll/epoll, fcntl, fstat ...): tests/unit/host/test_net_sandbox.c runs each under exactly
 * these. For libslirp, shutdown (the guest's FIN) and getsockopt/getpeername come from its
 * source, for paths that test does not take.
 */
/* clang-format off */
static const char *const slirp_syscalls[] = {
	/* the NAT's sockets to the outside: TCP and UDP from the guest, hostfwd accepts */
	"socket", "connect", "accept", "accept4", "sendto", "recvfrom", "recvmsg", "setsockopt",
	"getsockopt", "getsockname", "getpeername", "shutdown",
	/* DNS: libslirp reads /etc/resolv.conf (again when it changes) to find the host's resolver */
	"openat",
	NULL,
};
/* clang-format on */
static const char *const tap_syscalls[] = { NULL };
/* reconnecting means a new socket */
static const char *const stream_syscalls[] = { "sendmsg", "socket", "connect", NULL };
/* reconnecting re-connects the bound socket; the bound path is removed at exit */
static const char *const dgram_syscalls[] = { "sendmsg", "connect", "unlink", "unlinkat", NULL };

const char *const *net_backend_syscalls(enum net_mode mode)
{
	switch (mode) {
	case NET_USER:
		return slirp_syscalls;
	case NET_TAP:
		return tap_syscalls;
	case NET_STREAM:
		return stream_syscalls;
	case NET_DGRAM:
		return dgram_syscalls;
	}
	return NULL;
}

#ifdef TUNSETOFFLOAD
static const unsigned long tap_ioctls[] = { TUNSETOFFLOAD, 0 };
#else
static const unsigned long tap_ioctls[] = { 0 };
#endif
/* libslirp asks a UDP socket how much its next datagram holds before reading it */
static const unsigned long slirp_ioctls[] = { FIONREAD, 0 };

const unsigned long *net_backend_ioctls(enum net_mode mode)
{
	if (mode == NET_TAP)
		return tap_ioctls;
	if (mode == NET_USER)
		return slirp_ioctls;
	return NULL;
}

#if !HAVE_SLIRP
int net_slirp_open(const struct net_config *cfg, struct evloop *loop, struct net_backend **b,
		   struct errbuf *e)
{
	return err_set(e, -ENOTSUP,
		       "--net user: this ignition was built without libslirp; use --net "
		       "tap=, stream= or dgram=, or --net none");
}
#endif

/* SOCKET_USE_FCNTL takes the macOS way on Linux, for the unit tests (MSG_NOSIGNAL still exists). */
int net_socket(int domain, int type)
{
#if defined(SOCK_NONBLOCK) && !defined(SOCKET_USE_FCNTL)
	int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	return fd < 0 ? -errno : fd;
#else
	int fd = socket(domain, type, 0), r = 0;

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
		r = -errno;
#ifdef SO_NOSIGPIPE
	if (!r && setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &(int){ 1 }, sizeof(int)) < 0)
		r = -errno;
#endif
	if (r) {
		close(fd);
		return r;
	}
	return fd;
#endif
}

size_t net_iov_len(const struct iovec *iov, unsigned iovcnt)
{
	size_t n = 0;

	for (unsigned i = 0; i < iovcnt; i++)
		n += iov[i].iov_len;
	return n;
}

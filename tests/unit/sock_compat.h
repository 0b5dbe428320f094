/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_TESTS_UNIT_SOCK_COMPAT_H
#define IGNITION_TESTS_UNIT_SOCK_COMPAT_H

/*
 * The tests' own sockets, close-on-exec and non-blocking as asked: with Linux's flags in one call
 * where they exist, so the Linux tests make exactly the calls they always made; with fcntl right
 * after socket() or accept() where SOCK_CLOEXEC, SOCK_NONBLOCK and accept4 do not exist (macOS),
 * where the gap between the two calls does not matter to a test.
 */
#include <fcntl.h>
#include <sys/socket.h>

#ifdef SOCK_CLOEXEC
#define TSOCK_CLOEXEC  SOCK_CLOEXEC
#define TSOCK_NONBLOCK SOCK_NONBLOCK
#else
/* bits no socket type uses, stripped before the call */
#define TSOCK_CLOEXEC  (1 << 28)
#define TSOCK_NONBLOCK (1 << 29)

static inline int tsock_set(int fd, int flags)
{
	if (fd < 0)
		return fd;
	if ((flags & TSOCK_CLOEXEC) && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return -1;
	if ((flags & TSOCK_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
		return -1;
	return fd;
}
#endif

/* socket(domain, type, 0), type optionally with TSOCK_CLOEXEC and TSOCK_NONBLOCK. */
static inline int tsock_socket(int domain, int type)
{
#ifdef SOCK_CLOEXEC
	return socket(domain, type, 0);
#else
	return tsock_set(socket(domain, type & ~(TSOCK_CLOEXEC | TSOCK_NONBLOCK), 0), type);
#endif
}

static inline int tsock_socketpair(int domain, int type, int sv[2])
{
#ifdef SOCK_CLOEXEC
	return socketpair(domain, type, 0, sv);
#else
	if (socketpair(domain, type & ~(TSOCK_CLOEXEC | TSOCK_NONBLOCK), 0, sv) < 0)
		return -1;
	return tsock_set(sv[0], type) < 0 || tsock_set(sv[1], type) < 0 ? -1 : 0;
#endif
}

/* accept4(lfd, NULL, NULL, flags) with TSOCK_CLOEXEC and TSOCK_NONBLOCK. */
static inline int tsock_accept(int lfd, int flags)
{
#ifdef SOCK_CLOEXEC
	return accept4(lfd, NULL, NULL, flags);
#else
	return tsock_set(accept(lfd, NULL, NULL), flags);
#endif
}

#endif

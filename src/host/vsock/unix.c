// SPDX-License-Identifier: MIT
/*
 * Unix sockets for the vsock host side: the socket path's checks before any VM, replacing a
 * stale socket file, the listening socket, and non-blocking sockets that raise no SIGPIPE.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/vsock/unix.h"

/*
 * Non-blocking, close-on-exec sockets that never raise SIGPIPE: in one call on Linux, by hand
 * where accept4 and SOCK_NONBLOCK do not exist (macOS), with SO_NOSIGPIPE for MSG_NOSIGNAL.
 * SOCKET_USE_FCNTL takes the macOS way on Linux, for the unit tests (MSG_NOSIGNAL still exists).
 */
#if defined(__linux__) && !defined(SOCKET_USE_FCNTL)
int vsock_unix_socket(void)
{
	return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

int vsock_unix_accept(int lfd)
{
	return accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
#else
#include <fcntl.h>

static int sock_setup(int fd)
{
	if (fd < 0)
		return fd;
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
#ifdef SO_NOSIGPIPE
	{
		int one = 1;

		setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
	}
#endif
	return fd;
}

int vsock_unix_socket(void)
{
	return sock_setup(socket(AF_UNIX, SOCK_STREAM, 0));
}

int vsock_unix_accept(int lfd)
{
	return sock_setup(accept(lfd, NULL, NULL));
}
#endif

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* 1: someone listens on path; 0: nobody (a stale socket); negative errno: cannot tell. */
static int unix_probe(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	if (unix_addr(path, &sa) < 0)
		return -ENAMETOOLONG;
	/* Non-blocking: a listener with a full backlog answers EAGAIN instead of making us wait. */
	fd = vsock_unix_socket();
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 1 : -errno;
	close(fd);
	if (r == -ECONNREFUSED)
		return 0;
	if (r == -EAGAIN)
		return 1;
	return r;
}

int vsock_path_check(const char *opt, const char *path, struct errbuf *e)
{
	struct sockaddr_un sa;
	struct stat st;
	char *copy, *dir;
	int r;

	/* Room for the longest PATH_<port> a guest can ask for. */
	if (strlen(path) + sizeof("_4294967295") > sizeof(sa.sun_path))
		return err_set(e, -ENAMETOOLONG,
			       "%s socket=%s: too long for a unix socket (at most %zu bytes)", opt,
			       path, sizeof(sa.sun_path) - sizeof("_4294967295"));
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return err_set(e, -EEXIST, "%s socket=%s: exists and is not a socket", opt,
				       path);
		r = unix_probe(path);
		if (r == 1)
			return err_set(e, -EADDRINUSE,
				       "%s socket=%s: another process is listening on it", opt,
				       path);
		if (r < 0)
			return err_set(e, r, "%s socket=%s: %s", opt, path, strerror(-r));
		return 0; /* stale: replaced when the VM starts */
	}
	if (errno != ENOENT)
		return err_set(e, -errno, "%s socket=%s: %s", opt, path, strerror(errno));
	copy = strdup(path);
	if (!copy)
		return err_set(e, -ENOMEM, "out of memory");
	dir = dirname(copy);
	r = stat(dir, &st) == 0 ? (S_ISDIR(st.st_mode) ? 0 : -ENOTDIR) : -errno;
	if (r < 0)
		err_set(e, r, "%s socket=%s: directory %s: %s", opt, path, dir, strerror(-r));
	free(copy);
	return r;
}

int vsock_unix_listen(const char *path, struct errbuf *e)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	if (unix_addr(path, &sa) < 0)
		return err_set(e, -ENAMETOOLONG, "--vsock socket=%s: path too long", path);
	fd = vsock_unix_socket();
	if (fd < 0)
		return err_set(e, -errno, "--vsock: socket: %s", strerror(errno));
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	if (r == -EADDRINUSE && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    unix_probe(path) == 0) {
		/* Left by a VMM that was killed: nobody listens, so it is ours to replace. */
		unlink(path);
		r = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : -errno;
	}
	if (r == -EADDRINUSE)
		err_set(e, r, "--vsock socket=%s: another process is listening on it", path);
	else if (r < 0)
		err_set(e, r, "--vsock socket=%s: %s", path, strerror(-r));
	else if (listen(fd, 128) < 0) {
		r = err_set(e, -errno, "--vsock socket=%s: listen: %s", path, strerror(errno));
		unlink(path);
	}
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* Every connection is a descriptor: raise the soft limit towards the hard one, or use fewer. */
unsigned vsock_fd_budget(unsigned want, unsigned reserve)
{
	struct rlimit rl;
	rlim_t need = (rlim_t)want + reserve;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need ? need :
										    rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		return rl.rlim_cur > 2 * reserve ? (unsigned)(rl.rlim_cur - reserve) : reserve;
	return want;
}

// SPDX-License-Identifier: MIT
/*
 * The promise of net_socket(), vsock_unix_socket() and vsock_unix_accept(): non-blocking,
 * close-on-exec, and a write to a closed peer is EPIPE, never SIGPIPE. Built twice: as the host
 * builds them, and with -DSOCKET_USE_FCNTL, the fcntl/accept path macOS takes (tests/unit).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "host/net/net_backend.h"
#include "host/vsock/unix.h"

struct fixture {
	char dir[64];
	char path[96];
	int lfd;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errbuf e;

	if (!f)
		return -1;
	/* /tmp, not $TMPDIR: macOS's is long, and sun_path holds 104 bytes there */
	snprintf(f->dir, sizeof(f->dir), "/tmp/ign-sockets-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/l.sock", f->dir);
	f->lfd = vsock_unix_listen(f->path, &e);
	if (f->lfd < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return -1;
	}
	/* the default action: a SIGPIPE that gets through ends the test */
	signal(SIGPIPE, SIG_DFL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->lfd);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void assert_flags(int fd)
{
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
#ifdef SO_NOSIGPIPE
	{
		int v = 0;
		socklen_t l = sizeof(v);

		assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &v, &l), 0);
		assert_true(v);
	}
#endif
}

static int connect_to(int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect(fd, (struct sockaddr *)&sa, sizeof(sa));
}

/*
 * Sends to fd after its peer closed, as the VMM sends (MSG_NOSIGNAL; where a libc lacks it, the
 * SO_NOSIGPIPE of the socket must do it): EPIPE, and the process is still here.
 */
static void assert_epipe(int fd)
{
	ssize_t n;

	do {
		n = send(fd, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	assert_int_equal(n, -1);
	assert_int_equal(errno, EPIPE);
}

static void test_listener_and_accept(void **state)
{
	struct fixture *f = *state;
	int c, a;

	assert_flags(f->lfd);
	/* nothing pending: a non-blocking listener says so instead of waiting */
	errno = 0;
	assert_int_equal(vsock_unix_accept(f->lfd), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);

	c = vsock_unix_socket();
	assert_flags(c);
	assert_int_equal(connect_to(c, f->path), 0);
	a = vsock_unix_accept(f->lfd);
	assert_flags(a);

	assert_int_equal(write(c, "hi", 2), 2);
	{
		char buf[4];

		assert_int_equal(read(a, buf, sizeof(buf)), 2);
		assert_memory_equal(buf, "hi", 2);
		/* non-blocking: an empty socket answers at once */
		errno = 0;
		assert_int_equal(read(a, buf, sizeof(buf)), -1);
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	}
	close(c);
	assert_epipe(a);
	close(a);
}

static void test_vsock_socket_no_sigpipe(void **state)
{
	struct fixture *f = *state;
	int c = vsock_unix_socket(), a;

	assert_int_equal(connect_to(c, f->path), 0);
	a = vsock_unix_accept(f->lfd);
	assert_true(a >= 0);
	close(a);
	assert_epipe(c);
	close(c);
}

static void test_net_socket(void **state)
{
	struct fixture *f = *state;
	int s = net_socket(AF_UNIX, SOCK_STREAM), d = net_socket(AF_UNIX, SOCK_DGRAM), a;

	assert_flags(s);
	assert_flags(d);
	close(d);
	assert_int_equal(connect_to(s, f->path), 0);
	a = vsock_unix_accept(f->lfd);
	assert_true(a >= 0);
	close(a);
	assert_epipe(s);
	close(s);
	/* a failure is a negative errno, not -1 with errno */
	s = net_socket(AF_UNIX, 0x7);
	assert_true(s < -1 && s > -4096);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_listener_and_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_vsock_socket_no_sigpipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_net_socket, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

// SPDX-License-Identifier: MIT
/*
 * util/event: a wake-up poll() can wait on. Built twice: with the eventfd Linux uses and with
 * the pipe macOS uses (-DEVENT_USE_PIPE), so the pipe runs here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/event.h"

#if defined(__linux__) && !defined(EVENT_USE_PIPE)
#define WANT_PIPE 0
#else
#define WANT_PIPE 1
#endif

static bool readable(const struct event *ev, int timeout_ms)
{
	struct pollfd p = { .fd = event_fd(ev), .events = POLLIN };
	int n;

	do {
		n = poll(&p, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	assert_true(n >= 0);
	return n == 1 && (p.revents & POLLIN);
}

static void test_init_flags(void **state)
{
	struct event ev;

	assert_int_equal(event_init(&ev), 0);
	assert_true(ev.rfd >= 0 && ev.wfd >= 0);
	/* only an eventfd can be handed to KVM as an ioeventfd: one descriptor for both ends */
	assert_int_equal(ev.rfd != ev.wfd, WANT_PIPE);
	assert_int_equal(event_fd(&ev), ev.rfd);
	for (int i = 0; i < 2; i++) {
		int fd = i ? ev.wfd : ev.rfd;

		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	}
	assert_false(readable(&ev, 0));
	event_close(&ev);
}

static void test_signal_drain(void **state)
{
	struct event ev;

	assert_int_equal(event_init(&ev), 0);
	event_signal(&ev);
	assert_true(readable(&ev, 0));
	/* signals coalesce: one drain clears both */
	event_signal(&ev);
	assert_true(readable(&ev, 0));
	event_drain(&ev);
	assert_false(readable(&ev, 0));
	/* draining nothing neither blocks nor leaves the event signalled */
	event_drain(&ev);
	assert_false(readable(&ev, 0));
	event_signal(&ev);
	assert_true(readable(&ev, 0));
	event_close(&ev);
}

/*
 * More signals than a pipe holds (64 KiB on Linux and macOS): the writer must never block, which
 * would stall a vCPU on a kick, and one drain must empty the pipe.
 */
static void test_full_pipe_never_blocks(void **state)
{
	struct event ev;

	assert_int_equal(event_init(&ev), 0);
	for (int i = 0; i < 300000; i++)
		event_signal(&ev);
	assert_true(readable(&ev, 0));
	event_drain(&ev);
	assert_false(readable(&ev, 0));
	event_signal(&ev);
	assert_true(readable(&ev, 0));
	event_drain(&ev);
	assert_false(readable(&ev, 0));
	event_close(&ev);
}

static void *signaller(void *opaque)
{
	usleep(20000);
	event_signal(opaque);
	return NULL;
}

/* The use it exists for: a thread sleeping in poll() is woken by another thread's signal. */
static void test_wakes_other_thread(void **state)
{
	struct event ev;
	pthread_t t;

	assert_int_equal(event_init(&ev), 0);
	assert_int_equal(pthread_create(&t, NULL, signaller, &ev), 0);
	assert_true(readable(&ev, 5000));
	assert_int_equal(pthread_join(t, NULL), 0);
	event_drain(&ev);
	assert_false(readable(&ev, 0));
	event_close(&ev);
}

static struct event *handler_ev;

static void on_usr1(int sig)
{
	event_signal(handler_ev);
}

/* event_signal() is documented async-signal-safe: the VMM signals from handlers. */
static void test_signal_from_handler(void **state)
{
	struct sigaction sa = { .sa_handler = on_usr1 }, old;
	struct event ev;

	assert_int_equal(event_init(&ev), 0);
	handler_ev = &ev;
	assert_int_equal(sigaction(SIGUSR1, &sa, &old), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(sigaction(SIGUSR1, &old, NULL), 0);
	assert_true(readable(&ev, 0));
	event_close(&ev);
}

static void test_close(void **state)
{
	struct event ev;
	int rfd, wfd;

	assert_int_equal(event_init(&ev), 0);
	rfd = ev.rfd;
	wfd = ev.wfd;
	event_close(&ev);
	assert_int_equal(ev.rfd, -1);
	assert_int_equal(ev.wfd, -1);
	errno = 0;
	assert_int_equal(fcntl(rfd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	errno = 0;
	assert_int_equal(fcntl(wfd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
	/* twice is harmless (device teardown paths may both close) */
	event_close(&ev);
}

/* A read or write that blocks is a failure, not a hang until meson's timeout. */
static int arm_alarm(void **state)
{
	alarm(10);
	return 0;
}

static int disarm_alarm(void **state)
{
	alarm(0);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, arm_alarm, disarm_alarm)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_init_flags),
		T(test_signal_drain),
		T(test_full_pipe_never_blocks),
		T(test_wakes_other_thread),
		T(test_signal_from_handler),
		T(test_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

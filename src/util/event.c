// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

/*
 * EVENT_USE_PIPE builds the pipe that macOS uses on Linux too, so the unit tests run that path
 * (tests/unit/util/meson.build).
 */
#if defined(__linux__) && !defined(EVENT_USE_PIPE)
#define EVENT_EVENTFD 1
#include <sys/eventfd.h>
#endif

#include "util/event.h"

int event_init(struct event *ev)
{
#ifdef EVENT_EVENTFD
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	ev->rfd = ev->wfd = fd;
	return 0;
#else
	int fds[2];

	if (pipe(fds) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
	}
	ev->rfd = fds[0];
	ev->wfd = fds[1];
	return 0;
#endif
}

void event_close(struct event *ev)
{
	if (ev->rfd >= 0)
		close(ev->rfd);
	if (ev->wfd >= 0 && ev->wfd != ev->rfd)
		close(ev->wfd);
	ev->rfd = ev->wfd = -1;
}

void event_signal(struct event *ev)
{
	uint64_t one = 1;
	ssize_t r;

	/* A full pipe or a saturated counter already means "signalled". */
	do {
		r = write(ev->wfd, &one, ev->rfd == ev->wfd ? sizeof(one) : 1);
	} while (r < 0 && errno == EINTR);
}

void event_drain(struct event *ev)
{
	uint64_t buf[8];

	/* An eventfd hands over its whole count in one read; a second could only fail. */
	if (ev->rfd == ev->wfd) {
		ssize_t r;

		do
			r = read(ev->rfd, buf, sizeof(uint64_t));
		while (r < 0 && errno == EINTR);
		return;
	}
	while (read(ev->rfd, buf, sizeof(buf)) > 0)
		;
}

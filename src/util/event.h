/* SPDX-License-Identifier: MIT */
#ifndef IGNITION_UTIL_EVENT_H
#define IGNITION_UTIL_EVENT_H

/*
 * A wake-up that a poll() loop can wait on: eventfd on Linux (so KVM can signal it directly as an
 * ioeventfd), a non-blocking pipe elsewhere. Signals coalesce; event_drain() clears them all.
 */
struct event {
	int rfd;
	int wfd;
};

int event_init(struct event *ev);
void event_close(struct event *ev);
/* Async-signal-safe. */
void event_signal(struct event *ev);
void event_drain(struct event *ev);

static inline int event_fd(const struct event *ev)
{
	return ev->rfd;
}

#endif
